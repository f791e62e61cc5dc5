"""MySQL's and MariaDB's traps: model code that works on SQLite and PostgreSQL
but fails there, each told as what to change.

Courses often teach the ORM on MySQL or MariaDB. Their refusals (a
``String`` without a length, a ``Text`` column in a key, ...) come as a
compiler message or an error number; :func:`what_to_change` turns the ones a
learner meets into one line naming the fix. :func:`driver_message` reads
the MySQL drivers' ``(1062, "Duplicate entry ...")`` as words.
"""

from __future__ import annotations

import re

import sqlalchemy.exc

#: SQLAlchemy's compile-time refusal, with the column it was compiling.
_NO_LENGTH = re.compile(
    r"(?:\(in table '(?P<table>[^']+)', column '(?P<column>[^']+)'\): )?"
    r"VARCHAR requires a length on dialect (?:mysql|mariadb)"
)
_UNRENDERABLE = re.compile(r"can't render element of type (?P<type>\w+)")
_QUOTED = re.compile(r"'([^']*)'")

#: MySQL's error numbers for the traps, and what to change for each. (MariaDB
#: allows more than MySQL: a ``Text`` or a long ``String`` in a unique
#: constraint (a hash key), a ``Text`` with a default, a long index (a prefix).)
_BY_CODE = {
    # BLOB/TEXT column 'x' used in key specification without a key length
    1170: "a column in a primary key (on MySQL, in any key or index) cannot be `Text`: "
    "use `String(255)`",
    # Identifier name '...' is too long (a column's); Incorrect table name '...'
    1059: "MySQL's names (tables, columns, constraints) are at most 64 characters: "
    "choose a shorter name",
    # Can't create table ... (errno: 150 "Foreign key constraint is incorrectly formed")
    1005: "a foreign key on MySQL needs the same type as the column it references "
    "(`Integer` to `Integer`, the same `String` length)",
    # Specified key was too long; max key length is 3072 bytes
    1071: "a key is at most 3072 bytes and utf8mb4 takes 4 a character, so a `String` in a "
    "primary key (on MySQL, in any unique constraint or index) is at most `String(768)`: "
    "shorten it, or key on an `Integer` id",
    # Invalid default value for 'x': a server_default string is a quoted value
    1067: "a `server_default` string is a value of the column's type, not SQL: for the "
    "current time write `server_default=func.now()`, for a number `server_default='0'`",
    # BLOB, TEXT, GEOMETRY or JSON column 'x' can't have a default value (MySQL only)
    1101: "MySQL allows no `server_default` on a `Text`, `LargeBinary` or `JSON` column: "
    "use `default=` (set by SQLAlchemy) or a `String(255)`",
    # Column length too big for column 'x' (max = 16383); use BLOB or TEXT instead
    1074: "a `String` is at most 16383 characters under utf8mb4: use `Text` for longer text",
    # Row size too large ... You have to change some columns to TEXT or BLOBs
    1118: "a row is at most 65535 bytes and each `String` counts in full (4 bytes a "
    "character under utf8mb4): make the long `String` columns `Text`",
}
#: The traps whose message quotes the column first.
_NAMES_COLUMN = {1170, 1067, 1101, 1074}
#: MySQL's longest name.
MAX_NAME = 64
#: Error 1005 is any failed CREATE TABLE; only errno 150 is the foreign key trap.
_FOREIGN_KEY_ERRNO = "errno: 150"


def driver_message(orig: BaseException) -> str | None:
    """``Duplicate entry '1' for key 'PRIMARY' (MySQL error 1062)`` from a MySQL
    driver's error, whose text is the tuple ``(1062, "...")``; None for others."""
    code, message = _code_and_message(orig)
    return None if code is None else f"{message} (MySQL error {code})"


def what_to_change(exc: BaseException) -> str | None:
    """One line naming what to change, when ``exc`` is one of MySQL's traps; else None."""
    text = str(exc)
    if isinstance(exc, sqlalchemy.exc.CompileError):
        no_length = _NO_LENGTH.search(text)
        if no_length:
            where = (
                f" (column {no_length['table']}.{no_length['column']})"
                if no_length["table"]
                else ""
            )
            return (
                f"MySQL and MariaDB need a length for every `String`{where}: write "
                "`String(50)` in place of `String`; in a typed model, "
                "`mapped_column(String(50))`"
            )
        unrenderable = _UNRENDERABLE.search(text)
        if unrenderable and "mysql" in text.lower():
            return (
                f"MySQL has no {unrenderable['type']} type: use a type every database has "
                "(`JSON` for a list or a document, a related table for many values)"
            )
        return None
    code, message = _code_and_message(getattr(exc, "orig", None))
    named = _QUOTED.search(message)
    if code == 1103 and named and len(named.group(1)) > MAX_NAME:
        code = 1059  # a table name refused for its length
    if code not in _BY_CODE or (code == 1005 and _FOREIGN_KEY_ERRNO not in message):
        return None
    named = named if code in _NAMES_COLUMN else None
    column = f" (column '{named.group(1)}')" if named else ""
    return f"{_BY_CODE[code]}{column}"


def _code_and_message(orig: BaseException | None) -> tuple[int | None, str]:
    """MySQL's error number and message from a PyMySQL or mysqlclient error."""
    if orig is None or not type(orig).__module__.startswith(("pymysql", "MySQLdb")):
        return None, ""
    args = orig.args
    if len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return args[0], args[1]
    return None, ""
