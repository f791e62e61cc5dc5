"""``%orm_reflect``: a schema made with plain DDL, reflected into a ``%%model`` cell and run.

On in-memory SQLite, PostgreSQL and MariaDB (the ``ip`` fixture). The cell must
map every table without DDL, read back exactly the rows plain SQL reads, and
take new objects through ``%orm_add`` and ``%orm_commit``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import text

from .helpers import log_sql, run

#: sqlacodegen comes with the reflect extra, which .ci/run installs; the version
#: matrix does not (its oldest SQLAlchemy is below sqlacodegen's floor).
needs_sqlacodegen = pytest.mark.skipif(
    importlib.util.find_spec("sqlacodegen") is None,
    reason="needs the reflect extra (pip install 'orm_magic[reflect]')",
)

KEY = {
    "sqlite": "INTEGER PRIMARY KEY",
    "postgresql": "SERIAL PRIMARY KEY",
    "mysql": "INTEGER AUTO_INCREMENT PRIMARY KEY",
}

#: foreign keys, a composite key, an association table, a self-reference and
#: a table without a primary key
SHOP_DDL = """
CREATE TABLE customers (id {key}, name VARCHAR(50) NOT NULL,
    referred_by INTEGER REFERENCES customers(id));
CREATE TABLE products (sku VARCHAR(20) PRIMARY KEY, title VARCHAR(100) NOT NULL,
    price NUMERIC(10, 2));
CREATE TABLE tags (id {key}, label VARCHAR(30) NOT NULL UNIQUE);
CREATE TABLE product_tags (sku VARCHAR(20) NOT NULL REFERENCES products(sku),
    tag_id INTEGER NOT NULL REFERENCES tags(id), PRIMARY KEY (sku, tag_id));
CREATE TABLE orders (id {key}, customer_id INTEGER NOT NULL REFERENCES customers(id),
    placed DATE);
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
INSERT INTO product_tags (sku, tag_id) VALUES ('pot', 2);
INSERT INTO orders (customer_id, placed) VALUES (2, '2026-11-30');
INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (1, 1, 'tea', 3);
INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (1, 2, 'pot', 1);
INSERT INTO audit_log (happened, message) VALUES ('2026-11-30 10:00', 'order 1 placed');
"""
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TABLES = ("order_lines", "product_tags", "orders", "tags", "products", "customers", "audit_log")
DDL_WORDS = re.compile(r"^\s*(CREATE|ALTER|DROP)\b", re.I)


@pytest.fixture
def shop(ip):
    """The shop made with plain DDL through the workspace's engine; dropped after."""
    engine = ip.user_ns["engine"]
    with engine.begin() as conn:
        for statement in SHOP_DDL.format(key=KEY[engine.dialect.name]).split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    yield ip
    ip.user_ns["session"].rollback()
    with ip.user_ns["engine"].begin() as conn:
        for table in TABLES:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")


def plain_rows(ip, sql: str) -> list[tuple]:
    with ip.user_ns["engine"].connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


@needs_sqlacodegen
def test_the_reflected_cell_maps_the_shop_without_ddl(shop) -> None:
    ip = shop
    ran = run(ip, "source = %orm_reflect")
    source = ip.user_ns["source"]
    assert isinstance(source, str) and source.startswith("%%model\n")
    assert ip.rl_next_input == source  # the new cell below, or the next prompt
    summary, note = ran.stdout.splitlines()
    assert summary == (
        "-- %orm_reflect: a %%model cell of 5 classes and 2 tables (Customers, Products, Tags,"
        " Orders, OrderLines, audit_log, product_tags); run it to map them"
    )
    assert "class Base" not in source and "DeclarativeBase" not in source
    assert "Mapped[" in source and "mapped_column(" in source
    assert "t_product_tags = Table(" in source and "secondary='product_tags'" in source
    # one line for the table it cannot map as a class
    assert note.startswith("-- audit_log has no primary key: written as a Table, not a class")

    before = len(log_sql(ip))
    run(ip, source)
    emitted = log_sql(ip)[before:]
    assert emitted and not [sql for sql in emitted if DDL_WORDS.match(sql)]

    customers = plain_rows(ip, "SELECT id, name, referred_by FROM customers ORDER BY id")
    run(ip, "found = session.scalars(select(Customers).order_by(Customers.id)).all()")
    found = ip.user_ns["found"]
    assert [(c.id, c.name, c.referred_by) for c in found] == customers
    assert found[1].customers is found[0]  # the self-reference, both ways
    assert found[0].customers_reverse == [found[1]]
    lines = plain_rows(ip, "SELECT order_id, line_no, sku, qty FROM order_lines ORDER BY line_no")
    run(ip, "line = session.get(OrderLines, (1, 2)); order = session.get(Orders, 1)")
    assert [(x.order_id, x.line_no, x.sku, x.qty) for x in ip.user_ns["order"].order_lines] == (
        lines
    )
    assert ip.user_ns["line"].products.title == "Tea pot"
    run(ip, "tea = session.get(Products, 'tea')")
    assert [tag.label for tag in ip.user_ns["tea"].tag] == ["drink"]
    run(ip, "audit = session.execute(select(t_audit_log)).all()")
    assert [tuple(r) for r in ip.user_ns["audit"]] == plain_rows(ip, "SELECT * FROM audit_log")

    # two new rows of one table: one INSERT of several rows where the database allows it
    run(ip, "cara = Customers(name='cara', customers=found[0])")
    run(ip, "%orm_add [cara, Customers(name='dan')]")
    run(ip, "extra = OrderLines(order=order, line_no=3, products=tea, qty=2)\n%orm_add extra")
    run(ip, "tea.tag.append(session.get(Tags, 2))\n%orm_commit")
    assert plain_rows(
        ip, "SELECT name, referred_by FROM customers WHERE id > 2 ORDER BY name"
    ) == [
        ("cara", 1),
        ("dan", None),
    ]
    assert plain_rows(ip, "SELECT sku, qty FROM order_lines WHERE line_no = 3") == [("tea", 2)]
    assert plain_rows(ip, "SELECT tag_id FROM product_tags WHERE sku = 'tea' ORDER BY 1") == [
        (1,),
        (2,),
    ]


@needs_sqlacodegen
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_named_tables_bring_what_they_refer_to(shop) -> None:
    shop.rl_next_input = None
    run(shop, "source = %orm_reflect orders --no-cell")
    source = shop.user_ns["source"]
    assert shop.rl_next_input is None
    assert "class Orders(Base)" in source and "class Customers(Base)" in source
    assert "class Products" not in source and "audit_log" not in source


@needs_sqlacodegen
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_unknown_table_or_schema_is_one_line(shop) -> None:
    ran = run(shop, "%orm_reflect nosuch", ok=False)
    message = str(ran.result.error_in_exec)
    assert message.startswith("%orm_reflect: no table 'nosuch' in the database; its tables:")
    assert "customers" in message and "\n" not in message
    ran = run(shop, "%orm_reflect --schema nosuch", ok=False)
    assert str(ran.result.error_in_exec).startswith("%orm_reflect: no schema 'nosuch'")


@needs_sqlacodegen
def test_names_that_need_quoting_and_no_password_shown(ip) -> None:
    """A space, a reserved word and mixed case in names; the URL's password is in no output."""
    engine = ip.user_ns["engine"]
    quote, key = engine.dialect.identifier_preparer.quote, KEY[engine.dialect.name]
    ran = run(ip, "%orm_reflect", ok=False)
    assert str(ran.result.error_in_exec) == "%orm_reflect: the database has no tables to reflect"
    items, chosen, mixed = quote("order items"), quote("select"), quote("MixedCase")
    ddl = [
        f"CREATE TABLE {items} (id {key}, {quote('unit price')} NUMERIC(8, 2))",
        f"CREATE TABLE {chosen} (id {key}, {quote('from')} VARCHAR(20),"
        f" item_id INTEGER REFERENCES {items}(id))",
        f"CREATE TABLE {mixed} (id {key}, {quote('CamelCol')} VARCHAR(20))",
        f"INSERT INTO {items} ({quote('unit price')}) VALUES (1.5)",
        f"INSERT INTO {chosen} ({quote('from')}, item_id) VALUES ('here', 1)",
    ]
    with engine.begin() as conn:
        for statement in ddl:
            conn.exec_driver_sql(statement)
    try:
        ran = run(ip, "source = %orm_reflect 'order items' select \"MixedCase\" --no-cell")
        outputs = [ran.stdout, ran.text, ip.user_ns["source"]]
        before = len(log_sql(ip))
        outputs.append(run(ip, ip.user_ns["source"]).stdout)
        assert not [sql for sql in log_sql(ip)[before:] if DDL_WORDS.match(sql)]
        run(ip, "chosen = session.get(Select, 1); mixed = MixedCase(CamelCol='Hi')")
        found = ip.user_ns["chosen"]
        assert (found.from_, float(found.item.unit_price)) == ("here", 1.5)
        outputs.append(run(ip, "%orm_add mixed\n%orm_commit").text)
        assert plain_rows(ip, f"SELECT {quote('CamelCol')} FROM {mixed}") == [("Hi",)]
        password = engine.url.password
        assert not password or not [text for text in outputs if password in text]
    finally:
        ip.user_ns["session"].rollback()
        with engine.begin() as conn:
            for table in (chosen, items, mixed):
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")


@needs_sqlacodegen
def test_reflecting_ends_no_transaction(ip) -> None:
    """The schema is read as a guest: flushed work in the session's transaction stays."""
    columns = "id = Column(Integer, primary_key=True); body = Column(String(20))"
    run(ip, f"%%model\nclass Note(Base):\n    __tablename__ = 'notes'\n    {columns}")
    run(ip, "%orm_add Note(body='kept') --flush")
    before = len(log_sql(ip))
    ran = run(ip, "%orm_reflect")
    assert log_sql(ip)[before:] == []  # no statement logged, no BEGIN, COMMIT or ROLLBACK
    assert "notes is mapped already by Note" in ran.stdout
    assert ip.user_ns["session"].in_transaction()
    run(ip, "%orm_rollback")
    assert plain_rows(ip, "SELECT count(*) FROM notes") == [(0,)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_without_sqlacodegen_one_line_says_how_to_install(ip, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sqlacodegen", None)  # as if it were not installed
    ran = run(ip, "%orm_reflect", ok=False)
    assert str(ran.result.error_in_exec) == (
        "%orm_reflect: sqlacodegen is not installed; pip install 'orm_magic[reflect]'"
    )


@needs_sqlacodegen
@pytest.mark.postgres
def test_an_unknown_type_is_one_line_and_the_rest_is_mapped(shell, pg_url, monkeypatch) -> None:
    monkeypatch.setenv("ORM_MAGIC_URL", pg_url)
    shell.reset(new_session=False)
    shell.run_line_magic("load_ext", "orm_magic")
    try:
        with shell.user_ns["engine"].begin() as conn:
            conn.exec_driver_sql("CREATE TABLE places (id SERIAL PRIMARY KEY, spot point)")
            conn.exec_driver_sql("INSERT INTO places (spot) VALUES ('(1,2)')")
        ran = run(shell, "source = %orm_reflect")
        assert ran.stdout.splitlines()[1:] == [
            "-- places.spot: SQLAlchemy does not know its type (point); mapped as a plain Column"
            " of NullType: values pass as the driver gives them"
        ]
        before = len(log_sql(shell))
        run(shell, shell.user_ns["source"])
        assert not [sql for sql in log_sql(shell)[before:] if DDL_WORDS.match(sql)]
        run(shell, "place = session.get(Places, 1)")
        assert "spot = Column('spot', NullType)" in shell.user_ns["source"]
        assert shell.user_ns["place"].spot == "(1,2)"
        run(shell, "%orm_add Places(spot='(3,4)')\n%orm_commit")
        with shell.user_ns["engine"].connect() as conn:
            spots = conn.exec_driver_sql("SELECT spot[0] FROM places ORDER BY id").all()
        assert [tuple(row) for row in spots] == [(1.0,), (3.0,)]
        with shell.user_ns["engine"].begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA sales")
            conn.exec_driver_sql("CREATE TABLE sales.deals (id SERIAL PRIMARY KEY, amount INT)")
        run(shell, "sales = %orm_reflect --schema sales --no-cell")
        assert "class Deals(Base)" in shell.user_ns["sales"]
        assert "{'schema': 'sales'}" in shell.user_ns["sales"]
        assert "Places" not in shell.user_ns["sales"]
        before = len(log_sql(shell))
        run(shell, shell.user_ns["sales"])  # a schema's tables map without DDL too
        assert not [sql for sql in log_sql(shell)[before:] if DDL_WORDS.match(sql)]
        run(shell, "%orm_add Deals(amount=5)\n%orm_commit")
        with shell.user_ns["engine"].connect() as conn:
            amounts = conn.exec_driver_sql("SELECT amount FROM sales.deals").scalars().all()
        assert amounts == [5]
    finally:
        with shell.user_ns["engine"].begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS sales CASCADE")
        shell.run_line_magic("unload_ext", "orm_magic")
        shell.reset(new_session=False)


@needs_sqlacodegen
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_course_notebook_keeps_the_cell_orm_reflect_writes(ip) -> None:
    """Notebook 5 saves the generated cell: it must be what %orm_reflect writes today."""
    notebook = nbformat.read(NOTEBOOKS / "05_exploring_an_existing_database.ipynb", as_version=4)
    cells = {cell.get("id"): cell.source for cell in notebook.cells}
    run(ip, cells["make-shop"])
    run(ip, "source = %orm_reflect --no-cell")
    assert ip.user_ns["source"].rstrip("\n") == cells["reflected-models"]
