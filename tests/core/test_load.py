"""orm_magic.core.load: rows of a DataFrame, a list of dicts or a CSV file as new instances.

The instances are compared with those plain code makes (``Product(**row)``)
and, once flushed, with the rows that plain SQLAlchemy writes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Numeric, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core.load import LoadError, make_instances, read_rows


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    zip_code: Mapped[str | None] = mapped_column("zip", String(10))
    price: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    added: Mapped[dt.date | None]


ROWS = [
    {"id": 1, "name": "pen", "zip_code": "01234", "price": Decimal("1.50"), "added": None},
    {"id": 2, "name": "ink", "zip_code": None, "price": None, "added": dt.date(2026, 1, 2)},
]


def table_rows(instances: list[Product]) -> list[tuple]:
    """The rows plain SQLAlchemy writes for ``instances``, read back."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(instances)
        session.commit()
        rows = session.execute(select(Product.__table__).order_by("id")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_a_list_of_dicts_makes_what_the_constructor_makes() -> None:
    made, rows = make_instances(Product, ROWS, limit=100)
    assert rows.count == 2 and rows.kind == "a list of dicts"
    assert table_rows(made) == table_rows([Product(**row) for row in ROWS])


def test_a_dataframe_with_nan_and_nat_gives_nulls() -> None:
    frame = pd.DataFrame(
        {
            "id": [1, 2],
            "name": ["pen", "ink"],
            "zip": ["01234", None],  # the column's name, not the attribute's
            "price": [1.5, float("nan")],
            "added": [pd.NaT, pd.Timestamp("2026-01-02")],
        }
    )
    made, _ = make_instances(Product, frame, limit=100)
    assert table_rows(made) == table_rows([Product(**row) for row in ROWS])


def test_a_csv_file_keeps_a_text_columns_leading_zero(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text("id,name,zip,price,added\n1,pen,01234,1.50,\n2,ink,,,2026-01-02\n")
    made, rows = make_instances(Product, path, limit=100)
    assert rows.kind == "products.csv" and rows.label(0) == "line 2"
    assert table_rows(made) == table_rows([Product(**row) for row in ROWS])


def test_a_column_the_model_lacks_names_the_row_and_column_and_makes_nothing() -> None:
    with pytest.raises(LoadError, match="row 0, column 'colour': Product has no attribute"):
        make_instances(Product, [{"id": 1, "name": "a", "colour": "red"}], limit=100)


def test_a_missing_required_value_is_named() -> None:
    with pytest.raises(LoadError, match="row 1, column 'name'"):
        make_instances(Product, [{"id": 1, "name": "a"}, {"id": 2, "name": None}], limit=100)


def test_a_value_that_does_not_fit_is_named() -> None:
    with pytest.raises(LoadError, match="row 1, column 'price'"):
        make_instances(
            Product, [{"id": 1, "name": "a"}, {"id": 2, "name": "b", "price": "x"}], 100
        )
    with pytest.raises(LoadError, match="does not fit VARCHAR\\(20\\)"):
        make_instances(Product, [{"id": 1, "name": "n" * 21}], limit=100)


def test_more_rows_than_the_limit_are_refused_before_reading_them(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="a list of dicts has 3 rows, more than OrmMagic.maxitems"):
        read_rows([{}, {}, {}], limit=2)
    path = tmp_path / "big.csv"
    path.write_text("id\n" + "\n".join(map(str, range(1000))) + "\n")
    with pytest.raises(LoadError, match="big.csv has more than 10 rows"):
        read_rows(path, limit=10)


def test_what_is_no_source_is_one_line() -> None:
    with pytest.raises(LoadError, match="the source is a 'int' object; give a DataFrame"):
        read_rows(42, limit=10)
    with pytest.raises(LoadError, match="row 1 is a 'str' object, not a dict"):
        read_rows([{}, "x"], limit=10)
