"""The magics: each parses its line, calls the workspace, displays a report."""

from __future__ import annotations

import io
import os
import re
import tokenize
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapper
from traitlets import Bool, Int, TraitError, Unicode, observe, validate

from . import render
from .engine import is_memory_url
from .errors import WorkspaceError
from .instances import as_instances, check_states
from .models import ModelRunner
from .render import DEFAULT_MAXCHARS
from .report import CellReport
from .reporting import DisplaySettings, Reporter
from .urls import safe_url
from .workspace import Workspace

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

#: Names the workspace puts into the user namespace.
NAMESPACE_NAMES = ("Base", "session", "engine")

#: The smallest value each numeric setting accepts (there is no largest).
MINIMUMS = {
    "displaylimit": 1,
    "countlimit": 1,
    "loglimit": 1,
    "maxitems": 1,
    "maxchars": 10,
    "nplusone_threshold": 0,
}


#: An option word: ``--name``, ``--name=value``, ``-x``, ``-n5``.
_OPTION = re.compile(r"--?[A-Za-z][\w-]*(?:=.*)?", re.DOTALL)
#: Tokens that open and close an f-string (Python 3.12+) or a t-string (3.14+).
_STRING_STARTS = {getattr(tokenize, f"{k}STRING_START", None) for k in "FT"} - {None}
_STRING_ENDS = {getattr(tokenize, f"{k}STRING_END", None) for k in "FT"} - {None}


def _protected_spans(line: str) -> list[tuple[int, int]]:
    """Where ``line`` is inside a string literal or brackets, as (start, end) offsets.

    Read with Python's own tokenizer. An unclosed bracket or string runs to
    the end of the line.
    """
    starts = [0]  # offset of each physical line, for the tokenizer's (row, col)
    for part in line.splitlines(keepends=True):
        starts.append(starts[-1] + len(part))

    def offset(position: tuple[int, int]) -> int:
        row, col = position
        return min(starts[max(0, min(row, len(starts)) - 1)] + col, len(line))

    spans: list[tuple[int, int]] = []
    opened = 0  # where the outermost open bracket or f-string began
    depth = 0  # brackets and f-strings open
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            kind, text = token.type, token.string
            if kind in _STRING_STARTS or (kind == tokenize.OP and text in ("(", "[", "{")):
                if depth == 0:
                    opened = offset(token.start)
                depth += 1
            elif kind in _STRING_ENDS or (kind == tokenize.OP and text in (")", "]", "}")):
                depth = max(depth - 1, 0)
                if depth == 0:
                    spans.append((opened, offset(token.end)))
            elif depth == 0 and kind == tokenize.STRING:
                spans.append((offset(token.start), offset(token.end)))
            elif depth == 0 and kind == tokenize.ERRORTOKEN and text in ("'", '"'):
                opened, depth = offset(token.start), 1  # an unterminated string (3.11)
                break
    except (tokenize.TokenError, SyntaxError) as exc:
        # 3.12+ stops at an unterminated string; an open bracket ends in EOF
        position = exc.args[1] if len(exc.args) > 1 else None
        if depth == 0 and isinstance(position, tuple) and len(position) >= 2:
            opened, depth = offset(position[:2]), 1
    if depth:
        spans.append((opened, len(line)))
    return spans


def _words(line: str) -> list[tuple[int, int]]:
    """(start, end) of each word: split at blanks outside strings and brackets."""
    protected = bytearray(len(line))
    for begin, end in _protected_spans(line):
        protected[begin:end] = b"\x01" * (end - begin)
    words: list[tuple[int, int]] = []
    start: int | None = None  # of the word being read
    for index, char in enumerate(line):
        if char.isspace() and not protected[index]:
            if start is not None:
                words.append((start, index))
            start = None
        elif start is None:
            start = index
    if start is not None:
        words.append((start, len(line)))
    return words


def split_options(line: str, valued: tuple[str, ...] = ()) -> tuple[list[str], str]:
    """Split options at either end of ``line`` from the Python expression between.

    Options are ``--name``, ``--name=value`` and ``-x`` words outside string
    literals and brackets, as Python's tokenizer reads the line: in
    ``User(name='a --flush') --flush`` only the last word is an option. An
    option named in ``valued`` takes the next word as its value (``--limit 5``).
    """
    words = _words(line)
    texts = [line[start:end] for start, end in words]

    def is_option(index: int) -> bool:
        return bool(_OPTION.fullmatch(texts[index]))

    first, last = 0, len(words)  # the expression is words[first:last]
    while first < last and is_option(first):
        first += 1
        if texts[first - 1] in valued and first < last:
            first += 1
    while last > first:
        if is_option(last - 1):
            last -= 1
        elif last - 2 >= first and texts[last - 2] in valued and is_option(last - 2):
            last -= 2
        else:
            break
    options = texts[:first] + texts[last:]
    if first >= last:
        return options, ""
    return options, line[words[first][0] : words[last - 1][1]]


@magics_class
class OrmMagic(Magics):
    """Magics that show what the SQLAlchemy ORM does, cell by cell."""

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
            raise UsageError(f"orm_magic: {exc}") from None
        try:
            self.workspace = Workspace(self.initial_url(), self.loglimit)
        except WorkspaceError as exc:
            raise UsageError(f"orm_magic: {exc}") from None
        self._pushed: dict[str, Any] = {}
        self.reporter = Reporter(lambda: self.workspace, self.display_settings)
        self._runner: ModelRunner | None = None

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

    def initial_url(self) -> str:
        """The URL to load with: ``%config OrmMagic.url`` if set, else ``ORM_MAGIC_URL``."""
        if "url" in self.config.get("OrmMagic", {}):
            return self.url
        return os.environ.get("ORM_MAGIC_URL") or self.url

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
    def _evaluate(self, magic: str, expression: str) -> Any:
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

    def _instances(self, magic: str, expression: str) -> tuple[list[Any], bool]:
        """The instances an expression gives, and whether it gave just one."""
        value = self._evaluate(magic, expression)
        try:
            items = as_instances(value, self.maxitems)
            return items, items[0] is value
        except WorkspaceError as exc:
            raise UsageError(f"%{magic}: {exc}") from None

    # -- magics -----------------------------------------------------------------
    @magic_arguments()
    @argument("--drop", action="store_true", help="(reserved) rebuild the tables empty")
    @cell_magic
    def model(self, line: str, cell: str) -> None:
        """Define declarative models and create their tables.

        The cell runs in the user namespace. ``Base``, ``Column``, ``Integer``,
        ``String``, ``ForeignKey``, ``relationship``, ``Mapped``,
        ``mapped_column`` and the rest of the common ORM vocabulary work
        without imports. Every class the cell maps gets its table created; the
        DDL and the new, empty tables are shown.
        """
        from sqlalchemy.exc import StatementError

        from .models import EXECUTING_ATTRIBUTE, ModelCellFailed, describe_failure

        args = parse_argstring(self.model, line)
        shell = self.user_shell
        executing = getattr(self, EXECUTING_ATTRIBUTE, None)
        cell_id = executing.id_of(line, cell) if executing is not None else None

        def execute(source: str) -> None:
            filename = shell.compile.cache(source, shell.execution_count)
            code = shell.compile(source, filename, "exec")
            exec(code, shell.user_global_ns, shell.user_ns)

        runner = self._model_runner()
        failed: ModelCellFailed | None = None
        with self.reporter.reporting("%%model") as reported:
            try:
                run = runner.run(cell, shell.user_ns, execute, drop=args.drop, cell_id=cell_id)
            except ModelCellFailed as exc:
                if not isinstance(exc.error, StatementError):
                    raise self.reporter.fail(describe_failure(exc), exc.error) from None
                failed = exc  # raised below, after the SQL that led to it is shown
                reported.notes.append("rolled back: the earlier models and tables are unchanged")
            else:
                reported.title = "%%model " + ", ".join(cls.__name__ for cls in run.classes)
                reported.notes.extend(run.notes)
                reported.notes.extend(change.describe() for change in run.changes)
                reported.tables.extend(run.tables)
        if failed is not None:
            raise self.reporter.fail(describe_failure(failed), failed.error) from None

    def _model_runner(self) -> ModelRunner:
        runner = self._runner
        if runner is None:
            runner = self._runner = ModelRunner(self.workspace)
        runner.workspace = self.workspace  # the book of model cells outlives a reconnect
        return runner

    def _session_op(self, magic: str, line: str, func: Callable[[list[Any]], Any]) -> Any:
        """Evaluate the line's expression and apply ``func`` to its instances.

        Returns what ``func`` returned: one item for a single instance, the
        list for an iterable.
        """
        opts, expression = split_options(line)
        args = parse_argstring(getattr(self, magic), " ".join(opts))
        instances: list[Any] = []
        single = False
        result: Any = None

        def touched() -> list[str]:
            seen: dict[str, None] = {}
            for obj in instances[: self.displaylimit]:
                for table in inspect(obj).mapper.tables:
                    seen.setdefault(table.fullname, None)
            return list(seen)

        with self.reporter.reporting(f"%{magic} {expression}".strip(), touched) as reported:
            instances, single = self._instances(magic, expression)
            try:
                check_states(magic.removeprefix("orm_"), instances, self.workspace.session)
            except WorkspaceError as exc:
                raise UsageError(f"%{magic}: {exc}") from None
            result = func(instances)
            if args.flush:
                self.workspace.flush()
            reported.notes.extend(self.workspace.state_notes(instances, self.displaylimit))
        if isinstance(result, list) and single:
            return result[0]
        return result

    @no_var_expand
    @magic_arguments()
    @argument("--flush", action="store_true", help="flush right after adding")
    @argument("expression", nargs="*", help="an instance, or an iterable of instances")
    @line_magic
    def orm_add(self, line: str) -> None:
        """Add instances to the session (``session.add`` / ``add_all``).

        No SQL is emitted until the next flush: the objects become pending.
        """
        self._session_op("orm_add", line, self.workspace.add)

    @no_var_expand
    @magic_arguments()
    @argument("--flush", action="store_true", help="flush right after merging")
    @argument("expression", nargs="*", help="an instance, or an iterable of instances")
    @line_magic
    def orm_merge(self, line: str) -> Any:
        """Merge instances into the session (``session.merge``).

        Returns the merged instance, or a list of them for an iterable.
        """
        return self._session_op("orm_merge", line, self.workspace.merge)

    @no_var_expand
    @magic_arguments()
    @argument("--flush", action="store_true", help="flush right after deleting")
    @argument("expression", nargs="*", help="an instance, or an iterable of instances")
    @line_magic
    def orm_delete(self, line: str) -> None:
        """Mark persistent instances for deletion (``session.delete``)."""
        self._session_op("orm_delete", line, self.workspace.delete)

    def _transaction_op(self, magic: str, line: str, func: Callable[[], None]) -> None:
        parse_argstring(getattr(self, magic), line)
        with self.reporter.reporting(f"%{magic}"):
            func()

    @magic_arguments()
    @line_magic
    def orm_flush(self, line: str) -> None:
        """Flush the session: emit the pending INSERT/UPDATE/DELETE (``session.flush``)."""
        self._transaction_op("orm_flush", line, self.workspace.flush)

    @magic_arguments()
    @line_magic
    def orm_commit(self, line: str) -> None:
        """Flush and commit the session's transaction (``session.commit``)."""
        self._transaction_op("orm_commit", line, self.workspace.commit)

    @magic_arguments()
    @line_magic
    def orm_rollback(self, line: str) -> None:
        """Roll back the session's transaction (``session.rollback``)."""
        self._transaction_op("orm_rollback", line, self.workspace.rollback)

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
        return render.log_frame(statements)

    @magic_arguments()
    @argument("--yes", action="store_true", help="really drop the models' tables")
    @line_magic
    def orm_reset(self, line: str) -> None:
        """Start over: a fresh empty database, ``Base`` and session.

        On a database that is not in memory (a file, a server) this drops the
        tables of the workspace's own models, and no other table, so it asks
        for ``--yes`` first.
        """
        args = parse_argstring(self.orm_reset, line)
        url = self.workspace.url
        self.reporter.end_cell()
        note = "a fresh database, Base and session"
        lost = self.workspace.unsaved()
        if not is_memory_url(url):
            tables = sorted(self.workspace.tables())
            if not args.yes:
                raise UsageError(
                    f"%orm_reset drops the tables {', '.join(tables) or '(none yet)'} on "
                    f"{safe_url(url)}; run %orm_reset --yes to do so"
                )
            self.workspace.session.close()
            with self.reporter.reporting("%orm_reset --yes"):
                self.workspace.drop_own_tables()
            note = f"dropped {', '.join(tables) or 'no tables'}; a fresh Base and session"
        old = self.workspace
        self.workspace = Workspace(url, self.loglimit)
        self._runner = None  # the model cells of before the reset are forgotten too
        old.close()
        self.push_namespace()
        notes = [note] + ([f"the old session's work was discarded: {lost}"] if lost else [])
        display(CellReport(title="%orm_reset", notes=notes))

    # -- connecting ---------------------------------------------------------------
    @no_var_expand
    @magic_arguments()
    @argument("url", nargs="?", help="a SQLAlchemy URL; none shows the current connection")
    @line_magic
    def orm_connect(self, line: str) -> None:
        """Connect the workspace to a database: ``%orm_connect postgresql+psycopg://u:p@host/db``.

        Any SQLAlchemy URL works: ``sqlite://`` (in memory), ``sqlite:///file.db``,
        ``postgresql+psycopg://user:password@host:port/db``. The connection is
        tested first; the tables of every model defined so far are created
        where missing, and ``engine`` and ``session`` are replaced in the
        namespace. A URL that fails leaves the workspace where it was. Without
        a URL, shows the current connection. Passwords are never shown.
        """
        # The whole line is the URL, as typed: split into words (or stripped
        # of quotes) a password with a blank or a quote would reach error
        # messages in pieces.
        url = line.strip()
        if len(url) >= 2 and url[0] == url[-1] and url[0] in "'\"":
            url = url[1:-1].strip()
        if not url:
            display(
                CellReport(title="%orm_connect", notes=self._connection_notes(), show_sql=False)
            )
            return
        self.reporter.end_cell()
        unsaved = self.workspace.unsaved()  # the old session closes on success
        try:
            capture = self.workspace.connect(url)
        except WorkspaceError as exc:
            raise self.reporter.fail(f"%orm_connect: {exc}", exc) from None
        self.push_namespace()
        notes = self._connection_notes()
        if unsaved:
            notes.append(f"the previous session was closed: {unsaved}")
        title = f"%orm_connect {safe_url(url)}"
        report = CellReport.from_capture(title, capture, notes=notes)
        self.reporter.show(report, sorted(self.workspace.tables()))

    def _connection_notes(self) -> list[str]:
        url = self.workspace.url
        where = "in memory" if is_memory_url(url) else self.workspace.engine.dialect.name
        models = ", ".join(sorted(self.workspace.all_models())) or "none yet"
        return [f"connected to {safe_url(url)} ({where}); models: {models}"]
