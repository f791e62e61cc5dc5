"""orm_magic.present.log: the SQL log as a DataFrame, from plain Statements."""

from __future__ import annotations

from orm_magic.data.statements import Statement
from orm_magic.present.log import log_frame
from orm_magic.present.sql import clock
from orm_magic.present.tables import NO_MATH

STATEMENTS = [
    Statement(1, "BEGIN (implicit)", started=1_700_000_000.0, is_transaction=True),
    Statement(
        2,
        " INSERT INTO t VALUES (?) ",
        (1,),
        started=1_700_000_000.5,
        duration=0.0012345,
        rowcount=1,
    ),  # fmt: skip
    Statement(3, "COMMIT", started=1_700_000_001.0, is_transaction=True),
]


def test_one_row_per_statement_oldest_first() -> None:
    frame = log_frame(STATEMENTS)
    assert list(frame.columns) == [
        "seq", "time", "statement", "parameters", "executemany", "duration_ms", "rowcount"
    ]  # fmt: skip
    assert list(frame["seq"]) == [1, 2, 3]
    assert list(frame["statement"]) == ["BEGIN (implicit)", "INSERT INTO t VALUES (?)", "COMMIT"]
    assert frame["time"][1] == clock(1_700_000_000.5)
    assert frame["duration_ms"][1] == 1.234 and frame["rowcount"][1] == 1


def test_a_boundary_has_no_duration_or_rowcount_not_nan() -> None:
    frame = log_frame(STATEMENTS)
    assert str(frame["duration_ms"].dtype) == "Float64" and str(frame["rowcount"].dtype) == "Int64"
    assert frame["rowcount"].isna().tolist() == [True, False, True]
    assert "NaN" not in frame.to_string()


def test_the_session_column_appears_only_with_several_sessions() -> None:
    assert "session" not in log_frame(STATEMENTS).columns
    labelled = [*STATEMENTS, Statement(4, "SELECT 1", session="b")]
    frame = log_frame(labelled)
    assert list(frame.columns)[2] == "session"
    assert frame["session"].tolist()[3] == "b"


def test_html_is_escaped_and_left_alone_by_mathjax() -> None:
    frame = log_frame([Statement(1, "SELECT '<b>$1$</b>'", ("<i>",))])
    markup = frame._repr_html_()
    assert markup.startswith(f'<div class="{NO_MATH}">')
    assert "<b>" not in markup and "&lt;b&gt;$1$&lt;/b&gt;" in markup
    assert log_frame([]).empty
