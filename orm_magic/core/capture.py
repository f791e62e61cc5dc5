"""Recording the SQL that an engine emits, as ``echo=True`` would log it.

One :class:`StatementRecorder` listens on the workspace engine's dialect (see
its docstring for why not on the engine). Every statement and transaction
boundary goes to a bounded kernel-wide log and to the innermost open
:class:`Capture` (a magic's, or the cell's); orm_magic's own reads (marked with
:data:`DISPLAY_OPTION`) are skipped. Per statement the recorder keeps one list:
the string and a bounded slice of the parameters. :class:`Statement` objects
are built, and formatted, only for what a display keeps.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from ..data.statements import AT_DURATION, AT_ROWCOUNT, AT_SESSION, Capture, Entry, Statement
from . import snapshots
from .dbapi import in_transaction
from .executions import PARAMETER_LIMIT, bounded, execution_facts, is_parameter_sets

#: Attribute of a pooled connection's checkout: how many BEGINs the recorder
#: logged on it that no COMMIT or ROLLBACK has ended yet.
_BEGUN = "_orm_magic_begun"
#: Attribute of a display checkout: True while it holds a transaction it began (_guest_begin).
_OWN = "_orm_magic_own"
#: Attribute of a display connection's checkout: it is a guest (admit_guest).
_GUEST = "_orm_magic_guest"
#: Attributes of a checkout: its session's name, and a BEGIN awaiting one (label).
_SESSION, _OPENING = "_orm_magic_session", "_orm_magic_opening"


class StatementRecorder:
    """Listens on an engine and records what it emits.

    ``log`` is the kernel-wide log, bounded by ``loglimit``. :meth:`capture`
    opens a block whose statements are also collected into a :class:`Capture`;
    captures nest, and each statement goes to the innermost one only, so a
    magic inside a cell claims its own statements.

    How it listens is chosen for cost. Any Connection event on an engine
    (``before_cursor_execute``, and even ``begin`` alone) makes SQLAlchemy
    dispatch two events per cursor call, which costs 8 to 11% of a 100,000-row
    flush on SQLite with listeners that do nothing. So the recorder uses none:

    - statements are recorded by the dialect's ``do_execute``,
      ``do_executemany`` and ``do_execute_no_params`` events, which run the
      dialect's own method, timed, in place of SQLAlchemy's call of it (so a
      ``do_execute`` listener added after this one is not called);
    - BEGIN (implicit), COMMIT and ROLLBACK are recorded by wrapping the
      dialect's ``do_begin``, ``do_commit`` and ``do_rollback`` on this
      engine's dialect instance, just where ``echo`` logs them. The pool's
      reset-on-return calls ``do_rollback`` too, but ``echo`` does not log it:
      a ROLLBACK or COMMIT is recorded only where a recorded BEGIN is
      still open on that checkout of the pooled connection.
    """

    def __init__(self, engine: Engine, loglimit: int = 1000, keep: int = 50) -> None:
        self.engine = engine
        self._entries: deque[Entry] = deque(maxlen=loglimit)
        self.keep = keep
        self._seq = itertools.count(1)
        # wall-clock time of a perf_counter() reading: one clock call per statement
        self._epoch = time.time() - time.perf_counter()
        self._captures: list[Capture] = []
        self._innermost: Capture | None = None
        #: a DML statement with RETURNING whose row count is not known yet
        self._unsettled: tuple[Entry, Any, Capture | None] | None = None
        self._lock = threading.Lock()
        self.labelled = False  # several sessions: each statement carries its session's name
        self._marks = engine.dialect.name != "sqlite"  # SQLite: no read changes a transaction
        dialect = engine.dialect
        self._do_execute = dialect.do_execute
        self._do_executemany = dialect.do_executemany
        no_params = dialect.do_execute_no_params
        self._do_execute_no_params = lambda cursor, statement, _, context: no_params(
            cursor, statement, context
        )
        self._listeners: list[tuple[str, Callable[..., Any]]] = [
            ("do_execute", self._timed),
            ("do_executemany", self._on_executemany),
            ("do_execute_no_params", self._on_execute_no_params),
        ]
        for name, fn in self._listeners:
            event.listen(engine, name, fn)
        # The dialect's own methods (or another wrapper of them, such as the
        # pysqlite fix in engine.py), called after recording, as echo logs first.
        self._wrappers: dict[str, Callable[[Any], None]] = {
            "do_begin": self._begin,
            "do_commit": self._commit,
            "do_rollback": self._rollback,
        }
        self._wrapped: dict[str, Callable[[Any], None]] = {}
        self._replaced: dict[str, Any] = {}
        for name, fn in self._wrappers.items():
            self._replaced[name] = vars(dialect).get(name)
            self._wrapped[name] = getattr(dialect, name)
            setattr(dialect, name, fn)

    def close(self) -> None:
        """Stop listening on the engine."""
        for name, fn in self._listeners:
            if event.contains(self.engine, name, fn):
                event.remove(self.engine, name, fn)
        dialect = self.engine.dialect
        for name, previous in self._replaced.items():
            if vars(dialect).get(name) != self._wrappers[name]:
                continue  # wrapped again since: leave the newer wrapper in place
            if previous is None:
                vars(dialect).pop(name, None)
            else:
                setattr(dialect, name, previous)
        self._replaced.clear()

    @property
    def log(self) -> list[Statement]:
        """The kernel-wide log, oldest first: at most ``loglimit`` statements."""
        self._settle()
        return [Statement(*entry) for entry in self._entries]

    def resize(self, loglimit: int) -> None:
        """Change the bound of the kernel-wide log, keeping the newest entries."""
        self._entries = deque(self._entries, maxlen=loglimit)

    def continue_from(self, other: StatementRecorder) -> None:
        """Carry on ``other``'s log and numbering (a new engine, one kernel log)."""
        self._entries.extend(other._entries)
        self._seq = other._seq
        self.labelled = other.labelled

    def label(self, dbapi_connection: Any, session: str | None) -> None:
        """Name the session holding this checkout (None: ended), and its BEGIN."""
        setattr(dbapi_connection, _SESSION, session)
        opening = getattr(dbapi_connection, _OPENING, None)
        if opening is not None:
            setattr(dbapi_connection, _OPENING, None)
            if session is not None and opening[AT_SESSION] is None:
                opening[AT_SESSION] = session

    @contextmanager
    def capture(self) -> Iterator[Capture]:
        """Collect the statements emitted inside the ``with`` block."""
        cap = Capture(keep=self.keep)
        with self._lock:
            self._captures.append(cap)
            self._innermost = cap
        try:
            yield cap
        finally:
            self._settle()
            with self._lock:
                self._captures.remove(cap)
                self._innermost = self._captures[-1] if self._captures else None

    @staticmethod
    def admit_guest(connection: Any) -> None:
        """Make a display's own Connection a guest, before it runs anything.

        Its BEGIN, COMMIT and ROLLBACK are not recorded, and it never begins
        or ends a transaction that someone else holds on a shared connection
        (see :meth:`_guest_begin`). The mark is on this checkout of the pooled
        connection, not on the thread: whatever else the pool does meanwhile
        (the rollback of a user's abandoned Connection that the garbage
        collector returns, say) is not a guest's and runs as it always does.
        """
        setattr(connection.connection, _GUEST, True)

    # -- statements: dialect events that run the dialect's method, timed -----
    def _on_executemany(self, cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        return self._timed(cursor, statement, parameters, context, self._do_executemany, True)

    def _on_execute_no_params(self, cursor: Any, statement: str, context: Any) -> bool:
        return self._timed(cursor, statement, (), context, self._do_execute_no_params)

    def _timed(
        self,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        run: Callable[[Any, str, Any, Any], None] | None = None,
        executemany: bool = False,
    ) -> bool:
        """Record the statement, run it, and fill in its duration and rowcount.

        Returns False, leaving the statement to SQLAlchemy, for orm_magic's own
        display statements. This runs once per cursor call, 100,000 times in a
        bulk flush: it makes one list and touches the innermost capture only.
        """
        if self._unsettled is not None:  # the previous statement's rows are fetched by now
            self._settle()
        # What holds for every cursor call of one execution is read once and
        # kept on its context: insertmanyvalues sends one compiled INSERT
        # through the same context once per row on SQLite.
        known = getattr(context, "_orm_magic", None)
        if known is None:
            known = execution_facts(context)
            if context is not None:
                context._orm_magic = known
                if self._marks and not known[0]:  # what the transaction ran (snapshots.py)
                    snapshots.mark(context.root_connection.connection, statement)
        hidden, table, loader = known
        if hidden:
            return False
        # Only a list of parameter sets is shown as an executemany; SQLite's
        # insertmanyvalues batches come as do_execute with one flat list.
        many = executemany and is_parameter_sets(parameters)
        if not isinstance(parameters, (list, tuple, dict)) or len(parameters) <= PARAMETER_LIMIT:
            params, omitted = parameters, 0  # the common case: nothing to cut
        else:
            params, omitted = bounded(parameters, many)
        t0 = time.perf_counter()
        # Statement's fields, in order (see Entry)
        session = None  # one attribute read while the workspace has one session
        if self.labelled and context is not None:
            session = getattr(context.root_connection.connection, _SESSION, None)
        entry = [next(self._seq), statement, params, many, omitted, self._epoch + t0, None, None,
                 table, False, loader, session]  # fmt: skip
        self._entries.append(entry)
        cap = self._innermost
        if cap is not None:
            cap.add(entry)
        (run or self._do_execute)(cursor, statement, parameters, context)  # raises as unrecorded
        entry[AT_DURATION] = duration = time.perf_counter() - t0
        if cap is not None:
            cap.elapsed += duration
        rowcount = cursor.rowcount
        if rowcount is not None and rowcount > 0:
            entry[AT_ROWCOUNT] = rowcount
            if cap is not None and table is not None:
                cap.rowcount += rowcount
        elif table is not None:
            # DML with RETURNING, which pysqlite counts only as SQLAlchemy
            # fetches the rows, after this returns (or an UPDATE of no row):
            # the count is read again at the next event.
            self._unsettled = (entry, cursor, cap)
        elif rowcount == 0:
            entry[AT_ROWCOUNT] = 0
        return True

    # -- transaction boundaries ----------------------------------------------
    def _settle(self) -> None:
        """Read the row count of the last DML statement that had none, fetched by now."""
        unsettled, self._unsettled = self._unsettled, None
        if unsettled is None:
            return
        entry, cursor, cap = unsettled
        rowcount = getattr(cursor, "rowcount", -1)
        if rowcount is not None and rowcount >= 0:
            entry[AT_ROWCOUNT] = rowcount
            if cap is not None:
                cap.rowcount += rowcount

    def _boundary(self, sql: str, dbapi_connection: Any) -> None:
        self._settle()
        session = getattr(dbapi_connection, _SESSION, None) if self.labelled else None
        entry = [next(self._seq), sql, None, False, 0, time.time(), None, None, None, True, None,
                 session]  # fmt: skip
        if self.labelled and session is None:
            setattr(dbapi_connection, _OPENING, entry)  # a session may claim it (label)
        self._entries.append(entry)
        cap = self._innermost
        if cap is not None:
            cap.add(entry)

    # Each checkout of a pooled connection (the proxy SQLAlchemy passes here)
    # counts the BEGINs recorded on it and not yet ended. Per checkout, not
    # per DBAPI connection: with StaticPool every Connection shares the one
    # DBAPI connection, and the pool's rollback-on-return of one checkout
    # must not end another's transaction in the log.
    # Recording never stops the dialect's own method from running.
    def _begin(self, dbapi_connection: Any) -> None:
        if getattr(dbapi_connection, _GUEST, False):
            self._guest_begin(dbapi_connection)
            return
        try:
            snapshots.forget(dbapi_connection)
            setattr(dbapi_connection, _BEGUN, getattr(dbapi_connection, _BEGUN, 0) + 1)
            self._boundary("BEGIN (implicit)", dbapi_connection)
        finally:
            self._wrapped["do_begin"](dbapi_connection)

    # A display's connection is a guest. On a DBAPI connection shared with
    # someone else's open transaction (the in-memory database's one
    # connection) it begins nothing and reads inside that transaction; it
    # ends, at its COMMIT, ROLLBACK or the pool's reset, only a transaction
    # that it began itself on this checkout.
    def _guest_begin(self, dbapi_connection: Any) -> None:
        if in_transaction(dbapi_connection):
            return  # someone else's: read inside it, and leave it to them
        setattr(dbapi_connection, _OWN, True)
        self._wrapped["do_begin"](dbapi_connection)

    def _end(self, dbapi_connection: Any, name: str, sql: str) -> None:
        if getattr(dbapi_connection, _GUEST, False):
            if getattr(dbapi_connection, _OWN, False):
                setattr(dbapi_connection, _OWN, False)
                self._wrapped[name](dbapi_connection)
            return  # nothing of the guest's to end: another's transaction stays
        try:
            begun = getattr(dbapi_connection, _BEGUN, 0)
            if begun > 0:
                setattr(dbapi_connection, _BEGUN, begun - 1)
                self._boundary(sql, dbapi_connection)
        finally:
            self._wrapped[name](dbapi_connection)

    def _commit(self, dbapi_connection: Any) -> None:
        self._end(dbapi_connection, "do_commit", "COMMIT")

    def _rollback(self, dbapi_connection: Any) -> None:
        self._end(dbapi_connection, "do_rollback", "ROLLBACK")
