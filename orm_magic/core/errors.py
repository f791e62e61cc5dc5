"""A user's mistake or a database error, as one readable line."""

from __future__ import annotations

from ..data.text import shorten
from .executions import dml_table_of
from .mysql_traps import driver_message, what_to_change

#: Longest rendering of the offending values in an error line.
VALUES_CHARS = 200


class WorkspaceError(Exception):
    """A user's mistake; the magics show it as one line."""


def describe_error(exc: BaseException) -> str:
    """``IntegrityError in users: UNIQUE constraint failed: users.id; values (1, 'a')``."""
    text = f"{type(exc).__name__}"
    table = dml_table_of(getattr(exc, "statement", None))
    if table:
        text += f" in table {table}"
    text += f": {first_line(exc)}"
    params = getattr(exc, "params", None)
    if params:
        text += f"; values {shorten(repr(params), VALUES_CHARS)}"
    return text


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, for a one-line error.

    For a driver error, the driver's own message, with PostgreSQL's DETAIL
    (``Key (id)=(1) already exists.``) where there is one. One of MySQL's
    traps is followed by what to change (a compile error is replaced by it).
    """
    orig = getattr(exc, "orig", None)
    text = (orig is not None and driver_message(orig)) or str(orig or exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    detail = getattr(getattr(orig, "diag", None), "message_detail", None)
    if detail:
        line += f" ({detail.strip()})"
    trap = what_to_change(exc)
    if trap:
        line = trap if orig is None else f"{line}; {trap}"
    return line
