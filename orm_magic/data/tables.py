"""Table snapshots, the session's marks on them, and small result tables: plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
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


#: Session states as shown in the ``state`` column.
NEW, MODIFIED, DELETED = "new", "modified", "deleted"


class _NotLoaded:
    """The value of an attribute the object has not loaded (it would cost a SELECT)."""

    def __repr__(self) -> str:
        return "(not loaded)"

    __str__ = __repr__


NOT_LOADED = _NotLoaded()


@dataclass(frozen=True)
class Change:
    """A column value the session changed and the next flush will write."""

    old: Any
    new: Any


@dataclass
class SessionRow:
    """One object's row of one table, as the session holds it."""

    state: str  # NEW, MODIFIED or DELETED
    values: tuple[Any, ...]  # per column; a Change where the session changed it
    key: tuple[Any, ...] | None = None  # primary key as the database holds it


@dataclass
class SessionView:
    """The session's rows for one table, bounded by the display limit."""

    #: index into TableData.rows -> the session's mark for that database row
    marks: dict[int, SessionRow] = field(default_factory=dict)
    #: session rows not among the rows shown (pending ones, or beyond LIMIT)
    extra: list[SessionRow] = field(default_factory=list)
    #: session rows of this table beyond the limit, counted only
    omitted: int = 0
    #: how many rows of each state the session holds for this table
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Frame:
    """A small table for an inspection view: caption, columns, rows, a note."""

    caption: str
    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    note: str = ""  # e.g. "first 10 of 25"


@dataclass
class Inspection:
    """A titled view of objects or the session: a few lines, then small tables."""

    title: str
    lines: list[str] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
