"""What the session holds that the database does not, in words, read without SQL.

Pending counts, what a rollback would discard, one line on the unit of work,
and each instance's lifecycle state: the notes below a magic's report.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..data.tables import Pending
from .instances import explain_state, instance_label


def pending(session: Session) -> Pending:
    """How many objects are pending, and the kinds of the first hundred.

    ``session.new`` builds a set of every pending object; the session's
    own dict (``Session._new``, stable since SQLAlchemy 0.x) gives the
    count at once and the kinds of a bounded few.
    """
    new: dict[Any, Any] = session._new
    kinds = sorted({type(obj).__name__ for obj in itertools.islice(new.values(), 100)})
    return Pending(len(new), tuple(kinds))


@dataclass(frozen=True)
class Changes:
    """The session's modified and deleted objects at one moment, with a few kinds each."""

    modified: int = 0
    modified_kinds: tuple[str, ...] = ()
    deleted: int = 0
    deleted_kinds: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return self.modified + self.deleted


def _kinds(states: Any) -> tuple[str, ...]:
    return tuple(sorted({state.class_.__name__ for state in itertools.islice(states, 100)}))


def changes(session: Session) -> Changes:
    """The modified (``session.dirty``) and deleted objects, counted from the session's dicts."""
    deleted: dict[Any, Any] = session._deleted
    modified = [s for s in session.identity_map._modified if s not in deleted]
    return Changes(len(modified), _kinds(modified), len(deleted), _kinds(deleted))


def _counted(count: int, kinds: tuple[str, ...], what: str) -> str:
    noun = "object" if count == 1 else "objects"
    return f"{count:,} {what.format(noun=noun)} ({', '.join(kinds)})"


def unsaved(
    session: Session,
    flushed: bool,
    before: Pending | None = None,
    at_flush: Changes | None = None,
) -> str:
    """What a rollback now would discard, in words; "" when nothing.

    ``flushed`` says whether this transaction flushed anything (so that rows
    flushed but not committed are named only then).
    A failed flush has already taken its objects out of the pending set, and
    reverted its modified and deleted objects; ``before``, taken ahead of the
    operation, still counts the pending ones, and ``at_flush``, taken as the
    failed flush began, the others.
    """
    parts = []
    pending_now = pending(session)
    if before is not None and before.count > pending_now.count:
        pending_now = before
    if pending_now.count:
        parts.append(_counted(pending_now.count, pending_now.kinds, "pending {noun} discarded"))
    changed = changes(session)
    if at_flush is not None and at_flush.count > changed.count:
        changed = at_flush
    if changed.modified:
        parts.append(
            _counted(changed.modified, changed.modified_kinds, "modified {noun} reverted")
        )
    if changed.deleted:
        what = "{noun} marked for deletion kept"
        parts.append(_counted(changed.deleted, changed.deleted_kinds, what))
    if flushed:
        parts.append("rows flushed but not committed undone")
    return "; ".join(parts)


def pending_summary(session: Session) -> str:
    """One line on what the session holds that the database does not."""
    parts = []
    # counted from the session's own dicts: session.new/.deleted would
    # first copy every object into a set
    for label, count in (
        ("pending", len(session._new)),
        ("modified", len(session.dirty)),
        ("marked for deletion", len(session._deleted)),
    ):
        if count:
            noun = "object" if count == 1 else "objects"
            parts.append(f"{count} {noun} {label}")
    return "; ".join(parts)


def state_notes(session: Session, instances: list[Any], limit: int) -> list[str]:
    """Each instance's lifecycle state, read without SQL, at most ``limit`` lines."""
    deleted = session.deleted  # built once: its size is the session's business
    notes = [
        f"{instance_label(obj)}: {explain_state(obj, obj in deleted)}" for obj in instances[:limit]
    ]
    if len(instances) > limit:
        notes.append(f"… and {len(instances) - limit:,} more")
    return notes
