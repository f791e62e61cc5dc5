"""Checking what a magic's expression gave: mapped instances, in a usable state.

Everything here reads object state only (``sqlalchemy.inspect``): no SQL.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import InstanceState, Mapper, Session
from sqlalchemy.orm.attributes import instance_state

from .errors import WorkspaceError


def describe(obj: Any) -> str:
    """How a value reads in an error message: its type, or the class it is."""
    if isinstance(obj, type):
        return f"class {obj.__name__}"
    return f"{type(obj).__name__!r} object"


def check_states(operation: str, instances: list[Any], session: Session) -> None:
    """Refuse, before anything changes, instances the operation cannot take."""
    # The label is only built for an error: %orm_add of 100,000 objects
    # must not format 100,000 labels that nobody reads.
    session_key = session.hash_key
    adding = operation in ("add", "merge")
    deleting = operation == "delete"
    for obj in instances:
        state = instance_state(obj)  # as_instances checked it is mapped; cheaper than inspect
        session_id = state.session_id
        if adding and state.key is None and session_id is None and not state.was_deleted:
            continue  # transient and in no session: the common case
        if session_id is not None and session_id != session_key:
            raise WorkspaceError(
                f"{instance_label(obj)} belongs to another Session; expunge it there first"
            )
        if adding and (state.deleted or state.was_deleted):
            raise WorkspaceError(
                f"{instance_label(obj)} was deleted; make a new object, "
                "or use make_transient() on it"
            )
        if deleting:
            if state.key is None:
                raise WorkspaceError(
                    f"{instance_label(obj)} is {state_name(obj)}, not in the database yet; "
                    "only persistent objects can be deleted (to drop a pending one, "
                    "use session.expunge)"
                )
            if state.deleted or state.was_deleted:
                raise WorkspaceError(f"{instance_label(obj)} is already deleted")


def as_instances(value: Any, limit: int) -> list[Any]:
    """``value`` as a list of mapped instances, or a WorkspaceError saying why not."""
    if is_mapped_instance(value):
        return [value]
    stale = _stale_instance_error(value)
    if stale is not None:
        raise stale
    if isinstance(value, type):
        if inspect(value, raiseerr=False) is not None:
            raise WorkspaceError(
                f"{value.__name__} is a class, not an instance; "
                f"create one with {value.__name__}(...)"
            )
        raise WorkspaceError(f"{describe(value)} is not a mapped instance; define it with %%model")
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
        raise WorkspaceError(
            f"{describe(value)} is not a mapped instance; define its class with %%model"
        )
    if isinstance(value, (list, tuple)) and 0 < len(value) <= limit and _all_mapped(value):
        return list(value)
    items: list[Any] = []
    # Whether each class is currently mapped, looked up once per class: a
    # list of 100,000 objects then costs one cheap check per object.
    mapped: dict[type, bool] = {}
    for item in value:
        if len(items) >= limit:
            raise WorkspaceError(
                f"more than {limit:,} objects in one call; raise OrmMagic.maxitems "
                "or pass them in smaller lists"
            )
        cls = type(item)
        if cls not in mapped:
            mapped[cls] = isinstance(inspect(cls, raiseerr=False), Mapper)
        if mapped[cls] and getattr(item, "_sa_instance_state", None) is not None:
            items.append(item)  # an instance of a mapped class, with its state
            continue
        stale = _stale_instance_error(item)
        if stale is not None:
            raise stale
        if not is_mapped_instance(item):
            raise WorkspaceError(
                f"item {len(items)} is a {describe(item)}, not a mapped instance; "
                "define its class with %%model"
            )
        items.append(item)
    if not items:
        raise WorkspaceError("the expression gave no objects")
    return items


def _all_mapped(items: list[Any] | tuple[Any, ...]) -> bool:
    """True when every item is an instance, with its state, of a class mapped now.

    The fast path for a list of 100,000 new objects: the loops over the items
    run in C (``map``, ``set``). Any doubt sends the caller down the
    item-by-item path, which says what is wrong with which item.
    """
    classes = set(map(type, items))
    if not all(isinstance(inspect(cls, raiseerr=False), Mapper) for cls in classes):
        return False
    try:
        deque(map(instance_state, items), maxlen=0)  # every one has its state
    except AttributeError:
        return False
    return True


def state_name(obj: Any) -> str:
    """transient, pending, persistent, deleted or detached; reads no SQL."""
    state = inspect(obj)
    for name in ("transient", "pending", "persistent", "deleted", "detached"):
        if getattr(state, name):
            return name
    return "unknown"


def explain_state(obj: Any, marked_deleted: bool) -> str:
    """The state, and what the next flush will do about it."""
    state = state_name(obj)
    if state == "pending":
        return "pending — the next flush INSERTs it"
    if state == "persistent" and marked_deleted:
        return "persistent, marked for deletion — the next flush DELETEs it"
    if state == "persistent" and inspect(obj).modified:
        return "persistent, modified — the next flush UPDATEs it"
    return state


def instance_label(obj: Any) -> str:
    """``User`` or ``User(id=1)``, from the identity key alone: never a SELECT."""
    state = inspect(obj)
    name = type(obj).__name__
    if state.key is None:
        return name
    mapper = state.mapper
    # the attribute's name (user_id = mapped_column("id", ...)), not the column's
    names = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
    ident = ", ".join(f"{n}={v!r}" for n, v in zip(names, state.key[1]))
    return f"{name}({ident})"


def is_mapped_instance(value: Any) -> bool:
    """True for an instance of a class that is mapped now (not the class itself)."""
    if isinstance(value, type) or not isinstance(inspect(value, raiseerr=False), InstanceState):
        return False
    # an instance of a class whose mapping was disposed still has its state
    return isinstance(inspect(type(value), raiseerr=False), Mapper)


def _stale_instance_error(value: Any) -> WorkspaceError | None:
    """The error for an instance of an earlier definition of its class, if it is one."""
    if isinstance(value, type) or not hasattr(value, "_sa_instance_state"):
        return None
    if is_mapped_instance(value):
        return None
    name = type(value).__name__
    return WorkspaceError(
        f"this {name} object was made from an earlier definition of {name} "
        f"(a %%model cell redefined it); create a new one with {name}(...)"
    )
