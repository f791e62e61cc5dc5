"""orm_magic.core.workspace: one engine, ``Base`` and session, used without IPython.

The workspace's calls are compared with the same calls in plain SQLAlchemy on
an engine of its own: the SQL sent, and what the session and rows are after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import ForeignKey, String, create_engine, make_url, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from orm_magic.core.engine import new_base
from orm_magic.core.errors import WorkspaceError
from orm_magic.core.workspace import Workspace

from .echo import echo_log


@pytest.fixture
def ws() -> Iterator[Workspace]:
    workspace = Workspace("sqlite://")
    yield workspace
    workspace.close()


def define(workspace_or_base: object) -> tuple[type, type]:
    """``User`` and ``Address`` on a declarative base (the workspace's, or plain)."""
    Base = getattr(workspace_or_base, "Base", workspace_or_base)

    class User(Base):  # type: ignore[misc, valid-type]
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(20))

    class Address(Base):  # type: ignore[misc, valid-type]
        __tablename__ = "addresses"
        id: Mapped[int] = mapped_column(primary_key=True)
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    return User, Address


def test_the_sql_logged_is_what_plain_sqlalchemy_echoes(ws) -> None:
    def work(add, flush, commit, make) -> None:  # noqa: ANN001
        add([make(id=1, name="a"), make(id=2, name="b")])
        flush()
        add([make(id=3, name="c")])
        commit()

    User, _ = define(ws)
    ws.create_tables(ws.tables().values())
    before = len(ws.recorder.log)
    work(ws.add, ws.flush, ws.commit, User)
    ours = [s.sql.strip() for s in ws.recorder.log[before:]]

    PlainUser, _ = define(new_base())
    engine = create_engine("sqlite://")
    PlainUser.metadata.create_all(engine)
    with echo_log() as echo, Session(engine) as session:
        work(session.add_all, session.flush, session.commit, PlainUser)
    engine.dispose()
    assert ours == echo.lines


def test_a_table_is_read_as_a_guest(ws) -> None:
    User, _ = define(ws)
    ws.create_tables(ws.tables().values())
    ws.add([User(id=1, name="flushed")])
    ws.flush()
    ws.add([User(id=2, name="pending")])
    logged, transaction = len(ws.recorder.log), ws.session.get_transaction()
    data = ws.read_table(User.__table__, limit=10)
    assert data.rows == [(1, "flushed")] and data.total == 1  # no autoflush of the pending one
    assert len(ws.recorder.log) == logged  # nothing logged
    assert ws.session.get_transaction() is transaction and transaction.is_active
    assert len(ws.session.new) == 1
    ws.rollback()
    assert ws.read_table(User.__table__, limit=10).rows == []  # the flush was undone


def test_a_failed_flush_is_rolled_back_naming_what_it_discarded(ws) -> None:
    User, _ = define(ws)
    ws.create_tables(ws.tables().values())
    ws.add([User(id=1, name="a")])
    ws.commit()
    ws.add([User(id=1, name="duplicate"), User(id=2, name="b")])
    before = ws.pending()
    with pytest.raises(IntegrityError) as caught:
        ws.flush()
    assert ws.describe_error(caught.value).startswith(
        "IntegrityError in table users: UNIQUE constraint failed: users.id"
    )
    assert ws.session_failed()
    assert ws.recover(before=before) == "2 pending objects discarded (User)"
    assert not ws.session_failed() and ws.recover() == ""
    assert ws.session.scalars(select(User.name)).all() == ["a"]  # committed data kept


def test_tables_come_in_dependency_order_and_only_the_workspaces_are_dropped(ws) -> None:
    define(ws)
    assert list(ws.tables()) == ["users", "addresses"]
    created = ws.create_tables(reversed(list(ws.tables().values())))
    assert [t.name for t in created] == ["users", "addresses"]
    with ws.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE someone_elses (id INTEGER)")
    assert ws.drop_own_tables() == ["users", "addresses"]
    with ws.engine.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")]
    assert names == ["someone_elses"]


def test_a_second_session_moves_the_memory_to_a_file_and_sees_only_commits(ws) -> None:
    User, _ = define(ws)
    ws.create_tables(ws.tables().values())
    ws.add([User(id=1, name="committed")])
    ws.commit()
    assert ws.use("b") is True
    directory = ws.temporary.directory  # type: ignore[union-attr]
    ws.add([User(id=2, name="b's, uncommitted")])
    ws.flush()
    ws.use("main")
    assert ws.session.scalars(select(User.id)).all() == [1]
    assert [s.session for s in ws.recorder.log[-2:]] == ["main", "main"]  # labelled
    ws.close()
    assert not directory.exists()


def test_a_failed_connect_leaves_the_workspace_as_it_was(ws) -> None:
    User, _ = define(ws)
    ws.create_tables(ws.tables().values())
    ws.add([User(id=1, name="kept")])
    ws.commit()
    with pytest.raises(WorkspaceError) as caught:
        ws.connect("postgresql+psycopg://me:s3cr3t-pw@127.0.0.1:1/nowhere")
    assert "s3cr3t" not in str(caught.value) and str(caught.value).startswith("cannot use ")
    assert ws.url == "sqlite://"
    assert ws.session.scalars(select(User.name)).all() == ["kept"]


@pytest.mark.postgres
def test_a_wrong_password_is_one_line_without_it(ws, pg_url: str) -> None:
    wrong = make_url(pg_url).set(password="wrong-pw-4711").render_as_string(hide_password=False)
    with pytest.raises(WorkspaceError) as caught:
        ws.connect(wrong)
    message = str(caught.value)
    assert "\n" not in message and "4711" not in message and "password" in message.lower()


@pytest.mark.postgres
def test_connect_creates_the_models_tables_there(ws, pg_url: str) -> None:
    define(ws)
    capture = ws.connect(pg_url)
    assert [s.sql.split("(")[0].strip() for s in capture.statements if "CREATE" in s.sql] == [
        "CREATE TABLE users",
        "CREATE TABLE addresses",
    ]
    assert ws.url == pg_url and ws.engine.dialect.name == "postgresql"
