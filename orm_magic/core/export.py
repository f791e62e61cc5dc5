"""``%orm_export DIR``: the model cells as a project that runs without orm_magic.

``DIR/models.py`` holds the cells with their imports and a ``Base``;
``DIR/alembic.ini`` and ``DIR/migrations/`` are an Alembic environment whose
revisions Alembic itself generates: the first against an empty database, each
later one against a scratch database upgraded to the previous head, so that
it holds only the difference. The scratch is of the workspace's kind (see
:func:`_scratch`), so that its types render as they are. Everything is prepared in a temporary
directory first: a refusal or a failure writes nothing into ``DIR``.
"""

from __future__ import annotations

import ast
import contextlib
import io
import shutil
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, create_engine
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from . import scaffold
from .errors import WorkspaceError, first_line
from .reading import MYSQL
from .urls import mask_secrets


@dataclass
class Export:
    """What an export wrote."""

    directory: Path
    written: list[str] = field(default_factory=list)  # paths relative to directory
    revision: str | None = None  # the new revision's id; None: no change since the head
    head: str | None = None  # the head revision after the export
    code: str = ""  # the new revision's upgrade, as Alembic rendered it


def export_project(
    directory: str | Path,
    sources: list[str],
    tables: list[Table],
    namespace: dict[str, Any],
    url: str,
) -> Export:
    """Write ``models.py`` and a new Alembic revision for ``tables`` into ``directory``.

    ``sources`` are the model cells in order, ``namespace`` resolves the names
    they use without defining them, ``url`` becomes ``alembic.ini``'s database
    (without its password). Raises :class:`WorkspaceError`, having written
    nothing, when a file it would replace is not its own.
    """
    target = Path(directory).expanduser().resolve()
    _check_ours(target)
    if not sources:
        raise WorkspaceError("no %%model cell has run yet: there is nothing to export")
    models = scaffold.models_module(sources, namespace)
    metadata = MetaData()
    for table in tables:
        table.to_metadata(metadata)
    result = Export(target)
    with tempfile.TemporaryDirectory(prefix="orm_magic_export_") as tmp:
        stage = Path(tmp)
        staged = _stage(stage, target, url)
        new = _new_revision(stage, metadata, url, result)
        try:
            target.joinpath("migrations", "versions").mkdir(parents=True, exist_ok=True)
            target.joinpath("models.py").write_text(models)
            result.written.append("models.py")
            for name in staged:
                shutil.copyfile(stage / name, target / name)
                result.written.append(name)
            if new is not None:
                shutil.copyfile(new, target / "migrations" / "versions" / new.name)
                result.written.append(f"migrations/versions/{new.name}")
        except OSError as exc:  # a parent that is a file, no right to write, a full disk
            done = f" after writing {', '.join(result.written)}" if result.written else ""
            raise WorkspaceError(
                f"cannot write in {target}: {exc.strerror or exc}{done}; export elsewhere"
            ) from exc
    return result


def _check_ours(target: Path) -> None:
    """Refuse, before writing anything, to replace what an export did not write."""
    if target.exists() and not target.is_dir():
        raise WorkspaceError(f"{target} is a file, not a directory")
    for name in ("models.py", "alembic.ini"):
        path = target / name
        if path.exists() and scaffold.MARK not in _head(path):
            raise WorkspaceError(
                f"{path} was not written by %orm_export; export to another directory"
            )
    migrations = target / "migrations"
    if migrations.exists() and scaffold.MARK not in _head(migrations / "env.py"):
        raise WorkspaceError(
            f"{migrations} was not written by %orm_export; export to another directory"
        )


def _head(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as file:
            return file.read(500)
    except OSError:  # missing, or a directory
        return ""


def _stage(stage: Path, target: Path, url: str) -> list[str]:
    """The Alembic environment in ``stage``, with the revisions ``target`` has."""
    import alembic

    versions = stage / "migrations" / "versions"
    versions.mkdir(parents=True)
    (stage / "alembic.ini").write_text(scaffold.alembic_ini(url))
    (stage / "migrations" / "env.py").write_text(scaffold.ENV_PY)
    staged = ["alembic.ini", "migrations/env.py"]
    mako = target / "migrations" / "script.py.mako"
    if not mako.exists():  # Alembic's own template; a user's edits of it are kept
        mako = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
        staged.append("migrations/script.py.mako")
    shutil.copyfile(mako, stage / "migrations" / "script.py.mako")
    for old in sorted(target.glob("migrations/versions/*.py")):
        shutil.copyfile(old, versions / old.name)
    return staged


def _new_revision(stage: Path, metadata: MetaData, url: str, result: Export) -> Path | None:
    """Generate the next revision in ``stage`` with Alembic; its file, or None if
    the models are what the head revision already makes."""
    from alembic import command
    from alembic.config import Config
    from alembic.operations import ops
    from alembic.script import ScriptDirectory

    config = Config(str(stage / "alembic.ini"), stdout=io.StringIO())
    before = {p.name for p in (stage / "migrations" / "versions").glob("*.py")}

    def unless_empty(context: Any, revision: Any, directives: list[Any]) -> None:
        script = directives[0]
        upgrade = script.upgrade_ops
        if upgrade.is_empty():
            directives[:] = []  # Alembic's cookbook: no empty revision
            return
        script.message = _summary(upgrade, ops)

    config.attributes.update(target_metadata=metadata, models_modules=("models", "__main__"))
    step = "could not generate the revision"
    try:
        with _scratch(url) as conn, contextlib.redirect_stdout(io.StringIO()):
            config.attributes["connection"] = conn
            step = "could not run the project's revisions on a database like the workspace's"
            command.upgrade(config, "head")
            step = "could not generate the revision"
            command.revision(config, autogenerate=True, process_revision_directives=unless_empty)
    except WorkspaceError:
        raise
    except Exception as exc:
        raise WorkspaceError(f"Alembic {step}: {_one_line(exc)}") from exc
    result.head = ScriptDirectory.from_config(config).get_current_head()
    new = [p for p in (stage / "migrations" / "versions").glob("*.py") if p.name not in before]
    if not new:
        return None
    result.revision = result.head
    result.code = _upgrade_body(new[0].read_text())
    if "__main__." in result.code:  # a type class of a cell's own, not a TypeDecorator
        raise WorkspaceError(
            f"the revision would need a type defined in a cell ({_main_name(result.code)});"
            " make it a TypeDecorator of a SQLAlchemy type, or import it from a module"
        )
    return new[0]


def _upgrade_body(revision: str) -> str:
    """The statements of a revision file's ``upgrade()``, as Alembic wrote them."""
    lines = revision.splitlines()
    for node in ast.parse(revision).body:
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
            body = node.body[1:] if ast.get_docstring(node) else node.body
            code = lines[body[0].lineno - 1 : body[-1].end_lineno] if body else []
            kept = [line for line in code if not line.strip().startswith("# ###")]
            return textwrap.dedent("\n".join(kept)).strip()
    return ""


@contextlib.contextmanager
def _scratch(url: str) -> Iterator[Connection]:
    """An empty database of the workspace's dialect, for Alembic to upgrade to the
    head and compare with the models, so that the revision renders that dialect's
    types (``postgresql.JSONB``, ``mysql.MEDIUMTEXT``) as they are.

    PostgreSQL: a schema made in a transaction that is rolled back, on the
    workspace's server. MySQL and MariaDB: a database made on the workspace's
    server and dropped after (their DDL commits at once: no rollback would undo
    it). Either way nothing is left there. Other databases: in-memory SQLite.
    """
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        with _postgresql_scratch(url) as conn:
            yield conn
        return
    if backend in MYSQL:
        with _mysql_scratch(url) as conn:
            yield conn
        return
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@contextlib.contextmanager
def _postgresql_scratch(url: str) -> Iterator[Connection]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            schema = f"orm_magic_export_{uuid.uuid4().hex[:12]}"
            try:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
                conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
            except DBAPIError as exc:  # e.g. no right to create a schema
                raise WorkspaceError(
                    "the revision is generated in a schema made on the server for a moment"
                    " (in a transaction rolled back), which failed:"
                    f" {_one_line(exc.orig or exc)}; the role needs CREATE on the database"
                ) from exc
            # reflection reads the dialect's default schema, found at connect:
            # this engine is ours alone, and its default is the scratch schema
            conn.dialect.default_schema_name = schema
            try:
                yield conn
            finally:
                conn.rollback()
    finally:
        engine.dispose()


@contextlib.contextmanager
def _mysql_scratch(url: str) -> Iterator[Connection]:
    name = f"orm_magic_export_{uuid.uuid4().hex[:12]}"
    server = create_engine(url, poolclass=NullPool)
    # a connection to the scratch database: its default schema is the scratch
    scratch = create_engine(make_url(url).set(database=name), poolclass=NullPool)
    try:
        with server.connect() as admin:
            try:
                admin.exec_driver_sql(f"CREATE DATABASE `{name}`")
            except DBAPIError as exc:  # e.g. no CREATE privilege on the server
                raise WorkspaceError(
                    "the revision is generated in a database made on the server for a moment"
                    f" (dropped after), which failed: {_one_line(exc)};"
                    " the user needs CREATE and DROP on the server"
                ) from exc
            failed: BaseException | None = None
            try:
                with scratch.connect() as conn:
                    yield conn
            except BaseException as exc:
                failed = exc
                raise
            finally:
                try:
                    admin.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
                except DBAPIError as exc:
                    left = f"the database {name}, made for the export, is left: drop it by hand"
                    if failed is not None:  # the export failed first: say both, its first
                        raise WorkspaceError(f"{_one_line(failed)}; {left}") from failed
                    raise WorkspaceError(f"{left} ({_one_line(exc)})") from exc
    finally:
        scratch.dispose()
        server.dispose()


def _main_name(code: str) -> str:
    """``__main__.Point`` in a revision: ``Point``."""
    return code.split("__main__.", 1)[1].split("(", 1)[0]


def _one_line(exc: BaseException) -> str:
    """An error's first line (SQLAlchemy adds the SQL below), the driver's message
    as words and one of MySQL's traps told as what to change; secrets masked."""
    return mask_secrets(first_line(exc))


def _summary(upgrade: Any, ops: Any) -> str:
    """A revision's message from its operations: ``add users.email, create tags``."""
    parts: list[str] = []
    for op in upgrade.ops:
        if isinstance(op, ops.CreateTableOp):
            parts.append(f"create {op.table_name}")
        elif isinstance(op, ops.DropTableOp):
            parts.append(f"drop {op.table_name}")
        elif isinstance(op, ops.ModifyTableOps):
            for inner in op.ops:
                verb = {"AddColumnOp": "add", "DropColumnOp": "drop", "AlterColumnOp": "alter"}
                column = getattr(inner, "column_name", None) or getattr(
                    getattr(inner, "column", None), "name", None
                )
                kind = verb.get(type(inner).__name__)
                parts.append(
                    f"{kind} {op.table_name}.{column}"
                    if kind and column
                    else f"change {op.table_name}"
                )
    text = ", ".join(dict.fromkeys(parts))
    return text if len(text) <= 60 else text[:59] + "…"
