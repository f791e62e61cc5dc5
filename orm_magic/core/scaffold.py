"""The text of the files ``%orm_export`` writes: ``models.py``, ``alembic.ini``, ``env.py``.

Each starts with :data:`MARK`, by which a later export knows the file as its
own and may rewrite it; a file without it is someone else's.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from .errors import WorkspaceError
from .model_cells import VOCABULARY_NAMES
from .urls import SECRET_KEYS, mask_secrets

MARK = "Written by orm_magic's %orm_export"

MODELS_HEADER = f'''"""The models of a notebook: its %%model cells in the order they ran, each in
its latest version. {MARK}; exporting again rewrites this file.
"""

'''

BASE = """

class Base(DeclarativeBase):
    pass
"""


def models_module(sources: list[str], namespace: Mapping[str, Any]) -> str:
    """``models.py``: the cells' sources after the imports they use and a ``Base``.

    The names a cell uses without defining them (the vocabulary ``%%model``
    provides, and what the user imported in other cells) become imports;
    a name that cannot be imported raises :class:`WorkspaceError`.
    """
    plain: set[str] = set()  # import x
    names: dict[str, set[str]] = {"sqlalchemy.orm": {"DeclarativeBase"}}  # from m import a
    for name in _free_names(sources):
        statement = _import_of(name, namespace)
        if statement.startswith("from "):
            module, _, imported = statement[5:].partition(" import ")
            names.setdefault(module, set()).add(imported)
        else:
            plain.add(statement[7:])
    lines = [f"import {name}" for name in sorted(plain)]
    lines += [
        f"from {m} import {', '.join(sorted(names[m], key=str.lower))}" for m in sorted(names)
    ]
    cells = [f"# -- %%model cell {n}\n{src.strip()}\n" for n, src in enumerate(sources, 1)]
    return MODELS_HEADER + "\n".join(lines) + "\n" + BASE + "\n\n" + "\n\n".join(cells)


def _free_names(sources: list[str]) -> set[str]:
    """Names the cells read but bind nowhere (approximate: any binding counts)."""
    loaded: set[str] = set()
    bound = {"Base"}
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Name):
                (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound.add(node.name)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, ast.alias):
                bound.add((node.asname or node.name).split(".")[0])
    return loaded - bound - set(dir(builtins))


def _import_of(name: str, namespace: Mapping[str, Any]) -> str:
    """The import statement that gives ``name`` the value it has in ``namespace``."""
    value = namespace.get(name)
    home = VOCABULARY_NAMES.get(name)
    if home is not None and (value is None or value is getattr(home, name)):
        return f"from {home.__name__} import {name}"
    if isinstance(value, types.ModuleType):
        full = value.__name__
        return f"import {full}" if full == name else f"import {full} as {name}"
    module = getattr(value, "__module__", None)
    if isinstance(module, str) and module != "__main__":
        try:
            found = importlib.import_module(module)
        except ImportError:
            found = None
        for attribute in dict.fromkeys([getattr(value, "__qualname__", name), name]):
            if isinstance(attribute, str) and getattr(found, attribute, None) is value:
                alias = "" if attribute == name else f" as {name}"
                return f"from {module} import {attribute}{alias}"
    raise WorkspaceError(
        f"the model cells use {name!r}, which no %%model cell defines and which cannot be"
        " imported from a module; define it in a %%model cell, then export again"
    )


def alembic_ini(url: str) -> str:
    """``alembic.ini``, with the database URL stripped of any password or secret."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        shown = "sqlite:///%(here)s/app.db"  # a notebook's in-memory database: a file here
    else:
        if parsed.get_backend_name() == "sqlite":  # from any working directory
            parsed = parsed.set(database=str(Path(parsed.database or "").resolve()))
        # a secret in the query string (?password=..., an ODBC PWD=...) is left out
        # too: the project's user puts the whole URL in DATABASE_URL instead
        query = {
            key: value
            for key, value in parsed.query.items()
            if key.lower() not in SECRET_KEYS
            and all(mask_secrets(v) == v for v in ((value,) if isinstance(value, str) else value))
        }
        bare = URL.create(  # URL.set(password=None) would keep the password
            parsed.drivername,
            parsed.username,
            None,
            parsed.host,
            parsed.port,
            parsed.database,
            query,
        )
        shown = bare.render_as_string(hide_password=False)
        shown = shown.replace("%", "%%")
    return f"""# {MARK}; exporting again rewrites it.
[alembic]
script_location = %(here)s/migrations
prepend_sys_path = %(here)s
path_separator = os

# The database. DATABASE_URL in the environment, when set, is used instead:
# put a password there, never here.
sqlalchemy.url = {shown}

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""


ENV_PY = f'''"""Alembic's environment for the models in models.py. {MARK}; exporting again
rewrites it.

The database URL is DATABASE_URL from the environment when it is set, else
sqlalchemy.url from alembic.ini. Revisions are rendered in batch mode, so that
they also run on SQLite.
"""

import os
import sys
from logging.config import fileConfig

from alembic import context
from sqlalchemy import MetaData, create_engine, pool

config = context.config
if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name)  # the command line's logging, not a caller's

# the models' metadata; a caller may hand its own (orm_magic does, with a connection)
target_metadata = config.attributes.get("target_metadata")
if target_metadata is None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import models

    # every MetaData in models.py: Base's, and that of any other base a cell made
    found = {{}}
    for value in vars(models).values():
        metadata = value if isinstance(value, MetaData) else getattr(value, "metadata", None)
        if isinstance(metadata, MetaData):
            found[id(metadata)] = metadata
    target_metadata = list(found.values())


def database_url():
    return os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")


def run_migrations_offline():
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={{"paramstyle": "named"}},
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


# a type made in models.py (a TypeDecorator) is written as the database type it
# stands for, so that no revision imports models.py, which changes after it
# (orm_magic adds __main__: in the notebook the cells' classes live there)
MODELS_MODULES = config.attributes.get("models_modules", ("models",))


def render_item(type_, obj, autogen_context):
    if type_ != "type" or type(obj).__module__ not in MODELS_MODULES:
        return False  # Alembic's own rendering
    impl = getattr(obj, "impl_instance", None)
    if impl is None:
        return False
    module = type(impl).__module__
    if module.startswith("sqlalchemy.dialects."):
        dialect = module.split(".")[2]
        autogen_context.imports.add(f"from sqlalchemy.dialects import {{dialect}}")
        return f"{{dialect}}.{{impl!r}}"
    return f"sa.{{impl!r}}"


def run_on(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        run_on(connection)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''
