"""Running a ``select(...)`` or a legacy ``session.query(...)`` for ``%orm_query``.

The query runs as the user wrote it, with ``LIMIT`` added when it has none, so
a query over a million rows fetches ``displaylimit`` of them. Its result comes
back as ORM objects (one entity selected) or rows, and as a small table to
show, whose cells are read from memory: showing them emits no SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Mapper, Query, Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import CompoundSelect

from . import render
from .inspection import is_mapped_instance, value_text
from .unitofwork import NOT_LOADED


class QueryError(Exception):
    """The expression is not a query %orm_query can run."""


@dataclass
class QueryResult:
    """What a query returned, and the table that shows it."""

    value: list[Any]  # ORM objects, or rows
    frame: render.Frame
    limited: bool  # True when orm_magic added the LIMIT


def has_limit(query: Any) -> bool:
    """True when the query carries its own LIMIT (the user asked for that many)."""
    # No public accessor tells whether a LIMIT was set; the clause attribute does.
    return getattr(query, "_limit_clause", None) is not None


def _single_entity(descriptions: Sequence[Mapping[str, Any]]) -> type | None:
    """The mapped class when a query selects exactly one whole entity."""
    if len(descriptions) != 1:
        return None
    expr = descriptions[0].get("expr")
    entity = descriptions[0].get("entity")
    if entity is not None and expr is entity and isinstance(entity, type):
        return entity
    return None


def execute(session: Session, query: Any, limit: int) -> tuple[list[Any], bool, Any]:
    """Run ``query`` bounded by ``limit``; return (items, limited, entity or None)."""
    limited = not has_limit(query)
    if isinstance(query, Query):
        bounded = query.limit(limit) if limited else query
        entity = _single_entity(query.column_descriptions)
        return list(bounded.all()), limited, entity
    if isinstance(query, (Select, CompoundSelect)):
        statement = query.limit(limit) if limited else query
        entity = _single_entity(getattr(query, "column_descriptions", []))
        result = session.execute(statement)
        items = list(result.scalars().all()) if entity is not None else list(result.all())
        return items, limited, entity
    raise QueryError(
        f"{type(query).__name__!r} object is not a query; pass a select(...) "
        "or a session.query(...)"
    )


def objects_frame(entity: type, objects: list[Any]) -> render.Frame:
    """Objects as a table of their column attributes, read from memory."""
    mapper: Mapper[Any] = inspect(entity)
    keys = [attr.key for attr in mapper.column_attrs]
    rows = []
    for obj in objects:
        values = inspect(obj).dict  # loaded values only: never a SELECT
        rows.append(tuple(values.get(key, NOT_LOADED) for key in keys))
    return render.Frame(entity.__name__, keys, rows)


def rows_frame(rows: list[Any]) -> render.Frame:
    """Rows as a table; an ORM object in a row is shown by its label."""
    columns = list(rows[0]._fields) if rows else []
    body = [tuple(value_text(v) if is_mapped_instance(v) else v for v in row) for row in rows]
    return render.Frame("rows", columns, body)


def run_query(session: Session, query: Any, limit: int) -> QueryResult:
    """Run ``query`` with at most ``limit`` rows (unless it has its own LIMIT)."""
    items, limited, entity = execute(session, query, limit)
    frame = objects_frame(entity, items) if entity is not None else rows_frame(items)
    noun = "row" if len(items) == 1 else "rows"
    frame.note = f"{len(items):,} {noun}"
    if limited and len(items) >= limit:
        frame.note += f" (LIMIT {limit}: there may be more; pass --limit N to see more)"
    return QueryResult(items, frame, limited)
