"""Small tables as text and HTML, built once from cell strings, without pandas.

A display holds at most ``displaylimit`` rows of at most ``maxchars``
characters each, so a grid is small; building a DataFrame twice to print it
(``to_string`` for text/plain, ``to_html`` for HTML) was half of a magic's
time (``cProfile`` of ``%orm_add obj --flush``). The text reads as pandas'
``to_string(index=False)`` does: each column right-aligned to its widest
cell, one blank between columns. The HTML is a ``<table class="dataframe">``
like pandas', with every cell escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

#: One row's cells as shown, and an optional style for the whole row.
Row = tuple[Sequence[str], str]


def grid_text(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a right-aligned text table, header first."""
    widths = [len(name) for name in columns]
    for cells in rows:
        for index, cell in enumerate(cells):
            if len(cell) > widths[index]:
                widths[index] = len(cell)
    lines = [" ".join(name.rjust(width) for name, width in zip(columns, widths))]
    lines.extend(" ".join(c.rjust(w) for c, w in zip(cells, widths)) for cells in rows)
    return lines


def grid_html(columns: Sequence[str], rows: Sequence[Row]) -> str:
    """An HTML table of plain-text cells, each escaped here; rows are ``(cells, style)``."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = []
    for cells, style in rows:
        tds = "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
        body.append(f'<tr style="{style}">{tds}</tr>' if style else f"<tr>{tds}</tr>")
    return (
        '<table class="dataframe" border="0"><thead><tr style="text-align:right">'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
