"""Starting from data that exists: ``%orm_reflect`` (a schema) and ``%orm_load`` (rows)."""

from __future__ import annotations

import html
import os
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from sqlalchemy import inspect
from sqlalchemy.orm import Mapper

from ..core.errors import WorkspaceError
from ..core.model_cells import is_mapped_class
from .family import MagicFamily
from .lines import split_options, unquoted

#: Loads of fewer rows show no progress bar: they are over before one would help.
PROGRESS_ROWS = 20_000
#: Most times one bar is redrawn, however many rows (every 5%).
PROGRESS_STEPS = 20


class ModelSource(str):
    """The source ``%orm_reflect`` returns: a str that shows as its size only.

    The source itself is in the new cell below (or the next prompt), so the
    output does not repeat it; ``print()`` it to read it here.
    """

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(f"<%%model cell source: {self.count(chr(10)):,} lines>")


class ProgressBar:
    """A bar drawn in place below the cell (one display id), redrawn a bounded number of times."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.stage = label, total, 0, ""
        self._drawn = -1
        self._handle: Any = display(self, display_id=True)

    def advance(self, done: int, total: int) -> None:
        """Redraw when another step of ``1/PROGRESS_STEPS`` is done."""
        self.done = done
        step = done * PROGRESS_STEPS // max(total, 1)
        if step > self._drawn:
            self._drawn = step
            self._handle.update(self)

    def finish(self, stage: str) -> None:
        self.stage = stage
        self._handle.update(self)

    def _text(self) -> str:
        stage = f" · {self.stage}" if self.stage else ""
        return f"{self.label}: {self.done:,} of {self.total:,} rows made{stage}"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        bar = (
            f'<progress value="{self.done}" max="{self.total}" style="width:20em"></progress>'
            f" <span>{html.escape(self._text())}</span>"
        )
        return {"text/plain": self._text(), "text/html": f'<div class="orm-magic">{bar}</div>'}


@magics_class
class SourceMagics(MagicFamily):
    """``%orm_reflect`` and ``%orm_load``."""

    @magic_arguments()
    @argument("--schema", metavar="NAME", help="the schema to read (default: the default one)")
    @argument(
        "--no-cell",
        action="store_true",
        help="only return the source: no new cell (a notebook that keeps the cell already)",
    )
    @argument("tables", nargs="*", help="the tables to map; every table when none")
    @line_magic
    def orm_reflect(self, line: str) -> ModelSource:
        """Write a ``%%model`` cell that maps the connected database's tables.

        Needs sqlacodegen: ``pip install 'orm_magic[reflect]'``. Quote a table
        name with a space in it: ``%orm_reflect 'order items'``. The cell uses
        the typed declarative style (``Mapped[...]``, ``mapped_column``),
        ``relationship()`` on both sides of every foreign key, and association
        tables as ``Table(...)``, on the workspace's ``Base``. In a notebook it
        is placed in a new cell below (the next prompt in a terminal; not with
        ``--no-cell``); the source is also returned as a string. Running that cell maps the
        tables and changes nothing in the database: its tables exist, so no
        DDL is sent. What cannot be mapped as a class (a table without a
        primary key, a type SQLAlchemy does not know) is one line each.
        Reading the schema begins or ends no transaction and is not logged.
        """
        args = parse_argstring(self.orm_reflect, line)
        from ..core.reflect import reflect_source  # when used: %load_ext stays light

        ws = self.workspace
        mapped: dict[str, str] = {}
        for cls in ws.all_models().values():
            mapper: Mapper[Any] = inspect(cls)
            for table in mapper.tables:
                mapped[table.fullname] = cls.__name__
        try:
            asked = [unquoted(name) for name in args.tables]
            schema = None if args.schema is None else unquoted(args.schema)
            found = reflect_source(ws.engine, ws.recorder, asked, schema, mapped)
        except WorkspaceError as exc:
            raise UsageError(f"%orm_reflect: {exc}") from None
        names = [*found.classes, *found.tables]
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        classes = f"{len(found.classes)} class{'es' if len(found.classes) != 1 else ''}"
        tables = f"{len(found.tables)} table{'s' if len(found.tables) != 1 else ''}"
        print(f"-- %orm_reflect: a %%model cell of {classes} and {tables} ({shown});", end="")
        print(" run it to map them")
        for note in found.notes:
            print(f"-- {note}")
        if not args.no_cell:
            self.user_shell.set_next_input(found.source, replace=False)
        return ModelSource(found.source)

    @no_var_expand
    @magic_arguments()
    @argument("--flush", action="store_true", help="flush right after adding")
    @argument("words", nargs="*", help="MODEL SOURCE: a mapped class, then a DataFrame, a list "
              "of dicts or the path of a CSV file")  # fmt: skip
    @line_magic
    def orm_load(self, line: str) -> None:
        """Add one new MODEL instance per row of SOURCE to the session, as ``%orm_add`` does.

        ``%orm_load MODEL SOURCE [--flush]``. SOURCE is a DataFrame, a list of
        dicts, or the path of a CSV file. Columns are matched to the model's
        attributes by name; NaN, NaT and None become NULL. A column the model
        lacks, a missing value for a NOT NULL column without a default, or a
        value that does not fit its column's type is one line naming the row
        and the column, and then nothing is added; so is a SOURCE of more
        than ``OrmMagic.maxitems`` rows, before more of it is read. Loads of
        20,000 rows or more show a progress bar in a notebook.
        """
        options, expression = split_options(line)
        args = parse_argstring(self.orm_load, " ".join(options))
        model_text, _, source_text = expression.strip().partition(" ")
        if not source_text.strip():
            raise UsageError("%orm_load needs a model and a source, e.g. %orm_load Product frame")
        model = self.orm.evaluate("orm_load", model_text)
        if not is_mapped_class(model):
            raise UsageError(f"%orm_load: {model_text!r} is not a mapped class; name a model")
        source = self._source(source_text.strip())
        instances: list[Any] = []

        def touched() -> list[str]:
            return [table.fullname for table in inspect(model).tables]

        with self.reporter.reporting(f"%orm_load {expression.strip()}", touched) as reported:
            bar: ProgressBar | None = None

            def progress(done: int, total: int) -> None:
                nonlocal bar
                if total < PROGRESS_ROWS:
                    return
                if bar is None:
                    bar = ProgressBar(f"%orm_load {model.__name__}", total)
                bar.advance(done, total)

            from ..core.load import make_instances  # when used: %load_ext stays light

            long_load = getattr(self.user_shell, "kernel", None) is not None
            try:
                instances, rows = make_instances(
                    model, source, self.orm.maxitems, progress if long_load else None
                )
            except WorkspaceError as exc:
                if bar is not None:  # else it would stay at its last count, as if still going
                    bar.finish("stopped: nothing added")
                raise UsageError(f"%orm_load: {exc}") from None
            self.workspace.add(instances)
            if args.flush:
                if bar is not None:
                    bar.finish("flushing")
                reported.before = self.workspace.pending()
                try:
                    self.workspace.flush()
                except Exception:
                    if bar is not None:
                        bar.finish("the flush failed")
                    raise
            if bar is not None:
                bar.finish("flushed" if args.flush else "added")
            verb = "flushed" if args.flush else "pending — the next flush INSERTs them"
            reported.notes.append(
                f"{len(instances):,} {model.__name__} objects from {rows.kind}: {verb}"
            )

    def _source(self, text: str) -> Any:
        """SOURCE's value: a Python expression, or a CSV path typed as it is."""
        unquoted = text.strip("'\"")
        if unquoted not in self.user_shell.user_ns:
            if os.path.isfile(unquoted):
                return unquoted
            if unquoted.lower().endswith(".csv"):
                raise UsageError(f"%orm_load: no file {unquoted!r}; give the path of a CSV file")
        return self.orm.evaluate("orm_load", text)
