"""Where an ER drawing puts its boxes and connectors: plain geometry, no SVG.

Tables go in layers by foreign-key depth (a table that references nothing is
depth 0; a table referencing a depth-n table is deeper), each layer in rows of
at most :data:`PER_ROW` boxes on one grid. All boxes are one width, so the
gutters between grid columns run straight from top to bottom: a connector runs
from its parent's bottom into the gap below that row, along the gap, down a
gutter, along the gap above its child's row and into the child's top. Gaps and
gutters hold no box, so a connector never crosses a box. Each horizontal or
vertical run gets a lane of its own, so runs never lie on top of each other.
Every choice is made in a sorted order: the same tables give the same picture.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from .er_model import DiagramColumn, DiagramLink, DiagramTable, depths

#: Width of a character of the 12px monospace font, in pixels (DejaVu Sans Mono
#: and Menlo are 0.6 em); box widths are estimated from it.
CHAR = 7.3
ROW = 18
HEADER = 26
PAD = 8
#: Key marks (PK, FK) take this many characters before each column name.
MARK = 6
#: Widest box, so that a row of PER_ROW boxes fits an output area (about 1200px)
#: and a picture of 30 tables grows down, not across, where a page scales it down.
MAX_WIDTH = 300
PER_ROW = 4
LANE = 7
#: Room left free above and below a box for the crow's foot and its circle.
END_ROOM = 30


@dataclass
class Box:
    """A table's rectangle and the column rows it shows."""

    table: DiagramTable
    x: float
    y: float
    width: float
    rows: tuple[DiagramColumn, ...]
    hidden: int

    @property
    def height(self) -> float:
        return HEADER + ROW * (len(self.rows) + (1 if self.hidden else 0)) + PAD / 2


@dataclass
class Route:
    """A connector: its points from the parent's edge to the child's edge."""

    link: DiagramLink
    points: list[tuple[float, float]]


@dataclass
class Layout:
    """Boxes, routes, and the size of the picture."""

    boxes: dict[str, Box]
    routes: list[Route]
    width: float
    height: float
    notes: list[str] = field(default_factory=list)


def box_width(tables: Sequence[DiagramTable], max_rows: int) -> float:
    """One width for every box: the widest name (with its type where room allows)."""
    widest = max((len(t.name) + 2 for t in tables), default=8)
    for table in tables:
        for column in table.columns[:max_rows]:
            widest = max(widest, MARK + len(column.name) + 2 + len(column.type))
    return min(MAX_WIDTH, math.ceil((widest + 1) * CHAR + 2 * PAD))


def grid_rows(names: Sequence[str], links: Sequence[DiagramLink], per_row: int) -> list[list[str]]:
    """Table names by grid row: each layer in rows of ``per_row``, ordered under
    their parents (the mean column of the parents already placed), then by name."""
    depth = depths(names, links)
    column: dict[str, float] = {}
    rows: list[list[str]] = []
    for level in sorted(set(depth.values())):
        layer = [name for name in names if depth[name] == level]

        def under_parents(name: str) -> tuple[float, str]:
            # a parent not placed yet (a reference closing a cycle) counts as -1
            placed = [column.get(link.parent, -1.0) for link in links if link.child == name]
            placed = [c for c in placed if c >= 0]
            return (sum(placed) / len(placed) if placed else -1.0), name

        column.update({name: -1.0 for name in layer})
        layer.sort(key=under_parents)
        for start in range(0, len(layer), per_row):
            row = layer[start : start + per_row]
            rows.append(row)
            column.update({name: float(i) for i, name in enumerate(row)})
    return rows


def _pack(intervals: list[tuple[float, float]]) -> list[int]:
    """A lane for each interval, the lowest whose intervals it does not touch."""
    lanes: list[list[tuple[float, float]]] = []
    chosen = []
    for low, high in intervals:
        for index, taken in enumerate(lanes):
            if all(high < a or low > b for a, b in taken):
                taken.append((low, high))
                chosen.append(index)
                break
        else:
            lanes.append([(low, high)])
            chosen.append(len(lanes) - 1)
    return chosen


def _spread(start: float, width: float, count: int, index: int) -> float:
    return start + width * (index + 1) / (count + 1)


def lay_out(
    tables: Sequence[DiagramTable],
    links: Sequence[DiagramLink],
    max_tables: int = 30,
    max_rows: int = 14,
) -> Layout:
    """Boxes and routes for ``tables`` (the first ``max_tables``; each box shows at
    most ``max_rows`` columns) and the ``links`` among the tables shown."""
    shown = list(tables[:max_tables])
    notes = []
    if len(tables) > len(shown):
        notes.append(
            f"showing {len(shown)} of {len(tables)} tables; name the models to draw fewer"
        )
    names = [t.name for t in shown]
    kept = sorted(
        (link for link in links if link.child in names and link.parent in names),
        key=lambda link: (link.child, link.columns, link.parent),
    )
    width = box_width(shown, max_rows)
    boxes = {
        t.name: Box(t, 0, 0, width, t.columns[:max_rows], max(0, len(t.columns) - max_rows))
        for t in shown
    }
    hidden = sum(1 for box in boxes.values() if box.hidden)
    if hidden:
        which = "1 table shows its" if hidden == 1 else f"{hidden} tables show their"
        notes.append(f"{which} first {max_rows} columns only")
    between = [link for link in kept if link.child != link.parent]
    loops = Counter(link.child for link in kept if link.child == link.parent)
    grid = _Grid(grid_rows(names, kept, PER_ROW), between, width, max(loops.values(), default=0))
    grid.place_boxes(boxes)
    routes = grid.routes(boxes)
    routes.extend(_self_loops([link for link in kept if link.child == link.parent], boxes))
    return Layout(boxes, routes, grid.width, grid.height, notes)


class _Grid:
    """The grid of boxes, with a lane for every run of a connector along a gap
    (numbered by the row above it; -1 is above the first row) or down a gutter
    (numbered by the grid column on its right)."""

    def __init__(
        self, rows: list[list[str]], links: list[DiagramLink], box_width: float, loops: int
    ) -> None:
        self.rows, self.links, self.box_width = rows, links, box_width
        self.place = {name: (r, c) for r, row in enumerate(rows) for c, name in enumerate(row)}
        runs: dict[int, list[tuple[int, float, float]]] = {}
        down: dict[int, list[tuple[int, float, float]]] = {}  # gutter -> runs down it
        for index, link in enumerate(links):
            (rp, cp), (rc, cc) = self.place[link.parent], self.place[link.child]
            if rp == rc - 1:
                runs.setdefault(rp, []).append((index, min(cp, cc) + 0.5, max(cp, cc) + 0.5))
                continue
            gutter = self.gutter(index)
            runs.setdefault(rp, []).append((index, min(cp + 0.5, gutter), max(cp + 0.5, gutter)))
            span = (index, min(cc + 0.5, gutter), max(cc + 0.5, gutter))
            runs.setdefault(rc - 1, []).append(span)
            down.setdefault(gutter, []).append((index, min(rp, rc - 1), max(rp, rc - 1)))
        self.lane: dict[tuple[int, int], int] = {}  # (gap, link index) -> lane
        self.gap_height: dict[int, float] = {}
        for gap, found in runs.items():
            packed = _pack([(a, b) for _, a, b in found])
            self.lane.update({(gap, i): p for (i, _, _), p in zip(found, packed)})
            self.gap_height[gap] = 2 * END_ROOM + LANE * max(packed)
        self.down_lane: dict[int, int] = {}  # link index -> lane in its gutter
        lanes_down: dict[int, int] = {}
        for gutter, found in down.items():
            packed = _pack([(a, b) for _, a, b in found])
            self.down_lane.update({i: p for (i, _, _), p in zip(found, packed)})
            lanes_down[gutter] = max(packed) + 1
        # self-references loop out into the left part of the gutter on the box's right,
        # each a lane further out (see _self_loops): room for the most on one box
        self.loop_room = 30.0 + LANE * loops if loops else 0.0
        columns = max((len(row) for row in rows), default=0)
        self.lanes_down = [lanes_down.get(g, 0) for g in range(columns + 1)]
        widths = [max(40.0, 24 + LANE * n) + self.loop_room for n in self.lanes_down]
        self.gutter_left = [sum(widths[:g]) + g * box_width for g in range(columns + 1)]
        self.gutter_width = widths
        self.row_tops: list[float] = []
        self.height = 0.0
        self.width = self.gutter_left[-1] + widths[-1]

    def gutter(self, index: int) -> int:
        """The gutter a connector runs down: beside its child, on its parent's side."""
        link = self.links[index]
        child, parent = self.place[link.child][1], self.place[link.parent][1]
        return child + 1 if parent > child else child

    def place_boxes(self, boxes: dict[str, Box]) -> None:
        top = self.gap_height.get(-1, 12.0)
        for r, row in enumerate(self.rows):
            self.row_tops.append(top)
            for c, name in enumerate(row):
                boxes[name].x = self.gutter_left[c] + self.gutter_width[c]
                boxes[name].y = top
            top += max(boxes[name].height for name in row) + self.gap_height.get(r, 36.0)
        self.height = top

    def gap_y(self, gap: int, index: int) -> float:
        below = self.row_tops[gap + 1] if gap + 1 < len(self.rows) else self.height
        return below - self.gap_height[gap] + END_ROOM + LANE * self.lane[(gap, index)]

    def gutter_x(self, index: int) -> float:
        gutter = self.gutter(index)
        free = self.gutter_width[gutter] - self.loop_room
        middle = self.gutter_left[gutter] + self.loop_room + free / 2
        return middle + LANE * (self.down_lane[index] - (self.lanes_down[gutter] - 1) / 2)

    def routes(self, boxes: dict[str, Box]) -> list[Route]:
        exits = _attachments(self.links, self.place, "parent")
        entries = _attachments(self.links, self.place, "child")
        routes = []
        for index, link in enumerate(self.links):
            parent, child = boxes[link.parent], boxes[link.child]
            # exits sit 9px right of where entries would: stubs never lie on each other
            px = _spread(parent.x, self.box_width, *exits[index]) + 9
            cx = _spread(child.x, self.box_width, *entries[index])
            rp, rc = self.place[link.parent][0], self.place[link.child][0]
            start, end = (px, parent.y + parent.height), (cx, child.y)
            if rp == rc - 1:
                y = self.gap_y(rp, index)
                points = [start, (px, y), (cx, y), end]
            else:
                y1, y2, x = self.gap_y(rp, index), self.gap_y(rc - 1, index), self.gutter_x(index)
                points = [start, (px, y1), (x, y1), (x, y2), (cx, y2), end]
            routes.append(Route(link, points))
        return routes


def _attachments(
    links: Sequence[DiagramLink], place: dict[str, tuple[int, int]], end: str
) -> dict[int, tuple[int, int]]:
    """For each link, (how many links share its box's edge, its position among them),
    ordered by the other end's column so that connectors do not cross there."""
    other = "child" if end == "parent" else "parent"
    sharing: dict[str, list[int]] = {}
    for index, link in enumerate(links):
        sharing.setdefault(getattr(link, end), []).append(index)
    found = {}
    for indexes in sharing.values():
        indexes.sort(key=lambda i: (place[getattr(links[i], other)][1], i))
        found.update({i: (len(indexes), k) for k, i in enumerate(indexes)})
    return found


def _self_loops(links: Sequence[DiagramLink], boxes: dict[str, Box]) -> list[Route]:
    """A loop on the box's right side, from its header to the key's column row."""
    routes = []
    count: dict[str, int] = {}
    for link in links:
        box = boxes[link.child]
        k = count[link.child] = count.get(link.child, 0) + 1
        names = [c.name for c in box.rows]
        row = names.index(link.columns[0]) if link.columns[0] in names else len(names)
        right, out = box.x + box.width, box.x + box.width + 22 + LANE * k
        y_parent = box.y + HEADER / 2
        y_child = box.y + HEADER + ROW * row + ROW / 2
        points = [(right, y_parent), (out, y_parent), (out, y_child), (right, y_child)]
        routes.append(Route(link, points))
    return routes
