"""Display reads are guests: they never begin, end or reset a transaction not their own.

Core tests, without a shell: a Workspace, a model, and a user's own
``Session(engine)`` / ``engine.connect()`` / ``engine.begin()`` holding a
transaction while the workspace reads a table for display. After the read,
the user's transaction must be exactly as open as before, and rolling it
back must undo exactly what plain SQLAlchemy would undo.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Integer, String, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from orm_magic.core.dbapi import in_transaction
from orm_magic.core.workspace import Workspace


@pytest.fixture(
    params=[
        "memory",
        "file",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "memory":
        return "sqlite://"
    if request.param == "file":
        return f"sqlite:///{tmp_path / 'guest.db'}"
    if request.param == "mariadb":
        return request.getfixturevalue("mariadb_empty_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def ws(url: str) -> Iterator[Workspace]:
    workspace = Workspace(url)

    class Item(workspace.Base):
        __tablename__ = "items"
        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
        name: Mapped[str] = mapped_column(String(20))

    workspace.register([Item])
    workspace.create_tables([Item])
    with Session(workspace.engine) as s, s.begin():
        s.add_all([Item(id=i, name=f"n{i}") for i in (1, 2, 3)])
    yield workspace
    workspace.close()


def items(ws: Workspace) -> type:
    return ws.models["Item"]


def committed_ids(ws: Workspace) -> list[int]:
    """The committed rows, read on a fresh connection once no one holds a transaction."""
    with ws.engine.connect() as conn:
        return list(conn.scalars(text("SELECT id FROM items ORDER BY id")))


def read(ws: Workspace):
    return ws.read_table(ws.tables()["items"], limit=10)


def test_read_inside_a_users_session_keeps_its_transaction(ws):
    Item = items(ws)
    user = Session(ws.engine)
    user.delete(user.get(Item, 1))
    user.flush()
    data = read(ws)
    assert data.error is None
    assert user.in_transaction() and user.connection().in_transaction()
    assert in_transaction(user.connection().connection.dbapi_connection)
    user.rollback()  # plain SQLAlchemy: the DELETE is undone
    user.close()
    assert committed_ids(ws) == [1, 2, 3]


def test_read_inside_session_begin_context(ws):
    Item = items(ws)
    with Session(ws.engine) as user, user.begin():
        user.add(Item(id=9, name="nine"))
        user.flush()
        read(ws)
        user.add(Item(id=10, name="ten"))
    assert committed_ids(ws) == [1, 2, 3, 9, 10]


def test_read_inside_engine_connect_and_begin(ws):
    with ws.engine.connect() as conn:
        conn.execute(text("DELETE FROM items WHERE id = 2"))
        read(ws)
        assert conn.in_transaction()
        conn.rollback()
    assert committed_ids(ws) == [1, 2, 3]
    with ws.engine.begin() as conn:
        conn.execute(text("DELETE FROM items WHERE id = 3"))
        read(ws)
    assert committed_ids(ws) == [1, 2]


def test_read_inside_a_savepoint(ws):
    Item = items(ws)
    user = Session(ws.engine)
    user.add(Item(id=5, name="five"))
    savepoint = user.begin_nested()
    user.add(Item(id=6, name="six"))
    user.flush()
    read(ws)
    assert savepoint.is_active
    savepoint.rollback()
    user.commit()
    user.close()
    assert committed_ids(ws) == [1, 2, 3, 5]


def test_read_on_the_one_memory_connection_sees_the_open_transaction(url, ws):
    if url != "sqlite://":
        pytest.skip("only the in-memory database shares one connection")
    with ws.engine.connect() as conn:
        conn.execute(text("DELETE FROM items WHERE id = 1"))
        data = read(ws)  # inside the other's transaction: it reads what that one sees
        assert [row[0] for row in data.rows] == [2, 3]
        conn.rollback()
    assert committed_ids(ws) == [1, 2, 3]


def test_a_users_second_connection_works_inside_the_workspace_transaction(ws):
    # the pysqlite BEGIN fix must not fail a second Connection on the shared connection
    Item = items(ws)
    ws.session.add(Item(id=7, name="seven"))
    ws.flush()
    with ws.engine.connect() as conn:
        assert conn.execute(select(Item.id).where(Item.id == 1)).scalar() == 1


def test_read_logs_nothing(ws):
    before = len(ws.recorder.log)
    with ws.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        read(ws)
    statements = [s.sql for s in ws.recorder.log[before:]]
    assert statements == ["BEGIN (implicit)", "SELECT 1", "ROLLBACK"]


def test_count_is_exact_on_sqlite_and_estimated_above_the_limit_on_a_server(ws):
    Item = items(ws)
    with ws.engine.begin() as conn:
        conn.execute(insert(Item), [{"id": i, "name": "x"} for i in range(100, 400)])
    with ws.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE items"))
        elif conn.dialect.name == "mysql":
            conn.execute(text("ANALYZE TABLE items"))
    data = ws.read_table(ws.tables()["items"], limit=5, count_limit=100)
    if ws.engine.dialect.name == "sqlite":
        assert (data.total, data.estimated) == (303, False)
    else:
        assert data.estimated and data.total == 303  # ANALYZE counted every row
    small = ws.read_table(ws.tables()["items"], limit=5, count_limit=10_000)
    assert (small.total, small.estimated) == (303, False)


def test_a_display_does_not_wait_long_for_a_lock_another_session_holds(ws):
    backend = ws.engine.dialect.name
    if backend == "sqlite":
        pytest.skip("a SQLite reader takes no lock a writer holds")
    with ws.engine.connect() as other:
        if backend == "postgresql":
            other.execute(text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))
        else:
            other.execute(text("LOCK TABLES items WRITE"))
        data = read(ws)  # would wait a day without the display's lock timeout
        assert data.error is not None and "lock" in data.error.lower()
        if backend == "postgresql":
            assert other.in_transaction()
            other.rollback()
        else:
            other.execute(text("UNLOCK TABLES"))
    assert read(ws).error is None
    if backend == "mysql":  # each pooled connection's own timeout is back: OrmMagic.lock_timeout
        with ws.engine.connect() as one, ws.engine.connect() as two:
            timeouts = [c.scalar(text("SELECT @@SESSION.lock_wait_timeout")) for c in (one, two)]
            assert timeouts == [ws.lock_timeout.mysql_seconds] * 2


def test_a_users_connection_closed_during_a_display_is_still_rolled_back(ws):
    # the garbage collector can return a user's abandoned Connection to the
    # pool while a display reads; that rollback is the user's, not a guest's
    from orm_magic.core.reading import display_connection

    user = ws.engine.connect()
    user.execute(text("INSERT INTO items (id, name) VALUES (50, 'abandoned')"))
    with display_connection(ws.engine, ws.recorder, None) as own:
        own.execute(text("SELECT 1"))
        user.close()
    assert committed_ids(ws) == [1, 2, 3]
    with ws.engine.connect() as conn:
        assert not in_transaction(conn.connection.dbapi_connection)


def test_a_read_through_the_sessions_transaction_waits_briefly_and_leaves_it_usable(ws):
    backend = ws.engine.dialect.name
    if backend == "sqlite":
        pytest.skip("a SQLite reader takes no lock a writer holds")
    from sqlalchemy import Column, MetaData, Table

    with ws.engine.begin() as conn:
        conn.execute(text("CREATE TABLE other_t (id INTEGER PRIMARY KEY)"))
    other_t = Table("other_t", MetaData(), Column("id", Integer, primary_key=True))
    Item = items(ws)
    ws.session.add(Item(id=60, name="mine"))
    ws.flush()  # the session's transaction is open: displays read through it
    if backend == "mysql":  # once it has read: before, a read would fix its snapshot
        ws.session.execute(text("SELECT id FROM items WHERE id = 1")).all()
    with ws.engine.connect() as locker:
        if backend == "postgresql":
            locker.execute(text("LOCK TABLE other_t IN ACCESS EXCLUSIVE MODE"))
        else:
            locker.execute(text("LOCK TABLES other_t WRITE"))
        data = ws.read_table(other_t, limit=5)
        assert data.error is not None and "lock" in data.error.lower()
        if backend == "postgresql":
            locker.rollback()
        else:
            locker.execute(text("UNLOCK TABLES"))
    assert [row[0] for row in read(ws).rows] == [1, 2, 3, 60]  # flushed row, same transaction
    if backend == "mysql":  # the session's connection has its own lock timeout back
        timeout = ws.session.execute(text("SELECT @@SESSION.lock_wait_timeout")).scalar()
        assert timeout == ws.lock_timeout.mysql_seconds
    ws.commit()
    assert committed_ids(ws) == [1, 2, 3, 60]


def test_the_driver_tells_whether_a_transaction_is_open(ws):
    with ws.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        conn.execute(text("UPDATE items SET name = 'y' WHERE id = 1"))
        assert in_transaction(raw) is True
        conn.commit()
        assert in_transaction(raw) is False
