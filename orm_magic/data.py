"""Plain data passed from the core to the presentation: no behaviour, no SQLAlchemy state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class TableData:
    """The first rows of a table, as read for display."""

    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    #: rows in the table, counted up to ``count_limit``; None when there are more
    total: int | None
    count_limit: int
    error: str | None = None
    #: the session's unflushed changes to this table (unitofwork.SessionView), if any
    session: Any = None
    #: True when ``total`` is the planner's estimate, not a count
    estimated: bool = False
    #: one line on what the rows shown are, where they are not the usual
    note: str | None = None


@dataclass(frozen=True)
class Pending:
    """The session's pending objects at one moment: a count and a few kinds."""

    count: int
    kinds: tuple[str, ...]
