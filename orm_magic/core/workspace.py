"""The kernel-wide workspace: one engine, one declarative ``Base``, one session.

Nothing here knows of IPython. The magics parse a line, call a method here and
display what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapper, RelationshipProperty, Session
from sqlalchemy.orm.exc import UnmappedClassError
from sqlalchemy.schema import sort_tables

from ..data.statements import Capture
from ..data.tables import Pending, TableData
from . import reading, uncommitted
from .capture import StatementRecorder
from .conflicts import describe_conflict
from .dbapi import aborted
from .engine import is_memory_url, new_base, open_engine
from .errors import WorkspaceError, describe_error, first_line
from .isolation import TemporaryDatabase, move_to_file
from .locks import LockTimeout, describe_lock_error, name_display_holders
from .named_sessions import SessionBook
from .urls import mask_secrets, safe_url


class Workspace:
    """Engine, ``Base``, session and SQL log of one kernel."""

    def __init__(self, url: str = "sqlite://", loglimit: int = 1000) -> None:
        self.url = url
        self.loglimit = loglimit
        self.engine = open_engine(url)
        self.recorder = StatementRecorder(self.engine, loglimit=loglimit)
        self.Base = new_base()
        #: mapped classes by name, as %%model cells defined them (newest wins)
        self.models: dict[str, type] = {}
        #: the temporary file the in-memory database moved to (see use)
        self.temporary: TemporaryDatabase | None = None
        self.lock_timeout = LockTimeout()
        self.sessions = SessionBook(self.engine, self._label)
        #: connections found dead and replaced (pool_pre_ping), and how many were told
        self.reconnects = 0
        self._reconnects_told = 0
        self._watch_engine(self.engine)

    @property
    def session(self) -> Session:
        """The current session (``%orm_use``)."""
        return self.sessions.current.session

    @property
    def _session_connection(self) -> Connection | None:
        return self.sessions.current.connection

    def _label(self, dbapi_connection: Any, name: str | None) -> None:
        self.recorder.label(dbapi_connection, name)

    def use(self, name: str) -> bool:
        """Make session ``name`` current, opening it on first use; True when opened.

        A second session moves the in-memory database to a file (:mod:`.isolation`).
        """
        if name not in self.sessions and len(self.sessions) == 1 and is_memory_url(self.url):
            engine, self.temporary = move_to_file(self.engine, self.session)
            recorder = StatementRecorder(engine, loglimit=self.loglimit)
            recorder.continue_from(self.recorder)
            self.recorder.close()
            old, self.engine, self.recorder = self.engine, engine, recorder
            self._watch_engine(engine)
            self.sessions.rebind(engine)
            old.dispose()
        created = self.sessions.use(name)
        self.recorder.labelled = len(self.sessions) > 1
        return created

    def describe_error(self, exc: BaseException) -> str:
        """A database error in one line; lock errors and version conflicts name sessions."""
        lock = describe_lock_error(
            exc, self.sessions, self.engine, self.recorder, self.lock_timeout.seconds
        ) or describe_conflict(exc, self.sessions.current.versioned, self.engine, self.recorder)
        return describe_error(exc) if lock is None else lock

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        """Close the sessions, stop recording, release the engine and any temporary file."""
        self.sessions.close()
        self.recorder.close()
        self.engine.dispose()
        if self.temporary is not None:
            self.temporary.remove()

    def connect(self, url: str) -> Capture:
        """Switch to the database at ``url``, keeping ``Base`` and the models.

        The new engine is tested and the models' missing tables are created
        on it before anything changes: on any failure this raises a
        WorkspaceError and the workspace stays on its previous database. On
        success the old session is closed (uncommitted work is rolled back)
        and its engine disposed. Returns the capture of the DDL emitted.
        """
        engine = open_engine(url)
        recorder = StatementRecorder(engine, loglimit=self.loglimit)
        # one kernel-wide log across connections, numbered on
        recorder.continue_from(self.recorder)
        try:
            with engine.connect():
                pass
            with recorder.capture() as capture:
                self.create_tables(self.tables().values(), bind=engine)
        except Exception as exc:
            recorder.close()
            engine.dispose()
            message = mask_secrets(first_line(exc))
            raise WorkspaceError(f"cannot use {safe_url(url)}: {message}") from exc
        old_engine, old_recorder = self.engine, self.recorder
        self.sessions.close()
        self.url, self.engine, self.recorder = url, engine, recorder
        recorder.labelled = False  # one session again: main
        self.sessions = SessionBook(engine, self._label)
        self._watch_engine(engine)
        old_recorder.close()
        old_engine.dispose()
        if self.temporary is not None:
            self.temporary.remove()
            self.temporary = None
        return capture

    def _watch_engine(self, engine: Engine) -> None:
        self.lock_timeout.install(engine)

        # pool_pre_ping replaces a dead connection silently; counting the
        # invalidations lets the next magic say that it happened.
        @event.listens_for(engine, "invalidate")
        def invalidated(dbapi_connection: Any, record: Any, exception: Any) -> None:
            self.reconnects += 1

    def transaction_aborted(self) -> bool:
        """True when the server refuses statements until a rollback.

        PostgreSQL aborts a transaction at its first error ("current transaction
        is aborted"), while SQLAlchemy's session still counts it as active when
        the failed statement was plain code's, not a flush. The driver knows.
        """
        conn = self._session_connection
        if conn is None or conn.closed or conn.invalidated:
            return False
        dbapi_connection = conn.connection.dbapi_connection
        if dbapi_connection is None:  # the pool detached it: no transaction to ask about
            return False
        return aborted(dbapi_connection)

    def take_reconnects(self) -> int:
        """How many connections were lost and replaced since the last call."""
        news = self.reconnects - self._reconnects_told
        self._reconnects_told = self.reconnects
        return news

    def drop_own_tables(self) -> list[str]:
        """Drop the workspace's own tables (:meth:`tables`), and no other; return their names.

        Dependents go first: an association table before the tables it links.
        """
        tables = list(self.tables().values())
        for metadata, group in reversed(self._by_metadata(tables)):
            metadata.drop_all(self.engine, tables=group, checkfirst=True)
        return [table.fullname for table in tables]

    # -- the session -----------------------------------------------------
    def add(self, instances: list[Any]) -> None:
        self.session.add_all(instances)

    def merge(self, instances: list[Any]) -> list[Any]:
        return [self.session.merge(instance) for instance in instances]

    def delete(self, instances: list[Any]) -> None:
        for instance in instances:
            self.session.delete(instance)

    def flush(self) -> None:
        self.session.flush()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def pending(self) -> Pending:
        """How many objects are pending, and the kinds of a bounded few."""
        return uncommitted.pending(self.session)

    def unsaved(self, before: Pending | None = None) -> str:
        """What a rollback now would discard, in words; "" when nothing."""
        return self.sessions.current.unsaved(before)

    def session_failed(self) -> bool:
        """True when the session's transaction failed (a flush) and awaits a rollback."""
        transaction = self.session.get_transaction()
        return transaction is not None and not transaction.is_active

    def recover(self, force: bool = False, before: Pending | None = None) -> str:
        """Roll back a session whose transaction failed (or any, with ``force``).

        Failed means what plain SQLAlchemy would also have to roll back: a
        failed flush, or a PostgreSQL transaction aborted by a failed
        statement. Returns what was discarded, in words; "" when there was
        nothing to do.
        """
        aborted = self.transaction_aborted()
        if not (self.session_failed() or aborted or force):
            return ""
        nested = self.session.get_nested_transaction()
        if aborted and not force and nested is not None and nested.is_active:
            # the failed statement ran inside a savepoint: plain SQLAlchemy
            # rolls back that savepoint (nested.rollback()), not the whole
            # transaction, and the work before it stays
            nested.rollback()
            return "the savepoint the failed statement ran in (ROLLBACK TO SAVEPOINT)"
        lost = self.unsaved(before)
        self.session.rollback()
        return lost or "nothing was pending"

    def discard_session_changes(self) -> str:
        """Roll back and forget every object, as a model redefinition requires."""
        lost = self.unsaved()
        if self.session.in_transaction():
            self.session.rollback()
        self.session.expunge_all()
        return lost

    def pending_summary(self) -> str:
        """One line on what the session holds that the database does not."""
        return uncommitted.pending_summary(self.session)

    def state_notes(self, instances: list[Any], limit: int) -> list[str]:
        """Each instance's lifecycle state, read without SQL, at most ``limit`` lines."""
        return uncommitted.state_notes(self.session, instances, limit)

    # -- models and tables -----------------------------------------------
    def register(self, classes: Iterable[type]) -> None:
        for cls in classes:
            self.models[cls.__name__] = cls

    def all_models(self) -> dict[str, type]:
        """Every model known: those on ``Base`` and those %%model cells mapped."""
        try:
            found = {m.class_.__name__: m.class_ for m in self.Base.registry.mappers}
        except UnmappedClassError:  # a class whose mapping failed halfway
            found = {}
        found.update(self.models)
        return found

    def tables(self) -> dict[str, Table]:
        """The workspace's own tables by name, in dependency order (referenced first).

        Every table on the metadata of ``Base`` (association tables that model
        cells define included), and the tables of models on a user's own bases
        with the association tables of their relationships.
        """
        found: list[Table] = list(self.Base.metadata.tables.values())
        for table in self._tables_of(self.all_models().values()):
            if table not in found:
                found.append(table)
        return {table.fullname: table for table in sort_tables(found)}

    def create_tables(
        self, tables: Iterable[Table | type], bind: Engine | Connection | None = None
    ) -> list[Table]:
        """Create those of ``tables`` (or of models' tables) that do not exist yet.

        On ``bind``, or the workspace's engine; referenced tables first.
        """
        items = list(tables)
        found = [item for item in items if isinstance(item, Table)]
        classes = [item for item in items if not isinstance(item, Table)]
        found += [t for t in self._tables_of(classes) if t not in found]
        found = sort_tables(found)
        for metadata, group in self._by_metadata(found):
            metadata.create_all(bind if bind is not None else self.engine, tables=group)
        return found

    @staticmethod
    def _tables_of(classes: Iterable[type]) -> list[Table]:
        """The tables of ``classes``, with the association tables of their relationships."""
        tables: list[Table] = []
        for cls in classes:
            mapper: Mapper[Any] = inspect(cls)
            found = list(mapper.tables)
            # read without configuring: a relationship's secondary may still be a string
            for prop in mapper._props.values():
                secondary = getattr(prop, "secondary", None)
                if isinstance(prop, RelationshipProperty) and isinstance(secondary, Table):
                    found.append(secondary)
            for table in found:
                if isinstance(table, Table) and table not in tables:
                    tables.append(table)
        return tables

    @staticmethod
    def _by_metadata(tables: list[Table]) -> list[tuple[Any, list[Table]]]:
        # models may come from several declarative bases, each with its MetaData
        groups: dict[int, tuple[Any, list[Table]]] = {}
        for table in tables:
            groups.setdefault(id(table.metadata), (table.metadata, []))[1].append(table)
        return list(groups.values())

    # -- reading for display ----------------------------------------------
    def read_table(self, table: Table, limit: int, count_limit: int = 10_000) -> TableData:
        """The first ``limit`` rows of ``table`` and its row count, read as a guest."""
        data = reading.read_table(
            self.engine, self.recorder, self._session_connection, table, limit, count_limit
        )
        return name_display_holders(data, self.sessions.others(), self.engine, self.recorder)
