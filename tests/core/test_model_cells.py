"""orm_magic.core.model_cells: the book of model cells and the names each one defines."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orm_magic.core.model_cells import (
    VOCABULARY_NAMES,
    ExecutingCell,
    ModelBook,
    ModelCell,
    class_names,
    fill_vocabulary,
    is_mapped_class,
    table_names,
)

CELL = """
class User(Base):
    __tablename__ = 'users'
    id = Column(Integer, primary_key=True)

class Tagged(Base):
    __tablename__: str = "tagged"

tags = Table("tags", Base.metadata, Column("id", Integer))
links = sqlalchemy.Table('links', Base.metadata)

def helper():
    class Inner:  # not at top level: not a model of the cell
        pass
"""


def test_the_classes_and_tables_a_cell_spells_out() -> None:
    assert class_names(CELL) == {"User", "Tagged"}
    assert table_names(CELL) == {"users", "tagged", "tags", "links"}


def test_a_computed_table_name_is_not_guessed() -> None:
    assert (
        table_names("name = 'x'\nTable(name, meta)\nclass A:\n    __tablename__ = f'{name}'\n")
        == set()
    )


def test_a_cell_that_does_not_parse_raises_syntax_error() -> None:
    with pytest.raises(SyntaxError):
        ModelCell.parse("class A(Base:\n")


def book(*sources: tuple[str, str | None]) -> ModelBook:
    return ModelBook([ModelCell.parse(source, cell_id) for source, cell_id in sources])


def test_a_new_cell_goes_last() -> None:
    cells = book(("class A: pass", "1"))
    new = ModelCell.parse("class B: pass", "2")
    assert cells.with_cell(new) == ([cells.cells[0], new], [])


def test_a_rerun_cell_replaces_its_earlier_version_in_place() -> None:
    cells = book(("class A: pass", "1"), ("class B: pass", "2"))
    renamed = ModelCell.parse("class Renamed: pass", "1")  # same cell id, new class name
    out, replaced = cells.with_cell(renamed)
    assert out == [renamed, cells.cells[1]] and replaced == [cells.cells[0]]


def test_a_cell_defining_the_same_names_replaces_every_cell_that_did_at_the_first_place() -> None:
    cells = book(
        ("class A: pass", None),
        ("class C: pass", None),
        ("x = Table('t', m)", None),
    )
    new = ModelCell.parse("class A: pass\nx = Table('t', m)")
    out, replaced = cells.with_cell(new)
    assert out == [new, cells.cells[1]] and replaced == [cells.cells[0], cells.cells[2]]
    assert cells.cells != out  # the book itself is unchanged until the cell succeeds


def test_the_vocabulary_fills_only_free_names() -> None:
    namespace = {"String": "mine"}
    added = fill_vocabulary(namespace)
    assert "String" not in added and namespace["String"] == "mine"
    assert namespace["Column"] is sqlalchemy.Column and set(added) == set(VOCABULARY_NAMES) - {
        "String"
    }


def test_is_mapped_class_is_true_for_mapped_classes_only() -> None:
    class Base(DeclarativeBase):
        pass

    class Thing(Base):
        __tablename__ = "things"
        id: Mapped[int] = mapped_column(primary_key=True)

    assert is_mapped_class(Thing)
    assert (
        not is_mapped_class(Thing(id=1)) and not is_mapped_class(int) and not is_mapped_class(Base)
    )


def test_the_cell_id_counts_only_for_the_model_cell_that_is_running() -> None:
    executing = ExecutingCell()
    executing.started(SimpleNamespace(cell_id="abc", raw_cell="%%model\nclass A: pass\n"))
    assert executing.id_of("", "class A: pass\n") == "abc"
    assert executing.id_of("", "class B: pass\n") is None  # code that calls the magic itself
    executing.started(SimpleNamespace(cell_id=None, raw_cell="%%model\nclass A: pass\n"))
    assert executing.id_of("", "class A: pass\n") is None  # a terminal sends no id
    executing.started()  # IPython before 8 passes no ExecutionInfo
    assert executing.id_of("", "class A: pass") is None
