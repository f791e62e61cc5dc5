"""orm_magic.core.model_failures: the one line a failed ``%%model`` cell shows."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from orm_magic.core.errors import WorkspaceError
from orm_magic.core.model_failures import ModelCellFailed, describe_failure


def syntax_error() -> SyntaxError:
    try:
        compile("class A(Base):\n    x = = 1\n", "<cell>", "exec")
    except SyntaxError as exc:
        return exc
    raise AssertionError("compiled")


def test_a_syntax_error_names_its_line() -> None:
    line = describe_failure(ModelCellFailed(syntax_error()))
    assert line.startswith("%%model: syntax error on line 2: invalid syntax")


def test_a_users_mistake_is_its_own_message() -> None:
    assert describe_failure(ModelCellFailed(WorkspaceError("no table"))) == "%%model: no table"


def test_a_database_error_says_the_earlier_models_and_tables_are_unchanged() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn, pytest.raises(OperationalError) as caught:
        conn.execute(text("CREATE TABLE t (x INTEGER"))
    engine.dispose()
    line = describe_failure(ModelCellFailed(caught.value))
    assert line.startswith("%%model: OperationalError: incomplete input")
    assert line.endswith("; the earlier models and tables are unchanged")


def test_any_other_error_and_what_was_discarded_are_named() -> None:
    failed = ModelCellFailed(NameError("name 'Colum' is not defined"), "1 pending object")
    assert describe_failure(failed) == (
        "%%model: the cell raised NameError: name 'Colum' is not defined; "
        "the earlier models are unchanged; the session's work was discarded: 1 pending object"
    )
    assert "\n" not in describe_failure(failed)
