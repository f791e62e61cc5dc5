"""The course notebooks, executed in a real Jupyter kernel (nbclient + ipykernel).

Every notebook under ``notebooks/`` runs top to bottom in a fresh kernel, as a
classroom would run it. Each code cell has an :class:`Expect` here, keyed by the
cell's id: the SQL it must show (in ``text/plain`` and in ``text/html``), the
table rows, its result. A cell may raise only when tagged ``raises-exception``.

``python tests/test_notebooks.py [NAME ...]`` re-executes the notebooks and
saves them with their fresh outputs, for when the outputs change on purpose.
"""

from __future__ import annotations

import copy
import functools
import html
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbclient
import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

pytestmark = pytest.mark.notebooks

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
RAISES = "raises-exception"
#: Seconds a single cell may take; the notebooks run in a few seconds.
CELL_TIMEOUT = 60


@dataclass(frozen=True)
class Expect:
    """What one cell's outputs must contain."""

    #: statements, in the order emitted; each is the start of its statement text
    sql: tuple[str, ...] = ()
    #: the cell emits no SQL at all
    no_sql: bool = False
    #: how many times a piece of SQL appears among the cell's statements
    sql_counts: dict[str, int] = field(default_factory=dict)
    #: SQL that must not appear
    sql_absent: tuple[str, ...] = ()
    #: other text (notes, parameters) that both text/plain and text/html show
    shows: tuple[str, ...] = ()
    #: table name -> every row shown, as the display prints the values
    tables: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    #: the Out[] value, as text/plain
    result: str | None = None
    stdout: str | None = None
    #: the one-line error of a cell tagged raises-exception
    error: str | None = None

    def __post_init__(self) -> None:
        checks = (self.sql, self.no_sql, self.shows, self.tables, self.result, self.stdout)
        assert any(c not in ((), False, {}, None) for c in checks), "an Expect checks nothing"


#: The shop of notebook 5: each order's customer_id, date and id, and the report
#: its loops print (order, date, customer, items).
SHOP_ORDERS = [
    ("1", "2026-11-02", "1"),
    ("2", "2026-11-03", "2"),
    ("1", "2026-11-09", "3"),
    ("3", "2026-11-12", "4"),
    ("2", "2026-11-20", "5"),
    ("1", "2026-11-28", "6"),
]
SHOP_REPORT = (
    "1 2026-11-02 Ann 3\n2 2026-11-03 Bob 1\n3 2026-11-09 Ann 5\n4 2026-11-12 Cara 4\n"
    "5 2026-11-20 Bob 2\n6 2026-11-28 Ann 2\n"
)

#: notebook 04's models.py, as %orm_export writes it
MODELS_PY = '''"""The models of a notebook: its %%model cells in the order they ran, each in
its latest version. Written by orm_magic's %orm_export; exporting again rewrites this file.
"""

from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


# -- %%model cell 1
class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]

'''


EXPECTED: dict[str, dict[str, Expect]] = {
    "01_first_session.ipynb": {
        "load-ext": Expect(no_sql=True),
        "model-user": Expect(
            sql=(
                "BEGIN (implicit)",
                'PRAGMA main.table_info("users")',
                "CREATE TABLE users (",
                "COMMIT",
            ),
            tables={"users": []},
        ),
        "create-ed-user": Expect(no_sql=True, stdout="ed\nedsnickname\nNone\n"),
        "state-transient": Expect(
            no_sql=True, shows=("User: transient", "none (not yet flushed)")
        ),
        "add-ed-user": Expect(
            no_sql=True,
            shows=("pending", "1 new"),  # the table shows the row the flush will write
            tables={"users": [("ed", "Ed Jones", "edsnickname")]},
        ),
        "change-nickname": Expect(no_sql=True),
        "merge-ed-user": Expect(
            sql=(
                "BEGIN (implicit)",
                "INSERT INTO users (name, fullname, nickname) VALUES (?, ?, ?)",
            ),
            shows=("('ed', 'Ed Jones', 'eddie')", "persistent"),
            tables={"users": [("1", "ed", "Ed Jones", "eddie")]},
            result="<User(name='ed', fullname='Ed Jones', nickname='eddie')>",
        ),
        "state-persistent": Expect(no_sql=True, shows=("User(id=1): persistent", "(1,))")),
        "identity-map": Expect(no_sql=True, result="True"),
        "session-identity-map": Expect(
            no_sql=True,
            shows=("a transaction is open", "identity map", "1 object", "(1,)", "persistent"),
        ),
        "query-ed-user": Expect(
            sql=(
                "SELECT users.id, users.name, users.fullname, users.nickname \nFROM users \n"
                "WHERE users.name = ?",
            ),
            sql_absent=("BEGIN",),  # the INSERT's transaction is still open
            result="True",
        ),
        "delete-ed-user": Expect(
            no_sql=True,
            shows=("marked for deletion", "1 deleted"),
            tables={"users": [("1", "ed", "Ed Jones", "eddie")]},
        ),
        "commit": Expect(
            sql=("DELETE FROM users WHERE users.id = ?", "COMMIT"),
            shows=("(1,)",),
            tables={"users": []},
        ),
        "ed-user-detached": Expect(no_sql=True, result="True"),
        "state-detached": Expect(no_sql=True, shows=("User(id=1): detached", "session: none")),
    },
    "02_relationships_and_queries.ipynb": {
        "load-ext": Expect(no_sql=True),
        "model-user": Expect(sql=("CREATE TABLE users (",), tables={"users": []}),
        "model-address": Expect(
            sql=("CREATE TABLE addresses (", "FOREIGN KEY(user_id) REFERENCES users (id)"),
            tables={"addresses": []},
        ),
        "diagram": Expect(no_sql=True),
        "create-jack": Expect(no_sql=True),
        "add-addresses": Expect(
            no_sql=True,
            shows=("3 objects pending", "2 new"),
            tables={"addresses": [("jack@google.com",), ("j25@yahoo.com",)]},
        ),
        "flush-jack": Expect(
            # only the addresses were added, yet the users row goes first
            sql=(
                "BEGIN (implicit)",
                "INSERT INTO users (name, fullname)",
                "INSERT INTO addresses (email_address, user_id)",
            ),
            shows=("jack@google.com", "j25@yahoo.com"),
            tables={
                "users": [("1", "jack", "Jack Bean")],
                "addresses": [("1", "jack@google.com", "1"), ("2", "j25@yahoo.com", "1")],
            },
        ),
        "create-ed-wendy": Expect(no_sql=True),
        "add-ed-wendy": Expect(
            no_sql=True,
            shows=("3 objects pending", "2 new"),
            tables={
                "users": [
                    ("1", "jack", "Jack Bean"),
                    ("ed", "Ed Jones"),
                    ("wendy", "Wendy Williams"),
                ]
            },
        ),
        "commit": Expect(
            sql=("INSERT INTO users (name, fullname)", "INSERT INTO addresses", "COMMIT"),
            tables={
                "users": [
                    ("1", "jack", "Jack Bean"),
                    ("2", "ed", "Ed Jones"),
                    ("3", "wendy", "Wendy Williams"),
                ],
                "addresses": [
                    ("1", "jack@google.com", "1"),
                    ("2", "j25@yahoo.com", "1"),
                    ("3", "ed@google.com", "2"),
                ],
            },
        ),
        "select-filter": Expect(
            sql=(
                "BEGIN (implicit)",
                "SELECT users.id, users.name, users.fullname \nFROM users \nWHERE users.name = ?",
            ),
            tables={"User": [("2", "ed", "Ed Jones")]},
            result="[User('ed')]",
        ),
        "select-join": Expect(
            sql=(
                "SELECT users.name, addresses.email_address \nFROM users "
                "JOIN addresses ON users.id = addresses.user_id \n"
                "WHERE addresses.email_address LIKE ? ORDER BY users.name",
            ),
            shows=("('%@google.com',)",),
            tables={"rows": [("ed", "ed@google.com"), ("jack", "jack@google.com")]},
            result="[('ed', 'ed@google.com'), ('jack', 'jack@google.com')]",
        ),
        "nplusone-threshold": Expect(no_sql=True),
        "lazy-load": Expect(
            sql=(
                "SELECT users.id, users.name, users.fullname \nFROM users ORDER BY users.id",
                "WHERE ? = addresses.user_id",
            ),
            sql_counts={"WHERE ? = addresses.user_id": 3, "SELECT": 4},
            shows=("N+1: the same SELECT ran 3 times", "selectinload(User.addresses)"),
            stdout="jack ['jack@google.com', 'j25@yahoo.com']\ned ['ed@google.com']\nwendy []\n",
        ),
        "selectinload": Expect(
            sql=("FROM users ORDER BY users.id", "WHERE addresses.user_id IN (?, ?, ?)"),
            sql_counts={"SELECT": 2},
            sql_absent=("WHERE ? = addresses.user_id",),
            stdout="jack ['jack@google.com', 'j25@yahoo.com']\ned ['ed@google.com']\nwendy []\n",
        ),
    },
    "03_transactions.ipynb": {
        "load-ext": Expect(no_sql=True),
        "model-account": Expect(sql=("CREATE TABLE accounts (",), tables={"accounts": []}),
        "create-accounts": Expect(no_sql=True),
        "add-accounts": Expect(
            no_sql=True,
            shows=("2 objects pending",),
            tables={"accounts": [("new", "1", "ann", "100"), ("new", "2", "bob", "50")]},
        ),
        "commit-accounts": Expect(
            sql=(
                "BEGIN (implicit)",
                "INSERT INTO accounts (id, owner, balance) VALUES (?, ?, ?)",
                "COMMIT",
            ),
            shows=("[(1, 'ann', 100), (2, 'bob', 50)]",),
            tables={"accounts": [("1", "ann", "100"), ("2", "bob", "50")]},
        ),
        "session-after-commit": Expect(
            no_sql=True, shows=("no transaction open", "2 objects", "(2,)")
        ),
        "refresh-after-commit": Expect(
            sql=(
                "BEGIN (implicit)",
                "SELECT accounts.id, accounts.owner, accounts.balance",
                "SELECT accounts.id, accounts.owner, accounts.balance",
            ),
            sql_counts={"WHERE accounts.id = ?": 2},
            result="(100, 50)",
        ),
        "transfer": Expect(no_sql=True),
        "flush-transfer": Expect(
            sql=("UPDATE accounts SET balance=? WHERE accounts.id = ?",),
            shows=("[(70, 1), (80, 2)]",),
            tables={"accounts": [("1", "ann", "70"), ("2", "bob", "80")]},
        ),
        "session-after-flush": Expect(no_sql=True, shows=("a transaction is open",)),
        "rollback-transfer": Expect(sql=("ROLLBACK",), sql_absent=("COMMIT",)),
        "session-after-rollback": Expect(no_sql=True, shows=("no transaction open",)),
        "after-rollback": Expect(
            sql=("BEGIN (implicit)", "SELECT accounts.id"), result="(100, 50)"
        ),
        "create-carl-eve": Expect(no_sql=True),
        "add-carl-eve": Expect(
            no_sql=True,
            shows=("2 objects pending",),
            tables={
                "accounts": [
                    ("1", "ann", "100"),
                    ("2", "bob", "50"),
                    ("new", "3", "carl", "10"),
                    ("new", "1", "eve", "1000000"),
                ]
            },
        ),
        "flush-duplicate": Expect(
            sql=("INSERT INTO accounts (id, owner, balance) VALUES (?, ?, ?)", "ROLLBACK"),
            shows=("(1, 'eve', 1000000)",),
            tables={"accounts": [("1", "ann", "100"), ("2", "bob", "50")]},
            error="UNIQUE constraint failed: accounts.id",
        ),
        "after-failure": Expect(
            no_sql=True, tables={"accounts": [("1", "ann", "100"), ("2", "bob", "50")]}
        ),
        "discarded": Expect(no_sql=True, result="(False, False)"),
        "savepoint": Expect(
            sql=(
                "INSERT INTO accounts (id, owner, balance) VALUES (?, ?, ?)",
                "SAVEPOINT sa_savepoint_1",
                "INSERT INTO accounts",
                "ROLLBACK TO SAVEPOINT sa_savepoint_1",
            ),
            sql_absent=("COMMIT", "RELEASE SAVEPOINT"),
            shows=("(3, 'carl', 10)", "a transaction is open with a SAVEPOINT", "pending"),
            stdout="rolled back to the savepoint: UNIQUE constraint failed: accounts.id\n",
            tables={"accounts": [("1", "ann", "100"), ("2", "bob", "50"), ("3", "carl", "10")]},
        ),
        "commit-carl": Expect(sql=("COMMIT",), sql_absent=("INSERT",)),
    },
    "04_from_notebook_to_project.ipynb": {
        "load-ext": Expect(no_sql=True),
        "model-book": Expect(
            sql=("BEGIN (implicit)", 'PRAGMA main.table_info("books")', "CREATE TABLE books ("),
            tables={"books": []},
        ),
        "add-books": Expect(
            no_sql=True,
            shows=("2 objects pending",),
            tables={"books": [("new", "NULL", "Dune"), ("new", "NULL", "Emma")]},
        ),
        "commit-books": Expect(
            sql=("BEGIN (implicit)", "INSERT INTO books (title) VALUES (?)", "COMMIT"),
            tables={"books": [("1", "Dune"), ("2", "Emma")]},
        ),
        "project-dir": Expect(no_sql=True),
        "export-first": Expect(
            no_sql=True,
            shows=(
                "_create_books.py",
                "op.create_table('books',",
                "sa.PrimaryKeyConstraint('id')",
            ),
        ),
        "models-py": Expect(no_sql=True, stdout=MODELS_PY),
        # the live table is migrated by Alembic, in batch mode on SQLite, its rows kept
        "model-book-isbn": Expect(
            sql=("BEGIN (implicit)", "ALTER TABLE books ADD COLUMN isbn VARCHAR", "COMMIT"),
            sql_absent=("DROP", "CREATE TABLE"),
            shows=(
                "with op.batch_alter_table('books', schema=None) as batch_op:",
                "batch_op.add_column(sa.Column('isbn', sa.String(), nullable=True))",
                "table books changed: 2 rows kept",
            ),
            tables={"books": [("1", "Dune", "NULL"), ("2", "Emma", "NULL")]},
        ),
        "query-books": Expect(
            sql=("SELECT books.title, books.isbn",), result="[('Dune', None), ('Emma', None)]"
        ),
        "export-second": Expect(
            no_sql=True,
            shows=("_add_books_isbn.py", "batch_op.add_column(sa.Column('isbn', sa.String()"),
        ),
        "alembic-upgrade": Expect(
            no_sql=True,
            stdout="applied: ['create books', 'add books.isbn']\n"
            "columns of books: ['id', 'title', 'isbn']\n",
        ),
    },
    "05_exploring_an_existing_database.ipynb": {
        "load-ext": Expect(no_sql=True),
        "make-shop": Expect(
            sql=(
                "BEGIN (implicit)",
                "DROP TABLE IF EXISTS product_tags",
                "CREATE TABLE customers (",
                "INSERT INTO order_lines (order_id, product_id, quantity) VALUES",
                "COMMIT",
            )
        ),
        "reflect": Expect(
            no_sql=True,
            stdout="-- %orm_reflect: a %%model cell of 5 classes and 1 table (Customers, Products,"
            " Tags, Orders, OrderLines, product_tags); run it to map them\n",
            result="<%%model cell source: 66 lines>",
        ),
        "reflected-models": Expect(
            # the tables exist and match: checked, and nothing created or changed
            sql=("BEGIN (implicit)", 'PRAGMA main.table_info("customers")', "COMMIT"),
            sql_absent=("CREATE", "ALTER", "DROP"),
            tables={
                "customers": [
                    ("Ann", "1", "ann@example.com"),
                    ("Bob", "2", "bob@example.com"),
                    ("Cara", "3", "NULL"),
                ],
                "product_tags": [("1", "1"), ("2", "2"), ("3", "2")],
            },
        ),
        "diagram": Expect(no_sql=True),
        "query-orders": Expect(
            sql=("SELECT orders.customer_id, orders.placed, orders.id \nFROM orders ORDER BY",),
            tables={"Orders": SHOP_ORDERS},
        ),
        "lazy-load": Expect(
            sql_counts={"WHERE ? = order_lines.order_id": 6, "WHERE customers.id = ?": 3},
            shows=("N+1: the same SELECT ran 6 times", "selectinload(Orders.order_lines)"),
            stdout=SHOP_REPORT,
        ),
        "selectinload": Expect(
            sql=(
                "JOIN customers",
                "ORDER BY orders.id",
                "WHERE order_lines.order_id IN (?, ?, ?, ?, ?, ?)",
            ),
            sql_counts={"SELECT": 2},
            sql_absent=("WHERE ? = order_lines.order_id",),
            stdout=SHOP_REPORT,
        ),
        "new-products": Expect(no_sql=True),
        "load-products": Expect(
            sql=("INSERT INTO products (name, price) VALUES (?, ?) RETURNING id",),
            sql_counts={"INSERT INTO products": 3},
            shows=("3 Products objects from a DataFrame: flushed", "('Oolong tea', None)"),
            tables={
                "products": [
                    ("Green tea", "1", "4.50"),
                    ("Tea pot", "2", "21.00"),
                    ("Mug", "3", "6.00"),
                    ("Teaspoon", "4", "1.50"),
                    ("Kettle", "5", "35.00"),
                    ("Oolong tea", "6", "NULL"),
                ]
            },
        ),
        "load-mistake": Expect(
            no_sql=True,
            error="%orm_load: row 1, column 'price': 'a lot' is not a number"
            " (products.price is NUMERIC(8, 2))",
        ),
        "commit": Expect(sql=("COMMIT",), sql_absent=("INSERT",)),
    },
    "06_two_sessions.ipynb": {
        "load-ext": Expect(no_sql=True),
        "reset": Expect(no_sql=True, shows=("a fresh database, Base and session",)),
        "model-account": Expect(sql=("CREATE TABLE accounts (",), tables={"accounts": []}),
        "add-ann": Expect(
            sql=("BEGIN (implicit)", "INSERT INTO accounts", "COMMIT"),
            sql_absent=("[main]",),  # one session: no labels yet
            tables={"accounts": [("1", "ann", "100")]},
        ),
        "use-b": Expect(no_sql=True, shows=("session 'b' is current", "temporary file")),
        "b-adds-bob": Expect(
            sql=("[b] BEGIN (implicit)", "[b] INSERT INTO accounts"),
            tables={"accounts": [("1", "ann", "100"), ("2", "bob", "50")]},
        ),
        "main-does-not-see-bob": Expect(no_sql=True, tables={"accounts": [("1", "ann", "100")]}),
        "list-sessions": Expect(no_sql=True, shows=("→ main", "active")),
        "b-commits": Expect(sql=("[b] COMMIT",)),
        "main-sees-bob": Expect(
            no_sql=True, tables={"accounts": [("1", "ann", "100"), ("2", "bob", "50")]}
        ),
        "both-read": Expect(
            sql=("[main] BEGIN (implicit)", "[main] SELECT", "[b] BEGIN (implicit)", "[b] SELECT"),
            result="(100, 100)",
        ),
        "main-adds-10": Expect(
            sql=("[main] UPDATE accounts SET balance=?", "[main] COMMIT"),
            shows=("(110, 1)",),
        ),
        "b-adds-20": Expect(
            sql=("[b] UPDATE accounts SET balance=?", "[b] COMMIT"),
            shows=("(120, 1)",),
            tables={"accounts": [("1", "ann", "120"), ("2", "bob", "50")]},
        ),
        "lost": Expect(
            no_sql=True, tables={"accounts": [("1", "ann", "120"), ("2", "bob", "50")]}
        ),
        "model-safe": Expect(sql=("CREATE TABLE safe_accounts (",)),
        "add-safe": Expect(sql=("[b] INSERT INTO safe_accounts",), shows=("(1, 'ann', 100, 1)",)),
        "both-read-safe": Expect(
            sql=("[main] UPDATE safe_accounts SET balance=?, version=?", "[main] COMMIT"),
            shows=("(110, 2, 1, 1)",),
        ),
        "b-conflicts": Expect(
            sql=("[b] UPDATE safe_accounts", "[b] ROLLBACK"),
            shows=("(120, 2, 1, 1)",),
            tables={"safe_accounts": [("1", "ann", "110", "2")]},
            error="StaleDataError: SafeAccount(id=1) was changed by another session since this"
            " one loaded it: this session expected version 1, the database has version 2",
        ),
        "b-retries": Expect(
            sql=("[b] UPDATE safe_accounts", "[b] COMMIT"),
            tables={"safe_accounts": [("1", "ann", "130", "3")]},
        ),
        "short-wait": Expect(no_sql=True),
        "main-locks": Expect(sql=("[main] UPDATE accounts",), shows=("(115, 1)",)),
        "b-waits": Expect(
            sql=("[b] UPDATE accounts", "[b] ROLLBACK"),
            tables={"accounts": [("1", "ann", "120"), ("2", "bob", "50")]},
            error="OperationalError: waited 0.5 s (OrmMagic.lock_timeout) for the write lock"
            " that session 'main' holds",
        ),
        "main-commits": Expect(sql=("[main] COMMIT",)),
        "b-again": Expect(
            sql=("[b] UPDATE accounts", "[b] COMMIT"),
            tables={"accounts": [("1", "ann", "115"), ("2", "bob", "55")]},
        ),
    },
}


# -- running ---------------------------------------------------------------------
def kernel_env() -> dict[str, str]:
    """The kernel's environment: the notebooks are written for in-memory SQLite."""
    env = dict(os.environ)
    env.pop("ORM_MAGIC_URL", None)
    return env


def make_client(nb):
    return nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )


def read(name: str):
    return nbformat.read(NOTEBOOKS / name, as_version=4)


@functools.cache
def executed(name: str):
    """The notebook run top to bottom in a fresh kernel (once per test session)."""
    nb = read(name)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    make_client(nb).execute(env=kernel_env())
    return nb


def code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


# -- reading outputs ----------------------------------------------------------------
PRE = re.compile(r"<pre\b[^>]*>(.*?)</pre>", re.S)
CELL = re.compile(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", re.S)
CLOCK = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} ", re.M)


def strip_tags(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def reports(cell) -> list[dict[str, str]]:
    """The orm_magic reports among a cell's outputs, as mime bundles."""
    return [
        out.data
        for out in cell.outputs
        if out.output_type == "display_data" and "orm-magic" in out.data.get("text/html", "")
    ]


def sql_html(cell) -> str:
    """The SQL the cell showed in text/html, tags and clock times removed."""
    blocks = [m for data in reports(cell) for m in PRE.findall(data["text/html"])]
    return "\n".join(CLOCK.sub("", strip_tags(block)) for block in blocks)


def sql_text(cell) -> str:
    """The SQL the cell showed in text/plain: the lines after each report's title.

    A report's SQL runs from its first ``-- `` line to the next one. A report
    without SQL (no ``<pre>`` in its HTML) contributes nothing.
    """
    sections = []
    for data in reports(cell):
        if not PRE.search(data["text/html"]):
            continue
        lines = data["text/plain"].splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("-- ")) + 1
        end = next((i for i in range(start, len(lines)) if lines[i].startswith("-- ")), len(lines))
        sections.append("\n".join(lines[start:end]))
    return "\n".join(sections)


def table_rows_html(cell, name: str) -> list[tuple[str, ...]] | None:
    """The rows of table ``name`` in the cell's last report that shows it."""
    found = None
    for data in reports(cell):
        markup = data["text/html"]
        at = markup.find(f"<b>{html.escape(name)}</b>")
        if at < 0:
            continue
        table = re.search(r"<table\b.*?</table>", markup[at:], re.S)
        assert table, f"table {name} has a title but no <table>"
        body = re.search(r"<tbody>(.*?)</tbody>", table.group(0), re.S)
        rows = re.findall(r"<tr\b[^>]*>(.*?)</tr>", body.group(1), re.S) if body else []
        found = [tuple(strip_tags(td).strip() for td in CELL.findall(row)) for row in rows]
    return found


def table_lines_text(cell, name: str) -> list[str] | None:
    """The body lines of table ``name`` in the cell's last text/plain that shows it."""
    found = None
    for data in reports(cell):
        lines = data["text/plain"].splitlines()
        for i, line in enumerate(lines):
            if line.startswith(f"-- {name}:"):
                end = next(
                    (j for j in range(i + 1, len(lines)) if lines[j].startswith("-- ")), len(lines)
                )
                found = lines[i + 1 : end]
    return found


def stream(cell, name: str) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == name)


def result(cell) -> str | None:
    for out in cell.outputs:
        if out.output_type == "execute_result":
            return out.data.get("text/plain")
    return None


def holds_run(cells: tuple[str, ...], row: tuple[str, ...]) -> bool:
    """True when ``row`` is a run of adjacent values in ``cells``.

    Columns the display adds around the table's own (an object's state, say)
    do not matter; the table's values, adjacent and in order, do.
    """
    return any(cells[i : i + len(row)] == row for i in range(len(cells) - len(row) + 1))


def in_order(fragments: tuple[str, ...], text: str) -> str | None:
    """The first fragment not found after the previous one, or None when all are."""
    pos = 0
    for fragment in fragments:
        at = text.find(fragment, pos)
        if at < 0:
            return fragment
        pos = at + len(fragment)
    return None


# -- checking ---------------------------------------------------------------------------
def check_cell(cell, expect: Expect) -> None:
    """Assert that the cell's outputs show what ``expect`` says."""
    tagged = RAISES in cell.metadata.get("tags", [])
    assert tagged == (expect.error is not None), "tagged raises-exception but no error expected"
    errors = [o for o in cell.outputs if o.output_type == "error"]
    everything = stream(cell, "stdout") + stream(cell, "stderr")
    assert "Traceback (most recent call last)" not in everything
    if expect.error is None:
        assert not errors, errors
        assert "Error:" not in stream(cell, "stderr")
    else:
        shown = stream(cell, "stderr") + "".join(f"{o.ename}: {o.evalue}" for o in errors)
        assert expect.error in shown, shown

    text, markup = sql_text(cell), sql_html(cell)
    if expect.no_sql:
        assert text == "" and markup == "", f"expected no SQL, got:\n{text}{markup}"
    for shown, where in ((text, "text/plain"), (markup, "text/html")):
        missing = in_order(expect.sql, shown)
        assert missing is None, f"{where} lacks {missing!r} (in order) in:\n{shown}"
        for fragment, count in expect.sql_counts.items():
            assert shown.count(fragment) == count, f"{where}: {fragment!r} in:\n{shown}"
        for fragment in expect.sql_absent:
            assert fragment not in shown, f"{where}: unexpected {fragment!r} in:\n{shown}"

    plain = "\n".join(data["text/plain"] for data in reports(cell))
    seen = "\n".join(strip_tags(data["text/html"]) for data in reports(cell))
    for fragment in expect.shows:
        assert fragment in plain, f"text/plain lacks {fragment!r}:\n{plain}"
        assert fragment in seen, f"text/html lacks {fragment!r}:\n{seen}"

    for name, rows in expect.tables.items():
        shown_rows = table_rows_html(cell, name)
        assert shown_rows is not None, f"table {name} missing from text/html"
        assert len(shown_rows) == len(rows), f"table {name} in text/html: {shown_rows}"
        for cells, row in zip(shown_rows, rows):
            assert holds_run(cells, row), f"table {name} in text/html: {cells} lacks {row}"
        lines = table_lines_text(cell, name)
        assert lines is not None, f"table {name} missing from text/plain:\n{plain}"
        body = lines[1:] if rows else []  # the first line is the header (or the columns)
        assert len(body) == len(rows), f"table {name} in text/plain:\n{lines}"
        for line, row in zip(body, rows):
            pattern = r"(^|\s)" + r"\s+".join(re.escape(value) for value in row) + r"(\s|$)"
            assert re.search(pattern, line), f"table {name} in text/plain: {line!r} lacks {row}"

    if expect.result is not None:
        assert result(cell) == expect.result
    if expect.stdout is not None:
        assert stream(cell, "stdout") == expect.stdout


def check_notebook(name: str, nb) -> None:
    expected = EXPECTED[name]
    cells = {cell.id: cell for cell in code_cells(nb)}
    assert sorted(cells) == sorted(expected), "every code cell has an Expect, and only those"
    for cell_id, expect in expected.items():
        try:
            check_cell(cells[cell_id], expect)
        except AssertionError as exc:
            raise AssertionError(f"{name}, cell {cell_id!r}: {exc}") from None


def shown_sql(nb) -> dict[str, tuple[str, str]]:
    """Each code cell's SQL, as text/plain and as text/html show it."""
    return {cell.id: (sql_text(cell), sql_html(cell)) for cell in code_cells(nb)}


NAMES = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


def test_every_notebook_has_expectations() -> None:
    assert sorted(EXPECTED) == NAMES


def test_python3_kernel_runs_this_interpreter() -> None:
    """The kernel the notebooks run in is the test environment's own Python.

    jupyter_client starts a kernelspec whose command is ``python`` (what
    ipykernel installs) with the interpreter that starts it.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    command = KernelSpecManager().get_kernel_spec("python3").argv[0]
    generic = {
        "python",
        f"python{sys.version_info[0]}",
        f"python{sys.version_info[0]}.{sys.version_info[1]}",
    }
    assert command in generic or Path(command).resolve() == Path(sys.executable).resolve(), (
        f"the python3 kernelspec runs {command}; run python -m ipykernel install --sys-prefix"
    )


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_and_shows_the_expected_sql(name: str) -> None:
    check_notebook(name, executed(name))


@pytest.mark.parametrize("name", NAMES)
def test_saved_outputs_show_the_expected_sql(name: str) -> None:
    check_notebook(name, read(name))


@pytest.mark.parametrize("name", NAMES)
def test_saved_outputs_are_not_stale(name: str) -> None:
    saved, fresh = read(name), executed(name)
    assert [c.source for c in code_cells(saved)] == [c.source for c in code_cells(fresh)]
    for cell_id, (text, markup) in shown_sql(fresh).items():
        old_text, old_markup = shown_sql(saved)[cell_id]
        hint = f"{name}, cell {cell_id!r}: saved SQL differs; run python tests/test_notebooks.py"
        assert old_text == text, hint
        assert old_markup == markup, hint
    for old, new in zip(code_cells(saved), code_cells(fresh)):
        assert result(old) == result(new), f"{name}, cell {new.id!r}: Out[] differs"
        assert stream(old, "stdout") == stream(new, "stdout"), f"{name}, cell {new.id!r}"
        for table in EXPECTED[name][new.id].tables:
            assert table_rows_html(old, table) == table_rows_html(new, table)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_twice_in_one_kernel(name: str) -> None:
    """Run all, then Run all again in the same kernel: both passes succeed."""
    nb = read(name)
    client = make_client(nb)
    with client.setup_kernel(env=kernel_env()):
        for run in (1, 2):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                cell.outputs = []
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as exc:
                    raise AssertionError(f"run {run}, cell {cell.id!r} failed:\n{exc}") from None
                text = stream(cell, "stdout") + stream(cell, "stderr")
                assert "Traceback (most recent call last)" not in text, (run, cell.id, text)
                if RAISES not in cell.metadata.get("tags", []):
                    assert "Error:" not in stream(cell, "stderr"), (run, cell.id, text)
                expect = EXPECTED[name][cell.id]
                if expect.sql or expect.tables:
                    assert reports(cell), f"run {run}, cell {cell.id!r} showed no report"


def refresh(names: list[str]) -> None:
    """Re-execute the named notebooks and save them with their new outputs."""
    for name in names:
        nb = copy.deepcopy(executed(name))
        nbformat.write(nb, NOTEBOOKS / name)
        print(f"saved {NOTEBOOKS / name}")


if __name__ == "__main__":
    refresh(sys.argv[1:] or NAMES)
