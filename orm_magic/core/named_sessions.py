"""The named sessions of one workspace: ``main`` first, more with ``%orm_use NAME``.

Each session is a plain ``Session(engine)`` and gets its own connection from
the pool when its transaction begins, as separate clients of a server would.
The book knows which connection each session's transaction holds, so that
displays read through it, statements are labelled with its name and a lock
error can name the session that holds the lock.
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import ORMExecuteState, Session

from ..data.tables import Pending
from .conflicts import Versioned, versioned_before_flush
from .dbapi import aborted
from .executions import tag_relationship_load
from .uncommitted import Changes, changes, unsaved

#: The first session of every workspace.
MAIN = "main"
#: A session's name: a Python identifier, short enough to label a statement.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,30}\Z")

#: Called with a checkout and the session that now holds it (None: released).
Labeller = Callable[[Any, "str | None"], None]


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a session, or None when it can."""
    if _NAME.match(name):
        return None
    return f"{name!r} is not a session name; use letters, digits and _ (at most 31)"


#: What a ``with_for_update()`` on SQLite is told (a note of the magic's report).
FOR_UPDATE_ON_SQLITE = (
    "with_for_update() renders no FOR UPDATE on SQLite, which locks the whole database "
    "at the first write instead of rows; row locks need a server (PostgreSQL, MariaDB, MySQL)"
)


def warn_for_update_on_sqlite(state: ORMExecuteState) -> None:
    """Say that SQLite leaves out ``FOR UPDATE``: the lesson would otherwise mislead."""
    if getattr(state.statement, "_for_update_arg", None) is None:
        return  # one attribute read per ORM execution
    if state.session.get_bind().dialect.name == "sqlite":
        warnings.warn(FOR_UPDATE_ON_SQLITE, stacklevel=2)


@dataclass(frozen=True)
class SessionRow:
    """One session as ``%orm_use`` lists it, read without SQL."""

    name: str
    current: bool
    transaction: str  # none, active, failed
    new: int
    dirty: int
    deleted: int


class NamedSession:
    """One session of the workspace, and the connection its transaction holds."""

    def __init__(self, name: str, engine: Engine, labeller: Labeller) -> None:
        self.name = name
        self.session = Session(engine)
        #: the connection of the open transaction; None outside one
        self.connection: Connection | None = None
        #: whether this transaction flushed (a rollback then undoes rows)
        self.flushed = False
        #: versioned objects as the last flush began (see conflicts)
        self.versioned: list[Versioned] = []
        #: modified and deleted objects as the flush under way began (a failed one reverts them)
        self.at_flush: Changes | None = None
        self._labeller = labeller
        self._watch()

    def _watch(self) -> None:
        session = self.session

        @event.listens_for(session, "after_begin")
        def after_begin(session: Session, transaction: Any, connection: Connection) -> None:
            self.connection = connection
            self._labeller(connection.connection, self.name)

        @event.listens_for(session, "after_transaction_end")
        def after_end(session: Session, transaction: Any) -> None:
            if transaction.parent is None:
                connection, self.connection = self.connection, None
                self.flushed, self.at_flush = False, None
                if connection is not None and not connection.closed:
                    self._labeller(connection.connection, None)

        @event.listens_for(session, "after_flush")
        def after_flush(session: Session, context: Any) -> None:
            self.flushed, self.at_flush = True, None

        # what a version conflict names, taken while the objects still hold it
        @event.listens_for(session, "before_flush")
        def before_flush(session: Session, context: Any, instances: Any) -> None:
            self.versioned = versioned_before_flush(session)
            self.at_flush = changes(session)

        # names the relationship each load is for (N+1 reports)
        event.listen(session, "do_orm_execute", tag_relationship_load)
        event.listen(session, "do_orm_execute", warn_for_update_on_sqlite)

    def transaction_state(self) -> str:
        """``none``, ``active`` or ``failed`` (awaiting a rollback), read without SQL."""
        transaction = self.session.get_transaction()
        if transaction is None:
            return "none"
        if not transaction.is_active:
            return "failed"
        conn = self.connection
        if conn is not None and not (conn.closed or conn.invalidated):
            dbapi_connection = conn.connection.dbapi_connection
            if dbapi_connection is not None and aborted(dbapi_connection):
                return "failed"
        return "active"

    def unsaved(self, before: Pending | None = None) -> str:
        """What a rollback of this session now would discard, in words; "" when nothing."""
        return unsaved(self.session, self.flushed, before, self.at_flush)

    def row(self, current: bool) -> SessionRow:
        session = self.session
        # the session's own dicts: sizes without building the sets
        new, deleted = len(session._new), len(session._deleted)
        dirty = len(session.identity_map._modified)
        return SessionRow(self.name, current, self.transaction_state(), new, dirty, deleted)


class SessionBook:
    """The workspace's sessions by name, and which one is current."""

    def __init__(self, engine: Engine, labeller: Labeller) -> None:
        self.engine = engine
        self._labeller = labeller
        self._sessions: dict[str, NamedSession] = {}
        self.current = self._open(MAIN)

    def _open(self, name: str) -> NamedSession:
        named = NamedSession(name, self.engine, self._labeller)
        self._sessions[name] = named
        return named

    def __iter__(self) -> Iterator[NamedSession]:
        return iter(list(self._sessions.values()))

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, name: str) -> bool:
        return name in self._sessions

    def get(self, name: str) -> NamedSession | None:
        """The session called ``name``, or None."""
        return self._sessions.get(name)

    def use(self, name: str) -> bool:
        """Make ``name`` current, opening it first if new; True when it was opened."""
        named = self._sessions.get(name)
        created = named is None
        if named is None:
            named = self._open(name)
        self.current = named
        return created

    def others(self) -> list[NamedSession]:
        """Every session but the current one."""
        return [s for s in self._sessions.values() if s is not self.current]

    def rebind(self, engine: Engine) -> None:
        """Point every session at ``engine``; none may be in a transaction."""
        self.engine = engine
        for named in self._sessions.values():
            named.session.bind = engine

    def close(self) -> None:
        """Close every session (uncommitted work is rolled back)."""
        for named in self._sessions.values():
            named.session.close()

    def unsaved(self) -> str:
        """What closing every session would discard, in words, naming each once several."""
        if len(self._sessions) == 1:
            return self.current.unsaved()
        lost = ((s.name, s.unsaved()) for s in self._sessions.values())
        return "; ".join(f"session {name!r}: {what}" for name, what in lost if what)

    def rows(self, limit: int) -> list[SessionRow]:
        """The oldest ``limit`` sessions, the current one always among them (``%orm_use``)."""
        shown = list(itertools.islice(self._sessions.values(), max(1, limit)))
        if self.current not in shown:
            shown[-1] = self.current
        return [s.row(s is self.current) for s in shown]
