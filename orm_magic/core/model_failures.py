"""A ``%%model`` cell that failed: what went wrong, as one line, and what was discarded."""

from __future__ import annotations

import sqlalchemy.exc

from .errors import WorkspaceError, describe_error, first_line


class ModelCellFailed(Exception):
    """A ``%%model`` cell failed and changed nothing, except, where the
    session's work could not be kept, ``discarded`` (in words; "" if nothing)."""

    def __init__(self, error: BaseException, discarded: str = "") -> None:
        super().__init__(str(error))
        self.error = error
        self.discarded = discarded


def describe_failure(failed: ModelCellFailed) -> str:
    """The one line a failed cell shows: why, that nothing changed, and any loss."""
    exc = failed.error
    if isinstance(exc, SyntaxError):
        message = f"%%model: syntax error on line {exc.lineno}: {exc.msg}"
    elif isinstance(exc, WorkspaceError):
        message = f"%%model: {exc}"
    elif isinstance(exc, sqlalchemy.exc.StatementError):
        message = f"%%model: {describe_error(exc)}; the earlier models and tables are unchanged"
    else:
        message = (
            f"%%model: the cell raised {type(exc).__name__}: {first_line(exc)}; "
            "the earlier models are unchanged"
        )
    if failed.discarded:
        message += f"; the session's work was discarded: {failed.discarded}"
    return message
