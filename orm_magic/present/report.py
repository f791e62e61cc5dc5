"""What a cell caused, as a value that renders itself below the cell."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from ..data.statements import Capture, Repeat, Statement
from ..data.tables import Frame, TableData
from ..data.text import shorten
from .sql import statement_html, statement_text
from .tables import (
    DEFAULT_MAXCHARS,
    NO_MATH,
    TABLE_STYLE,
    frame_html,
    frame_text,
    table_html,
    table_text,
)


@dataclass
class CellReport:
    """The SQL a cell (or one magic) emitted, notes, and the tables it touched.

    Everything needed to render is held here; rendering reads no configuration.
    """

    title: str
    statements: list[Statement] = field(default_factory=list)
    #: statements emitted but not kept (the middle of a very long run)
    omitted: int = 0
    count: int = 0  # every statement, kept or not, transaction boundaries included
    rowcount: int = 0
    elapsed: float = 0.0
    notes: list[str] = field(default_factory=list)
    tables: list[TableData] = field(default_factory=list)
    show_sql: bool = True
    #: SELECTs sent more than once with different parameters (N+1 candidates)
    repeats: list[Repeat] = field(default_factory=list)
    #: how many repeats of one SELECT make an N+1 report; 0 turns it off
    nplusone_threshold: int = 5
    #: other small tables to show (a query's result)
    frames: list[Frame] = field(default_factory=list)
    #: characters shown of one value in a table (``OrmMagic.maxchars``)
    maxchars: int = DEFAULT_MAXCHARS

    @classmethod
    def from_capture(cls, title: str, capture: Capture, **kwargs: object) -> CellReport:
        """A report of the statements ``capture`` holds."""
        return cls(
            title=title,
            statements=capture.statements,
            omitted=capture.omitted,
            count=capture.count,
            rowcount=capture.rowcount,
            elapsed=capture.elapsed,
            repeats=capture.repeated(2),
            **kwargs,  # type: ignore[arg-type]
        )

    # -- summary ----------------------------------------------------------
    @property
    def head(self) -> list[Statement]:
        """Statements before the omitted middle."""
        if not self.omitted:
            return self.statements
        return self.statements[: len(self.statements) // 2]

    @property
    def tail(self) -> list[Statement]:
        if not self.omitted:
            return []
        return self.statements[len(self.statements) // 2 :]

    def summary(self) -> str:
        """One line: statements, rows affected, time in the database."""
        if not self.count:
            return "no SQL emitted"
        noun = "statement" if self.count == 1 else "statements"
        rows = "row" if self.rowcount == 1 else "rows"
        return (
            f"{self.count:,} {noun} · {self.rowcount:,} {rows} affected · "
            f"{self.elapsed * 1000:.1f} ms in the database"
        )

    @property
    def nplusone(self) -> list[Repeat]:
        """The repeats that reach the threshold: the N+1 pattern."""
        if self.nplusone_threshold <= 0:
            return []
        return [r for r in self.repeats if r.count >= self.nplusone_threshold]

    def nplusone_notes(self) -> list[str]:
        """One line per N+1 pattern found, naming the relationship where known."""
        notes = []
        for repeat in self.nplusone:
            times = f"the same SELECT ran {repeat.count:,} times with different parameters"
            if repeat.loader:
                notes.append(
                    f"N+1: {times}, lazy-loading {repeat.loader} once per object; "
                    f"load it up front with selectinload({repeat.loader})"
                )
            else:
                sql = " ".join(repeat.sql.split())
                notes.append(f"N+1: {times}: {shorten(sql, 80)}")
        return notes

    # -- rendering --------------------------------------------------------
    def _repr_html_(self) -> str:
        parts = [f'<div class="orm-magic {NO_MATH}" style="font-size:13px">{TABLE_STYLE}']
        if self.show_sql:
            parts.append(f'<div style="opacity:.75">{html.escape(self.title)}</div>')
            if self.statements:
                blocks = [statement_html(s) for s in self.head]
                if self.omitted:
                    blocks.append(f"<i>… {self.omitted:,} statements not shown …</i>")
                    blocks.extend(statement_html(s) for s in self.tail)
                parts.append(
                    # a monospace font even where the page's pre rule names an undefined variable
                    '<pre style="margin:.3em 0;padding:.4em .6em;white-space:pre-wrap;'
                    "font-family:var(--jp-code-font-family, monospace);"
                    'border-left:3px solid var(--jp-brand-color1, #2196f3)">'
                    + "\n".join(blocks)
                    + "</pre>"
                )
        parts.extend(
            # the theme's warning colour; else orange mixed into the text colour, which
            # keeps the text's contrast on any background (see sql._token_colour)
            '<div style="color:var(--jp-warn-color0, color-mix(in srgb, currentColor 50%, '
            '#e8590c));font-weight:bold">⚠ ' + html.escape(note) + "</div>"
            for note in self.nplusone_notes()
        )
        # pre-wrap: a migration note is Alembic's code, whose indentation is its meaning
        parts.extend(
            f'<div style="white-space:pre-wrap">{html.escape(note)}</div>' for note in self.notes
        )
        parts.extend(frame_html(frame, self.maxchars) for frame in self.frames)
        parts.extend(table_html(table, self.maxchars) for table in self.tables)
        if self.show_sql:
            parts.append(
                '<div style="opacity:.75;margin-top:.3em;'
                'border-top:1px solid rgba(128,128,128,.3)">'
                f"{html.escape(self.summary())}</div>"
            )
        parts.append("</div>")
        return "".join(parts)

    def __repr__(self) -> str:
        lines: list[str] = []
        if self.show_sql:
            lines.append(f"-- {self.title}")
            lines.extend(statement_text(s) for s in self.head)
            if self.omitted:
                lines.append(f"-- … {self.omitted:,} statements not shown …")
                lines.extend(statement_text(s) for s in self.tail)
        lines.extend(f"-- ⚠ {note}" for note in self.nplusone_notes())
        lines.extend(f"-- {note}" for note in self.notes)
        lines.extend(frame_text(frame, self.maxchars) for frame in self.frames)
        lines.extend(table_text(table, self.maxchars) for table in self.tables)
        if self.show_sql:
            lines.append(f"-- {self.summary()}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}
