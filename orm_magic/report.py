"""What a cell caused, as a value that renders itself below the cell."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from . import render
from .capture import Capture, Statement
from .workspace import TableData


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

    @classmethod
    def from_capture(cls, title: str, capture: Capture, **kwargs: object) -> CellReport:
        return cls(
            title=title,
            statements=capture.statements,
            omitted=capture.omitted,
            count=capture.count,
            rowcount=capture.rowcount,
            elapsed=capture.elapsed,
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

    # -- rendering --------------------------------------------------------
    def _repr_html_(self) -> str:
        parts = [f'<div class="orm-magic {render.NO_MATH}" style="font-size:13px">']
        if self.show_sql:
            parts.append(
                f'<div style="opacity:.75">{html.escape(self.title)} — '
                f"{html.escape(self.summary())}</div>"
            )
            if self.statements:
                blocks = [render.statement_html(s) for s in self.head]
                if self.omitted:
                    blocks.append(f"<i>… {self.omitted:,} statements not shown …</i>")
                    blocks.extend(render.statement_html(s) for s in self.tail)
                parts.append(
                    '<pre style="margin:.3em 0;padding:.4em .6em;white-space:pre-wrap;'
                    'border-left:3px solid var(--jp-brand-color1, #2196f3)">'
                    + "\n".join(blocks)
                    + "</pre>"
                )
        parts.extend(f"<div>{html.escape(note)}</div>" for note in self.notes)
        parts.extend(render.table_html(table) for table in self.tables)
        parts.append("</div>")
        return "".join(parts)

    def __repr__(self) -> str:
        lines: list[str] = []
        if self.show_sql:
            lines.append(f"-- {self.title}: {self.summary()}")
            lines.extend(render.statement_text(s) for s in self.head)
            if self.omitted:
                lines.append(f"-- … {self.omitted:,} statements not shown …")
                lines.extend(render.statement_text(s) for s in self.tail)
        lines.extend(f"-- {note}" for note in self.notes)
        lines.extend(render.table_text(table) for table in self.tables)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None
    ) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}
