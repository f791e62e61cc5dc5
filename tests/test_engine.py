"""The workspace's SQLite engine against a plain ``create_engine('sqlite://')``.

orm_magic's engine carries SQLAlchemy's documented pysqlite fix (pysqlite's
own transaction handling off, BEGIN sent when SQLAlchemy begins). On the
in-memory database's one shared connection, two Connections can interleave;
whatever a user does there must leave the same rows as plain SQLAlchemy.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text

from orm_magic.core.engine import make_engine


def interleave(engine) -> list[tuple[int, str]]:
    """A user's Connection commits inside another's transaction, which then rolls back."""
    with engine.begin() as setup:
        setup.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
        setup.execute(text("INSERT INTO t VALUES (1, 'ann')"))
    first = engine.connect()
    first.execute(text("UPDATE t SET name = 'bob' WHERE id = 1"))
    with engine.connect() as second:  # shares the DBAPI connection, joins its transaction
        second.execute(text("INSERT INTO t VALUES (2, 'cy')"))
        second.commit()  # ends the shared transaction in the database
    first.execute(text("UPDATE t SET name = 'dee' WHERE id = 1"))  # begins anew, as pysqlite does
    first.rollback()
    first.close()
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, name FROM t ORDER BY id"))]


def test_a_commit_on_the_shared_connection_then_a_rollback_as_plain_sqlalchemy():
    plain = create_engine("sqlite://")
    ours = make_engine("sqlite://")
    expected = interleave(plain)
    assert expected == [(1, "bob"), (2, "cy")]
    assert interleave(ours) == expected
