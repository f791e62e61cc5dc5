"""Table snapshots and small result tables as text and HTML, values bounded.

Built once from cell strings by :mod:`.grid`, without pandas. Every value
that reaches HTML goes through :func:`html.escape`.
"""

from __future__ import annotations

import datetime
import decimal
import html
import uuid
from typing import Any

from ..data.tables import DELETED, MODIFIED, NEW, Change, Frame, TableData
from .grid import grid_html, grid_text

#: Characters of one value shown, unless ``OrmMagic.maxchars`` says otherwise.
DEFAULT_MAXCHARS = 200
#: Values shown as they are: their text is short.
_PLAIN = (int, float, decimal.Decimal, datetime.date, datetime.time, datetime.timedelta, uuid.UUID)

#: Classes that MathJax 2 and 3 skip, so that ``$x$`` in a value stays text.
NO_MATH = "tex2jax_ignore mathjax_ignore"

#: Cell spacing and a rule under the header for pages without a notebook stylesheet
#: (VS Code, Colab, an exported page without JupyterLab's CSS), where the cells
#: would touch. Every selector is inside ``:where()``, which has no specificity, so
#: any rule of the page's own (JupyterLab's ``.jp-RenderedHTMLCommon td``) wins there.
TABLE_STYLE = (
    "<style>:where(.orm-magic table.dataframe){border-collapse:collapse}"
    ":where(.orm-magic table.dataframe :is(th,td)){padding:.2em .6em;text-align:right}"
    ":where(.orm-magic table.dataframe thead th){border-bottom:1px solid rgba(128,128,128,.6)}"
    "</style>"
)


def row_count_text(data: TableData) -> str:
    if data.error is not None:
        return f"could not be read: {data.error}"
    total = f"{data.total:,}" if data.total is not None else f"more than {data.count_limit:,}"
    if data.estimated and data.total is not None:
        total = f"≈ {approximate(data.total)}"
    shown = len(data.rows)
    noun = "row" if data.total == 1 else "rows"
    if data.total is not None and shown >= data.total:
        text = f"{total} {noun}"
    else:
        text = f"first {shown:,} of {total} {noun}"
    if data.estimated:
        text += " (the planner's estimate)"
    if data.session is not None:
        text += f" · {session_counts_text(data)}"
    if data.note:
        text += f" · {data.note}"
    return text


def approximate(number: int) -> str:
    """``1.2M``, ``35k``: a number as an estimate reads, two significant digits."""
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if number >= size:
            value = f"{number / size:.2g}" if number < 100 * size else f"{number // size:,}"
            return value + suffix
    return f"{number:,}"


def session_counts_text(data: TableData) -> str:
    """``unflushed: 1 new, 2 modified`` for a table the session has changes to."""
    counts = data.session.counts
    parts = [f"{counts[s]:,} {s}" for s in (NEW, MODIFIED, DELETED) if counts.get(s)]
    text = "unflushed: " + ", ".join(parts)
    if data.session.omitted:
        text += f" ({data.session.omitted:,} not shown)"
    return text


def bounded(value: Any, maxchars: int = DEFAULT_MAXCHARS) -> Any:
    """A value as a table shows it: binary by its size, text past ``maxchars``
    cut with ``…`` and its full length; numbers and dates as they are."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        size = value.nbytes if isinstance(value, memoryview) else len(value)
        return f"<bytes: {size:,}>"
    if value is None or isinstance(value, _PLAIN):
        return value
    text = value if isinstance(value, str) else str(value)
    if len(text) <= maxchars:
        return value
    return f"{text[:maxchars]}… ({len(text):,} characters)"


def cell_text(value: Any, maxchars: int = DEFAULT_MAXCHARS) -> str:
    """One value as shown, bounded: ``NULL`` for None, a change as ``old → new``."""
    if isinstance(value, Change):
        return f"{cell_text(value.old, maxchars)} → {cell_text(value.new, maxchars)}"
    return "NULL" if value is None else str(bounded(value, maxchars))


def session_records(data: TableData) -> list[tuple[str, tuple[Any, ...]]]:
    """(state, values) per row: database rows (marked where the session changed
    them), then the session's rows the database does not show."""
    view = data.session
    records = []
    for index, row in enumerate(data.rows):
        mark = view.marks.get(index)
        records.append((mark.state, mark.values) if mark else ("", row))
    records.extend((row.state, row.values) for row in view.extra)
    return records


#: Row and cell styles of the session's marks; colours readable on light and dark themes.
_ROW_STYLE = {
    NEW: "background:rgba(46,160,67,.18)",
    DELETED: "background:rgba(248,81,73,.15)",
    MODIFIED: "",
}
_CHANGE_STYLE = "background:rgba(210,153,34,.25)"


def _session_cell_html(value: Any, state: str, maxchars: int) -> str:
    if isinstance(value, Change):
        return (
            f'<td style="{_CHANGE_STYLE}"><s>{html.escape(cell_text(value.old, maxchars))}</s> → '
            f"<b>{html.escape(cell_text(value.new, maxchars))}</b></td>"
        )
    text = html.escape(cell_text(value, maxchars))
    return f"<td><s>{text}</s></td>" if state == DELETED else f"<td>{text}</td>"


def session_table_html(data: TableData, maxchars: int = DEFAULT_MAXCHARS) -> str:
    """The rows of a table the session has changes to, with a ``state`` column."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["state", *data.columns])
    body = []
    for state, values in session_records(data):
        cells = "".join(_session_cell_html(v, state, maxchars) for v in values)
        label = f"<td><i>{html.escape(state)}</i></td>" if state else "<td></td>"
        body.append(f'<tr style="{_ROW_STYLE.get(state, "")}">{label}{cells}</tr>')
    return (
        '<table class="dataframe" border="0"><thead><tr style="text-align:right">'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def table_html(data: TableData, maxchars: int = DEFAULT_MAXCHARS) -> str:
    if data.session is not None:
        body = session_table_html(data, maxchars)
    else:
        rows = [([cell_text(v, maxchars) for v in row], "") for row in data.rows]
        body = grid_html(data.columns, rows)
    return (
        f'<div style="margin:.4em 0 .2em 0"><b>{html.escape(data.name)}</b> '
        f'<span style="opacity:.7">· {html.escape(row_count_text(data))}</span></div>'
        f'<div style="overflow-x:auto">{body}</div>'
    )


def table_text(data: TableData, maxchars: int = DEFAULT_MAXCHARS) -> str:
    header = f"-- {data.name}: {row_count_text(data)}"
    if data.session is not None:
        columns = ["state", *data.columns]
        rows = [
            [state, *(cell_text(v, maxchars) for v in values)]
            for state, values in session_records(data)
        ]
    else:
        columns = list(data.columns)
        rows = [[cell_text(v, maxchars) for v in row] for row in data.rows]
    if not rows:
        return f"{header}\n   ({', '.join(data.columns)})"
    return f"{header}\n" + "\n".join("   " + line for line in grid_text(columns, rows))


def frame_html(frame: Frame, maxchars: int = DEFAULT_MAXCHARS) -> str:
    """``frame`` as an escaped HTML table under its caption, values bounded."""
    note = f' <span style="opacity:.7">· {html.escape(frame.note)}</span>' if frame.note else ""
    head = f'<div style="margin:.4em 0 .2em 0"><b>{html.escape(frame.caption)}</b>{note}</div>'
    if not frame.rows:
        return head
    rows = [([cell_text(v, maxchars) for v in row], "") for row in frame.rows]
    return f'{head}<div style="overflow-x:auto">{grid_html(frame.columns, rows)}</div>'


def frame_text(frame: Frame, maxchars: int = DEFAULT_MAXCHARS) -> str:
    """``frame`` as text under a ``-- caption`` line, values bounded."""
    header = f"-- {frame.caption}" + (f": {frame.note}" if frame.note else "")
    if not frame.rows:
        return header
    rows = [[cell_text(v, maxchars) for v in row] for row in frame.rows]
    return f"{header}\n" + "\n".join("   " + line for line in grid_text(frame.columns, rows))
