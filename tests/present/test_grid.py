"""orm_magic.present.grid: small tables as text and HTML, read as pandas prints them."""

from __future__ import annotations

import html
import re

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from orm_magic.present.grid import grid_html, grid_text

# Cells as a display has them: short strings of printable characters, no blanks at the
# ends and none inside (pandas pads them the same, but quotes none of them).
cells = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=8
)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda width: st.tuples(
            st.lists(cells, min_size=width, max_size=width, unique=True),
            st.lists(st.lists(cells, min_size=width, max_size=width), min_size=1, max_size=5),
        )
    )
)
def test_the_text_is_what_pandas_to_string_prints(table) -> None:
    columns, rows = table
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    assert grid_text(columns, rows) == frame.to_string(index=False).splitlines()


def test_cells_are_right_aligned_to_the_widest() -> None:
    assert grid_text(["id", "name"], [["1", "ed"], ["10", "wendy"]]) == [
        "id  name",
        " 1    ed",
        "10 wendy",
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=10), min_size=1, max_size=3))
def test_every_cell_and_heading_is_escaped_and_reads_back(values) -> None:
    markup = grid_html(values, [(values, "")])
    text = [html.unescape(cell) for cell in re.findall(r"<t[hd]>(.*?)</t[hd]>", markup, re.S)]
    assert text == values + values
    stripped = re.sub(r"<t[hd]>.*?</t[hd]>", "", markup, flags=re.S)
    assert "<" not in re.sub(r"</?(table|thead|tbody|tr)[^>]*>", "", stripped)


def test_a_row_style_is_kept_and_the_table_is_like_pandas() -> None:
    markup = grid_html(["a"], [(["1"], "background:#eee"), (["2"], "")])
    assert markup.startswith('<table class="dataframe"')
    assert '<tr style="background:#eee"><td>1</td></tr><tr><td>2</td></tr>' in markup
