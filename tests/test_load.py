"""``%orm_load MODEL SOURCE [--flush]``: rows of a DataFrame, a list of dicts or a CSV file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Integer,
    Numeric,
    String,
    create_engine,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

from orm_magic.magics.sources import PROGRESS_ROWS

from .helpers import run

PRODUCT = """%%model
class Product(Base):
    __tablename__ = 'products'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    added: Mapped[dt.date | None] = mapped_column(Date)
    stock: Mapped[int] = mapped_column(Integer, server_default=text('0'))
    made: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sealed: Mapped[bool | None] = mapped_column(Boolean)
"""


@pytest.fixture
def shop(ip):
    run(ip, "import datetime as dt\nfrom decimal import Decimal\nimport pandas as pd")
    run(ip, "from sqlalchemy import text")
    run(ip, PRODUCT)
    return ip


def rows(ip) -> list[tuple]:
    """The table as plain SQL reads it; prices as floats and dates as text on every database."""
    with ip.user_ns["engine"].connect() as conn:
        result = conn.exec_driver_sql("SELECT name, price, added, stock FROM products ORDER BY id")
        return [
            (name, None if price is None else float(price), added and str(added), stock)
            for name, price, added, stock in result
        ]


def error_of(ip, cell: str) -> str:
    ran = run(ip, cell, ok=False)
    assert ran.result.error_in_exec is not None, "the cell should have failed"
    return str(ran.result.error_in_exec)


def test_a_frame_becomes_pending_objects_with_nulls(shop) -> None:
    run(shop, "frame = pd.DataFrame({'name': ['tea', 'pot', None], 'price': [4.5, float('nan'),"
              " 1.25], 'added': pd.to_datetime(['2026-11-30', None, '2026-12-01'])})")  # fmt: skip
    # 'name' is NOT NULL without a default: the third row is refused, nothing is added
    assert error_of(shop, "%orm_load Product frame") == (
        "%orm_load: row 2, column 'name': no value, and products.name is NOT NULL without a"
        " default; give every row a value"
    )
    assert not shop.user_ns["session"].new
    ran = run(shop, "frame.loc[2, 'name'] = 'cup'\n%orm_load Product frame")
    assert "-- no SQL emitted" in ran.text
    assert "3 Product objects from a DataFrame: pending — the next flush INSERTs them" in ran.text
    new = sorted(shop.user_ns["session"].new, key=lambda p: p.name)
    assert [(p.name, p.price, p.added) for p in new] == [
        ("cup", Decimal("1.25"), dt.date(2026, 12, 1)),
        ("pot", None, None),
        ("tea", Decimal("4.5"), dt.date(2026, 11, 30)),
    ]
    run(shop, "%orm_commit")
    fetched = rows(shop)
    assert [(name, stock) for name, _, _, stock in fetched] == [("tea", 0), ("pot", 0), ("cup", 0)]
    assert fetched[1][1:3] == (None, None)


def test_a_list_of_dicts_and_a_csv_file(shop, tmp_path) -> None:
    run(shop, "%orm_load Product [{'name': 'tea', 'price': '4.50'}, {'name': 'pot'}] --flush")
    path = tmp_path / "more products.csv"
    path.write_text("name,price,added,stock\ncup,2.10,2026-12-01,7\nmug,,,3\n")
    shop.user_ns["csv_path"] = str(path)
    ran = run(shop, "%orm_load Product csv_path --flush")
    assert "2 Product objects from more products.csv: flushed" in ran.text
    shop.user_ns.pop("csv_path")
    run(shop, f"%orm_load Product '{path}'\n%orm_commit")  # a path typed as it is
    assert rows(shop)[:4] == [
        ("tea", 4.5, None, 0),
        ("pot", None, None, 0),
        ("cup", 2.1, "2026-12-01", 7),
        ("mug", None, None, 3),
    ]
    assert len(rows(shop)) == 6
    # a text column of digits is read as written: pandas alone would make 007 the number 7
    codes = tmp_path / "codes.csv"
    codes.write_text("name,stock\n007,1\n0042,2\n")
    run(shop, f"%orm_load Product '{codes}'\n%orm_commit")
    assert [(name, stock) for name, _, _, stock in rows(shop)[6:]] == [("007", 1), ("0042", 2)]
    assert error_of(shop, "%orm_load Product nosuch.csv") == (
        "%orm_load: no file 'nosuch.csv'; give the path of a CSV file"
    )


BAD_ROWS = [
    (
        "[{'name': 'tea'}, {'name': 'pot', 'colour': 'red'}]",
        "row 1, column 'colour': Product has no attribute or column of that name; its"
        " columns: id, name, price, added, stock, made, sealed",
    ),
    (
        "pd.DataFrame({'name': ['tea', 'pot'], 'stock': [1, 'many']})",
        "row 1, column 'stock': 'many' is not an integer (products.stock is INTEGER)",
    ),
    (
        "[{'name': 'tea', 'added': '2026-11-30'}, {'name': 'pot', 'added': '30/11/2026'}]",
        "row 1, column 'added': '30/11/2026' is not a date (products.added is DATE)",
    ),
    (
        "[{'name': 'tea', 'price': 'cheap'}]",
        "row 0, column 'price': 'cheap' is not a number (products.price is NUMERIC(10, 2))",
    ),
    (
        "[{'name': 'x' * 21}]",
        "row 0, column 'name': a text of 21 characters does not fit VARCHAR(20) (at most 20)",
    ),
    (
        "[{'price': 1}]",
        "row 0, column 'name': no value, and products.name is NOT NULL without a default;"
        " give every row a value",
    ),
    (
        "[{'name': 'tea', 'price': '123456789.5'}]",
        "row 0, column 'price': 123456789.5 does not fit NUMERIC(10, 2) (at most 8 digits"
        " before the point)",
    ),
    (  # a bool is not an integer, nor text, though Python counts it an int
        "[{'name': 'tea', 'stock': True}]",
        "row 0, column 'stock': True is not an integer (products.stock is INTEGER)",
    ),
    (
        "[{'name': False}]",
        "row 0, column 'name': False is not text (products.name is VARCHAR(20))",
    ),
    (  # the database would keep the clock time and drop the zone: another instant
        "pd.DataFrame({'name': ['tea'], 'made': pd.to_datetime(['2026-11-30 10:00'])"
        ".tz_localize('Europe/Paris')})",
        "row 0, column 'made': Timestamp('2026-11-30 10:00:00+0100', tz='Europe/Paris') is"
        " not a date and time without a time zone (products.made is DATETIME)",
    ),
    (
        "[{'name': pd.NA}]",
        "row 0, column 'name': no value, and products.name is NOT NULL without a default;"
        " give every row a value",
    ),
    (  # the text 'NaN' is not the float NaN (a missing value): NUMERIC would keep it
        "[{'name': 'tea', 'price': '1.5'}, {'name': 'pot', 'price': 'NaN'}]",
        "row 1, column 'price': 'NaN' is not a finite number (products.price is"
        " NUMERIC(10, 2)); give None for no value",
    ),
    (
        "[{'name': 'tea', 'price': '-Infinity'}]",
        "row 0, column 'price': '-Infinity' is not a finite number (products.price is"
        " NUMERIC(10, 2)); give None for no value",
    ),
    (  # a time of day would be lost in a DATE
        "[{'name': 'tea', 'added': np.datetime64('2026-11-30T10:00')}]",
        f"row 0, column 'added': {np.datetime64('2026-11-30T10:00')!r} is not a date"
        " (products.added is DATE)",
    ),
    (  # nanoseconds would be lost in a Python datetime
        "[{'name': 'tea', 'made': np.datetime64('2026-11-30T10:00:00.000000001')}]",
        f"row 0, column 'made': {np.datetime64('2026-11-30T10:00:00.000000001')!r} is not"
        " a date and time without a time zone (products.made is DATETIME)",
    ),
    (
        "42",
        "the source is a 'int' object; give a DataFrame, a list of dicts or the path of a"
        " CSV file",
    ),
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_bad_row_is_one_line_and_nothing_is_added(shop) -> None:
    """Each source of BAD_ROWS: one line naming the row and column; the session is unchanged."""
    run(shop, "import numpy as np\n%orm_add Product(name='kept')")
    for source, message in BAD_ROWS:
        assert error_of(shop, f"%orm_load Product {source} --flush") == f"%orm_load: {message}"
        assert [p.name for p in shop.user_ns["session"].new] == ["kept"], source


def test_numpy_and_pandas_values_and_missing_values(shop) -> None:
    """Nullable Int64 and boolean columns (pandas.NA), float32, NumPy scalars, NaT."""
    run(shop, "import numpy as np")
    run(shop, "frame = pd.DataFrame({'name': ['tea', 'pot'], 'stock': pd.array([3, None],"
              " dtype='Int64'), 'price': np.array([1.5, np.nan], dtype='float32'), 'made':"
              " [pd.Timestamp('2026-11-30 10:00'), pd.NaT], 'sealed': pd.array([None, True],"
              " dtype='boolean')})")  # fmt: skip
    run(shop, "%orm_load Product frame")
    run(shop, "%orm_load Product [{'name': np.str_('cup'), 'stock': np.int64(2), 'price':"
              " np.float64(0.5), 'sealed': np.bool_(False), 'added': pd.NA}]")  # fmt: skip
    new = sorted(shop.user_ns["session"].new, key=lambda p: p.name)
    assert [(p.name, p.stock, p.price, p.made, p.sealed, p.added) for p in new] == [
        ("cup", 2, Decimal("0.5"), None, False, None),
        ("pot", None, None, None, True, None),
        ("tea", 3, Decimal("1.5"), dt.datetime(2026, 11, 30, 10), None, None),
    ]
    assert {type(p.stock) for p in new if p.stock} == {int}
    assert type(new[0].name) is str and type(new[0].sealed) is bool
    run(shop, "%orm_commit")
    assert [stock for _, _, _, stock in rows(shop)] == [3, 0, 2]  # pot: the server default


def test_numpy_datetime64_values_of_whole_dates_fill_a_date_column(shop) -> None:
    """As a DataFrame's datetime64 column gives them, or NumPy's own values in a list."""
    run(shop, "import numpy as np")
    run(shop, "%orm_load Product [{'name': 'tea', 'added': np.datetime64('2026-11-30')},"
              " {'name': 'pot', 'added': np.datetime64('2026-12-01T00:00:00.000000000'),"
              " 'made': np.datetime64('2026-12-01T10:30:00.250')}, {'name': 'cup', 'added':"
              " pd.Timestamp('2026-12-02'), 'made': np.datetime64('NaT')}]")  # fmt: skip
    run(shop, "frame = pd.DataFrame({'name': ['mug'], 'added': pd.to_datetime(['2026-12-03'])})")
    assert str(shop.user_ns["frame"]["added"].dtype).startswith("datetime64[")
    run(shop, "%orm_load Product frame")
    new = sorted(shop.user_ns["session"].new, key=lambda p: p.added)
    assert [(p.name, p.added, p.made) for p in new] == [
        ("tea", dt.date(2026, 11, 30), None),
        ("pot", dt.date(2026, 12, 1), dt.datetime(2026, 12, 1, 10, 30, 0, 250_000)),
        ("cup", dt.date(2026, 12, 2), None),
        ("mug", dt.date(2026, 12, 3), None),
    ]
    assert {type(p.added) for p in new} == {dt.date}
    assert type(new[1].made) is dt.datetime
    run(shop, "%orm_commit")
    assert [added for _, _, added, _ in rows(shop)] == [
        "2026-11-30",
        "2026-12-01",
        "2026-12-02",
        "2026-12-03",
    ]


CHECKED = """%%model
class Checked(Base):
    __tablename__ = 'checked'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))

    @validates('name')
    def _no_bad(self, key, value):
        if value == 'bad':
            raise ValueError('no bad names')
        return value
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_failing_constructor_names_its_own_row_and_nothing_is_added(shop) -> None:
    run(shop, "from sqlalchemy.orm import validates")
    run(shop, CHECKED)
    for names, row in [(["a", "b", "c", "bad", "d"], 3), (["bad"], 0)]:
        shop.user_ns["names"] = names
        assert error_of(shop, "%orm_load Checked [{'name': n} for n in names]") == (
            f"%orm_load: row {row}: Checked(...) raised ValueError: no bad names"
        )
        assert not shop.user_ns["session"].new


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_load_is_what_plain_sqlalchemy_does_with_the_same_rows(shop) -> None:
    """The same INSERTs, parameters and rows as ``add_all([Model(**row) ...])`` + flush."""
    records = [
        {"name": f"item {i}", "price": Decimal(i) / 4, "added": dt.date(2026, 1, 1 + i % 28)}
        for i in range(30)
    ]
    shop.user_ns["records"] = records
    recorder = shop._orm_magic.workspace.recorder
    before = len(recorder.log)
    run(shop, "%orm_load Product records --flush")
    ours = [(s.sql, s.parameters) for s in recorder.log[before:]]

    class PlainBase(DeclarativeBase):
        pass

    class Product(PlainBase):
        __tablename__ = "products"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        name: Mapped[str] = mapped_column(String(20))
        price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
        added: Mapped[dt.date | None] = mapped_column(Date)
        stock: Mapped[int] = mapped_column(Integer, server_default=text("0"))
        made: Mapped[dt.datetime | None] = mapped_column(DateTime)
        sealed: Mapped[bool | None] = mapped_column(Boolean)

    engine = create_engine("sqlite://", poolclass=StaticPool)
    PlainBase.metadata.create_all(engine)
    plain: list[tuple] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda c, cur, sql, params, *a: plain.append((sql, params)),
    )
    with Session(engine) as session:
        session.add_all([Product(**row) for row in records])
        session.flush()
        expected = session.execute(text("SELECT * FROM products ORDER BY id")).all()
    plain = [(sql, params) for sql, params in plain if sql.startswith("INSERT")]
    inserts = [(sql, params) for sql, params in ours if sql.startswith("INSERT")]
    # one INSERT per row here; SQLAlchemy 2.0.0 batches them into one (insertmanyvalues)
    assert inserts and len(inserts) == len(plain)
    assert [sql for sql, _ in inserts] == [sql for sql, _ in plain]
    for (_, mine), (_, theirs) in zip(inserts, plain):
        # the log keeps the first values of a long parameter set (bounded), in order
        assert repr(tuple(theirs)[: len(mine)]) == repr(tuple(mine))
    with shop.user_ns["engine"].connect() as conn:
        assert conn.exec_driver_sql("SELECT * FROM products ORDER BY id").all() == expected


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_more_rows_than_maxitems_are_refused_before_they_are_read(shop, tmp_path) -> None:
    run(shop, "%config OrmMagic.maxitems = 2")
    message = error_of(shop, "%orm_load Product [{'name': 'a'}] * 3")
    assert message == (
        "%orm_load: a list of dicts has 3 rows, more than OrmMagic.maxitems (2); load it in"
        " parts, or raise maxitems"
    )
    # a CSV file is read no further than maxitems + 1 rows: its later lines, which
    # would not even parse, are never read (nor held in memory)
    path = tmp_path / "big.csv"
    path.write_text("name\n" + "a\n" * 3 + '"never closed\n' + "b\n" * 100_000)
    shop.user_ns["big"] = str(path)
    assert error_of(shop, "%orm_load Product big") == (
        "%orm_load: big.csv has more than 2 rows, more than OrmMagic.maxitems (2); load it in"
        " parts, or raise maxitems"
    )
    assert not shop.user_ns["session"].new


def test_a_failed_flush_names_what_it_discarded_and_the_workspace_goes_on(shop) -> None:
    run(shop, "%orm_add Product(id=1, name='tea')\n%orm_commit\n%orm_add Product(name='kept')")
    message = error_of(
        shop, "%orm_load Product [{'name': 'pot'}, {'id': 1, 'name': 'dup'}] --flush"
    )
    assert message.startswith("%orm_load Product [{'name': 'pot'}, {'id': 1, 'name': 'dup'}]:")
    assert "IntegrityError" in message and "\n" not in message
    assert message.endswith(
        " — rolled back: 3 pending objects discarded (Product); committed rows are unchanged"
    )
    assert not shop.user_ns["session"].new
    run(shop, "%orm_load Product [{'name': 'cup'}] --flush\n%orm_commit")
    assert [name for name, *_ in rows(shop)] == ["tea", "cup"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_bar_outside_a_kernel(shop) -> None:
    """A terminal cannot redraw a bar in place: a long load there shows only its report."""
    shop.user_ns["many"] = [{"name": f"n{i}"} for i in range(PROGRESS_ROWS)]
    ran = run(shop, "%orm_load Product many")
    assert len(ran.outputs) == 1 and "<progress" not in ran.html
    assert f"{PROGRESS_ROWS:,} Product objects from a list of dicts" in ran.text


KERNEL_CELLS = (
    "%load_ext orm_magic",
    "%%model\nclass Item(Base):\n    __tablename__ = 'items'\n"
    "    id = Column(Integer, primary_key=True)\n    name = Column(String(10))",
    "import pandas as pd\nbig = pd.DataFrame({'name': [f'n{i}' for i in range(30_000)]})",
)


def kernel_outputs(client, source: str) -> list[dict]:
    """The iopub messages one cell sent, in order."""
    messages: list[dict] = []
    reply = client.execute_interactive(source, output_hook=messages.append, timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return messages


def test_a_long_load_shows_one_bar_redrawn_in_place_in_a_kernel() -> None:
    """In a real ipykernel: one display id, a bounded number of redraws; none for short loads."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", env={"ORM_MAGIC_URL": "sqlite://"})
    try:
        for cell in KERNEL_CELLS:
            kernel_outputs(client, cell)
        messages = kernel_outputs(client, "%orm_load Item big --flush")
        bars = [m for m in messages if m["msg_type"] == "display_data"
                and m["content"].get("transient", {}).get("display_id")]  # fmt: skip
        assert len(bars) == 1
        bar_id = bars[0]["content"]["transient"]["display_id"]
        updates = [m["content"] for m in messages if m["msg_type"] == "update_display_data"]
        assert all(u["transient"]["display_id"] == bar_id for u in updates)
        assert 2 <= len(updates) <= 20 + 2  # every 5%, then "flushing" and "flushed"
        assert updates[-1]["data"]["text/plain"] == (
            "%orm_load Item: 30,000 of 30,000 rows made · flushed"
        )
        assert '<progress value="30000" max="30000"' in updates[-1]["data"]["text/html"]
        short = kernel_outputs(client, "%orm_load Item big.head(100)")
        assert not [m for m in short if m["msg_type"] == "update_display_data"]
        assert not [m for m in short if m["content"].get("transient")]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_a_load_stopped_by_a_constructor_says_so_on_its_bar_in_a_kernel() -> None:
    """The bar of a load that fails after some chunks shows it stopped, not its last count."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", env={"ORM_MAGIC_URL": "sqlite://"})
    try:
        kernel_outputs(client, KERNEL_CELLS[0])
        kernel_outputs(client, "from sqlalchemy.orm import validates")
        kernel_outputs(client, CHECKED)
        kernel_outputs(
            client,
            "import pandas as pd\nnames = [f'n{i}' for i in range(30_000)]\n"
            "names[25_001] = 'bad'\nbig = pd.DataFrame({'name': names})",
        )
        messages: list[dict] = []
        reply = client.execute_interactive(
            "%orm_load Checked big", output_hook=messages.append, timeout=60
        )
        assert reply["content"]["status"] == "error"
        assert reply["content"]["evalue"] == (
            "%orm_load: row 25001: Checked(...) raised ValueError: no bad names"
        )
        updates = [m["content"] for m in messages if m["msg_type"] == "update_display_data"]
        assert updates[-1]["data"]["text/plain"] == (
            "%orm_load Checked: 25,000 of 30,000 rows made · stopped: nothing added"
        )
        assert "stopped: nothing added" in updates[-1]["data"]["text/html"]
        count = kernel_outputs(client, "print(len(session.new))")
        assert [m["content"]["text"] for m in count if m["msg_type"] == "stream"] == ["0\n"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
