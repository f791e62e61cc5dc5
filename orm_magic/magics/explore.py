"""The read-only views: tables, the log, object states, the session, queries, ER diagrams.

None of them changes the session or a transaction; all but ``%orm_query``
(which runs the user's statement) emit no SQL of their own that is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapper

from ..core.instances import is_mapped_instance
from ..core.query import QueryError, run_query
from ..core.state_views import session_view, state_view
from ..present.log import log_frame
from ..present.report import CellReport
from ..present.views import InspectionReport
from . import completion
from .family import MagicFamily
from .lines import split_options, unquoted
from .reporting import Reported


@magics_class
class ExploreMagics(MagicFamily):
    """``%orm_show``, ``%orm_log``, ``%orm_state``, ``%orm_session``, ``%orm_query``,
    ``%orm_diagram``, and Tab completion of model and instance names."""

    def __init__(self, shell: Any, orm: Any) -> None:
        super().__init__(shell, orm)
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
            value = self.orm.evaluate("orm_state", expression)
        except SQLAlchemyError as exc:  # e.g. session.get(...) on a failed transaction
            title = f"%orm_state {expression}"
            raise self.orm.reporter.database_error(title, exc, Reported(title)) from None
        if not is_mapped_instance(value):
            hint = "; pick one, e.g. users[0]" if isinstance(value, (list, tuple)) else ""
            raise UsageError(
                f"%orm_state: {expression!r} is a {type(value).__name__!r} object, "
                f"not a mapped instance{hint}"
            )
        view = state_view(value, f"%orm_state {expression}")
        display(InspectionReport(view, self.orm.maxchars))

    @magic_arguments()
    @argument("models", nargs="*", help="model class names; all models when none")
    @line_magic
    def orm_show(self, line: str) -> None:
        """Show the tables of the named models, or of every model, bounded by displaylimit."""
        args = parse_argstring(self.orm_show, line)
        models = self.workspace.all_models()
        unknown = [name for name in args.models if name not in models]
        if unknown:
            known = ", ".join(sorted(models)) or "none yet; define one with %%model"
            raise UsageError(f"%orm_show: unknown model {unknown[0]!r}; known models: {known}")
        chosen = [models[name] for name in args.models] if args.models else list(models.values())
        names: dict[str, None] = {}
        for cls in chosen:
            mapper: Mapper[Any] = inspect(cls)
            for table in mapper.tables:
                names.setdefault(table.fullname, None)
        report = CellReport(title=f"%orm_show {line.strip()}".strip())
        self.reporter.show(report, list(names), sql=False)

    @magic_arguments()
    @argument("-n", "--last", type=int, default=None, help="only the last N statements")
    @line_magic
    def orm_log(self, line: str) -> Any:
        """The workspace's SQL log as a DataFrame, one row per statement, oldest first."""
        args = parse_argstring(self.orm_log, line)
        statements = list(self.workspace.recorder.log)
        if args.last is not None:
            statements = statements[-args.last :] if args.last > 0 else []
        return log_frame(statements)

    @magic_arguments()
    @line_magic
    def orm_session(self, line: str) -> None:
        """Show the session at a glance: identity map, new, dirty, deleted, transaction.

        Each table shows at most ``OrmMagic.displaylimit`` objects. Reading
        the session emits no SQL.
        """
        parse_argstring(self.orm_session, line)
        view = session_view(self.orm.workspace.session, self.orm.displaylimit)
        display(InspectionReport(view, self.orm.maxchars))

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
            query = self.orm.evaluate("orm_query", expression)
            try:
                result = run_query(self.orm.workspace.session, query, shown, self.orm.maxitems)
            except QueryError as exc:
                raise UsageError(f"%orm_query: {exc}") from None
            reported.frames.append(result.frame)
        return result.value if result is not None else None

    @magic_arguments()
    @argument(
        "--save",
        metavar="PATH",
        help="also write the diagram to PATH: SVG for .svg, Mermaid for .mmd",
    )
    @argument("models", nargs="*", help="model class names; all models when none")
    @line_magic
    def orm_diagram(self, line: str) -> None:
        """Draw an ER diagram of the named models, or of every model.

        Tables, columns with types, primary and foreign keys, and a
        crow's-foot connector per foreign key. The output holds the diagram
        twice: as Mermaid ``erDiagram`` text, which JupyterLab 4.1+ and
        Notebook 7 draw, and as an SVG drawn in Python, which VS Code, Colab,
        GitHub and exported HTML show; a terminal prints the Mermaid text.
        Needs no Graphviz and no network. The SVG draws at most 30 tables and
        says so when there are more. ``--save PATH`` also writes it to a file
        for slides and reports: ``.svg`` for the drawing, ``.mmd`` for Mermaid.
        """
        args = parse_argstring(self.orm_diagram, line)
        save = unquoted(args.save) if args.save else args.save
        suffix = Path(save).suffix.lower() if save else ""
        if args.save and suffix not in (".svg", ".mmd"):
            raise UsageError(f"%orm_diagram: --save {args.save!r}: end the name with .svg or .mmd")
        models = self.orm.workspace.all_models()
        if not models:
            raise UsageError("%orm_diagram: no models yet; define one with %%model")
        unknown = [name for name in args.models if name not in models]
        if unknown:
            known = ", ".join(sorted(models))
            raise UsageError(f"%orm_diagram: unknown model {unknown[0]!r}; known models: {known}")
        chosen = [models[name] for name in args.models] if args.models else list(models.values())
        from ..present.diagram import er_diagram  # when used: %load_ext stays light

        diagram = er_diagram(chosen, self.orm.workspace.engine.dialect)
        if save:  # before the display: a cell that fails shows only its error
            try:
                Path(save).expanduser().write_text(diagram.text_for(suffix), encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"%orm_diagram: cannot write {save!r}: {exc}") from None
        display(diagram)
        if save:
            print(f"saved the diagram to {save}")
