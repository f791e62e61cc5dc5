"""The book of model cells: their sources in order, known by cell id or by the names they define.

Also the vocabulary a model cell may use without imports, and the id Jupyter
sends with the cell that is running.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import inspect
from sqlalchemy import orm as sa_orm

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
