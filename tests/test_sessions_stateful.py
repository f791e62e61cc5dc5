"""Two sessions at random: orm_magic's ``main`` and ``b`` against plain SQLAlchemy's two.

A Hypothesis state machine types cells into a real InteractiveShell with
orm_magic loaded (``%orm_use``, ``%orm_add``, flushes, commits, rollbacks,
reads, conflicting updates of a ``version_id_col`` model, displays). Beside
it, plain SQLAlchemy does the same with two ``Session(engine)`` on two
connections of one engine, on a temporary SQLite file in WAL mode with the
same busy timeout, as a teacher would without orm_magic. After every step:

- the step raised the same error, or none (a lock wait, a duplicate key, a
  version conflict);
- each session is in the same transaction state, holds the same new, dirty
  and deleted counts, and sees the same rows through its own connection;
- the committed rows are equal;
- no step waited longer than the lock timeout allows.

orm_magic rolls back a failed flush at once and a failed session before the
next magic on it, as its README says; the plain side does what a user of
plain SQLAlchemy must do at the same points.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from sqlalchemy import Column, Integer, String, create_engine, event, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Session

from orm_magic.core.dbapi import aborted
from orm_magic.core.executions import DISPLAY_OPTION
from orm_magic.core.locks import MYSQL

from .helpers import error_name

#: The lock timeout of both sides, in seconds; a step may wait once for it.
WAIT = 0.05
#: The longest a step may take on a loaded machine: a hang, not a slow step,
#: fails it (each connection's own timeout is checked exactly after every step).
STEP_LIMIT = 10.0
SESSIONS = ("main", "b")
IDS = st.integers(1, 3)
#: Rows both sides start with, committed: renames and version conflicts need them.
SEED = [(1, "ann"), (2, "bob")]
WORDS = st.sampled_from(["ann", "bob", "cy"])

MODEL = """%%model
class Item(Base):
    __tablename__ = 'items'
    id = Column(Integer, primary_key=True, autoincrement=False)
    name = Column(String(20))
    version = Column(Integer, nullable=False)
    __mapper_args__ = {'version_id_col': version}
"""


class PlainBase(DeclarativeBase):
    pass


class Item(PlainBase):
    __tablename__ = "items"
    id = Column(Integer, primary_key=True, autoincrement=False)
    name = Column(String(20))
    version = Column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}


def state_of(session: Session) -> tuple[str, int, int, int]:
    """Transaction state and unit-of-work counts, read without SQL."""
    transaction = session.get_transaction()
    kind = "none" if transaction is None else "active" if transaction.is_active else "failed"
    return kind, len(session.new), len(session.dirty), len(session.deleted)


def rows_through(conn: Connection | None, engine: Any) -> list[tuple[Any, ...]] | str:
    """The rows a session sees: through its transaction's connection, else committed."""
    query = "SELECT id, name, version FROM items ORDER BY id"
    transaction = None if conn is None or conn.closed else conn.get_transaction()
    if conn is not None and transaction is not None and transaction.is_active:
        if aborted(conn.connection.dbapi_connection):
            return "aborted"  # PostgreSQL refuses every statement until a rollback
        return [tuple(r) for r in conn.exec_driver_sql(query, execution_options=HIDDEN)]
    with engine.connect() as own:
        return [tuple(r) for r in own.exec_driver_sql(query, execution_options=HIDDEN)]


HIDDEN = {DISPLAY_OPTION: True}


class PlainSessions:
    """Two plain sessions as a teacher would set them up: on a temporary SQLite
    file in WAL mode, or on a PostgreSQL or MariaDB database of their own (``url``)."""

    def __init__(self, url: str | None = None, isolation: str | None = None) -> None:
        self.directory = tempfile.TemporaryDirectory(prefix="plain-two-")
        if url is None:
            path = Path(self.directory.name) / "plain.db"
            self.engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": WAIT})
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode = WAL")
        elif url.startswith("mysql"):  # InnoDB counts lock waits in whole seconds
            wait = max(1, math.ceil(WAIT))
            init = f"SET innodb_lock_wait_timeout = {wait}, lock_wait_timeout = {wait}"
            if isolation is not None:
                init += f", tx_isolation = '{isolation}'"
            self.engine = create_engine(url, connect_args={"init_command": init})
        else:
            options = f"-c lock_timeout={int(WAIT * 1000)}"
            self.engine = create_engine(url, connect_args={"options": options})
        PlainBase.metadata.create_all(self.engine)
        with Session(self.engine) as seed, seed.begin():
            seed.add_all([Item(id=key, name=word) for key, word in SEED])
        self.sessions = {name: Session(self.engine) for name in SESSIONS}
        self.connections: dict[str, Connection | None] = dict.fromkeys(SESSIONS)
        for name, session in self.sessions.items():
            self._watch(name, session)
        self.current = "main"
        self.objects: dict[str, Any] = {}

    def _watch(self, name: str, session: Session) -> None:
        @event.listens_for(session, "after_begin")
        def began(session: Session, transaction: Any, connection: Connection) -> None:
            self.connections[name] = connection

        @event.listens_for(session, "after_transaction_end")
        def ended(session: Session, transaction: Any) -> None:
            if transaction.parent is None:
                self.connections[name] = None

    @property
    def session(self) -> Session:
        return self.sessions[self.current]

    def recover(self) -> None:
        """What orm_magic does before a magic: roll back a failed session."""
        transaction = self.session.get_transaction()
        if transaction is not None and not transaction.is_active:
            self.session.rollback()

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()
        self.engine.dispose()
        self.directory.cleanup()


class TwoSessionsMachine(RuleBasedStateMachine):
    """On in-memory SQLite; :class:`TwoSessionsOnPostgres` and
    :class:`TwoSessionsOnMariaDB` set a server."""

    #: the server (PostgreSQL, MariaDB) and two databases on it (ours, plain's); None: SQLite
    server: Any = None
    databases: tuple[str, str] = ("", "")
    #: MariaDB's tx_isolation on every connection of both sides; None: the server's default
    isolation: str | None = None

    def __init__(self) -> None:
        super().__init__()
        plain_url = None
        if self.server is not None:
            for name in self.databases:
                self.server.empty_database(name)
            ours = self.server.url(self.databases[0])
            if self.isolation is not None:  # on each connection, as a user's URL would
                ours += "&init_command=" + quote(f"SET tx_isolation = '{self.isolation}'")
            os.environ["ORM_MAGIC_URL"] = ours
            plain_url = self.server.url(self.databases[1])
        self.shell = InteractiveShell.instance()
        self.shell.reset(new_session=False)
        self.shell.run_line_magic("load_ext", "orm_magic")
        self.shell.run_line_magic("config", f"OrmMagic.lock_timeout = {WAIT}")
        self.cell(MODEL)
        seed = ", ".join(f"Item(id={key}, name={word!r})" for key, word in SEED)
        self.cell(f"%orm_add [{seed}]\n%orm_commit")
        self.cell("%orm_use b")
        self.cell("%orm_use main")
        self.plain = PlainSessions(plain_url, self.isolation)
        if self.isolation is not None:
            level = self.shell._orm_magic.workspace.engine.dialect.default_isolation_level
            assert level == self.isolation.replace("-", " "), level

    # -- running a step on both sides --------------------------------------------------
    def cell(self, source: str) -> str | None:
        with capture_output():
            result = self.shell.run_cell(source)
        return error_name(result.error_before_exec or result.error_in_exec)

    def step(self, source: str, plain: Any, magic: bool = True) -> None:
        started = time.perf_counter()
        ours = self.cell(source)
        assert time.perf_counter() - started < STEP_LIMIT, source
        if magic:
            self.plain.recover()
        try:
            plain()
            theirs = None
        except Exception as exc:
            theirs = type(exc).__name__
            if magic and exc.__class__.__name__ != "UsageError":
                self.plain.recover()  # a failed flush: rolled back at once, as orm_magic does
        assert ours == theirs, (source, ours, theirs)

    # -- rules ---------------------------------------------------------------------------
    @rule(name=st.sampled_from(SESSIONS))
    def use(self, name: str) -> None:
        def plain() -> None:
            self.plain.current = name

        self.step(f"%orm_use {name}", plain, magic=False)

    @rule(key=IDS, word=WORDS, flush=st.booleans())
    def add(self, key: int, word: str, flush: bool) -> None:
        def plain() -> None:
            self.plain.session.add(Item(id=key, name=word))
            if flush:
                self.plain.session.flush()

        option = " --flush" if flush else ""
        self.step(f"%orm_add Item(id={key}, name={word!r}){option}", plain)

    @rule()
    def flush(self) -> None:
        self.step("%orm_flush", lambda: self.plain.session.flush())

    @rule()
    def commit(self) -> None:
        self.step("%orm_commit", lambda: self.plain.session.commit())

    @rule()
    def rollback(self) -> None:
        self.step("%orm_rollback", lambda: self.plain.session.rollback())

    @rule()
    def read(self) -> None:
        """A plain read in the current session (autoflush included), compared."""
        cell = "seen = [(i.id, i.name) for i in session.scalars(select(Item).order_by(Item.id))]"
        plain_seen: list[Any] = []

        def plain() -> None:
            items = self.plain.session.scalars(select(Item).order_by(Item.id))
            plain_seen[:] = [(i.id, i.name) for i in items]

        self.step(cell, plain, magic=False)
        if "seen" in self.shell.user_ns:  # both read (an error was compared by step)
            assert list(self.shell.user_ns["seen"]) == plain_seen
        self.shell.user_ns.pop("seen", None)

    @rule(key=IDS, word=WORDS)
    def rename(self, key: int, word: str) -> None:
        """Change a row and flush: a lock wait, or a conflict on ``version``."""
        cell = (
            f"obj = session.get(Item, {key})\nif obj is not None: obj.name = {word!r}\n"
            "session.flush()"
        )

        def plain() -> None:
            obj = self.plain.session.get(Item, key)
            if obj is not None:
                obj.name = word
            self.plain.session.flush()

        self.step(cell, plain, magic=False)

    @rule(key=IDS, word=WORDS, commit=st.booleans())
    def other_session_writes(self, key: int, word: str, commit: bool) -> None:
        """The other session changes a row (and commits), then back: a lock or a conflict."""
        here = self.plain.current
        self.use("b" if here == "main" else "main")
        self.rename(key, word)
        if commit:
            self.commit()
        self.use(here)

    @rule(display=st.sampled_from(["%orm_show Item", "%orm_use", "%orm_session"]))
    def display(self, display: str) -> None:
        # displays change nothing: not even a failed session is rolled back
        self.step(display, lambda: None, magic=False)

    # -- after every step --------------------------------------------------------------
    @invariant()
    def both_sides_agree(self) -> None:
        workspace = self.shell._orm_magic.workspace
        assert workspace.sessions.current.name == self.plain.current
        for named in workspace.sessions:
            plain = self.plain.sessions[named.name]
            assert state_of(named.session) == state_of(plain), named.name
            if workspace.engine.dialect.name in MYSQL:
                # InnoDB's REPEATABLE READ fixes a transaction's snapshot at its first
                # read: a read here would fix it on both sides and hide a difference
                # (the `read` rule compares what each session sees)
                continue
            ours = rows_through(named.connection, workspace.engine)
            theirs = rows_through(self.plain.connections[named.name], self.plain.engine)
            assert ours == theirs, named.name
        assert rows_through(None, workspace.engine) == rows_through(None, self.plain.engine)

    @invariant()
    def no_connection_waits_longer_than_the_lock_timeout(self) -> None:
        for named in self.shell._orm_magic.workspace.sessions:
            conn = named.connection
            if conn is None or conn.closed or aborted(conn.connection.dbapi_connection):
                continue
            if conn.dialect.name == "sqlite":
                timeout = conn.exec_driver_sql("PRAGMA busy_timeout", execution_options=HIDDEN)
                assert timeout.scalar() == WAIT * 1000, named.name
            elif conn.dialect.name in MYSQL:  # whole seconds; a variable read fixes no snapshot
                both = "SELECT @@innodb_lock_wait_timeout, @@lock_wait_timeout"
                timeout = conn.exec_driver_sql(both, execution_options=HIDDEN)
                assert tuple(timeout.one()) == (1, 1), named.name
            else:
                timeout = conn.exec_driver_sql("SHOW lock_timeout", execution_options=HIDDEN)
                assert timeout.scalar() == f"{int(WAIT * 1000)}ms", named.name

    def teardown(self) -> None:
        self.shell.run_line_magic("unload_ext", "orm_magic")
        self.shell.reset(new_session=False)
        self.plain.close()


class TwoSessionsOnPostgres(TwoSessionsMachine):
    pass


class TwoSessionsOnMariaDB(TwoSessionsMachine):
    # MariaDB's default, REPEATABLE READ, where a display's read must not fix a
    # session's snapshot early (this machine found that it did; see snapshots.py)
    isolation = None


def explore(machine: type[TwoSessionsMachine], examples: int) -> None:
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_two_sessions_agree_with_plain_sqlalchemy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORM_MAGIC_URL", raising=False)
    explore(TwoSessionsMachine, 12)


@pytest.mark.postgres
def test_two_sessions_agree_with_plain_sqlalchemy_on_postgres(
    pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORM_MAGIC_URL", "")  # restored after; the machine sets it per example
    monkeypatch.setattr(TwoSessionsOnPostgres, "server", pg_server)
    databases = (pg_server.create_database(), pg_server.create_database())
    monkeypatch.setattr(TwoSessionsOnPostgres, "databases", databases)
    explore(TwoSessionsOnPostgres, 6)


@pytest.mark.mariadb
def test_two_sessions_agree_with_plain_sqlalchemy_on_mariadb(
    mariadb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """InnoDB's row locks and lock waits (whole seconds), at READ COMMITTED for now.

    A lock wait costs a second on each side, so fewer examples; the walk below
    meets each of MariaDB's differences, REPEATABLE READ's included, every run.
    """
    monkeypatch.setenv("ORM_MAGIC_URL", "")  # restored after; the machine sets it per example
    monkeypatch.setattr(TwoSessionsOnMariaDB, "server", mariadb_server)
    databases = (mariadb_server.create_database(), mariadb_server.create_database())
    monkeypatch.setattr(TwoSessionsOnMariaDB, "databases", databases)
    try:
        explore(TwoSessionsOnMariaDB, 4)
    finally:
        for name in databases:
            mariadb_server.drop_database(name)


class RecordedWalk(TwoSessionsOnMariaDB):
    """The machine on MariaDB, keeping each step's error and each read's rows."""

    isolation = None  # REPEATABLE READ, MariaDB's default

    def __init__(self) -> None:
        self.errors: list[str | None] = []
        self.reads: list[list[Any]] = []
        super().__init__()

    def cell(self, source: str) -> str | None:
        error = super().cell(source)
        self.errors.append(error)
        if source.startswith("seen = ") and error is None:
            self.reads.append(list(self.shell.user_ns["seen"]))
        return error


#: A walk through what MariaDB does differently, each step compared as in the machine.
WALK: list[tuple[Any, ...]] = [
    ("read",),  # main's snapshot is fixed here (REPEATABLE READ)
    ("other_session_writes", 1, "cy", True),
    ("read",),  # still ann: the snapshot, on both sides
    ("rollback",),
    ("read",),  # a new transaction: cy
    ("other_session_writes", 2, "ann", False),  # b holds row 2
    ("rename", 2, "cy"),  # a lock wait of a whole second on both sides
    ("use", "b"),
    ("commit",),
    ("use", "main"),
    ("rollback",),  # the failed plain flush left main awaiting one
    ("read",),
    ("other_session_writes", 1, "bob", True),
    ("rename", 1, "ann"),  # the snapshot's version is stale: a version conflict
    ("add", 3, "cy", True),
    ("display", "%orm_show Item"),
    ("commit",),
]


@pytest.mark.mariadb
def test_a_walk_through_repeatable_read_and_row_locks_agrees_on_mariadb(
    mariadb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same machine on a fixed walk: each of MariaDB's differences is met every run."""
    monkeypatch.setenv("ORM_MAGIC_URL", "")
    monkeypatch.setattr(TwoSessionsOnMariaDB, "server", mariadb_server)
    databases = (mariadb_server.create_database(), mariadb_server.create_database())
    monkeypatch.setattr(TwoSessionsOnMariaDB, "databases", databases)
    walk = RecordedWalk()
    try:
        for rule_name, *arguments in WALK:
            getattr(walk, rule_name)(*arguments)
            walk.both_sides_agree()
            walk.no_connection_waits_longer_than_the_lock_timeout()
    finally:
        walk.teardown()
        for name in databases:
            mariadb_server.drop_database(name)
    assert walk.reads[:3] == [[(1, "ann"), (2, "bob")]] * 2 + [[(1, "cy"), (2, "bob")]]
    assert {"OperationalError", "StaleDataError"} <= set(walk.errors)
