"""orm_magic.core.models: ``%%model`` cells run on a plain namespace, without IPython.

The namespace is a dict and a cell runs with ``exec``, as the magic runs it in
the user's namespace; the DDL is compared with plain ``metadata.create_all``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select, text

from orm_magic.core.errors import WorkspaceError
from orm_magic.core.model_failures import ModelCellFailed
from orm_magic.core.models import ModelRun, ModelRunner
from orm_magic.core.workspace import Workspace

from .echo import echo_log

USERS = """
class User(Base):
    __tablename__ = 'users'
    id = Column(Integer, primary_key=True)
    name = Column(String(20))
"""


@pytest.fixture
def ws() -> Iterator[Workspace]:
    workspace = Workspace("sqlite://")
    yield workspace
    workspace.close()


@pytest.fixture
def namespace(ws: Workspace) -> dict[str, Any]:
    return {"Base": ws.Base, "engine": ws.engine, "session": ws.session}


@pytest.fixture
def runner(ws: Workspace) -> ModelRunner:
    return ModelRunner(ws)  # one per workspace, as the magics keep it


def run(runner: ModelRunner, namespace: dict[str, Any], source: str, **kwargs: Any) -> ModelRun:
    return runner.run(source, namespace, lambda code: exec(code, namespace), **kwargs)


def test_a_cell_maps_its_classes_and_creates_its_tables_as_create_all_does(
    ws, runner, namespace
) -> None:
    before = len(ws.recorder.log)
    result = run(runner, namespace, USERS)
    assert [cls.__name__ for cls in result.classes] == ["User"] and result.tables == ["users"]
    assert namespace["User"] is ws.models["User"] and inspect(namespace["User"]).mapper
    ours = [s.sql.strip() for s in ws.recorder.log[before:] if s.sql.lstrip().startswith("CREATE")]
    plain_namespace: dict[str, Any] = {}
    exec("from sqlalchemy import *\nfrom sqlalchemy.orm import DeclarativeBase\n"
         "class Base(DeclarativeBase): pass\n" + USERS, plain_namespace)  # fmt: skip
    engine = create_engine("sqlite://")
    with echo_log() as echo:
        plain_namespace["Base"].metadata.create_all(engine)
    engine.dispose()
    assert ours == [line for line in echo.lines if line.startswith("CREATE")]


def test_a_failing_cell_changes_nothing(ws, runner, namespace) -> None:
    run(runner, namespace, USERS)
    User, snapshot = namespace["User"], dict(namespace)
    with pytest.raises(ModelCellFailed) as caught:
        run(runner, namespace, USERS + "\nclass Broken(Base):\n    __tablename__ = Colum\n")
    assert isinstance(caught.value.error, NameError)
    assert namespace == snapshot and namespace["User"] is User
    assert list(ws.tables()) == ["users"] and inspect(User).mapper  # still mapped


def test_a_cell_that_maps_nothing_is_refused(ws, runner, namespace) -> None:
    with pytest.raises(ModelCellFailed) as caught:
        run(runner, namespace, "x = 1\n")
    assert isinstance(caught.value.error, WorkspaceError)
    assert "the %%model cell mapped no class" in str(caught.value.error)
    assert "x" not in namespace


def test_a_syntax_error_is_a_failure_before_anything_runs(ws, runner, namespace) -> None:
    with pytest.raises(ModelCellFailed) as caught:
        run(runner, namespace, "class User(Base:\n")
    assert isinstance(caught.value.error, SyntaxError) and "User" not in namespace


def test_a_rerun_with_a_new_column_keeps_the_rows(ws, runner, namespace) -> None:
    run(runner, namespace, USERS, cell_id="cell-1")
    with ws.engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, name) VALUES (1, 'ann')"))
    result = run(runner, namespace, USERS + "    email = Column(String(50))\n", cell_id="cell-1")
    assert result.notes, "the migration is shown as a note"
    User = namespace["User"]
    with ws.engine.connect() as conn:
        assert conn.execute(select(User.__table__)).all() == [(1, "ann", None)]


def test_a_renamed_class_in_the_same_cell_replaces_the_old_name(ws, runner, namespace) -> None:
    run(runner, namespace, USERS, cell_id="cell-1")
    run(runner, namespace, USERS.replace("class User", "class Person"), cell_id="cell-1")
    assert "User" not in namespace and "User" not in ws.all_models()
    assert inspect(namespace["Person"]).mapper.local_table.name == "users"
