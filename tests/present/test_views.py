"""orm_magic.present.views: an Inspection that renders itself as text and escaped HTML."""

from __future__ import annotations

import html
import re

from orm_magic.data.tables import Frame, Inspection
from orm_magic.present.tables import NO_MATH
from orm_magic.present.views import InspectionReport

EVIL = "<img src=x onerror=alert(1)>"
VIEW = Inspection(
    f"%orm_state {EVIL}",
    [f"User(name={EVIL!r}): pending", "identity key: none (not yet flushed)"],
    [Frame("attributes", ["attribute", EVIL], [("name", EVIL), ("bio", "x" * 1000)], "2 rows")],
)


def test_the_html_escapes_every_value_and_is_left_alone_by_mathjax() -> None:
    markup = InspectionReport(VIEW)._repr_html_()
    assert "<img" not in markup and markup.count("&lt;img") >= 4
    assert f'class="orm-magic {NO_MATH}"' in markup
    shown = html.unescape(re.sub(r"<[^>]+>", "", markup))
    assert VIEW.title in shown and VIEW.lines[1] in shown


def test_the_text_has_the_title_and_lines_as_comments_then_the_frames() -> None:
    text = repr(InspectionReport(VIEW))
    lines = text.splitlines()
    assert lines[:3] == [f"-- {VIEW.title}", f"-- {VIEW.lines[0]}", f"-- {VIEW.lines[1]}"]
    assert "attribute" in text and "name" in text


def test_values_are_cut_at_maxchars() -> None:
    report = InspectionReport(VIEW, maxchars=20)
    assert "x" * 21 not in repr(report) and "x" * 21 not in report._repr_html_()
    assert "x" * 20 in repr(report)


def test_the_bundle_is_text_and_html() -> None:
    report = InspectionReport(VIEW)
    bundle = report._repr_mimebundle_()
    assert bundle == {"text/plain": repr(report), "text/html": report._repr_html_()}
