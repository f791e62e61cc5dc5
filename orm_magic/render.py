"""Pure functions from captured statements and table rows to HTML and text.

The only module that imports pandas, and only when a table is rendered, so
that ``%load_ext orm_magic`` stays fast. Every value that reaches HTML goes
through :func:`html.escape` (directly, or through Pygments and pandas, which
escape too).
"""

from __future__ import annotations

import datetime
import decimal
import functools
import html
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .capture import Statement
from .unitofwork import DELETED, MODIFIED, NEW, Change

if TYPE_CHECKING:
    import pandas as pd

    from .data import TableData

#: Longest statement text shown; the rest is counted.
SQL_CHARS = 2000
#: Longest rendering of one statement's parameters.
PARAMETER_CHARS = 500

#: Characters of one value shown, unless ``OrmMagic.maxchars`` says otherwise.
DEFAULT_MAXCHARS = 200
#: Values shown as they are: their text is short.
_PLAIN = (int, float, decimal.Decimal, datetime.date, datetime.time, datetime.timedelta, uuid.UUID)

#: Classes that MathJax 2 and 3 skip, so that ``$x$`` in a value stays text.
NO_MATH = "tex2jax_ignore mathjax_ignore"


def clock(timestamp: float) -> str:
    """``HH:MM:SS.mmm`` of a ``time.time()`` value, local time."""
    moment = datetime.datetime.fromtimestamp(timestamp)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]} … ({len(text) - limit:,} characters more)"


def statement_sql(statement: Statement) -> str:
    """The statement text as shown: stripped and bounded."""
    return shorten(statement.sql.strip(), SQL_CHARS)


def parameters_text(statement: Statement) -> str | None:
    """The parameters as ``echo=True`` shows them (repr), or None when there are none."""
    params = statement.parameters
    if statement.is_transaction or params is None:
        return None
    if not statement.executemany and not statement.parameters_omitted and params in ((), {}, []):
        return None
    text = repr(params)
    if statement.parameters_omitted:
        what = "parameter sets" if statement.executemany else "values"
        text += f" … and {statement.parameters_omitted:,} more {what}"
    return shorten(text, PARAMETER_CHARS)


#: SQL token colours from the notebook's theme: JupyterLab's editor variables, so
#: SQL reads like the code cell above it in light and dark themes. The fallbacks
#: (VS Code, Colab) are mid-tones readable on a light and on a dark background;
#: a Pygments style's fixed colours are not (dark blue strings on black).
SQL_STYLES = (
    ("Keyword", "color:var(--jp-mirror-editor-keyword-color, #2f9e44);font-weight:bold"),
    ("Name.Builtin", "color:var(--jp-mirror-editor-builtin-color, #2f9e44)"),
    ("Literal.String", "color:var(--jp-mirror-editor-string-color, #d9534f)"),
    ("Literal.Number", "color:var(--jp-mirror-editor-number-color, #2f9e44)"),
    ("Operator", "color:var(--jp-mirror-editor-operator-color, #a45ee5)"),
    ("Comment", "color:var(--jp-mirror-editor-comment-color, #6a8a8a);font-style:italic"),
)


def sql_html(sql: str) -> str:
    """``sql`` highlighted with Pygments' lexer as escaped HTML with inline styles."""
    from pygments.lexers import SqlLexer
    from pygments.token import string_to_tokentype

    styles = [(string_to_tokentype(name), style) for name, style in SQL_STYLES]
    parts = []
    for token, value in SqlLexer().get_tokens(sql):
        text = html.escape(value)
        style = next((s for kind, s in styles if token in kind), None)
        parts.append(f'<span style="{style}">{text}</span>' if style and value.strip() else text)
    return "".join(parts).rstrip("\n")


def statement_html(statement: Statement) -> str:
    sql = statement_sql(statement)
    parts = [
        f'<span style="opacity:.6;font-size:smaller">{html.escape(clock(statement.started))}'
        "</span> ",
        sql_html(sql) if not statement.is_transaction else f"<i>{html.escape(sql)}</i>",
    ]
    params = parameters_text(statement)
    if params is not None:
        parts.append(f'\n<span style="opacity:.75">  {html.escape(params)}</span>')
    return "".join(parts)


def statement_text(statement: Statement) -> str:
    lines = [statement_sql(statement)]
    params = parameters_text(statement)
    if params is not None:
        lines.append(f"  {params}")
    return "\n".join(lines)


def table_frame(data: TableData, maxchars: int = DEFAULT_MAXCHARS) -> pd.DataFrame:
    """The rows of ``data`` as a DataFrame, built from the fetched rows, values bounded."""
    import pandas as pd

    # object columns: an integer column with a NULL stays integers, not floats
    rows = [tuple("NULL" if v is None else bounded(v, maxchars) for v in row) for row in data.rows]
    return pd.DataFrame(rows, columns=data.columns, dtype=object)


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


def _cells(row: Any, maxchars: int) -> tuple[Any, ...]:
    return tuple(bounded(value, maxchars) for value in row)


def cell_text(value: Any, maxchars: int = DEFAULT_MAXCHARS) -> str:
    """One value of a session-marked table as text; a change reads ``old → new``."""
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


def session_frame(data: TableData, maxchars: int = DEFAULT_MAXCHARS) -> pd.DataFrame:
    """The rows of ``data`` with a leading ``state`` column, changes as ``old → new``."""
    import pandas as pd

    def shown(value: Any) -> Any:
        if isinstance(value, Change) or value is None:
            return cell_text(value, maxchars)
        return bounded(value, maxchars)

    records = [(state, *(shown(v) for v in values)) for state, values in session_records(data)]
    return pd.DataFrame(records, columns=["state", *data.columns], dtype=object)


def table_html(data: TableData, maxchars: int = DEFAULT_MAXCHARS) -> str:
    if data.session is not None:
        body = session_table_html(data, maxchars)
    else:
        frame = table_frame(data, maxchars)
        body = frame.to_html(index=False, escape=True, border=0, na_rep="NULL")
    return (
        f'<div style="margin:.4em 0 .2em 0"><b>{html.escape(data.name)}</b> '
        f'<span style="opacity:.7">· {html.escape(row_count_text(data))}</span></div>'
        f'<div style="overflow-x:auto">{body}</div>'
    )


def table_text(data: TableData, maxchars: int = DEFAULT_MAXCHARS) -> str:
    header = f"-- {data.name}: {row_count_text(data)}"
    if data.session is not None:
        frame = session_frame(data, maxchars)
    else:
        frame = table_frame(data, maxchars)
    if frame.empty:
        columns = ", ".join(data.columns)
        return f"{header}\n   ({columns})"
    body = frame.to_string(index=False, na_rep="NULL")
    return f"{header}\n" + "\n".join("   " + line for line in body.splitlines())


@dataclass
class Frame:
    """A small table for an inspection view: caption, columns, rows, a note."""

    caption: str
    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    note: str = ""  # e.g. "first 10 of 25"


def frame_html(frame: Frame, maxchars: int = DEFAULT_MAXCHARS) -> str:
    """``frame`` as an escaped HTML table under its caption, values bounded."""
    import pandas as pd

    note = f' <span style="opacity:.7">· {html.escape(frame.note)}</span>' if frame.note else ""
    head = f'<div style="margin:.4em 0 .2em 0"><b>{html.escape(frame.caption)}</b>{note}</div>'
    if not frame.rows:
        return head
    rows = [_cells(row, maxchars) for row in frame.rows]
    table = pd.DataFrame.from_records(rows, columns=frame.columns)
    body = table.to_html(index=False, escape=True, border=0, na_rep="NULL")
    return f'{head}<div style="overflow-x:auto">{body}</div>'


def frame_text(frame: Frame, maxchars: int = DEFAULT_MAXCHARS) -> str:
    """``frame`` as text under a ``-- caption`` line, values bounded."""
    import pandas as pd

    header = f"-- {frame.caption}" + (f": {frame.note}" if frame.note else "")
    if not frame.rows:
        return header
    rows = [_cells(row, maxchars) for row in frame.rows]
    table = pd.DataFrame.from_records(rows, columns=frame.columns)
    body = table.to_string(index=False, na_rep="NULL")
    return f"{header}\n" + "\n".join("   " + line for line in body.splitlines())


def log_frame(statements: list[Statement]) -> pd.DataFrame:
    """The SQL log as a DataFrame, one row per statement, oldest first."""
    records = [
        {
            "seq": s.seq,
            "time": clock(s.started),
            "statement": s.sql.strip(),
            "parameters": s.parameters,
            "executemany": s.executemany,
            "duration_ms": None if s.duration is None else round(s.duration * 1000, 3),
            "rowcount": s.rowcount,
        }
        for s in statements
    ]
    columns = ["seq", "time", "statement", "parameters", "executemany", "duration_ms", "rowcount"]
    frame = _log_frame_class().from_records(records, columns=columns)
    # nullable dtypes: a BEGIN has no duration or rowcount, which reads <NA>, not NaN
    return frame.astype({"duration_ms": "Float64", "rowcount": "Int64"})


@functools.cache
def _log_frame_class() -> type[pd.DataFrame]:
    """A DataFrame whose HTML MathJax leaves alone (``$1``, ``$x$`` in SQL or values).

    Defined on first use, so that pandas is imported only then.
    """
    import pandas as pd

    class SqlLog(pd.DataFrame):
        @property
        def _constructor(self) -> type[pd.DataFrame]:
            return SqlLog

        def _repr_html_(self) -> str | None:
            inner = super()._repr_html_()
            return None if inner is None else f'<div class="{NO_MATH}">{inner}</div>'

    return SqlLog
