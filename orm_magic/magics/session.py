"""The session operations: add, merge, delete (``%orm_add`` ...), flush, commit, rollback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from sqlalchemy import inspect

from ..core.errors import WorkspaceError
from ..core.instances import check_states
from .family import MagicFamily
from .lines import split_options


@magics_class
class SessionMagics(MagicFamily):
    """Each one call on the workspace session, reported with its SQL and tables."""

    def _session_op(self, magic: str, line: str, func: Callable[[list[Any]], Any]) -> Any:
        """Evaluate the line's expression and apply ``func`` to its instances.

        Returns what ``func`` returned: one item for a single instance, the
        list for an iterable.
        """
        opts, expression = split_options(line)
        args = parse_argstring(getattr(self, magic), " ".join(opts))
        instances: list[Any] = []
        single = False
        result: Any = None

        def touched() -> list[str]:
            seen: dict[str, None] = {}
            for obj in instances[: self.orm.displaylimit]:
                for table in inspect(obj).mapper.tables:
                    seen.setdefault(table.fullname, None)
            return list(seen)

        with self.reporter.reporting(f"%{magic} {expression}".strip(), touched) as reported:
            instances, single = self.orm.instances(magic, expression)
            try:
                check_states(magic.removeprefix("orm_"), instances, self.workspace.session)
            except WorkspaceError as exc:
                raise UsageError(f"%{magic}: {exc}") from None
            result = func(instances)
            if args.flush:
                # what a failed flush discards includes what this magic just added
                reported.before = self.workspace.pending()
                self.workspace.flush()
            reported.notes.extend(self.workspace.state_notes(instances, self.orm.displaylimit))
        if isinstance(result, list) and single:
            return result[0]
        return result

    @no_var_expand
    @magic_arguments()
    @argument("--flush", action="store_true", help="flush right after adding")
    @argument("expression", nargs="*", help="an instance, or an iterable of instances")
    @line_magic
    def orm_add(self, line: str) -> None:
        """Add instances to the session (``session.add`` / ``add_all``).

        No SQL is emitted until the next flush: the objects become pending.
        """
        self._session_op("orm_add", line, self.workspace.add)

    @no_var_expand
    @magic_arguments()
    @argument("--flush", action="store_true", help="flush right after merging")
    @argument("expression", nargs="*", help="an instance, or an iterable of instances")
    @line_magic
    def orm_merge(self, line: str) -> Any:
        """Merge instances into the session (``session.merge``).

        Returns the merged instance, or a list of them for an iterable.
        """
        return self._session_op("orm_merge", line, self.workspace.merge)

    @no_var_expand
    @magic_arguments()
    @argument("--flush", action="store_true", help="flush right after deleting")
    @argument("expression", nargs="*", help="an instance, or an iterable of instances")
    @line_magic
    def orm_delete(self, line: str) -> None:
        """Mark persistent instances for deletion (``session.delete``)."""
        self._session_op("orm_delete", line, self.workspace.delete)

    def _transaction_op(self, magic: str, line: str, func: Callable[[], None]) -> None:
        parse_argstring(getattr(self, magic), line)
        with self.reporter.reporting(f"%{magic}"):
            func()

    @magic_arguments()
    @line_magic
    def orm_flush(self, line: str) -> None:
        """Flush the session: emit the pending INSERT/UPDATE/DELETE (``session.flush``)."""
        self._transaction_op("orm_flush", line, self.workspace.flush)

    @magic_arguments()
    @line_magic
    def orm_commit(self, line: str) -> None:
        """Flush and commit the session's transaction (``session.commit``)."""
        self._transaction_op("orm_commit", line, self.workspace.commit)

    @magic_arguments()
    @line_magic
    def orm_rollback(self, line: str) -> None:
        """Roll back the session's transaction (``session.rollback``)."""
        self._transaction_op("orm_rollback", line, self.workspace.rollback)
