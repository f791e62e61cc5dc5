"""Bringing a table in the database in line with a redefined model.

When a re-run ``%%model`` cell changes a model's columns, its table is rebuilt:
the rows are copied out for the columns that still exist, the table is created
anew, and the rows are copied back. Everything happens in one transaction, so
a failure leaves the table as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Integer, Table, text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.schema import AddConstraint


@dataclass
class TableChange:
    """How a table's columns differ between two definitions."""

    name: str
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)  # "name: OLD → NEW"
    kept_rows: int | None = None  # rows copied back after a rebuild
    emptied: bool = False  # rebuilt empty (%%model --drop)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.dropped or self.retyped)

    def describe(self) -> str:
        """One line for the cell's output."""
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.dropped:
            parts.append("dropped " + ", ".join(self.dropped))
        if self.retyped:
            parts.append("retyped " + ", ".join(self.retyped))
        what = "; ".join(parts) or "unchanged columns"
        if self.emptied:
            return f"table {self.name} rebuilt empty ({what})"
        rows = "row" if self.kept_rows == 1 else "rows"
        return f"table {self.name} rebuilt: {what}; {self.kept_rows:,} {rows} kept"


def _type_name(column: object, dialect: Dialect) -> str:
    try:
        return str(column.type.compile(dialect=dialect))  # type: ignore[attr-defined]
    except Exception:  # a type this dialect cannot render; compare generically
        return repr(column.type)  # type: ignore[attr-defined]


def compare(old: Table, new: Table, dialect: Dialect) -> TableChange:
    """What changed in the columns from ``old`` to ``new``."""
    change = TableChange(new.fullname)
    old_cols = {c.name: c for c in old.columns}
    new_cols = {c.name: c for c in new.columns}
    change.added = [n for n in new_cols if n not in old_cols]
    change.dropped = [n for n in old_cols if n not in new_cols]
    for name in new_cols:
        if name in old_cols:
            before = _type_name(old_cols[name], dialect)
            after = _type_name(new_cols[name], dialect)
            if before != after:
                change.retyped.append(f"{name}: {before} → {after}")
    return change


def rebuild(conn: Connection, old: Table, new: Table, change: TableChange, keep: bool) -> None:
    """Rebuild ``new``'s table on ``conn``, keeping rows of shared columns if ``keep``."""
    prep = conn.dialect.identifier_preparer
    name = prep.format_table(new)
    scratch = prep.quote(f"_orm_magic_old_{new.name}")
    common = [c.name for c in new.columns if c.name in {o.name for o in old.columns}]
    cascade = "" if conn.dialect.name == "sqlite" else " CASCADE"
    columns = ", ".join(prep.quote(c) for c in common)
    if keep and common:
        conn.execute(text(f"CREATE TABLE {scratch} AS SELECT {columns} FROM {name}"))
    conn.execute(text(f"DROP TABLE {name}{cascade}"))
    new.create(conn)
    change.emptied = not keep
    if keep:
        change.kept_rows = 0
        if common:
            result = conn.execute(
                text(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {scratch}")
            )
            change.kept_rows = max(result.rowcount, 0)
            conn.execute(text(f"DROP TABLE {scratch}"))
            _restart_sequences(conn, new)
    if cascade:
        _restore_references(conn, new)


def _restart_sequences(conn: Connection, table: Table) -> None:
    # PostgreSQL: the new table's sequence starts at 1 while copied ids do not.
    if conn.dialect.name != "postgresql":
        return
    for column in table.primary_key.columns:
        if isinstance(column.type, Integer) and column.autoincrement in (True, "auto"):
            quoter = conn.dialect.identifier_preparer
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence(:t, :c), "
                    f"COALESCE((SELECT max({quoter.quote(column.name)})"
                    f" FROM {quoter.format_table(table)}), 0) + 1, false)"
                ),
                {"t": table.fullname, "c": column.name},
            )


def _restore_references(conn: Connection, table: Table) -> None:
    # DROP ... CASCADE removed the foreign keys of other tables that point here.
    for other in table.metadata.tables.values():
        if other is table:
            continue
        for constraint in other.foreign_key_constraints:
            if constraint.referred_table is table:
                conn.execute(AddConstraint(constraint))
