"""orm_magic.core.named_sessions: the workspace's named sessions, each a plain ``Session``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, String, create_engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core.capture import StatementRecorder
from orm_magic.core.named_sessions import (
    FOR_UPDATE_ON_SQLITE,
    MAIN,
    SessionBook,
    name_problem,
)


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'items.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Item(id=1, name="one"))
        session.commit()
    yield engine
    engine.dispose()


class Labels:
    """The labeller's calls: (checkout, session name or None)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, str | None]] = []

    def __call__(self, checkout: Any, name: str | None) -> None:
        self.calls.append((checkout, name))


@pytest.mark.parametrize("name", ["main", "b", "_x1", "s" * 31])
def test_identifiers_name_sessions(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize("name", ["", "1a", "a-b", "a b", "s" * 32, "ü"])
def test_other_names_are_one_line_saying_what_to_use(name: str) -> None:
    assert name_problem(name) == (
        f"{name!r} is not a session name; use letters, digits and _ (at most 31)"
    )


def test_the_book_starts_with_main_and_opens_sessions_on_use(engine) -> None:
    book = SessionBook(engine, Labels())
    assert [s.name for s in book] == [MAIN] and book.current.name == MAIN
    assert book.use("b") is True and book.current.name == "b"
    assert book.use(MAIN) is False and [s.name for s in book.others()] == ["b"]
    assert "b" in book and len(book) == 2 and book.get("c") is None
    book.close()


def test_the_connection_a_transaction_holds_is_known_and_labelled(engine) -> None:
    labels = Labels()
    book = SessionBook(engine, labels)
    main = book.current
    assert main.connection is None
    main.session.get(Item, 1)  # begins, as plain SQLAlchemy does
    assert main.connection is main.session.connection()
    assert labels.calls == [(main.connection.connection, MAIN)]
    main.session.commit()  # the connection goes back to the pool, its checkout ends
    assert main.connection is None
    main.session.get(Item, 1)  # a new transaction, a new checkout, labelled again
    assert len(labels.calls) == 2 and labels.calls[-1] == (main.connection.connection, MAIN)
    book.close()


def test_statements_carry_the_name_of_their_session(engine) -> None:
    recorder = StatementRecorder(engine)
    recorder.labelled = True
    book = SessionBook(engine, recorder.label)
    book.use("b")
    with recorder.capture() as cap:
        book.get(MAIN).session.get(Item, 1)  # type: ignore[union-attr]
        book.current.session.scalars(select(Item)).all()
        book.close()
    assert [(s.session, s.sql.split()[0]) for s in cap.statements] == [
        (MAIN, "BEGIN"),
        (MAIN, "SELECT"),
        ("b", "BEGIN"),
        ("b", "SELECT"),
        (MAIN, "ROLLBACK"),
        ("b", "ROLLBACK"),
    ]
    recorder.close()


def test_transaction_states_are_sqlalchemys(engine) -> None:
    book = SessionBook(engine, Labels())
    main = book.current
    assert main.transaction_state() == "none"
    main.session.get(Item, 1)
    assert main.transaction_state() == "active"
    main.session.add(Item(id=1, name="duplicate"))
    with pytest.raises(IntegrityError):
        main.session.flush()
    assert not main.session.get_transaction().is_active  # type: ignore[union-attr]
    assert main.transaction_state() == "failed"
    main.session.rollback()
    assert main.transaction_state() == "none"
    book.close()


def test_what_closing_would_discard_names_each_session(engine) -> None:
    book = SessionBook(engine, Labels())
    book.current.session.add(Item(id=5, name="x"))
    assert book.unsaved() == "1 pending object discarded (Item)"
    book.use("b")
    book.current.session.add(Item(id=6, name="y"))
    book.current.session.flush()
    assert book.unsaved() == (
        "session 'main': 1 pending object discarded (Item); "
        "session 'b': rows flushed but not committed undone"
    )
    book.close()


def test_rows_are_bounded_and_keep_the_current_session(engine) -> None:
    book = SessionBook(engine, Labels())
    for name in ("b", "c", "d"):
        book.use(name)
    book.get("b").session.add(Item(id=7, name="x"))  # type: ignore[union-attr]
    rows = book.rows(limit=2)
    assert [(r.name, r.current) for r in rows] == [(MAIN, False), ("d", True)]
    assert [(r.name, r.new) for r in book.rows(limit=10)][1] == ("b", 1)
    book.close()


def test_for_update_on_sqlite_is_sent_without_it_and_says_so(engine) -> None:
    book = SessionBook(engine, Labels())
    statement = select(Item).with_for_update()
    with pytest.warns(UserWarning, match="renders no FOR UPDATE on SQLite"):
        book.current.session.scalars(statement).all()
    assert "FOR UPDATE" not in str(statement.compile(engine))  # plain SQLAlchemy's SQL
    assert "PostgreSQL" in FOR_UPDATE_ON_SQLITE
    book.close()
