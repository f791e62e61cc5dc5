"""orm_magic.core.state_views: an object's and a session's state, as ``inspect()`` has them.

Reading a view must emit no SQL (no autoflush, no lazy load, no refresh of an
expired attribute) and leave every object's state as it was.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, ForeignKey, String, create_engine, event, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from orm_magic.core.state_views import (
    COLLECTION_ITEMS,
    attribute_rows,
    on_access,
    session_view,
    state_view,
    value_text,
)


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    books: Mapped[list[Book]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(40))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id"))
    author: Mapped[Author | None] = relationship(back_populates="books")


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Author(id=1, name="Ann", books=[Book(id=i, title=f"b{i}") for i in (1, 2)]))
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def sent(engine: Engine) -> list[str]:
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    return statements


def snapshot(obj: object) -> tuple:
    """What a read must not change: lifecycle flags, loaded and expired attributes, history."""
    state = inspect(obj)
    flags = (state.transient, state.pending, state.persistent, state.deleted, state.detached)
    history = tuple((a.key, a.history) for a in state.attrs)
    return flags, frozenset(state.unloaded), frozenset(state.expired_attributes), history


def lifecycle(obj: object) -> str:
    state = inspect(obj)
    return next(n for n in ("transient", "pending", "persistent", "deleted", "detached")
                if getattr(state, n))  # fmt: skip


def test_the_state_shown_is_inspects_in_each_lifecycle_stage(engine) -> None:
    with Session(engine) as session:
        transient = Author(id=7, name="t")
        pending = Author(id=8, name="p")
        session.add(pending)
        persistent = session.get(Author, 1)
        deleted = session.get(Book, 2)
        session.delete(deleted)
        session.flush()
        for obj in (transient, pending, persistent, deleted):
            first_line = state_view(obj, "t").lines[0]
            assert first_line.split(": ", 1)[1].startswith(lifecycle(obj))
        session.expunge(persistent)
        assert state_view(persistent, "t").lines[0].endswith(": detached")
        session.rollback()


def test_pending_and_modified_say_what_the_next_flush_does(engine) -> None:
    with Session(engine) as session:
        author = session.get(Author, 1)
        author.name = "Bea"  # type: ignore[union-attr]
        assert "the next flush UPDATEs it" in state_view(author, "t").lines[0]
        session.delete(author)
        assert "the next flush DELETEs it" in state_view(author, "t").lines[0]
        session.add(new := Book(id=5, title="x"))
        assert "the next flush INSERTs it" in state_view(new, "t").lines[0]


def test_the_identity_key_is_inspects(engine) -> None:
    with Session(engine) as session:
        author = session.get(Author, 1)
        key = inspect(author).identity_key
        assert f"identity key: {key[:2]!r}" in state_view(author, "t").lines
        assert "identity key: none (not yet flushed)" in state_view(Author(), "t").lines


def test_reading_a_state_view_emits_no_sql_and_changes_nothing(engine, sent) -> None:
    with Session(engine) as session:
        author = session.get(Author, 1)
        session.expire(author, ["name"])
        session.add(Book(id=9, title="pending", author=author))  # autoflush would INSERT it
        before = snapshot(author)
        sent.clear()
        view = state_view(author, "%orm_state")
        rows = {row[0]: row for row in view.frames[0].rows}
        assert sent == []
        assert snapshot(author) == before
    assert rows["name"][5] == "expired" and rows["name"][6] == "SELECT (expired)"
    assert rows["books"][1] == "relationship"


def test_each_attribute_row_is_inspects_history(engine) -> None:
    with Session(engine) as session:
        author = session.get(Author, 1)
        author.name = "Bea"  # type: ignore[union-attr]
        rows = {row[0]: row for row in attribute_rows(inspect(author))}
        history = inspect(author).attrs.name.history
        assert rows["name"][2:5] == (
            repr(history.added[0]),
            "",
            repr(history.deleted[0]),
        )
        assert rows["id"][3] == "1" and rows["id"][6] == "in memory"


def test_on_access_says_what_reading_an_unloaded_attribute_does(engine, sent) -> None:
    with Session(engine) as session:
        author = session.get(Author, 1)
        state = inspect(author)
        assert on_access(state, "books", True) == "SELECT (lazy load)"
        sent.clear()
        author.books  # noqa: B018 -- the load it predicted
        assert len(sent) == 1
        assert on_access(state, "books", True) == "in memory"
    transient = Author(id=1)
    assert on_access(inspect(transient), "books", True) == "empty / default, no SQL"


def test_an_unloaded_attribute_of_a_detached_object_raises_on_access(engine) -> None:
    with Session(engine) as session:
        author = session.get(Author, 1)
    assert on_access(inspect(author), "books", True) == "raises DetachedInstanceError"


def test_session_view_matches_the_session_and_emits_no_sql(engine, sent) -> None:
    with Session(engine) as session:
        author = session.get(Author, 1)
        book = session.get(Book, 1)
        author.name = "Bea"  # type: ignore[union-attr]
        session.delete(book)
        session.add(Book(id=9, title="new"))
        sent.clear()
        view = session_view(session, limit=10)
        assert sent == [] and len(session.new) == 1  # not flushed
        frames = {f.caption: f for f in view.frames}
        assert len(frames["identity map"].rows) == len(session.identity_map)
        assert [r[1] for r in frames["new"].rows] == ["Book"]
        assert [r[1] for r in frames["dirty"].rows] == ["Author(id=1)"]
        assert frames["dirty"].rows[0][3] == "name"
        assert [r[1] for r in frames["deleted"].rows] == ["Book(id=1)"]
        assert view.lines[0].startswith("a transaction is open")
    with Session(engine) as fresh:
        assert session_view(fresh, 10).lines[0].startswith("no transaction open")
        assert fresh.get_transaction() is None  # reading it began none


def test_session_view_is_bounded_by_its_limit(engine) -> None:
    with Session(engine) as session:
        session.add_all([Book(id=100 + i, title="n") for i in range(30)])
        view = session_view(session, limit=4)
        new = next(f for f in view.frames if f.caption == "new")
        assert len(new.rows) == 4 and new.note == "first 4 of 30 objects"


def test_values_are_bounded_and_objects_named_without_repr(engine) -> None:
    assert value_text("x" * 500).endswith("characters more)")
    many = list(range(COLLECTION_ITEMS + 3))
    assert value_text(many).endswith("… 3 more]")
    with Session(engine) as session:
        author = session.get(Author, 1)
        assert value_text(author) == "Author(id=1)"
