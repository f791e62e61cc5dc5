"""``%orm_connect`` and ``%orm_reset``: which database the workspace is on, and starting over."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..core.engine import is_memory_url
from ..core.errors import WorkspaceError
from ..core.urls import safe_url
from ..core.workspace import Workspace
from ..present.report import CellReport
from .family import MagicFamily


@magics_class
class ConnectMagics(MagicFamily):
    """Switching databases and starting over; passwords are never shown."""

    @magic_arguments()
    @argument("--yes", action="store_true", help="really drop the models' tables")
    @line_magic
    def orm_reset(self, line: str) -> None:
        """Start over: a fresh empty database, ``Base`` and session.

        On a database that is not in memory (a file, a server) this drops the
        tables of the workspace's own models, and no other table, so it asks
        for ``--yes`` first.
        """
        args = parse_argstring(self.orm_reset, line)
        url = self.workspace.url
        self.reporter.end_cell()
        note = "a fresh database, Base and session"
        lost = self.workspace.sessions.unsaved()  # every session's
        if not is_memory_url(url):
            tables = sorted(self.workspace.tables())
            if not args.yes:
                raise UsageError(
                    f"%orm_reset drops the tables {', '.join(tables) or '(none yet)'} on "
                    f"{safe_url(url)}; run %orm_reset --yes to do so"
                )
            self.workspace.sessions.close()  # no session's lock holds up the drops
            with self.reporter.reporting("%orm_reset --yes"):
                self.workspace.drop_own_tables()
            note = f"dropped {', '.join(tables) or 'no tables'}; a fresh Base and session"
        old = self.workspace
        self.orm.workspace = Workspace(url, self.orm.loglimit)
        self.orm.runner = None  # the model cells of before the reset are forgotten too
        old.close()
        self.orm.push_namespace()
        several = len(old.sessions) > 1
        whose = "the old sessions'" if several else "the old session's"
        discarded = f"{whose} work was discarded: {lost}"
        notes = [note] + ([discarded] if lost else [])
        display(CellReport(title="%orm_reset", notes=notes))

    # -- connecting ---------------------------------------------------------------
    @no_var_expand
    @magic_arguments()
    @argument("url", nargs="?", help="a SQLAlchemy URL; none shows the current connection")
    @line_magic
    def orm_connect(self, line: str) -> None:
        """Connect the workspace to a database: ``%orm_connect postgresql+psycopg://u:p@host/db``.

        Any SQLAlchemy URL works: ``sqlite://`` (in memory), ``sqlite:///file.db``,
        ``postgresql+psycopg://user:password@host:port/db``. The connection is
        tested first; the tables of every model defined so far are created
        where missing, and ``engine`` and ``session`` are replaced in the
        namespace. A URL that fails leaves the workspace where it was. Without
        a URL, shows the current connection. Passwords are never shown.
        """
        # The whole line is the URL, as typed: split into words (or stripped
        # of quotes) a password with a blank or a quote would reach error
        # messages in pieces.
        url = line.strip()
        if len(url) >= 2 and url[0] == url[-1] and url[0] in "'\"":
            url = url[1:-1].strip()
        if not url:
            display(
                CellReport(title="%orm_connect", notes=self._connection_notes(), show_sql=False)
            )
            return
        self.reporter.end_cell()
        unsaved = self.workspace.sessions.unsaved()  # the old sessions close on success
        several = len(self.workspace.sessions) > 1
        try:
            capture = self.workspace.connect(url)
        except WorkspaceError as exc:
            raise self.reporter.fail(f"%orm_connect: {exc}", exc) from None
        self.orm.push_namespace()
        notes = self._connection_notes()
        if unsaved:
            closed = "sessions were" if several else "session was"
            notes.append(f"the previous {closed} closed: {unsaved}")
        title = f"%orm_connect {safe_url(url)}"
        report = CellReport.from_capture(title, capture, notes=notes)
        self.reporter.show(report, sorted(self.workspace.tables()))

    def _connection_notes(self) -> list[str]:
        url = self.workspace.url
        where = "in memory" if is_memory_url(url) else self.workspace.engine.dialect.name
        models = ", ".join(sorted(self.workspace.all_models())) or "none yet"
        return [f"connected to {safe_url(url)} ({where}); models: {models}"]
