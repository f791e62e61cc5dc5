"""What the session holds that the database does not, in words, read without SQL.

Pending counts, what a rollback would discard, one line on the unit of work,
and each instance's lifecycle state: the notes below a magic's report.
"""

from __future__ import annotations

import itertools
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


def unsaved(session: Session, flushed: bool, before: Pending | None = None) -> str:
    """What a rollback now would discard, in words; "" when nothing.

    ``flushed`` says whether this transaction flushed anything (so that rows
    flushed but not committed are named only then).
    A failed flush has already taken its objects out of the pending set;
    ``before``, taken ahead of the operation, still counts them.
    """
    parts = []
    pending_now = pending(session)
    if before is not None and before.count > pending_now.count:
        pending_now = before
    if pending_now.count:
        noun = "object" if pending_now.count == 1 else "objects"
        kinds = ", ".join(pending_now.kinds)
        parts.append(f"{pending_now.count:,} pending {noun} discarded ({kinds})")
    changed = len(session.dirty) + len(session.deleted)
    if changed:
        parts.append(f"{changed} unflushed changes undone")
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
