"""Whether a display may read inside a session's open transaction without changing it.

A display reads through the session's own connection so that the rows the
session flushed show. On a server that read is not always free of effects:

- InnoDB (MySQL, MariaDB) fixes a REPEATABLE READ transaction's snapshot at
  its first plain read, not at its BEGIN: a display after a flush that wrote
  only would fix it early, and the session would then miss commits that it
  sees in plain SQLAlchemy;
- PostgreSQL fixes it at the transaction's first statement of any kind;
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
from typing import Any

from sqlalchemy.engine import Connection

#: The attribute of a checkout holding what its transaction has run (bits below).
_FLAGS = "_orm_magic_transaction"
RAN, READ, WROTE = 1, 2, 4
#: A SELECT that locks what it reads: not a consistent (snapshot) read.
_LOCKING = re.compile(r"\bFOR\s+(?:UPDATE|SHARE)\b|\bLOCK\s+IN\s+SHARE\s+MODE\b", re.I)
_MYSQL = ("mysql", "mariadb")


def mark(checkout: Any, statement: str) -> None:
    """Note that the transaction on ``checkout`` ran ``statement`` (a user's, not ours).

    Called once per execution, not per cursor call; cheap for a bulk flush.
    """
    flags = getattr(checkout, _FLAGS, 0)
    head = statement.lstrip()[:6].upper()
    if head.startswith(("SELECT", "WITH")):
        if not flags & READ and not _LOCKING.search(statement):
            flags |= READ
    else:
        flags |= WROTE
    setattr(checkout, _FLAGS, flags | RAN)


def forget(checkout: Any) -> None:
    """A new transaction begins on ``checkout``: it has run nothing yet."""
    setattr(checkout, _FLAGS, 0)


def read_through(conn: Connection) -> tuple[bool, str | None]:
    """Whether a display may read inside ``conn``'s open transaction, and if
    not, the note to show beside the committed rows it reads instead (None
    when those are exactly what the session itself would see)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return True, None  # one writer, no snapshot to fix, no lock left by a read
    flags = getattr(conn.connection, _FLAGS, 0)
    if not flags & RAN:
        return False, None  # nothing of its own to see, and no snapshot taken yet
    raw = conn.connection.dbapi_connection
    if raw is None:
        return False, None
    isolation = str(conn.dialect.get_isolation_level(raw))
    isolation = isolation.upper().replace("-", " ").replace("_", " ")
    if isolation == "SERIALIZABLE":
        locks = "predicate locks" if dialect == "postgresql" else "shared row locks"
        return False, (
            "committed rows, read on a connection of its own: a read inside this "
            f"SERIALIZABLE transaction would leave {locks} that plain SQLAlchemy would not"
        )
    if dialect in _MYSQL and isolation == "REPEATABLE READ" and not flags & READ:
        note = (
            "committed rows: this transaction's own changes are not shown, since on "
            "MySQL and MariaDB a read now would fix its REPEATABLE READ snapshot "
            "before its first query does"
        )
        return False, note if flags & WROTE else None
    return True, None
