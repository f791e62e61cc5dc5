"""orm_magic.core.mysql_traps: MySQL's and MariaDB's refusals read as what to change.

The refusals come from plain SQLAlchemy: ``Table.create`` on a real MariaDB
server for the error numbers, the MySQL and MariaDB compilers (no server) for
the refusals SQLAlchemy makes itself. (tests/test_mysql_traps.py checks the
same traps through %%model in a shell, and that the models stay unchanged.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pymysql
import pytest
import sqlalchemy
from sqlalchemy import (
    ARRAY,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.mysql.mariadb import MariaDBDialect
from sqlalchemy.exc import CompileError, DBAPIError
from sqlalchemy.schema import CreateTable

from orm_magic.core.mysql_traps import driver_message, what_to_change


def refusal_of(engine: Engine, *columns: Column) -> DBAPIError:
    """The error plain SQLAlchemy raises creating a table ``t`` of ``columns``."""
    with pytest.raises(DBAPIError) as caught:
        Table("t", MetaData(), *columns).create(engine)
    assert inspect(engine).get_table_names() == []  # refused: nothing was made
    return caught.value


# -- error numbers from a real MariaDB -------------------------------------------------
@pytest.fixture
def maria(mariadb_empty_url: str) -> Iterator[Engine]:
    engine = create_engine(mariadb_empty_url)
    yield engine
    engine.dispose()


@pytest.mark.mariadb
def test_a_long_string_primary_key_is_told_how_long_a_key_may_be(maria) -> None:
    error = refusal_of(maria, Column("url", String(1000), primary_key=True))
    assert driver_message(error.orig) == (
        "Specified key was too long; max key length is 3072 bytes (MySQL error 1071)"
    )
    assert what_to_change(error) == (
        "a key is at most 3072 bytes and utf8mb4 takes 4 a character, so a `String` in a "
        "primary key (on MySQL, in any unique constraint or index) is at most `String(768)`: "
        "shorten it, or key on an `Integer` id"
    )


@pytest.mark.mariadb
def test_a_quoted_sql_default_is_told_to_be_func_now(maria) -> None:
    error = refusal_of(
        maria,
        Column("id", Integer, primary_key=True),
        Column("at", DateTime, server_default="now()"),
    )
    assert driver_message(error.orig) == "Invalid default value for 'at' (MySQL error 1067)"
    assert what_to_change(error) == (
        "a `server_default` string is a value of the column's type, not SQL: for the "
        "current time write `server_default=func.now()`, for a number `server_default='0'` "
        "(column 'at')"
    )


@pytest.mark.mariadb
def test_a_string_longer_than_a_varchar_is_told_to_be_text(maria) -> None:
    error = refusal_of(maria, Column("body", String(20000)))
    assert driver_message(error.orig) == (
        "Column length too big for column 'body' (max = 16383); use BLOB or TEXT instead "
        "(MySQL error 1074)"
    )
    assert what_to_change(error) == (
        "a `String` is at most 16383 characters under utf8mb4: use `Text` for longer text "
        "(column 'body')"
    )


@pytest.mark.mariadb
def test_a_row_too_large_is_told_to_make_long_strings_text(maria) -> None:
    error = refusal_of(maria, Column("a", String(9000)), Column("b", String(9000)))
    assert (driver_message(error.orig) or "").startswith("Row size too large.")
    assert (driver_message(error.orig) or "").endswith("(MySQL error 1118)")
    assert what_to_change(error) == (
        "a row is at most 65535 bytes and each `String` counts in full (4 bytes a "
        "character under utf8mb4): make the long `String` columns `Text`"
    )


# -- SQLAlchemy's own refusals, and errors that are no trap ----------------------------
@pytest.mark.parametrize("dialect", [mysql.dialect(), MariaDBDialect()], ids=["mysql", "mariadb"])
def test_a_string_without_length_is_told_to_be_string_50(dialect) -> None:
    table = Table(
        "users", MetaData(), Column("id", Integer, primary_key=True), Column("name", String)
    )
    with pytest.raises(CompileError) as caught:
        CreateTable(table).compile(dialect=dialect)
    assert what_to_change(caught.value) == (
        "MySQL and MariaDB need a length for every `String` (column users.name): write "
        "`String(50)` in place of `String`; in a typed model, `mapped_column(String(50))`"
    )


def test_a_type_mysql_lacks_is_told_what_to_use_instead() -> None:
    table = Table("posts", MetaData(), Column("tags", ARRAY(Integer)))
    with pytest.raises(CompileError) as caught:
        CreateTable(table).compile(dialect=mysql.dialect())
    assert what_to_change(caught.value) == (
        "MySQL has no ARRAY type: use a type every database has "
        "(`JSON` for a list or a document, a related table for many values)"
    )


def test_an_error_from_another_driver_is_no_trap() -> None:
    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True))
    table.create(engine)
    with pytest.raises(DBAPIError) as caught:
        table.create(engine)  # table t already exists
    assert isinstance(caught.value.orig, sqlite3.OperationalError)
    assert driver_message(caught.value.orig) is None
    assert what_to_change(caught.value) is None


def test_mysqls_refusal_of_a_text_default_is_read_as_what_to_change():
    # MySQL 8's own error, as PyMySQL raises it: MariaDB never sends it, so
    # this checks the reading of the message only, not a real server.
    refusal = pymysql.err.OperationalError(
        1101, "BLOB, TEXT, GEOMETRY or JSON column 'body' can't have a default value"
    )
    line = what_to_change(sqlalchemy.exc.OperationalError("CREATE TABLE notes", {}, refusal))
    assert line is not None
    assert line.startswith("MySQL allows no `server_default` on a `Text`")
    assert line.endswith("use `default=` (set by SQLAlchemy) or a `String(255)` (column 'body')")
