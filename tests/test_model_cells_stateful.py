"""Random notebooks of model cells: failing, edited and renamed cells, many-to-many links.

A Hypothesis state machine types cells into a real InteractiveShell with
orm_magic loaded, Jupyter's cell ids included. It keeps its own account of
what is committed. After every step the committed rows are what it expects
and the workspace is usable: ``%orm_show`` works, and so do ``%orm_add`` and
``%orm_flush`` of a fresh object.
"""

from __future__ import annotations

from collections import Counter
from itertools import count

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from IPython.utils.capture import capture_output

NAMES = st.sampled_from(["ann", "bob", "<i>cy</i>"])
CLASSES = st.sampled_from(["User", "Person", "Member"])


def users_cell(cls: str, extra: bool) -> str:
    return (
        f"%%model\nclass {cls}(Base):\n    __tablename__ = 'users'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        "    name: Mapped[str] = mapped_column(String(50))\n"
        + ("    note: Mapped[str | None] = mapped_column(String(50))\n" if extra else "")
        + f"Someone = {cls}\n"
    )


GROUPS_CELL = """%%model
links = Table(
    'links', Base.metadata,
    Column('user_id', ForeignKey('users.id'), primary_key=True),
    Column('group_id', ForeignKey('groups.id'), primary_key=True),
)

class Group(Base):
    __tablename__ = 'groups'
    id: Mapped[int] = mapped_column(primary_key=True)
    members = relationship(lambda: Someone, secondary=links)
"""

FAILING = [
    "%%model\nclass Bad(Base):\n    id = Column(Integer, primary_key=True)\n",
    "%%model\nclass Bad(Base):\n    __tablename__ = 'bad'\n    x = Column(Integer)\n",
    "%%model\nclass Bad(Base)\n    pass\n",
    "%%model\nclass Bad(Base):\n    __tablename__ = 'bad'\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    "    owner: Mapped['Group'] = relationship()\n",
    "%%model\nraise ValueError('boom')\n",
    "%%model\nfrom sqlalchemy import CheckConstraint\n"
    "class Bad(Base):\n    __tablename__ = 'bad'\n"
    "    __table_args__ = (CheckConstraint('id >'),)\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n",
]


class ModelCellsMachine(RuleBasedStateMachine):
    """One notebook of model cells, and what it should have committed."""

    shell = None  # set by the test
    urls = None  # a fresh database URL for each example, or None: the workspace's

    def __init__(self) -> None:
        super().__init__()
        self.cls = "User"
        self.extra = False
        self.committed: Counter[str] = Counter()
        self.pending: list[str] = []  # names added (and maybe flushed) since the last commit
        self.links = 0
        self.pending_links = 0
        self.fresh = 0
        self.story: list[str] = []
        self.run("%orm_reset --yes", ok=True)
        if self.urls is not None:
            # a file: a connection of our own sees only committed rows, which
            # the one shared connection of an in-memory database cannot
            self.run(f"%orm_connect {next(self.urls)}", ok=True)
        self.run(users_cell(self.cls, self.extra), cell_id="users", ok=True)
        self.run(GROUPS_CELL, cell_id="groups", ok=True)

    def run(self, cell: str, cell_id: str | None = None, ok: bool | None = None) -> bool:
        with capture_output():
            result = self.shell.run_cell(cell, store_history=True, cell_id=cell_id)
        error = result.error_before_exec or result.error_in_exec
        self.story.append(f"{cell.splitlines()[0]} [{cell_id}] -> {error!r}")
        if ok is not None:
            assert result.success == ok, self.told(f"expected ok={ok}: {error!r}")
        return result.success

    def told(self, what: str) -> str:
        return what + "\n" + "\n".join(self.story)

    # -- the session ---------------------------------------------------------------------
    @rule(name=NAMES, flush=st.booleans())
    def add(self, name: str, flush: bool) -> None:
        self.run(f"%orm_add Someone(name={name!r})" + " --flush" * flush, ok=True)
        self.pending.append(name)

    @rule()
    def commit(self) -> None:
        self.run("%orm_commit", ok=True)
        self.committed.update(self.pending)
        self.links += self.pending_links
        self.pending, self.pending_links = [], 0

    @rule()
    def rollback(self) -> None:
        self.run("%orm_rollback", ok=True)
        self.pending, self.pending_links = [], 0

    # -- failing model cells -----------------------------------------------------------------
    @rule(cell=st.sampled_from(FAILING), with_id=st.booleans())
    def failing_cell(self, cell: str, with_id: bool) -> None:
        self.fresh += 1
        self.run(cell, cell_id=f"new-{self.fresh}" if with_id else None, ok=False)

    # -- edited and renamed model cells ----------------------------------------------------------
    @rule(cls=CLASSES, extra=st.booleans())
    def edit_users_cell(self, cls: str, extra: bool) -> None:
        # --yes: dropping the note column, holding rows, on a file or server needs it
        edited = users_cell(cls, extra).replace("%%model", "%%model --yes", 1)
        self.run(edited, cell_id="users", ok=True)
        self.cls, self.extra = cls, extra
        # the classes were replaced: the session's objects of the old ones are gone
        self.pending, self.pending_links = [], 0
        models = set(self.shell._orm_magic.workspace.all_models())
        assert models == {cls, "Group"}, self.told(f"models: {models}")

    # -- many-to-many links ----------------------------------------------------------------------
    @rule(names=st.lists(NAMES, min_size=1, max_size=3))
    def add_group_with_members(self, names: list[str]) -> None:
        members = ", ".join(f"Someone(name={n!r})" for n in names)
        self.run(f"%orm_add Group(members=[{members}])\n%orm_commit", ok=True)
        self.committed.update(self.pending + names)
        self.links += self.pending_links + len(names)
        self.pending, self.pending_links = [], 0

    # -- after every step ------------------------------------------------------------------------
    @invariant()
    def committed_rows_kept(self) -> None:
        engine = self.shell.user_ns["engine"]
        with engine.connect() as conn:
            names = Counter(r[0] for r in conn.exec_driver_sql("SELECT name FROM users"))
            links = conn.exec_driver_sql("SELECT count(*) FROM links").scalar()
        assert names == self.committed, self.told(f"users: {names}, expected {self.committed}")
        assert links == self.links, self.told(f"links: {links}, expected {self.links}")

    @invariant()
    def workspace_usable(self) -> None:
        self.run("%orm_show", ok=True)
        self.run("%orm_add Someone(name='probe')\n%orm_flush", ok=True)
        self.pending.append("probe")

    def teardown(self) -> None:
        self.run("%orm_rollback")


def test_model_cells_in_any_order(ip, db_url, tmp_path):
    ModelCellsMachine.shell = ip
    ModelCellsMachine.urls = None
    if db_url.startswith("sqlite"):
        ModelCellsMachine.urls = (f"sqlite:///{tmp_path}/notebook{n}.db" for n in count())
    with capture_output():
        ip.run_line_magic("xmode", "Minimal")  # a traceback costs a second otherwise
    try:
        run_state_machine_as_test(
            ModelCellsMachine,
            settings=settings(
                max_examples=12,
                stateful_step_count=10,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        with capture_output():
            ip.run_line_magic("xmode", "Context")
