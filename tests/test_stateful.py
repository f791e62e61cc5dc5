"""Random sequences of session operations never lose a committed row.

A Hypothesis state machine drives the magics of a real InteractiveShell and
keeps a plain Python model of what must be committed. Duplicate keys are
generated on purpose: they doom the next flush, which must then fail, roll
back, and leave every committed row and a usable workspace behind.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

MODEL = """
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str]
"""

NAMES = st.sampled_from(["ann", "bob", "cy", "<b>d</b>", "$e$"])


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.shell = InteractiveShell.instance()
        self.shell.reset(new_session=False)
        self.shell.run_line_magic("load_ext", "orm_magic")
        self.magic("model", MODEL, cell=True)
        self.ids = itertools.count(1)
        self.committed: dict[int, str] = {}
        self.adds: dict[int, str] = {}
        self.updates: dict[int, str] = {}
        self.deletes: set[int] = set()
        self.doomed = False  # a duplicate key is pending: the next flush must fail

    def teardown(self) -> None:
        self.shell.run_line_magic("unload_ext", "orm_magic")
        self.shell.reset(new_session=False)

    def magic(self, name: str, line: str = "", cell: bool = False) -> bool:
        """Run a magic; True if it worked, False if it refused with a UsageError."""
        with capture_output():
            try:
                if cell:
                    self.shell.run_cell_magic(name, "", line)
                else:
                    self.shell.run_line_magic(name, line)
            except UsageError:
                return False
        return True

    def forget_session(self) -> None:
        self.adds.clear()
        self.updates.clear()
        self.deletes.clear()
        self.doomed = False

    def flushing(self, ok: bool) -> None:
        """A step that flushes worked exactly when no duplicate was pending."""
        assert ok is not self.doomed, "a flush failed or succeeded against the model"
        if not ok:
            self.forget_session()

    def alive(self) -> set[int]:
        return (set(self.committed) | set(self.adds)) - self.deletes

    # -- rules ----------------------------------------------------------------------------
    @rule(name=NAMES)
    def add_new(self, name: str) -> None:
        new_id = next(self.ids)
        assert self.magic("orm_add", f"User(id={new_id}, name={name!r})")
        self.adds[new_id] = name

    @precondition(lambda self: self.committed or self.adds)
    @rule(data=st.data())
    def add_duplicate(self, data: st.DataObject) -> None:
        choices = sorted((set(self.committed) - self.deletes) | set(self.adds))
        if not choices:
            return
        dup = data.draw(st.sampled_from(choices))
        assert self.magic("orm_add", f"User(id={dup}, name='dup')")
        self.doomed = True

    @precondition(lambda self: self.committed)
    @rule(data=st.data(), name=NAMES)
    def merge_existing(self, data: st.DataObject, name: str) -> None:
        target = data.draw(st.sampled_from(sorted(self.committed)))
        if target in self.deletes:
            return
        ok = self.magic("orm_merge", f"User(id={target}, name={name!r})")
        self.flushing(ok)  # merge autoflushes before it loads
        if ok:
            self.updates[target] = name

    @precondition(lambda self: self.committed)
    @rule(data=st.data())
    def delete_existing(self, data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(sorted(self.committed)))
        if target in self.deletes or target in self.adds:
            return
        ok = self.magic("orm_delete", f"session.get(User, {target})")
        if not ok:  # session.get may autoflush; only a doomed flush may fail
            assert self.doomed
            self.forget_session()
            return
        self.deletes.add(target)
        self.updates.pop(target, None)

    @rule()
    def flush(self) -> None:
        self.flushing(self.magic("orm_flush"))

    @rule()
    def commit(self) -> None:
        ok = self.magic("orm_commit")
        self.flushing(ok)
        if ok:
            self.committed.update(self.updates)
            self.committed.update(self.adds)
            for gone in self.deletes:
                self.committed.pop(gone, None)
            self.forget_session()

    @rule()
    def rollback(self) -> None:
        assert self.magic("orm_rollback")
        self.forget_session()

    @rule()
    def rerun_model(self) -> None:
        assert self.magic("model", MODEL, cell=True)
        self.forget_session()  # a redefinition resets the session, flushing nothing

    # -- what must always hold ------------------------------------------------------------
    @invariant()
    def committed_rows_are_in_the_database(self) -> None:
        session = self.shell.user_ns["session"]
        if session.in_transaction() and (self.adds or self.updates or self.deletes):
            return  # uncommitted work is visible on the shared in-memory connection
        with self.shell.user_ns["engine"].connect() as conn:
            rows = dict(tuple(r) for r in conn.exec_driver_sql("SELECT id, name FROM users"))
        if not session.in_transaction():
            assert rows == self.committed

    @invariant()
    def workspace_is_usable(self) -> None:
        assert self.magic("orm_show", "User")


SessionMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSessionMachine = SessionMachine.TestCase
