"""orm_magic.present.report: what a cell caused, rendered from plain data alone."""

from __future__ import annotations

import html
import re

from orm_magic.data.statements import Capture, Repeat, Statement
from orm_magic.data.tables import TableData
from orm_magic.present.report import CellReport
from orm_magic.present.sql import statement_text

EVIL = "<img src=x onerror=alert(1)>"


def entry(seq: int, sql: str, parameters: object = (), loader: str | None = None) -> list:
    """A statement as the recorder keeps it (Statement's fields in order)."""
    return [
        seq,
        sql,
        parameters,
        False,
        0,
        1_700_000_000.0,
        0.001,
        None,
        None,
        False,
        loader,
        None,
    ]


def test_a_long_run_shows_its_first_and_last_statements_and_counts_the_rest() -> None:
    capture = Capture(keep=2)
    for n in range(10):
        capture.add(entry(n + 1, f"SELECT {n}"))
    report = CellReport.from_capture("%orm_flush", capture)
    lines = repr(report).splitlines()
    assert lines == [
        "-- %orm_flush",
        "SELECT 0",
        "SELECT 1",
        "-- … 6 statements not shown …",
        "SELECT 8",
        "SELECT 9",
        f"-- {report.summary()}",
    ]
    assert "… 6 statements not shown …" in report._repr_html_()
    assert report.summary().startswith("10 statements · 0 rows affected · ")


def test_the_summary_counts_statements_rows_and_time() -> None:
    assert CellReport("t").summary() == "no SQL emitted"
    report = CellReport("t", count=1, rowcount=1, elapsed=0.0123)
    assert report.summary() == "1 statement · 1 row affected · 12.3 ms in the database"


def test_an_n_plus_one_names_the_relationship_and_the_fix() -> None:
    capture = Capture()
    for n in range(6):
        capture.add(entry(n + 1, "SELECT * FROM books WHERE author_id = ?", (n,), "Author.books"))
    report = CellReport.from_capture("cell", capture, nplusone_threshold=5)
    assert report.nplusone_notes() == [
        "N+1: the same SELECT ran 6 times with different parameters, lazy-loading "
        "Author.books once per object; load it up front with selectinload(Author.books)"
    ]
    assert "-- ⚠ N+1" in repr(report)
    assert CellReport.from_capture("cell", capture, nplusone_threshold=7).nplusone_notes() == []
    assert CellReport.from_capture("cell", capture, nplusone_threshold=0).nplusone == []
    unnamed = CellReport("cell", repeats=[Repeat("SELECT  x\n FROM t", 9, (1,), varied=True)])
    assert unnamed.nplusone_notes() == [
        "N+1: the same SELECT ran 9 times with different parameters: SELECT x FROM t"
    ]


def test_every_value_is_escaped_in_html() -> None:
    report = CellReport(
        EVIL,
        statements=[Statement(1, f"SELECT '{EVIL}'", (EVIL,), started=1_700_000_000.0)],
        count=1,
        notes=[EVIL],
        tables=[TableData(EVIL, [EVIL], [(EVIL,)], 1, 10_000)],
    )
    markup = report._repr_html_()
    assert "<img" not in markup
    assert EVIL in html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_the_text_form_is_the_sql_as_echo_prints_it_then_notes_and_tables() -> None:
    statements = [
        Statement(1, "INSERT INTO t VALUES (?)", (1,)),
        Statement(2, "COMMIT", is_transaction=True),
    ]
    table = TableData("t", ["x"], [(1,)], 1, 10_000)
    report = CellReport("%orm_commit", statements, count=2, notes=["a note"], tables=[table])
    text = repr(report)
    assert text.startswith("-- %orm_commit\n" + "\n".join(map(statement_text, statements)))
    assert text.index("-- a note") < text.index("-- t: 1 row") < text.index(report.summary())
    assert str(report) == text
    assert report._repr_mimebundle_() == {"text/plain": text, "text/html": report._repr_html_()}


def test_without_sql_only_the_notes_and_tables_show() -> None:
    report = CellReport(
        "cell",
        [Statement(1, "SELECT secret_sql")],
        count=1,
        show_sql=False,
        tables=[TableData("t", ["x"], [], 0, 10_000)],
    )
    assert "secret_sql" not in repr(report) and "secret_sql" not in report._repr_html_()
    assert "statement" not in repr(report) and repr(report).startswith("-- t: 0 rows")
