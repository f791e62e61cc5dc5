"""orm_magic.core.dbapi: what the driver itself says of a connection's transaction.

Compared with what SQLAlchemy's own Connection says, on SQLite and on a real
PostgreSQL server (psycopg 3).
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from orm_magic.core.dbapi import aborted, in_transaction, transaction_status


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_in_transaction_follows_the_drivers_transaction(kind: str, request) -> None:
    url = "sqlite://" if kind == "sqlite" else request.getfixturevalue("pg_url")
    engine = create_engine(url)
    with engine.connect() as conn:
        raw = conn.connection  # the pool's proxy: attribute reads pass through
        assert in_transaction(raw) is False
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert conn.in_transaction()
        # pysqlite begins only before INSERT, UPDATE or DELETE; psycopg at the first statement
        assert in_transaction(raw) is True and in_transaction(raw.dbapi_connection) is True
        conn.commit()
        assert in_transaction(raw) is False and not conn.in_transaction()
    engine.dispose()


@pytest.mark.postgres
def test_a_failed_statement_aborts_a_postgresql_transaction_until_rollback(pg_url: str) -> None:
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        conn.execute(text("SELECT 1"))
        assert transaction_status(raw) == 2 and not aborted(raw)
        with pytest.raises(ProgrammingError):
            conn.execute(text("SELECT * FROM no_such_table"))
        assert aborted(raw) and in_transaction(raw) is True
        conn.rollback()
        assert transaction_status(raw) == 0 and not aborted(raw)
    engine.dispose()


def test_sqlite_has_no_libpq_status() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert transaction_status(raw) is None and not aborted(raw)
    engine.dispose()


def test_a_connection_that_cannot_tell_says_none() -> None:
    assert in_transaction(object()) is None
