"""An ER diagram of mapped models: Mermaid ``erDiagram`` text and an SVG drawing.

Which one a frontend shows follows its MIME preference order:

- JupyterLab 4.1+ and Notebook 7 rank their Mermaid renderer (rank 61) above
  SVG (rank 80), so they draw the Mermaid;
- VS Code (``text/html``, ``image/svg+xml``, ``text/markdown``, ...), nbconvert's
  HTML export (``text/html``, ``text/markdown``, ``image/svg+xml``,
  ``text/vnd.mermaid``, ...), Colab and GitHub show the SVG, drawn here by
  :mod:`.drawing`: no Graphviz, no network;
- a terminal prints the Mermaid text.

The bundle never holds ``text/html`` or ``text/markdown``: JupyterLab ranks
both above Mermaid and would show them instead of the diagram. Everything is
read from the mappers and tables, never the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, UniqueConstraint, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import NoReferenceError
from sqlalchemy.orm import Mapper, RelationshipProperty
from sqlalchemy.orm.interfaces import MANYTOMANY, MANYTOONE, ONETOMANY
from sqlalchemy.sql.expression import FromClause, TableClause

from .drawing import svg_diagram
from .er_model import DiagramColumn, DiagramLink, DiagramTable

#: The MIME type of Mermaid source that JupyterLab renders as a diagram.
MERMAID_MIME = "text/vnd.mermaid"


def mermaid_name(name: str) -> str:
    """``name`` as a Mermaid identifier (letters, digits, ``_`` and ``-``)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else f"_{cleaned}"


def type_name(column: Any, dialect: Dialect | None) -> str:
    """A column's SQL type as one Mermaid word: ``VARCHAR(50)``, ``NUMERIC(10_2)``."""
    try:
        text = column.type.compile(dialect=dialect)
    except Exception:  # a type the dialect cannot render: its class name will do
        text = type(column.type).__name__
    return re.sub(r"[^A-Za-z0-9_()\[\]-]", "_", text.replace(", ", ",")) or "UNKNOWN"


def attribute_line(column: Any, dialect: Dialect | None) -> str:
    """``INTEGER user_id FK "references users.id"`` for one column."""
    keys = []
    if column.primary_key:
        keys.append("PK")
    if column.foreign_keys:
        keys.append("FK")
    if column.unique and not column.primary_key:
        keys.append("UK")
    notes = [
        f"references {fk.target_fullname}"
        for fk in sorted(column.foreign_keys, key=lambda fk: fk.target_fullname)
    ]
    if not column.nullable and not column.primary_key:
        notes.append("not null")
    line = f"{type_name(column, dialect)} {mermaid_name(column.name)}"
    if keys:
        line += " " + ", ".join(keys)
    if notes:
        # a quoted comment ends at a quote or a line break, which a name may hold
        line += ' "' + re.sub(r"[\x00-\x1f\x7f]", " ", "; ".join(notes)).replace('"', "'") + '"'
    return line


def entity_block(table: Table, dialect: Dialect | None) -> list[str]:
    lines = [f"    {mermaid_name(table.fullname)} {{"]
    lines.extend(f"        {attribute_line(c, dialect)}" for c in table.columns)
    lines.append("    }")
    return lines


def _fk_columns(rel: RelationshipProperty[Any]) -> list[Any]:
    # synchronize_pairs are (referenced column, foreign key column)
    return [dest for _, dest in rel.synchronize_pairs]


def cardinality(rel: RelationshipProperty[Any]) -> tuple[FromClause, str, FromClause]:
    """(left table, Mermaid connector, right table) for one relationship."""
    left, right = rel.parent.local_table, rel.mapper.local_table
    fks = _fk_columns(rel)
    required = bool(fks) and not any(c.nullable for c in fks)
    one = "||" if required else "|o"
    if rel.direction is MANYTOMANY:
        return left, "}o--o{", right
    if rel.direction is ONETOMANY:
        many = "o{" if rel.uselist else "o|"
        link = "--" if fks and all(c.primary_key for c in fks) else ".."
        return left, f"{one}{link}{many}", right
    # MANYTOONE: this side holds the foreign key
    reverse_lists = any(r.uselist for r in rel._reverse_property) or not rel._reverse_property
    link = "--" if fks and all(c.primary_key for c in fks) else ".."
    mine = "}o" if reverse_lists else "|o"
    return left, f"{mine}{link}{one[::-1]}", right


#: The MIME type of the drawing every frontend without Mermaid shows.
SVG_MIME = "image/svg+xml"


@dataclass
class ERDiagram:
    """An ER diagram as Mermaid source and as SVG, rendering itself in Jupyter."""

    mermaid: str
    svg: str = ""

    def __repr__(self) -> str:
        return self.mermaid

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        bundle = {MERMAID_MIME: self.mermaid, "text/plain": self.mermaid}
        if self.svg:
            bundle[SVG_MIME] = self.svg
        return bundle

    def text_for(self, suffix: str) -> str:
        """The file content for a name ending in ``suffix``: ``.svg`` or ``.mmd``."""
        if suffix.lower() == ".svg":
            return self.svg
        if suffix.lower() in (".mmd", ".mermaid"):
            return self.mermaid + "\n"
        raise ValueError(f"cannot save a diagram as {suffix or 'a file without extension'!r}")


def drawn_table(table: Table, dialect: Dialect | None) -> DiagramTable:
    """``table`` as the SVG drawing shows it: names, SQL types and key marks."""
    columns = tuple(
        DiagramColumn(
            column.name,
            _type_text(column, dialect),
            bool(column.primary_key),
            bool(column.foreign_keys),
        )
        for column in table.columns
    )
    return DiagramTable(table.fullname, columns)


def drawn_links(tables: dict[str, Table]) -> list[DiagramLink]:
    """One link per foreign key constraint among ``tables``."""
    links = []
    for name, table in tables.items():
        for fk in table.foreign_key_constraints:
            try:
                parent = fk.referred_table.fullname
            except NoReferenceError:  # a table not defined yet: nothing to connect to
                continue
            if parent not in tables:
                continue
            columns = list(fk.columns)
            keys = {c.name for c in columns}
            pk = {c.name for c in table.primary_key.columns}
            uniques = [
                {c.name for c in u.columns}
                for u in table.constraints
                if isinstance(u, UniqueConstraint)
            ]
            single = len(columns) == 1 and bool(columns[0].unique)
            unique = keys == pk or keys in uniques or single
            optional = any(c.nullable for c in columns)
            names = tuple(c.name for c in columns)
            links.append(DiagramLink(name, names, parent, optional, unique))
    return links


def _type_text(column: Any, dialect: Dialect | None) -> str:
    try:
        return str(column.type.compile(dialect=dialect))
    except Exception:  # a type the dialect cannot render: its class name will do
        return type(column.type).__name__


def _order(rel: RelationshipProperty[Any]) -> tuple[int, str, str]:
    # Emit the one-to-many side of a pair, so lines read parent → children;
    # then by name, so the same models always give the same text.
    direction = {ONETOMANY: 0, MANYTOMANY: 1, MANYTOONE: 2}.get(rel.direction, 3)
    return direction, rel.parent.class_.__name__, rel.key


def er_diagram(models: Iterable[type], dialect: Dialect | None = None) -> ERDiagram:
    """The diagram of ``models``: their tables, keys, and relationships among them."""
    mappers: list[Mapper[Any]] = [inspect(cls) for cls in models]
    chosen = {m.class_ for m in mappers}
    tables: dict[str, Table] = {}
    for mapper in mappers:
        for table in mapper.tables:
            if isinstance(table, Table):
                tables.setdefault(table.fullname, table)
    relationships = [
        rel
        for mapper in mappers
        for rel in mapper.relationships
        if rel.parent is mapper and rel.mapper.class_ in chosen
    ]
    for rel in relationships:
        if rel.secondary is not None and isinstance(rel.secondary, Table):
            tables.setdefault(rel.secondary.fullname, rel.secondary)
    lines = ["erDiagram"]
    for table in tables.values():
        lines.extend(entity_block(table, dialect))
    done: set[Any] = set()
    for rel in sorted(relationships, key=_order):
        if rel in done:
            continue
        pair = [rel, *sorted(rel._reverse_property, key=lambda r: r.key)]
        done.update(pair)
        label = " / ".join(f"{r.parent.class_.__name__}.{r.key}" for r in pair)
        left, connector, right = cardinality(rel)
        lines.append(
            f"    {mermaid_name(_entity_name(left))} {connector} "
            f'{mermaid_name(_entity_name(right))} : "{label}"'
        )
    drawn = [drawn_table(table, dialect) for table in tables.values()]
    return ERDiagram("\n".join(lines), svg_diagram(drawn, drawn_links(tables)))


def _entity_name(selectable: FromClause) -> str:
    # a class may be mapped onto a join or a select(), which has no fullname
    if isinstance(selectable, TableClause):
        return selectable.fullname
    return selectable.description
