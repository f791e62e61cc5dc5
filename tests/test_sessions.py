"""Several sessions in one workspace: ``%orm_use``, isolation, short lock waits.

Every test runs through a real shell on in-memory SQLite (which moves to a
temporary file as the second session opens) and on real PostgreSQL and
MariaDB servers. Where MariaDB differs (REPEATABLE READ by default, lock waits
in whole seconds, reads that never wait for a row lock) the test compares
with plain SQLAlchemy on the same server.
Lock tests are bounded: short lock timeouts, and faulthandler ends the
process with every thread's stack if a test hangs anyway.
"""

from __future__ import annotations

import faulthandler
import functools
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select, text
from sqlalchemy.orm import Session

from orm_magic.core.locks import MYSQL
from orm_magic.core.workspace import Workspace

from .helpers import error_name, run

#: Seconds a test of this module may take before faulthandler kills the run.
HANG_LIMIT = 60
#: The lock timeout these tests use, in seconds.
WAIT = 0.3

MODEL = """%%model
class Item(Base):
    __tablename__ = 'items'
    id = Column(Integer, primary_key=True, autoincrement=False)
    name = Column(String(20))
"""


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def db_url(request: pytest.FixtureRequest) -> str:
    """In-memory SQLite, PostgreSQL and MariaDB."""
    if request.param == "sqlite":
        return "sqlite://"
    if request.param == "mariadb":
        return request.getfixturevalue("mariadb_empty_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture(autouse=True)
def never_hang() -> Iterator[None]:
    faulthandler.dump_traceback_later(HANG_LIMIT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def two(ip):
    """A model with one committed row, lock timeout WAIT, sessions main and b (b current)."""
    run(ip, MODEL)
    run(ip, "%orm_add Item(id=1, name='one')\n%orm_commit")
    ip.run_line_magic("config", f"OrmMagic.lock_timeout = {WAIT}")
    run(ip, "%orm_use b")
    return ip


def names(ip, sql: str = "SELECT name FROM items ORDER BY id") -> list[str]:
    """What the current session sees, through plain ``session.execute``."""
    return list(ip.user_ns["session"].scalars(text(sql)))


def failure(ip, source: str) -> str:
    ran = run(ip, source, ok=False)
    error = ran.result.error_in_exec
    assert isinstance(error, UsageError), error
    return str(error)


# -- %orm_use ---------------------------------------------------------------------
def test_the_first_session_is_main_and_session_follows_the_current_one(ip):
    workspace = ip._orm_magic.workspace
    main = ip.user_ns["session"]
    assert workspace.sessions.current.name == "main" and main is workspace.session
    run(ip, "%orm_use b")
    assert ip.user_ns["session"] is workspace.session is not main
    run(ip, "%orm_use main")
    assert ip.user_ns["session"] is main


def test_orm_use_lists_each_session_with_its_transaction_and_counts(two):
    run(two, "%orm_add Item(id=2, name='two')")
    run(two, "%orm_use main")
    run(two, "session.get(Item, 1).name = 'uno'")
    listing = run(two, "%orm_use").text
    assert "→ main" in listing
    rows = {line.split()[-5]: line.split()[-4:] for line in listing.splitlines()[2:]}
    assert rows["main"] == ["active", "0", "1", "0"]
    assert rows["b"] == ["active", "1", "0", "0"]  # session.add() autobegins, as in SQLAlchemy
    run(two, "%orm_use b\n%orm_rollback")
    assert "none" in run(two, "%orm_use").text.splitlines()[-1]


def test_a_bad_session_name_is_one_line(ip):
    assert "not a session name" in failure(ip, "%orm_use 1st")
    message = failure(ip, "%orm_use a b")
    assert message == (
        "%orm_use: unrecognized arguments: b; give one session name, e.g. %orm_use b"
    )
    assert (
        ip._orm_magic.workspace.sessions.current.name == "main"
        and len(ip._orm_magic.workspace.sessions) == 1
    )


def test_the_list_of_sessions_is_bounded_by_displaylimit_and_keeps_the_current_one(ip):
    ip.run_line_magic("config", "OrmMagic.displaylimit = 3")
    for name in ("b", "c", "d", "e"):
        run(ip, f"%orm_use {name}")
    listing = run(ip, "%orm_use").text
    shown = [line.split()[-5] for line in listing.splitlines()[2:] if line.split()]
    assert shown[:3] == ["main", "b", "e"] and "c" not in shown and "d" not in shown
    assert "3 of 5 sessions (OrmMagic.displaylimit)" in listing


def test_statements_are_labelled_only_once_there_are_two_sessions(ip):
    run(ip, MODEL)
    alone = run(ip, "%orm_add Item(id=1, name='one') --flush")
    assert "[main]" not in alone.text and "orm-magic-session" not in alone.html
    run(ip, "%orm_commit\n%orm_use b")
    report = run(ip, "%orm_add Item(id=2, name='two') --flush")
    assert "[b] BEGIN (implicit)" in report.text and "[b] INSERT INTO items" in report.text
    assert '<span class="orm-magic-session"' in report.html
    run(ip, "%orm_use main")
    plain = run(ip, "session.execute(select(Item)).all()")
    assert "[main] SELECT items.id" in plain.text
    log = ip.run_line_magic("orm_log", "-n 4")
    assert list(log["session"]) == ["b", "b", "main", "main"]


# -- isolation ----------------------------------------------------------------------
def plain_main_after_b_commits(url: str) -> list[list[str]]:
    """What plain SQLAlchemy's main sees on ``url``: the steps of the test below.

    main reads (its transaction begins), b inserts, flushes and commits, main
    reads again, rolls back and reads once more. On a table of its own.
    """

    engine = create_engine(url)
    table = Table("plain_items", MetaData(), Column("id", Integer, primary_key=True),
                  Column("name", String(20)))  # fmt: skip
    try:
        table.create(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"id": 1, "name": "one"}])
        read = select(table.c.name).order_by(table.c.id)
        with Session(engine) as main, Session(engine) as b:
            b.execute(table.insert(), [{"id": 2, "name": "two"}])
            seen = [list(main.scalars(read))]
            b.commit()
            seen.append(list(main.scalars(read)))
            main.rollback()
            seen.append(list(main.scalars(read)))
        table.drop(engine)
    finally:
        engine.dispose()
    return seen


def test_uncommitted_rows_are_invisible_to_the_other_session(two):
    run(two, "%orm_add Item(id=2, name='two') --flush")
    assert names(two) == ["one", "two"]
    shown = run(two, "%orm_use main\n%orm_show Item").text
    assert "two" not in shown and "1 row" in shown
    seen = [names(two)]  # main's transaction begins here
    run(two, "%orm_use b\n%orm_commit\n%orm_use main")
    seen.append(names(two))
    run(two, "%orm_rollback")
    seen.append(names(two))
    workspace = two._orm_magic.workspace
    if workspace.url.startswith("sqlite"):  # WAL: each statement sees the last commit
        assert seen == [["one"], ["one", "two"], ["one", "two"]]
        return
    assert seen == plain_main_after_b_commits(workspace.engine.url.render_as_string(False))
    if workspace.engine.dialect.name == "postgresql":  # READ COMMITTED by default
        assert seen == [["one"], ["one", "two"], ["one", "two"]]
    else:  # InnoDB: REPEATABLE READ by default; main keeps its snapshot until it ends
        assert seen == [["one"], ["one"], ["one", "two"]]


def test_the_in_memory_database_moves_to_a_file_that_unload_removes(ip):
    run(ip, MODEL)
    run(ip, "%orm_add Item(id=1, name='one')\n%orm_commit")
    workspace = ip._orm_magic.workspace
    assert workspace.temporary is None
    if not workspace.url.startswith("sqlite"):  # a server needs no move
        engine = workspace.engine
        run(ip, "%orm_use b")
        assert workspace.temporary is None and workspace.engine is engine
        return
    note = run(ip, "%orm_use b").text
    path = workspace.temporary.path
    assert "moved to a temporary file" in note and path.exists()
    assert ip.user_ns["engine"] is workspace.engine and str(path) in str(workspace.engine.url)
    assert names(ip) == ["one"]  # the committed rows came along
    ip.run_line_magic("unload_ext", "orm_magic")
    assert not path.exists() and not path.parent.exists()
    ip.run_line_magic("load_ext", "orm_magic")


def test_the_temporary_file_is_removed_when_the_interpreter_exits_without_unload(tmp_path):
    # a kernel shut down without %unload_ext: the workspace is never closed
    script = (
        "from orm_magic.core.workspace import Workspace\n"
        "w = Workspace('sqlite://')\n"
        "w.use('b')\n"
        "print(w.temporary.path, flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    path = Path(done.stdout.strip())
    assert path.name == "workspace.db" and path.parent.name.startswith("orm_magic-")
    assert not path.parent.exists()


def test_moving_needs_main_outside_a_transaction(ip):
    run(ip, MODEL)
    run(ip, "%orm_add Item(id=1, name='one') --flush")
    if ip._orm_magic.workspace.url.startswith("sqlite"):
        message = failure(ip, "%orm_use b")
        assert "session 'main' outside a transaction" in message
        assert ip._orm_magic.workspace.sessions.current.name == "main"
    run(ip, "%orm_commit\n%orm_use b")
    assert names(ip) == ["one"]


def test_orm_reset_returns_to_one_session_in_memory(two):
    workspace = two._orm_magic.workspace
    temporary = workspace.temporary
    run(two, "%orm_reset --yes")
    fresh = two._orm_magic.workspace
    assert len(fresh.sessions) == 1 and fresh.temporary is None
    assert two.user_ns["session"] is fresh.session
    if temporary is not None:
        assert not temporary.path.exists()


EVERY_SESSION = (
    "session 'main': 1 modified object reverted (Item); "
    "session 'b': 1 pending object discarded (Item)"
)


def lose_work_in_both(two) -> None:
    """b adds an object, main changes one (its transaction reads the table)."""
    run(two, "%orm_add Item(id=2, name='two')\n%orm_use main")
    run(two, "session.get(Item, 1).name = 'uno'")


def test_orm_reset_names_the_work_every_session_discards(two):
    lose_work_in_both(two)
    started = time.perf_counter()
    out = run(two, "%orm_reset --yes")  # on a server: no session's read lock holds up DROP
    assert time.perf_counter() - started < WAIT + 2
    assert f"the old sessions' work was discarded: {EVERY_SESSION}" in out.text


def test_orm_connect_names_the_work_every_session_discards(two, tmp_path):
    lose_work_in_both(two)
    out = run(two, f"%orm_connect sqlite:///{tmp_path / 'other.db'}")
    assert f"the previous sessions were closed: {EVERY_SESSION}" in out.text
    assert len(two._orm_magic.workspace.sessions) == 1


def test_a_failed_flush_names_the_modified_and_deleted_objects_it_reverted(ip):
    run(ip, MODEL)
    three = "[Item(id=1, name='one'), Item(id=2, name='two'), Item(id=3, name='x')]"
    run(ip, f"session.add_all({three})\n%orm_commit")
    run(ip, "a, b, c = session.scalars(select(Item).order_by(Item.id)).all()")
    run(ip, "a.name = 'uno'\n%orm_delete b")  # no load after: nothing autoflushes
    run(ip, "%orm_add Item(id=3, name='again')")  # row 3 exists: the INSERT fails
    message = failure(ip, "%orm_flush")
    assert message.endswith(
        "rolled back: 1 pending object discarded (Item); 1 modified object reverted (Item); "
        "1 object marked for deletion kept (Item); committed rows are unchanged"
    )
    assert names(ip) == ["one", "two", "x"]  # as plain SQLAlchemy leaves them


def test_with_for_update_on_sqlite_says_that_it_locks_no_rows(ip):
    run(ip, MODEL)
    report = run(ip, "%orm_query select(Item).with_for_update()").text
    if ip._orm_magic.workspace.engine.dialect.name == "sqlite":
        assert "FOR UPDATE" not in report.split("-- warning")[0]
        assert "with_for_update() renders no FOR UPDATE on SQLite" in report
    else:
        assert "FOR UPDATE" in report and "renders no FOR UPDATE" not in report


# -- lock waits ----------------------------------------------------------------------
@pytest.mark.parametrize("value", ["0", "-1", "601"])
def test_lock_timeout_out_of_range_is_refused_in_one_line(ip, caplog, value):
    out = run(ip, f"%config OrmMagic.lock_timeout = {value}")
    shown = [r.getMessage() for r in caplog.records] + out.stderr.splitlines()
    assert set(shown) == {
        f"OrmMagic.lock_timeout must be a number of seconds above 0 and at most 600, "
        f"not {float(value)!r}"
    }
    assert ip._orm_magic.lock_timeout == ip._orm_magic.workspace.lock_timeout.seconds == 3.0


def lock_timeout_setting(conn) -> object:
    """The lock timeout the connection has, as its database says it."""
    if conn.dialect.name == "sqlite":
        return conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    if conn.dialect.name in MYSQL:  # row locks, and table and metadata locks
        both = "SELECT @@innodb_lock_wait_timeout, @@lock_wait_timeout"
        return tuple(conn.exec_driver_sql(both).one())
    return conn.exec_driver_sql("SHOW lock_timeout").scalar()


def test_lock_timeout_is_set_on_each_connection(two):
    run(two, "%orm_add Item(id=2, name='two') --flush")
    conn = two._orm_magic.workspace.sessions.current.connection
    # MySQL counts whole seconds, at least one
    expected = {"sqlite": WAIT * 1000, "postgresql": f"{int(WAIT * 1000)}ms"}
    assert lock_timeout_setting(conn) == expected.get(conn.dialect.name, (1, 1))
    two.run_line_magic("config", "OrmMagic.lock_timeout = 2.5")  # inside b's transaction
    assert conn is two._orm_magic.workspace.sessions.current.connection
    expected = {"sqlite": 2500, "postgresql": "2500ms"}
    assert lock_timeout_setting(conn) == expected.get(conn.dialect.name, (3, 3))


def test_a_write_waits_for_the_lock_timeout_then_names_the_holder(two):
    run(two, "%orm_add Item(id=2, name='two') --flush")  # b holds the write lock
    run(two, "%orm_use main")
    started = time.perf_counter()
    if two._orm_magic.workspace.engine.dialect.name == "sqlite":
        message = failure(two, "%orm_add Item(id=3, name='three') --flush")
        assert "SQLite locks the whole database for writing" in message
    else:  # PostgreSQL locks rows: wait for the row b changed
        run(two, "session.get(Item, 1)")
        run(two, "%orm_use b\nsession.get(Item, 1).name = 'uno'\n%orm_flush\n%orm_use main")
        started = time.perf_counter()
        message = failure(two, "session.get(Item, 1).name = 'one!'\n%orm_flush")
    waited = time.perf_counter() - started
    assert WAIT <= waited < WAIT + 2
    if two._orm_magic.workspace.engine.dialect.name in MYSQL:  # InnoDB waits whole seconds
        assert waited >= 1 and "waited 1 s (OrmMagic.lock_timeout, in whole seconds" in message
    else:
        assert f"waited {WAIT:g} s (OrmMagic.lock_timeout)" in message
    assert "session 'b' holds" in message and "commit or roll back session 'b'" in message
    assert "\n" not in message
    # both sessions stay usable: b commits, main carries on
    run(two, "%orm_use b\n%orm_commit\n%orm_use main")
    run(two, "%orm_add Item(id=4, name='four')\n%orm_commit")
    assert names(two)[-1] == "four"


@pytest.mark.mariadb
@pytest.mark.parametrize("db_url", ["mariadb"], indirect=True)
def test_on_mariadb_a_row_lock_wait_is_bounded_and_names_the_holder(two):
    """InnoDB waits 50 s by default; lock_timeout bounds it, in whole seconds there."""
    run(two, "%orm_add Item(id=2, name='two') --flush")
    conn = two._orm_magic.workspace.sessions.current.connection
    assert conn.exec_driver_sql("SELECT @@innodb_lock_wait_timeout").scalar() == 1
    run(two, "session.get(Item, 1).name = 'uno'\n%orm_flush\n%orm_use main")
    started = time.perf_counter()
    message = failure(two, "session.get(Item, 1).name = 'one!'\n%orm_flush")
    assert 1 <= time.perf_counter() - started < 1 + 2
    assert "waited 1 s (OrmMagic.lock_timeout, in whole seconds on MySQL)" in message
    assert "a lock that session 'b' holds" in message
    assert "commit or roll back session 'b'" in message and "\n" not in message
    run(two, "%orm_use b\n%orm_commit\n%orm_use main")
    run(two, "%orm_rollback\n%orm_add Item(id=4, name='four')\n%orm_commit")
    assert names(two) == ["uno", "two", "four"]


@pytest.mark.parametrize("seconds", [0.2, 0.6])
def test_a_changed_lock_timeout_applies_to_a_transaction_already_open(two, seconds):
    run(two, "%orm_add Item(id=2, name='two') --flush")
    run(two, "%orm_use main")
    run(two, "session.execute(select(Item)).all()")  # main's transaction is open
    two.run_line_magic("config", f"OrmMagic.lock_timeout = {seconds}")
    started = time.perf_counter()
    if two._orm_magic.workspace.engine.dialect.name == "sqlite":
        failure(two, "%orm_add Item(id=3, name='three') --flush")
    else:
        run(two, "%orm_use b\nsession.get(Item, 1).name = 'uno'\n%orm_flush\n%orm_use main")
        started = time.perf_counter()
        failure(two, "session.get(Item, 1).name = 'one!'\n%orm_flush")
    assert seconds <= time.perf_counter() - started < seconds + 2


def test_a_display_shows_what_it_can_and_names_the_session_that_locks_the_table(two):
    if two._orm_magic.workspace.engine.dialect.name == "sqlite":
        # WAL: a reader never waits for the writer; main sees the committed row
        run(two, "%orm_add Item(id=2, name='two') --flush")
        shown = run(two, "%orm_use main\n%orm_show Item").text
        assert "1 row" in shown and "two" not in shown
        return
    if two._orm_magic.workspace.engine.dialect.name in MYSQL:
        # InnoDB reads a snapshot and waits for no row lock, here as in plain SQLAlchemy
        lock = "session.scalars(select(Item).where(Item.id == 1).with_for_update()).one()"
        run(two, f"{lock}.name = 'uno'\n%orm_flush")
        started = time.perf_counter()
        shown = run(two, "%orm_use main\n%orm_show Item").text
        assert time.perf_counter() - started < 1  # under the 1 s a display may wait
        assert "1 row" in shown and "one" in shown and "uno" not in shown
        assert "lock timeout" not in shown
        plain = Session(create_engine(two._orm_magic.workspace.engine.url))
        try:
            assert list(plain.scalars(text("SELECT name FROM items"))) == ["one"]
        finally:
            plain.close()
            plain.get_bind().dispose()
        assert two._orm_magic.workspace.sessions.get("b").transaction_state() == "active"
        return
    lock = "LOCK TABLE items IN ACCESS EXCLUSIVE MODE"
    run(two, f"from sqlalchemy import text\nsession.execute(text({lock!r}))")
    shown = run(two, "%orm_use main\n%orm_show Item").text
    assert "lock timeout" in shown and "session 'b' holds a lock on it" in shown
    assert two._orm_magic.workspace.sessions.get("b").transaction_state() == "active"


# -- version conflicts ---------------------------------------------------------------
VERSIONED = """%%model
class Doc(Base):
    __tablename__ = 'docs'
    id = Column(Integer, primary_key=True, autoincrement=False)
    body = Column(String(20))
    version = Column(Integer, nullable=False)
    __mapper_args__ = {'version_id_col': version}
"""


@functools.cache
def plain_sqlalchemy_detects_a_stale_row_on_sqlite() -> bool:
    """Whether plain SQLAlchemy's two sessions on a SQLite file see a version conflict.

    SQLAlchemy 2.0.0 does not (it warns that versioning cannot be verified and
    overwrites); orm_magic then does what it does, and the tests below skip.
    """
    from sqlalchemy import create_engine, update
    from sqlalchemy.orm import DeclarativeBase, Session

    class PlainBase(DeclarativeBase):
        pass

    class PlainDoc(PlainBase):
        __tablename__ = "docs"
        id = Column(Integer, primary_key=True, autoincrement=False)
        version = Column(Integer, nullable=False)
        __mapper_args__ = {"version_id_col": version}

    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/plain.db")
        PlainBase.metadata.create_all(engine)
        with Session(engine) as setup:
            setup.add(PlainDoc(id=1))
            setup.commit()
        with Session(engine) as mine, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = mine.get(PlainDoc, 1)
            with engine.begin() as theirs:
                theirs.execute(update(PlainDoc.__table__).values(version=2))
            doc.version = 3
            try:
                mine.flush()
            except Exception as exc:  # which one is the question
                return type(exc).__name__ == "StaleDataError"
            finally:
                engine.dispose()
        return False


@pytest.fixture
def versioned(ip):
    if ip._orm_magic.workspace.engine.dialect.name == "sqlite" and not (
        plain_sqlalchemy_detects_a_stale_row_on_sqlite()
    ):
        pytest.skip("this SQLAlchemy does not verify versions on SQLite, plain or not")
    return ip


def test_a_version_conflict_is_one_line_naming_the_object_and_both_versions(versioned):
    ip = versioned
    run(ip, VERSIONED)
    run(ip, "%orm_add Doc(id=1, body='draft')\n%orm_commit")
    run(ip, "%orm_use b\nmine = session.get(Doc, 1)\n%orm_use main")
    run(ip, "theirs = session.get(Doc, 1)\ntheirs.body = 'main was here'\n%orm_commit")
    run(ip, "%orm_use b\nmine.body = 'b was here'")
    message = failure(ip, "%orm_flush")
    assert message.startswith("%orm_flush: StaleDataError: Doc(id=1) was changed by another")
    assert "this session expected version 1, the database has version 2" in message
    assert (
        "this session's change to it is discarded — rolled back: 1 modified object "
        "reverted (Doc)" in message
    )
    assert "\n" not in message
    assert ip.user_ns["mine"].body == "main was here"  # expired by the rollback, reloaded


def test_a_deleted_row_is_named_as_gone(versioned):
    ip = versioned
    run(ip, VERSIONED)
    run(ip, "%orm_add Doc(id=1, body='draft')\n%orm_commit")
    run(ip, "%orm_use b\nmine = session.get(Doc, 1)\n%orm_use main")
    run(ip, "%orm_delete session.get(Doc, 1)\n%orm_commit")
    run(ip, "%orm_use b\nmine.body = 'b was here'")
    message = failure(ip, "%orm_commit")
    assert "expected version 1, the database no longer has the row" in message


# -- the notebook's PostgreSQL lessons, run on the server ---------------------------------
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "06_two_sessions.ipynb"


def notebook_cell(cell_id: str) -> str:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return next("".join(c["source"]) for c in cells if c.get("id") == cell_id)


def pg_lessons() -> list[str]:
    """The ```python blocks of the notebook's PostgreSQL section, as typed there."""
    return re.findall(r"```python\n(.*?)```", notebook_cell("06-text-9"), re.S)


#: The notebook's model, with a length for ``owner``: MariaDB has no VARCHAR without one.
MARIADB_ACCOUNT = ("owner: Mapped[str]\n", "owner: Mapped[str] = mapped_column(String(50))\n")


@pytest.fixture(
    params=[
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def server_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each real server: PostgreSQL, MariaDB."""
    return request.getfixturevalue(
        "pg_url" if request.param == "postgresql" else "mariadb_empty_url"
    )


@pytest.fixture
def server_ip(shell, server_url: str, monkeypatch: pytest.MonkeyPatch):
    """The shell on a server, with the notebook's accounts: ann 100, bob 50."""
    monkeypatch.setenv("ORM_MAGIC_URL", server_url)
    shell.reset(new_session=False)
    shell.run_line_magic("load_ext", "orm_magic")
    model = notebook_cell("model-account")
    if server_url.startswith("mysql"):
        assert MARIADB_ACCOUNT[0] in model
        model = model.replace(*MARIADB_ACCOUNT)
    run(shell, model)
    run(shell, 'session.add_all([Account(id=1, owner="ann", balance=100), '
        'Account(id=2, owner="bob", balance=50)])\n%orm_commit')  # fmt: skip
    run(shell, "%orm_use b\n%orm_use main")
    yield shell
    shell.run_line_magic("unload_ext", "orm_magic")
    shell.config.pop("OrmMagic", None)
    shell.reset(new_session=False)


def test_notebook_repeatable_read_keeps_its_snapshot_and_read_committed_does_not(server_ip):
    repeatable = pg_lessons()[0]
    run(server_ip, repeatable)  # the block asserts after == before itself
    committed = repeatable.replace("REPEATABLE READ", "READ COMMITTED").replace("999", "555")
    ran = run(server_ip, committed.replace("%orm_rollback", ""), ok=False)
    assert isinstance(ran.result.error_in_exec, AssertionError)
    assert server_ip.user_ns["before"] == 999 and server_ip.user_ns["after"] == 555


def test_notebook_with_for_update_makes_the_other_session_wait_then_one_line(server_ip):
    block = pg_lessons()[1]
    assert "FOR UPDATE" in run(server_ip, block.split("%orm_use b")[0]).text
    started = time.perf_counter()
    message = failure(server_ip, "%orm_use b" + block.split("%orm_use b")[1])
    waited = time.perf_counter() - started
    if server_ip._orm_magic.workspace.engine.dialect.name in MYSQL:  # whole seconds there
        assert 1 <= waited < 3
        assert (
            "waited 1 s (OrmMagic.lock_timeout, in whole seconds on MySQL) for a lock that "
            "session 'main' holds" in message
        )
    else:
        assert 0.5 <= waited < 2.5
        assert "waited 0.5 s (OrmMagic.lock_timeout) for a lock that session 'main' holds" in (
            message
        )
    run(server_ip, "%orm_use main\n%orm_commit\n%orm_use b")
    run(server_ip, "session.get(Account, 1).balance += 1\n%orm_commit")  # b is usable again


# -- deadlocks (a second thread, since a kernel runs one statement at a time) --------------
def test_a_deadlock_is_one_line_naming_both_sessions(server_url: str):
    workspace = Workspace(server_url)
    try:
        metadata = MetaData()
        table = Table("pairs", metadata, Column("id", Integer, primary_key=True))
        metadata.create_all(workspace.engine)
        with workspace.engine.begin() as conn:
            conn.execute(table.insert(), [{"id": 1}, {"id": 2}])
        workspace.lock_timeout.seconds = 5  # PostgreSQL finds the deadlock after 1 s
        sessions = {"main": workspace.session}
        workspace.use("b")
        sessions["b"] = workspace.session
        touch = table.update().values(id=table.c.id)
        sessions["main"].execute(touch.where(table.c.id == 1))
        sessions["b"].execute(touch.where(table.c.id == 2))
        failed: dict[str, BaseException] = {}

        def b_waits_for_main() -> None:
            try:
                sessions["b"].execute(touch.where(table.c.id == 1))
            except Exception as exc:
                failed["b"] = exc

        thread = threading.Thread(target=b_waits_for_main)
        thread.start()
        time.sleep(0.3)  # b waits for main's row 1 before main asks for b's row 2
        try:  # the server cancels one of the two: PostgreSQL b, InnoDB either
            sessions["main"].execute(touch.where(table.c.id == 2))
        except Exception as exc:
            failed["main"] = exc
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert len(failed) == 1, failed
        [(victim, error)] = failed.items()
        [survivor] = set(sessions) - {victim}
        workspace.use(victim)  # in a kernel the failing statement is the current session's
        line = workspace.describe_error(error)
        both = f"deadlock between session '{victim}' and session '{survivor}'"
        assert line.startswith("OperationalError: ")
        assert both in line or "deadlock between session 'main' and session 'b'" in line
        assert f"rolled back the transaction of session '{victim}'" in line
        assert "\n" not in line
        sessions[victim].rollback()
        sessions[survivor].commit()  # both stay usable
        sessions[victim].execute(touch.where(table.c.id == 1))
        sessions[victim].commit()
    finally:
        workspace.close()


# -- who holds the lock, guessed from pg_locks after the timeout (PostgreSQL) --------------
@pytest.fixture
def three_sessions(pg_url: str) -> Iterator[tuple[Workspace, Table, Table]]:
    """Sessions main, b and c; tables items and other, rows 1 and 2; c locks other's row 1."""
    workspace = Workspace(pg_url)
    workspace.lock_timeout.seconds = WAIT
    metadata = MetaData()
    items = Table("items", metadata, Column("id", Integer, primary_key=True), Column("n", Integer))
    other = Table("other", metadata, Column("id", Integer, primary_key=True), Column("n", Integer))
    metadata.create_all(workspace.engine)
    with workspace.engine.begin() as conn:
        conn.execute(items.insert(), [{"id": 1, "n": 0}, {"id": 2, "n": 0}])
        conn.execute(other.insert(), [{"id": 1, "n": 0}, {"id": 2, "n": 0}])
    workspace.use("b")
    workspace.use("c")
    # c, a bystander, holds a transaction id and a row lock elsewhere
    workspace.session.execute(other.update().values(n=1).where(other.c.id == 1))
    workspace.use("main")
    try:
        yield workspace, items, other
    finally:
        workspace.close()


def lock_line(workspace: Workspace, statement) -> str:
    """The one line for ``statement`` of the current session, which must time out."""
    with pytest.raises(Exception) as info:
        workspace.session.execute(statement)
    line = workspace.describe_error(info.value)
    workspace.session.rollback()
    return line


@pytest.mark.postgres
@pytest.mark.parametrize(
    "held",
    [
        "UPDATE items SET n = 1 WHERE id = 1",
        "SELECT * FROM items WHERE id = 1 FOR UPDATE",
        "LOCK TABLE items IN EXCLUSIVE MODE",
    ],
)
@pytest.mark.parametrize(
    "waiting",
    ["UPDATE items SET n = 2 WHERE id = 1", "SELECT * FROM items WHERE id = 1 FOR UPDATE"],
)
def test_the_holder_of_a_lock_is_named_and_no_bystander(three_sessions, held, waiting):
    workspace, items, other = three_sessions
    workspace.session.execute(other.update().values(n=5).where(other.c.id == 2))  # main's own
    workspace.use("b")
    workspace.session.execute(text(held))
    workspace.use("main")
    line = lock_line(workspace, text(waiting))
    assert f"waited {WAIT:g} s (OrmMagic.lock_timeout) for a lock that session 'b' holds" in line
    assert "session 'c'" not in line and "session 'main'" not in line


@pytest.mark.postgres
def test_a_display_names_only_the_session_that_locks_the_table_against_reading(three_sessions):
    workspace, items, _ = three_sessions  # c holds a transaction id: no lock on reading items
    workspace.use("b")
    workspace.session.execute(text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))
    workspace.use("main")
    shown = workspace.read_table(items, 10)
    assert "session 'b' holds a lock on it" in (shown.error or "")
    assert "session 'c'" not in shown.error


# -- MariaDB: who holds the lock, from information_schema.innodb_trx ------------------------
@pytest.mark.mariadb
@pytest.mark.parametrize(
    ("held", "waiting"),
    [
        # a FOR UPDATE only: the driver's flag says b is in no transaction
        ("SELECT * FROM items WHERE id = 1 FOR UPDATE", "UPDATE items SET id = 1 WHERE id = 1"),
        # an INSERT's lock is implicit: b holds no row lock InnoDB counts, but a table lock
        ("INSERT INTO items VALUES (3)", "INSERT INTO items VALUES (3)"),
    ],
)
def test_on_mariadb_the_holder_is_named_and_a_session_that_only_reads_is_not(
    mariadb_empty_url: str, held: str, waiting: str
):
    workspace = Workspace(mariadb_empty_url)
    try:
        metadata = MetaData()
        items = Table("items", metadata, Column("id", Integer, primary_key=True))
        metadata.create_all(workspace.engine)
        with workspace.engine.begin() as conn:
            conn.execute(items.insert(), [{"id": 1}, {"id": 2}])
        workspace.lock_timeout.seconds = WAIT
        workspace.use("b")
        workspace.session.execute(text(held))
        workspace.use("c")  # a transaction that read, and holds no lock
        workspace.session.execute(text("SELECT * FROM items")).all()
        workspace.use("main")
        line = lock_line(workspace, text(waiting))
        assert line.startswith(
            "OperationalError: waited 1 s (OrmMagic.lock_timeout, in whole seconds on MySQL) "
            "for a lock that session 'b' holds; commit or roll back session 'b'"
        )
        assert "session 'c'" not in line
    finally:
        workspace.close()


@pytest.mark.mariadb
def test_on_mariadb_without_process_privilege_every_session_in_a_transaction_is_named(
    mariadb_server, mariadb_empty_url: str
):
    """innodb_trx needs PROCESS, which a course's account may lack: the guess widens."""
    database = mariadb_empty_url.rsplit("/", 1)[1].split("?")[0]
    mariadb_server._admin(
        "CREATE USER IF NOT EXISTS 'learner'@'127.0.0.1' IDENTIFIED BY 'learner-secret'",
        f"GRANT ALL PRIVILEGES ON {database}.* TO 'learner'@'127.0.0.1'",
    )
    url = mariadb_server.url(database, "learner-secret").replace("orm_magic:", "learner:", 1)
    workspace = Workspace(url)
    try:
        metadata = MetaData()
        items = Table("items", metadata, Column("id", Integer, primary_key=True))
        metadata.create_all(workspace.engine)
        with workspace.engine.begin() as conn:
            conn.execute(items.insert(), [{"id": 1}])
        workspace.lock_timeout.seconds = WAIT
        workspace.use("b")
        workspace.session.execute(text("SELECT * FROM items WHERE id = 1 FOR UPDATE")).all()
        workspace.use("c")
        workspace.session.execute(text("SELECT * FROM items")).all()
        workspace.use("main")
        line = lock_line(workspace, text("UPDATE items SET id = 1 WHERE id = 1"))
        assert "for a lock that session 'b' and session 'c' holds" in line
        assert "learner-secret" not in line
    finally:
        workspace.close()
        mariadb_server._admin("DROP USER 'learner'@'127.0.0.1'")


# -- SKIP LOCKED: MariaDB has it since 10.6, as PostgreSQL ----------------------------------
@pytest.mark.parametrize(
    "db_url",
    [
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
    indirect=True,
)
def test_skip_locked_reads_past_the_row_the_other_session_locked_as_plain_sqlalchemy(two):
    dialect = two._orm_magic.workspace.engine.dialect
    if getattr(dialect, "is_mariadb", False) and dialect.server_version_info < (10, 6):
        pytest.skip("MariaDB has SKIP LOCKED since 10.6")
    run(two, "%orm_add Item(id=2, name='two')\n%orm_commit")
    run(two, "session.scalars(select(Item).where(Item.id == 1).with_for_update()).one()")
    run(two, "%orm_use main")
    engine = create_engine(two._orm_magic.workspace.engine.url)
    try:  # plain SQLAlchemy first: main's query below locks what it reads
        with Session(engine) as plain:
            statement = select(two.user_ns["Item"].__table__.c.id).order_by("id")
            theirs = list(plain.scalars(statement.with_for_update(skip_locked=True)))
    finally:
        engine.dispose()
    started = time.perf_counter()
    query = "select(Item).order_by(Item.id).with_for_update(skip_locked=True)"
    report = run(two, f"found = %orm_query {query}").text
    assert time.perf_counter() - started < WAIT + 1  # nobody waited for b's row
    assert "SKIP LOCKED" in report
    assert [item.id for item in two.user_ns["found"]] == theirs == [2]


@pytest.mark.mariadb
@pytest.mark.parametrize("db_url", ["mariadb"], indirect=True)
def test_on_mariadb_a_display_leaves_the_sessions_snapshot_unfixed(two):
    out = run(two, "%orm_add Item(id=2, name='two') --flush")  # b only wrote
    # read beside b at READ UNCOMMITTED (nobody else is writing): b's own row shows
    assert "two" in out.text and "not shown" not in out.html_text
    run(two, "%orm_use main\nsession.get(Item, 1).name = 'uno'\n%orm_commit\n%orm_use b")
    ours = names(two)
    engine = create_engine(two._orm_magic.workspace.engine.url)
    table = Table("plain_items", MetaData(), Column("id", Integer, primary_key=True))
    try:  # the same steps in plain SQLAlchemy: b's first read comes after main's commit
        table.create(engine)
        with Session(engine) as b, Session(engine) as main:
            b.execute(table.insert(), [{"id": 1}])
            main.execute(table.insert(), [{"id": 2}])
            main.commit()
            theirs = list(b.scalars(select(table.c.id).order_by(table.c.id)))
    finally:
        engine.dispose()
    assert theirs == [1, 2]  # plain b sees main's commit
    assert ours == ["uno", "two"]  # ours still sees the snapshot its report took: ['one', 'two']


@pytest.mark.mariadb
@pytest.mark.parametrize("db_url", ["mariadb"], indirect=True)
def test_on_mariadb_while_another_session_writes_a_display_shows_committed_rows(two):
    run(two, "%orm_use main\n%orm_add Item(id=3, name='three') --flush\n%orm_use b")
    out = run(two, "%orm_add Item(id=2, name='two') --flush")  # b only wrote
    assert "this transaction's own changes are not shown" in out.html_text
    assert "three" not in out.text  # main's uncommitted row is never shown to b
    run(two, "%orm_use main\n%orm_commit\n%orm_use b")
    assert names(two) == ["one", "two", "three"]  # b's snapshot was not fixed early


@pytest.mark.mariadb
@pytest.mark.parametrize("db_url", ["mariadb"], indirect=True)
def test_on_mariadb_a_display_in_a_serializable_session_leaves_no_lock(two):
    run(two, "%orm_use main")
    run(two, "session.connection(execution_options={'isolation_level': 'SERIALIZABLE'})")
    report = run(two, "%orm_add Item(id=3, name='three') --flush").html_text
    assert "SERIALIZABLE transaction would leave shared row locks" in report
    engine = create_engine(two._orm_magic.workspace.engine.url)
    try:  # plain SQLAlchemy's main inserts too, and b's UPDATE of row 1 does not wait
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE plain_items (id INT PRIMARY KEY)")
            conn.exec_driver_sql("INSERT INTO plain_items VALUES (1)")
        with Session(engine) as main, Session(engine) as b:
            main.connection(execution_options={"isolation_level": "SERIALIZABLE"})
            main.execute(text("INSERT INTO plain_items VALUES (3)"))
            b.execute(text("SET innodb_lock_wait_timeout = 1"))
            b.execute(text("UPDATE plain_items SET id = 1 WHERE id = 1"))  # no wait
    finally:
        engine.dispose()
    run(two, "%orm_use b")
    run(two, "session.get(Item, 1).name = 'uno'\n%orm_flush")  # waits 1 s, then fails


SERIALIZABLE = "session.connection(execution_options={'isolation_level': 'SERIALIZABLE'})"


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_on_postgres_a_display_in_a_serializable_session_fails_no_commit(two):
    engine = create_engine(two._orm_magic.workspace.engine.url)
    try:  # plain SQLAlchemy: main only inserts, b reads all and updates row 1; both commit
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE plain_items (id INT PRIMARY KEY, name TEXT)")
            conn.exec_driver_sql("INSERT INTO plain_items VALUES (1, 'one')")
        with Session(engine) as main, Session(engine) as b:
            for session in (main, b):
                session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
            main.execute(text("INSERT INTO plain_items VALUES (3, 'three')"))
            b.execute(text("SELECT * FROM plain_items")).all()
            b.execute(text("UPDATE plain_items SET name = 'uno' WHERE id = 1"))
            b.commit()
            main.commit()
    finally:
        engine.dispose()
    run(two, f"%orm_use main\n{SERIALIZABLE}")
    report = run(two, "%orm_add Item(id=3, name='three') --flush").html_text
    assert "SERIALIZABLE transaction would leave predicate locks" in report
    run(two, f"%orm_use b\n%orm_rollback\n{SERIALIZABLE}")
    run(two, "everything = session.scalars(select(Item)).all()")
    run(two, "session.get(Item, 1).name = 'uno'\n%orm_commit")
    run(two, "%orm_use main\n%orm_commit")  # could not serialize access


# -- lost updates: InnoDB's REPEATABLE READ lets one through, PostgreSQL's refuses it -------
def plain_lost_update(url: str) -> tuple[str | None, str]:
    """Plain SQLAlchemy's two sessions on ``url``: main reads in REPEATABLE READ, b
    changes the row and commits, main writes what it read plus '!' and commits.
    Returns main's error (its type name) and the committed name."""
    engine = create_engine(url)
    table = Table("plain_items", MetaData(), Column("id", Integer, primary_key=True),
                  Column("name", String(20)))  # fmt: skip
    error = None
    try:
        table.create(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"id": 1, "name": "one"}])
        with Session(engine) as main, Session(engine) as b:
            main.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            read = main.scalar(select(table.c.name).where(table.c.id == 1))
            b.execute(table.update().values(name="b was here").where(table.c.id == 1))
            b.commit()
            try:
                main.execute(table.update().values(name=f"{read}!").where(table.c.id == 1))
                main.commit()
            except Exception as exc:
                error = type(exc).__name__
        with engine.connect() as conn:
            committed = conn.execute(select(table.c.name)).scalar_one()
    finally:
        engine.dispose()
    return error, committed


@pytest.mark.parametrize(
    "db_url",
    [
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
    indirect=True,
)
def test_a_lost_update_in_repeatable_read_is_as_in_plain_sqlalchemy(two):
    level = "session.connection(execution_options={'isolation_level': 'REPEATABLE READ'})"
    run(two, f"%orm_use main\n{level}\nmine = session.get(Item, 1)")
    run(two, "%orm_use b\nsession.get(Item, 1).name = 'b was here'\n%orm_commit")
    ran = run(two, "%orm_use main\nmine.name = mine.name + '!'\n%orm_commit", ok=False)
    error = ran.result.error_in_exec
    ours = error_name(error)
    run(two, "%orm_rollback")
    committed = names(two)
    url = two._orm_magic.workspace.engine.url.render_as_string(hide_password=False)
    assert (ours, committed[0]) == plain_lost_update(url)
    if two._orm_magic.workspace.engine.dialect.name == "postgresql":
        assert ours == "OperationalError" and committed[0] == "b was here"
        assert "could not serialize access due to concurrent update" in str(error)
    else:  # MariaDB 10.11 checks no snapshot on write: b's change is lost, silently
        assert ours is None and committed[0] == "one!"
