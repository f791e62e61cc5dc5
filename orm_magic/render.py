"""Pure functions from captured statements and table rows to HTML and text.

The only module that imports pandas, and only when a table is rendered, so
that ``%load_ext orm_magic`` stays fast. Every value that reaches HTML goes
through :func:`html.escape` (directly, or through Pygments and pandas, which
escape too).
"""

from __future__ import annotations

import datetime
import html
from typing import TYPE_CHECKING, Any

from .capture import Statement

if TYPE_CHECKING:
    import pandas as pd

    from .workspace import TableData

#: Longest statement text shown; the rest is counted.
SQL_CHARS = 2000
#: Longest rendering of one statement's parameters.
PARAMETER_CHARS = 500

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


def sql_html(sql: str) -> str:
    """``sql`` highlighted as HTML with inline styles (no stylesheet needed)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import SqlLexer

    formatter = HtmlFormatter(noclasses=True, nowrap=True, nobackground=True)
    return highlight(sql, SqlLexer(), formatter).rstrip("\n")


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


def table_frame(data: TableData) -> pd.DataFrame:
    """The rows of ``data`` as a DataFrame, built from the fetched rows."""
    import pandas as pd

    return pd.DataFrame.from_records(data.rows, columns=data.columns)


def row_count_text(data: TableData) -> str:
    if data.error is not None:
        return f"could not be read: {data.error}"
    total = f"{data.total:,}" if data.total is not None else f"more than {data.count_limit:,}"
    shown = len(data.rows)
    noun = "row" if data.total == 1 else "rows"
    if data.total is not None and shown >= data.total:
        return f"{total} {noun}"
    return f"first {shown:,} of {total} {noun}"


def table_html(data: TableData) -> str:
    frame = table_frame(data)
    body = frame.to_html(index=False, escape=True, border=0, na_rep="NULL")
    return (
        f'<div style="margin:.4em 0 .2em 0"><b>{html.escape(data.name)}</b> '
        f'<span style="opacity:.7">· {html.escape(row_count_text(data))}</span></div>'
        f'<div style="overflow-x:auto">{body}</div>'
    )


def table_text(data: TableData) -> str:
    header = f"-- {data.name}: {row_count_text(data)}"
    frame = table_frame(data)
    if frame.empty:
        columns = ", ".join(data.columns)
        return f"{header}\n   ({columns})"
    body = frame.to_string(index=False, na_rep="NULL")
    return f"{header}\n" + "\n".join("   " + line for line in body.splitlines())


def log_frame(statements: list[Statement]) -> pd.DataFrame:
    """The SQL log as a DataFrame, one row per statement, oldest first."""
    import pandas as pd

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
    return pd.DataFrame.from_records(records, columns=columns)
