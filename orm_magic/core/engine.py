"""Engines set up for a notebook kernel, and fresh declarative bases."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import StaticPool

from .errors import WorkspaceError
from .urls import safe_url, url_problem


def is_memory_url(url: str) -> bool:
    """True for an in-memory SQLite URL (``sqlite://``, ``sqlite:///:memory:``)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


#: Drivers that take libpq's ``connect_timeout`` (seconds).
LIBPQ_DRIVERS = ("psycopg", "psycopg2")
CONNECT_TIMEOUT = 10


def make_engine(url: str) -> Engine:
    """An engine for ``url``, set up for use from a notebook kernel.

    In-memory SQLite is one shared connection (``StaticPool``) that any thread
    may use: ipykernel can run code on other threads, and a connection per
    thread would mean a database per thread.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if is_memory_url(url):
            kwargs["poolclass"] = StaticPool
        engine = create_engine(parsed, **kwargs)
        _fix_pysqlite_transactions(engine)
        return engine
    # pool_pre_ping: a connection the server dropped between cells is replaced.
    server_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_driver_name() in LIBPQ_DRIVERS and "connect_timeout" not in parsed.query:
        # a host that never answers fails %orm_connect in seconds, not minutes
        server_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(parsed, **server_kwargs)


def _fix_pysqlite_transactions(engine: Engine) -> None:
    """SQLAlchemy's documented fix for pysqlite's transaction handling, made lazy.

    pysqlite begins transactions itself, late, and not before DDL or a
    SAVEPOINT, so ``session.begin_nested()`` and transactional DDL misbehave.
    The documented fix turns its handling off and sends BEGIN as SQLAlchemy
    begins. Sent that early, a transaction that only reads holds SQLite's
    read lock until it ends, and another connection's COMMIT then fails
    with "database is locked" where plain SQLAlchemy works.

    So BEGIN is sent, as pysqlite sends it, just before the first statement
    that is not a read (INSERT, UPDATE, DELETE, and also DDL and SAVEPOINT,
    which pysqlite leaves outside a transaction), whenever the connection is
    not in one: also after another Connection's COMMIT on a shared
    connection ended it while SQLAlchemy still counts it open. Reads run as
    pysqlite runs them. It is sent from this engine's dialect's execute
    methods, not a Connection event (which would make SQLAlchemy dispatch
    events around every cursor call; see capture.StatementRecorder), and,
    like pysqlite's own, it is not logged: the log shows ``BEGIN
    (implicit)`` where SQLAlchemy begins, as echo does.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None

    dialect = engine.dialect
    execute, executemany = dialect.do_execute, dialect.do_executemany
    no_params = dialect.do_execute_no_params

    def begin_unless_reading(cursor: Any, statement: str, context: Any) -> None:
        # called only outside a transaction: the check that runs for every
        # statement (100,000 times in a bulk flush) is the caller's one attribute read
        if first_keyword(statement) in _NO_BEGIN:
            return
        if context is not None and context.execution_options.get("isolation_level") == (
            "AUTOCOMMIT"
        ):
            return
        cursor.connection.execute("BEGIN")

    def do_execute(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if not cursor.connection.in_transaction:
            begin_unless_reading(cursor, statement, context)
        execute(cursor, statement, parameters, context)

    def do_executemany(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if not cursor.connection.in_transaction:
            begin_unless_reading(cursor, statement, context)
        executemany(cursor, statement, parameters, context)

    def do_execute_no_params(cursor: Any, statement: str, context: Any = None) -> None:
        if not cursor.connection.in_transaction:
            begin_unless_reading(cursor, statement, context)
        no_params(cursor, statement, context)

    dialect.do_execute = do_execute  # type: ignore[method-assign]
    dialect.do_executemany = do_executemany  # type: ignore[method-assign]
    dialect.do_execute_no_params = do_execute_no_params  # type: ignore[method-assign]


#: Statements sent without a BEGIN first: reads, as pysqlite runs them (and
#: ``WITH``, which it does not begin before either), the transaction
#: statements themselves (a user's own ``BEGIN``, as SQLAlchemy's documented
#: recipe sends it), and what SQLite refuses inside a transaction.
_NO_BEGIN = frozenset(
    {"", "SELECT", "PRAGMA", "EXPLAIN", "WITH", "VALUES", "BEGIN", "COMMIT", "END", "ROLLBACK",
     "VACUUM", "ATTACH", "DETACH"}
)  # fmt: skip
_FIRST_KEYWORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*(\w+)", re.S)


def first_keyword(statement: str) -> str:
    """The statement's first word, in capitals, after blanks and comments."""
    match = _FIRST_KEYWORD.match(statement)
    return match.group(1).upper() if match else ""


def open_engine(url: str) -> Engine:
    """:func:`make_engine`, with a bad URL or a missing driver as a WorkspaceError.

    A malformed URL is refused before SQLAlchemy or a driver reads it: their
    messages would quote the part of the password that landed in a host,
    port or database name. No message here quotes more than :func:`safe_url`.
    """
    problem = url_problem(url)
    if problem is not None:
        raise WorkspaceError(f"not a valid SQLAlchemy URL: {safe_url(url)}: {problem}") from None
    try:
        return make_engine(url)
    except NoSuchModuleError as exc:  # an ArgumentError too, so first
        name = make_url(url).drivername
        raise WorkspaceError(f"unknown database or driver {name!r} in {safe_url(url)}") from exc
    except ArgumentError as exc:
        raise WorkspaceError(f"not a valid SQLAlchemy URL: {safe_url(url)}") from exc
    except ImportError as exc:
        parsed = make_url(url)
        hint = (
            "pip install 'orm_magic[postgres]'"
            if parsed.get_backend_name() == "postgresql"
            else "pip install its DBAPI package"
        )
        raise WorkspaceError(
            f"the driver for {parsed.drivername!r} is not installed ({exc}); {hint}"
        ) from exc


def new_base() -> type[DeclarativeBase]:
    """A fresh declarative base with a registry and MetaData of its own."""

    class Base(DeclarativeBase):
        pass

    return Base
