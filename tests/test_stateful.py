"""Random notebooks with two actors leave the rows plain SQLAlchemy leaves.

A Hypothesis state machine types cells into a real InteractiveShell with
orm_magic loaded, through ``shell.run_cell`` so that orm_magic's display
runs below every cell as in a notebook. The cells mix the magics on the
workspace session (duplicate keys on purpose, dooming the next flush) with a
second actor: the user's own ``other = Session(engine)``, ``engine.connect()``
blocks and ``with Session(engine) as s, s.begin():``, all on the workspace's
engine, and with displays (``%orm_show``, ``%orm_session``, ``%orm_query``,
``%orm_log``).

Every step is replayed on a plain engine with plain SQLAlchemy
(tests/replay.py), on a database of its own of the same kind. After every
step both must agree: the step raised the same error (or none), the
committed rows are equal, and both sessions are in the same transaction
state. It runs on in-memory SQLite, file SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import gc
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine
from sqlalchemy.engine import Engine

from .replay import (
    MODEL,
    Databases,
    FileDatabases,
    MemoryDatabases,
    PlainNotebook,
    PostgresDatabases,
    error_name,
    transaction_state,
)

NAMES = st.sampled_from(["ann", "bob", "cy", "<b>d</b>", "$e$"])

#: Cells that only show something; the plain notebook's equivalent.
DISPLAYS = {
    "%orm_show User": "pass",
    "%orm_session": "pass",
    "%orm_query select(User)": "Out.append(magics.query(select(User)))",
    "%orm_log -n 3": "pass",
}

SETUP = """\
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
other = Session(engine)
"""


class NotebookMachine(RuleBasedStateMachine):
    """One notebook with orm_magic, and its plain replay, step by step.

    A subclass per kind of database sets :attr:`databases`.
    """

    databases: Databases
    #: The ``%%model`` cell; MySQL and MariaDB need a length on the string.
    model: str = MODEL

    def __init__(self) -> None:
        super().__init__()
        self.url, plain_url = self.databases.fresh()
        self.plain = PlainNotebook(self.databases.plain_engine(plain_url))
        self.plain_url = plain_url
        self.shell = InteractiveShell.instance()  # emptied by the last teardown
        os.environ["ORM_MAGIC_URL"] = self.url  # the test's monkeypatch restores it
        self.shell.run_line_magic("load_ext", "orm_magic")
        self.story: list[str] = []
        for setup in (f"%%model\n{self.model}", SETUP):
            failed = self.run_cell(setup)
            if failed:  # Hypothesis tears down only a machine that was made
                self.teardown()
                raise AssertionError(f"the setup cell raised {failed}:\n{setup}")
        self.ids = itertools.count(1)
        self.issued: list[int] = []

    def teardown(self) -> None:
        other = self.shell.user_ns.get("other")
        if other is not None:
            other.close()
        self.shell.run_line_magic("unload_ext", "orm_magic")
        self.shell.reset(new_session=False)
        self.plain.close()

    # -- running a step on both sides --------------------------------------------------------
    def run_cell(self, cell: str) -> str | None:
        """Run a cell as a notebook does; the type name of its error, or None."""
        with capture_output():
            result = self.shell.run_cell(cell, store_history=True)
        return error_name(result.error_before_exec or result.error_in_exec)

    def step(self, cell: str, plain: str | None = None) -> None:
        """Run ``cell`` in the notebook and ``plain`` (default: the same code) in the replay."""
        ours = self.run_cell(cell)
        theirs = self.plain.run(cell if plain is None else plain)
        self.story.append(f"{cell}  # orm_magic: {ours or 'ok'}, plain: {theirs or 'ok'}")
        assert ours == theirs, self.told(f"the last step raised {ours}, plain SQLAlchemy {theirs}")

    def told(self, what: str) -> str:
        steps = "\n".join(f"[{n}] {line}" for n, line in enumerate(self.story, 1))
        return f"{what} ({self.databases.kind})\n{steps}"

    def pick_id(self, data: st.DataObject) -> int:
        """A new id, or one used before (a duplicate key if it was written)."""
        old = st.sampled_from(self.issued) if self.issued else st.nothing()
        chosen = data.draw(st.none() | old)
        if chosen is None:
            chosen = next(self.ids)
            self.issued.append(chosen)
        return chosen

    # -- the workspace session, through magics -------------------------------------------------
    @rule(data=st.data(), name=NAMES, flush=st.booleans())
    def add(self, data: st.DataObject, name: str, flush: bool) -> None:
        new = f"User(id={self.pick_id(data)}, name={name!r})"
        self.step(f"%orm_add {new}" + " --flush" * flush, f"magics.add({new}, flush={flush})")

    @precondition(lambda self: self.issued)
    @rule(data=st.data(), name=NAMES)
    def merge(self, data: st.DataObject, name: str) -> None:
        given = f"User(id={data.draw(st.sampled_from(self.issued))}, name={name!r})"
        # the merged instance lands in Out, which keeps it alive: so does the replay
        self.step(f"%orm_merge {given}", f"Out.append(magics.merge({given}))")

    @precondition(lambda self: self.issued)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        found = f"session.get(User, {data.draw(st.sampled_from(self.issued))})"
        self.step(f"%orm_delete {found}", f"magics.delete(lambda: {found})")

    @rule()
    def flush(self) -> None:
        self.step("%orm_flush", "magics.flush()")

    @rule()
    def commit(self) -> None:
        self.step("%orm_commit", "magics.commit()")

    @rule()
    def rollback(self) -> None:
        self.step("%orm_rollback", "magics.rollback()")

    # A redefinition maps a new User class; objects of the old one that the
    # user's own session still holds have no plain counterpart.
    @precondition(lambda self: not self.plain.other.new and not self.plain.other.identity_map)
    @rule()
    def rerun_model(self) -> None:
        self.step(f"%%model\n{self.model}", "magics.model(engine)")

    # -- the second actor: the user's own sessions and connections --------------------------------
    @rule(data=st.data(), name=NAMES)
    def other_add(self, data: st.DataObject, name: str) -> None:
        self.step(f"other.add(User(id={self.pick_id(data)}, name={name!r}))")

    @rule()
    def other_flush(self) -> None:
        self.step("other.flush()")

    @rule()
    def other_commit(self) -> None:
        self.step("other.commit()")

    @rule()
    def other_rollback(self) -> None:
        self.step("other.rollback()")

    @rule(data=st.data(), name=NAMES, commit=st.booleans())
    def connection_insert(self, data: st.DataObject, name: str, commit: bool) -> None:
        values = f"id={self.pick_id(data)}, name={name!r}"
        self.step(
            "with engine.connect() as conn:\n"
            f"    conn.execute(insert(User.__table__).values({values}))\n"
            + "    conn.commit()\n"
            * commit
        )

    @rule()
    def connection_read(self) -> None:
        self.step(
            "with engine.connect() as conn:\n"
            "    rows = conn.execute(select(User.__table__)).all()\n"
        )

    @rule(data=st.data(), name=NAMES)
    def session_block(self, data: st.DataObject, name: str) -> None:
        self.step(
            "with Session(engine) as s, s.begin():\n"
            f"    s.add(User(id={self.pick_id(data)}, name={name!r}))\n"
        )

    # -- displays ------------------------------------------------------------------------------
    @rule(cell=st.sampled_from(sorted(DISPLAYS)))
    def display(self, cell: str) -> None:
        self.step(cell, DISPLAYS[cell])

    # -- what must hold after every step ----------------------------------------------------------
    @invariant()
    def committed_rows_agree(self) -> None:
        ours = self.databases.committed(self.shell.user_ns["engine"], self.url)
        theirs = self.databases.committed(self.plain.engine, self.plain_url)
        assert ours == theirs, self.told(f"rows: orm_magic {ours}, plain SQLAlchemy {theirs}")

    @invariant()
    def transactions_agree(self) -> None:
        ns = self.shell.user_ns
        ours = transaction_state(ns["session"]), transaction_state(ns["other"])
        theirs = transaction_state(self.plain.session), transaction_state(self.plain.other)
        assert ours == theirs, self.told(
            f"transactions of (session, other): orm_magic {ours}, plain SQLAlchemy {theirs}"
        )


class MariaDBDatabases(Databases):
    """Two databases on the MariaDB test server, emptied before each example.

    Both URLs set ``innodb_lock_wait_timeout=0`` (PyMySQL's ``init_command``),
    so both sides have it: a write that meets a row lock another open
    transaction holds fails at once (error 1205) instead of waiting 50 s in
    this one thread, and that outcome must match like any other error.
    The replay's table is made with ``String(50)``, as the workspace's model
    has it (replay.User's bare ``Mapped[str]`` is a VARCHAR without a length,
    which MariaDB refuses); its ``create_all`` then finds the table and sends no DDL.
    """

    kind = "mariadb"
    OPTIONS = "&init_command=" + quote("SET SESSION innodb_lock_wait_timeout=0")

    def __init__(self, server: Any) -> None:
        self.server = server
        self.names = (server.create_database(), server.create_database())
        self.readers: dict[str, Any] = {}

    def fresh(self) -> tuple[str, str]:
        import pymysql

        from .mariadb import PASSWORD, USER

        self.close()
        urls = []
        for name in self.names:
            self.server.empty_database(name)
            url = self.server.url(name) + self.OPTIONS
            self.readers[url] = pymysql.connect(
                host="127.0.0.1",
                port=self.server.port,
                user=USER,
                password=PASSWORD,
                database=name,
                autocommit=True,
            )
            urls.append(url)
        return urls[0], urls[1]

    def plain_engine(self, url: str) -> Engine:
        engine = create_engine(url)
        users = Table(
            "users",
            MetaData(),
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("name", String(50), nullable=False),
        )
        users.create(engine)
        return engine

    def committed(self, engine: Engine, url: str) -> list[tuple[Any, ...]]:
        # autocommit: each SELECT is its own transaction and sees committed rows only
        with self.readers[url].cursor() as cursor:
            cursor.execute("SELECT id, name FROM users ORDER BY id")
            return [tuple(row) for row in cursor.fetchall()]

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()
        self.readers.clear()

    def drop(self) -> None:
        self.close()
        for name in self.names:
            self.server.drop_database(name)


@contextmanager
def quick_shell(shell: InteractiveShell) -> Iterator[None]:
    """The shell, empty, made cheaper to run hundreds of cells in; restored afterwards.

    Each of these costs more than a whole step: IPython's formatting of a
    traceback (~1 s; one line with ``%xmode Minimal``), the history thread's
    write of every input (~15 ms; inputs are kept in memory until the end),
    and the ``gc.collect()`` of each ``shell.reset`` over every object the
    test run has made (~0.2 s; those are frozen out of its reach).
    """
    history = shell.history_manager
    cache_size, mode = history.db_cache_size, shell.InteractiveTB.mode
    with capture_output():
        shell.run_line_magic("xmode", "Minimal")
    shell.reset(new_session=False)
    history.db_cache_size = 10_000
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        history.db_cache_size = cache_size
        with capture_output():
            shell.run_line_magic("xmode", mode)


SETTINGS = settings(
    max_examples=50,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


#: Examples per kind. The in-memory database explores most (50 examples in
#: about 7 s); a file costs ~20x that per example (139 s for 50 with the suite
#: running beside it: a write lock waited for on every conflict), a server
#: ~10x (DDL on every example), so they run fewer, to keep CI well inside 30 min.
EXAMPLES = {"memory": 50, "file": 20, "postgresql": 20, "mariadb": 10}


# duplicate keys are generated on purpose: SQLAlchemy warns of each conflict
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
@pytest.mark.parametrize(
    "kind",
    [
        "memory",
        "file",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_two_actors_leave_the_rows_plain_sqlalchemy_leaves(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORM_MAGIC_URL", "sqlite://")  # restored after the test
    databases: Databases
    if kind == "memory":
        databases = MemoryDatabases()
    elif kind == "file":
        databases = FileDatabases(tmp_path)
    elif kind == "mariadb":
        databases = MariaDBDatabases(request.getfixturevalue("mariadb_server"))
    else:
        databases = PostgresDatabases(request.getfixturevalue("pg_server"))
    attributes: dict[str, Any] = {"databases": databases}
    if kind == "mariadb":
        attributes["model"] = MODEL.replace(
            "name: Mapped[str]", "name: Mapped[str] = mapped_column(String(50))"
        )
        assert attributes["model"] != MODEL
    try:
        # a class of its own per kind: Hypothesis keeps each one's failures apart
        machine = type(f"NotebookOn{kind.title()}", (NotebookMachine,), attributes)
        with quick_shell(InteractiveShell.instance()):
            run_state_machine_as_test(
                machine, settings=settings(SETTINGS, max_examples=EXAMPLES[kind])
            )
    finally:
        if isinstance(databases, PostgresDatabases | MariaDBDatabases):
            databases.drop()
        else:
            databases.close()
