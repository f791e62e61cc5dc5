"""Running ``%%model`` cells, again and again, in any order.

SQLAlchemy does not tolerate a class being defined twice on one registry
("Table 'users' is already defined", "Multiple classes found for path"), and
what it does after several redefinitions depends on garbage collection. So the
workspace keeps the source of every model cell in order (:class:`ModelBook`),
by the cell id Jupyter sends where there is one.

Every cell is first tried: every model cell, the new one in its place, runs
on a fresh ``Base`` and its relationships are configured there, and its
tables are created or changed in one transaction. Only when all of that
succeeds does the workspace change. A cell that adds new models keeps the
live classes (and the session's objects) and runs once more on the live
``Base``; a cell that redefines, renames or moves a model adopts the fresh
``Base``, and the session's objects of the replaced classes are discarded,
which its report says. A cell that fails leaves the models, the namespace,
the database and the session as they were.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, Table, inspect
from sqlalchemy import orm as sa_orm

from . import schema_changes
from .engine import new_base
from .errors import WorkspaceError
from .model_cells import Execute, ModelBook, ModelCell, fill_vocabulary, is_mapped_class
from .model_failures import ModelCellFailed
from .registries import (
    ForeignTables,
    Mapping,
    configure_registries,
    forget,
    registry_of,
    restore_namespace,
)
from .workspace import Workspace


@dataclass
class ModelRun:
    """What a ``%%model`` cell did."""

    classes: list[type]
    tables: list[str] = field(default_factory=list)  # the tables the cell defines
    rebuilt: bool = False
    notes: list[str] = field(default_factory=list)


class ModelRunner:
    """Runs model cells against a workspace; keeps their sources."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.book = ModelBook()
        self.emptied: set[str] = set()  # tables whose rows this run deletes (--drop)

    def run(
        self,
        source: str,
        namespace: MutableMapping[str, Any],
        execute: Execute,
        confirm: bool = False,
        cell_id: str | None = None,
        drop: bool = False,
    ) -> ModelRun:
        """Run one ``%%model`` cell; on failure raise :class:`ModelCellFailed`, having
        restored everything. ``confirm`` (``--yes``): drop columns or tables holding
        rows on a file or server; ``drop`` (``--drop``): empty the cell's tables."""
        try:
            cell = ModelCell.parse(source, cell_id)
        except SyntaxError as exc:
            raise ModelCellFailed(exc) from exc
        cells, replaced = self.book.with_cell(cell)
        ws = self.workspace
        snapshot = dict(namespace)
        old_tables = ws.tables()
        foreign = ForeignTables(
            t for t in ws._tables_of(ws.models.values()) if t.metadata is not ws.Base.metadata
        )
        try:
            fill_vocabulary(namespace)
            trial = self._map(cells, namespace, execute, configure=True)
        except BaseException as exc:
            restore_namespace(namespace, snapshot)
            foreign.put_back()
            raise ModelCellFailed(exc) from exc
        index = cells.index(cell)
        if not (trial.classes[index] or trial.tables[index]):
            trial.dispose()
            restore_namespace(namespace, snapshot)
            foreign.put_back()
            raise ModelCellFailed(
                WorkspaceError(
                    "the %%model cell mapped no class; define one like `class User(Base): ...`"
                    " with a __tablename__ and a primary key"
                )
            )
        extends = not (replaced or cell.names & set(ws.all_models()))
        self.emptied = {t.key for t in trial.tables[index]} if drop else set()
        if extends:
            run = self._extend(cell, trial, index, namespace, snapshot, execute, foreign, confirm)
            if run is not None:
                self.book.cells = cells
                return run
            # the live registry could not take the cell: map afresh, replace it
            try:
                trial = self._map(cells, namespace, execute, configure=True)
            except BaseException as exc:
                restore_namespace(namespace, snapshot)
                foreign.put_back()
                raise ModelCellFailed(exc) from exc
        run = self._replace(
            cells, index, trial, namespace, snapshot, execute, old_tables, confirm, foreign
        )
        self.book.cells = cells
        self._forget_names(replaced, cells, namespace, snapshot)
        return run

    # -- mapping ------------------------------------------------------------------
    def _map(
        self,
        cells: list[ModelCell],
        namespace: MutableMapping[str, Any],
        execute: Execute,
        configure: bool,
    ) -> Mapping:
        """``cells`` run in order on a fresh ``Base``; disposed again if that fails."""
        ws = self.workspace
        mapping = Mapping(new_base())
        if namespace.get("Base") is ws.Base:
            namespace["Base"] = mapping.base
        try:
            for cell in cells:
                classes, tables = _run_one(cell, mapping.base.metadata, namespace, execute)
                mapping.classes.append(classes)
                mapping.tables.append(tables)
            if configure:
                registries: set[sa_orm.registry] = {
                    inspect(c).registry for c in mapping.all_classes()
                }
                mapping.note = configure_registries([mapping.base.registry, *registries])
        except BaseException:
            mapping.dispose()
            raise
        return mapping

    def _extend(
        self,
        cell: ModelCell,
        trial: Mapping,
        index: int,
        namespace: MutableMapping[str, Any],
        snapshot: dict[str, Any],
        execute: Execute,
        foreign: ForeignTables,
        confirm: bool,
    ) -> ModelRun | None:
        """Add a cell of new models to the live ``Base``, keeping the live classes.

        Its tables are created from the trial's definitions first. Returns None
        when the live registry cannot take the cell (an earlier relationship
        failed there): then the trial replaces it.
        """
        ws = self.workspace
        try:
            self._end_session_transaction()
            every = [t for group in trial.tables for t in group]
            notes = schema_changes.bring_in_line(ws, ws.tables(), every, confirm, self.emptied)
        except BaseException as exc:
            trial.dispose()
            restore_namespace(namespace, snapshot)
            foreign.put_back()
            raise ModelCellFailed(exc) from exc
        trial.dispose()
        foreign.put_back()
        restore_namespace(namespace, snapshot)
        fill_vocabulary(namespace)
        try:
            classes, tables = _run_one(cell, ws.Base.metadata, namespace, execute)
            if trial.note is None:
                configure_registries({ws.Base.registry, *(inspect(c).registry for c in classes)})
        except Exception:
            # the trial mapped and configured this; the live registry cannot
            # (a relationship of an earlier cell failed there)
            restore_namespace(namespace, snapshot)
            fill_vocabulary(namespace)
            return None
        ws.register(classes)
        notes = ([trial.note] if trial.note else []) + notes
        return ModelRun(classes, [t.fullname for t in tables], notes=notes)

    def _replace(
        self,
        cells: list[ModelCell],
        index: int,
        trial: Mapping,
        namespace: MutableMapping[str, Any],
        snapshot: dict[str, Any],
        execute: Execute,
        old_tables: dict[str, Table],
        confirm: bool,
        foreign: ForeignTables,
    ) -> ModelRun:
        """Adopt the trial's ``Base`` in place of the live one: a redefinition."""
        ws = self.workspace
        run = ModelRun(list(trial.classes[index]), rebuilt=True)
        run.tables = [t.fullname for t in trial.tables[index]]
        discarded = ""
        try:
            tables = [t for group in trial.tables for t in group]
            if ws._session_connection is not None:
                # refuse a drop before the session's work is lost; its
                # transaction holds locks on the tables to change: end it
                schema_changes.check(ws, old_tables, tables, confirm)
                discarded = ws.discard_session_changes()
            run.notes = schema_changes.bring_in_line(ws, old_tables, tables, confirm, self.emptied)
        except BaseException as exc:
            trial.dispose()
            restore_namespace(namespace, snapshot)
            foreign.put_back()
            raise ModelCellFailed(exc, discarded) from exc
        discarded = "; ".join(p for p in (discarded, ws.discard_session_changes()) if p)
        if discarded:
            run.notes.append(f"models redefined, so the session was reset: {discarded}")
        if trial.note is not None:
            # SQLAlchemy remembers the failed configuration: map everything
            # again, unconfigured (it resolves once the missing class exists)
            run.notes.append(trial.note)
            trial.dispose()
            restore_namespace(namespace, snapshot)
            fill_vocabulary(namespace)
            trial = self._map(cells, namespace, execute, configure=False)
            run.classes = list(trial.classes[index])
        old_base = ws.Base
        forget(c for c in ws.models.values() if registry_of(c) is not old_base.registry)
        ws.Base, ws.models = trial.base, {}
        ws.register(trial.all_classes())
        old_base.registry.dispose()
        return run

    # -- the database ---------------------------------------------------------------
    def _end_session_transaction(self) -> None:
        """Before DDL: a session transaction holds locks (and, in memory, shares
        the one connection, whose COMMIT would commit the session's work too).
        End it when that loses nothing; refuse when it would."""
        ws = self.workspace
        if ws._session_connection is None:
            return
        unsaved = ws.unsaved()
        if unsaved:
            raise WorkspaceError(
                "creating its tables needs the session's transaction to end first, which"
                f" would discard work not committed ({unsaved}); run %orm_commit or"
                " %orm_rollback, then this cell again"
            )
        ws.session.rollback()

    # -- the namespace ----------------------------------------------------------------
    def _forget_names(
        self,
        replaced: list[ModelCell],
        cells: list[ModelCell],
        namespace: MutableMapping[str, Any],
        snapshot: dict[str, Any],
    ) -> None:
        """Remove the classes of replaced cells that no cell defines any more
        (a renamed class), so that no one builds objects of a disposed class."""
        defined = {name for cell in cells for name in cell.names}
        for cell in replaced:
            for name in cell.names - defined:
                if name in snapshot and namespace.get(name) is snapshot[name]:
                    del namespace[name]


def _run_one(
    cell: ModelCell, metadata: MetaData, namespace: MutableMapping[str, Any], execute: Execute
) -> tuple[list[type], list[Table]]:
    """Run one cell; the classes it mapped and the tables it defined."""
    before = dict(namespace)
    before_tables = set(metadata.tables)
    execute(cell.source)
    classes = [
        value
        for name, value in namespace.items()
        if before.get(name) is not value and is_mapped_class(value)
    ]
    tables = [t for key, t in metadata.tables.items() if key not in before_tables]
    for table in Workspace._tables_of(classes):
        if table not in tables:
            tables.append(table)
    return classes, tables
