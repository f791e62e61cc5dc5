"""Rows of a DataFrame, a list of dicts or a CSV file, as new instances of a model.

Columns are matched to the model's attributes by name (the attribute's key
or its column's name). Every value is checked and converted before any
object is made: a column the model lacks, a missing value for a NOT NULL
column without a default, or a value that does not fit its column's type is
one :class:`LoadError` naming the row and the column, and nothing is made.
NaN, NaT and ``None`` are NULL.

The instances are made with the model's own constructor, as plain code
would (``Product(**row)``): attribute events and a user's ``__init__`` run.
The checks run column by column over Python lists, so that loading 100,000
rows costs little beside the constructor calls and the flush themselves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, inspect
from sqlalchemy.orm import ColumnProperty, Mapper

from ..data.text import shorten
from .coercion import (
    CONVERTERS,
    NotFitting,
    converter_for,
    is_null,
    oversize_check,
    type_name,
)
from .errors import WorkspaceError

#: Rows made between two progress calls.
CHUNK = 5_000
_NONE = type(None)
_TO_STR = CONVERTERS[str][0]


class LoadError(WorkspaceError):
    """A row that cannot become an instance: the message names the row and the column."""


@dataclass
class Rows:
    """A source read into columns of Python values, with how to name its rows."""

    names: list[str]
    columns: list[list[Any]]
    count: int
    label: Callable[[int], str]  # the row at a position, as its source names it
    kind: str  # "a DataFrame", "a list of dicts", "products.csv"


def read_rows(source: Any, limit: int, texts: frozenset[str] = frozenset()) -> Rows:
    """``source`` (a DataFrame, a list of dicts or a CSV path) as :class:`Rows`.

    A source of more than ``limit`` rows is refused before its values are
    read: a CSV file is read no further than ``limit + 1`` rows. A CSV column
    named in ``texts`` is read as text, as written (a zip code 01234 keeps its 0).
    """
    if isinstance(source, (str, os.PathLike)):
        import pandas  # a runtime dependency, imported only when a CSV is read

        path = os.fspath(source)
        try:
            frame = pandas.read_csv(path, nrows=limit + 1, dtype=dict.fromkeys(texts, str))
        except (OSError, ValueError) as exc:
            raise LoadError(f"cannot read {path!r} as CSV: {exc}") from None
        kind = os.path.basename(path)
        if len(frame) > limit:
            raise LoadError(_too_many(f"{kind} has more than {limit:,} rows", limit))
        rows = _frame_rows(frame, kind)
        rows.label = lambda i: f"line {i + 2}"  # line 1 is the header
        return rows
    frame_like = hasattr(source, "columns") and hasattr(source, "index")
    if (frame_like and hasattr(source, "iloc")) or isinstance(source, (list, tuple)):
        kind = "a DataFrame" if frame_like else "a list of dicts"
        if len(source) > limit:
            raise LoadError(_too_many(f"{kind} has {len(source):,} rows", limit))
        return _frame_rows(source, kind) if frame_like else _dict_rows(source)
    raise LoadError(
        f"the source is a {type(source).__name__!r} object; give a DataFrame, a list of dicts"
        " or the path of a CSV file"
    )


def _too_many(what: str, limit: int) -> str:
    return f"{what}, more than OrmMagic.maxitems ({limit:,}); load it in parts, or raise maxitems"


def _frame_rows(frame: Any, kind: str) -> Rows:
    index = frame.index
    names = [str(name) for name in frame.columns]
    if len(set(names)) != len(names):
        raise LoadError(f"{kind} has two columns of one name; rename one")
    columns = [frame.iloc[:, i].tolist() for i in range(len(names))]
    return Rows(names, columns, len(frame), lambda i: f"row {index[i]!r}", kind)


def _dict_rows(items: list[Any] | tuple[Any, ...]) -> Rows:
    names: dict[str, None] = {}
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise LoadError(
                f"row {position} is a {type(item).__name__!r} object, not a dict; give a"
                " list of dicts"
            )
        if item.keys() - names.keys():
            names.update(dict.fromkeys(item))
    order = list(names)
    # a key a dict lacks is a missing value, as in a DataFrame made from it
    columns = [[item.get(name) for item in items] for name in order]
    return Rows(order, columns, len(items), lambda i: f"row {i}", "a list of dicts")


@dataclass
class _Target:
    """One model attribute that a source column fills."""

    key: str
    column: Column[Any]
    convert: Callable[[Any], Any] | None
    passthrough: frozenset[type]
    what: str  # "an integer", in an error


def make_instances(
    model: type,
    source: Any,
    limit: int,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Any], Rows]:
    """New instances of ``model``, one per row of ``source``; LoadError naming a bad row.

    ``limit`` is the most rows accepted. ``progress(done, total)`` is called
    after every :data:`CHUNK` rows made.
    """
    mapper: Mapper[Any] = inspect(model)
    attributes = _attributes(mapper)
    texts = frozenset(name for name, target in attributes.items() if target.convert is _TO_STR)
    rows = read_rows(source, limit, texts)
    targets: list[_Target] = []
    for name, values in zip(rows.names, rows.columns, strict=True):
        target = attributes.get(name)
        if target is None:
            keys = [attr.key for attr in _unique(attributes.values())]
            more = f" and {len(keys) - 20} more" if len(keys) > 20 else ""  # a wide table
            known = ", ".join(keys[:20]) + more
            first = next((i for i, v in enumerate(values) if not is_null(v)), 0)
            raise LoadError(
                f"{rows.label(first)}, column {name!r}: {model.__name__} has no attribute or"
                f" column of that name; its columns: {known}"
            )
        targets.append(target)
    keys = [target.key for target in targets]
    for position, key in enumerate(keys):
        if key in keys[:position]:
            raise LoadError(
                f"columns {rows.names[keys.index(key)]!r} and {rows.names[position]!r} both"
                f" fill {model.__name__}.{key}; drop one"
            )
    omit: list[int] = []  # columns whose NULL leaves the value to the column's default
    for position, (target, values) in enumerate(zip(targets, rows.columns, strict=True)):
        rows.columns[position] = _convert(target, values, rows)
        if not _nullable(target.column) and None in rows.columns[position]:
            bad = rows.columns[position].index(None)
            if _required(target.column):
                raise LoadError(_missing(rows, bad, target, model))
            omit.append(position)
    filled = {target.column for target in targets}
    for target in _unique(attributes.values()):
        if target.column not in filled and _required(target.column) and rows.count:
            raise LoadError(_missing(rows, 0, target, model))
    return _construct(model, keys, rows, omit, progress), rows


def _missing(rows: Rows, position: int, target: _Target, model: type) -> str:
    column = target.column
    return (
        f"{rows.label(position)}, column {target.key!r}: no value, and"
        f" {column.table.fullname}.{column.name} is NOT NULL without a default;"
        f" give every row a value"
    )


def _construct(
    model: type,
    keys: list[str],
    rows: Rows,
    omit: list[int],
    progress: Callable[[int, int], None] | None,
) -> list[Any]:
    """``model(**row)`` for each row, in chunks, reporting progress between them."""
    instances: list[Any] = []
    tuples = list(zip(*rows.columns, strict=True)) if rows.columns else [()] * rows.count
    made = instances.append
    for start in range(0, rows.count, CHUNK):
        chunk = tuples[start : start + CHUNK]
        try:
            # one append per row, not a list built per chunk: a constructor that
            # raises leaves len(instances) at its own row, which the error names
            if omit:
                for row in chunk:
                    kwargs = dict(zip(keys, row, strict=True))
                    for position in omit:
                        if row[position] is None:
                            del kwargs[keys[position]]
                    made(model(**kwargs))
            else:
                for row in chunk:
                    made(model(**dict(zip(keys, row, strict=True))))
        except Exception as exc:
            failed = len(instances)
            raise LoadError(
                f"{rows.label(failed)}: {model.__name__}(...) raised {type(exc).__name__}: {exc}"
            ) from None
        if progress is not None:
            progress(len(instances), rows.count)
    return instances


# -- the model's columns ---------------------------------------------------------------
def _attributes(mapper: Mapper[Any]) -> dict[str, _Target]:
    """Each column attribute of the model, by its key and by its column's name."""
    found: dict[str, _Target] = {}
    for prop in mapper.column_attrs:
        if not isinstance(prop, ColumnProperty) or len(prop.columns) != 1:
            continue
        column = prop.columns[0]
        if not isinstance(column, Column):
            continue  # a column_property() of an expression: nothing to load into
        target = _target(prop.key, column)
        found.setdefault(prop.key, target)
        found.setdefault(column.name, target)
    return found


def _unique(targets: Iterable[_Target]) -> list[_Target]:
    seen: dict[str, _Target] = {}
    for target in targets:
        seen.setdefault(target.key, target)
    return list(seen.values())


def _nullable(column: Column[Any]) -> bool:
    return bool(column.nullable) and not column.primary_key


def _required(column: Column[Any]) -> bool:
    """NOT NULL with nothing to fill it: no default, server default or autoincrement."""
    if _nullable(column) or column.default is not None or column.server_default is not None:
        return False
    # Table.autoincrement_column is public from SQLAlchemy 2.0.?; 2.0.0 has only the private one
    table = column.table
    auto = getattr(table, "autoincrement_column", table._autoincrement_column)
    return column is not auto


# -- converting one column ---------------------------------------------------------------
def _convert(target: _Target, values: list[Any], rows: Rows) -> list[Any]:
    """``values`` converted to the column's Python type, NULLs as None."""
    try:
        missing = any(v is not None and v != v for v in values)  # the fast common case
    except (TypeError, ValueError):  # a pandas.NA (a nullable Int64 or boolean column)
        missing = True
    if missing:
        values = [None if is_null(v) else v for v in values]
    convert, passthrough = target.convert, target.passthrough
    if convert is not None:
        try:
            values = [v if v.__class__ in passthrough else convert(v) for v in values]
        except (ValueError, TypeError, ArithmeticError):
            raise LoadError(_not_fitting(target, values, rows)) from None
    too_big = oversize_check(target.column)
    if too_big is not None:
        for position, value in enumerate(values):
            reason = None if value is None else too_big(value)
            if reason is not None:
                raise LoadError(f"{rows.label(position)}, column {target.key!r}: {reason}")
    return values


def _not_fitting(target: _Target, values: list[Any], rows: Rows) -> str:
    """The error for the first value of ``values`` that does not convert."""
    convert, position, value = target.convert, 0, None
    reason, hint = f"is not {target.what}", ""
    for position, value in enumerate(values):  # noqa: B007 (read after the loop)
        if value.__class__ in target.passthrough or convert is None:
            continue
        try:
            convert(value)
        except NotFitting as exc:  # the right kind of value, but one the column cannot keep
            reason, hint = str(exc), "; give None for no value"
            break
        except (ValueError, TypeError, ArithmeticError):
            break
    column = target.column
    return (
        f"{rows.label(position)}, column {target.key!r}: {shorten(repr(value), 60)} {reason}"
        f" ({column.table.fullname}.{column.name} is {type_name(column)}){hint}"
    )


def _target(key: str, column: Column[Any]) -> _Target:
    convert, passthrough, what = converter_for(column)
    return _Target(key, column, convert, frozenset({*passthrough, _NONE}), what)
