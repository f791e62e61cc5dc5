"""orm_magic.core.isolation: the in-memory database moved to a file, so that sessions are isolated.

Plain SQLAlchemy beside it: two sessions on one in-memory connection see each
other's uncommitted rows; on the moved copy they see what two sessions on a
SQLite file see.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core.engine import make_engine
from orm_magic.core.errors import WorkspaceError
from orm_magic.core.isolation import TemporaryDatabase, move_to_file


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(20))


@pytest.fixture
def memory() -> Iterator[Engine]:
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Note(id=1, text="one"), Note(id=2, text="two")])
        session.commit()
    yield engine
    engine.dispose()


def notes(engine: Engine) -> list[tuple[int, str]]:
    with Session(engine) as session:
        return [(n.id, n.text) for n in session.scalars(select(Note).order_by(Note.id))]


def test_the_copy_holds_the_committed_rows_and_the_memory_is_left_as_it_was(memory) -> None:
    with Session(memory) as session:
        moved, database = move_to_file(memory, session)
    try:
        assert notes(moved) == notes(memory) == [(1, "one"), (2, "two")]
        with moved.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert database.path.exists()
    finally:
        moved.dispose()
        database.remove()
    assert not database.directory.exists()
    database.remove()  # twice is harmless


def test_sessions_on_the_copy_are_isolated_as_plain_sqlalchemy_makes_them(memory) -> None:
    with Session(memory) as one, Session(memory) as other:  # plain: one shared connection
        one.add(Note(id=3, text="uncommitted"))
        one.flush()
        assert other.get(Note, 3) is not None  # the reason for the move
        one.rollback()
    with Session(memory) as session:
        moved, database = move_to_file(memory, session)
    try:
        with Session(moved) as one, Session(moved) as other:
            one.add(Note(id=3, text="uncommitted"))
            one.flush()
            assert other.get(Note, 3) is None
            one.commit()
            other.rollback()  # a new snapshot
            assert other.get(Note, 3) is not None
    finally:
        moved.dispose()
        database.remove()


def test_a_session_in_a_transaction_is_refused(memory) -> None:
    with Session(memory) as session:
        session.get(Note, 1)  # begins
        with pytest.raises(WorkspaceError, match="commit or roll back first"):
            move_to_file(memory, session)
        session.rollback()


def test_an_open_transaction_on_the_connection_is_refused(memory) -> None:
    with memory.connect() as conn, Session(memory) as session:
        conn.execute(text("INSERT INTO notes VALUES (5, 'not committed')"))
        with pytest.raises(WorkspaceError, match="uncommitted rows would be copied"):
            move_to_file(memory, session)
        conn.rollback()


def test_a_temporary_database_is_removed_when_collected() -> None:
    database = TemporaryDatabase()
    directory = database.directory
    assert directory.exists() and database.url == f"sqlite:///{database.path}"
    del database
    assert not directory.exists()
