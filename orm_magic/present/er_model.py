"""The ER model as the SVG drawing takes it: tables, their columns, foreign keys.

Plain frozen dataclasses, no SQLAlchemy: :mod:`.diagram` reads them from the
mapped tables, :mod:`.layout` places them (in layers by :func:`depths`) and
:mod:`.drawing` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class DiagramColumn:
    """One column as the drawing shows it."""

    name: str
    type: str = ""
    primary_key: bool = False
    foreign_key: bool = False


@dataclass(frozen=True)
class DiagramTable:
    """One table: its name and columns, in order."""

    name: str
    columns: tuple[DiagramColumn, ...] = ()


@dataclass(frozen=True)
class DiagramLink:
    """One foreign key: ``child.columns`` reference ``parent``.

    ``optional``: the key's columns may be NULL (a child needs no parent);
    ``unique``: at most one child per parent (the key is unique or the primary key).
    """

    child: str
    columns: tuple[str, ...]
    parent: str
    optional: bool = False
    unique: bool = False


def depths(names: Sequence[str], links: Sequence[DiagramLink]) -> dict[str, int]:
    """Each table's foreign-key depth; a reference closing a cycle is not followed."""
    parents: dict[str, list[str]] = {name: [] for name in names}
    for link in links:
        if link.parent != link.child:
            parents[link.child].append(link.parent)
    found: dict[str, int] = {}
    on_path: set[str] = set()

    def depth(name: str) -> int:
        if name in found:
            return found[name]
        on_path.add(name)
        deeper = [depth(p) + 1 for p in sorted(parents[name]) if p not in on_path]
        on_path.discard(name)
        found[name] = max(deeper, default=0)
        return found[name]

    for name in sorted(names):
        depth(name)
    return found
