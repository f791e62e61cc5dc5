"""Differential runs: the same steps through orm_magic and through plain SQLAlchemy.

A *step* is one notebook cell. :func:`run_plain` runs steps with ``exec`` on an
engine made the plain way (``create_engine(url)``, no orm_magic anywhere) and
reads what SQLAlchemy's own ``echo`` logging says it sent; :func:`run_shell`
runs them as cells of a real InteractiveShell with orm_magic loaded and reads
the workspace's SQL log. Both give a :class:`Run`: per step, the statements
with their parameters as Python values, what was printed and the type of any
error; then the rows of every table. :func:`assert_same_run` compares two runs
and fails with a unified diff of their readable forms.
"""

from __future__ import annotations

import contextlib
import difflib
import io
from dataclasses import dataclass, field
from pprint import pformat
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session

from .core.echo import echo_log
from .helpers import error_name, run

#: The SQL a statement was sent with and its parameters, as Python values.
Sent = tuple[str, Any]


@dataclass(frozen=True)
class Step:
    """One cell of a page, in each of the three forms it is run in.

    ``page`` is the documentation's own code (the verbatim form, on the page's
    own ``Base`` and ``Session(engine)``). ``plain`` is the same step on the
    workspace's ``session`` and ``Base``; ``magic`` the same again as magics.
    Each defaults to the one before. A ``model`` step defines mapped classes:
    the workspace forms run ``plain`` as a ``%%model`` cell, plain SQLAlchemy
    runs it followed by ``Base.metadata.create_all(engine)``.
    """

    page: str
    plain: str | None = None
    magic: str | None = None
    model: bool = False

    def code(self, form: str) -> str:
        """The cell as ``form`` ("page", "plain" or "magic") runs it in the shell."""
        plain = self.page if self.plain is None else self.plain
        if form == "page":
            return self.page
        if self.model:
            return "%%model\n" + plain
        if form == "magic" and self.magic is not None:
            return self.magic
        return plain

    def reference(self, form: str) -> str:
        """The same cell as plain SQLAlchemy runs it (no magics)."""
        if form == "page":
            return self.page
        plain = self.page if self.plain is None else self.plain
        if self.model:
            return plain + "\nBase.metadata.create_all(engine)\n"
        return plain


@dataclass
class Outcome:
    """What one step did."""

    code: str
    sent: list[Sent] = field(default_factory=list)
    stdout: str = ""
    error: str | None = None  # the exception's type name


@dataclass
class Run:
    """What a sequence of steps did, and the rows left in every table."""

    steps: list[Outcome]
    rows: dict[str, list[tuple[Any, ...]]]

    def text(self, labels: list[str] | None = None) -> str:
        """A readable form, one line per fact, for a diff; each step headed by its label."""
        lines = []
        for number, step in enumerate(self.steps, 1):
            code = labels[number - 1] if labels else step.code
            lines.append(f"[{number}] {(code.strip().splitlines() or [''])[0]}")
            for sql, parameters in step.sent:
                lines.append("    " + " ".join(sql.split()))
                if parameters not in (None, (), {}, []):
                    lines.append(f"        {parameters!r}")
            if step.stdout:
                lines += [f"  | {line}" for line in step.stdout.rstrip("\n").split("\n")]
            if step.error:
                lines.append(f"  ! {step.error}")
        for table, rows in sorted(self.rows.items()):
            lines.append(f"table {table}: {len(rows)} rows")
            lines += [f"    {row!r}" for row in rows]
        return "\n".join(lines)


def assert_same_run(observed: Run, expected: Run) -> None:
    """Fail with a unified diff unless the runs agree on every fact."""
    # both headed by the cells as orm_magic ran them: the forms' code differs
    labels = [step.code for step in observed.steps]
    if observed.text(labels) == expected.text(labels) and _facts(observed) == _facts(expected):
        return
    diff = difflib.unified_diff(
        expected.text(labels).splitlines(),
        observed.text(labels).splitlines(),
        "plain SQLAlchemy",
        "orm_magic",
        lineterm="",
        n=4,
    )
    report = "\n".join(diff)
    if not report:  # the texts agree, the values do not (say 1 and 1.0, or () and None)
        report = (
            f"plain SQLAlchemy:\n{pformat(_facts(expected))}\n"
            f"orm_magic:\n{pformat(_facts(observed))}"
        )
    raise AssertionError("orm_magic diverges from plain SQLAlchemy:\n" + report)


def _facts(run: Run) -> Any:
    # the values themselves, beside the text: 1 and True print alike
    return [(s.sent, s.stdout, s.error) for s in run.steps], run.rows


# -- plain SQLAlchemy ---------------------------------------------------------------
def plain_namespace(engine: Engine, form: str) -> dict[str, Any]:
    """What a plain notebook would hold in the place of orm_magic's names."""
    namespace: dict[str, Any] = {"__name__": "__main__", "engine": engine}
    if form != "page":

        class Base(DeclarativeBase):
            pass

        namespace.update(Base=Base, session=Session(engine))
    return namespace


def run_plain(url: str, steps: list[Step], form: str) -> Run:
    """Run ``steps`` with plain SQLAlchemy on a plain engine for ``url``."""
    engine = create_engine(url)
    # The dialect's one-time first-connect queries (PostgreSQL's version,
    # schema and settings) run before the first step, as orm_magic's do at load.
    engine.connect().close()
    namespace = plain_namespace(engine, form)
    outcomes = []
    with echo_log() as records:
        for step in steps:
            code = step.reference(form)
            start = len(records.sent)
            out = io.StringIO()
            error = None
            with contextlib.redirect_stdout(out):
                try:
                    exec(compile(code, "<cell>", "exec"), namespace)
                except Exception as exc:  # the step's own error, compared by type
                    error = type(exc).__name__
            outcomes.append(Outcome(code, list(records.sent[start:]), out.getvalue(), error))
    rows = table_rows(url, engine)
    # The steps' sessions hold connections: closed here, not when collected
    # (on PostgreSQL, after the next test has emptied the database).
    for value in list(namespace.values()):
        if isinstance(value, Session):
            value.close()
    engine.dispose()
    return Run(outcomes, rows)


# -- orm_magic ----------------------------------------------------------------------
#: IPython's traceback starts with a rule of dashes; what comes before it was printed.
_TRACEBACK_RULE = "-" * 75


def printed(stdout: str, failed: bool) -> str:
    """What the cell printed, without the traceback IPython prints after a failure."""
    if failed and _TRACEBACK_RULE in stdout:
        rule = stdout.index(_TRACEBACK_RULE)
        return stdout[: stdout.rfind("\n", 0, rule) + 1]
    return stdout


def run_shell(shell: InteractiveShell, steps: list[Step], form: str) -> Run:
    """Run ``steps`` as cells of ``shell``, where orm_magic is loaded."""
    workspace = shell._orm_magic.workspace
    outcomes = []
    for step in steps:
        code = step.code(form)
        log = workspace.recorder.log
        last = log[-1].seq if log else -1
        ran = run(shell, code, ok=False)
        failure = ran.result.error_before_exec or ran.result.error_in_exec
        sent = [(s.sql.strip(), s.parameters) for s in workspace.recorder.log if s.seq > last]
        outcomes.append(
            Outcome(code, sent, printed(ran.stdout, failure is not None), error_name(failure))
        )
    return Run(outcomes, table_rows(workspace.url, shell.user_ns["engine"]))


# -- the rows left behind -----------------------------------------------------------
def table_rows(url: str, engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, read after the steps.

    On a file or a server, with a fresh plain engine: only committed rows.
    In memory there is no other connection to the database than the
    engine's own; its DBAPI connection is read directly, so that no
    BEGIN or ROLLBACK of SQLAlchemy's touches a transaction left open.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raw = engine.raw_connection()
        cursor = raw.cursor()
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        names = [name for (name,) in cursor.fetchall()]
        rows = {}
        for name in names:
            cursor.execute(f'SELECT * FROM "{name}"')
            rows[name] = sorted((tuple(row) for row in cursor.fetchall()), key=repr)
        cursor.close()
        # The pool's reset-on-return would roll back on the shared connection:
        # this is the last thing a test does, after everything was compared.
        raw.close()
        return rows
    fresh = create_engine(url)
    try:
        with fresh.connect() as conn:
            # quoted as the dialect quotes: MySQL reads "name" as a string
            quote = conn.dialect.identifier_preparer.quote
            return {
                name: sorted(
                    (tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {quote(name)}")),
                    key=repr,
                )
                for name in inspect(conn).get_table_names()
            }
    finally:
        fresh.dispose()
