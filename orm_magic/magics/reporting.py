"""From captured SQL to a report below the cell.

:class:`Reporter` wraps a block (a magic's work, or a whole cell) in a
capture, turns a database error into one line after showing the SQL that led
to it, and displays a :class:`CellReport` with the tables the block touched.
It knows the workspace and the display settings only through callables, so it
always reports on the current database with the current ``%config``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display
from sqlalchemy.exc import SQLAlchemyError

from ..core.unitofwork import attach, session_states
from ..core.workspace import Workspace
from ..data.statements import Capture
from ..data.tables import Pending, TableData
from ..present.report import CellReport
from ..present.tables import DEFAULT_MAXCHARS


@dataclass(frozen=True)
class DisplaySettings:
    """The configuration a report needs, read from the traits when it is made."""

    displaylimit: int = 10
    countlimit: int = 10_000
    maxchars: int = DEFAULT_MAXCHARS
    echo: bool = True
    nplusone_threshold: int = 5
    short_errors: bool = True


@dataclass
class Reported:
    """What a magic adds to its report while it runs."""

    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # shown besides those written to
    frames: list[Any] = field(default_factory=list)  # result tables (%orm_query)
    #: the session's pending objects just before the step that may fail: a
    #: failed flush takes them out of the pending set, and its error names them
    before: Pending | None = None


#: Distinct warnings shown per report; the rest are counted.
WARNING_NOTES = 3


def warning_notes(caught: list[warnings.WarningMessage]) -> list[str]:
    """Warnings raised inside a magic, as report notes: distinct, bounded."""
    seen: dict[str, None] = {}
    for item in caught:
        seen.setdefault(f"{item.category.__name__}: {item.message}", None)
    notes = [f"warning — {text}" for text in list(seen)[:WARNING_NOTES]]
    if len(seen) > WARNING_NOTES:
        notes.append(f"… and {len(seen) - WARNING_NOTES} more warnings")
    return notes


class Reporter:
    """Captures, reports and displays the SQL of magics and plain cells."""

    def __init__(
        self, workspace: Callable[[], Workspace], settings: Callable[[], DisplaySettings]
    ) -> None:
        self.workspace = workspace
        self.settings = settings
        self._cell: ExitStack | None = None
        self._cell_capture: Capture | None = None

    def fail(self, message: str, exc: BaseException | None = None) -> UsageError:
        """The one-line error for a user's mistake (or ``exc`` itself, re-raised,
        when ``OrmMagic.short_errors`` is off)."""
        if exc is not None and not self.settings().short_errors:
            raise exc
        return UsageError(message)

    @contextmanager
    def reporting(
        self, title: str, tables: Callable[[], Iterable[str]] = tuple
    ) -> Iterator[Reported]:
        """Capture the block's SQL, then display it with the tables it touched.

        Yields a :class:`Reported` for notes and a better title. A session left
        failed by earlier code is rolled back first, and said so. A database
        error becomes one line, after the SQL that led to it is shown (see
        :meth:`database_error` for what is rolled back). Any other exception
        propagates with nothing shown.
        """
        reported = Reported(title)
        error: UsageError | None = None
        with self.workspace().recorder.capture() as capture:
            recovered = self.workspace().recover()
            reported.before = self.workspace().pending()
            if recovered:
                reported.notes.append(
                    f"the session's transaction had failed earlier; rolled back first: {recovered}"
                )
            with warnings.catch_warnings(record=True) as caught:
                # SQLAlchemy's warnings would point into orm_magic's code;
                # they belong to the cell, as notes of its report.
                warnings.simplefilter("always")
                try:
                    yield reported
                except SQLAlchemyError as exc:
                    error = self.database_error(reported.title, exc, reported, reported.before)
            reported.notes.extend(warning_notes(caught))
        names = list(capture.tables)
        if error is None:
            names += [t for t in [*tables(), *reported.tables] if t not in names]
        report = CellReport.from_capture(
            reported.title, capture, notes=reported.notes, frames=reported.frames
        )
        self.show(report, names)
        if error is not None:
            raise error

    def database_error(
        self,
        title: str,
        exc: SQLAlchemyError,
        reported: Reported,
        before: Pending | None = None,
    ) -> UsageError:
        """One line saying what failed and why, and what was rolled back.

        Only a failed flush is rolled back here, as plain SQLAlchemy requires
        before the session can be used again. A failed statement leaves the
        transaction as plain SQLAlchemy leaves it: still open on SQLite;
        aborted on PostgreSQL, where the next magic rolls it back and says so.
        ``before`` is the pending set as the operation started, since a
        failed flush has already moved its objects out of it.
        """
        workspace = self.workspace()
        message = f"{title}: {workspace.describe_error(exc)}"
        if workspace.session_failed():
            outcome = workspace.recover(before=before)
            message += f" — rolled back: {outcome}; committed rows are unchanged"
            reported.notes.append(f"rolled back: {outcome}")
        elif workspace.transaction_aborted():
            note = "the transaction is aborted; the next magic rolls it back"
            message += f" — {note}"
            reported.notes.append(note)
        return self.fail(message, exc)

    def show(self, report: CellReport, table_names: Iterable[str] = (), sql: bool = True) -> None:
        known = self.workspace().tables()
        shown = [known[name] for name in table_names if name in known]
        # the unit of work beside each table, read from memory: no SQL
        states = session_states(self.workspace().session) if shown else []
        limit = self.settings().displaylimit
        report.tables = [attach(self.read(table), table, states, limit) for table in shown]
        report.show_sql = sql and self.settings().echo
        report.nplusone_threshold = self.settings().nplusone_threshold
        report.maxchars = self.settings().maxchars
        pending = self.workspace().pending_summary()
        if pending:
            report.notes.append(f"session: {pending}")
        lost = self.workspace().take_reconnects()  # counted after the displays' reads too
        if lost:
            report.notes.append(
                "the connection to the database was lost and re-established (pool_pre_ping); "
                "committed rows are kept, work not yet committed was rolled back"
            )
        display(report)

    def read(self, table: Any) -> TableData:
        """The first rows and the capped count of ``table``."""
        settings = self.settings()
        return self.workspace().read_table(table, settings.displaylimit, settings.countlimit)

    # -- plain cells ------------------------------------------------------------
    def start_cell(self, *args: Any) -> None:
        """Start collecting the SQL of a cell that no magic claims."""
        self.end_cell()
        self._cell = ExitStack()
        self._cell_capture = self._cell.enter_context(self.workspace().recorder.capture())

    def finish_cell(self, *args: Any) -> None:
        """Show the SQL that plain code in the cell emitted, if any."""
        capture = self._cell_capture
        self.end_cell()
        if capture is None or not capture.count or not self.settings().echo:
            return
        result = args[0] if args else None
        count = getattr(result, "execution_count", None)
        title = f"In [{count}]" if count else "this cell"
        self.show(CellReport.from_capture(title, capture), list(capture.tables))

    def end_cell(self) -> None:
        if self._cell is not None:
            self._cell.close()
        self._cell = None
        self._cell_capture = None
