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


def test_a_transaction_that_only_read_does_not_lock_out_another_commit(tmp_path):
    # plain pysqlite sends no BEGIN before a SELECT; the documented fix's early
    # BEGIN would hold the read lock and fail the other connection's COMMIT
    url = f"sqlite:///{tmp_path / 'locks.db'}?timeout=0"
    for engine in (create_engine(url), make_engine(url)):
        with engine.begin() as setup:
            setup.execute(text("DROP TABLE IF EXISTS t"))
            setup.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        reader = engine.connect()
        reader.execute(text("SELECT * FROM t")).all()
        with engine.connect() as writer:
            writer.execute(text("INSERT INTO t VALUES (1)"))
            writer.commit()
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 1
        reader.close()
        engine.dispose()


def test_savepoints_and_ddl_are_transactional_as_the_documented_fix_makes_them():
    engine = make_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.rollback()  # DDL inside the transaction: rolled back with it
        assert conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar() == 0
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.commit()
        conn.execute(text("INSERT INTO t VALUES (1)"))
        savepoint = conn.begin_nested()
        conn.execute(text("INSERT INTO t VALUES (2)"))
        savepoint.rollback()
        conn.commit()
        assert conn.execute(text("SELECT id FROM t")).scalars().all() == [1]


def test_statements_pysqlite_runs_outside_a_transaction_still_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'kinds.db'}?timeout=0"
    for engine in (create_engine(url), make_engine(url)):
        with engine.connect() as conn:
            conn.execute(text("VACUUM"))  # SQLite refuses it inside a transaction
        with engine.begin() as setup:
            setup.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)"))
        reader = engine.connect()
        reader.execute(text("/* a report */ SELECT * FROM t")).all()
        with engine.begin() as writer:  # not locked out by the commented read
            writer.execute(text("INSERT INTO t DEFAULT VALUES"))
        reader.close()
        engine.dispose()


def test_sqlalchemys_own_begin_recipe_still_works_on_the_workspace_engine():
    from sqlalchemy import event

    engine = make_engine("sqlite://")

    @event.listens_for(engine, "begin")
    def do_begin(conn):
        conn.exec_driver_sql("BEGIN")

    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
