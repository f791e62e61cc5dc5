"""Plain SQLAlchemy doing what a notebook with orm_magic does: the oracle of test_stateful.

Each step of the state machine is a notebook cell. :class:`PlainNotebook`
runs the same step with ``exec`` on a plain engine of its own, with its own
``session`` and ``other`` sessions, and no orm_magic anywhere; a magic is
replaced by the plain calls it stands for (:class:`PlainMagics`). The
:class:`Databases` give each example a pair of empty databases of one kind
(the workspace's and the replay's) and read their committed rows.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from IPython.core.error import UsageError
from sqlalchemy import create_engine, event, insert, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

from .helpers import error_name

#: The model both sides use; the workspace runs it as a ``%%model`` cell.
MODEL = """
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str]
"""

Rows = list[tuple[Any, ...]]


class PlainBase(DeclarativeBase):
    pass


class User(PlainBase):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str]


# -- outcomes -----------------------------------------------------------------------
def transaction_state(session: Session) -> str:
    """``none``, ``active`` or ``failed`` (a failed flush, awaiting a rollback)."""
    transaction = session.get_transaction()
    if transaction is None:
        return "none"
    return "active" if transaction.is_active else "failed"


# -- the magics, as plain SQLAlchemy ---------------------------------------------------
class PlainMagics:
    """What each session magic does to the workspace session, in plain calls.

    Besides the SQLAlchemy call it stands for, a magic does what the README
    and the issue promise, and only that: a session left failed (a failed
    flush, or a PostgreSQL transaction aborted by a failed statement) is
    rolled back before the magic runs; a flush that fails inside the magic
    is rolled back at once; an expression that is not a persistent instance
    is refused for ``%orm_delete`` with a UsageError before SQLAlchemy is
    called.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._connection: Connection | None = None

        @event.listens_for(session, "after_begin")
        def _began(session: Session, transaction: Any, connection: Connection) -> None:
            self._connection = connection

        @event.listens_for(session, "after_transaction_end")
        def _ended(session: Session, transaction: Any) -> None:
            if transaction.parent is None:
                self._connection = None

    def _aborted(self) -> bool:
        """True when PostgreSQL refuses statements until a rollback."""
        conn = self._connection
        if conn is None or conn.closed or conn.invalidated:
            return False
        info = getattr(conn.connection.dbapi_connection, "info", None)
        status = getattr(info, "transaction_status", None)
        return status is not None and int(status) == 3  # libpq's PQTRANS_INERROR

    @contextmanager
    def magic(self) -> Iterator[None]:
        if transaction_state(self.session) == "failed" or self._aborted():
            self.session.rollback()
        try:
            yield
        except SQLAlchemyError:
            if transaction_state(self.session) == "failed":
                self.session.rollback()
            raise

    def add(self, obj: Any, flush: bool = False) -> None:
        with self.magic():
            self.session.add(obj)
            if flush:
                self.session.flush()

    def merge(self, obj: Any) -> Any:
        with self.magic():
            return self.session.merge(obj)

    def delete(self, expression: Callable[[], Any]) -> None:
        with self.magic():
            obj = expression()
            state = inspect(obj, raiseerr=False) if obj is not None else None
            if state is None or not state.persistent:
                raise UsageError(f"%orm_delete: {obj!r} is not a persistent instance")
            self.session.delete(obj)

    def flush(self) -> None:
        with self.magic():
            self.session.flush()

    def commit(self) -> None:
        with self.magic():
            self.session.commit()

    def rollback(self) -> None:
        with self.magic():
            self.session.rollback()

    def query(self, statement: Any) -> list[Any]:
        with self.magic():
            return list(self.session.scalars(statement).all())

    def model(self, engine: Engine) -> None:
        """``%%model`` run again: the session is reset, the tables are created where missing."""
        with self.magic():
            if self.session.in_transaction():
                self.session.rollback()
            self.session.expunge_all()
            PlainBase.metadata.create_all(engine)


class PlainNotebook:
    """The replay: a namespace like the notebook's, on a plain engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        PlainBase.metadata.create_all(engine)
        self.session = Session(engine)
        self.other = Session(engine)
        self.magics = PlainMagics(self.session)
        #: what the notebook's Out keeps alive: values that magics returned
        self.out: list[Any] = []
        self.namespace: dict[str, Any] = {
            "__name__": "__main__",
            "engine": engine,
            "session": self.session,
            "other": self.other,
            "Session": Session,
            "User": User,
            "insert": insert,
            "select": select,
            "magics": self.magics,
            "Out": self.out,
        }

    def run(self, code: str) -> str | None:
        """Run one step; the type name of its error, or None."""
        try:
            exec(compile(code, "<replay>", "exec"), self.namespace)
        except Exception as exc:  # compared by type with the notebook's
            return error_name(exc)
        return None

    def close(self) -> None:
        self.other.close()
        self.session.close()
        self.engine.dispose()


# -- the databases ------------------------------------------------------------------
class Databases:
    """Two empty databases of one kind per example: the workspace's and the replay's."""

    kind = ""

    def fresh(self) -> tuple[str, str]:
        """The URLs of two empty databases: (workspace, replay)."""
        raise NotImplementedError

    def plain_engine(self, url: str) -> Engine:
        """The replay's engine, made as a user makes one."""
        return create_engine(url)

    def committed(self, engine: Engine, url: str) -> Rows | str:
        """The committed rows of ``users``, read without disturbing any transaction."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the last example held."""


class MemoryDatabases(Databases):
    """``sqlite://``: one connection that every user of the engine shares.

    orm_magic's engine is a StaticPool: the workspace session, the user's
    own ``Session(engine)``, ``engine.connect()`` and orm_magic's displays
    all use one DBAPI connection, and so one transaction. The replay uses
    the same pool (``create_engine("sqlite://")`` would give a
    SingletonThreadPool, which in one thread is that same one connection),
    but not orm_magic's pysqlite fix (its own BEGIN): the issue demands
    that the fix never makes a difference that plain SQLAlchemy does not
    show, so pysqlite's own transaction handling is the reference.

    No second connection can see this database, so there is no "fresh
    connection" to read committed rows with, and any read through
    SQLAlchemy (a checkout and its reset-on-return ROLLBACK) would end the
    very transaction under test. The rows are read on the shared DBAPI
    connection itself, below SQLAlchemy, with one SELECT that begins,
    commits and rolls back nothing, and the same read is done on both
    sides at the same point. When no transaction is open on it these are
    the committed rows; when one is open they also include that one
    transaction's uncommitted rows, on both sides alike; a side that
    committed or lost them too early shows it once that transaction ends.
    """

    kind = "memory"

    def fresh(self) -> tuple[str, str]:
        return "sqlite://", "sqlite://"

    def plain_engine(self, url: str) -> Engine:
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})

    def committed(self, engine: Engine, url: str) -> Rows:
        pool = engine.pool
        assert isinstance(pool, StaticPool), f"in-memory engine on {type(pool).__name__}"
        dbapi_connection = pool.connection.dbapi_connection
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT id, name FROM users ORDER BY id")
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()


class FileDatabases(Databases):
    """Two SQLite files per example; committed rows read by a connection of our own.

    Both URLs carry ``?timeout=0``: SQLite's busy timeout (pysqlite's
    default is 5 s) is then the same on both sides, and a write that meets
    another connection's lock fails at once with "database is locked"
    instead of waiting for a lock that nobody in this one thread could
    release. That outcome must then match like any other error.
    """

    kind = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.numbers = itertools.count(1)
        self.readers: dict[str, sqlite3.Connection] = {}

    def fresh(self) -> tuple[str, str]:
        self.close()
        number = next(self.numbers)
        paths = [self.directory / f"{side}{number}.db" for side in ("workspace", "replay")]
        urls = [f"sqlite:///{path}?timeout=0" for path in paths]
        for url, path in zip(urls, paths):
            self.readers[url] = sqlite3.connect(path, isolation_level=None, timeout=0)
        return urls[0], urls[1]

    def committed(self, engine: Engine, url: str) -> Rows | str:
        """The committed rows, or "database is locked" when nobody may read them now.

        A COMMIT that failed with "database is locked" leaves its connection
        holding SQLite's PENDING lock until it rolls back, and that lock
        refuses new readers: whether the rows can be read at all is then
        part of the state that both sides must share.
        """
        # autocommit mode, no transaction: SQLite shows only committed rows
        try:
            cursor = self.readers[url].execute("SELECT id, name FROM users ORDER BY id")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            return "database is locked"
        try:
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()
        self.readers.clear()


class PostgresDatabases(Databases):
    """Two databases on the test server, emptied before each example.

    Both URLs set ``lock_timeout`` (libpq's ``options``), so both sides
    have it: a write that waits for a row another open transaction wrote
    fails with LockNotAvailable after 50 ms instead of waiting forever in
    this one thread, and that outcome must match like any other error.
    """

    kind = "postgresql"
    OPTIONS = "?options=" + quote("-c lock_timeout=50")

    def __init__(self, server: Any) -> None:
        self.server = server
        self.names = (server.create_database(), server.create_database())
        self.readers: dict[str, Any] = {}

    def fresh(self) -> tuple[str, str]:
        import psycopg

        self.close()
        urls = []
        for name in self.names:
            self.server.empty_database(name)
            url = self.server.url(name) + self.OPTIONS
            dsn = f"host={self.server.root} port={self.server.port} user=postgres dbname={name}"
            self.readers[url] = psycopg.connect(dsn, autocommit=True)
            urls.append(url)
        return urls[0], urls[1]

    def committed(self, engine: Engine, url: str) -> Rows:
        # autocommit: each SELECT is its own transaction and sees committed rows only
        rows = self.readers[url].execute("SELECT id, name FROM users ORDER BY id").fetchall()
        return [tuple(row) for row in rows]

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()
        self.readers.clear()

    def drop(self) -> None:
        self.close()
        for name in self.names:
            self.server.drop_database(name)
