"""Mapping model cells on a registry, configuring it, and taking it down again.

What a ``%%model`` run does with SQLAlchemy's registries, apart from deciding
what to run: configure and report unresolved names, restore a namespace,
forget classes, and keep the tables of models on a user's own bases aside
while a fresh ``Base`` is tried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import Table, inspect
from sqlalchemy import orm as sa_orm

_UNRESOLVED = re.compile(r"expression '([^']+)' failed to locate a name")


def configure_registries(registries: Iterable[sa_orm.registry]) -> str | None:
    """Configure ``registries`` now, so that a broken relationship fails in its cell.

    Returns None when all is configured, or a note when a relationship names
    a class that no cell has defined yet (defined later, it will resolve).
    SQLAlchemy remembers a failed configuration, so after that note the
    registry must be mapped afresh before it is used.
    """
    try:
        for registry in registries:
            registry.configure(cascade=True)
    except sqlalchemy.exc.InvalidRequestError as exc:
        match = _UNRESOLVED.search(str(exc))
        if match is None:
            raise
        return f"{match.group(1)!r} is not defined yet; its relationships resolve once it is"
    return None


def restore_namespace(namespace: MutableMapping[str, Any], snapshot: dict[str, Any]) -> None:
    namespace.clear()
    namespace.update(snapshot)


def forget(classes: Iterable[type]) -> None:
    """Unmap classes one by one from a registry that lives on (a user's own base).

    SQLAlchemy disposes whole registries only; this does for each class what
    ``registry.dispose()`` does for all (sqlalchemy.orm.mapper._dispose_registries).
    """
    for cls in classes:
        mapper: Any = inspect(cls, raiseerr=False)
        if not isinstance(mapper, sa_orm.Mapper):
            continue
        registry, manager = mapper.registry, mapper.class_manager
        registry._managers.pop(manager, None)
        registry._dispose_manager_and_mapper(manager)


@dataclass
class Mapping:
    """Model cells mapped on a fresh ``Base``: what each cell mapped and defined."""

    base: Any
    classes: list[list[type]] = field(default_factory=list)  # per cell
    tables: list[list[Table]] = field(default_factory=list)  # per cell
    note: str | None = None

    def all_classes(self) -> list[type]:
        return [cls for group in self.classes for cls in group]

    def foreign_classes(self) -> list[type]:
        """The classes mapped on a user's own bases rather than on ``base``."""
        return [c for c in self.all_classes() if registry_of(c) is not self.base.registry]

    def dispose(self) -> None:
        """Unmap everything this mapped, its tables on a user's own MetaData included."""
        foreign = self.foreign_classes()
        for cls in foreign:
            table = getattr(cls, "__table__", None)
            if isinstance(table, Table) and table.metadata.tables.get(table.key) is table:
                table.metadata.remove(table)
        forget(foreign)
        self.base.registry.dispose()


def registry_of(cls: type) -> Any:
    # read from the class, as declarative set it: it outlives the mapper's disposal
    return getattr(cls, "registry", None)


class ForeignTables:
    """Tables of models on a user's own bases, taken off their MetaData while
    the cells that define them run again, and put back if they are kept."""

    def __init__(self, tables: Iterable[Table]) -> None:
        self.tables = list(tables)
        for table in self.tables:
            table.metadata.remove(table)

    def put_back(self) -> None:
        """Put the tables back (after the mapping that replaced them was disposed)."""
        for table in self.tables:
            if table.key not in table.metadata.tables:
                table.metadata._add_table(table.name, table.schema, table)
