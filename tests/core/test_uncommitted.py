"""orm_magic.core.uncommitted: what the session holds that the database does not, in words.

Each count is compared with plain SQLAlchemy's ``session.new``/``dirty``/``deleted``;
reading them emits no SQL and flushes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, String, create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core.uncommitted import changes, pending, pending_summary, state_notes, unsaved


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([User(id=i, name=f"u{i}") for i in (1, 2, 3)])
        session.commit()
    yield engine
    engine.dispose()


def work(session: Session) -> None:
    one, two, three = (session.get(User, i) for i in (1, 2, 3))
    session.add_all([User(id=10, name="n"), Tag(id=1)])
    one.name = "x"  # type: ignore[union-attr]
    two.name = "y"  # type: ignore[union-attr]
    session.delete(three)


def test_counts_are_session_new_dirty_and_deleted_and_read_no_sql(engine) -> None:
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    with Session(engine) as session:
        work(session)
        sent.clear()
        now, changed = pending(session), changes(session)
        assert sent == [] and len(session.new) == 2  # nothing flushed
        assert now.count == len(session.new) and now.kinds == ("Tag", "User")
        assert changed.modified == len(session.dirty) == 2 and changed.modified_kinds == ("User",)
        assert changed.deleted == len(session.deleted) == 1
        assert pending_summary(session) == (
            "2 objects pending; 2 objects modified; 1 object marked for deletion"
        )


def test_what_a_rollback_discards_is_what_it_does_discard(engine) -> None:
    with Session(engine) as session:
        work(session)
        line = unsaved(session, flushed=False)
        assert line == (
            "2 pending objects discarded (Tag, User); 2 modified objects reverted (User); "
            "1 object marked for deletion kept (User)"
        )
        session.rollback()
        assert not session.new and not session.dirty and not session.deleted
        assert unsaved(session, flushed=False) == ""


def test_a_flushed_transaction_says_its_rows_are_undone(engine) -> None:
    with Session(engine) as session:
        session.add(User(id=11, name="n"))
        session.flush()
        assert unsaved(session, flushed=True) == "rows flushed but not committed undone"


def test_a_failed_flush_is_counted_from_before_it(engine) -> None:
    with Session(engine) as session:
        session.add_all([User(id=20, name="a"), User(id=1, name="duplicate")])
        before = pending(session)
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
        assert pending(session).count == len(session.new) == 0  # SQLAlchemy expunged them
        assert unsaved(session, flushed=False, before=before).startswith(
            "2 pending objects discarded (User)"
        )


def test_state_notes_are_bounded(engine) -> None:
    with Session(engine) as session:
        users = [User(id=100 + i, name="n") for i in range(5)]
        session.add_all(users)
        notes = state_notes(session, users, limit=2)
        assert notes == [
            "User: pending — the next flush INSERTs it",
            "User: pending — the next flush INSERTs it",
            "… and 3 more",
        ]
