"""SQLAlchemy's own documentation pages, run through orm_magic and compared with plain SQLAlchemy.

Each page (see tutorial_steps.py) runs in three forms: as magics, as plain
cells on the workspace's ``session``, and verbatim with the page's own
``Session(engine)`` on the workspace's ``engine``. Each is compared, step by
step, with plain SQLAlchemy running the same code on an engine made the plain
way: the statements sent and their parameters (BEGIN, COMMIT and ROLLBACK
included), what was printed, the type of each error, and the rows left in
every table. Then the bugs of issue 13, each on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy.engine import make_url

from . import mariadb, pg
from .differential import Run, Step, assert_same_run, run_plain, run_shell
from .tutorial_steps import IMPORTS, PAGES

FORMS = ["magic", "plain", "page"]


# -- databases: the workspace's, and plain SQLAlchemy's beside it ---------------------
@pytest.fixture(scope="module")
def pg_plain_database(pg_server: pg.PostgresServer) -> str:
    """A second database on the test server, for plain SQLAlchemy's runs."""
    return pg_server.create_database()


@pytest.fixture(scope="module")
def mariadb_plain_database(mariadb_server: mariadb.MariaDBServer) -> str:
    """A second database on the MariaDB server, for plain SQLAlchemy's runs."""
    return mariadb_server.create_database()


@pytest.fixture(
    params=[
        "memory",
        "file",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def urls(request: pytest.FixtureRequest, tmp_path) -> tuple[str, str]:
    """(the workspace's URL, plain SQLAlchemy's URL): two empty databases of one kind."""
    if request.param == "memory":
        return "sqlite://", "sqlite://"  # each engine has a database of its own
    if request.param == "file":
        return f"sqlite:///{tmp_path / 'workspace.db'}", f"sqlite:///{tmp_path / 'plain.db'}"
    if request.param == "mariadb":
        maria: mariadb.MariaDBServer = request.getfixturevalue("mariadb_server")
        plain = request.getfixturevalue("mariadb_plain_database")
        maria.empty_database(plain)
        return request.getfixturevalue("mariadb_empty_url"), maria.url(plain)
    server: pg.PostgresServer = request.getfixturevalue("pg_server")
    plain = request.getfixturevalue("pg_plain_database")
    server.empty_database(plain)
    return request.getfixturevalue("pg_url"), server.url(plain)


@pytest.fixture
def ws(
    shell: InteractiveShell, urls: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[InteractiveShell]:
    """The shell with orm_magic loaded on the workspace's URL, as the ``ip`` fixture does."""
    monkeypatch.setenv("ORM_MAGIC_URL", urls[0])
    shell.reset(new_session=False)
    shell.run_line_magic("load_ext", "orm_magic")
    yield shell
    shell.run_line_magic("unload_ext", "orm_magic")
    shell.reset(new_session=False)


def compare(ws: InteractiveShell, urls: tuple[str, str], steps: list[Step], form: str) -> None:
    """Run ``steps`` in orm_magic's shell and with plain SQLAlchemy; they must agree."""
    observed = run_shell(ws, steps, form)
    expected = run_plain(urls[1], steps, form)
    assert_same_run(
        *(same_database_name(run, url) for run, url in zip((observed, expected), urls))
    )


def same_database_name(run: Run, url: str) -> Run:
    """``run`` with its database's name, which MySQL's table checks quote, as ``<db>``.

    The two sides use two databases of one server, whose names differ; in
    ``DESCRIBE `test_2`.`users``` nothing else may.
    """
    database = make_url(url).database
    if not url.startswith("mysql") or not database:
        return run
    name = f"`{database}`."
    for step in run.steps:
        step.sent = [(sql.replace(name, "`<db>`."), parameters) for sql, parameters in step.sent]
    return run


# -- the pages --------------------------------------------------------------------------
#: What the pages map without a length, which MySQL and MariaDB refuse at CREATE TABLE.
NO_LENGTH = {
    f"{name}\n": f"{name} = mapped_column(String(50))\n"
    for name in ("fullname: Mapped[Optional[str]]", "email_address: Mapped[str]")
}
MYSQL_TRAP = (
    "the page maps `fullname: Mapped[Optional[str]]` and `email_address: Mapped[str]`, a VARCHAR"
    " without a length, which MySQL and MariaDB refuse: the page cannot run there as written"
    " (see test_documentation_page_with_string_lengths_on_mariadb); SQLAlchemy says: {}"
)


def refusal_on_mysql(steps: list[Step]) -> str | None:
    """Why SQLAlchemy cannot make the page's tables on MySQL, or None when it can."""
    from sqlalchemy.dialects import mysql
    from sqlalchemy.exc import CompileError
    from sqlalchemy.schema import CreateTable

    models = next(step for step in steps if step.model)
    code = IMPORTS.page + "class Base(DeclarativeBase):\n    pass\n" + (models.plain or "")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    # dont_inherit: not this module's `from __future__ import annotations`
    exec(compile(code, "<page>", "exec", dont_inherit=True), namespace)
    try:
        for table in namespace["Base"].metadata.sorted_tables:
            CreateTable(table).compile(dialect=mysql.dialect())
    except CompileError as exc:
        return str(exc)
    return None


def with_lengths(step: Step) -> Step:
    """``step`` with ``String(50)`` for each string the page maps without a length."""

    def fixed(code: str | None) -> str | None:
        for written, needed in NO_LENGTH.items():
            code = None if code is None else code.replace(written, needed)
        return code

    return dataclasses.replace(
        step, page=fixed(step.page) or "", plain=fixed(step.plain), magic=fixed(step.magic)
    )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("page", list(PAGES))
def test_documentation_page(request, urls, page, form):
    refused = refusal_on_mysql(PAGES[page]) if urls[0].startswith("mysql") else None
    if refused:
        pytest.skip(MYSQL_TRAP.format(refused))
    compare(request.getfixturevalue("ws"), urls, PAGES[page], form)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize(
    "urls", [pytest.param("mariadb", marks=pytest.mark.mariadb)], indirect=True
)
def test_documentation_page_with_string_lengths_on_mariadb(ws, urls, page, form):
    """The page as a MySQL course writes it: ``String(50)`` where the page has no length,
    the fix orm_magic's own line for this trap names; nothing else changed."""
    steps = [with_lengths(step) for step in PAGES[page]]
    assert sum(step != written for step, written in zip(steps, PAGES[page])) == 1
    compare(ws, urls, steps, form)


# -- issue 13, bug by bug -------------------------------------------------------------------
# Each runs as cells in the shell ("magic" form: a step's magic where it has
# one, else its plain code) against plain SQLAlchemy running the plain code.
ITEM = """
class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(30))
"""

SETUP = [
    IMPORTS,
    Step("from sqlalchemy import literal_column, text"),
    Step(ITEM, model=True),
    Step(
        "with Session(engine) as seed:\n"
        "    seed.add_all([Item(id=1, name='a'), Item(id=2, name='b'), Item(id=3, name='c')])\n"
        "    seed.commit()\n"
    ),
]

SHOW_ITEMS = "print(sorted((i.id, i.name) for i in {0}.scalars(select(Item))))"


def test_own_session_delete_then_rollback_keeps_committed_rows(ws, urls):
    # Displays under these cells read a table in which the user's own
    # session has flushed, uncommitted, changes; the rollback must undo them all.
    steps = [
        *SETUP,
        Step("mine = Session(engine)\nmine.delete(mine.get(Item, 1))\nmine.flush()\n"),
        Step("mine.add(Item(id=4, name='d'))\nmine.flush()\n"),
        Step("mine.get(Item, 2).name = 'B'\nmine.flush()\n"),
        Step("mine.rollback()"),
        Step(SHOW_ITEMS.format("mine") + "\nmine.close()\n"),
    ]
    compare(ws, urls, steps, "magic")


def test_engine_connect_while_the_session_has_a_transaction(ws, urls):
    steps = [
        *SETUP,
        Step(
            "session.add(Item(id=5, name='e'))\nsession.flush()\n",
            magic="%orm_add Item(id=5, name='e') --flush",
        ),
        Step(
            "with engine.connect() as conn:\n"
            "    print(conn.execute(text('SELECT count(*) FROM item')).scalar())\n"
        ),
        Step("print(session.in_transaction())"),
        Step("session.commit()", magic="%orm_commit"),
    ]
    compare(ws, urls, steps, "magic")


@pytest.mark.parametrize(
    "query",
    [
        "select(text('nosuchcol')).select_from(Item)",
        "select(literal_column('nosuch'))",
    ],
)
def test_failed_orm_query_leaves_the_transaction_as_plain_sqlalchemy_does(ws, urls, query):
    # The statement fails in the database, not in Python. On SQLite the
    # transaction stays active with the flushed row; on PostgreSQL it is
    # aborted and plain code fails until a rollback.
    steps = [
        *SETUP,
        Step(
            "session.add(Item(id=6, name='f'))\nsession.flush()\n",
            magic="%orm_add Item(id=6, name='f') --flush",
        ),
        Step(f"session.execute({query}).all()", magic=f"%orm_query {query}"),
        Step("print(session.in_transaction())\n" + SHOW_ITEMS.format("session")),
        Step("session.rollback()"),
        Step(SHOW_ITEMS.format("session")),
    ]
    compare(ws, urls, steps, "magic")


DUPLICATE = "session.add(Item(id=1, name='again'))\n"


@pytest.mark.parametrize(
    "failing",
    [
        # as magics: %orm_add --flush rolls back after the failure, as the
        # plain code's own rollback() does
        [
            Step(
                DUPLICATE + "try:\n    session.flush()\nfinally:\n    session.rollback()\n",
                magic="%orm_add Item(id=1, name='again') --flush",
            )
        ],
        # as plain cells, with the rollback a cell of its own
        [Step(DUPLICATE + "session.flush()\n"), Step("session.rollback()")],
    ],
    ids=["magic", "plain"],
)
def test_rollback_after_a_failed_flush_sends_what_plain_sqlalchemy_sends(ws, urls, failing):
    steps = [
        *SETUP,
        *failing,
        Step("session.rollback()", magic="%orm_rollback"),
        Step(SHOW_ITEMS.format("session")),
        Step("session.rollback()", magic="%orm_rollback"),
    ]
    compare(ws, urls, steps, "magic")


# Plain pysqlite (no SAVEPOINT fix) begins its transaction at the first DML
# statement, and a SAVEPOINT outside one would itself be the transaction;
# each scenario flushes an INSERT before its first begin_nested(), so that
# plain SQLAlchemy on a plain engine works as documented.
def test_displays_inside_a_users_own_session_begin_and_savepoints(ws, urls):
    steps = [
        *SETUP,
        Step(
            "with Session(engine) as s, s.begin():\n"
            "    s.add(Item(id=10, name='x'))\n"
            "    s.flush()\n"
            "    %orm_show Item\n"
            "    with s.begin_nested():\n"
            "        s.add(Item(id=11, name='y'))\n"
            "        s.flush()\n"
            "        %orm_show Item\n"
            "    nested = s.begin_nested()\n"
            "    s.add(Item(id=12, name='z'))\n"
            "    s.flush()\n"
            "    %orm_session\n"
            "    nested.rollback()\n"
            "    %orm_show Item\n"
            "    " + SHOW_ITEMS.format("s") + "\n",
            plain="with Session(engine) as s, s.begin():\n"
            "    s.add(Item(id=10, name='x'))\n"
            "    s.flush()\n"
            "    with s.begin_nested():\n"
            "        s.add(Item(id=11, name='y'))\n"
            "        s.flush()\n"
            "    nested = s.begin_nested()\n"
            "    s.add(Item(id=12, name='z'))\n"
            "    s.flush()\n"
            "    nested.rollback()\n"
            "    " + SHOW_ITEMS.format("s") + "\n",
        ),
    ]
    compare(ws, urls, steps, "magic")


def test_savepoints_across_cells_in_a_users_own_session(ws, urls):
    steps = [
        *SETUP,
        Step("s = Session(engine)\nouter = s.begin()\ns.add(Item(id=10, name='x'))\ns.flush()\n"),
        Step("nested = s.begin_nested()\ns.add(Item(id=11, name='y'))\ns.flush()\n"),
        Step("pass", magic="%orm_show Item"),
        Step("nested.rollback()"),
        Step(SHOW_ITEMS.format("s")),
        Step("nested = s.begin_nested()\ns.add(Item(id=12, name='z'))\ns.flush()\n"),
        Step("nested.commit()"),
        Step("pass", magic="%orm_show Item"),
        Step("outer.rollback()"),
        Step(SHOW_ITEMS.format("s") + "\ns.close()\n"),
    ]
    compare(ws, urls, steps, "magic")


@pytest.mark.parametrize("urls", ["memory"], indirect=True)
def test_the_comparison_sees_a_divergence(ws, urls):
    # the harness itself: a flush that plain SQLAlchemy does not do must fail it
    steps = [*SETUP, Step("pass", magic="%orm_add Item(id=7, name='g') --flush")]
    with pytest.raises(AssertionError, match=r"(?s)\+\s+INSERT INTO item.*\(7, 'g'\)"):
        compare(ws, urls, steps, "magic")
