"""orm_magic.present.tables: table snapshots as text and escaped HTML, values bounded."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orm_magic.data.tables import (
    DELETED,
    MODIFIED,
    NEW,
    Change,
    Frame,
    SessionRow,
    SessionView,
    TableData,
)
from orm_magic.present.tables import (
    approximate,
    bounded,
    cell_text,
    frame_html,
    frame_text,
    row_count_text,
    table_html,
    table_text,
)

EVIL = "<script>alert(1)</script>"


def data(rows: list[tuple], total: int | None | str = "all", **kwargs: object) -> TableData:
    """A snapshot of ``users``; ``total`` None: more rows than were counted."""
    total = len(rows) if total == "all" else total
    return TableData("users", ["id", "name"], rows, total, 10_000, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("table", "text"),
    [
        (data([(1, "a")]), "1 row"),
        (data([]), "0 rows"),
        (data([(1, "a")], total=25), "first 1 of 25 rows"),
        (data([(1, "a")], total=None), "first 1 of more than 10,000 rows"),
        (
            data([(1, "a")], total=1_234_567, estimated=True),
            "first 1 of ≈ 1.2M rows (the planner's estimate)",
        ),
        (data([], error="lock timeout"), "could not be read: lock timeout"),
        (data([(1, "a")], note="a note"), "1 row · a note"),
    ],
)
def test_the_row_count_line_says_what_is_shown(table: TableData, text: str) -> None:
    assert row_count_text(table) == text


@pytest.mark.parametrize(
    ("number", "text"),
    [(999, "999"), (1_000, "1k"), (35_400, "35k"), (1_234_567, "1.2M"), (250_000_000, "250M"),
     (3_000_000_000, "3G")],
)  # fmt: skip
def test_estimates_read_with_two_significant_digits(number: int, text: str) -> None:
    assert approximate(number) == text


def test_values_are_bounded_binary_by_its_size_and_plain_values_as_they_are() -> None:
    assert bounded(b"\x00" * 1_048_576) == "<bytes: 1,048,576>"
    assert bounded(memoryview(b"abc")) == "<bytes: 3>"
    assert bounded("x" * 300, 10) == "xxxxxxxxxx… (300 characters)"
    for value in (12345678901234567890, 1.5, Decimal("1.10"), dt.date(2026, 1, 1), None):
        assert bounded(value, 2) is value
    assert (
        cell_text(None) == "NULL"
        and cell_text(Change(None, "x" * 30), 5) == "NULL → xxxxx… (30 characters)"
    )


def test_every_value_name_and_column_is_escaped_in_html() -> None:
    table = TableData(EVIL, ["id", EVIL], [(1, EVIL)], 1, 10_000)
    markup = table_html(table)
    assert "<script>" not in markup and markup.count("&lt;script&gt;") == 3


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.integers(), st.text(max_size=30), st.binary(max_size=5)),
        min_size=2,
        max_size=2,
    )
)
def test_the_html_reads_back_as_the_text_form(values: list) -> None:
    table = data([tuple(values)])
    markup = table_html(table)
    cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", markup, re.S)]
    assert cells == [cell_text(v) for v in values]


def session_data() -> TableData:
    view = SessionView(
        marks={
            0: SessionRow(MODIFIED, (1, Change("ann", EVIL)), (1,)),
            1: SessionRow(DELETED, (2, "bob"), (2,)),
        },
        extra=[SessionRow(NEW, (3, "cy"))],
        counts={NEW: 1, MODIFIED: 1, DELETED: 1},
    )
    return data([(1, "ann"), (2, "bob")], session=view)


def test_the_sessions_changes_show_in_a_state_column() -> None:
    table = session_data()
    assert row_count_text(table) == "2 rows · unflushed: 1 new, 1 modified, 1 deleted"
    lines = table_text(table).splitlines()
    assert lines[1].split() == ["state", "id", "name"]
    assert lines[2].split()[0] == "modified" and lines[2].endswith(f"ann → {EVIL}")
    assert lines[3].split() == ["deleted", "2", "bob"] and lines[4].split() == ["new", "3", "cy"]
    markup = table_html(table)
    assert "<s>ann</s> → <b>&lt;script&gt;" in markup and "<td><s>bob</s></td>" in markup
    assert "<script>" not in markup


def test_an_empty_table_lists_its_columns() -> None:
    assert table_text(data([])) == "-- users: 0 rows\n   (id, name)"


def test_frames_have_a_caption_a_note_and_bounded_escaped_values() -> None:
    frame = Frame(EVIL, ["a"], [("y" * 50,)], note="first 1 of 9")
    assert frame_text(frame, 10).splitlines() == [
        f"-- {EVIL}: first 1 of 9",
        "   " + "a".rjust(27),
        "   yyyyyyyyyy… (50 characters)",
    ]
    markup = frame_html(frame, 10)
    assert "<script>" not in markup and "first 1 of 9" in markup and "y" * 11 not in markup
    assert frame_text(Frame("empty", ["a"])) == "-- empty"
