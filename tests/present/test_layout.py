"""orm_magic.present.layout: where the boxes and connectors of an ER drawing go.

Checked as geometry on plain data: boxes never overlap, each connector runs
in straight lines from its parent's bottom to its child's top without
crossing a box, and the same tables always give the same picture.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orm_magic.present.er_model import DiagramColumn, DiagramLink, DiagramTable
from orm_magic.present.layout import MAX_WIDTH, PER_ROW, Layout, box_width, grid_rows, lay_out


def table(name: str, columns: int = 2) -> DiagramTable:
    return DiagramTable(name, tuple(DiagramColumn(f"c{i}", "INTEGER") for i in range(columns)))


def overlap(a, b) -> bool:  # noqa: ANN001
    return (
        a.x < b.x + b.width
        and b.x < a.x + a.width
        and a.y < b.y + b.height
        and b.y < a.y + a.height
    )


def crosses(segment: tuple[tuple[float, float], tuple[float, float]], box) -> bool:  # noqa: ANN001
    """True when an axis-aligned segment enters a box's inside (its edges are allowed)."""
    (x1, y1), (x2, y2) = segment
    left, right, top, bottom = box.x, box.x + box.width, box.y, box.y + box.height
    low_x, high_x, low_y, high_y = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    return (
        low_x < right
        and high_x > left
        and low_y < bottom
        and high_y > top
        and (left < x1 < right or top < y1 < bottom)
    )


def check_geometry(layout: Layout) -> None:
    boxes = list(layout.boxes.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not overlap(a, b), (a.table.name, b.table.name)
        assert a.x >= 0 and a.x + a.width <= layout.width and a.y + a.height <= layout.height
    for route in layout.routes:
        points = route.points
        parent, child = layout.boxes[route.link.parent], layout.boxes[route.link.child]
        if route.link.parent == route.link.child:
            continue  # a self-reference loops beside its box
        assert points[0][1] == parent.y + parent.height and points[-1][1] == child.y
        for segment in zip(points, points[1:]):
            (x1, y1), (x2, y2) = segment
            assert x1 == x2 or y1 == y2, "runs are straight"
            assert not any(crosses(segment, box) for box in boxes), route.link


schemas = st.integers(1, 9).flatmap(
    lambda n: st.tuples(
        st.just([f"t{i}" for i in range(n)]),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=12),
    )
)


@settings(max_examples=40, deadline=None)
@given(schemas)
def test_boxes_never_overlap_and_connectors_go_around_them(schema) -> None:
    names, pairs = schema
    tables = [table(name, 1 + len(name) % 4) for name in names]
    links = [DiagramLink(names[c], (f"{names[p]}_id",), names[p]) for c, p in pairs]
    layout = lay_out(tables, links)
    assert len(layout.routes) == len(links)
    check_geometry(layout)


def test_the_same_tables_give_the_same_picture_in_any_order() -> None:
    tables = [table(n) for n in ("users", "orders", "items", "products")]
    links = [
        DiagramLink("orders", ("user_id",), "users"),
        DiagramLink("items", ("order_id",), "orders"),
        DiagramLink("items", ("product_id",), "products"),
    ]
    first = lay_out(tables, links)
    again = lay_out(tables, list(reversed(links)))
    assert [(b.x, b.y) for b in first.boxes.values()] == [(b.x, b.y) for b in again.boxes.values()]
    assert sorted(map(str, first.routes)) == sorted(map(str, again.routes))


def test_parents_sit_in_rows_above_their_children_at_most_per_row_a_row() -> None:
    names = [f"child{i}" for i in range(6)] + ["parent"]
    links = [DiagramLink(n, ("parent_id",), "parent") for n in names[:-1]]
    rows = grid_rows(names, links, PER_ROW)
    assert rows[0] == ["parent"] and all(len(row) <= PER_ROW for row in rows)
    assert sorted(sum(rows[1:], [])) == sorted(names[:-1])


def test_a_big_model_is_cut_down_and_says_so() -> None:
    tables = [table(f"t{i:02d}", 20) for i in range(40)]
    layout = lay_out(tables, [], max_tables=30, max_rows=14)
    assert len(layout.boxes) == 30
    assert layout.notes == [
        "showing 30 of 40 tables; name the models to draw fewer",
        "30 tables show their first 14 columns only",
    ]
    assert all(len(b.rows) == 14 and b.hidden == 6 for b in layout.boxes.values())


def test_links_to_tables_not_shown_are_left_out() -> None:
    layout = lay_out([table("a"), table("b")], [DiagramLink("a", ("x_id",), "x")])
    assert layout.routes == []


def test_every_box_is_one_width_and_no_wider_than_the_maximum() -> None:
    long = DiagramTable("t", (DiagramColumn("c" * 500, "VARCHAR(9999)"),))
    assert box_width([long], 14) == MAX_WIDTH
    layout = lay_out([long, table("u")], [])
    assert {b.width for b in layout.boxes.values()} == {MAX_WIDTH}
