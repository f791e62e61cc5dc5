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


def _token_colour(variable: str, hue: str) -> str:
    """JupyterLab's editor colour ``variable``, else half the text colour, half ``hue``.

    Without JupyterLab's variables (VS Code, Colab, exported pages) no fixed colour
    reads well enough (4.5:1) on both white and a dark grey; mixed into the text
    colour of the page, a token keeps most of that text's contrast with whatever
    background it sits on. A browser without ``color-mix()`` shows the text colour.
    """
    fallback = f"color-mix(in srgb, currentColor 50%, {hue})"
    return f"color:var(--jp-mirror-editor-{variable}-color, {fallback})"


#: SQL token colours from the notebook's theme: JupyterLab's editor variables, so
#: SQL reads like the code cell above it in light and dark themes. A Pygments
#: style's fixed colours would not (dark blue strings on black).
SQL_STYLES = (
    ("Keyword", _token_colour("keyword", "#2f9e44") + ";font-weight:bold"),
    ("Name.Builtin", _token_colour("builtin", "#2f9e44")),
    ("Literal.String", _token_colour("string", "#d9534f")),
    ("Literal.Number", _token_colour("number", "#2f9e44")),
    ("Operator", _token_colour("operator", "#a45ee5")),
    ("Comment", _token_colour("comment", "#6a8a8a") + ";font-style:italic"),
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
    tokens = list(SqlLexer().get_tokens(sql))
    # Pygments ends the text with a newline of its own, which may sit inside the
    # last token (a `--` comment keeps its line's end): it is not the user's.
    while tokens and not tokens[-1][1].rstrip("\n"):
        tokens.pop()
    if tokens:
        tokens[-1] = (tokens[-1][0], tokens[-1][1].rstrip("\n"))
    parts = []
    for token, value in tokens:
        text = html.escape(value)
        style = next((s for kind, s in styles if token in kind), None)
        parts.append(f'<span style="{style}">{text}</span>' if style and value.strip() else text)
    return "".join(parts)


def statement_html(statement: Statement) -> str:
    sql = statement_sql(statement)
    parts = [
        f'<span style="opacity:.6;font-size:smaller">{html.escape(clock(statement.started))}'
        "</span> ",
        session_label_html(statement),
        sql_html(sql) if not statement.is_transaction else f"<i>{html.escape(sql)}</i>",
    ]
    params = parameters_text(statement)
    if params is not None:
        parts.append(f'\n<span style="opacity:.75">  {html.escape(params)}</span>')
    return "".join(parts)


def session_label_html(statement: Statement) -> str:
    """The session that sent the statement, as a tag before it ("" with one session)."""
    if statement.session is None:
        return ""
    # the same [name] as the text form, so that a copy of the SQL reads alike
    return (
        '<span class="orm-magic-session" style="font-weight:bold;opacity:.8">'
        f"[{html.escape(statement.session)}]</span> "
    )


def statement_text(statement: Statement) -> str:
    label = "" if statement.session is None else f"[{statement.session}] "
    lines = [label + statement_sql(statement)]
    params = parameters_text(statement)
    if params is not None:
        lines.append(f"  {params}")
    return "\n".join(lines)
