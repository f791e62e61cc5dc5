"""orm_magic.core.reflect: a schema made with plain DDL, written as a ``%%model`` cell.

Without a shell: :func:`reflect_source` on a real engine, and the cell it
writes run on a fresh ``Base`` (as ``%%model`` runs it). The cell must map the
tables as they are (Alembic's ``compare_metadata`` finds no difference,
``create_all`` sends no DDL) and read the rows plain SQL reads.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, FetchedValue, Integer, MetaData, String, create_engine, text
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core.capture import StatementRecorder
from orm_magic.core.errors import WorkspaceError
from orm_magic.core.reflect import MAX_NOTES, available, reflect_source
from orm_magic.core.workspace import Workspace

from .echo import echo_log

#: sqlacodegen comes with the reflect extra, which .ci/run installs; the version
#: matrix does not (its oldest SQLAlchemy is below sqlacodegen's floor).
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sqlacodegen") is None,
    reason="needs the reflect extra (pip install 'orm_magic[reflect]')",
)

#: foreign keys, a composite key, an association table, a self-reference and
#: a table without a primary key
SHOP = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL,
    referred_by INTEGER REFERENCES customers(id));
CREATE TABLE products (sku VARCHAR(20) PRIMARY KEY, title VARCHAR(100) NOT NULL,
    price NUMERIC(10, 2));
CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(30) NOT NULL UNIQUE);
CREATE TABLE product_tags (sku VARCHAR(20) NOT NULL REFERENCES products(sku),
    tag_id INTEGER NOT NULL REFERENCES tags(id), PRIMARY KEY (sku, tag_id));
CREATE TABLE orders (id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id), placed DATE);
CREATE TABLE order_lines (order_id INTEGER NOT NULL REFERENCES orders(id),
    line_no INTEGER NOT NULL, sku VARCHAR(20) REFERENCES products(sku),
    qty INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (order_id, line_no));
CREATE TABLE audit_log (happened VARCHAR(30), message VARCHAR(200));
INSERT INTO customers (name, referred_by) VALUES ('ann', NULL);
INSERT INTO customers (name, referred_by) VALUES ('bob', 1);
INSERT INTO products (sku, title, price) VALUES ('tea', 'Green tea', 4.50);
INSERT INTO products (sku, title, price) VALUES ('pot', 'Tea pot', 21.00);
INSERT INTO tags (label) VALUES ('drink');
INSERT INTO tags (label) VALUES ('kitchen');
INSERT INTO product_tags (sku, tag_id) VALUES ('tea', 1);
INSERT INTO orders (customer_id, placed) VALUES (2, '2026-11-30');
INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (1, 1, 'tea', 3);
INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (1, 2, 'pot', 1);
INSERT INTO audit_log (happened, message) VALUES ('2026-11-30 10:00', 'order 1 placed');
"""
NO_KEY_NOTE = (
    "audit_log has no primary key: written as a Table, not a class (the ORM maps a class"
    " only to a table with a primary key; add one to the database to get a class)"
)


def execute(engine: Engine, script: str) -> None:
    with engine.begin() as conn:
        for statement in script.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    yield engine
    engine.dispose()


@pytest.fixture
def shop(engine: Engine) -> Engine:
    execute(engine, SHOP)
    return engine


def reflect(engine: Engine, *tables: str, **kwargs: Any):
    recorder = StatementRecorder(engine)
    try:
        return reflect_source(engine, recorder, tables, **kwargs)
    finally:
        recorder.close()


def run_cell(source: str) -> dict[str, Any]:
    """The cell run as %%model runs it: on a fresh ``Base``; its namespace after."""

    class Base(DeclarativeBase):
        pass

    assert source.startswith("%%model\n")
    namespace: dict[str, Any] = {"__name__": "reflected", "Base": Base}
    body = source.removeprefix("%%model\n")
    exec(compile(body, "<cell>", "exec", dont_inherit=True), namespace)
    return namespace


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(sql)]


def test_the_shop_becomes_classes_and_tables_with_a_note_for_the_keyless(shop) -> None:
    found = reflect(shop)
    assert found.classes == ["Customers", "Products", "Tags", "Orders", "OrderLines"]
    assert found.tables == ["audit_log", "product_tags"]
    assert found.notes == [NO_KEY_NOTE]
    assert "class Base" not in found.source and "DeclarativeBase" not in found.source
    # PEP 8's two blank lines after the imports
    assert (
        "relationship\n\n\nt_audit_log = Table(\n    'audit_log', Base.metadata," in found.source
    )


def test_the_cell_maps_the_tables_as_they_are_and_sends_no_ddl(shop) -> None:
    base = run_cell(reflect(shop).source)["Base"]
    with shop.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), base.metadata) == []
    with echo_log() as log:
        base.metadata.create_all(shop)  # what %%model does after a cell: nothing to create
    assert log.lines and not [line for line in log.lines if line.startswith("CREATE")]


def test_the_classes_read_the_rows_plain_sql_reads(shop) -> None:
    cell = run_cell(reflect(shop).source)
    customers, products = cell["Customers"], cell["Products"]
    with Session(shop) as session:
        found = session.query(customers).order_by(customers.id).all()
        assert [(c.id, c.name, c.referred_by) for c in found] == rows(
            shop, "SELECT id, name, referred_by FROM customers ORDER BY id"
        )
        assert found[1].customers is found[0] and found[0].customers_reverse == [found[1]]
        line = session.get(cell["OrderLines"], (1, 2))
        assert (line.qty, line.products.title, line.order.customer is found[1]) == (
            1,
            "Tea pot",
            True,
        )
        assert [tag.label for tag in session.get(products, "tea").tag] == ["drink"]
        audit = session.execute(cell["t_audit_log"].select()).all()
    assert [tuple(r) for r in audit] == rows(shop, "SELECT * FROM audit_log")


def test_new_objects_of_every_kind_are_written_by_plain_flushes(shop) -> None:
    cell = run_cell(reflect(shop).source)
    with Session(shop) as session:
        ann = session.get(cell["Customers"], 1)
        session.add_all(
            [cell["Customers"](name="cara", customers=ann), cell["Customers"](name="dan")]
        )
        pot = session.get(cell["Products"], "pot")
        pot.tag.append(session.get(cell["Tags"], 1))
        session.add(cell["OrderLines"](order_id=1, line_no=3, products=pot, qty=2))
        session.commit()
    assert rows(shop, "SELECT name, referred_by FROM customers WHERE id > 2 ORDER BY name") == [
        ("cara", 1),
        ("dan", None),
    ]
    assert rows(shop, "SELECT sku, tag_id FROM product_tags ORDER BY sku") == [
        ("pot", 1),
        ("tea", 1),
    ]
    assert rows(shop, "SELECT sku, qty FROM order_lines WHERE line_no = 3") == [("pot", 2)]


def test_a_rowid_key_is_marked_so_that_two_new_rows_flush_together(engine) -> None:
    """sqlacodegen alone maps SQLite's INTEGER PRIMARY KEY nullable with no default,
    and SQLAlchemy then refuses to INSERT two new rows in one flush."""
    from sqlacodegen.generators import DeclarativeGenerator

    execute(engine, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL)")
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        plain = run_cell("%%model\n" + DeclarativeGenerator(metadata, conn, []).generate())
    ours = run_cell(reflect(engine).source)
    with Session(engine) as session:
        session.add_all([plain["Customers"](name="a"), plain["Customers"](name="b")])
        with pytest.raises(InvalidRequestError, match="sentinel column with no default"):
            session.flush()
    with Session(engine) as session:
        new = [ours["Customers"](name="a"), ours["Customers"](name="b")]
        session.add_all(new)
        session.flush()
        assert [c.id for c in new] == [1, 2]


def test_only_a_single_integer_key_is_marked_as_filled_by_the_database(shop) -> None:
    cell = run_cell(reflect(shop).source)
    assert type(cell["Customers"].__table__.c.id.server_default) is FetchedValue
    assert cell["Products"].__table__.c.sku.server_default is None  # a VARCHAR key
    lines = cell["OrderLines"].__table__.c
    assert (lines.order_id.server_default, lines.line_no.server_default) == (None, None)


def test_named_tables_bring_what_they_refer_to(shop) -> None:
    found = reflect(shop, "orders")
    assert (found.classes, found.tables, found.notes) == (["Customers", "Orders"], [], [])
    assert "products" not in found.source and "audit_log" not in found.source


def test_an_unknown_table_names_the_tables_there_are(shop) -> None:
    with pytest.raises(WorkspaceError) as caught:
        reflect(shop, "orders", "nosuch")
    assert str(caught.value) == (
        "no table 'nosuch' in the database; its tables: audit_log, customers, order_lines,"
        " orders, product_tags, products, tags"
    )


def test_an_unknown_schema_or_an_empty_database_is_refused(engine) -> None:
    with pytest.raises(WorkspaceError, match=r"^the database has no tables to reflect$"):
        reflect(engine)
    with pytest.raises(
        WorkspaceError, match=r"^no schema 'nosuch' in the database; its schemas: main$"
    ):
        reflect(engine, schema="nosuch")


def test_notes_are_bounded(engine) -> None:
    execute(engine, ";".join(f"CREATE TABLE log{n:02} (at VARCHAR(30))" for n in range(25)))
    found = reflect(engine)
    assert len(found.tables) == 25 and len(found.notes) == MAX_NOTES + 1
    assert found.notes[0].startswith("log00 has no primary key")
    assert found.notes[-1] == f"… and {25 - MAX_NOTES} more"


def test_a_column_of_no_known_type_is_a_plain_column_that_passes_values(engine) -> None:
    execute(engine, "CREATE TABLE things (id INTEGER PRIMARY KEY, x)")  # SQLite: no type at all
    found = reflect(engine)
    assert found.notes == [
        "things.x: SQLAlchemy does not know its type; mapped as a plain Column of NullType:"
        " values pass as the driver gives them"
    ]
    assert "    x = Column('x', NullType)\n" in found.source
    things = run_cell(found.source)["Things"]
    with Session(engine) as session:
        session.add(things(x=b"\x00raw"))
        session.commit()
    assert rows(engine, "SELECT id, x FROM things") == [(1, b"\x00raw")]


def test_names_that_need_quoting_are_mapped(engine) -> None:
    execute(
        engine,
        """CREATE TABLE "order items" (id INTEGER PRIMARY KEY, "unit price" NUMERIC(8, 2));
        CREATE TABLE "select" (id INTEGER PRIMARY KEY, "from" VARCHAR(20),
            item_id INTEGER REFERENCES "order items"(id));
        INSERT INTO "order items" ("unit price") VALUES (1.5);
        INSERT INTO "select" ("from", item_id) VALUES ('here', 1)""",
    )
    cell = run_cell(reflect(engine).source)
    with Session(engine) as session:
        found = session.get(cell["Select"], 1)
        assert (found.from_, float(found.item.unit_price)) == ("here", 1.5)


def test_reading_the_schema_ends_no_transaction_and_is_not_logged() -> None:
    """In-memory SQLite is one connection: the session's flushed row shares it."""
    ws = Workspace("sqlite://")

    class Note(ws.Base):
        __tablename__ = "notes"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        body: Mapped[str] = mapped_column(String(20))

    ws.register([Note])
    ws.create_tables([Note])
    ws.add([Note(body="kept")])
    ws.flush()
    before = len(ws.recorder.log)
    found = reflect_source(ws.engine, ws.recorder, mapped={"notes": "Note"})
    assert len(ws.recorder.log) == before  # no statement logged, no BEGIN, COMMIT or ROLLBACK
    assert found.notes == ["notes is mapped already by Note; running the cell replaces that model"]
    assert ws.session.in_transaction()
    ws.rollback()
    with ws.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM notes")).scalar() == 0
    ws.close()


def test_without_sqlacodegen_the_error_says_how_to_install(shop, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sqlacodegen", None)  # as if it were not installed
    assert not available()
    with pytest.raises(WorkspaceError) as caught:
        reflect(shop)
    assert str(caught.value) == "sqlacodegen is not installed; pip install 'orm_magic[reflect]'"


@pytest.mark.postgres
def test_on_postgresql_a_type_it_warns_of_is_named_and_a_schema_is_read_alone(pg_url) -> None:
    engine = create_engine(pg_url)
    try:
        execute(
            engine,
            """CREATE TABLE places (id SERIAL PRIMARY KEY, spot point);
            CREATE SCHEMA sales; CREATE TABLE sales.deals (id SERIAL PRIMARY KEY, amount INT)""",
        )
        assert reflect(engine).notes == [
            "places.spot: SQLAlchemy does not know its type (point); mapped as a plain Column"
            " of NullType: values pass as the driver gives them"
        ]
        sales = reflect(engine, schema="sales")
        assert (sales.classes, sales.tables) == (["Deals"], [])
        assert "{'schema': 'sales'}" in sales.source
        deals = run_cell(sales.source)["Deals"]
        with Session(engine) as session:
            session.add(deals(amount=5))
            session.commit()
        assert rows(engine, "SELECT amount FROM sales.deals") == [(5,)]
    finally:
        execute(engine, "DROP SCHEMA IF EXISTS sales CASCADE")
        engine.dispose()
