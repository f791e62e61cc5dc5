"""Helpers for driving a real InteractiveShell in tests."""

from __future__ import annotations

import html
import re

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output


class Ran:
    """What one cell printed and displayed."""

    def __init__(self, result, captured) -> None:
        self.result = result
        self.stdout = captured.stdout
        self.stderr = captured.stderr
        self.outputs = captured.outputs

    @property
    def html(self) -> str:
        return "\n".join(o.data.get("text/html", "") for o in self.outputs)

    @property
    def html_text(self) -> str:
        """The HTML with tags removed and entities decoded: what a reader sees."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.html))

    @property
    def text(self) -> str:
        return "\n".join(o.data.get("text/plain", "") for o in self.outputs)


def run(shell: InteractiveShell, source: str, *, ok: bool = True) -> Ran:
    """Run one cell as a notebook would; with ok=True, fail the test if it raised."""
    with capture_output() as captured:
        result = shell.run_cell(source, store_history=True)
    if ok and not result.success:
        raise AssertionError(
            f"cell failed: {result.error_before_exec or result.error_in_exec!r}\n"
            f"{captured.stdout}\n{captured.stderr}"
        )
    return Ran(result, captured)


def log_sql(shell: InteractiveShell) -> list[str]:
    """The statements of the workspace log, as text."""
    return [s.sql.strip() for s in shell._orm_magic.workspace.recorder.log]


_ERROR_NAME = re.compile(r"\b([A-Z]\w*(?:Error|Exception))\b")


def error_name(exc: BaseException | None) -> str | None:
    """The type name of a cell's error, None when it worked.

    A magic reports a database error as a one-line UsageError that names
    SQLAlchemy's error ("%orm_flush: IntegrityError in table users: ...");
    a UsageError naming none is a refusal of the magic's own.
    """
    if exc is None:
        return None
    if isinstance(exc, UsageError):
        found = _ERROR_NAME.search(str(exc))
        return found.group(1) if found else "UsageError"
    return type(exc).__name__
