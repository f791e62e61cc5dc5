"""The session's unit of work, read for a table display without SQL.

What the next flush will write: pending objects (rows marked ``new``), modified
objects (each changed value as ``old → new``) and objects marked for deletion
(rows marked ``deleted``). Everything is read from the objects' in-memory state
through :func:`sqlalchemy.inspect` and attribute history, which never loads an
attribute, so reading emits no SQL and changes no state.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import InstanceState, Session
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.exc import UnmappedColumnError

from ..data.tables import (
    DELETED,
    MODIFIED,
    NEW,
    NOT_LOADED,
    Change,
    SessionRow,
    SessionView,
    TableData,
)


def _attribute_key(state: InstanceState, column: Any) -> str | None:
    try:
        return state.mapper.get_property_by_column(column).key
    except UnmappedColumnError:
        return None


def _column_value(state: InstanceState, key: str | None) -> tuple[Any, Any]:
    """(committed value, current value) of an attribute, without loading it."""
    if key is None:
        return NOT_LOADED, NOT_LOADED
    # AttributeState.history is passive: an unloaded attribute stays unloaded.
    history = state.attrs[key].history
    current = state.dict.get(key, NOT_LOADED)
    if history.deleted:
        return history.deleted[0], current
    if history.unchanged:
        return history.unchanged[0], current
    if history.added:  # set on an object whose old value was never loaded
        return (NOT_LOADED if state.key is not None else None), current
    return current, current


def session_row(state: InstanceState, table: Table, label: str) -> SessionRow | None:
    """The row ``state`` stands for in ``table``; None when nothing will change."""
    values: list[Any] = []
    changed = False
    old_key: dict[str, Any] = {}
    for column in table.columns:
        old, new = _column_value(state, _attribute_key(state, column))
        if label == MODIFIED and old is not new and old != new:
            values.append(Change(old, new))
            changed = True
        else:
            values.append(None if label == NEW and new is NOT_LOADED else new)
        old_key[column.name] = old
    if label == MODIFIED and not changed:
        return None  # an attribute set to its own value, or a relationship-only change
    key = None
    if label != NEW:
        key = tuple(old_key[c.name] for c in table.primary_key.columns)
    return SessionRow(label, tuple(values), key)


def session_states(session: Session) -> list[tuple[str, list[InstanceState]]]:
    """The pending, modified and deleted objects' states, in that order; no SQL.

    ``session.new``/``dirty``/``deleted`` are sets of what the session holds
    unflushed: their size is the user's unit of work, not a table's size.
    """
    # The session's own dicts are keyed by state (Session._new/_deleted, stable
    # since SQLAlchemy 0.x): no state is looked up per object.
    deleted = session._deleted
    if deleted:
        new = [state for state in session._new if state not in deleted]
    else:
        new = list(session._new)  # copied in C: 100,000 states after a bulk add
    dirty = (instance_state(obj) for obj in session.dirty)
    modified = [state for state in dirty if state not in deleted]
    return [(NEW, new), (MODIFIED, modified), (DELETED, list(deleted))]


_MANAGER = attrgetter("manager")


def _merge(value: Any, database: Any) -> Any:
    if not isinstance(value, Change):
        return database
    if value.old is NOT_LOADED:  # the database row holds the committed value
        return Change(database, value.new)
    return value


def attach(
    data: TableData,
    table: Table,
    states: list[tuple[str, list[InstanceState]]],
    limit: int,
) -> TableData:
    """Mark ``data``'s rows with the session's changes to ``table``, at most ``limit``.

    Beyond the limit, pending and deleted objects are only counted, per class
    and in C (``Counter`` over ``map``): after a bulk add that is 100,000
    objects at every display. A modified object counts only if a column
    really changed, so those are read.
    """
    view = SessionView()
    pk_positions = [data.columns.index(c.name) for c in table.primary_key.columns]
    by_key = {tuple(row[i] for i in pk_positions): i for i, row in enumerate(data.rows)}
    kept = 0
    # whether objects of a class have rows in this table, asked once per class
    # (state.manager is a plain attribute; state.mapper is computed per object)
    in_table: dict[Any, bool] = {}

    def shown(manager: Any) -> bool:
        if manager not in in_table:
            in_table[manager] = table in manager.mapper.tables
        return in_table[manager]

    def count(label: str, number: int = 1, omitted: bool = False) -> None:
        view.counts[label] = view.counts.get(label, 0) + number
        if omitted:
            view.omitted += number

    for label, block in states:
        position = 0
        while position < len(block) and kept < limit:
            state = block[position]
            position += 1
            row = session_row(state, table, label) if shown(state.manager) else None
            if row is None:
                continue
            count(label)
            kept += 1
            index = by_key.get(row.key) if row.key is not None else None
            if index is None:
                view.extra.append(row)
                continue
            database = data.rows[index]
            # unchanged columns show what the database holds (never "not loaded")
            merged = tuple(_merge(v, database[i]) for i, v in enumerate(row.values))
            view.marks[index] = SessionRow(label, merged, row.key)
        rest = block[position:]
        if label == MODIFIED:
            for state in rest:
                if shown(state.manager) and session_row(state, table, label) is not None:
                    count(label, omitted=True)
            continue
        for manager, number in Counter(map(_MANAGER, rest)).items():
            if shown(manager):
                count(label, number, omitted=True)
    if view.counts:
        data.session = view
    return data
