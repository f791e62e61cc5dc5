"""Whether a display may read inside a session's open transaction without changing it.

A display reads through the session's own connection so that the rows the
session flushed show. On a server that read is not always free of effects:

- InnoDB (MySQL, MariaDB) fixes a REPEATABLE READ transaction's snapshot at
  its first plain read, not at its BEGIN: a display after a flush that wrote
  only would fix it early, and the session would then miss commits that it
  sees in plain SQLAlchemy;
- PostgreSQL fixes it at the transaction's first query or write (not at a
  SET, a SAVEPOINT or a LOCK TABLE);
- under SERIALIZABLE a read leaves locks behind that outlive the display's
  savepoint: PostgreSQL's predicate (SIREAD) locks, which can fail a commit,
  and InnoDB's shared row locks, which make other sessions wait.

So the recorder marks each checkout of a pooled connection with what its
transaction has run so far (:func:`mark`, reset by :func:`forget` at each
BEGIN), and :func:`read_through` decides from that and the transaction's
isolation level. Where a read would change the transaction, the display
reads committed rows on a connection of its own, and says so.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

#: The attribute of a checkout holding what its transaction has run (bits below):
#: anything; a plain read of a table (InnoDB's snapshot); a locking read; a DML write.
_FLAGS = "_orm_magic_transaction"
RAN, READ, LOCKED, WROTE = 1, 2, 4, 8
#: A SELECT that locks what it reads: not a consistent (snapshot) read on InnoDB.
_LOCKING = re.compile(r"\bFOR\s+(?:UPDATE|SHARE)\b|\bLOCK\s+IN\s+SHARE\s+MODE\b", re.I)
_DML = ("INSERT", "UPDATE", "DELETE", "MERGE", "REPLAC")
_MYSQL = ("mysql", "mariadb")


def mark(checkout: Any, statement: str) -> None:
    """Note that the transaction on ``checkout`` ran ``statement`` (a user's, not ours).

    Called once per execution, not per cursor call; cheap for a bulk flush.
    SET, SHOW, SAVEPOINT, LOCK TABLE and DDL take no snapshot on PostgreSQL,
    and a SELECT of no table none on InnoDB: they count as run, nothing more.
    """
    flags = getattr(checkout, _FLAGS, 0) | RAN
    head = statement.lstrip(" \t\r\n(")[:6].upper()
    if head.startswith(("SELECT", "WITH")):
        if _LOCKING.search(statement):
            flags |= LOCKED
        elif not flags & READ and "FROM" in statement.upper():
            flags |= READ
    elif head.startswith(_DML):
        flags |= WROTE
    setattr(checkout, _FLAGS, flags)


def forget(checkout: Any) -> None:
    """A new transaction begins on ``checkout``: it has run nothing yet."""
    setattr(checkout, _FLAGS, 0)


class Plan(NamedTuple):
    """How a display reads a table while a session's transaction is open."""

    inside: bool  # through the session's own connection, in a savepoint
    #: else: the note beside the committed rows read on a connection of its own
    #: (None when those are exactly what the session itself would see)
    note: str | None = None
    #: else, on MySQL: the session's server thread, when a READ UNCOMMITTED read
    #: beside it shows exactly what it would see, if no other transaction is writing
    writer: int | None = None


def read_through(conn: Connection) -> Plan:
    """How a display may read while ``conn``'s transaction is open (see :class:`Plan`)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return Plan(True)  # one writer, no snapshot to fix, no lock left by a read
    flags = getattr(conn.connection, _FLAGS, 0)
    if not flags & (READ | LOCKED | WROTE):
        # no query or write yet: no snapshot taken (PostgreSQL takes it at the
        # first one), and no row of its own to see
        return Plan(False)
    raw = conn.connection.dbapi_connection
    if raw is None:
        return Plan(False)
    isolation = str(conn.dialect.get_isolation_level(raw))
    isolation = isolation.upper().replace("-", " ").replace("_", " ")
    if isolation == "SERIALIZABLE":
        locks = "predicate locks" if dialect == "postgresql" else "shared row locks"
        return Plan(
            False,
            "committed rows, read on a connection of its own: a read inside this "
            f"SERIALIZABLE transaction would leave {locks} that plain SQLAlchemy would not",
        )
    if dialect in _MYSQL and isolation == "REPEATABLE READ" and not flags & READ:
        if not flags & WROTE:
            return Plan(False)  # nothing of its own: the committed rows are its view
        thread_id = getattr(raw, "thread_id", None)  # PyMySQL, mysqlclient: no SQL
        note = (
            "committed rows: this transaction's own changes are not shown, since on "
            "MySQL and MariaDB a read now would fix its REPEATABLE READ snapshot "
            "before its first query does, and another transaction may be writing"
        )
        return Plan(False, note, thread_id() if callable(thread_id) else None)
    return Plan(True)
