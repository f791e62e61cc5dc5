"""The core magics through a real InteractiveShell."""

from __future__ import annotations

import logging

import pytest
from IPython.core.error import UsageError
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import Session, declarative_base

from orm_magic.core.engine import make_engine

from .conftest import SEED_MODEL, TYPED_MODEL
from .helpers import log_sql, run

SEED_CELLS = [
    "ed_user = User(name='ed', fullname='Ed Jones', nickname='edsnickname')",
    "%orm_add ed_user",
    "ed_user.nickname = 'eddie'",
    "%orm_merge ed_user",
    "%orm_delete ed_user",
    "%orm_commit",
]


#: What the seed's statements look like in each database's own parameter style.
PARAMSTYLE_SQL = {
    "sqlite": {
        "insert": "INSERT INTO users (name, fullname, nickname) VALUES (?, ?, ?)",
        "insert_params": "('ed', 'Ed Jones', 'eddie')",
        "delete": "DELETE FROM users WHERE users.id = ?",
        "update": "UPDATE users SET nickname=? WHERE users.id = ?",
    },
    "postgresql": {
        "insert": "INSERT INTO users (name, fullname, nickname) VALUES "
        "(%(name)s::VARCHAR, %(fullname)s::VARCHAR, %(nickname)s::VARCHAR) RETURNING users.id",
        "insert_params": "{'name': 'ed', 'fullname': 'Ed Jones', 'nickname': 'eddie'}",
        "delete": "DELETE FROM users WHERE users.id = %(id)s::INTEGER",
        "update": "UPDATE users SET nickname=%(nickname)s::VARCHAR "
        "WHERE users.id = %(users_id)s::INTEGER",
    },
    "mysql": {
        "insert": "INSERT INTO users (name, fullname, nickname) VALUES "
        "(%(name)s, %(fullname)s, %(nickname)s)",
        "insert_params": "{'name': 'ed', 'fullname': 'Ed Jones', 'nickname': 'eddie'}",
        "delete": "DELETE FROM users WHERE users.id = %(id)s",
        "update": "UPDATE users SET nickname=%(nickname)s WHERE users.id = %(users_id)s",
    },
}


def expected_sql(ip, key: str) -> str:
    """The seed statement ``key`` as the workspace's database is sent it."""
    return PARAMSTYLE_SQL[ip._orm_magic.workspace.engine.dialect.name][key]


def play_seed(ip, model=SEED_MODEL):
    outputs = [run(ip, "%%model\n" + model)]
    outputs += [run(ip, cell) for cell in SEED_CELLS]
    return outputs


def test_load_puts_workspace_in_namespace(ip):
    for name in ("Base", "session", "engine"):
        assert name in ip.user_ns
    assert ip.user_ns["session"] is ip._orm_magic.workspace.session


def test_load_says_when_it_replaces_a_user_variable(shell):
    shell.reset(new_session=False)
    shell.user_ns["session"] = "mine"
    out = run(shell, "%load_ext orm_magic")
    try:
        assert "`session`" in out.stdout
        assert out.stdout.count("\n") == 1
    finally:
        shell.run_line_magic("unload_ext", "orm_magic")


def test_unload_removes_magics_hooks_and_names(shell):
    shell.reset(new_session=False)
    shell.run_line_magic("load_ext", "orm_magic")
    shell.run_line_magic("unload_ext", "orm_magic")
    assert "orm_add" not in shell.magics_manager.magics["line"]
    assert "model" not in shell.magics_manager.magics["cell"]
    assert "session" not in shell.user_ns
    assert not any(
        getattr(cb, "__self__", None).__class__.__name__ == "Reporter"
        for cb in shell.events.callbacks["post_run_cell"]
    )


def test_reload_ext_gives_a_working_workspace(ip):
    run(ip, "%reload_ext orm_magic")
    out = run(ip, "%%model\n" + SEED_MODEL)
    assert "CREATE TABLE users" in out.text
    post = [cb for cb in ip.events.callbacks["post_run_cell"] if hasattr(cb, "__self__")]
    assert sum(type(cb.__self__).__name__ == "Reporter" for cb in post) == 1


@pytest.mark.parametrize("model", [SEED_MODEL, TYPED_MODEL], ids=["classic", "typed"])
def test_seed_session(ip, model):
    model_out, _, add_out, _, merge_out, delete_out, commit_out = play_seed(ip, model)
    assert "CREATE TABLE users" in model_out.text
    assert "CREATE TABLE users" in model_out.html_text
    assert "no SQL emitted" in add_out.text
    assert "pending" in add_out.text
    assert expected_sql(ip, "insert") in merge_out.text
    assert expected_sql(ip, "insert_params") in merge_out.text
    assert merge_out.result.result.nickname == "eddie"
    assert "marked for deletion" in delete_out.text
    assert expected_sql(ip, "delete") in commit_out.text
    assert "COMMIT" in commit_out.text
    assert "0 rows" in commit_out.text


def test_merge_output_is_the_merged_instance(ip):
    play_seed(ip)
    out = run(ip, "u = User(name='x')\n%orm_merge u")
    assert "<User(name='x'" in repr(out.result.result)


def test_typed_model_with_future_annotations_and_string_references(ip):
    run(ip, "from __future__ import annotations")
    run(
        ip,
        """%%model
class Author(Base):
    __tablename__ = 'authors'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    books: Mapped[list["Book"]] = relationship(back_populates="author")

class Book(Base):
    __tablename__ = 'books'
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey('authors.id'))
    author: Mapped["Author"] = relationship(back_populates="books")
""",
    )
    out = run(ip, "%orm_add Author(name='a', books=[Book(), Book()]) --flush")
    assert "INSERT INTO books" in out.text
    assert "books: 2 rows" in out.text


def test_users_own_declarative_base(ip):
    run(ip, "from sqlalchemy.orm import declarative_base\nMyBase = declarative_base()")
    out = run(
        ip,
        "%%model\nclass Thing(MyBase):\n    __tablename__ = 'things'\n"
        "    id = Column(Integer, primary_key=True)\n",
    )
    assert "CREATE TABLE things" in out.text
    out = run(ip, "%orm_add [Thing(), Thing()] --flush")
    assert "things: 2 rows" in out.text


def test_vocabulary_does_not_override_user_names(ip):
    ip.user_ns["ForeignKey"] = "my key"
    run(ip, "%%model\n" + TYPED_MODEL)
    assert ip.user_ns["ForeignKey"] == "my key"


def test_options_before_or_after_the_expression(ip):
    play_seed(ip)
    before = run(ip, "%orm_add --flush User(name='a b')")
    after = run(ip, "%orm_add [User(name='c'), User(name='d')] --flush")
    assert "INSERT INTO users" in before.text
    assert "INSERT INTO users" in after.text


def test_each_magic_has_help(ip):
    for name in (
        "orm_add",
        "orm_merge",
        "orm_delete",
        "orm_flush",
        "orm_commit",
        "orm_rollback",
        "orm_show",
        "orm_log",
        "orm_reset",
        "orm_connect",
    ):
        doc = ip.magics_manager.magics["line"][name].__doc__
        assert doc and f"%{name}" in doc and len(doc.split("\n\n")) >= 3, name
    assert "Define declarative models" in ip.magics_manager.magics["cell"]["model"].__doc__


# -- the rule: the log equals plain SQLAlchemy's ---------------------------------
class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not str(record.msg).startswith("["):  # "[generated in ...] params" lines
            self.lines.append(record.getMessage().strip())


def plain_sqlalchemy_seed(url: str) -> list[str]:
    # the same engine setup as the workspace's (StaticPool, the pysqlite fix,
    # pool_pre_ping), driven by plain Session calls with echo logging
    engine = make_engine(url)
    # The dialect's one-time first-connect queries (PostgreSQL's
    # `select pg_catalog.version()` ...) run before any call of the session.
    engine.connect().close()
    handler = _Records()
    logger = logging.getLogger("sqlalchemy.engine.Engine")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        Base = declarative_base()

        class User(Base):
            __tablename__ = "users"
            id = Column(Integer, primary_key=True)
            name = Column(String(50))
            fullname = Column(String(50))
            nickname = Column(String(50))

        Base.metadata.create_all(engine)
        session = Session(engine)
        ed_user = User(name="ed", fullname="Ed Jones", nickname="edsnickname")
        session.add(ed_user)
        ed_user.nickname = "eddie"
        session.merge(ed_user)
        session.delete(ed_user)
        session.commit()
        session.add_all([User(name="a"), User(name="b")])
        session.flush()
        session.query(User).all()
        session.rollback()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.WARNING)
        engine.dispose()
    return handler.lines


def test_log_equals_plain_sqlalchemy(ip, db_url):
    play_seed(ip)
    run(ip, "%orm_add [User(name='a'), User(name='b')] --flush")
    run(ip, "session.query(User).all()")
    run(ip, "%orm_rollback")
    shown = log_sql(ip)
    ip._orm_magic.workspace.drop_own_tables()  # plain SQLAlchemy starts on the same empty db
    assert shown == plain_sqlalchemy_seed(db_url)


def test_connection_level_calls_log_as_echo_does(ip):
    # Core connections on the workspace engine, logged by echo on that very
    # engine: the pool's rollback-on-return after a COMMIT is not a ROLLBACK
    # that echo logs, and the recorder must not show one either.
    play_seed(ip)
    handler = _Records()
    logger = logging.getLogger("sqlalchemy.engine.Engine")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        start = len(log_sql(ip))
        run(
            ip,
            "with engine.begin() as conn:\n    conn.exec_driver_sql('SELECT 1')\n"
            "with engine.connect() as conn:\n    conn.exec_driver_sql('SELECT 2')\n"
            "with engine.connect() as conn:\n    conn.exec_driver_sql('SELECT 3')\n"
            "    conn.commit()",
        )
        # two Connections at once; on in-memory SQLite they share one DBAPI
        # connection (StaticPool), and the second one's BEGIN fails there
        run(
            ip,
            "first = engine.connect()\nfirst.exec_driver_sql('SELECT 4')\n"
            "try:\n    with engine.connect() as second:\n"
            "        second.exec_driver_sql('SELECT 5')\n"
            "except Exception:\n    pass\n"
            "first.commit()\nfirst.close()",
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.WARNING)
    shown = log_sql(ip)[start:]
    assert shown == [line for line in handler.lines if line != "BEGIN"]
    assert shown[:9] == [
        "BEGIN (implicit)", "SELECT 1", "COMMIT",
        "BEGIN (implicit)", "SELECT 2", "ROLLBACK",
        "BEGIN (implicit)", "SELECT 3", "COMMIT",
    ]  # fmt: skip
    assert shown[9:11] == ["BEGIN (implicit)", "SELECT 4"] and shown[-1] == "COMMIT"


def test_a_display_between_a_connections_begin_and_commit_is_not_logged(ip):
    play_seed(ip)
    ws = ip._orm_magic.workspace
    start = len(log_sql(ip))
    run(ip, "held = engine.connect()\nheld.exec_driver_sql('SELECT 7')")
    # a display read on a guest connection of its own, while `held` is open
    ws.read_table(ws.tables()["users"], 10)
    run(ip, "held.commit()\nheld.close()")
    assert log_sql(ip)[start:] == ["BEGIN (implicit)", "SELECT 7", "COMMIT"]


def test_closing_the_recorder_restores_the_dialect(ip):
    ws = ip._orm_magic.workspace
    dialect = ws.engine.dialect
    assert {"do_begin", "do_commit", "do_rollback"} <= set(vars(dialect))
    pysqlite_fix = ws.recorder._replaced["do_begin"]
    ws.recorder.close()
    assert not dialect.dispatch.do_execute
    assert vars(dialect).get("do_begin") is pysqlite_fix  # None on PostgreSQL
    assert "do_commit" not in vars(dialect) and "do_rollback" not in vars(dialect)


def test_the_engine_carries_no_connection_events(ip):
    # Any Connection event makes SQLAlchemy dispatch events around every
    # cursor call, 8% of a bulk flush even with listeners that do nothing;
    # the recorder listens on the dialect instead (see capture.py).
    play_seed(ip)
    out = run(ip, "%orm_add [User(name='a'), User(name='b')] --flush")
    assert "INSERT INTO users" in out.text
    engine = ip._orm_magic.workspace.engine
    for name in ("before_cursor_execute", "after_cursor_execute", "begin", "commit", "rollback"):
        assert not getattr(engine.dispatch, name), name
    assert not engine._has_events  # what SQLAlchemy checks per cursor call
    assert engine.dialect.dispatch.do_execute  # the recorder is listening


def test_display_reads_flushed_rows_and_keeps_them(ip):
    play_seed(ip)
    out = run(ip, "%orm_add User(name='kept') --flush")
    assert "kept" in out.text
    # the display neither rolled back nor committed the flushed row
    assert ip.user_ns["session"].in_transaction()
    out = run(ip, "%orm_show User")
    assert "kept" in out.text
    out = run(ip, "%orm_rollback")
    assert "ROLLBACK" in out.text
    assert "kept" not in out.text


def test_display_after_commit_leaves_no_transaction_open(ip):
    play_seed(ip)
    run(ip, "%orm_add User(name='z')")
    run(ip, "%orm_commit")
    run(ip, "%orm_show")
    session = ip.user_ns["session"]
    assert not session.in_transaction()
    assert ip._orm_magic.workspace._session_connection is None


def test_plain_cell_shows_its_sql_once(ip):
    play_seed(ip)
    out = run(ip, "session.get(User, 99)")
    assert len(out.outputs) == 1
    assert "SELECT users.id" in out.text
    mixed = run(ip, "x = User(name='m')\n%orm_add x --flush\nsession.query(User).count()")
    sql = mixed.text
    assert sql.count("INSERT INTO users") == 1
    assert "count(*)" in sql


def test_plain_cell_without_sql_shows_nothing(ip):
    play_seed(ip)
    out = run(ip, "1 + 1")
    assert out.outputs == []


def test_executemany_and_insertmanyvalues_parameters_are_captured(ip):
    play_seed(ip)
    out = run(ip, "%orm_add [User(name=f'n{i}') for i in range(5)] --flush")
    assert "'n0'" in out.text and "'n4'" in out.text
    run(ip, "%orm_commit")
    out = run(ip, "for u in session.query(User).all(): u.nickname = 'k' + u.name\nsession.flush()")
    assert expected_sql(ip, "update") in out.text
    assert "'kn0'" in out.text


def test_orm_log_dataframe(ip):
    play_seed(ip)
    frame = ip.run_line_magic("orm_log", "")
    assert {"statement", "parameters"} <= set(frame.columns)
    assert frame["statement"].iloc[0] == "BEGIN (implicit)"
    assert list(frame["statement"]) == log_sql(ip)


def test_orm_reset_gives_fresh_workspace(ip):
    play_seed(ip)
    old = ip.user_ns["session"]
    run(ip, "%orm_reset --yes")  # --yes: on a server it drops the models' tables
    assert ip.user_ns["session"] is not old
    assert ip._orm_magic.workspace.all_models() == {}


def test_config_displaylimit_bounds_with_limit(ip):
    play_seed(ip)
    run(ip, "%config OrmMagic.displaylimit = 3")
    run(ip, "%orm_add [User(name=f'u{i}') for i in range(25)]")
    out = run(ip, "%orm_commit")
    table = out.text.split("-- users: ")[1]
    assert table.startswith("first 3 of 25 rows")
    assert "u2" in table and "u3" not in table
    assert "LIMIT" not in out.text  # the display query itself is never shown


def test_echo_false_hides_sql(ip):
    play_seed(ip)
    run(ip, "%config OrmMagic.echo = False")
    out = run(ip, "%orm_add User(name='q') --flush")
    assert "INSERT" not in out.text
    assert "q" in out.text
    assert run(ip, "session.get(User, 1)").outputs == []


# -- errors are one line --------------------------------------------------------------
@pytest.mark.parametrize(
    "line, message",
    [
        ("orm_add nobody", "name 'nobody' is not defined"),
        ("orm_add 'text'", "'str' object is not a mapped instance; define its class with %%model"),
        ("orm_add User", "User is a class, not an instance"),
        ("orm_add", "needs an expression"),
        ("orm_add (", "not a Python expression"),
        ("orm_add [1, 2]", "not a mapped instance"),
        ("orm_show Nope", "unknown model 'Nope'"),
        ("orm_add ed_user --flsh", "unrecognized arguments"),
    ],
)
def test_user_mistakes_are_one_line(ip, line, message):
    play_seed(ip)
    name, _, rest = line.partition(" ")
    with pytest.raises(UsageError, match=None) as info:
        ip.run_line_magic(name, rest)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert run(ip, "%orm_add User(name='still works') --flush").text


def test_model_cell_that_maps_nothing(ip):
    with pytest.raises(UsageError, match="mapped no class"):
        ip.run_cell_magic("model", "", "x = 1")


def test_mistake_in_a_cell_shows_no_traceback(ip):
    play_seed(ip)
    out = run(ip, "%orm_add nobody", ok=False)
    assert "UsageError" in out.stderr
    assert "Traceback" not in out.stderr


def test_orm_log_html_is_left_alone_by_mathjax(ip):
    play_seed(ip)
    run(ip, "%orm_add User(name='$x^2$') --flush")
    frame = ip.run_line_magic("orm_log", "")
    page = frame._repr_html_()
    assert "mathjax_ignore" in page and "tex2jax_ignore" in page
    assert "$x^2$" in page


def test_a_failed_add_flush_names_the_objects_it_just_added(ip):
    run(ip, "%%model\n" + SEED_MODEL)
    run(ip, "%orm_add User(id=1, name='ann') --flush\n%orm_commit")
    out = run(ip, "%orm_add User(id=1, name='dup') --flush", ok=False)
    message = str(out.result.error_in_exec)
    assert "rolled back: 1 pending object discarded (User)" in message
    assert "nothing was pending" not in message
