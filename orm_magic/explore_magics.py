"""Magics that make the ORM visible: object states, the session, queries, ER diagrams.

A second ``Magics`` class beside :class:`~orm_magic.magics.OrmMagic`. It holds
no state of its own: it reaches the workspace and the display traits through
the OrmMagic instance it is given, and delegates the work to
:mod:`~orm_magic.inspection`, :mod:`~orm_magic.query` and
:mod:`~orm_magic.diagram`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from sqlalchemy.exc import SQLAlchemyError

from . import completion
from .diagram import er_diagram
from .inspection import session_view, state_view
from .instances import is_mapped_instance
from .magics import OrmMagic, split_options
from .query import QueryError, run_query
from .reporting import Reported


@magics_class
class ExploreMagics(Magics):
    """``%orm_state``, ``%orm_session``, ``%orm_query`` and ``%orm_diagram``."""

    def __init__(self, shell: Any, orm: OrmMagic) -> None:
        super().__init__(shell=shell)
        self.orm = orm
        self._completers: list[tuple[str, Callable[..., Any]]] = []

    # -- completion ------------------------------------------------------------
    def install_completion(self) -> None:
        """Register Tab completion of model and instance names."""
        self._completers = completion.install(
            self.shell, lambda: list(self.orm.workspace.all_models())
        )

    def uninstall_completion(self) -> None:
        """Undo :meth:`install_completion`."""
        completion.uninstall(self.shell, self._completers)
        self._completers = []

    # -- magics ----------------------------------------------------------------
    @no_var_expand
    @magic_arguments()
    @argument("expression", nargs="*", help="an expression giving one mapped instance")
    @line_magic
    def orm_state(self, line: str) -> None:
        """Show an instance's lifecycle state, identity key and attribute history.

        The state is one of transient, pending, persistent, deleted or
        detached. Each attribute shows its history (added, unchanged,
        deleted), whether it is loaded or expired, and what reading it would
        do: expired and unloaded attributes cost a SELECT on access. Reading
        all this emits no SQL and changes nothing.
        """
        expression = line.strip()
        try:
            value = self.orm._evaluate("orm_state", expression)
        except SQLAlchemyError as exc:  # e.g. session.get(...) on a failed transaction
            title = f"%orm_state {expression}"
            raise self.orm.reporter.database_error(title, exc, Reported(title)) from None
        if not is_mapped_instance(value):
            hint = "; pick one, e.g. users[0]" if isinstance(value, (list, tuple)) else ""
            raise UsageError(
                f"%orm_state: {expression!r} is a {type(value).__name__!r} object, "
                f"not a mapped instance{hint}"
            )
        display(state_view(value, f"%orm_state {expression}"))

    @magic_arguments()
    @line_magic
    def orm_session(self, line: str) -> None:
        """Show the session at a glance: identity map, new, dirty, deleted, transaction.

        Each table shows at most ``OrmMagic.displaylimit`` objects. Reading
        the session emits no SQL.
        """
        parse_argstring(self.orm_session, line)
        display(session_view(self.orm.workspace.session, self.orm.displaylimit))

    @no_var_expand
    @magic_arguments()
    @argument(
        "--limit",
        type=int,
        metavar="N",
        help="rows shown below the cell (default: OrmMagic.displaylimit); the query "
        "itself runs as written",
    )
    @argument("expression", nargs="*", help="a select(...) or a session.query(...)")
    @line_magic
    def orm_query(self, line: str) -> Any:
        """Run a ``select(...)`` or a legacy ``session.query(...)`` and show its result.

        The statement runs exactly as written, with no LIMIT added, and returns
        what plain SQLAlchemy returns for it: the ORM objects (a list, when one
        entity is selected, as ``session.scalars(stmt).all()``) or the rows (as
        ``session.execute(stmt).all()``), with ``unique()`` where joined eager
        loading of a collection needs it; so ``found = %orm_query ...`` holds
        all of them. The table below the cell shows the first
        ``displaylimit`` rows, or ``--limit N``, and says how many there were.
        A result of more than ``OrmMagic.maxitems`` rows is refused. Executes
        through the workspace session: pending changes are autoflushed first,
        exactly as plain SQLAlchemy would.
        """
        options, expression = split_options(line, valued=("--limit",))
        args = parse_argstring(self.orm_query, " ".join(options))
        shown = self.orm.displaylimit if args.limit is None else args.limit
        if shown < 1:
            raise UsageError(f"%orm_query: --limit must be 1 or more, not {shown}")
        result = None
        # through the shared reporting: a failed session is rolled back first,
        # warnings become notes, a database error is one line after its SQL
        with self.orm.reporter.reporting(f"%orm_query {expression}") as reported:
            query = self.orm._evaluate("orm_query", expression)
            try:
                result = run_query(self.orm.workspace.session, query, shown, self.orm.maxitems)
            except QueryError as exc:
                raise UsageError(f"%orm_query: {exc}") from None
            reported.frames.append(result.frame)
        return result.value if result is not None else None

    @magic_arguments()
    @argument("models", nargs="*", help="model class names; all models when none")
    @line_magic
    def orm_diagram(self, line: str) -> None:
        """Draw an ER diagram of the named models, or of every model.

        Tables, columns with types, primary and foreign keys, and the
        relationships among the models with their cardinality, as a Mermaid
        ``erDiagram`` (rendered by JupyterLab 4.1+ and Notebook 7; plain
        Mermaid text elsewhere). Needs no Graphviz and no network.
        """
        args = parse_argstring(self.orm_diagram, line)
        models = self.orm.workspace.all_models()
        if not models:
            raise UsageError("%orm_diagram: no models yet; define one with %%model")
        unknown = [name for name in args.models if name not in models]
        if unknown:
            known = ", ".join(sorted(models))
            raise UsageError(f"%orm_diagram: unknown model {unknown[0]!r}; known models: {known}")
        chosen = [models[name] for name in args.models] if args.models else list(models.values())
        display(er_diagram(chosen, self.orm.workspace.engine.dialect))
