"""Running ``%%model`` cells, again and again, in any order.

SQLAlchemy does not tolerate a class being defined twice on one registry
("Table 'users' is already defined", "Multiple classes found for path"), and
what it does after several redefinitions depends on garbage collection. So the
workspace keeps the source of every model cell in order (:class:`ModelBook`).
A cell that defines new names runs on the current ``Base``. A cell that
redefines a name rebuilds: a fresh ``Base``, and every model cell run again on
it, the new version in place of the old. A cell that fails leaves the models,
the namespace and the database exactly as they were.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import Table, inspect
from sqlalchemy import orm as sa_orm

from . import migrate
from .engine import new_base
from .errors import WorkspaceError
from .workspace import Workspace

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

Execute = Callable[[str], None]


def fill_vocabulary(namespace: MutableMapping[str, Any]) -> list[str]:
    """Put the ORM vocabulary into ``namespace`` where a name is free; return those names."""
    added = []
    for name, module in VOCABULARY_NAMES.items():
        if name not in namespace:
            namespace[name] = getattr(module, name)
            added.append(name)
    return added


def is_mapped_class(value: Any) -> bool:
    return isinstance(value, type) and isinstance(inspect(value, raiseerr=False), sa_orm.Mapper)


def class_names(source: str) -> frozenset[str]:
    """Names of the classes a cell defines at top level (raises SyntaxError)."""
    tree = ast.parse(source)
    return frozenset(node.name for node in tree.body if isinstance(node, ast.ClassDef))


@dataclass
class ModelCell:
    names: frozenset[str]
    source: str


@dataclass
class ModelBook:
    """The source of every model cell that ran, in order."""

    cells: list[ModelCell] = field(default_factory=list)

    def with_cell(self, source: str) -> list[ModelCell]:
        """The cells as they would be with ``source`` run: it replaces the
        earlier cells that define any of its names, at the first one's place."""
        new = ModelCell(class_names(source), source)
        out: list[ModelCell] = []
        placed = False
        for cell in self.cells:
            if cell.names & new.names:
                if not placed:
                    out.append(new)
                    placed = True
            else:
                out.append(cell)
        if not placed:
            out.append(new)
        return out


@dataclass
class ModelRun:
    """What a ``%%model`` cell did."""

    classes: list[type]
    rebuilt: bool = False
    notes: list[str] = field(default_factory=list)
    changes: list[migrate.TableChange] = field(default_factory=list)


def _mapped_since(before: dict[str, Any], namespace: MutableMapping[str, Any]) -> list[type]:
    return [
        value
        for name, value in namespace.items()
        if before.get(name) is not value and is_mapped_class(value)
    ]


def _restore(namespace: MutableMapping[str, Any], snapshot: dict[str, Any]) -> None:
    namespace.clear()
    namespace.update(snapshot)


def _run_cells(
    cells: list[ModelCell], namespace: MutableMapping[str, Any], execute: Execute
) -> list[type]:
    """Run ``cells`` in order; return what the last one mapped."""
    mapped: list[type] = []
    for cell in cells:
        before = dict(namespace)
        execute(cell.source)
        mapped = _mapped_since(before, namespace)
    return mapped


def _configure() -> str | None:
    """Configure the mappers now, so that a broken relationship fails in its cell.

    Returns None when all is configured, or a note when a relationship names
    a class that no cell has defined yet (defined later, it will resolve).
    SQLAlchemy remembers a failed configuration, so after a failure the
    caller must rebuild the registry before going on.
    """
    try:
        sa_orm.configure_mappers()
    except sqlalchemy.exc.InvalidRequestError as exc:
        match = _UNRESOLVED.search(str(exc))
        if match is None:
            raise
        return f"{match.group(1)!r} is not defined yet; its relationships resolve once it is"
    return None


_UNRESOLVED = re.compile(r"expression '([^']+)' failed to locate a name")


class ModelRunner:
    """Runs model cells against a workspace; keeps their sources."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.book = ModelBook()

    def run(
        self, source: str, namespace: MutableMapping[str, Any], execute: Execute, drop: bool
    ) -> ModelRun:
        """Run one ``%%model`` cell. On any failure, restore everything and re-raise."""
        cells = self.book.with_cell(source)  # a SyntaxError stops here, before any change
        names = class_names(source)
        redefines = len(cells) <= len(self.book.cells) or bool(
            names & set(self.workspace.all_models())
        )
        snapshot = dict(namespace)
        fill_vocabulary(namespace)
        if redefines or drop:
            return self._rebuild(cells, namespace, execute, snapshot, drop, names)
        ws = self.workspace
        try:
            mapped = _run_cells(cells[-1:], namespace, execute)
            if not mapped:
                raise WorkspaceError(
                    "the %%model cell mapped no class; define one like `class User(Base): ...`"
                    " with a __tablename__ and a primary key"
                )
        except BaseException:
            self._back_to_book(namespace, snapshot, execute)
            raise
        try:
            note = _configure()
        except Exception:
            note = "failed"
        if note is None:
            self.book.cells = cells
            ws.register(mapped)
            return ModelRun(mapped)
        # Configuration failed (a name not defined yet, or a registry poisoned
        # by an earlier failure): go back to the book's state, then rebuild.
        self._back_to_book(namespace, snapshot, execute)
        return self._rebuild(cells, namespace, execute, dict(namespace), drop, names)

    def _back_to_book(
        self,
        namespace: MutableMapping[str, Any],
        snapshot: dict[str, Any],
        execute: Execute,
    ) -> None:
        """Restore the namespace; if the registry holds classes the book does
        not, map the book's cells afresh (half-registered classes would break
        every later configure)."""
        ws = self.workspace
        _restore(namespace, snapshot)
        book_names = {name for cell in self.book.cells for name in cell.names}
        try:
            current = {m.class_.__name__ for m in ws.Base.registry.mappers}
        except sqlalchemy.exc.SQLAlchemyError:
            current = {"<unmapped>"}
        if not current <= book_names:
            old = ws.Base
            fill_vocabulary(namespace)
            self._fresh_registry(self.book.cells, namespace, execute, replacing=old)
            old.registry.dispose()

    def _fresh_registry(
        self,
        cells: list[ModelCell],
        namespace: MutableMapping[str, Any],
        execute: Execute,
        replacing: type,
    ) -> list[type]:
        """A fresh ``Base`` with ``cells`` run on it, in place of ``replacing``."""
        ws = self.workspace
        fresh = new_base()
        if namespace.get("Base") is replacing:
            namespace["Base"] = fresh
        ws.Base, ws.models = fresh, {}
        mapped = _run_cells(cells, namespace, execute)
        ws.register(m.class_ for m in fresh.registry.mappers)
        ws.register(mapped)
        return mapped

    def _rebuild(
        self,
        cells: list[ModelCell],
        namespace: MutableMapping[str, Any],
        execute: Execute,
        snapshot: dict[str, Any],
        drop: bool,
        names: frozenset[str],
    ) -> ModelRun:
        ws = self.workspace
        old_base, old_models = ws.Base, dict(ws.models)
        old_tables = ws.tables()
        run = ModelRun([], rebuilt=True)
        for cls in old_models.values():  # models on the user's own bases
            table = getattr(cls, "__table__", None)
            if (
                isinstance(table, Table)
                and table.metadata is not old_base.metadata
                and cls.__name__ in names
            ):
                table.metadata.remove(table)
        fresh_bases = []
        try:
            mapped = self._fresh_registry(cells, namespace, execute, replacing=old_base)
            fresh_bases.append(ws.Base)
            if not mapped:
                raise WorkspaceError("the %%model cell mapped no class")
            note = _configure()
            if note is not None:
                # SQLAlchemy remembers the failure: map everything again, unconfigured
                _restore(namespace, snapshot)
                fill_vocabulary(namespace)
                mapped = self._fresh_registry(cells, namespace, execute, replacing=old_base)
                fresh_bases.append(ws.Base)
                run.notes.append(note)
            discarded = ws.discard_session_changes()
            if discarded:
                run.notes.append(f"models redefined, so the session was reset: {discarded}")
            # the classes this cell defines (the rebuild ran every cell)
            run.classes = [cls for name, cls in ws.models.items() if name in names] or mapped
            run.changes = self._migrate(old_tables, run.classes, drop)
        except BaseException:
            _restore(namespace, snapshot)
            ws.Base, ws.models = old_base, old_models
            for base in fresh_bases:
                base.registry.dispose()
            raise
        for base in fresh_bases[:-1]:
            base.registry.dispose()
        if old_base is not ws.Base:
            old_base.registry.dispose()
        self.book.cells = cells
        return run

    def _migrate(
        self, old_tables: dict[str, Table], classes: list[type], drop: bool
    ) -> list[migrate.TableChange]:
        ws = self.workspace
        new_tables = ws.tables()
        mine: set[str] = set()
        for cls in classes:
            mapper: sa_orm.Mapper[Any] = inspect(cls)
            mine.update(t.fullname for t in mapper.tables)
        changes: list[migrate.TableChange] = []
        if not any(name in old_tables for name in mine):
            return changes
        with ws.engine.begin() as conn:
            for name in sorted(mine):
                old, new = old_tables.get(name), new_tables[name]
                if old is None:
                    continue
                change = migrate.compare(old, new, conn.dialect)
                if change.changed or drop:
                    migrate.rebuild(conn, old, new, change, keep=not drop)
                    changes.append(change)
        return changes
