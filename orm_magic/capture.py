"""Recording the SQL that an engine emits, as ``echo=True`` would log it.

One :class:`StatementRecorder` listens on the workspace engine. Every statement
and transaction boundary goes to a bounded kernel-wide log and to the innermost
open :class:`Capture` (a magic's, or the cell's). Statements that carry the
:data:`DISPLAY_OPTION` execution option are orm_magic's own display queries and
are skipped.

The listener does as little as it can per statement: it keeps references to the
statement string and a bounded slice of the parameters. Formatting happens at
display time.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

#: Execution option that marks orm_magic's own display statements.
DISPLAY_OPTION = "orm_magic_display"

#: How many parameter sets of an executemany, or values of one parameter list,
#: are kept per statement. The rest is counted, not stored.
PARAMETER_LIMIT = 20

#: Execution option that names the relationship a load is for (``Author.books``).
LOADER_OPTION = "orm_magic_loader"

#: How many distinct SELECT texts one capture counts repeats of; a block that
#: emits more distinct ones than this stops counting new ones.
REPEAT_KEYS = 200


@dataclass(slots=True)  # one per statement: a bulk flush makes 100,000
class Statement:
    """One statement or transaction boundary, as the engine sent it."""

    seq: int
    sql: str
    parameters: Any = None
    executemany: bool = False
    #: how many parameter sets (executemany) or values were left out
    parameters_omitted: int = 0
    started: float = 0.0  # time.time() when it was sent
    duration: float | None = None  # seconds, None until it completed
    rowcount: int | None = None
    table: str | None = None  # target table of an INSERT/UPDATE/DELETE
    is_transaction: bool = False  # BEGIN (implicit) / COMMIT / ROLLBACK
    #: the relationship this SELECT loads, e.g. ``Author.books`` (see LOADER_OPTION)
    loader: str | None = None


@dataclass
class Repeat:
    """One SELECT text as sent again and again within a capture."""

    sql: str
    count: int
    first_parameters: Any
    #: True once a later execution had parameters unlike the first's
    varied: bool = False
    loader: str | None = None


@dataclass(eq=False)  # identity, not field equality: captures nest and are removed by identity
class Capture:
    """The statements emitted while one block ran, bounded at both ends.

    ``head`` keeps the first statements and ``tail`` the last ones; ``count``
    counts them all, so a block that emits 100,000 statements costs a few
    dozen references.
    """

    keep: int = 50
    head: list[Statement] = field(default_factory=list)
    tail: deque[Statement] = field(default_factory=deque)
    count: int = 0
    tables: dict[str, None] = field(default_factory=dict)  # ordered set
    elapsed: float = 0.0  # summed database time
    rowcount: int = 0  # summed rows affected by DML
    #: SELECT texts and how often each was sent, at most REPEAT_KEYS of them
    repeats: dict[str, Repeat] = field(default_factory=dict)

    def add(self, statement: Statement) -> None:
        self.count += 1
        if statement.table is not None:
            self.tables.setdefault(statement.table, None)
        elif not statement.is_transaction and statement.sql[:6].upper() == "SELECT":
            self._count_repeat(statement)
        if len(self.head) < self.keep:
            self.head.append(statement)
            return
        if self.tail.maxlen != self.keep:
            self.tail = deque(self.tail, maxlen=self.keep)
        self.tail.append(statement)  # a bounded deque drops the oldest itself

    def _count_repeat(self, statement: Statement) -> None:
        # One dict lookup per SELECT; the parameters are compared, not copied.
        repeat = self.repeats.get(statement.sql)
        if repeat is None:
            if len(self.repeats) < REPEAT_KEYS:
                self.repeats[statement.sql] = Repeat(
                    statement.sql, 1, statement.parameters, loader=statement.loader
                )
            return
        repeat.count += 1
        if not repeat.varied and statement.parameters != repeat.first_parameters:
            repeat.varied = True
        if repeat.loader is None:
            repeat.loader = statement.loader

    def repeated(self, threshold: int) -> list[Repeat]:
        """SELECTs sent at least ``threshold`` times with differing parameters (N+1)."""
        if threshold <= 1:
            threshold = 2
        return [r for r in self.repeats.values() if r.count >= threshold and r.varied]

    def finish(self) -> None:
        """Sum durations and affected rows once the block is over."""
        for statement in self.statements:
            if statement.duration is not None:
                self.elapsed += statement.duration
            if statement.table is not None and statement.rowcount and statement.rowcount > 0:
                self.rowcount += statement.rowcount

    @property
    def statements(self) -> list[Statement]:
        """The kept statements, oldest first."""
        return self.head + list(self.tail)

    @property
    def omitted(self) -> int:
        """How many statements between head and tail were not kept."""
        return self.count - len(self.head) - len(self.tail)

    @property
    def sql_count(self) -> int:
        return sum(1 for s in self.statements if not s.is_transaction) + self.omitted


def _bounded(parameters: Any, executemany: bool) -> tuple[Any, int]:
    """A slice of ``parameters`` no longer than PARAMETER_LIMIT, and how much was cut."""
    if isinstance(parameters, (list, tuple)) and len(parameters) > PARAMETER_LIMIT:
        return parameters[:PARAMETER_LIMIT], len(parameters) - PARAMETER_LIMIT
    if not executemany and isinstance(parameters, dict) and len(parameters) > PARAMETER_LIMIT:
        kept = dict(itertools.islice(parameters.items(), PARAMETER_LIMIT))
        return kept, len(parameters) - PARAMETER_LIMIT
    return parameters, 0


_DML = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([\w.\"`\[\]]+)", re.I)


def dml_table_of(sql: str | None) -> str | None:
    """The target table named by an INSERT/UPDATE/DELETE statement's text."""
    match = _DML.match(sql or "")
    return match.group(1).strip('"`[]') if match else None


def _dml_table(context: Any) -> str | None:
    compiled = getattr(context, "compiled", None)
    statement = getattr(compiled, "statement", None)
    if statement is None or not getattr(statement, "is_dml", False):
        return None
    table = getattr(statement, "table", None)
    return getattr(table, "fullname", None) or getattr(table, "name", None)


def tag_relationship_load(orm_execute_state: Any) -> None:
    """``do_orm_execute`` listener: name the relationship a load is for.

    The name travels as an execution option to the cursor event, where the
    statement is recorded; it does not change the SQL.
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


class StatementRecorder:
    """Listens on an engine and records what it emits.

    ``log`` is the kernel-wide log, bounded by ``loglimit``. :meth:`capture`
    opens a block whose statements are also collected into a :class:`Capture`;
    captures nest, and each statement goes to the innermost one only, so a
    magic inside a cell claims its own statements.
    """

    def __init__(self, engine: Engine, loglimit: int = 1000, keep: int = 50) -> None:
        self.engine = engine
        self.log: deque[Statement] = deque(maxlen=loglimit)
        self.keep = keep
        self._seq = itertools.count(1)
        # wall-clock time of a perf_counter() reading: one clock call per statement
        self._epoch = time.time() - time.perf_counter()
        self._captures: list[Capture] = []
        self._lock = threading.Lock()
        self._last_compiled: Any = None  # see _before_cursor_execute
        self._last_table: str | None = None
        self._listeners: list[tuple[str, Callable[..., None]]] = [
            ("before_cursor_execute", self._before_cursor_execute),
            ("after_cursor_execute", self._after_cursor_execute),
            ("begin", self._begin),
            ("commit", self._commit),
            ("rollback", self._rollback),
        ]
        for name, fn in self._listeners:
            event.listen(engine, name, fn)
        # "BEGIN (implicit)" must be recorded before any BEGIN that another
        # begin listener emits (the pysqlite fix does), as echo logs it first:
        # move the other begin listeners behind ours.
        for fn in [f for f in engine.dispatch.begin if f != self._begin]:
            event.remove(engine, "begin", fn)
            event.listen(engine, "begin", fn)

    def close(self) -> None:
        """Stop listening on the engine."""
        for name, fn in self._listeners:
            if event.contains(self.engine, name, fn):
                event.remove(self.engine, name, fn)

    def resize(self, loglimit: int) -> None:
        """Change the bound of the kernel-wide log, keeping the newest entries."""
        self.log = deque(self.log, maxlen=loglimit)

    @contextmanager
    def capture(self) -> Iterator[Capture]:
        """Collect the statements emitted inside the ``with`` block."""
        cap = Capture(keep=self.keep)
        with self._lock:
            self._captures.append(cap)
        try:
            yield cap
        finally:
            with self._lock:
                self._captures.remove(cap)
            cap.finish()

    def _record(self, statement: Statement) -> None:
        with self._lock:
            self.log.append(statement)
            if self._captures:
                self._captures[-1].add(statement)

    # -- engine events ---------------------------------------------------
    def _before_cursor_execute(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        options = context.execution_options if context is not None else {}
        if options.get(DISPLAY_OPTION):
            return
        # insertmanyvalues batches arrive with executemany=True but one flat
        # parameter list; only a list of parameter sets is a real executemany.
        many = bool(
            executemany
            and isinstance(parameters, (list, tuple))
            and parameters
            and isinstance(parameters[0], (list, tuple, dict))
        )
        if not isinstance(parameters, (list, tuple, dict)) or len(parameters) <= PARAMETER_LIMIT:
            # the common case: nothing to cut
            params, omitted = parameters, 0
        else:
            params, omitted = _bounded(parameters, many)
        # A flush sends one compiled INSERT thousands of times: its target
        # table is read once per compiled statement, not once per row.
        compiled = getattr(context, "compiled", None)
        if compiled is None or compiled is not self._last_compiled:
            self._last_compiled, self._last_table = compiled, _dml_table(context)
        t0 = time.perf_counter()
        record = Statement(
            seq=next(self._seq),
            sql=statement,
            parameters=params,
            executemany=many,
            parameters_omitted=omitted,
            started=self._epoch + t0,
            table=self._last_table,
            loader=options.get(LOADER_OPTION),
        )
        if context is not None:
            context._orm_magic_record = record
            context._orm_magic_t0 = t0
        self._record(record)

    def _after_cursor_execute(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        record = getattr(context, "_orm_magic_record", None)
        if record is None:
            return
        record.duration = time.perf_counter() - context._orm_magic_t0
        rowcount = getattr(cursor, "rowcount", -1)
        record.rowcount = rowcount if rowcount is not None and rowcount >= 0 else None
        context._orm_magic_record = None

    def _boundary(self, conn: Connection, sql: str) -> None:
        if conn.get_execution_options().get(DISPLAY_OPTION):
            return
        self._record(
            Statement(seq=next(self._seq), sql=sql, started=time.time(), is_transaction=True)
        )

    def _begin(self, conn: Connection) -> None:
        self._boundary(conn, "BEGIN (implicit)")

    def _commit(self, conn: Connection) -> None:
        self._boundary(conn, "COMMIT")

    def _rollback(self, conn: Connection) -> None:
        self._boundary(conn, "ROLLBACK")
