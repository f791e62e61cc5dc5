"""What one execution is, read once from its context: orm_magic's own, its table, its loader.

Also the bounded slice of parameters a statement is recorded with, the target
table named by a DML statement's text (for error lines), and the
``do_orm_execute`` listener that names the relationship a load is for.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

#: Execution option that marks orm_magic's own display statements.
DISPLAY_OPTION = "orm_magic_display"

#: Execution option that names the relationship a load is for (``Author.books``).
LOADER_OPTION = "orm_magic_loader"

#: How many parameter sets of an executemany, or values of one parameter list,
#: are kept per statement. The rest is counted, not stored.
PARAMETER_LIMIT = 20


def is_parameter_sets(parameters: Any) -> bool:
    return bool(
        isinstance(parameters, (list, tuple))
        and parameters
        and isinstance(parameters[0], (list, tuple, dict))
    )


def bounded(parameters: Any, executemany: bool) -> tuple[Any, int]:
    """A slice of ``parameters`` no longer than PARAMETER_LIMIT, and how much was cut."""
    if isinstance(parameters, (list, tuple)) and len(parameters) > PARAMETER_LIMIT:
        return parameters[:PARAMETER_LIMIT], len(parameters) - PARAMETER_LIMIT
    if not executemany and isinstance(parameters, dict) and len(parameters) > PARAMETER_LIMIT:
        kept = dict(itertools.islice(parameters.items(), PARAMETER_LIMIT))
        return kept, len(parameters) - PARAMETER_LIMIT
    return parameters, 0


#: One part of a name: "quoted" (a doubled quote inside), `quoted`, [quoted] or bare.
_PART = r'(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|[\w$]+)'
_DML = re.compile(
    rf"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+({_PART}(?:\s*\.\s*{_PART})*)", re.I
)


def _unquoted(part: str) -> str:
    if part[:1] == '"':
        return part[1:-1].replace('""', '"')
    if part[:1] == "`":
        return part[1:-1].replace("``", "`")
    return part[1:-1] if part[:1] == "[" else part


def dml_table_of(sql: str | None) -> str | None:
    """The target table named by an INSERT/UPDATE/DELETE statement's text,
    unquoted and whole (``"order lines"``, `` `shop`.`orders` ``)."""
    match = _DML.match(sql or "")
    if not match:
        return None
    return ".".join(_unquoted(part) for part in re.findall(_PART, match.group(1)))


def _dml_table(compiled: Any) -> str | None:
    statement = getattr(compiled, "statement", None)
    if statement is None or not getattr(statement, "is_dml", False):
        return None
    table = getattr(statement, "table", None)
    return getattr(table, "fullname", None) or getattr(table, "name", None)


def execution_facts(context: Any) -> tuple[bool, str | None, str | None]:
    """Whether an execution is orm_magic's own display, its DML table, its loader."""
    if context is None:  # a driver-level statement SQLAlchemy sends on its own
        return False, None, None
    options = context.execution_options
    if options.get(DISPLAY_OPTION) or _outside_pool(context):
        return True, None, None
    return False, _dml_table(context.compiled), options.get(LOADER_OPTION)


def _outside_pool(context: Any) -> bool:
    """True for the dialect's first-connect check (``select pg_catalog.version()``).

    It runs before the connection joins the pool, on an ad-hoc proxy whose
    ``info`` raises NotImplementedError, and was never the user's SQL; echo
    logs it, the old cursor listeners never saw it.
    """
    try:
        pooled = context.root_connection.connection
    except Exception:  # a closed or invalidated Connection: still the user's
        return False
    try:
        pooled.info  # noqa: B018 -- only whether it can be read
    except NotImplementedError:
        return True
    return False


def tag_relationship_load(orm_execute_state: Any) -> None:
    """``do_orm_execute`` listener: name the relationship a load is for.

    The name travels as an execution option to the dialect's ``do_execute``
    event, where the statement is recorded; it does not change the SQL.
    """
    if not orm_execute_state.is_relationship_load:
        return
    path = orm_execute_state.loader_strategy_path
    prop = getattr(path, "prop", None)
    parent = getattr(prop, "parent", None)
    if prop is None or parent is None:
        return
    orm_execute_state.update_execution_options(
        **{LOADER_OPTION: f"{parent.class_.__name__}.{prop.key}"}
    )
