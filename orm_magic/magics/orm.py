"""``OrmMagic``: the settings, the workspace and the namespace that every magic family shares."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class
from sqlalchemy.exc import SQLAlchemyError
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate

from ..core.errors import WorkspaceError
from ..core.instances import as_instances
from ..core.locks import DEFAULT_LOCK_TIMEOUT
from ..core.model_cells import ExecutingCell
from ..core.models import ModelRunner
from ..core.urls import safe_url
from ..core.workspace import Workspace
from ..present.tables import DEFAULT_MAXCHARS
from .reporting import DisplaySettings, Reporter

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

#: Names the workspace puts into the user namespace.
NAMESPACE_NAMES = ("Base", "session", "engine")

#: The longest lock wait accepted, in seconds: a lesson never waits longer.
MAX_LOCK_TIMEOUT = 600

#: The smallest value each numeric setting accepts (there is no largest).
MINIMUMS = {
    "displaylimit": 1,
    "countlimit": 1,
    "loglimit": 1,
    "maxitems": 1,
    "maxchars": 10,
    "nplusone_threshold": 0,
}


@magics_class
class OrmMagic(Magics):
    """The settings (``%config OrmMagic``), the workspace and the user namespace.

    The magics themselves live in families (:mod:`.session`, :mod:`.models`,
    :mod:`.connect`, :mod:`.explore`), each given this object; it holds what
    they share, so that one kernel has one workspace and one set of settings.
    """

    displaylimit = Int(10, help="Rows fetched (with LIMIT) for each table shown.").tag(config=True)
    echo = Bool(True, help="Show the SQL section below each cell.").tag(config=True)
    url = Unicode(
        "sqlite://", help="Database URL used on load, else env ORM_MAGIC_URL; see %orm_connect."
    ).tag(config=True)
    loglimit = Int(1000, help="Statements kept in the kernel-wide log (%orm_log).").tag(
        config=True
    )
    # 10,000: counting more rows than that costs more than the rest of the
    # display on SQLite (benchmarks/run.py, size independence).
    countlimit = Int(10_000, help="Rows counted at most for a table's row count.").tag(config=True)
    maxitems = Int(1_000_000, help="Most objects one magic call accepts.").tag(config=True)
    maxchars = Int(
        DEFAULT_MAXCHARS,
        help="Characters shown of one value; a longer one is cut with … and its length.",
    ).tag(config=True)
    short_errors = Bool(
        True, help="Show a user's mistake as one line; False shows the full traceback."
    ).tag(config=True)
    nplusone_threshold = Int(
        5,
        help="Runs of one SELECT with different parameters that a cell reports as N+1 "
        "(0 turns it off).",
    ).tag(config=True)

    lock_timeout = Float(
        DEFAULT_LOCK_TIMEOUT,
        help="Seconds a statement waits for a lock another session holds, then gives up "
        "(PostgreSQL's lock_timeout, SQLite's busy timeout).",
    ).tag(config=True)

    @validate("lock_timeout")
    def _check_lock_timeout(self, proposal: Any) -> float:
        """Refuse a wait that is not a positive number of seconds, in one line."""
        value = proposal["value"]
        if isinstance(value, bool) or not 0 < value <= MAX_LOCK_TIMEOUT:
            raise TraitError(
                f"OrmMagic.lock_timeout must be a number of seconds above 0 and at most "
                f"{MAX_LOCK_TIMEOUT:g}, not {value!r}"
            )
        return float(value)

    @observe("lock_timeout")
    def _lock_timeout_changed(self, change: dict[str, Any]) -> None:
        workspace = getattr(self, "workspace", None)  # unset while config loads in __init__
        if workspace is not None:
            workspace.lock_timeout.set(change["new"], workspace.sessions)

    @property
    def workspace(self) -> Workspace:
        """The workspace; one set here (load, %orm_reset) takes the lock timeout."""
        return self._workspace

    @workspace.setter
    def workspace(self, workspace: Workspace) -> None:
        workspace.lock_timeout.seconds = self.lock_timeout
        self._workspace = workspace

    @validate(*MINIMUMS)
    def _check_minimum(self, proposal: Any) -> int:
        """Refuse a value below the trait's minimum, in one line naming the range."""
        name, value = proposal["trait"].name, proposal["value"]
        if isinstance(value, bool) or value < MINIMUMS[name]:
            raise TraitError(
                f"OrmMagic.{name} must be an integer of {MINIMUMS[name]} or more, not {value!r}"
            )
        return int(value)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        try:
            super().__init__(shell=shell, **kwargs)
        except TraitError as exc:  # a value %config stored before the extension was loaded
            self._leave(shell)
            raise UsageError(f"orm_magic: {exc}") from None
        try:
            self.workspace = Workspace(self.initial_url(), self.loglimit)
        except WorkspaceError as exc:
            self._leave(shell)
            raise UsageError(f"orm_magic: {exc}") from None
        self._pushed: dict[str, Any] = {}
        self.reporter = Reporter(lambda: self.workspace, self.display_settings)
        #: the book of model cells; None until the first %%model (and after %orm_reset)
        self.runner: ModelRunner | None = None
        #: the id Jupyter sent with the running cell (pre_run_cell)
        self.executing = ExecutingCell()
        #: the magic families registered beside this object (load_ipython_extension)
        self.families: list[Magics] = []

    def display_settings(self) -> DisplaySettings:
        """What the reports need of the traits, read when a report is made."""
        return DisplaySettings(
            displaylimit=self.displaylimit,
            countlimit=self.countlimit,
            maxchars=self.maxchars,
            echo=self.echo,
            nplusone_threshold=self.nplusone_threshold,
            short_errors=self.short_errors,
        )

    def _leave(self, shell: Any) -> None:
        """A load that failed leaves no instance behind among the shell's configurables."""
        configurables = getattr(shell, "configurables", [])
        if self in configurables:
            configurables.remove(self)

    def initial_url(self) -> str:
        """The URL to load with: ``%config OrmMagic.url`` if set, else ``ORM_MAGIC_URL``.

        Read from the shell's configuration, which holds it as typed: the
        trait itself holds it masked (see :meth:`_mask_url`).
        """
        configured = self.config.get("OrmMagic", {})
        if "url" in configured:
            return str(configured["url"])
        return os.environ.get("ORM_MAGIC_URL") or "sqlite://"

    @observe("url")
    def _mask_url(self, change: dict[str, Any]) -> None:
        # %config OrmMagic prints the traits' values: a password is never kept
        # in one, whenever it is set (on load, or by a later %config)
        masked = safe_url(change["new"])
        if masked != change["new"]:
            self.url = masked

    @observe("loglimit")
    def _loglimit_changed(self, change: dict[str, Any]) -> None:
        workspace = getattr(self, "workspace", None)  # unset while config loads in __init__
        if workspace is not None:
            workspace.recorder.resize(change["new"])

    @property
    def user_shell(self) -> InteractiveShell:
        """The shell these magics serve (``Magics.shell`` is typed optional)."""
        if self.shell is None:  # load_ipython_extension always passes one
            raise RuntimeError("orm_magic: these magics are not registered on a shell")
        return self.shell

    # -- namespace ---------------------------------------------------------
    def push_namespace(self) -> None:
        """Put ``Base``, ``session`` and ``engine`` into the user namespace.

        A user's own variable of that name is replaced, and the user is told.
        """
        ns = self.user_shell.user_ns
        values = {
            "Base": self.workspace.Base,
            "session": self.workspace.session,
            "engine": self.workspace.engine,
        }
        replaced = [
            name for name in values if name in ns and ns[name] is not self._pushed.get(name)
        ]
        ns.update(values)
        self._pushed = values
        if replaced:
            names = ", ".join(f"`{name}`" for name in replaced)
            print(f"orm_magic: your {names} now refer to the workspace's; the old values are gone")

    def pop_namespace(self) -> None:
        """Remove what :meth:`push_namespace` put there, where it is still ours."""
        ns = self.user_shell.user_ns
        for name, value in self._pushed.items():
            if ns.get(name) is value:
                del ns[name]
        self._pushed = {}

    # -- running a magic ----------------------------------------------------
    def evaluate(self, magic: str, expression: str) -> Any:
        """The value of a magic's expression in the user namespace, or one line saying why not."""
        if not expression:
            raise UsageError(
                f"%{magic} needs an expression: an instance or a list of them, "
                f"e.g. %{magic} ed_user"
            )
        try:
            code = compile(expression, "<orm_magic>", "eval")
        except SyntaxError as exc:
            raise self.reporter.fail(
                f"%{magic}: {expression!r} is not a Python expression ({exc.msg})", exc
            ) from None
        try:
            return eval(code, self.user_shell.user_global_ns, self.user_shell.user_ns)
        except NameError as exc:
            raise self.reporter.fail(f"%{magic}: {exc}; define it in a cell first", exc) from None
        except SQLAlchemyError:
            raise
        except Exception as exc:
            raise self.reporter.fail(
                f"%{magic}: evaluating {expression!r} raised {type(exc).__name__}: {exc}", exc
            ) from None

    def instances(self, magic: str, expression: str) -> tuple[list[Any], bool]:
        """The instances an expression gives, and whether it gave just one."""
        value = self.evaluate(magic, expression)
        try:
            items = as_instances(value, self.maxitems)
            return items, items[0] is value
        except WorkspaceError as exc:
            raise UsageError(f"%{magic}: {exc}") from None

    def model_runner(self) -> ModelRunner:
        """The runner of model cells, on the current workspace."""
        runner = self.runner
        if runner is None:
            runner = self.runner = ModelRunner(self.workspace)
        runner.workspace = self.workspace  # the book of model cells outlives a reconnect
        return runner
