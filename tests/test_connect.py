"""%orm_connect, safe URLs, and the workspace on real PostgreSQL and MariaDB servers."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from IPython.core.error import UsageError
from sqlalchemy import create_engine, inspect, text

from orm_magic.core.urls import safe_url

from .conftest import SEED_MODEL
from .helpers import run
from .mariadb import PASSWORD as MARIADB_PASSWORD
from .pg import PASSWORD

SERVER_MARKS = {"postgresql": pytest.mark.postgres, "mariadb": pytest.mark.mariadb}


def only_on(*databases: str) -> pytest.MarkDecorator:
    """Run an `ip` test on some of conftest's databases instead of each."""
    params = [
        pytest.param(name, marks=[SERVER_MARKS[name]] if name in SERVER_MARKS else [])
        for name in databases
    ]
    return pytest.mark.parametrize("db_url", params, indirect=True)


def server(request: pytest.FixtureRequest):
    """The server the test's `ip` runs on (PostgreSQL or MariaDB), to restart it."""
    name = "mariadb_server" if "mariadb" in request.node.callspec.id else "pg_server"
    return request.getfixturevalue(name)


# -- safe_url: no password in any output ---------------------------------------------
@pytest.mark.parametrize(
    "url, shown",
    [
        ("sqlite://", "sqlite://"),
        ("sqlite:///data/course.db", "sqlite:///data/course.db"),
        (
            "postgresql+psycopg://ann:s3cr%40t@db:5432/shop",
            "postgresql+psycopg://ann:***@db:5432/shop",
        ),
        (
            "postgresql://ann@db/shop?password=s3cr3t&sslmode=require",
            "postgresql://ann@db/shop?password=***&sslmode=require",
        ),
        (
            "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC%7D%3BUID%3Dann%3BPWD%3Ds3cr3t%3B",
            "mssql+pyodbc:///?odbc_connect=DRIVER={ODBC};UID=ann;PWD=***;",
        ),
        # not a URL: nothing past the first ':', '/', '@' or '?' is shown
        ("not a url ann:s3cr3t@host", "not a url ann:***"),
        ("ann:s3cr3t@host/db", "ann:***"),
        ("ann@s3cr3t:host/db", "ann@***"),
        ("weird://ann:s3cr3t@[bad", "weird://ann:***@[bad"),
    ],
)
def test_safe_url_masks_passwords_and_secrets(url, shown):
    assert safe_url(url) == shown


def test_safe_url_never_contains_the_secret():
    for url in (
        "postgresql+psycopg://u:hunter2@h/db",
        "postgresql+psycopg://u@h/db?sslpassword=hunter2",
        "mssql+pyodbc://?odbc_connect=Server%3Dx%3BPassword%3Dhunter2",
    ):
        assert "hunter2" not in safe_url(url)


# -- connecting, on any database ---------------------------------------------------------
def test_no_argument_shows_the_current_connection(ip, db_url):
    run(ip, "%%model\n" + SEED_MODEL)
    out = run(ip, "%orm_connect")
    assert f"connected to {safe_url(db_url)}" in out.text
    assert "models: User" in out.text
    assert PASSWORD not in out.text + out.html


def test_connect_creates_the_models_tables_and_replaces_engine_and_session(ip, tmp_path):
    run(ip, "%%model\n" + SEED_MODEL)
    old_session, old_engine = ip.user_ns["session"], ip.user_ns["engine"]
    path = tmp_path / "course.db"
    out = run(ip, f"%orm_connect sqlite:///{path}")
    assert "CREATE TABLE users" in out.text
    assert f"connected to sqlite:///{path} (sqlite)" in out.text
    assert ip.user_ns["session"] is not old_session
    assert ip.user_ns["engine"] is not old_engine
    assert str(ip.user_ns["engine"].url) == f"sqlite:///{path}"
    out = run(ip, "%orm_add User(name='kept') --flush")
    assert "kept" in out.text


def test_a_file_database_persists_across_kernel_restarts(ip, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'course.db'}"
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, f"%orm_connect {url}")
    run(ip, "%orm_add User(name='survivor')\n%orm_commit")
    # a kernel restart: the extension comes back from ORM_MAGIC_URL with nothing in memory
    monkeypatch.setenv("ORM_MAGIC_URL", url)
    ip.run_line_magic("unload_ext", "orm_magic")
    ip.reset(new_session=False)
    ip.run_line_magic("load_ext", "orm_magic")
    out = run(ip, "%%model\n" + SEED_MODEL)
    assert "CREATE TABLE" not in out.text  # it exists already
    assert "survivor" in out.text


def test_config_url_is_read_on_load_before_the_environment(shell, tmp_path, monkeypatch):
    monkeypatch.setenv("ORM_MAGIC_URL", "sqlite://")
    url = f"sqlite:///{tmp_path / 'configured.db'}"
    shell.reset(new_session=False)
    shell.run_line_magic("config", f"OrmMagic.url = {url!r}")
    try:
        shell.run_line_magic("load_ext", "orm_magic")
        assert shell._orm_magic.workspace.url == url
    finally:
        shell.run_line_magic("unload_ext", "orm_magic")
        del shell.config.OrmMagic["url"]
        shell.reset(new_session=False)


def test_a_bad_url_in_the_environment_is_one_line_on_load(shell, monkeypatch):
    monkeypatch.setenv("ORM_MAGIC_URL", "postgresql+nodriver://u:hunter2@h/db")
    shell.reset(new_session=False)
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("load_ext", "orm_magic")
    assert "unknown database or driver 'postgresql+nodriver'" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert not hasattr(shell, "_orm_magic")


@pytest.mark.parametrize(
    "url, message",
    [
        ("nonsense", "not a valid SQLAlchemy URL"),
        ("postgresql+nodriver://u:hunter2@h/db", "unknown database or driver"),
        ("mysql+mysqldb://u:hunter2@localhost/db", "driver for 'mysql+mysqldb' is not installed"),
        ("postgresql+psycopg://u:hunter2@127.0.0.1:1/db", "Connection refused"),
        ("sqlite:////nonexistent/dir/x.db", "unable to open database file"),
    ],
)
def test_a_failed_connect_is_one_line_and_keeps_the_workspace(ip, db_url, url, message):
    play = run(ip, "%%model\n" + SEED_MODEL + "\n")
    assert "users" in play.text
    run(ip, "%orm_add User(name='before') --flush")
    session, workspace = ip.user_ns["session"], ip._orm_magic.workspace
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("orm_connect", url)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert "hunter2" not in str(info.value)
    # still on the old database, with the session and its flushed row
    assert workspace.url == db_url
    assert ip.user_ns["session"] is session
    assert "before" in run(ip, "%orm_show User").text


# -- PostgreSQL: a real server ----------------------------------------------------------
@pytest.mark.postgres
@only_on("sqlite")
def test_connect_from_sqlite_to_postgresql_masks_the_password(ip, pg_url):
    run(ip, "%%model\n" + SEED_MODEL)
    out = run(ip, f"%orm_connect {pg_url}")
    assert "CREATE TABLE users" in out.text
    assert "id SERIAL NOT NULL" in out.text
    assert "postgres:***@127.0.0.1" in out.text
    assert "(postgresql)" in out.text
    assert PASSWORD not in out.text + out.html + out.stdout
    out = run(ip, "%orm_add User(name='pg') --flush")
    assert "RETURNING users.id" in out.text  # PostgreSQL's own statement, as sent
    assert "%(name)s" in out.text


@pytest.mark.postgres
@only_on("sqlite")
def test_wrong_credentials_are_one_line(ip, pg_server, pg_database):
    url = pg_server.url(pg_database, password="not-the-password")
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("orm_connect", url)
    assert 'password authentication failed for user "postgres"' in str(info.value)
    assert "not-the-password" not in str(info.value)
    assert ip._orm_magic.workspace.url != url


@pytest.mark.mariadb
@only_on("sqlite")
def test_connect_from_sqlite_to_mariadb_masks_the_password(ip, mariadb_server):
    url = mariadb_server.url(mariadb_server.create_database())
    run(ip, "%%model\n" + SEED_MODEL)
    out = run(ip, f"%orm_connect {url}")
    assert "CREATE TABLE users" in out.text and "AUTO_INCREMENT" in out.text
    assert "orm_magic:***@127.0.0.1" in out.text and "(mysql)" in out.text
    assert MARIADB_PASSWORD not in out.text + out.html + out.stdout
    out = run(ip, "%orm_add User(name='maria') --flush")
    assert "INSERT INTO users (name, fullname, nickname) VALUES (%(name)s" in out.text


@pytest.mark.mariadb
@only_on("sqlite")
def test_wrong_credentials_on_mariadb_are_one_line(ip, mariadb_server, mariadb_database):
    url = mariadb_server.url(mariadb_database, password="not-the-password")
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("orm_connect", url)
    assert "Access denied for user 'orm_magic'@'127.0.0.1'" in str(info.value)
    assert "(MySQL error 1045)" in str(info.value)
    assert "not-the-password" not in str(info.value)
    assert ip._orm_magic.workspace.url != url


@only_on("postgresql", "mariadb")
def test_server_restart_reconnects_and_says_so(ip, request):
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, "%orm_add User(name='ann_kept')\n%orm_commit")
    server(request).restart()  # every connection in the pool is now dead
    out = run(ip, "%orm_show User")
    assert "re-established (pool_pre_ping)" in out.text
    assert "ann_kept" in out.text
    out = run(ip, "%orm_add User(name='after') --flush")
    assert "after" in out.text
    assert "re-established" not in out.text  # said once


@only_on("postgresql", "mariadb")
def test_reset_on_a_server_needs_yes_and_drops_only_the_models_tables(ip, db_url):
    run(ip, "%%model\n" + SEED_MODEL)
    other = create_engine(db_url)
    with other.begin() as conn:
        conn.execute(text("CREATE TABLE not_ours (id integer)"))
    try:
        with pytest.raises(UsageError, match=r"drops the tables users on .*--yes"):
            ip.run_line_magic("orm_reset", "")
        assert "users" in ip._orm_magic.workspace.tables()
        out = run(ip, "%orm_reset --yes")
        assert "DROP TABLE users" in out.text
        assert set(inspect(other).get_table_names()) == {"not_ours"}
    finally:
        other.dispose()


@only_on("sqlite")
def test_reset_in_memory_needs_no_yes(ip):
    run(ip, "%%model\n" + SEED_MODEL)
    out = run(ip, "%orm_reset")
    assert "a fresh database" in out.text


@only_on("postgresql")
def test_display_survives_an_aborted_transaction(ip):
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, "%orm_add User(name='doomed_row') --flush")
    # plain code fails inside the session's transaction: PostgreSQL now
    # refuses every statement until a rollback
    failed = run(ip, "from sqlalchemy import text\nsession.execute(text('SELECT nope'))", ok=False)
    assert type(failed.result.error_in_exec.orig).__name__ == "UndefinedColumn"
    shown = run(ip, "%orm_show User")
    assert "current transaction is aborted" in shown.text
    out = run(ip, "%orm_add User(name='recovered') --flush")
    assert "recovered" in out.text
    assert "doomed_row" not in out.text  # the failed transaction's rows went with the rollback
    assert "rows flushed but not committed undone" in out.text


@only_on("postgresql", "mariadb")
def test_server_restart_inside_a_transaction_is_one_line_then_recovers(ip, request):
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, "%orm_add User(name='ann_kept')\n%orm_commit")
    run(ip, "%orm_add User(name='flushed only') --flush")
    server(request).restart()  # the session's own connection dies with its transaction
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("orm_add", "User(name='next') --flush")
    assert "\n" not in str(info.value)
    assert "rolled back" in str(info.value)
    out = run(ip, "%orm_show User")
    assert "ann_kept" in out.text
    assert "flushed only" not in out.text
    assert "next" not in out.text


@only_on("sqlite")
def test_connect_says_what_the_old_session_discarded(ip, tmp_path):
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, "%orm_add User(name='never committed')")
    out = run(ip, f"%orm_connect sqlite:///{tmp_path / 'other.db'}")
    assert "the previous session was closed: 1 pending object discarded (User)" in out.text
    assert "never committed" not in out.text


def open_transactions_of_others(engine) -> int:
    """How many other sessions hold a transaction open, as the server sees it."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            query = (
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state = 'idle in transaction'"
            )
        else:  # InnoDB lists a transaction once it has read or written
            time.sleep(0.2)  # the list is a cache, refreshed at most every 0.1 s
            query = (
                "SELECT count(*) FROM information_schema.innodb_trx "
                "WHERE trx_mysql_thread_id <> CONNECTION_ID()"
            )
        return conn.execute(text(query)).scalar_one()


@only_on("postgresql", "mariadb")
def test_displays_leave_no_transaction_open_on_the_server(ip, db_url):
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, "%orm_add User(name='a')\n%orm_commit")
    run(ip, "%orm_show")
    run(ip, "session.get(User, 1)\nsession.commit()")
    observer = create_engine(db_url)
    try:
        assert open_transactions_of_others(observer) == 0
        run(ip, "%orm_add User(name='b') --flush")  # now the session holds one, as it should
        assert open_transactions_of_others(observer) == 1
    finally:
        observer.dispose()


@only_on("sqlite")
def test_a_server_that_never_answers_times_out(ip, monkeypatch):
    monkeypatch.setattr("orm_magic.core.engine.CONNECT_TIMEOUT", 2)  # libpq's least
    with socket.socket() as silent:  # accepts TCP, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        # without the timeout this would wait for ever; closing the socket
        # later makes that a failure instead of a hang
        guard = threading.Timer(8, silent.close)
        guard.start()
        try:
            with pytest.raises(UsageError) as info:
                ip.run_line_magic(
                    "orm_connect", f"postgresql+psycopg://u:hunter2@127.0.0.1:{port}/db"
                )
        finally:
            guard.cancel()
    assert "timeout" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert ip._orm_magic.workspace.url == "sqlite://"


@only_on("postgresql")
def test_a_failure_inside_a_savepoint_rolls_back_only_the_savepoint(ip):
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, "%orm_add User(name='outer') --flush")
    run(ip, "from sqlalchemy import text\nnested = session.begin_nested()")
    run(ip, "session.execute(text('SELECT no_such_column FROM users'))", ok=False)
    out = run(ip, "%orm_add User(name='after') --flush")
    assert "ROLLBACK TO SAVEPOINT" in out.text and "\nROLLBACK\n" not in out.text + "\n"
    run(ip, "%orm_commit")
    names = run(ip, "print(sorted(u.name for u in session.query(User)))").stdout
    assert names.strip() == "['after', 'outer']"
