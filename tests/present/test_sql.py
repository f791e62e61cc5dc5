"""orm_magic.present.sql: statements as ``echo=True`` prints them, and as escaped HTML."""

from __future__ import annotations

import html
import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from orm_magic.data.statements import Statement
from orm_magic.present.sql import (
    PARAMETER_CHARS,
    SQL_CHARS,
    clock,
    parameters_text,
    sql_html,
    statement_html,
    statement_sql,
    statement_text,
)

TAG = re.compile(r"<[^>]+>")


def seen(markup: str) -> str:
    """What a reader sees of some HTML: tags removed, entities decoded."""
    return html.unescape(TAG.sub("", markup))


def test_highlighting_escapes_markup_in_strings_and_names() -> None:
    sql = """SELECT "<b>x</b>" FROM t WHERE name = '<script>alert(1)</script>' AND a < 1 & b"""
    markup = sql_html(sql)
    assert "<script>" not in markup and "<b>" not in markup
    assert "&lt;script&gt;" in markup and "&amp;" in markup
    assert seen(markup) == sql


def test_keywords_are_styled_with_the_notebooks_colours() -> None:
    markup = sql_html("SELECT 1")
    assert re.search(
        r'<span style="color:var\(--jp-mirror-editor-keyword-color[^"]*">SELECT</span>', markup
    )


def test_a_comment_at_the_end_keeps_no_newline_of_pygments() -> None:
    # Pygments adds a newline at the end, and a `--` comment takes it into its token
    assert seen(sql_html("SELECT 1 --")) == "SELECT 1 --"
    assert seen(sql_html("--")) == "--"


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\r"), max_size=60
    )
)
def test_any_text_reads_back_as_itself_and_carries_no_markup_of_its_own(sql: str) -> None:
    # (Pygments reads a text as lines: it drops \r and the newlines at either end;
    # the text shown is stripped before it gets here anyway)
    markup = sql_html(sql)
    assert seen(markup) == sql.strip("\n")
    # every tag left is one of ours
    assert all(t.startswith(("<span style=", "</span")) for t in TAG.findall(markup))


def test_a_statement_in_html_escapes_its_parameters_and_session() -> None:
    statement = Statement(
        1, "SELECT ?", ("<img src=x onerror=alert(1)>",), started=time.time(), session="<b>"
    )
    markup = statement_html(statement)
    assert "<img" not in markup and "<b>]" not in markup
    assert "[&lt;b&gt;]" in markup and "&lt;img src=x" in markup


def test_transaction_boundaries_show_no_parameters() -> None:
    begin = Statement(1, "BEGIN (implicit)", is_transaction=True, started=time.time())
    assert parameters_text(begin) is None
    assert "<i>BEGIN (implicit)</i>" in statement_html(begin)
    assert statement_text(begin) == "BEGIN (implicit)"


def test_parameters_read_as_echo_prints_them() -> None:
    assert parameters_text(Statement(1, "SELECT 1", ())) is None
    assert parameters_text(Statement(1, "SELECT ?", (1, "a"))) == "(1, 'a')"
    many = Statement(1, "INSERT", [(1,), (2,)], executemany=True, parameters_omitted=98)
    assert parameters_text(many) == "[(1,), (2,)] … and 98 more parameter sets"
    values = Statement(1, "SELECT", (1, 2), parameters_omitted=5)
    assert parameters_text(values) == "(1, 2) … and 5 more values"


def test_text_form_labels_the_session_and_indents_parameters() -> None:
    statement = Statement(1, "  SELECT ?\n", (1,), session="b")
    assert statement_text(statement) == "[b] SELECT ?\n  (1,)"


def test_long_sql_and_parameters_are_bounded() -> None:
    statement = Statement(1, "SELECT " + "x" * 10 * SQL_CHARS, ("y" * 10 * PARAMETER_CHARS,))
    assert len(statement_sql(statement)) < SQL_CHARS + 50
    assert len(parameters_text(statement) or "") < PARAMETER_CHARS + 50
    assert len(statement_html(statement)) < 20 * (SQL_CHARS + PARAMETER_CHARS)


def test_clock_is_local_time_to_the_millisecond() -> None:
    moment = time.mktime((2026, 12, 2, 7, 5, 9, 0, 0, -1)) + 0.0429
    assert clock(moment) == "07:05:09.042"
