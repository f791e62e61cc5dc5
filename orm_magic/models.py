"""Running a ``%%model`` cell: the ORM vocabulary, the classes it maps."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

import sqlalchemy
from sqlalchemy import inspect
from sqlalchemy import orm as sa_orm

from .workspace import WorkspaceError

#: Names a model cell may use without importing them. Filled into the user
#: namespace only where the user has not defined the name.
VOCABULARY_NAMES = {
    "Column": sqlalchemy,
    "Integer": sqlalchemy,
    "String": sqlalchemy,
    "Text": sqlalchemy,
    "Float": sqlalchemy,
    "Numeric": sqlalchemy,
    "Boolean": sqlalchemy,
    "Date": sqlalchemy,
    "DateTime": sqlalchemy,
    "ForeignKey": sqlalchemy,
    "select": sqlalchemy,
    "relationship": sa_orm,
    "Mapped": sa_orm,
    "mapped_column": sa_orm,
}


def fill_vocabulary(namespace: MutableMapping[str, Any]) -> list[str]:
    """Put the ORM vocabulary into ``namespace`` where a name is free; return those names."""
    added = []
    for name, module in VOCABULARY_NAMES.items():
        if name not in namespace:
            namespace[name] = getattr(module, name)
            added.append(name)
    return added


def is_mapped_class(value: Any) -> bool:
    return isinstance(value, type) and isinstance(
        inspect(value, raiseerr=False), sa_orm.Mapper
    )


def run_model_cell(
    source: str,
    namespace: MutableMapping[str, Any],
    execute: Callable[[str], None],
) -> list[type]:
    """Run ``source`` with ``execute`` and return the classes it newly mapped.

    A class counts when the cell bound a name in ``namespace`` to a mapped
    class that was not bound to that name before.
    """
    fill_vocabulary(namespace)
    before = dict(namespace)
    execute(source)
    mapped = [
        value
        for name, value in namespace.items()
        if before.get(name) is not value and is_mapped_class(value)
    ]
    if not mapped:
        raise WorkspaceError(
            "the %%model cell mapped no class; define one like `class User(Base): ...` "
            "with a __tablename__ and a primary key"
        )
    # configure now, so that a broken relationship fails in this cell
    sa_orm.configure_mappers()
    return mapped
