"""Short lock waits, and lock errors as one line naming the session that holds the lock.

A statement that waits for a lock gives up after ``lock_timeout`` seconds:
PostgreSQL's ``lock_timeout``, SQLite's busy timeout and MySQL's
``innodb_lock_wait_timeout`` (whole seconds there), set on each pooled
connection (when it is checked out with a value it does not have yet), so
that a lesson on locking never hangs the kernel.
"""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy import bindparam, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..data.tables import TableData
from .capture import StatementRecorder
from .dbapi import aborted, in_transaction
from .executions import DISPLAY_OPTION, dml_table_of
from .named_sessions import NamedSession, SessionBook

#: Default seconds a statement waits for a lock another session holds.
DEFAULT_LOCK_TIMEOUT = 3.0
#: Where a pooled connection remembers the lock timeout it was given (ms).
_APPLIED = "orm_magic_lock_timeout"
#: MySQL's and MariaDB's dialect names, and their error codes for a lock wait
#: that gave up and a deadlock.
MYSQL = ("mysql", "mariadb")
MYSQL_LOCK_WAIT, MYSQL_DEADLOCK = 1205, 1213
#: PostgreSQL's SQLSTATEs: lock_not_available, deadlock_detected.
LOCK_NOT_AVAILABLE, DEADLOCK = "55P03", "40P01"
_PROCESS = re.compile(r"Process (\d+)")


class LockTimeout:
    """The lock timeout of a workspace, applied to every connection of its engines."""

    def __init__(self, seconds: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.seconds = seconds

    @property
    def milliseconds(self) -> int:
        return max(1, math.ceil(self.seconds * 1000))

    def set(self, seconds: float, sessions: SessionBook) -> None:
        """Change the timeout, also on the connections sessions hold right now."""
        self.seconds = seconds
        for named in sessions:
            conn = named.connection
            if conn is None or conn.closed or conn.invalidated:
                continue
            fairy = conn.connection
            fairy.info.pop(_APPLIED, None)  # set again at its next checkout
            raw: Any = fairy.dbapi_connection
            if conn.dialect.name == "sqlite":
                raw.execute(f"PRAGMA busy_timeout = {self.milliseconds}")
            elif conn.dialect.name in MYSQL:  # a session variable: no transaction undoes it
                self._set_mysql(raw)
            elif conn.dialect.name == "postgresql" and not aborted(fairy):
                # inside the transaction: a rollback undoes it, the next checkout redoes it
                cursor = raw.cursor()
                try:
                    cursor.execute(f"SET lock_timeout = {self.milliseconds}")
                finally:
                    cursor.close()

    @property
    def mysql_seconds(self) -> int:
        """MySQL counts lock waits in whole seconds, at least one."""
        return max(1, math.ceil(self.seconds))

    def _set_mysql(self, dbapi_connection: Any) -> None:
        # row locks (InnoDB) and table/metadata locks (LOCK TABLES, DDL)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(
                f"SET SESSION innodb_lock_wait_timeout = {self.mysql_seconds}, "
                f"SESSION lock_wait_timeout = {self.mysql_seconds}"
            )
        finally:
            cursor.close()

    def install(self, engine: Engine) -> None:
        """Set the timeout on each connection of ``engine`` as it is checked out."""
        backend = engine.dialect.name

        @event.listens_for(engine, "checkout")
        def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
            wanted = self.milliseconds
            if record.info.get(_APPLIED) == wanted:
                return  # one dict read per checkout once set
            if backend == "sqlite":
                dbapi_connection.execute(f"PRAGMA busy_timeout = {wanted}")
            elif backend in MYSQL:
                if in_transaction(dbapi_connection):
                    return  # someone's transaction: set it at a later checkout
                self._set_mysql(dbapi_connection)
            elif backend == "postgresql":
                if in_transaction(dbapi_connection):
                    return  # someone's transaction: set it at a later checkout
                cursor = dbapi_connection.cursor()
                try:
                    cursor.execute(f"SET lock_timeout = {wanted}")
                finally:
                    cursor.close()
                # the driver began a transaction for SET; a rollback would undo it
                dbapi_connection.commit()
            else:
                return
            record.info[_APPLIED] = wanted


def backend_pid(named: NamedSession) -> int | None:
    """PostgreSQL's backend pid of the session's connection, asked of the driver (no SQL)."""
    conn = named.connection
    if conn is None or conn.closed or conn.invalidated:
        return None
    raw: Any = conn.connection.dbapi_connection
    info = getattr(raw, "info", None)
    pid = getattr(info, "backend_pid", None)  # psycopg 3
    if pid is None and hasattr(raw, "get_backend_pid"):
        pid = raw.get_backend_pid()  # psycopg2
    return None if pid is None else int(pid)


def _names(sessions: list[NamedSession]) -> str:
    return " and ".join(f"session {s.name!r}" for s in sessions)


def _what_to_do(holders: list[NamedSession]) -> str:
    if not holders:
        return "commit or roll back the other connection's transaction, then try again"
    first = holders[0].name
    return (
        f"commit or roll back {_names(holders)} (%orm_use {first}, then %orm_commit or "
        "%orm_rollback), then try again"
    )


#: Table locks that make a writer wait whatever the row (LOCK TABLE's modes and above).
_STRONG = "'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'"
#: The locks a transaction holds on a table: row locks show as RowShare (FOR UPDATE)
#: or RowExclusive (a write), LOCK TABLE as its mode; a plain read as AccessShare.
_HOLDERS = text(
    "SELECT DISTINCT pid FROM pg_locks WHERE granted AND pid = ANY(:pids) AND CASE "
    "WHEN to_regclass(CAST(:table AS text)) IS NULL THEN locktype = 'transactionid' "
    f"OR mode IN ({_STRONG}) ELSE locktype = 'relation' AND mode = ANY(:modes) "
    "AND relation = to_regclass(CAST(:table AS text)) END"
)
#: What a writer waits for on its table: any lock but a plain read's.
WRITER = ["RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
          "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]  # fmt: skip
#: What a reader (a display) waits for: only LOCK TABLE's default mode.
READER = ["AccessExclusiveLock"]
_LOCKED_FROM = re.compile(
    r"\bFROM\s+([\w.\"]+).*\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE)", re.I | re.S
)


def locked_table(sql: str | None) -> str | None:
    """The table a statement that waited writes to or locks rows of; None if not told."""
    table = dml_table_of(sql)
    if table is None and (match := _LOCKED_FROM.search(sql or "")):
        table = match.group(1).strip('"')
    return table


def pg_holders(
    engine: Engine,
    recorder: StatementRecorder,
    others: list[NamedSession],
    table: str | None = None,
    modes: list[str] = WRITER,
) -> list[NamedSession]:
    """The other sessions that hold a lock on ``table`` in one of ``modes``, read as a guest.

    ``pg_blocking_pids`` answers only while the wait lasts, which a
    one-threaded kernel cannot ask; after the timeout the holders are the
    other sessions with such a lock on the table the statement waited for.
    A row lock shows only as the holder's transaction id, not as the row;
    so a session that locked other rows of that table is named too. Without
    a table (a statement not understood), the sessions whose transaction
    holds row locks at all or a table lock stronger than a writer's.
    """
    pids = {pid: named for named in others if (pid := backend_pid(named)) is not None}
    if not pids:
        return []
    try:
        with engine.connect() as conn:
            recorder.admit_guest(conn)
            found = conn.execute(
                _HOLDERS,
                {"pids": list(pids), "table": table, "modes": modes},
                execution_options={DISPLAY_OPTION: True},
            )
            held = {row[0] for row in found}
    except SQLAlchemyError:  # the guess must not hide the error it explains
        return []
    return [named for pid, named in pids.items() if pid in held]


#: The InnoDB transactions (by thread) that hold a row or table lock (PROCESS privilege).
_INNODB_HOLDERS = text(
    "SELECT trx_mysql_thread_id FROM information_schema.innodb_trx "
    "WHERE trx_mysql_thread_id IN :ids AND (trx_rows_locked > 0 OR trx_tables_locked > 0)"
).bindparams(bindparam("ids", expanding=True))


def mysql_holders(
    engine: Engine, recorder: StatementRecorder, others: list[NamedSession]
) -> list[NamedSession]:
    """The other sessions whose InnoDB transaction holds locks, read as a guest.

    The driver's transaction flag misses one that has only read (``FOR UPDATE``
    included), and the locked row is not told once the wait is over: the holders
    are the others holding any lock; without PROCESS, those in a transaction.
    """
    threads: dict[int, NamedSession] = {}
    for named in others:
        conn = named.connection
        if conn is not None and not (conn.closed or conn.invalidated):
            thread_id = getattr(conn.connection.dbapi_connection, "thread_id", None)
            if callable(thread_id):  # PyMySQL: the server's id, known without SQL
                threads[thread_id()] = named
    if not threads:
        return []
    try:
        with engine.connect() as conn:
            recorder.admit_guest(conn)
            found = conn.execute(
                _INNODB_HOLDERS, {"ids": list(threads)}, execution_options={DISPLAY_OPTION: True}
            )
            held = {row[0] for row in found}
    except SQLAlchemyError:  # no PROCESS privilege: the sessions in a transaction
        return list(threads.values())
    holding = [named for thread_id, named in threads.items() if thread_id in held]
    return holding or list(threads.values())  # none: a metadata lock, held by any reader


def sqlite_holders(others: list[NamedSession]) -> list[NamedSession]:
    """The other sessions in a transaction: on SQLite, which locks the whole file,
    the holders of its write lock."""
    found = []
    for named in others:
        conn = named.connection
        if conn is not None and not conn.closed and in_transaction(conn.connection):
            found.append(named)
    return found


def describe_lock_error(
    exc: BaseException,
    sessions: SessionBook,
    engine: Engine,
    recorder: StatementRecorder,
    seconds: float,
) -> str | None:
    """One line for a lock timeout or a deadlock, naming the sessions; None for other errors."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        return None
    current, others = sessions.current, sessions.others()
    kind = f"{type(exc).__name__}: "
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate == DEADLOCK:
        detail = getattr(getattr(orig, "diag", None), "message_detail", None) or ""
        pids = {int(p) for p in _PROCESS.findall(detail)}
        involved = [s for s in sessions if backend_pid(s) in pids] or [current]
        return kind + (
            f"deadlock between {_names(involved)}: PostgreSQL rolled back the transaction of "
            f"session {current.name!r} to let the other go on; run it again after the other "
            "commits"
        )
    code = orig.args[0] if engine.dialect.name in MYSQL and orig.args else None
    if code == MYSQL_DEADLOCK:
        holders = mysql_holders(engine, recorder, others)
        return kind + (
            f"deadlock between {_names([current, *holders])}: the server rolled back the "
            f"transaction of session {current.name!r} to let the other go on; run it again "
            "after the other commits"
        )
    if code == MYSQL_LOCK_WAIT:
        holders = mysql_holders(engine, recorder, others)
        held = f"a lock that {_names(holders)} holds" if holders else "a lock"
        waited = f"{kind}waited {max(1, math.ceil(seconds))} s (OrmMagic.lock_timeout"
        return f"{waited}, in whole seconds on MySQL) for {held}; {_what_to_do(holders)}"
    waited = f"{kind}waited {seconds:g} s (OrmMagic.lock_timeout)"
    if sqlstate == LOCK_NOT_AVAILABLE:
        holders = pg_holders(
            engine, recorder, others, locked_table(getattr(exc, "statement", None))
        )
        held = f"a lock that {_names(holders)} holds" if holders else "a lock"
        return f"{waited} for {held}; {_what_to_do(holders)}"
    if "database is locked" in str(orig):
        holders = sqlite_holders(others)
        held = f"the write lock that {_names(holders)} holds" if holders else "the write lock"
        return (
            f"{waited} for {held} (SQLite locks the whole database for writing); "
            f"{_what_to_do(holders)}"
        )
    return None


def name_display_holders(
    data: TableData, others: list[NamedSession], engine: Engine, recorder: StatementRecorder
) -> TableData:
    """A display that gave up on a lock says which other session holds it."""
    if not others or data.error is None or "lock timeout" not in data.error:
        return data
    if engine.dialect.name != "postgresql":
        return data
    holders = pg_holders(engine, recorder, others, data.name, READER)
    if holders:
        data.error += f" — {_names(holders)} holds a lock on it; {_what_to_do(holders)}"
    return data
