"""The kernel-wide workspace: one engine, one declarative ``Base``, one session.

Nothing here knows of IPython. The magics parse a line, call a method here and
display what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, create_engine, event, func, inspect, literal, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, InstanceState, Session
from sqlalchemy.pool import StaticPool

from .capture import DISPLAY_OPTION, StatementRecorder


class WorkspaceError(Exception):
    """A user's mistake; the magics show it as one line."""


@dataclass
class TableData:
    """The first rows of a table, as read for display."""

    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    #: rows in the table, counted up to ``count_limit``; None when there are more
    total: int | None
    count_limit: int
    error: str | None = None


def is_memory_url(url: str) -> bool:
    """True for an in-memory SQLite URL (``sqlite://``, ``sqlite:///:memory:``)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def make_engine(url: str) -> Engine:
    """An engine for ``url``, set up for use from a notebook kernel.

    In-memory SQLite is one shared connection (``StaticPool``) that any thread
    may use: ipykernel can run code on other threads, and a connection per
    thread would mean a database per thread.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if is_memory_url(url):
            kwargs["poolclass"] = StaticPool
        return create_engine(parsed, **kwargs)
    return create_engine(parsed, pool_pre_ping=True)


def new_base() -> type[DeclarativeBase]:
    """A fresh declarative base with a registry and MetaData of its own."""

    class Base(DeclarativeBase):
        pass

    return Base


def describe(obj: Any) -> str:
    """How a value reads in an error message: its type, or the class it is."""
    if isinstance(obj, type):
        return f"class {obj.__name__}"
    return f"{type(obj).__name__!r} object"


class Workspace:
    """Engine, ``Base``, session and SQL log of one kernel."""

    def __init__(self, url: str = "sqlite://", loglimit: int = 1000) -> None:
        self.url = url
        self.loglimit = loglimit
        self.engine = make_engine(url)
        self.recorder = StatementRecorder(self.engine, loglimit=loglimit)
        self.Base = new_base()
        #: mapped classes by name, as %%model cells defined them (newest wins)
        self.models: dict[str, type] = {}
        self.session = Session(self.engine)
        self._session_connection: Connection | None = None
        self._watch_session(self.session)

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        """Close the session, stop recording and release the engine."""
        self.session.close()
        self.recorder.close()
        self.engine.dispose()

    def _watch_session(self, session: Session) -> None:
        # Which connection the session's transaction holds, so that displays
        # read through it (and see flushed rows) without procuring one.
        @event.listens_for(session, "after_begin")
        def after_begin(session: Session, transaction: Any, connection: Connection) -> None:
            self._session_connection = connection

        @event.listens_for(session, "after_transaction_end")
        def after_end(session: Session, transaction: Any) -> None:
            if transaction.parent is None:
                self._session_connection = None

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

    def pending_summary(self) -> str:
        """One line on what the session holds that the database does not."""
        parts = []
        for label, objects in (
            ("pending", self.session.new),
            ("modified", self.session.dirty),
            ("marked for deletion", self.session.deleted),
        ):
            count = len(objects)
            if count:
                noun = "object" if count == 1 else "objects"
                parts.append(f"{count} {noun} {label}")
        return "; ".join(parts)

    def state_notes(self, instances: list[Any], limit: int) -> list[str]:
        """Each instance's lifecycle state, read without SQL, at most ``limit`` lines."""
        deleted = self.session.deleted  # built once: its size is the session's business
        notes = [
            f"{instance_label(obj)}: {explain_state(obj, obj in deleted)}"
            for obj in instances[:limit]
        ]
        if len(instances) > limit:
            notes.append(f"… and {len(instances) - limit:,} more")
        return notes

    # -- models and tables -----------------------------------------------
    def register(self, classes: Iterable[type]) -> None:
        for cls in classes:
            self.models[cls.__name__] = cls

    def all_models(self) -> dict[str, type]:
        """Every model known: those on ``Base`` and those %%model cells mapped."""
        found = {m.class_.__name__: m.class_ for m in self.Base.registry.mappers}
        found.update(self.models)
        return found

    def tables(self) -> dict[str, Table]:
        """Every known table by name."""
        out: dict[str, Table] = {}
        for cls in self.all_models().values():
            for table in inspect(cls).tables:
                if isinstance(table, Table):
                    out.setdefault(table.fullname, table)
        return out

    def create_tables(self, classes: Iterable[type]) -> list[Table]:
        """Create the tables of ``classes`` that do not exist yet."""
        tables: list[Table] = []
        for cls in classes:
            for table in inspect(cls).tables:
                if isinstance(table, Table) and table not in tables:
                    tables.append(table)
        by_metadata: dict[int, tuple[Any, list[Table]]] = {}
        for table in tables:
            by_metadata.setdefault(id(table.metadata), (table.metadata, []))[1].append(table)
        for metadata, group in by_metadata.values():
            metadata.create_all(self.engine, tables=group, checkfirst=True)
        return tables

    # -- reading for display ----------------------------------------------
    @contextmanager
    def display_connection(self) -> Iterator[Connection]:
        """A connection for display queries that changes nothing.

        Inside a transaction, the session's own connection: a second one would
        not see flushed rows, and on the single in-memory connection its
        rollback would discard them. Outside one, a short-lived connection,
        so that no transaction is left open between cells.
        """
        if self._session_connection is not None and not self._session_connection.closed:
            yield self._session_connection
            return
        with self.engine.connect() as conn:
            # A private connection, so marking it in place hides exactly its
            # own BEGIN/ROLLBACK and nothing else.
            conn.execution_options(**{DISPLAY_OPTION: True})
            yield conn

    def read_table(self, table: Table, limit: int, count_limit: int = 100_000) -> TableData:
        """The first ``limit`` rows of ``table`` and its row count, bounded.

        Both queries carry LIMIT: a table of a million rows costs what one of
        ten does. The count stops at ``count_limit``.
        """
        columns = [column.name for column in table.columns]
        order = list(table.primary_key.columns)
        rows_stmt = select(table).order_by(*order).limit(limit)
        capped = select(literal(1)).select_from(table).limit(count_limit + 1).subquery()
        count_stmt = select(func.count()).select_from(capped)
        options = {DISPLAY_OPTION: True}
        try:
            with self.display_connection() as conn:
                rows = [tuple(r) for r in conn.execute(rows_stmt.execution_options(**options))]
                total = conn.execute(count_stmt.execution_options(**options)).scalar_one()
        except Exception as exc:  # a display must never break the cell
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return TableData(table.fullname, columns, [], 0, count_limit, error=message)
        return TableData(
            table.fullname, columns, rows, total if total <= count_limit else None, count_limit
        )


def as_instances(value: Any, limit: int) -> list[Any]:
    """``value`` as a list of mapped instances, or a WorkspaceError saying why not."""
    if _is_mapped_instance(value):
        return [value]
    if isinstance(value, type):
        if inspect(value, raiseerr=False) is not None:
            raise WorkspaceError(
                f"{value.__name__} is a class, not an instance; "
                f"create one with {value.__name__}(...)"
            )
        raise WorkspaceError(f"{describe(value)} is not a mapped instance; define it with %%model")
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
        raise WorkspaceError(
            f"{describe(value)} is not a mapped instance; define its class with %%model"
        )
    items: list[Any] = []
    for item in value:
        if len(items) >= limit:
            raise WorkspaceError(
                f"more than {limit:,} objects in one call; raise OrmMagic.maxitems "
                "or pass them in smaller lists"
            )
        if not _is_mapped_instance(item):
            raise WorkspaceError(
                f"item {len(items)} is a {describe(item)}, not a mapped instance; "
                "define its class with %%model"
            )
        items.append(item)
    if not items:
        raise WorkspaceError("the expression gave no objects")
    return items


def state_name(obj: Any) -> str:
    """transient, pending, persistent, deleted or detached; reads no SQL."""
    state = inspect(obj)
    for name in ("transient", "pending", "persistent", "deleted", "detached"):
        if getattr(state, name):
            return name
    return "unknown"


def explain_state(obj: Any, marked_deleted: bool) -> str:
    """The state, and what the next flush will do about it."""
    state = state_name(obj)
    if state == "pending":
        return "pending — the next flush INSERTs it"
    if state == "persistent" and marked_deleted:
        return "persistent, marked for deletion — the next flush DELETEs it"
    if state == "persistent" and inspect(obj).modified:
        return "persistent, modified — the next flush UPDATEs it"
    return state


def instance_label(obj: Any) -> str:
    """``User`` or ``User(id=1)``, from the identity key alone: never a SELECT."""
    state = inspect(obj)
    name = type(obj).__name__
    if state.key is None:
        return name
    columns = [c.key for c in state.mapper.primary_key]
    ident = ", ".join(f"{c}={v!r}" for c, v in zip(columns, state.key[1]))
    return f"{name}({ident})"


def _is_mapped_instance(value: Any) -> bool:
    if isinstance(value, type):
        return False
    return isinstance(inspect(value, raiseerr=False), InstanceState)
