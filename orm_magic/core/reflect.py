"""A ``%%model`` cell written from a live schema, by sqlacodegen's declarative generator.

sqlacodegen (the ``reflect`` extra) writes typed declarative models from a
reflected ``MetaData``: ``Mapped[...]`` with ``mapped_column``,
``relationship()`` on both sides of every foreign key and association tables
as ``Table(...)``. It is called in memory, with the workspace's ``Base`` in
place of the ``class Base(DeclarativeBase)`` it would declare, so that the
cell maps onto the workspace like any other ``%%model`` cell. Its tables
exist and match, so running it emits no DDL (``create_all`` checks first).

The schema is read as a guest (:func:`.reading.display_connection`): no
transaction of anyone's begins or ends, and the reads are not logged.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import FetchedValue, Integer, MetaData, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.sqltypes import NullType

from .capture import StatementRecorder
from .errors import WorkspaceError
from .reading import display_connection

INSTALL_HINT = "pip install 'orm_magic[reflect]'"
#: Notes shown at most; the rest are counted (a schema of 1,000 odd tables).
MAX_NOTES = 20
#: Table names listed at most in an error naming the ones that exist.
MAX_NAMES = 20
_UNRECOGNIZED = re.compile(r"Did not recognize type '(.+)' of column '(.+)'")


@dataclass
class Reflection:
    """The ``%%model`` cell for a schema, and what could not be mapped as asked."""

    source: str
    classes: list[str] = field(default_factory=list)  # class names the cell defines
    tables: list[str] = field(default_factory=list)  # names of plain Table(...)s
    notes: list[str] = field(default_factory=list)  # one line each, bounded


def available() -> bool:
    """True when sqlacodegen is installed (it is imported only when used)."""
    return importlib.util.find_spec("sqlacodegen") is not None


def reflect_source(
    engine: Engine,
    recorder: StatementRecorder,
    tables: Sequence[str] = (),
    schema: str | None = None,
    mapped: dict[str, str] | None = None,
) -> Reflection:
    """The source of a ``%%model`` cell mapping ``tables`` (every table when empty).

    ``mapped`` gives the workspace's tables that a model maps already (table
    name to class name): the cell would replace those models, which a note
    says. Raises WorkspaceError for a missing sqlacodegen, an unknown table or
    an empty schema.
    """
    if not available():
        raise WorkspaceError(f"sqlacodegen is not installed; {INSTALL_HINT}")
    with display_connection(engine, recorder, None) as conn:
        metadata, caught = _reflect(conn, list(tables), schema)
        generator = _generator_class()(metadata, conn, [])
        body = generator.generate()
    models = generator.models
    reflection = Reflection(source="%%model\n" + _two_blank_lines_after_imports(body))
    linked = {id(rel.association_table) for m in models for rel in getattr(m, "relationships", ())}
    notes: list[str] = []
    for model in models:
        table = model.table
        if hasattr(model, "relationships"):
            reflection.classes.append(model.name)
        else:
            reflection.tables.append(table.fullname)
            if not table.primary_key and id(model) not in linked:
                notes.append(
                    f"{table.fullname} has no primary key: written as a Table, not a class"
                    " (the ORM maps a class only to a table with a primary key; add one"
                    " to the database to get a class)"
                )
    notes.extend(_type_notes(metadata, caught))
    for table_name, class_name in (mapped or {}).items():
        if table_name in metadata.tables:
            notes.append(
                f"{table_name} is mapped already by {class_name}; running the cell replaces"
                " that model"
            )
    if len(notes) > MAX_NOTES:
        notes[MAX_NOTES:] = [f"… and {len(notes) - MAX_NOTES} more"]
    reflection.notes = notes
    return reflection


def _two_blank_lines_after_imports(body: str) -> str:
    """PEP 8's two blank lines between the imports and the first definition.

    sqlacodegen puts one there, having left out the base class that usually follows.
    """
    lines = body.strip("\n").splitlines()
    first = next(
        (i for i, line in enumerate(lines) if line and not line.startswith(("from ", "import "))),
        0,
    )
    if first == 0:
        return "\n".join(lines) + "\n"
    head = lines[:first]
    while head and not head[-1]:
        head.pop()
    return "\n".join([*head, "", "", *lines[first:]]) + "\n"


def _reflect(
    conn: Connection, tables: list[str], schema: str | None
) -> tuple[MetaData, list[str]]:
    """The schema's tables (``tables`` and those they refer to), and the warnings raised."""
    inspector = inspect(conn)
    if schema is not None and schema not in inspector.get_schema_names():
        known = ", ".join(inspector.get_schema_names()[:MAX_NAMES])
        raise WorkspaceError(f"no schema {schema!r} in the database; its schemas: {known}")
    existing = inspector.get_table_names(schema=schema)
    unknown = [name for name in tables if name not in existing]
    if unknown or not existing:
        where = f"schema {schema!r}" if schema else "the database"
        if not existing:
            raise WorkspaceError(f"{where} has no tables to reflect")
        known = ", ".join(sorted(existing)[:MAX_NAMES])
        more = f" (and {len(existing) - MAX_NAMES} more)" if len(existing) > MAX_NAMES else ""
        raise WorkspaceError(f"no table {unknown[0]!r} in {where}; its tables: {known}{more}")
    metadata = MetaData()
    with warnings.catch_warnings(record=True) as caught:
        # SQLAlchemy warns of a type it does not know and maps it as NullType:
        # each becomes a note naming the table and column
        warnings.simplefilter("always")
        metadata.reflect(conn, schema=schema, only=tables or None, views=False)
    if conn.dialect.name == "sqlite":
        _mark_rowids(metadata)
    return metadata, [str(item.message) for item in caught]


def _mark_rowids(metadata: MetaData) -> None:
    """Say that SQLite fills each ``INTEGER PRIMARY KEY``: ``server_default=FetchedValue()``.

    SQLite reports such a column nullable (``PRAGMA table_info``), though it
    is the rowid and never NULL. Mapped nullable with no default, SQLAlchemy
    refuses to INSERT two new rows in one flush ("sentinel column with no
    default generation function"). ``nullable=False`` would differ from the
    database, and %%model would change the table to match; a FetchedValue
    only says what is true (the database assigns the value) and is no DDL.
    """
    for table in metadata.tables.values():
        columns = list(table.primary_key.columns)
        if len(columns) != 1:
            continue
        column = columns[0]
        integer = column.type._type_affinity is Integer  # noqa: SLF001
        if column.nullable and integer and column.server_default is None:
            column.server_default = FetchedValue()


def _type_notes(metadata: MetaData, caught: list[str]) -> list[str]:
    """One line per column of a type SQLAlchemy does not know, and per other warning."""
    type_names: dict[str, str] = {}
    others: list[str] = []
    for message in caught:
        match = _UNRECOGNIZED.match(message)
        if match:
            type_names[match.group(2)] = match.group(1)
        else:
            others.append(f"warning — {message}")
    notes = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, NullType):
                known = type_names.get(column.name)
                named = f" ({known})" if known else ""
                notes.append(
                    f"{table.fullname}.{column.name}: SQLAlchemy does not know its type{named};"
                    " mapped as a plain Column of NullType: values pass as the driver gives them"
                )
    return notes + others


def _generator_class() -> Any:
    """sqlacodegen's DeclarativeGenerator, writing onto the workspace's ``Base``.

    Defined here, not at import: sqlacodegen is an optional extra, and it is
    imported only when a schema is reflected.
    """
    from sqlacodegen.generators import Base, DeclarativeGenerator

    workspace_base = Base(literal_imports=[], declarations=[], metadata_ref="Base.metadata")

    class CellGenerator(DeclarativeGenerator):
        """Declares no base class of its own: ``Base`` is the workspace's."""

        models: list[Any]

        def generate_base(self) -> None:
            self.base = workspace_base

        def generate_models(self) -> list[Any]:
            models: list[Any] = super().generate_models()
            # a schema of plain tables makes sqlacodegen fall back to a
            # `metadata = MetaData()` of its own; the cell's tables belong
            # on Base.metadata, where %%model looks for them
            self.base = workspace_base
            self.remove_literal_import("sqlalchemy", "MetaData")
            self.models = models
            return models

        def collect_imports_for_column(self, column: Any) -> None:
            super().collect_imports_for_column(column)
            if type(column.server_default) is FetchedValue:  # see _mark_rowids
                self.add_literal_import("sqlalchemy", "FetchedValue")

        def render_column_attribute(self, column_attr: Any) -> str:
            column = column_attr.column
            if not isinstance(column.type, NullType):
                rendered: str = super().render_column_attribute(column_attr)
                return rendered
            # Mapped[...] cannot hold a type SQLAlchemy does not know (it
            # would resolve the annotation, and fail): a plain Column maps it
            self.add_literal_import("sqlalchemy", "Column")
            return f"{column_attr.name} = {self.render_column(column, True, is_table=True)}"

    return CellGenerator
