"""Bringing the live database in line with the workspace's models, through Alembic.

Alembic's autogenerate compares the database with the models
(``produce_migrations``) and its ``Operations`` apply the difference on the
same connection, in the caller's transaction, in batch mode ("move and copy")
on SQLite. Only what the models own is compared: their tables, and, on
those, the indexes and constraints that the models define now or defined
before. Views, other tables and their foreign keys are never reflected, so
never touched; nothing is dropped with CASCADE. MySQL and MariaDB commit each
ALTER as it runs: a failure there names what stays applied (:class:`NotRolledBack`).

This module is imported only when a model cell finds one of its tables in
the database already (and by ``%orm_export``): ``%load_ext`` and a first
model cell on an empty database do not pay for Alembic.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.operations import Operations, ops
from sqlalchemy import MetaData, Table
from sqlalchemy.engine import Connection

from .errors import WorkspaceError, describe_error
from .executions import DISPLAY_OPTION
from .reading import MYSQL, count_rows

#: Rows counted at most per table for the notes (see reading.count_rows).
COUNT_LIMIT = 10_000


@dataclass
class Dropped:
    """A column or table that a migration drops, and the rows its table holds."""

    what: str  # "column users.nickname", "table tags"
    rows: int | None  # None: more than COUNT_LIMIT

    def describe(self, held: bool = False) -> str:
        """``column users.nickname (3 rows)``; with ``held``, ``(the table held 3 rows)``."""
        rows = f"more than {COUNT_LIMIT:,} rows" if self.rows is None else _rows(self.rows)
        return f"{self.what} ({'the table held ' if held else ''}{rows})"


@dataclass
class Migration:
    """What bringing the database in line did: Alembic's code, rows kept, what it dropped."""

    code: str = ""  # Alembic's rendering of the operations; "" when none
    kept: dict[str, int | None] = field(default_factory=dict)  # changed table: its rows
    dropped: list[Dropped] = field(default_factory=list)

    def notes(self) -> list[str]:
        """The lines a cell's report shows: the migration, then the rows kept and dropped."""
        if not self.code:
            return []
        lines = ["migration, as Alembic renders it:", *self.code.splitlines()]
        for name, rows in self.kept.items():
            count = f"more than {COUNT_LIMIT:,} rows" if rows is None else _rows(rows)
            lines.append(f"table {name} changed: {count} kept")
        if self.dropped:
            lines.append("dropped " + ", ".join(d.describe(held=True) for d in self.dropped))
        return lines


class DestructiveChange(WorkspaceError):
    """Bringing the database in line would drop a column or table holding rows."""


class NotRolledBack(WorkspaceError):
    """A migration failed on MySQL or MariaDB after DDL that the server had committed."""


def not_rolled_back(exc: BaseException, code: str) -> NotRolledBack:
    """The one line for ``exc`` raised after the migration ``code`` ran on MySQL,
    which commits each CREATE and ALTER as it runs: a rollback cannot undo it."""
    return NotRolledBack(
        f"{describe_error(exc)}; MySQL and MariaDB commit each ALTER TABLE as it runs,"
        f" so what ran before the failure stays applied: {one_line(code)};"
        " the earlier models are unchanged: correct the cell and run it again"
    )


def bring_in_line(
    conn: Connection, tables: list[Table], previous: list[Table], *, confirm: bool
) -> Migration:
    """Change the tables of ``tables`` and ``previous`` that exist on ``conn`` to match
    ``tables``: a table only in ``previous`` (a model no cell defines now) is dropped.

    Runs on ``conn`` inside its transaction. Dropping a column or a table
    that holds rows raises :class:`DestructiveChange` unless ``confirm``. On
    MySQL, a failure after some of the operations ran raises :class:`NotRolledBack`
    naming those (its DDL is not transactional).
    """
    planned = _plan(conn, tables, previous)
    if planned is None:
        return Migration()
    context, upgrade, dropped = planned
    batch = conn.dialect.name == "sqlite"
    if not confirm:
        _refuse(upgrade, dropped, batch)
    migration = Migration(render(upgrade, batch), dropped=dropped)
    with _hidden(conn):
        # SQLite checks every view and trigger when a table is renamed, and
        # "move and copy" renames the copy while the original is gone: a view
        # on the table would fail it. The legacy rename checks nothing.
        legacy = (
            batch
            and conn.exec_driver_sql(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type IN ('view', 'trigger'))"
                " AND NOT (SELECT legacy_alter_table FROM pragma_legacy_alter_table)"
            ).scalar()
        )
    if legacy:
        conn.exec_driver_sql("PRAGMA legacy_alter_table = ON")
    applied: list[ops.MigrateOperation] = []
    try:
        apply(Operations(context), upgrade, batch, applied)
    except Exception as exc:
        if conn.dialect.name in MYSQL and applied:
            raise not_rolled_back(exc, render(ops.UpgradeOps(applied), batch)) from exc
        raise
    finally:
        if legacy:  # a connection setting, not undone by a rollback
            conn.exec_driver_sql("PRAGMA legacy_alter_table = OFF")
    with _hidden(conn):
        for op in upgrade.ops:
            if isinstance(op, ops.ModifyTableOps):
                migration.kept[op.table_name] = _count(conn, op.table_name, op.schema)
    return migration


def check(conn: Connection, tables: list[Table], previous: list[Table]) -> None:
    """Raise :class:`DestructiveChange` if bringing ``conn`` in line with ``tables``
    would drop a column or table holding rows; reads only, changes nothing."""
    planned = _plan(conn, tables, previous)
    if planned is not None:
        _refuse(planned[1], planned[2], conn.dialect.name == "sqlite")


def _plan(
    conn: Connection, tables: list[Table], previous: list[Table]
) -> tuple[MigrationContext, ops.UpgradeOps, list[Dropped]] | None:
    """Alembic's context, its operations and what they drop; None when nothing differs."""
    names = {t.name for t in tables} | {t.name for t in previous}
    # None is the default schema; a model in another schema (%orm_reflect --schema)
    # must be compared there, or Alembic would find it missing and create it
    schemas = {t.schema for t in tables} | {t.schema for t in previous}
    owned = _owned_by(previous + tables)

    def include_name(name: str | None, type_: str, parents: Any) -> bool:
        if type_ == "schema":
            return name in schemas
        return type_ != "table" or name in names

    with _hidden(conn):  # the comparison's reflection is our read, not the cell's SQL
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": schemas != {None},
                "include_name": include_name,
                "include_object": lambda obj, name, type_, reflected, compare_to: _included(
                    obj, type_, reflected, compare_to, names, owned
                ),
                "render_as_batch": conn.dialect.name == "sqlite",
                "compare_type": True,
            },
        )
        metadata = list({id(t.metadata): t.metadata for t in tables}.values())
        # Alembic takes a sequence of MetaData too (the models may span several bases)
        upgrade = produce_migrations(context, metadata).upgrade_ops  # type: ignore[arg-type]
        assert upgrade is not None
        if upgrade.is_empty():
            return None
        return context, upgrade, _dropped(conn, upgrade)


def _refuse(upgrade: ops.UpgradeOps, dropped: list[Dropped], batch: bool) -> None:
    if any(d.rows != 0 for d in dropped):
        raise DestructiveChange(
            "this change drops "
            + ", ".join(d.describe() for d in dropped)
            + f": {one_line(render(upgrade, batch))}; the models and tables are unchanged;"
            " run the cell as %%model --yes to apply it"
        )


def apply(
    operations: Operations,
    upgrade: ops.UpgradeOps,
    batch: bool,
    applied: list[ops.MigrateOperation] | None = None,
) -> None:
    """Run autogenerate's operations, each table's in a batch on SQLite (Alembic's
    cookbook: "Run Alembic Operation Objects Directly"). Each operation that ran
    is appended to ``applied`` (a table's, under a ``ModifyTableOps`` of its own)."""
    applied = [] if applied is None else applied
    conn = operations.migration_context.connection
    assert conn is not None
    for op in upgrade.ops:
        if isinstance(op, ops.ModifyTableOps):
            if batch:
                # reflected here, unrecorded, so that the SQL shown is the migration's
                with _hidden(conn):
                    current = Table(
                        op.table_name, MetaData(), schema=op.schema, autoload_with=conn
                    )
                with operations.batch_alter_table(
                    op.table_name, schema=op.schema, copy_from=current
                ) as batch_op:
                    for table_op in op.ops:
                        batch_op.invoke(table_op)
                applied.append(op)
            else:
                done = ops.ModifyTableOps(op.table_name, [], schema=op.schema)
                for table_op in op.ops:
                    operations.invoke(table_op)
                    if not done.ops:
                        applied.append(done)
                    done.ops.append(table_op)
        else:
            operations.invoke(op)
            applied.append(op)


def render(upgrade: ops.UpgradeOps, batch: bool, **options: Any) -> str:
    """The operations as Alembic writes them into a revision, without its banner;
    ``options`` go to Alembic's ``render_python_code``."""
    code = render_python_code(upgrade, render_as_batch=batch, **options)
    lines = [line for line in code.splitlines() if not line.strip().startswith("# ###")]
    return textwrap.dedent("\n".join(lines)).strip()


def one_line(code: str) -> str:
    """Rendered code on one line, for an error message."""
    return " ".join(line.strip() for line in code.splitlines() if line.strip())


def _rows(n: int) -> str:
    return f"{n:,} {'row' if n == 1 else 'rows'}"


def _owned_by(tables: list[Table]) -> set[tuple[str, ...]]:
    """The indexes and constraints the models define (or defined), as keys."""
    owned: set[tuple[str, ...]] = set()
    for t in tables:
        owned.update(("index", t.name, str(ix.name)) for ix in t.indexes)
        for constraint in t.constraints:
            columns = tuple(sorted(c.name for c in getattr(constraint, "columns", [])))
            owned.add(("constraint", t.name, *columns))
    return owned


def _included(
    obj: Any, type_: str, reflected: bool, compare_to: Any, names: set[str], owned: set[Any]
) -> bool:
    """Alembic's include_object: the models' tables, and on them what the models own."""
    if type_ == "table":
        return bool(obj.name in names)
    if type_ == "column":
        return True  # a model's table: its columns are the model's
    if not reflected or compare_to is not None:
        return True  # defined by a model, or in both: compared
    # only in the database: drop it only if a model defined it before
    parent = getattr(obj, "table", None)
    parent_name = getattr(parent, "name", "")
    if type_ == "index":
        return ("index", parent_name, str(obj.name)) in owned
    columns = tuple(sorted(c.name for c in getattr(obj, "columns", [])))
    return ("constraint", parent_name, *columns) in owned


def _dropped(conn: Connection, upgrade: ops.UpgradeOps) -> list[Dropped]:
    dropped = []
    for op in upgrade.ops:
        if isinstance(op, ops.DropTableOp):
            rows = _count(conn, op.table_name, op.schema)
            dropped.append(Dropped(f"table {op.table_name}", rows))
        elif isinstance(op, ops.ModifyTableOps):
            for table_op in op.ops:
                if isinstance(table_op, ops.DropColumnOp):
                    rows = _count(conn, op.table_name, op.schema)
                    what = f"column {op.table_name}.{table_op.column_name}"
                    dropped.append(Dropped(what, rows))
    return dropped


def _count(conn: Connection, name: str, schema: str | None) -> int | None:
    return count_rows(conn, Table(name, MetaData(), schema=schema), COUNT_LIMIT)[0]


@contextmanager
def _hidden(conn: Connection) -> Iterator[None]:
    """Statements on ``conn`` inside the block are orm_magic's own: not recorded."""
    conn.execution_options(**{DISPLAY_OPTION: True})
    try:
        yield
    finally:
        conn.execution_options(**{DISPLAY_OPTION: False})
