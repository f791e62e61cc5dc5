"""orm_magic.core.coercion: the values each column type accepts, converts or refuses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Time,
    create_engine,
    insert,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core.coercion import converter_for, is_null, oversize_check, type_name


def convert(column_type: Any, value: Any) -> Any:
    """As :mod:`orm_magic.core.load` converts: values of exactly a kept type pass as they are."""
    conversion, kept, _ = converter_for(Column("c", column_type))
    if conversion is None or value.__class__ in kept:
        return value
    return conversion(value)


@pytest.mark.parametrize(
    ("column_type", "value", "expected"),
    [
        (Integer(), "42", 42),
        (Integer(), " 7 ", 7),
        (Integer(), 3.0, 3),
        (Integer(), np.int64(5), 5),
        (Float(), "2.5", 2.5),
        (Float(), Decimal("1.5"), 1.5),
        (Numeric(10, 2), 9.99, Decimal("9.99")),  # not Decimal(9.99)'s 50 digits
        (Numeric(10, 2), "12.30", Decimal("12.30")),
        (String(10), 90210, "90210"),  # a zip code read from a CSV as a number
        (Boolean(), "true", True),
        (Boolean(), "0", False),
        (Boolean(), np.bool_(True), True),
        (Boolean(), 1, True),
        (Date(), "2026-11-30", dt.date(2026, 11, 30)),
        (Date(), dt.datetime(2026, 11, 30), dt.date(2026, 11, 30)),
        (DateTime(), "2026-11-30 10:30", dt.datetime(2026, 11, 30, 10, 30)),
        (DateTime(), pd.Timestamp("2026-11-30 10:30"), dt.datetime(2026, 11, 30, 10, 30)),
        (DateTime(), dt.date(2026, 11, 30), dt.datetime(2026, 11, 30)),
        (Time(), "10:30", dt.time(10, 30)),
    ],
)
def test_a_value_of_another_type_is_converted(column_type, value, expected) -> None:
    result = convert(column_type, value)
    # (a datetime never equals a date, so a DATE's value cannot be a datetime here)
    assert result == expected and isinstance(result, type(expected))


@pytest.mark.parametrize(
    ("column_type", "value", "error"),
    [
        (Integer(), "abc", ValueError),
        (Integer(), 3.5, TypeError),
        (Integer(), True, TypeError),
        (Float(), True, TypeError),
        (Float(), [1], TypeError),
        (Numeric(10, 2), "ten", ValueError),
        (String(10), 1.5, TypeError),
        (String(10), True, TypeError),
        (Boolean(), "yes", TypeError),
        (Boolean(), 2, TypeError),
        (Date(), "30/11/2026", ValueError),
        (Date(), "2026-11-30 10:30", ValueError),  # a time of day a DATE would lose
        (Date(), 20261130, TypeError),
        (DateTime(), "tomorrow", ValueError),
        (DateTime(), dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), ValueError),
        (Time(), 1030, TypeError),
    ],
)
def test_a_value_that_does_not_fit_is_refused(column_type, value, error) -> None:
    with pytest.raises(error):
        convert(column_type, value)


def test_a_zone_aware_column_keeps_zones_and_a_type_without_python_type_is_left_alone() -> None:
    conversion, kept, what = converter_for(Column("c", DateTime(timezone=True)))
    assert what == "a date and time" and kept == (dt.datetime,)
    assert converter_for(Column("c", DateTime()))[2] == "a date and time without a time zone"
    assert converter_for(Column("c", LargeBinary()))[0] is None


@pytest.mark.parametrize(
    "value", [None, float("nan"), np.nan, pd.NaT, pd.NA, np.datetime64("NaT")]
)
def test_missing_values_are_null(value) -> None:
    assert is_null(value)


@pytest.mark.parametrize("value", [0, "", False, 0.0, "NaN", Decimal("0"), dt.date(2026, 1, 1)])
def test_present_values_are_not_null(value) -> None:
    assert not is_null(value)


def test_a_text_longer_than_its_column_says_so() -> None:
    check = oversize_check(Column("c", String(3)))
    assert check is not None
    assert check("abc") is None
    assert check("abcd") == "a text of 4 characters does not fit VARCHAR(3) (at most 3)"
    assert oversize_check(Column("c", String())) is None


def test_a_number_with_too_many_digits_before_the_point_says_so() -> None:
    check = oversize_check(Column("c", Numeric(5, 2)))
    assert check is not None
    assert check(Decimal("999.99")) is None
    assert check(Decimal("0")) is None
    assert (
        check(Decimal("1000"))
        == "1000 does not fit NUMERIC(5, 2) (at most 3 digits before the point)"
    )
    assert check(1000) is not None  # an int too
    assert check(Decimal("999.999")) is not None  # rounds to 1000.00
    assert oversize_check(Column("c", Float())) is None


def test_type_names_are_the_ddls() -> None:
    assert type_name(Column("c", String(20))) == "VARCHAR(20)"
    assert type_name(Column("c", Numeric(5, 2))) == "NUMERIC(5, 2)"


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    day: Mapped[dt.date]
    flag: Mapped[bool]


def test_converted_values_are_stored_and_read_back_as_plain_sqlalchemy_values() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    source = {"id": "1", "price": 9.99, "day": "2026-11-30", "flag": "true"}
    table = Row.__table__
    values = {key: convert(table.c[key].type, value) for key, value in source.items()}
    with Session(engine) as session:
        session.execute(insert(Row), [values])
        row = session.scalars(select(Row)).one()
        assert (row.id, row.price, row.day, row.flag) == (
            1,
            Decimal("9.99"),
            dt.date(2026, 11, 30),
            True,
        )
    engine.dispose()
