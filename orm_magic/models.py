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

import ast
import re
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import MetaData, Table, inspect
from sqlalchemy import orm as sa_orm
from sqlalchemy.schema import sort_tables

from . import migrate
from .engine import new_base
from .errors import WorkspaceError, describe_error, first_line
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
    "Table": sqlalchemy,
    "select": sqlalchemy,
    "relationship": sa_orm,
    "Mapped": sa_orm,
    "mapped_column": sa_orm,
}

Execute = Callable[[str], None]

#: The attribute of the OrmMagic instance that holds its :class:`ExecutingCell`.
EXECUTING_ATTRIBUTE = "executing_cell"


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


def table_names(source: str) -> frozenset[str]:
    """Table names a cell spells out: ``__tablename__ = 'x'`` and ``Table('x', ...)``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        value: ast.expr | None = None
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(t, "id", None) == "__tablename__" for t in targets):
                value = node.value
        elif (
            isinstance(node, ast.Call)
            and node.args
            and "Table"
            in (
                getattr(node.func, "id", None),
                getattr(node.func, "attr", None),
            )
        ):
            value = node.args[0]
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.add(value.value)
    return frozenset(found)


class ExecutingCell:
    """The id Jupyter sent with the cell that is running, from ``pre_run_cell``.

    IPython hands ``pre_run_cell`` callbacks an ``ExecutionInfo`` whose
    ``cell_id`` is the notebook cell's id (None in a terminal, and absent
    before IPython 8). The id counts for a ``%%model`` cell only when that
    cell is the one running, not code that calls the magic itself.
    """

    def __init__(self) -> None:
        self.cell_id: str | None = None
        self.raw_cell = ""

    def started(self, info: Any = None, *args: Any) -> None:
        self.cell_id = getattr(info, "cell_id", None) or None
        self.raw_cell = getattr(info, "raw_cell", "") or ""

    def id_of(self, line: str, cell: str) -> str | None:
        """The running cell's id if it is the ``%%model`` cell with this body."""
        raw = self.raw_cell.lstrip()
        if self.cell_id and raw.startswith(f"%%model{line}".rstrip()) and cell.strip() in raw:
            return self.cell_id
        return None


@dataclass
class ModelCell:
    source: str
    names: frozenset[str]  # classes it defines
    tables: frozenset[str]  # table names it spells out
    cell_id: str | None = None

    @classmethod
    def parse(cls, source: str, cell_id: str | None = None) -> ModelCell:
        """The cell of ``source`` (raises SyntaxError)."""
        return cls(source, class_names(source), table_names(source), cell_id)


@dataclass
class ModelBook:
    """The source of every model cell that ran, in order."""

    cells: list[ModelCell] = field(default_factory=list)

    def with_cell(self, new: ModelCell) -> tuple[list[ModelCell], list[ModelCell]]:
        """The cells as they would be with ``new`` run, and the earlier cells it replaces.

        It replaces the earlier version of itself (the same cell id) and the
        cells that define any of its classes or tables, at the first one's place.
        """
        out: list[ModelCell] = []
        replaced: list[ModelCell] = []
        for cell in self.cells:
            same = new.cell_id is not None and cell.cell_id == new.cell_id
            if same or cell.names & new.names or cell.tables & new.tables:
                if not replaced:
                    out.append(new)
                replaced.append(cell)
            else:
                out.append(cell)
        if not replaced:
            out.append(new)
        return out, replaced


@dataclass
class ModelRun:
    """What a ``%%model`` cell did."""

    classes: list[type]
    tables: list[str] = field(default_factory=list)  # the tables the cell defines
    rebuilt: bool = False
    notes: list[str] = field(default_factory=list)
    changes: list[migrate.TableChange] = field(default_factory=list)


class ModelCellFailed(Exception):
    """A ``%%model`` cell failed and changed nothing, except, where the
    session's work could not be kept, ``discarded`` (in words; "" if nothing)."""

    def __init__(self, error: BaseException, discarded: str = "") -> None:
        super().__init__(str(error))
        self.error = error
        self.discarded = discarded


_UNRESOLVED = re.compile(r"expression '([^']+)' failed to locate a name")


def _configure(registries: Iterable[sa_orm.registry]) -> str | None:
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


def _restore(namespace: MutableMapping[str, Any], snapshot: dict[str, Any]) -> None:
    namespace.clear()
    namespace.update(snapshot)


def _forget(classes: Iterable[type]) -> None:
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
        return [c for c in self.all_classes() if _registry_of(c) is not self.base.registry]

    def dispose(self) -> None:
        """Unmap everything this mapped, its tables on a user's own MetaData included."""
        foreign = self.foreign_classes()
        for cls in foreign:
            table = getattr(cls, "__table__", None)
            if isinstance(table, Table) and table.metadata.tables.get(table.key) is table:
                table.metadata.remove(table)
        _forget(foreign)
        self.base.registry.dispose()


def _registry_of(cls: type) -> Any:
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


class ModelRunner:
    """Runs model cells against a workspace; keeps their sources."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.book = ModelBook()

    def run(
        self,
        source: str,
        namespace: MutableMapping[str, Any],
        execute: Execute,
        drop: bool,
        cell_id: str | None = None,
    ) -> ModelRun:
        """Run one ``%%model`` cell; on failure raise :class:`ModelCellFailed`, having
        restored everything."""
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
            _restore(namespace, snapshot)
            foreign.put_back()
            raise ModelCellFailed(exc) from exc
        index = cells.index(cell)
        if not (trial.classes[index] or trial.tables[index]):
            trial.dispose()
            _restore(namespace, snapshot)
            foreign.put_back()
            raise ModelCellFailed(
                WorkspaceError(
                    "the %%model cell mapped no class; define one like `class User(Base): ...`"
                    " with a __tablename__ and a primary key"
                )
            )
        extends = not (replaced or drop or cell.names & set(ws.all_models()))
        if extends:
            run = self._extend(cell, trial, index, namespace, snapshot, execute, foreign)
            if run is not None:
                self.book.cells = cells
                return run
            # the live registry could not take the cell: map afresh, replace it
            try:
                trial = self._map(cells, namespace, execute, configure=True)
            except BaseException as exc:
                _restore(namespace, snapshot)
                foreign.put_back()
                raise ModelCellFailed(exc) from exc
        run = self._replace(
            cells, index, trial, namespace, snapshot, execute, old_tables, drop, foreign
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
                mapping.note = _configure([mapping.base.registry, *registries])
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
    ) -> ModelRun | None:
        """Add a cell of new models to the live ``Base``, keeping the live classes.

        Its tables are created from the trial's definitions first. Returns None
        when the live registry cannot take the cell (an earlier relationship
        failed there): then the trial replaces it.
        """
        ws = self.workspace
        try:
            self._end_session_transaction()
            changes = self._apply_tables({}, trial.tables[index], drop=False)
        except BaseException as exc:
            trial.dispose()
            _restore(namespace, snapshot)
            foreign.put_back()
            raise ModelCellFailed(exc) from exc
        trial.dispose()
        foreign.put_back()
        _restore(namespace, snapshot)
        fill_vocabulary(namespace)
        try:
            classes, tables = _run_one(cell, ws.Base.metadata, namespace, execute)
            if trial.note is None:
                _configure({ws.Base.registry, *(inspect(c).registry for c in classes)})
        except Exception:
            # the trial mapped and configured this; the live registry cannot
            # (a relationship of an earlier cell failed there)
            _restore(namespace, snapshot)
            fill_vocabulary(namespace)
            return None
        ws.register(classes)
        notes = [trial.note] if trial.note else []
        return ModelRun(classes, [t.fullname for t in tables], notes=notes, changes=changes)

    def _replace(
        self,
        cells: list[ModelCell],
        index: int,
        trial: Mapping,
        namespace: MutableMapping[str, Any],
        snapshot: dict[str, Any],
        execute: Execute,
        old_tables: dict[str, Table],
        drop: bool,
        foreign: ForeignTables,
    ) -> ModelRun:
        """Adopt the trial's ``Base`` in place of the live one: a redefinition."""
        ws = self.workspace
        run = ModelRun(list(trial.classes[index]), rebuilt=True)
        run.tables = [t.fullname for t in trial.tables[index]]
        discarded = ""
        try:
            if ws._session_connection is not None:
                # the session's transaction holds locks on the tables to change
                discarded = ws.discard_session_changes()
            run.changes = self._apply_tables(old_tables, trial.tables[index], drop)
        except BaseException as exc:
            trial.dispose()
            _restore(namespace, snapshot)
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
            _restore(namespace, snapshot)
            fill_vocabulary(namespace)
            trial = self._map(cells, namespace, execute, configure=False)
            run.classes = list(trial.classes[index])
        old_base = ws.Base
        _forget(c for c in ws.models.values() if _registry_of(c) is not old_base.registry)
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

    def _apply_tables(
        self, old_tables: dict[str, Table], tables: list[Table], drop: bool
    ) -> list[migrate.TableChange]:
        """Create ``tables`` where missing and change those whose columns changed,
        in one transaction: on failure the database is as it was."""
        ws = self.workspace
        changes: list[migrate.TableChange] = []
        if not tables:
            return changes
        with ws.engine.begin() as conn:
            for new in sort_tables(tables):
                old = old_tables.get(new.fullname)
                if old is None or old is new:
                    continue
                change = migrate.compare(old, new, conn.dialect)
                if change.changed or drop:
                    migrate.rebuild(conn, old, new, change, keep=not drop)
                    changes.append(change)
            ws.create_tables(tables, bind=conn)
        return changes

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


def describe_failure(failed: ModelCellFailed) -> str:
    """The one line a failed cell shows: why, that nothing changed, and any loss."""
    exc = failed.error
    if isinstance(exc, SyntaxError):
        message = f"%%model: syntax error on line {exc.lineno}: {exc.msg}"
    elif isinstance(exc, WorkspaceError):
        message = f"%%model: {exc}"
    elif isinstance(exc, sqlalchemy.exc.StatementError):
        message = f"%%model: {describe_error(exc)}; the earlier models and tables are unchanged"
    else:
        message = (
            f"%%model: the cell raised {type(exc).__name__}: {first_line(exc)}; "
            "the earlier models are unchanged"
        )
    if failed.discarded:
        message += f"; the session's work was discarded: {failed.discarded}"
    return message
