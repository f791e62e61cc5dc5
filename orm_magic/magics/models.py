"""``%%model``: define declarative models and create or change their tables."""

from __future__ import annotations

from IPython.core.magic import cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from sqlalchemy.exc import StatementError

from ..core.model_failures import ModelCellFailed, describe_failure
from .family import MagicFamily


@magics_class
class ModelMagics(MagicFamily):
    """The ``%%model`` cell magic."""

    @magic_arguments()
    @argument("--drop", action="store_true", help="delete the rows of the cell's tables")
    @argument(
        "--yes",
        action="store_true",
        help="apply a change that drops a column or table holding rows (file or server)",
    )
    @cell_magic
    def model(self, line: str, cell: str) -> None:
        """Define declarative models and create their tables.

        The cell runs in the user namespace. ``Base``, ``Column``, ``Integer``,
        ``String``, ``ForeignKey``, ``relationship``, ``Mapped``,
        ``mapped_column`` and the rest of the common ORM vocabulary work
        without imports. Every class the cell maps gets its table created; the
        DDL and the new, empty tables are shown.

        Each run compares the database with every model and brings the tables
        in line through Alembic (batch mode on SQLite), keeping their rows; a
        note shows the migration as Alembic writes it. Dropping a column or a
        table that holds rows on a file or server needs ``--yes``.
        """
        args = parse_argstring(self.model, line)
        shell = self.user_shell
        cell_id = self.orm.executing.id_of(line, cell)

        def execute(source: str) -> None:
            filename = shell.compile.cache(source, shell.execution_count)
            code = shell.compile(source, filename, "exec")
            exec(code, shell.user_global_ns, shell.user_ns)

        runner = self.orm.model_runner()
        failed: ModelCellFailed | None = None
        with self.reporter.reporting("%%model") as reported:
            try:
                run = runner.run(
                    cell, shell.user_ns, execute, confirm=args.yes, cell_id=cell_id, drop=args.drop
                )
            except ModelCellFailed as exc:
                if not isinstance(exc.error, StatementError):
                    raise self.reporter.fail(describe_failure(exc), exc.error) from None
                failed = exc  # raised below, after the SQL that led to it is shown
                reported.notes.append("rolled back: the earlier models and tables are unchanged")
            else:
                reported.title = "%%model " + ", ".join(cls.__name__ for cls in run.classes)
                reported.notes.extend(run.notes)
                reported.tables.extend(run.tables)
        if failed is not None:
            raise self.reporter.fail(describe_failure(failed), failed.error) from None
