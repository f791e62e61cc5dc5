"""orm_magic.present.diagram: mapped models to Mermaid text and an SVG drawing, no shell.

The SVG is parsed back with xml.etree: every name shown as text, nothing
outside the file, no two boxes overlapping, one connector per foreign key, the
same picture every time, and a note when it is cut down. (tests/present/
test_drawing.py checks the SVG drawn from plain tables and links alone.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import (
    ARRAY,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.schema import CreateTable

from orm_magic.present.diagram import (
    MERMAID_MIME,
    SVG_MIME,
    drawn_table,
    entity_block,
    er_diagram,
    mermaid_name,
    type_name,
)

SVG = "{http://www.w3.org/2000/svg}"


def course_models() -> list[type]:
    """The models of notebooks 02 and 03."""

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(50))
        fullname: Mapped[str | None]
        addresses: Mapped[list[Address]] = relationship(back_populates="user")

    class Address(Base):
        __tablename__ = "addresses"
        id: Mapped[int] = mapped_column(primary_key=True)
        email_address: Mapped[str]
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
        user: Mapped[User] = relationship(back_populates="addresses")

    class Account(Base):
        __tablename__ = "accounts"
        id: Mapped[int] = mapped_column(primary_key=True)
        owner: Mapped[str]
        balance: Mapped[int]

    return [User, Address, Account]


def association_models() -> list[type]:
    class Base(DeclarativeBase):
        pass

    book_tags = Table(
        "book_tags",
        Base.metadata,
        Column("book_id", ForeignKey("books.id"), primary_key=True),
        Column("tag_id", ForeignKey("tags.id"), primary_key=True),
    )

    class Book(Base):
        __tablename__ = "books"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str]
        tags: Mapped[list[Tag]] = relationship(secondary=book_tags)

    class Tag(Base):
        __tablename__ = "tags"
        id: Mapped[int] = mapped_column(primary_key=True)
        label: Mapped[str]

    return [Book, Tag]


def self_reference_models() -> list[type]:
    class Base(DeclarativeBase):
        pass

    class Employee(Base):
        __tablename__ = "employees"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]
        manager_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
        manager: Mapped[Employee | None] = relationship(remote_side=[id])

    return [Employee]


def many_models(count: int) -> list[type]:
    """``count`` tables: a tree where table i references table (i-1)//2, some twice."""

    class Base(DeclarativeBase):
        pass

    models = []
    for i in range(count):
        columns: dict[str, Any] = {
            "__tablename__": f"table_{i:02d}",
            "id": Column(Integer, primary_key=True),
            f"label_{i}": Column(String(20)),
        }
        if i:
            columns["parent_id"] = Column(ForeignKey(f"table_{(i - 1) // 2:02d}.id"))
        if i % 3 == 2:
            columns["other_id"] = Column(ForeignKey("table_00.id"), nullable=False)
        models.append(type(f"Model{i}", (Base,), columns))
    return models


def cycle_models() -> list[type]:
    """Users and addresses referencing each other (a cycle), and a table under both."""

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        home_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id", use_alter=True))

    class Address(Base):
        __tablename__ = "addresses"
        id: Mapped[int] = mapped_column(primary_key=True)
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    class Visit(Base):
        __tablename__ = "visits"
        id: Mapped[int] = mapped_column(primary_key=True)
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
        address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id"))

    return [User, Address, Visit]


def looping_models() -> list[type]:
    """A table with eight references to itself, beside another table in its row."""

    class Base(DeclarativeBase):
        pass

    columns: dict[str, Any] = {"__tablename__": "a_node", "id": Column(Integer, primary_key=True)}
    columns.update({f"ref_{k}": Column(ForeignKey("a_node.id")) for k in range(8)})
    node = type("Node", (Base,), columns)
    other = type(
        "Other", (Base,), {"__tablename__": "b_other", "id": Column(Integer, primary_key=True)}
    )
    return [node, other]


def long_name_models() -> list[type]:
    """Names far wider than a box: each is cut with "…" and whole in its <title>."""

    class Base(DeclarativeBase):
        pass

    long = "customer_subscription_billing_history_entries_archive_" * 4
    parent = type(
        "Parent", (Base,), {"__tablename__": long, "id": Column(Integer, primary_key=True)}
    )
    child = {"__tablename__": "child", "id": Column(Integer, primary_key=True)}
    child["date_of_the_last_successful_payment_attempt_utc"] = Column(ForeignKey(f"{long}.id"))
    return [parent, type("Child", (Base,), child)]


MODEL_SETS = {
    "course": course_models,
    "association": association_models,
    "self-reference": self_reference_models,
    "12 tables": lambda: many_models(12),
    "cycle": cycle_models,
    "eight self-references": looping_models,
    "long names": long_name_models,
}


def tables_of(models: list[type]) -> list[Table]:
    found: dict[str, Table] = {}
    for model in models:
        for table in model.metadata.sorted_tables:
            found[table.name] = table
    return list(found.values())


def parse(models: list[type]) -> ET.Element:
    return ET.fromstring(er_diagram(models).svg)


def texts(root: ET.Element) -> set[str]:
    """What each <text> names: its content, or the whole name its <title> holds when
    the content is cut short."""
    found = set()
    for text in root.iter(f"{SVG}text"):
        title = text.find(f"{SVG}title")
        found.add("".join(text.itertext()) if title is None else title.text or "")
    return found


@pytest.mark.parametrize("kind", MODEL_SETS)
def test_every_table_and_column_name_is_a_text(kind: str) -> None:
    models = MODEL_SETS[kind]()
    shown = texts(parse(models))
    for table in tables_of(models):
        assert table.name in shown
        for column in table.columns:
            assert column.name in shown, (table.name, column.name)


@pytest.mark.parametrize("kind", MODEL_SETS)
def test_nothing_runs_and_nothing_is_fetched(kind: str) -> None:
    root = parse(MODEL_SETS[kind]())
    for element in root.iter():
        assert element.tag.removeprefix(SVG) not in {"script", "foreignObject", "image", "use"}
        for name, value in element.attrib.items():
            assert not name.endswith("href"), (element.tag, name)
            assert "url(" not in value and not name.startswith("on"), (element.tag, name)


def rectangle(rect: ET.Element) -> tuple[float, float, float, float]:
    x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
    return x, y, x + float(rect.get("width", 0)), y + float(rect.get("height", 0))


@pytest.mark.parametrize("kind", MODEL_SETS)
def test_box_rectangles_do_not_overlap(kind: str) -> None:
    root = parse(MODEL_SETS[kind]())
    boxes = [rectangle(r) for r in root.iter(f"{SVG}rect") if r.get("class") == "box"]
    assert len(boxes) == len(tables_of(MODEL_SETS[kind]()))
    for i, (ax, ay, aw, ah) in enumerate(boxes):
        for bx, by, bw, bh in boxes[i + 1 :]:
            assert aw <= bx or bw <= ax or ah <= by or bh <= ay, "two boxes overlap"


@pytest.mark.parametrize("kind", MODEL_SETS)
def test_one_connector_per_foreign_key(kind: str) -> None:
    models = MODEL_SETS[kind]()
    root = parse(models)
    drawn = sorted(
        (g.get("data-child"), g.get("data-parent"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "link"
    )
    keys = sorted(
        (table.name, fk.referred_table.name)
        for table in tables_of(models)
        for fk in table.foreign_key_constraints
    )
    assert drawn == keys


def points(path: str) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in path.replace("M", "").split(" L")]  # type: ignore[misc]


@pytest.mark.parametrize("kind", MODEL_SETS)
def test_connectors_run_around_boxes_not_through_them(kind: str) -> None:
    root = parse(MODEL_SETS[kind]())
    width, height = float(root.get("width", 0)), float(root.get("height", 0))
    boxes = [rectangle(r) for r in root.iter(f"{SVG}rect") if r.get("class") == "box"]
    for link in (g for g in root.iter(f"{SVG}g") if g.get("class") == "link"):
        line = points(next(link.iter(f"{SVG}path")).get("d", ""))
        assert all(0 < x < width and 0 < y < height for x, y in line), "outside the picture"
        # every run, the stubs too: they only touch their own box's edge
        for (x1, y1), (x2, y2) in zip(line, line[1:]):
            for left, top, right, bottom in boxes:
                crosses_x = min(x1, x2) < right and max(x1, x2) > left
                crosses_y = min(y1, y2) < bottom and max(y1, y2) > top
                assert not (crosses_x and crosses_y), (link.get("data-child"), (x1, y1, x2, y2))


def test_the_same_models_give_the_same_picture() -> None:
    assert er_diagram(many_models(12)).svg == er_diagram(many_models(12)).svg


def test_a_cut_down_diagram_says_so() -> None:
    root = parse(many_models(33))
    assert "showing 30 of 33 tables; name the models to draw fewer" in texts(root)
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "box"]) == 30


def test_bundle_has_svg_mermaid_and_text_but_no_html_or_markdown() -> None:
    bundle = er_diagram(course_models())._repr_mimebundle_()
    assert set(bundle) == {SVG_MIME, "text/vnd.mermaid", "text/plain"}


def test_names_are_escaped_in_the_svg() -> None:
    class Base(DeclarativeBase):
        pass

    class Odd(Base):
        __tablename__ = "<script>"
        id: Mapped[int] = mapped_column('a&b"c', primary_key=True)

    class Other(Base):
        __tablename__ = "a<b>&'c"
        id: Mapped[int] = mapped_column("x<y", primary_key=True)
        odd_id: Mapped[int] = mapped_column("</text>", ForeignKey(Odd.__table__.c['a&b"c']))

    root = parse([Odd, Other])
    assert {"<script>", 'a&b"c', "a<b>&'c", "x<y", "</text>"} <= texts(root)
    assert not [e for e in root.iter() if e.tag.removeprefix(SVG) == "script"]
    tables = {g.get("data-table") for g in root.iter(f"{SVG}g") if g.get("class") == "table"}
    assert tables == {"<script>", "a<b>&'c"}


def test_a_long_name_is_cut_in_its_box_and_whole_in_its_title() -> None:
    root = parse(long_name_models())
    titles = [title for text in root.iter(f"{SVG}text") for title in text.iter(f"{SVG}title")]
    assert sorted(len(title.text or "") for title in titles) == [47, 216]  # column, table
    for title in titles:
        shown = title.tail or ""  # the text after the <title>: what the box shows
        assert shown.endswith("…") and (title.text or "").startswith(shown[:-1])
        assert len(shown) < 40


def test_characters_xml_forbids_do_not_break_the_svg() -> None:
    class Base(DeclarativeBase):
        pass

    class Odd(Base):
        __tablename__ = "tab\x01le"
        id: Mapped[int] = mapped_column("i\x0bd", primary_key=True)

    assert {"tab\ufffdle", "i\ufffdd"} <= texts(parse([Odd]))


def test_a_line_break_in_a_name_stays_inside_the_mermaid_comment() -> None:
    class Base(DeclarativeBase):
        pass

    class Parent(Base):
        __tablename__ = "parent"
        id: Mapped[int] = mapped_column('i"\nd', primary_key=True)

    class Child(Base):
        __tablename__ = "child"
        id: Mapped[int] = mapped_column(primary_key=True)
        parent_id: Mapped[int] = mapped_column(ForeignKey(Parent.__table__.c['i"\nd']))

    lines = er_diagram([Parent, Child]).mermaid.splitlines()
    assert '        INTEGER parent_id FK "references parent.i\' d; not null"' in lines


def test_a_foreign_key_to_a_table_not_defined_yet_draws_no_connector() -> None:
    class Base(DeclarativeBase):
        pass

    class Address(Base):
        __tablename__ = "addresses"
        id: Mapped[int] = mapped_column(primary_key=True)
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    root = parse([Address])
    assert {"addresses", "user_id"} <= texts(root)
    assert not [g for g in root.iter(f"{SVG}g") if g.get("class") == "link"]


def test_a_box_cut_down_to_its_first_columns_says_so() -> None:
    class Base(DeclarativeBase):
        pass

    columns: dict[str, Any] = {"__tablename__": "wide", "id": Column(Integer, primary_key=True)}
    columns.update({f"c{k:02d}": Column(Integer) for k in range(19)})
    shown = texts(parse([type("Wide", (Base,), columns)]))
    assert {"c12", "… 6 more columns", "1 table shows its first 14 columns only"} <= shown
    assert "c13" not in shown


def test_the_drawing_is_bounded_however_big_the_models() -> None:
    """40 tables of 61 columns, every name 100 characters and more: 30 boxes of 14
    rows, one note each for what was left out, and a bounded file."""

    class Base(DeclarativeBase):
        pass

    models = []
    for i in range(40):
        name = f"t{i:02d}_" + "x" * 200
        columns: dict[str, Any] = {"__tablename__": name, "id": Column(Integer, primary_key=True)}
        columns.update({f"c{j}_" + "y" * 100: Column(String(10)) for j in range(60)})
        if i:
            columns["p"] = Column(ForeignKey(f"t{(i - 1) // 3:02d}_" + "x" * 200 + ".id"))
        models.append(type(f"Big{i}", (Base,), columns))
    svg = er_diagram(models).svg
    root = ET.fromstring(svg)
    assert len(svg) < 200_000 and float(root.get("width", 0)) < 1600
    assert len(list(root.iter(f"{SVG}text"))) < 30 * 20 + 2
    assert "30 tables show their first 14 columns only" in texts(root)


# -- the Mermaid text ----------------------------------------------------------------
def test_the_course_models_read_as_this_mermaid() -> None:
    assert er_diagram(course_models()).mermaid.splitlines() == [
        "erDiagram",
        "    users {",
        "        INTEGER id PK",
        '        VARCHAR(50) name "not null"',
        "        VARCHAR fullname",
        "    }",
        "    addresses {",
        "        INTEGER id PK",
        '        VARCHAR email_address "not null"',
        '        INTEGER user_id FK "references users.id; not null"',
        "    }",
        "    accounts {",
        "        INTEGER id PK",
        '        VARCHAR owner "not null"',
        '        INTEGER balance "not null"',
        "    }",
        '    users ||..o{ addresses : "User.addresses / Address.user"',
    ]


def relationship_lines(models: list[type]) -> list[str]:
    return [line for line in er_diagram(models).mermaid.splitlines() if " : " in line]


def test_a_many_to_many_shows_its_association_table_and_one_line() -> None:
    lines = er_diagram(association_models()).mermaid.splitlines()
    assert '        INTEGER book_id PK, FK "references books.id"' in lines
    assert relationship_lines(association_models()) == ['    books }o--o{ tags : "Book.tags"']


def test_a_self_reference_is_many_to_an_optional_one() -> None:
    assert relationship_lines(self_reference_models()) == [
        '    employees }o..o| employees : "Employee.manager"'
    ]


def test_a_one_to_one_on_the_primary_key_is_an_identifying_line() -> None:
    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        profile: Mapped[Profile | None] = relationship(back_populates="user")

    class Profile(Base):
        __tablename__ = "profiles"
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
        user: Mapped[User] = relationship(back_populates="profile")

    assert relationship_lines([User, Profile]) == [
        '    users ||--o| profiles : "User.profile / Profile.user"'
    ]


def test_a_relationship_to_a_model_left_out_draws_no_line() -> None:
    _, address, _ = course_models()
    lines = er_diagram([address]).mermaid.splitlines()
    assert [line for line in lines if line.endswith("{")] == ["    addresses {"]
    assert relationship_lines([address]) == []


@pytest.mark.parametrize(
    "name, shown",
    [
        ("order items", "order_items"),
        ("2fa", "_2fa"),
        ("shop.orders", "shop_orders"),
        ("naïve", "na_ve"),
        ("a-b_c", "a-b_c"),
    ],
)
def test_a_name_becomes_a_mermaid_identifier(name: str, shown: str) -> None:
    assert mermaid_name(name) == shown


# -- types as the dialect's DDL writes them ------------------------------------------
def typed_table() -> Table:
    return Table(
        "prices",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),  # no SERIAL
        Column("label", String(50)),
        Column("amount", Numeric(10, 2)),
        Column("at", DateTime),
        Column("paid", Boolean),
        Column("note", Text),
    )


@pytest.mark.parametrize(
    "dialect",
    [None, sqlite.dialect(), postgresql.dialect(), mysql.dialect()],
    ids=["default", "sqlite", "postgresql", "mysql"],
)
def test_each_column_shows_the_type_its_create_table_shows(dialect) -> None:
    table = typed_table()
    ddl = str(CreateTable(table).compile(dialect=dialect))
    drawn = drawn_table(table, dialect).columns
    for column in drawn:
        assert f"\t{column.name} {column.type}" in ddl, (column, ddl)
    # the Mermaid text names the same type as one word: blanks and commas made '_'
    words = [c.type.replace(", ", "_").replace(" ", "_") for c in drawn]
    assert [type_name(c, dialect) for c in table.columns] == words


def test_a_numeric_type_is_one_mermaid_word() -> None:
    lines = entity_block(typed_table(), mysql.dialect())
    assert "        NUMERIC(10_2) amount" in lines
    assert "        DATETIME at" in lines and "        BOOL paid" in lines


def test_a_type_the_dialect_cannot_render_shows_its_class_name() -> None:
    table = Table("posts", MetaData(), Column("tags", ARRAY(Integer)), Column("name", String))
    assert [type_name(c, sqlite.dialect()) for c in table.columns] == ["ARRAY", "VARCHAR"]
    assert [type_name(c, mysql.dialect()) for c in table.columns] == ["ARRAY", "String"]
    assert [c.type for c in drawn_table(table, mysql.dialect()).columns] == ["ARRAY", "String"]


# -- the diagram as a value: its bundle and its files ----------------------------------
def test_the_bundle_holds_the_diagrams_own_texts() -> None:
    diagram = er_diagram(course_models())
    bundle = diagram._repr_mimebundle_()
    assert bundle[MERMAID_MIME] == bundle["text/plain"] == diagram.mermaid == repr(diagram)
    assert bundle[SVG_MIME] == diagram.svg and diagram.svg.startswith("<svg")


def test_a_diagram_is_saved_as_svg_or_mermaid_by_its_suffix() -> None:
    diagram = er_diagram(course_models())
    assert diagram.text_for(".SVG") == diagram.svg
    assert diagram.text_for(".mmd") == diagram.text_for(".mermaid") == diagram.mermaid + "\n"
    with pytest.raises(ValueError, match=r"^cannot save a diagram as '\.png'$"):
        diagram.text_for(".png")
    with pytest.raises(ValueError, match="^cannot save a diagram as 'a file without extension'$"):
        diagram.text_for("")
