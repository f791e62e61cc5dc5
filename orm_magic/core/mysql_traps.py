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
#: allows more than MySQL: a ``Text`` in a unique constraint, or with a default.)
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
}
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
    named = named if code == 1170 else None
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
