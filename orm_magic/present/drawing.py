"""An ER diagram as a self-contained SVG: boxes, columns, crow's-foot connectors.

The picture is made here, in Python, from plain data (:mod:`.layout` places
it): no Graphviz, no JavaScript, no network, nothing outside the file (no
``href``, no web font). VS Code, Colab, GitHub and nbconvert's HTML show it.

Colours: each box paints its own background and its own text (dark on light),
so a box reads the same on a light page and on a dark one. ``currentColor``
would not do: VS Code and GitHub show ``image/svg+xml`` as an ``<img>``, which
inherits no colour from the page, so its text would be black on a dark theme.
Connectors and their ends are a mid grey with at least 3:1 contrast on white
and on VS Code's dark background (#1e1e1e); notes sit in a box of their own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from .er_model import DiagramLink, DiagramTable
from .layout import (
    CHAR,
    HEADER,
    MARK,
    PAD,
    ROW,
    Box,
    Layout,
    Route,
    lay_out,
)

FONT = "ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono','Liberation Mono',monospace"
BOX_FILL = "#ffffff"
HEADER_FILL = "#dde8f6"
BORDER = "#5f6b7a"
TEXT = "#1f2328"
MUTED = "#57606a"
KEY = "#9a6700"
#: Connectors: #808a96 has a contrast of 3.5:1 on white, 4.8:1 on #1e1e1e (VS Code)
#: and 3.3:1 on #383838 (Colab dark).
LINE = "#808a96"
NOTE_HEIGHT = 26
#: Characters XML 1.0 forbids (a name may hold them: SQL quotes any identifier).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def svg_diagram(
    tables: Sequence[DiagramTable],
    links: Sequence[DiagramLink],
    max_tables: int = 30,
    max_rows: int = 14,
) -> str:
    """The SVG of ``tables`` and one connector per foreign key in ``links``.

    At most ``max_tables`` tables of at most ``max_rows`` columns each are
    drawn; a note under the picture says what was left out.
    """
    layout = lay_out(tables, links, max_tables, max_rows)
    width = math.ceil(max(layout.width, 240))
    notes_top = layout.height
    height = math.ceil(notes_top + NOTE_HEIGHT * len(layout.notes) + (4 if layout.notes else 0))
    label = f"ER diagram of {len(layout.boxes)} tables"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(label)} '
        f'font-family="{FONT}" font-size="12">',
        f"<title>{xml_escape(label)}</title>",
    ]
    parts.extend(_route(route) for route in layout.routes)
    for name in sorted(layout.boxes):
        parts.append(_box(layout.boxes[name]))
    parts.extend(_notes(layout, notes_top, width))
    parts.append("</svg>")
    return NOT_XML.sub("\ufffd", "\n".join(parts))


def _text(x: float, y: float, content: str, chars: int = 0, **attributes: str) -> str:
    """A <text> of ``content``; past ``chars`` characters it shows the start and
    "…", and its <title> holds the whole (a tooltip; what a screen reader reads)."""
    extra = "".join(f" {k.replace('_', '-')}={quoteattr(v)}" for k, v in attributes.items())
    shown = xml_escape(content)
    if chars and len(content) > chars:
        cut = content[: max(1, chars - 1)] + "…"
        shown = f"<title>{xml_escape(content)}</title>{xml_escape(cut)}"
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{shown}</text>'


def _box(box: Box) -> str:
    x, y, w = box.x, box.y, box.width
    chars = int((w - 2 * PAD) / CHAR)
    parts = [
        f'<g class="table" data-table={quoteattr(box.table.name)}>',
        f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{box.height:.1f}" '
        f'rx="4" fill="{BOX_FILL}" stroke="{BORDER}"/>',
        f'<path d="M{x:.1f},{y + HEADER:.1f}h{w:.1f}" stroke="{BORDER}"/>',
        f'<path d="M{x + 0.5:.1f},{y + HEADER:.1f}v{-HEADER + 4:.1f}a4,4 0 0 1 4,-4'
        f'h{w - 9:.1f}a4,4 0 0 1 4,4v{HEADER - 4:.1f}z" fill="{HEADER_FILL}"/>',
        _text(
            x + w / 2,
            y + 17,
            box.table.name,
            chars,
            text_anchor="middle",
            font_weight="bold",
            fill=TEXT,
        ),
    ]
    for index, column in enumerate(box.rows):
        baseline = y + HEADER + ROW * index + 13
        mark = " ".join(
            k for k, on in (("PK", column.primary_key), ("FK", column.foreign_key)) if on
        )
        if mark:
            parts.append(
                _text(x + PAD, baseline, mark, fill=KEY, font_size="10", font_weight="bold")
            )
        room = chars - MARK
        weight = {"font_weight": "bold"} if column.primary_key else {}
        parts.append(
            _text(x + PAD + MARK * CHAR, baseline, column.name, room, fill=TEXT, **weight)
        )
        # the type where room allows: after the name, with a blank between
        if column.type and len(column.name) + 2 + len(column.type) <= room:
            parts.append(_text(x + w - PAD, baseline, column.type, text_anchor="end", fill=MUTED))
    if box.hidden:
        baseline = y + HEADER + ROW * len(box.rows) + 13
        more = f"… {box.hidden} more column{'s' if box.hidden != 1 else ''}"
        parts.append(_text(x + PAD + MARK * CHAR, baseline, more, fill=MUTED, font_style="italic"))
    parts.append("</g>")
    return "\n".join(parts)


def _route(route: Route) -> str:
    link = route.link
    points = route.points
    d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
    what = f"{link.child}({', '.join(link.columns)}) → {link.parent}"
    parts = [
        f'<g class="link" data-child={quoteattr(link.child)} '
        f"data-parent={quoteattr(link.parent)}>",
        f"<title>{xml_escape(what)}</title>",
        f'<path d="{d}" fill="none" stroke="{LINE}" stroke-width="1.5"/>',
        # parent end: one bar for "one", then a second bar or a circle for "zero"
        _end(points[0], points[1], many=False, zero=link.optional),
        # child end: a crow's foot for "many" (a bar when unique), then a circle: "zero"
        _end(points[-1], points[-2], many=not link.unique, zero=True),
        "</g>",
    ]
    return "\n".join(parts)


def _end(at: tuple[float, float], toward: tuple[float, float], many: bool, zero: bool) -> str:
    """The cardinality marks where a connector meets a box at ``at``."""
    (x, y), (tx, ty) = at, toward
    length = math.hypot(tx - x, ty - y) or 1.0
    dx, dy = (tx - x) / length, (ty - y) / length  # out of the box
    nx, ny = -dy, dx

    def point(along: float, across: float = 0.0) -> str:
        return f"{x + dx * along + nx * across:.1f},{y + dy * along + ny * across:.1f}"

    def bar(along: float) -> str:
        return f"M{point(along, -6)} L{point(along, 6)}"

    strokes = []
    if many:
        strokes.append(f"M{point(0, -7)} L{point(12)} L{point(0, 7)}")
        outer = 17.0
    else:
        strokes.append(bar(7))
        outer = 12.0
    shapes = [f'<path d="{" ".join(strokes)}" fill="none" stroke="{LINE}" stroke-width="1.5"/>']
    if zero:
        cx, cy = point(outer + 4).split(",")
        shapes.append(
            f'<circle cx="{cx}" cy="{cy}" r="4" fill="{BOX_FILL}" stroke="{LINE}" '
            'stroke-width="1.5"/>'
        )
    else:
        shapes.append(f'<path d="{bar(outer)}" stroke="{LINE}" stroke-width="1.5"/>')
    return "".join(shapes)


def _notes(layout: Layout, top: float, width: float) -> list[str]:
    parts = []
    for index, note in enumerate(layout.notes):
        y = top + NOTE_HEIGHT * index
        parts.append(
            f'<g class="note"><rect x="8" y="{y:.1f}" width="{width - 16:.1f}" height="22" rx="4" '
            f'fill="{HEADER_FILL}" stroke="{BORDER}"/>'
            + _text(16, y + 15, note, fill=TEXT, font_style="italic")
            + "</g>"
        )
    return parts
