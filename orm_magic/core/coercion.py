"""Converting one value to a column's Python type, as :mod:`.load` checks a source's rows.

Each conversion takes a value of another type (text read from a CSV file, a
NumPy or pandas scalar, a float where a Decimal is meant) and returns it as
the column's type, or raises ValueError or TypeError when it does not fit:
``'abc'`` for an integer, ``'30/11/2026'`` for a date, a time of day for a DATE.
"""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Column, DateTime, Float, Numeric, String

from ..data.text import shorten


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float | Decimal) and value == int(value):
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal | str):
        raise TypeError(value)
    return float(value)


class NotFitting(ValueError):
    """A value of the right kind that its column still cannot keep; ``str()`` says why."""


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, float | numbers.Real):
        return Decimal(repr(float(value)))  # 9.99 read from a CSV is Decimal('9.99')
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(value) from None
        # the text 'NaN' is no missing value (the float NaN is), and NUMERIC keeps
        # neither NaN nor infinity on SQLite, MySQL or MariaDB
        if not number.is_finite():
            raise NotFitting("is not a finite number")
        return number
    raise TypeError(value)


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(value)  # a code read from a CSV as a number (a zip code)
    raise TypeError(value)


_TRUTH = {"true": True, "false": False, "1": True, "0": False}


def _to_bool(value: Any) -> bool:
    if getattr(getattr(value, "dtype", None), "kind", None) == "b":
        return bool(value)  # a NumPy bool (numpy.True_)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUTH:
        return _TRUTH[value.strip().lower()]
    raise TypeError(value)


def _from_numpy(value: Any) -> Any:
    """A NumPy ``datetime64`` as a Python datetime; any other value as it is.

    Refused (ValueError) when the microseconds a datetime keeps would lose
    some of its nanoseconds. NumPy is not imported: only its values are read.
    """
    if getattr(getattr(value, "dtype", None), "kind", None) != "M":
        return value
    exact = value.astype("datetime64[us]")
    if exact != value:
        raise ValueError(value)
    return exact.item()  # a datetime.datetime (None for NaT, which is NULL before this)


def _to_date(value: Any) -> dt.date:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.strip())
    value = _from_numpy(value)  # a datetime64 of a whole date, as a DataFrame column has it
    if isinstance(value, dt.datetime):
        if value.time() != dt.time() or value.tzinfo is not None:
            raise ValueError(value)  # a time of day would be lost in a DATE
        return dt.date(value.year, value.month, value.day)
    raise TypeError(value)


def _to_datetime(value: Any) -> dt.datetime:
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value.strip())
    value = _from_numpy(value)
    if isinstance(value, dt.datetime):
        return value
    to_pydatetime = getattr(value, "to_pydatetime", None)  # a pandas Timestamp
    if to_pydatetime is not None:
        result: dt.datetime = to_pydatetime()
        return result
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    raise TypeError(value)


def _to_naive_datetime(value: Any) -> dt.datetime:
    """A date and time for a column without a time zone: one with a zone is refused.

    The database would drop the zone (or its offset) and keep the clock time,
    which is a different instant: the user says which one they mean.
    """
    result = value if value.__class__ is dt.datetime else _to_datetime(value)
    if result.tzinfo is not None:
        raise ValueError(value)
    return result


def _to_time(value: Any) -> dt.time:
    if isinstance(value, str):
        return dt.time.fromisoformat(value.strip())
    raise TypeError(value)


#: A column's Python type -> (its conversion, the types kept as they are, what a
#: value must be, in an error).
CONVERTERS: dict[type, tuple[Callable[[Any], Any], tuple[type, ...], str]] = {
    int: (_to_int, (int,), "an integer"),
    float: (_to_float, (float, int), "a number"),
    Decimal: (_to_decimal, (Decimal, int), "a number"),
    str: (_to_str, (str,), "text"),
    bool: (_to_bool, (bool,), "true or false"),
    dt.date: (_to_date, (dt.date,), "a date"),
    dt.datetime: (_to_datetime, (dt.datetime,), "a date and time"),
    dt.time: (_to_time, (dt.time,), "a time of day"),
}

Converter = tuple[Callable[[Any], Any] | None, tuple[type, ...], str]


def converter_for(column: Column[Any]) -> Converter:
    """How to convert a value for ``column``: the conversion (None: none), the types kept
    as they are, and what a value must be, in an error."""
    if isinstance(column.type, DateTime) and not column.type.timezone:
        # every value is checked for a zone (a TypeDecorator may take zones: not checked)
        return _to_naive_datetime, (), "a date and time without a time zone"
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return None, (), ""
    return CONVERTERS.get(python_type, (None, (), ""))


def is_null(value: Any) -> bool:
    """None, NaN, NaT or pandas' NA: a missing value."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NaT are the values that differ from themselves
    except (TypeError, ValueError):  # pandas.NA != NA is NA, whose truth is ambiguous
        return type(value).__name__ == "NAType"


def type_name(column: Column[Any]) -> str:
    """The column's type as DDL names it (``VARCHAR(20)``), for an error."""
    try:
        return str(column.type)
    except Exception:  # a type that compiles only on its own dialect
        return type(column.type).__name__


def oversize_check(column: Column[Any]) -> Callable[[Any], str | None] | None:
    """For a column of bounded size, what says why a converted value is too big for it.

    A text longer than a ``String(n)``, or a number with more digits before the point
    than a ``Numeric(p, s)`` holds (``p - s``): the database would refuse it at the
    flush (PostgreSQL, MySQL in strict mode) or keep it as it is (SQLite).
    """
    kind = column.type
    if isinstance(kind, String) and kind.length:
        length = kind.length

        def too_long(value: Any) -> str | None:
            if not isinstance(value, str) or len(value) <= length:  # an Enum's member
                return None
            return (
                f"a text of {len(value):,} characters does not fit {type_name(column)}"
                f" (at most {length})"
            )

        return too_long
    precision, scale = getattr(kind, "precision", None), getattr(kind, "scale", None) or 0
    if not isinstance(kind, Numeric) or isinstance(kind, Float) or not precision:
        return None
    digits = precision - scale

    def too_many_digits(value: Any) -> str | None:
        number = Decimal(value) if isinstance(value, int) else value
        if not isinstance(number, Decimal):
            return None  # a type of the column's own (asdecimal=False): left to the database
        try:
            if not number or (number.is_finite() and round(number, scale).adjusted() < digits):
                return None  # (0 has no digit before the point to count)
        except ArithmeticError:  # too many digits to round at all
            pass
        return (
            f"{shorten(str(value), 40)} does not fit {type_name(column)}"
            f" (at most {digits} digits before the point)"
        )

    return too_many_digits
