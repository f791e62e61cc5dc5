"""Moving the in-memory database to a temporary file, so that sessions are isolated.

An in-memory SQLite database is one connection that everyone shares: two
sessions on it see each other's uncommitted rows and never wait for a lock.
Measured with plain SQLAlchemy, a named shared-cache in-memory database fails
the other session's read at once ("database table is locked") and ignores
the busy timeout, and the ``memdb`` VFS blocks that read too. A file gives
each session a connection of its own with SQLite's real locking, so the
workspace moves there when its second session opens: the rows are copied
with SQLite's backup API, the file is in WAL mode (a reader never waits for
the writer and sees only committed rows), and it is removed when the
workspace closes.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import weakref
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .dbapi import in_transaction
from .engine import make_engine
from .errors import WorkspaceError


class TemporaryDatabase:
    """A SQLite file in a directory of its own, removed by :meth:`remove`.

    Also removed when the object is collected or the interpreter exits
    (a kernel shut down without ``%unload_ext``): ``weakref.finalize``.
    """

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="orm_magic-"))
        self.path = self.directory / "workspace.db"
        self._remove = weakref.finalize(self, shutil.rmtree, self.directory, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def remove(self) -> None:
        """Delete the file, its WAL and the directory (once)."""
        self._remove()


def move_to_file(memory: Engine, session: Session) -> tuple[Engine, TemporaryDatabase]:
    """Copy the in-memory database of ``memory`` to a new file, and an engine on it.

    Refused while ``session`` (the only one yet) has a transaction, which
    holds the in-memory connection, or while any transaction is open on that
    connection: its uncommitted rows would be copied as if committed.
    ``memory`` itself is left as it was.
    """
    if session.in_transaction():
        raise WorkspaceError(
            "a second session moves the in-memory database to a temporary file, which "
            "needs session 'main' outside a transaction; commit or roll back first"
        )
    fairy = memory.raw_connection()
    try:
        if in_transaction(fairy):
            raise WorkspaceError(
                "a second session moves the in-memory database to a temporary file, which "
                "needs no transaction open on it (its uncommitted rows would be copied as "
                "if committed); commit or roll back first"
            )
        target = TemporaryDatabase()
        try:
            copy = sqlite3.connect(target.path)
            try:
                fairy.driver_connection.backup(copy)  # type: ignore[union-attr]
                copy.execute("PRAGMA journal_mode = WAL")
            finally:
                copy.close()
            return make_engine(target.url), target
        except BaseException:
            target.remove()
            raise
    finally:
        fairy.close()
