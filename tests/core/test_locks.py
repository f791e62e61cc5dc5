"""orm_magic.core.locks: short lock waits, and a lock error naming the session that holds the lock.

Two named sessions on a SQLite file and on a real PostgreSQL server: one holds
a lock, the other's statement waits ``lock_timeout`` and fails with plain
SQLAlchemy's own error, which is then described in one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, String, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core.capture import StatementRecorder
from orm_magic.core.locks import LockTimeout, describe_lock_error, locked_table
from orm_magic.core.named_sessions import SessionBook

SECONDS = 0.2


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(20))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bank.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = create_engine(url)
    LockTimeout(SECONDS).install(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Account(id=1, owner="ann"))
        session.commit()
    yield engine
    engine.dispose()


def test_a_lock_wait_gives_up_after_the_timeout_naming_the_holder(engine) -> None:
    recorder = StatementRecorder(engine)
    book = SessionBook(engine, recorder.label)
    book.use("b")
    book.current.session.get(Account, 1).owner = "bob"  # type: ignore[union-attr]
    book.current.session.flush()  # b holds the lock (the row's; SQLite: the file's)
    book.use("main")
    main = book.current.session
    main.get(Account, 1).owner = "cy"  # type: ignore[union-attr]
    with pytest.raises(OperationalError) as caught:  # plain SQLAlchemy's error
        main.flush()
    line = describe_lock_error(caught.value, book, engine, recorder, SECONDS)
    main.rollback()
    book.close()
    recorder.close()
    assert line is not None and line.startswith(
        f"OperationalError: waited {SECONDS:g} s (OrmMagic.lock_timeout) for "
    )
    assert "session 'b' holds" in line
    assert line.endswith(
        "commit or roll back session 'b' (%orm_use b, then %orm_commit or %orm_rollback), "
        "then try again"
    )


def test_every_connection_gets_the_timeout_and_set_changes_held_ones(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    timeout = LockTimeout(0.25)
    timeout.install(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 250
    book = SessionBook(engine, lambda checkout, name: None)
    book.current.session.execute(text("SELECT 1"))
    timeout.set(1.5, book)
    assert book.current.session.execute(text("PRAGMA busy_timeout")).scalar() == 1500
    book.close()
    engine.dispose()


def test_timeouts_round_up() -> None:
    assert LockTimeout(0.0001).milliseconds == 1
    assert LockTimeout(2.2).mysql_seconds == 3


@pytest.mark.parametrize(
    ("sql", "table"),
    [
        ("UPDATE accounts SET owner=%(owner)s WHERE accounts.id = %(id)s", "accounts"),
        ('SELECT a.id FROM "accounts" AS a WHERE a.id = 1 FOR UPDATE', "accounts"),
        ("SELECT * FROM accounts FOR NO KEY UPDATE", "accounts"),
        ("SELECT * FROM accounts", None),
        (None, None),
    ],
)
def test_the_table_a_waiting_statement_locks(sql: str | None, table: str | None) -> None:
    assert locked_table(sql) == table


def test_other_errors_are_not_lock_errors(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'y.db'}")
    recorder = StatementRecorder(engine)
    book = SessionBook(engine, recorder.label)
    with engine.connect() as conn, pytest.raises(OperationalError) as caught:
        conn.execute(text("SELECT * FROM missing"))
    assert describe_lock_error(caught.value, book, engine, recorder, 1.0) is None
    assert describe_lock_error(ValueError("x"), book, engine, recorder, 1.0) is None
    book.close()
    recorder.close()
    engine.dispose()
