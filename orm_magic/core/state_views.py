"""Views of one object's state and of the whole session, read without SQL.

Everything here goes through :func:`sqlalchemy.inspect`: an instance's
``InstanceState`` (its lifecycle flags, identity key, unloaded and expired
attributes) and each attribute's passive history, which never loads an
attribute. Reading a view therefore emits no SQL and changes no state; objects
are named by class and identity key, never by their ``__repr__`` (which could
lazy-load).
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import InstanceState, Session, object_session

from ..data.tables import Frame, Inspection
from ..data.text import shorten
from .instances import explain_state, instance_label, is_mapped_instance, state_name

#: Items shown of one collection value; the rest is counted.
COLLECTION_ITEMS = 5
#: Characters of one value shown.
VALUE_CHARS = 80


def value_text(value: Any) -> str:
    """A value as shown in a view: mapped objects by label, collections bounded."""
    if is_mapped_instance(value):
        return instance_label(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [value_text(v) for v in islice(value, COLLECTION_ITEMS)]
        if len(value) > COLLECTION_ITEMS:
            items.append(f"… {len(value) - COLLECTION_ITEMS:,} more")
        return "[" + ", ".join(items) + "]"
    return shorten(repr(value), VALUE_CHARS)


def _history_text(values: Any) -> str:
    values = list(values or ())
    if not values:
        return ""
    return value_text(values if len(values) > 1 else values[0])


def on_access(state: InstanceState, key: str, is_relationship: bool) -> str:
    """What reading an unloaded attribute will do, from the state's flags alone."""
    if key not in state.unloaded:
        return "in memory"
    if state.detached:
        return "raises DetachedInstanceError"
    if state.key is None:  # transient or pending: nothing in the database to load
        return "empty / default, no SQL"
    if is_relationship:
        return "SELECT (lazy load)"
    if key in state.expired_attributes:
        return "SELECT (expired)"
    return "SELECT (deferred)"


def attribute_rows(state: InstanceState) -> list[tuple[str, ...]]:
    """One row per mapped attribute: kind, history, expiry, cost of access."""
    rows: list[tuple[str, ...]] = []
    relationships = set(state.mapper.relationships.keys())
    for prop in state.mapper.attrs:
        key = prop.key
        is_relationship = key in relationships
        history = state.attrs[key].history  # passive: never loads
        loaded = key not in state.unloaded
        rows.append(
            (
                key,
                "relationship" if is_relationship else "column",
                _history_text(history.added),
                _history_text(history.unchanged),
                _history_text(history.deleted),
                "expired" if key in state.expired_attributes else ("" if loaded else "unloaded"),
                on_access(state, key, is_relationship),
            )
        )
    return rows


def state_view(obj: Any, title: str) -> Inspection:
    """The lifecycle state, identity key and attribute history of one instance."""
    state = inspect(obj)
    session = object_session(obj)
    marked = session is not None and obj in session.deleted
    lines = [f"{instance_label(obj)}: {explain_state(obj, marked)}"]
    key = state.identity_key
    lines.append(
        "identity key: " + (repr(key[:2]) if key is not None else "none (not yet flushed)")
    )
    lines.append("session: " + ("the workspace's" if session is not None else "none"))
    expired = sorted(state.expired_attributes)
    if expired:
        lines.append(
            f"expired ({len(expired)}), each costs a SELECT on access: " + ", ".join(expired)
        )
    columns = ["attribute", "kind", "added", "unchanged", "deleted", "loaded", "on access"]
    frame = Frame("attributes", columns, attribute_rows(state))
    return Inspection(title, lines, [frame])


def _note(shown: int, total: int) -> str:
    noun = "object" if total == 1 else "objects"
    return f"{total:,} {noun}" if shown >= total else f"first {shown:,} of {total:,} {noun}"


def _changed(state: InstanceState) -> str:
    keys = [a.key for a in state.attrs if a.history.has_changes()]
    return ", ".join(keys)


def _identity_rows(session: Session, limit: int) -> list[tuple[Any, ...]]:
    identity_map = session.identity_map
    # a bounded slice of the keys: the map may hold a million objects
    keys = list(islice(identity_map.keys(), limit))
    deleted = session.deleted
    rows = []
    for key in keys:
        obj = identity_map.get(key)
        if obj is None:  # collected since
            continue
        state = inspect(obj)
        mark = "marked for deletion" if obj in deleted else ("modified" if state.modified else "")
        rows.append(
            (key[0].__name__, repr(key[1]), state_name(obj), mark, len(state.expired_attributes))
        )
    return rows


def session_view(session: Session, limit: int, title: str = "%orm_session") -> Inspection:
    """The identity map, ``new``, ``dirty`` and ``deleted``, and the transaction."""
    transaction = session.get_transaction()
    if transaction is None:
        lines = ["no transaction open (the next statement begins one)"]
    else:
        nested = " with a SAVEPOINT" if session.in_nested_transaction() else ""
        lines = [f"a transaction is open{nested}; commit or rollback ends it"]
    lines.append(f"autoflush: {'on' if session.autoflush else 'off'}")
    identity_map = session.identity_map
    total = len(identity_map)
    identity = _identity_rows(session, limit)
    frames = [
        Frame(
            "identity map",
            ["class", "identity", "state", "unflushed", "expired attributes"],
            identity,
            _note(len(identity), total),
        )
    ]
    for caption, objects in (
        ("new", session.new),
        ("dirty", session.dirty),
        ("deleted", session.deleted),
    ):
        rows = [
            (type(obj).__name__, instance_label(obj), state_name(obj), _changed(inspect(obj)))
            for obj in islice(objects, limit)
        ]
        frames.append(
            Frame(
                caption,
                ["class", "object", "state", "changed attributes"],
                rows,
                _note(len(rows), len(objects)),
            )
        )
    return Inspection(title, lines, frames)
