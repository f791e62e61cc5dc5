"""What a DBAPI connection itself says of its transaction, asked of the driver.

On a shared connection (the in-memory database's one connection) the
transaction may be another SQLAlchemy Connection's, so SQLAlchemy's own
bookkeeping cannot answer; the driver can.
"""

from __future__ import annotations

from typing import Any

#: libpq's transaction statuses (PQTRANS_*), as psycopg 3 and psycopg2 report them.
PQTRANS_IDLE, PQTRANS_INERROR = 0, 3
#: MySQL's SERVER_STATUS_IN_TRANS flag of the status the server sends back.
MYSQL_IN_TRANS = 1


def in_transaction(dbapi_connection: Any) -> bool | None:
    """Whether a DBAPI connection is inside a transaction; None when it cannot tell.

    Asked of the driver, not of SQLAlchemy: on a shared connection the
    transaction may be another Connection's. ``dbapi_connection`` may be the
    pool's proxy, which passes attribute reads through.
    """
    raw = getattr(dbapi_connection, "dbapi_connection", None) or dbapi_connection
    flag = getattr(raw, "in_transaction", None)  # sqlite3
    if isinstance(flag, bool):
        return flag
    mysql_status = getattr(raw, "server_status", None)  # PyMySQL
    if isinstance(mysql_status, int):
        # The status of the last reply that carried one (a result set's does
        # not): a transaction that only SELECTs so far may still read as none.
        return bool(mysql_status & MYSQL_IN_TRANS)
    status = transaction_status(raw)
    return None if status is None else status != PQTRANS_IDLE


def transaction_status(dbapi_connection: Any) -> int | None:
    """libpq's transaction status (0 idle, 2 in a transaction, 3 failed), or None."""
    info = getattr(dbapi_connection, "info", None)
    status = getattr(info, "transaction_status", None)  # psycopg 3
    if status is None and hasattr(dbapi_connection, "get_transaction_status"):
        status = dbapi_connection.get_transaction_status()  # psycopg2
    return None if status is None else int(status)


def aborted(dbapi_connection: Any) -> bool:
    """True when PostgreSQL refuses every statement on it until a rollback."""
    return transaction_status(dbapi_connection) == PQTRANS_INERROR
