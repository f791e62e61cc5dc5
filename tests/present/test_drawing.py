"""orm_magic.present.drawing: an ER diagram as self-contained SVG, from plain data.

(tests/test_drawing.py checks the diagram of real mapped models; these check
the SVG drawn from the plain tables and links alone.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from orm_magic.present.drawing import svg_diagram
from orm_magic.present.er_model import DiagramColumn, DiagramLink, DiagramTable

SVG = "{http://www.w3.org/2000/svg}"

TABLES = [
    DiagramTable("users", (DiagramColumn("id", "INTEGER", primary_key=True),)),
    DiagramTable(
        "orders",
        (
            DiagramColumn("id", "INTEGER", primary_key=True),
            DiagramColumn("user_id", "INTEGER", foreign_key=True),
        ),
    ),
]
LINKS = [DiagramLink("orders", ("user_id",), "users", optional=True)]


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_it_is_svg_naming_every_table_and_column() -> None:
    svg = svg_diagram(TABLES, LINKS)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    shown = " ".join(texts(svg))
    for name in ("users", "orders", "id", "user_id", "INTEGER"):
        assert name in shown
    assert root.find(f"{SVG}title").text == "ER diagram of 2 tables"  # type: ignore[union-attr]


def test_nothing_is_fetched_from_outside_the_file() -> None:
    svg = svg_diagram(TABLES, LINKS)
    assert "href" not in svg and "url(" not in svg and "<script" not in svg


def test_names_are_escaped() -> None:
    evil = '<script>alert("x")</script>&'
    svg = svg_diagram([DiagramTable(evil, (DiagramColumn(evil, evil),))], [])
    assert "<script>" not in svg
    assert evil in " ".join(texts(svg))  # shown as text, whole


def test_characters_xml_forbids_are_replaced() -> None:
    svg = svg_diagram([DiagramTable("a\x00b\x1fc", ())], [])
    assert "a\ufffdb\ufffdc" in texts(svg)


def test_a_long_name_is_cut_in_its_box_and_whole_in_its_title() -> None:
    name = "n" * 200
    root = ET.fromstring(svg_diagram([DiagramTable(name, ())], []))
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert name in titles
    cut = [t for t in root.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None]
    assert cut and all(len(t.find(f"{SVG}title").tail or "") < 60 for t in cut)  # type: ignore[union-attr]


def test_what_was_left_out_is_noted_in_the_picture() -> None:
    tables = [DiagramTable(f"t{i}", ()) for i in range(5)]
    svg = svg_diagram(tables, [], max_tables=2)
    assert "showing 2 of 5 tables; name the models to draw fewer" in texts(svg)
    assert len(svg) < 10 * len(svg_diagram(tables[:2], []))


def test_an_empty_model_is_still_a_picture() -> None:
    root = ET.fromstring(svg_diagram([], []))
    assert int(root.get("width", "0")) >= 240
