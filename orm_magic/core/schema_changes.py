"""Applying the models to the database: create what is missing, migrate what changed.

What a ``%%model`` run does in one transaction (:func:`bring_in_line`), after
:func:`check` has refused, before anything changed, a drop it may not make. Tables
that do not exist yet are created as ``create_all`` creates them; when any
of the models' tables (or of the tables of models no cell defines any more)
exists already, Alembic compares and migrates them (see :mod:`.migrate`),
imported only then, so that ``%load_ext`` and a first model cell on an empty
database do not pay for it.

MySQL and MariaDB commit each CREATE and ALTER as it runs: there, a run that
fails or is refused drops the tables it has just created (empty), and a
migration that fails half-way says which of its operations stay applied.
"""

from __future__ import annotations

from sqlalchemy import Table, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.schema import sort_tables

from .engine import is_memory_url
from .errors import WorkspaceError, describe_error, first_line
from .executions import DISPLAY_OPTION
from .reading import MYSQL
from .workspace import Workspace


def bring_in_line(
    ws: Workspace,
    previous: dict[str, Table],
    tables: list[Table],
    confirm: bool,
    emptied: set[str],
) -> list[str]:
    """:func:`apply` in a transaction of its own: on failure the database is as it
    was. In memory a drop needs no ``confirm`` (nothing outlives the kernel)."""
    with ws.engine.begin() as conn:
        return apply(ws, conn, previous, tables, confirm or is_memory_url(ws.url), emptied)


def check(ws: Workspace, previous: dict[str, Table], tables: list[Table], confirm: bool) -> None:
    """Refuse, before anything changes, what :func:`apply` would refuse: dropping a
    column or table holding rows without ``confirm`` on a file or server database.

    Reads on a connection of its own, so that a refusal comes before the
    session's uncommitted work is discarded (the model cell then changes
    nothing at all); :func:`apply` checks again in its transaction.
    """
    if confirm or is_memory_url(ws.url):
        return
    keys = {t.key for t in tables}
    gone = [t for t in previous.values() if t.key not in keys]
    with ws.engine.connect() as conn:
        conn.execution_options(**{DISPLAY_OPTION: True})  # our own read, not the cell's SQL
        inspector = inspect(conn)
        if any(inspector.has_table(t.name, t.schema) for t in [*tables, *gone]):
            from . import migrate

            migrate.check(conn, tables, gone)


def apply(
    ws: Workspace,
    conn: Connection,
    previous: dict[str, Table],
    tables: list[Table],
    confirm: bool,
    emptied: set[str],
) -> list[str]:
    """Create ``tables`` where missing and bring those that exist in line with them
    on ``conn``; a table only ``previous`` had is dropped. The rows of the tables
    keyed in ``emptied`` (``%%model --drop``) are deleted. Returns the notes."""
    keys = {t.key for t in tables}
    gone = [t for t in previous.values() if t.key not in keys]
    conn.execution_options(**{DISPLAY_OPTION: True})  # our own read, not the cell's SQL
    inspector = inspect(conn)
    found = [t for t in [*tables, *gone] if inspector.has_table(t.name, t.schema)]
    conn.execution_options(**{DISPLAY_OPTION: False})
    created = [t for t in tables if t.key not in {f.key for f in found}]
    notes: list[str] = []
    code = ""  # the migration that ran
    try:
        ws.create_tables(tables, bind=conn)
        if found:
            from . import migrate

            migration = migrate.bring_in_line(conn, tables, gone, confirm=confirm)
            notes, code = migration.notes(), migration.code
        for table in reversed(sort_tables([t for t in found if t.key in emptied])):
            deleted = conn.execute(table.delete()).rowcount
            rows = f"{deleted:,} {'row' if deleted == 1 else 'rows'}"
            notes.append(f"table {table.name} emptied (--drop): {rows} deleted")
    except Exception as exc:
        if conn.dialect.name not in MYSQL:
            raise  # the transaction's rollback undoes it all
        stays = _drop_created(conn, created)
        if code:  # the whole migration ran, then the deletes failed
            from . import migrate

            error = migrate.not_rolled_back(exc, code)
            raise (WorkspaceError(f"{error}; and {stays}") if stays else error) from exc
        if stays:
            raise WorkspaceError(
                f"{exc if isinstance(exc, WorkspaceError) else describe_error(exc)}; but {stays}"
            ) from exc
        raise
    return notes


def _drop_created(conn: Connection, created: list[Table]) -> str:
    """Drop those of ``created`` that exist (MySQL committed their CREATE; they are
    empty: made a moment ago). Returns "" or, when that fails, what stays."""
    try:
        conn.execution_options(**{DISPLAY_OPTION: True})  # our own read; the DROPs are shown
        try:
            inspector = inspect(conn)  # a new one: the first read before the CREATEs
            made = [t for t in created if inspector.has_table(t.name, t.schema)]
        finally:
            conn.execution_options(**{DISPLAY_OPTION: False})
        for table in reversed(sort_tables(made)):
            table.drop(conn)
    except Exception as exc:
        names = ", ".join(t.name for t in created)
        return (
            f"the tables it created ({names}) may remain: dropping them failed: {first_line(exc)}"
        )
    return ""
