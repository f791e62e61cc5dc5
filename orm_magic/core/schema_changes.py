"""Applying the models to the database: create what is missing, migrate what changed.

What a ``%%model`` run does in one transaction (:func:`bring_in_line`), after
:func:`check` has refused, before anything changed, a drop it may not make. Tables
that do not exist yet are created as ``create_all`` creates them; when any
of the models' tables (or of the tables of models no cell defines any more)
exists already, Alembic compares and migrates them (see :mod:`.migrate`),
imported only then, so that ``%load_ext`` and a first model cell on an empty
database do not pay for it.
"""

from __future__ import annotations

from sqlalchemy import Table, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.schema import sort_tables

from .engine import is_memory_url
from .executions import DISPLAY_OPTION
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
    ws.create_tables(tables, bind=conn)
    notes: list[str] = []
    if found:
        from . import migrate

        notes = migrate.bring_in_line(conn, tables, gone, confirm=confirm).notes()
    for table in reversed(sort_tables([t for t in found if t.key in emptied])):
        deleted = conn.execute(table.delete()).rowcount
        notes.append(f"table {table.name} emptied (--drop): {deleted:,} rows deleted")
    return notes
