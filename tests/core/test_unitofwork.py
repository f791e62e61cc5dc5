"""orm_magic.core.unitofwork: what the next flush will write, as plain data, read without SQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, ForeignKey, String, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core.unitofwork import attach, session_row, session_states
from orm_magic.data.tables import DELETED, MODIFIED, NEW, NOT_LOADED, Change, TableData


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


USERS = User.__table__


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([User(id=i, name=f"u{i}") for i in range(1, 6)])
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def sent(engine: Engine) -> list[str]:
    """Every statement the engine sends from here on."""
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    return statements


def table_data(engine: Engine) -> TableData:
    """The users table as a display reads it, with plain SQLAlchemy."""
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(USERS).order_by(USERS.c.id))]
    return TableData("users", ["id", "name"], rows, len(rows), 10_000)


def a_unit_of_work(session: Session) -> None:
    """One object of each kind, loaded first (a load would autoflush what came before)."""
    first, second = session.get(User, 1), session.get(User, 2)
    session.add(User(id=9, name="new"))
    first.name = "renamed"  # type: ignore[union-attr]
    session.delete(second)


def test_session_states_are_session_new_dirty_and_deleted(engine) -> None:
    with Session(engine) as session:
        a_unit_of_work(session)
        states = dict(session_states(session))
        assert [s.obj() for s in states[NEW]] == list(session.new)
        assert [s.obj() for s in states[MODIFIED]] == list(session.dirty)
        assert [s.obj() for s in states[DELETED]] == list(session.deleted)


def test_an_object_added_then_deleted_is_only_deleted(engine) -> None:
    with Session(engine) as session:
        user = session.get(User, 3)
        user.name = "changed"  # type: ignore[union-attr]
        session.delete(user)
        states = dict(session_states(session))
        assert states[MODIFIED] == [] and [s.obj() for s in states[DELETED]] == [user]


def test_reading_the_unit_of_work_emits_no_sql_and_changes_nothing(engine, sent) -> None:
    with Session(engine) as session:
        third = session.get(User, 3)
        a_unit_of_work(session)
        session.expire(third)
        before = (set(session.new), set(session.dirty), set(session.deleted))
        sent.clear()
        data = attach(table_data(engine), USERS, session_states(session), limit=10)
        assert len(sent) == 1  # the test's own read of the table, no autoflush, no load
        assert (set(session.new), set(session.dirty), set(session.deleted)) == before
        assert inspect_state(third).expired_attributes == {"id", "name"}
    assert data.session is not None


def test_attach_marks_each_row_as_the_next_flush_changes_it(engine) -> None:
    with Session(engine) as session:
        a_unit_of_work(session)
        data = attach(table_data(engine), USERS, session_states(session), limit=10)
    view = data.session
    assert view.counts == {NEW: 1, MODIFIED: 1, DELETED: 1}
    assert view.marks[0].state == MODIFIED
    assert view.marks[0].values == (1, Change("u1", "renamed"))
    assert view.marks[1].state == DELETED and view.marks[1].values == (2, "u2")
    (extra,) = view.extra
    assert (extra.state, extra.values, extra.key) == (NEW, (9, "new"), None)
    assert view.omitted == 0


def test_the_marks_agree_with_what_the_flush_then_writes(engine) -> None:
    with Session(engine) as session:
        a_unit_of_work(session)
        view = attach(table_data(engine), USERS, session_states(session), limit=10).session
        session.commit()
    after = {row[0]: row for row in table_data(engine).rows}
    for row in [*view.marks.values(), *view.extra]:
        key = row.values[0]
        if row.state == DELETED:
            assert key not in after
        else:
            shown = tuple(v.new if isinstance(v, Change) else v for v in row.values)
            assert after[key] == shown


def test_a_change_to_an_unloaded_value_shows_the_database_value_as_old(engine) -> None:
    with Session(engine) as session:
        user = session.get(User, 4)
        session.expire(user, ["name"])
        user.name = "blind"  # type: ignore[union-attr]
        row = session_row(inspect_state(user), USERS, MODIFIED)
        assert row is not None and row.values[1] == Change(NOT_LOADED, "blind")
        data = attach(table_data(engine), USERS, session_states(session), limit=10)
        assert data.session.marks[3].values[1] == Change("u4", "blind")


def test_setting_a_value_to_itself_is_no_change(engine) -> None:
    with Session(engine) as session:
        user = session.get(User, 1)
        user.name = "u1"  # type: ignore[union-attr]
        assert session_row(inspect_state(user), USERS, MODIFIED) is None
        assert attach(table_data(engine), USERS, session_states(session), 10).session is None


def test_objects_of_another_table_do_not_mark_this_one(engine) -> None:
    with Session(engine) as session:
        session.add(Note(id=1, user_id=1))
        data = attach(table_data(engine), USERS, session_states(session), limit=10)
        assert data.session is None


def test_beyond_the_limit_objects_are_counted_not_kept(engine) -> None:
    with Session(engine) as session:
        for user in session.scalars(select(User).where(User.id <= 5)).all():
            user.name = "changed"
        session.add_all([User(id=100 + i, name="n") for i in range(50)])
        data = attach(table_data(engine), USERS, session_states(session), limit=3)
    view = data.session
    assert len(view.extra) + len(view.marks) == 3
    assert view.counts == {NEW: 50, MODIFIED: 5}
    assert view.omitted == 50 + 5 - 3


def inspect_state(obj):  # noqa: ANN001, ANN201 -- a one-line alias for readability
    from sqlalchemy import inspect

    return inspect(obj)
