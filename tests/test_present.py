"""The presentation floor, without a shell: plain data in, text and HTML out."""

from __future__ import annotations

from orm_magic.data.statements import Statement
from orm_magic.data.tables import (
    MODIFIED,
    NEW,
    Change,
    Frame,
    Inspection,
    SessionRow,
    SessionView,
    TableData,
)
from orm_magic.present.grid import grid_html, grid_text
from orm_magic.present.report import CellReport
from orm_magic.present.tables import approximate, row_count_text, table_html, table_text
from orm_magic.present.views import InspectionReport


def users(rows, total=None, **kwargs) -> TableData:
    total = len(rows) if total is None else total
    return TableData("users", ["id", "name"], rows, total, 10_000, **kwargs)


def test_grid_text_right_aligns_each_column_to_its_widest_cell():
    assert grid_text(["id", "name"], [["1", "ed"], ["10", "wendy"]]) == [
        "id  name",
        " 1    ed",
        "10 wendy",
    ]


def test_grid_html_escapes_every_cell_and_heading():
    out = grid_html(["<b>"], [(["<script>x</script>"], "")])
    assert "<script>" not in out and "&lt;script&gt;" in out and "&lt;b&gt;" in out


def test_table_text_shows_null_and_the_row_count():
    text = table_text(users([(1, "ed"), (2, None)]))
    assert text.splitlines() == ["-- users: 2 rows", "   id name", "    1   ed", "    2 NULL"]


def test_an_empty_table_lists_its_columns():
    assert table_text(users([])) == "-- users: 0 rows\n   (id, name)"


def test_session_marks_show_as_a_state_column_with_old_to_new():
    view = SessionView(
        marks={0: SessionRow(MODIFIED, (1, Change("ed", "eddie")), (1,))},
        extra=[SessionRow(NEW, (None, "new"))],
        counts={MODIFIED: 1, NEW: 1},
    )
    data = users([(1, "ed")], session=view)
    lines = table_text(data).splitlines()
    assert lines[0] == "-- users: 1 row · unflushed: 1 new, 1 modified"
    assert lines[2].split() == ["modified", "1", "ed", "→", "eddie"]
    assert lines[3].split() == ["new", "NULL", "new"]
    assert "<s>ed</s> → <b>eddie</b>" in table_html(data)


def test_estimates_and_notes_are_said_so():
    data = users([(1, "ed")], total=1_234_567, estimated=True, note="committed rows only")
    assert row_count_text(data) == (
        "first 1 of ≈ 1.2M rows (the planner's estimate) · committed rows only"
    )
    assert [approximate(n) for n in (999, 12_345, 150_000_000)] == ["999", "12k", "150M"]


def test_long_and_binary_values_are_bounded():
    text = table_text(users([(1, "x" * 10_000), (2, b"\0" * 5000)]), maxchars=20)
    assert "x" * 21 not in text and "(10,000 characters)" in text
    assert "<bytes: 5,000>" in text


def test_a_report_escapes_sql_and_values_in_html():
    statement = Statement(1, "SELECT '<b>'", ("<i>",), started=0.0, duration=0.001)
    report = CellReport("t", [statement], count=1, tables=[users([(1, "<script>")])])
    page = report._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>" not in page.replace("<b>users</b>", "").replace("<b>t</b>", "")


def test_an_inspection_renders_its_lines_and_frames():
    view = Inspection("%orm_session", ["1 object"], [Frame("identity map", ["key"], [("k",)])])
    text = repr(InspectionReport(view))
    assert text.splitlines()[:3] == ["-- %orm_session", "-- 1 object", "-- identity map"]
