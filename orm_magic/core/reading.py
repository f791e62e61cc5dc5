"""Reading a table for display, as a guest of whatever transaction is open.

A display never begins, commits, rolls back or resets a transaction that it
did not begin itself, on any connection and whoever opened it:

- inside the workspace session's transaction it reads through the session's
  own connection, so that flushed rows show; on a server, inside a savepoint
  of its own, so that a failed read cannot abort the session's transaction;
- otherwise it reads on a connection of its own, opened inside
  :meth:`StatementRecorder.admit_guest`. On a DBAPI connection that is shared with
  someone else's open transaction (the in-memory database's one connection,
  under a user's own ``Session(engine)`` or ``engine.connect()``) that
  connection begins nothing and ends nothing: it reads inside the other
  transaction and leaves it as it was.

Nothing read here is logged: every statement carries :data:`DISPLAY_OPTION`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Table, func, literal, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..data.tables import TableData
from .capture import StatementRecorder
from .dbapi import aborted, in_transaction
from .errors import first_line
from .executions import DISPLAY_OPTION
from .snapshots import read_through
from .urls import mask_secrets

_MARKED = {DISPLAY_OPTION: True}
#: How long a display on a server waits for a lock another session holds: long
#: enough for a lock held only for a statement, short enough that a display
#: does not wait on another session's transaction (MySQL counts whole seconds).
LOCK_TIMEOUT_MS = 200
#: SQLAlchemy's names of the MySQL dialects (``mariadb://`` URLs have their own).
MYSQL = ("mysql", "mariadb")


def usable(conn: Connection | None) -> bool:
    """True when ``conn`` can run a read inside its open transaction as it stands."""
    if conn is None or conn.closed or conn.invalidated:
        return False
    transaction = conn.get_transaction()
    if transaction is None or not transaction.is_active:
        return False  # a failed flush ended it in the database already
    return not aborted(conn.connection.dbapi_connection)


def _failure(conn: Connection) -> str:
    """Why the session's own connection cannot be read through, in words."""
    alive = not (conn.closed or conn.invalidated)
    if alive and aborted(conn.connection.dbapi_connection):
        return "the session's current transaction is aborted until a rollback"
    return "the session's transaction failed and awaits a rollback"


@contextmanager
def display_connection(
    engine: Engine,
    recorder: StatementRecorder,
    session_connection: Connection | None,
    isolation: str | None = None,
) -> Iterator[Connection]:
    """A connection to read through that changes no one's transaction.

    ``isolation``: the level of a connection of its own (by default READ
    COMMITTED where the engine's is SERIALIZABLE, whose reads lock).
    """
    conn = session_connection
    if conn is not None and usable(conn):
        # waiting for nobody's lock for long (rolling back to the savepoint
        # also undoes the SET LOCAL)
        with read_aside(conn, "orm_magic_display"):
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}", execution_options=_MARKED
                )
            with short_mysql_lock_wait(conn):
                yield conn
        return
    with engine.connect() as own:
        recorder.admit_guest(own)
        own.execution_options(**_MARKED)
        if own.dialect.name != "sqlite" and (isolation or _serializable(engine)):
            own.execution_options(isolation_level=isolation or "READ COMMITTED")
        if own.dialect.name == "postgresql" and not in_transaction(own.connection):
            # a guest waits for nobody's lock for long: SET LOCAL lasts only as
            # long as the display's own transaction
            own.exec_driver_sql(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        with short_mysql_lock_wait(own):
            yield own


#: Another InnoDB transaction with uncommitted changes (the PROCESS privilege).
_OTHERS_WRITING = text(
    "SELECT COUNT(*) FROM information_schema.innodb_trx "
    "WHERE trx_mysql_thread_id <> :me AND trx_rows_modified > 0"
)


def _others_writing(engine: Engine, recorder: StatementRecorder, thread_id: int) -> bool:
    """Whether a transaction other than ``thread_id``'s has uncommitted changes
    (True when that cannot be told), read on a guest connection of its own."""
    try:
        with engine.connect() as own:
            recorder.admit_guest(own)
            found = own.execute(_OTHERS_WRITING, {"me": thread_id}, execution_options=_MARKED)
            return bool(found.scalar_one())
    except SQLAlchemyError:
        return True


def _serializable(engine: Engine) -> bool:
    """Whether the engine's new connections start SERIALIZABLE transactions."""
    level = engine.get_execution_options().get("isolation_level")
    level = level or engine.dialect.default_isolation_level or ""
    return str(level).upper() == "SERIALIZABLE"


@contextmanager
def read_aside(conn: Connection, name: str) -> Iterator[None]:
    """Reads inside someone's open transaction that leave it as it was.

    On a server a failed statement aborts the whole transaction, so the reads
    run inside a savepoint of our own that is always rolled back to (a read
    has nothing to keep) and released. A failed SELECT leaves a SQLite
    transaction as it was: there, nothing is added. The savepoint's
    statements carry :data:`DISPLAY_OPTION`, so they are never logged.
    """
    if conn.dialect.name == "sqlite":
        yield
        return
    conn.exec_driver_sql(f"SAVEPOINT {name}", execution_options=_MARKED)
    try:
        yield
    finally:
        conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name}", execution_options=_MARKED)
        conn.exec_driver_sql(f"RELEASE SAVEPOINT {name}", execution_options=_MARKED)


@contextmanager
def short_mysql_lock_wait(conn: Connection) -> Iterator[None]:
    """On MySQL, wait at most LOCK_TIMEOUT_MS for a table's (metadata) lock.

    MySQL has no SET LOCAL: the connection's own ``lock_wait_timeout`` (a
    day by default) is put back afterwards. A plain SELECT takes no row
    lock, so InnoDB's row-lock timeout does not concern a display.
    """
    if conn.dialect.name not in MYSQL:
        yield
        return
    before = conn.exec_driver_sql(
        "SELECT @@SESSION.lock_wait_timeout", execution_options=_MARKED
    ).scalar_one()
    seconds = max(1, LOCK_TIMEOUT_MS // 1000)
    conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {seconds}", execution_options=_MARKED)
    try:
        yield
    finally:
        with suppress(DBAPIError):  # a lost connection is not reused: nothing to put back
            conn.exec_driver_sql(
                f"SET SESSION lock_wait_timeout = {int(before)}", execution_options=_MARKED
            )


def count_rows(conn: Connection, table: Table, count_limit: int) -> tuple[int | None, bool]:
    """The table's row count and whether it is an estimate; None: more than ``count_limit``.

    SQLite counts a table from its b-tree pages (a million rows in well under
    a millisecond), so its count is exact. Elsewhere ``count(*)`` reads every
    row: it stops at ``count_limit``, and above that the server's statistics
    stand in, marked as an estimate: PostgreSQL's planner estimate
    (``pg_class.reltuples``), MySQL's ``information_schema.TABLES.TABLE_ROWS``.
    """
    if conn.dialect.name == "sqlite":
        exact = select(func.count()).select_from(table)
        return conn.execute(exact, execution_options=_MARKED).scalar_one(), False
    capped = select(literal(1)).select_from(table).limit(count_limit + 1).subquery()
    total = conn.execute(
        select(func.count()).select_from(capped), execution_options=_MARKED
    ).scalar_one()
    if total <= count_limit:
        return total, False
    if conn.dialect.name == "postgresql":
        estimate = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
            {"name": conn.dialect.identifier_preparer.format_table(table)},
            execution_options=_MARKED,
        ).scalar()
        # -1 (or 0) until the table was first vacuumed or analyzed: no estimate
        if estimate is not None and estimate > count_limit:
            return int(estimate), True
    if conn.dialect.name in MYSQL:
        estimate = conn.execute(
            text(
                "SELECT table_rows FROM information_schema.tables "
                "WHERE table_schema = COALESCE(:schema, DATABASE()) AND table_name = :name"
            ),
            {"schema": table.schema, "name": table.name},
            execution_options=_MARKED,
        ).scalar()
        # InnoDB's sampled statistics; NULL or too low until they are updated
        if estimate is not None and estimate > count_limit:
            return int(estimate), True
    return None, False


def read_table(
    engine: Engine,
    recorder: StatementRecorder,
    session_connection: Connection | None,
    table: Table,
    limit: int,
    count_limit: int = 10_000,
) -> TableData:
    """The first ``limit`` rows of ``table`` and its row count, read as a guest.

    A failed read becomes the table's ``error``: a display never breaks a cell.
    """
    columns = [column.name for column in table.columns]
    rows_stmt = select(table).order_by(*table.primary_key.columns).limit(limit)
    note = None
    if session_connection is not None and not usable(session_connection):
        note = "committed rows only: " + _failure(session_connection)
    isolation = None
    if session_connection is not None and usable(session_connection):
        plan = read_through(session_connection)
        if not plan.inside:  # a read there would change the transaction (snapshots.py)
            session_connection, note = None, plan.note
            if plan.writer is not None and not _others_writing(engine, recorder, plan.writer):
                # the session's own changes and the committed rows: what it would see
                isolation, note = "READ UNCOMMITTED", None
    try:
        with display_connection(engine, recorder, session_connection, isolation) as conn:
            rows = [tuple(r) for r in conn.execute(rows_stmt, execution_options=_MARKED)]
            total, estimated = count_rows(conn, table, count_limit)
    except Exception as exc:
        message = mask_secrets(first_line(exc))
        return TableData(table.fullname, columns, [], 0, count_limit, error=message)
    return TableData(
        table.fullname, columns, rows, total, count_limit, estimated=estimated, note=note
    )
