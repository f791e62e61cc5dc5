"""Running a ``select(...)`` or a legacy ``session.query(...)`` for ``%orm_query``.

The statement runs exactly as the user wrote it: no ``LIMIT`` is added, and
the user's own ``limit()``, ``offset()`` and ``fetch()`` stay. It returns what
plain SQLAlchemy returns for it (``session.scalars(stmt).all()`` for one
entity, ``session.execute(stmt).all()`` for rows, ``unique()`` where joined
eager loading of a collection needs it, ``query.all()`` for a legacy Query).
Only the table shown below the cell is cut to the display limit. A result of
more than ``maxitems`` rows is refused after ``maxitems + 1`` rows, never cut
silently and never materialized whole: an entity query is counted first.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Result
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapper, Query, Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import CompoundSelect

from ..data.tables import NOT_LOADED, Frame
from .executions import DISPLAY_OPTION
from .reading import read_aside
from .state_views import is_mapped_instance, value_text


class QueryError(Exception):
    """The expression is not a query %orm_query can run, or its result is too large."""


@dataclass
class QueryResult:
    """What a query returned, and the table that shows the first rows of it."""

    value: list[Any]  # every ORM object, or every row
    frame: Frame


def _single_entity(descriptions: Sequence[Mapping[str, Any]]) -> type | None:
    """The mapped class when a query selects exactly one whole entity."""
    if len(descriptions) != 1:
        return None
    expr = descriptions[0].get("expr")
    entity = descriptions[0].get("entity")
    if entity is not None and expr is entity and isinstance(entity, type):
        return entity
    return None


def needs_unique(result: Result[Any]) -> bool:
    """True when plain SQLAlchemy would refuse this ORM result without ``unique()``.

    The ORM marks a result whose rows repeat objects for a joined eager load
    of a collection with a filter that raises "The unique() method must be
    invoked"; no public accessor says so before the first row is fetched.
    """
    state = getattr(result, "_unique_filter_state", None)
    strategy = state[1] if state else None
    return getattr(strategy, "__name__", "") == "require_unique"


def _too_many(maxitems: int) -> QueryError:
    return QueryError(
        f"the query returns more than {maxitems:,} rows; add .limit(N) to it, "
        "or raise OrmMagic.maxitems"
    )


def _loads_entities(statement: Any) -> bool:
    """True when the ORM builds objects from the rows: it reads them all at once."""
    return any(d.get("entity") is not None for d in statement.column_descriptions)


def too_many_rows(session: Session, query: Any, maxitems: int) -> bool:
    """Whether ``query`` selects more than ``maxitems`` rows, counted before it runs.

    The ORM fetches every row of an entity query before the first object is
    returned, so a bound on fetching bounds nothing there: such a query is
    counted first, unless its own LIMIT is within ``maxitems``. The count is
    orm_magic's own read: it is not logged, and it runs after the autoflush
    the query itself would do (so that it counts what the query will see),
    inside a savepoint on a server, so that if it fails nothing is changed
    and the query then runs as written, with its own error.
    """
    statement = query.statement if isinstance(query, Query) else query
    if not isinstance(statement, Select) or not _loads_entities(statement):
        return False
    limit = getattr(statement, "_limit", None)  # None: no LIMIT, or not a plain number
    if isinstance(limit, int) and limit <= maxitems:
        return False
    options = query.get_execution_options()
    if session.autoflush and options.get("autoflush", True):
        session._autoflush()  # what session.execute(query) does first
    conn = session.connection()
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    with read_aside(conn, "orm_magic_count"):
        try:
            total = conn.execute(counted, execution_options={DISPLAY_OPTION: True}).scalar_one()
        except SQLAlchemyError:
            total = 0  # the query then runs as written, with its own error
    return total > maxitems


def execute(
    session: Session, query: Any, maxitems: int
) -> tuple[list[Any], type | None, list[str]]:
    """Run ``query`` as written; return (items, entity or None, column names)."""
    if isinstance(query, (Query, Select)) and too_many_rows(session, query, maxitems):
        raise _too_many(maxitems)
    if isinstance(query, Query):
        descriptions = query.column_descriptions
        # iterating a Query is what .all() does: legacy uniquing and scalars included
        items = list(itertools.islice(query, maxitems + 1))
    elif isinstance(query, (Select, CompoundSelect)):
        descriptions = getattr(query, "column_descriptions", [])
        result: Any = session.execute(query)
        names = list(result.keys())
        entity = _single_entity(descriptions)
        if entity is not None:
            result = result.scalars()
        if needs_unique(result):
            result = result.unique()
        items = list(result.fetchmany(maxitems + 1))
        result.close()
        if len(items) > maxitems:
            raise _too_many(maxitems)
        return items, entity, names
    else:
        raise QueryError(
            f"{type(query).__name__!r} object is not a query; pass a select(...) "
            "or a session.query(...)"
        )
    if len(items) > maxitems:
        raise _too_many(maxitems)
    names = [str(d.get("name") or getattr(d.get("expr"), "name", "") or "") for d in descriptions]
    return items, _single_entity(descriptions), names


def objects_frame(entity: type, objects: list[Any]) -> Frame:
    """Objects as a table of their column attributes, read from memory."""
    mapper: Mapper[Any] = inspect(entity)
    keys = [attr.key for attr in mapper.column_attrs]
    rows = []
    for obj in objects:
        values = inspect(obj).dict  # loaded values only: never a SELECT
        rows.append(tuple(values.get(key, NOT_LOADED) for key in keys))
    return Frame(entity.__name__, keys, rows)


def column_names(names: list[str], width: int) -> list[str]:
    """One distinct, non-empty heading per column: ``count(*)`` unlabeled is ``column 1``."""
    if len(names) != width:
        names = [""] * width
    headings: list[str] = []
    for position, name in enumerate(names, 1):
        heading = name or f"column {position}"
        while heading in headings:
            heading = f"{heading} ({position})"
        headings.append(heading)
    return headings


def rows_frame(rows: list[Any], names: list[str]) -> Frame:
    """Rows as a table; an ORM object in a row is shown by its label."""
    width = len(rows[0]) if rows else len(names)
    body = [tuple(value_text(v) if is_mapped_instance(v) else v for v in row) for row in rows]
    return Frame("rows", column_names(names, width), body)


def run_query(session: Session, query: Any, shown: int, maxitems: int) -> QueryResult:
    """Run ``query`` as written; the frame shows its first ``shown`` rows."""
    items, entity, names = execute(session, query, maxitems)
    first = items[:shown]
    frame = objects_frame(entity, first) if entity is not None else rows_frame(first, names)
    noun = "row" if len(items) == 1 else "rows"
    if len(items) > shown:
        frame.note = f"first {shown:,} of {len(items):,} {noun}; --limit N shows more"
    else:
        frame.note = f"{len(items):,} {noun}"
    return QueryResult(items, frame)
