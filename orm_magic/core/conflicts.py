"""Version conflicts (``version_id_col``) as one line: the object, and both versions.

SQLAlchemy raises ``StaleDataError`` when an UPDATE or DELETE that checks the
version matches no row: another session changed (or deleted) the row since
this one loaded it. The error names only the table; this names the object,
the version this session expected and the one the database holds, read as
a guest on a connection of its own.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .capture import StatementRecorder
from .executions import DISPLAY_OPTION
from .instances import instance_label

#: Changed objects looked at for the conflict, at most.
CANDIDATES = 50


@dataclass(frozen=True)
class Versioned:
    """A changed object with a version column, as it stood before a flush."""

    label: str
    mapper: Any
    identity: tuple[Any, ...]
    key: str  # the version attribute
    expected: Any


def versioned_before_flush(session: Session) -> list[Versioned]:
    """The changed or deleted objects with a version column, a bounded few.

    Taken before each flush: a failed flush expires them all, and their
    loaded versions with them.
    """
    states = itertools.chain(session.identity_map._modified, session._deleted)
    found = []
    for state in itertools.islice(states, CANDIDATES):
        mapper = state.mapper
        if state.key is None or mapper.version_id_col is None:
            continue
        key = mapper.get_property_by_column(mapper.version_id_col).key
        expected = state.committed_state.get(key, state.dict.get(key))
        found.append(Versioned(instance_label(state.obj()), mapper, state.key[1], key, expected))
    return found


def describe_conflict(
    exc: BaseException, before: list[Versioned], engine: Engine, recorder: StatementRecorder
) -> str | None:
    """One line for a ``StaleDataError`` naming the object and both versions; else None."""
    if not isinstance(exc, StaleDataError):
        return None
    with engine.connect() as conn:
        recorder.admit_guest(conn)
        for item in before:
            column = item.mapper.version_id_col
            where = [c == v for c, v in zip(item.mapper.primary_key, item.identity, strict=True)]
            found = conn.execute(
                select(column).where(*where), execution_options={DISPLAY_OPTION: True}
            ).first()
            if found is not None and found[0] == item.expected:
                continue  # not this one: its row is as this session loaded it
            now = "no longer has the row" if found is None else f"has {item.key} {found[0]!r}"
            return (
                f"StaleDataError: {item.label} was changed by another session since this "
                f"one loaded it: this session expected {item.key} {item.expected!r}, the "
                f"database {now} (table {column.table.fullname}); this session's change to "
                f"it is discarded"
            )
    return f"StaleDataError: {exc}"
