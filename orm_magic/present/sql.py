"""Statements as ``echo=True`` prints them: text, and HTML highlighted with Pygments.

Every value that reaches HTML goes through :func:`html.escape` (directly, or
through Pygments, which escapes too).
"""

from __future__ import annotations

import datetime
import functools
import html

from ..data.statements import Statement
from ..data.text import shorten

#: Longest statement text shown; the rest is counted.
SQL_CHARS = 2000
#: Longest rendering of one statement's parameters.
PARAMETER_CHARS = 500


def clock(timestamp: float) -> str:
    """``HH:MM:SS.mmm`` of a ``time.time()`` value, local time."""
    moment = datetime.datetime.fromtimestamp(timestamp)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


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


#: Highlighted statements kept: a notebook sends the same few texts again and
#: again, and each is at most SQL_CHARS long, so the cache stays under a few MB.
HIGHLIGHT_CACHE = 512


@functools.lru_cache(maxsize=HIGHLIGHT_CACHE)
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
