"""``%orm_use``: several sessions in one workspace, each on a connection of its own."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..core.errors import WorkspaceError
from ..core.named_sessions import name_problem
from ..data.tables import Frame
from ..present.report import CellReport
from .family import MagicFamily


@magics_class
class ConcurrencyMagics(MagicFamily):
    """Which session the magics act on, and the list of sessions."""

    @magic_arguments()
    @argument("name", nargs="?", help="the session to use; none lists the sessions")
    @line_magic
    def orm_use(self, line: str) -> None:
        """Make session NAME the current one, opening it on a connection of its own.

        The first session is ``main``. ``session`` in the namespace is the
        current session, and every magic acts on it. As soon as there are
        two sessions, the SQL of each report and ``%orm_log`` name the session
        of each statement. On the in-memory database the second session
        moves the database to a temporary file (removed when the workspace
        closes), so that each session has a connection of its own with
        SQLite's real locking; that needs session ``main`` outside a
        transaction. Without a name, lists the sessions: each one's
        transaction (none, active, failed) and its new, dirty and deleted
        objects, read without SQL; at most ``OrmMagic.displaylimit`` of them,
        the current one always among them.
        """
        try:
            args = parse_argstring(self.orm_use, line)
        except UsageError as exc:  # "unrecognized arguments: b": say what the magic takes
            raise UsageError(f"%orm_use: {exc}; give one session name, e.g. %orm_use b") from None
        if args.name is None:
            display(CellReport(title="%orm_use", frames=[self._listing()], show_sql=False))
            return
        problem = name_problem(args.name)
        if problem is not None:
            raise UsageError(f"%orm_use: {problem}")
        in_memory = self.workspace.temporary is None
        try:
            created = self.workspace.use(args.name)
        except WorkspaceError as exc:
            raise UsageError(f"%orm_use {args.name}: {exc}") from None
        self.orm.push_namespace()
        notes = [
            f"session {args.name!r} is current"
            + (", on a connection of its own" if created else "")
            + "; `session` refers to it"
        ]
        if in_memory and self.workspace.temporary is not None:
            notes.append(
                "the in-memory database moved to a temporary file so that each session has "
                "its own connection; `engine` now refers to it, and it is removed when the "
                "workspace closes"
            )
        display(CellReport(title=f"%orm_use {args.name}", notes=notes, show_sql=False))

    def _listing(self) -> Frame:
        limit = self.orm.displaylimit
        found = self.workspace.sessions.rows(limit)
        rows = [
            (("→ " if row.current else "") + row.name, row.transaction, row.new, row.dirty,
             row.deleted)
            for row in found
        ]  # fmt: skip
        columns = ["session", "transaction", "new", "dirty", "deleted"]
        note = "→ the current session"
        total = len(self.workspace.sessions)
        if total > len(found):
            note = f"{len(found)} of {total:,} sessions (OrmMagic.displaylimit); {note}"
        return Frame("sessions", columns, rows, note=note)
