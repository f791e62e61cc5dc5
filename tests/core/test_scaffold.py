"""orm_magic.core.scaffold: the text of models.py, alembic.ini and env.py, without a shell.

The files are written into ``tmp_path`` and used as their users use them:
``models.py`` is imported, ``alembic.ini`` is read by Alembic's ``Config``,
and the three together make an Alembic project whose revision Alembic
autogenerates and upgrades (in this process, on a connection handed in, so
that env.py sets up no logging here).
"""

from __future__ import annotations

import datetime
import importlib.util
import io
import shutil
import sys
from pathlib import Path
from types import ModuleType

import alembic
import pytest
import sqlalchemy
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, make_url

from orm_magic.core.errors import WorkspaceError
from orm_magic.core.scaffold import ENV_PY, MARK, alembic_ini, models_module

USER = """
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name = Column(String(20))
"""
NOTE = """
from sqlalchemy.orm import DeclarativeBase

class Other(DeclarativeBase):
    pass

class Note(Other):
    __tablename__ = 'notes'
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[datetime.date | None]
"""


def imported(path: Path) -> ModuleType:
    """``models.py`` imported as a module of its own name, as a project would."""
    spec = importlib.util.spec_from_file_location(f"exported_{id(path)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def url_in(ini: str, tmp_path: Path) -> str:
    """The database URL Alembic reads from ``ini`` written in ``tmp_path``."""
    (tmp_path / "alembic.ini").write_text(ini)
    return Config(str(tmp_path / "alembic.ini")).get_main_option("sqlalchemy.url") or ""


def test_the_vocabulary_is_imported_from_where_it_lives() -> None:
    text = models_module([USER], {})
    assert "\nfrom sqlalchemy import Column, String\n" in text
    assert "\nfrom sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n" in text


def test_the_users_imports_become_imports_of_the_same_objects(tmp_path) -> None:
    cell = USER.replace("String(20)", "sa.JSON") + "    day = Column(Day)\n    at = dt.datetime\n"
    namespace = {"sa": sqlalchemy, "Day": sqlalchemy.Date, "dt": datetime}
    text = models_module([cell], namespace)
    assert "\nimport datetime as dt\nimport sqlalchemy as sa\n" in text
    (tmp_path / "models.py").write_text(text)
    models = imported(tmp_path / "models.py")
    assert (models.sa, models.Day, models.dt) == (sqlalchemy, sqlalchemy.Date, datetime)


def test_a_vocabulary_name_the_user_rebound_keeps_the_users_meaning(tmp_path) -> None:
    text = models_module([USER], {"String": sqlalchemy.Unicode})
    assert "from sqlalchemy.sql.sqltypes import Unicode as String\n" in text
    (tmp_path / "models.py").write_text(text)
    assert type(imported(tmp_path / "models.py").User.__table__.c.name.type) is sqlalchemy.Unicode


def test_names_the_cells_bind_are_not_imported() -> None:
    # NOTE binds DeclarativeBase, Other and Note; a later cell uses them
    later = "class Tag(Other):\n    __tablename__ = 'tags'\n    id = Column(Integer)\n"
    text = models_module([NOTE, later], {"datetime": datetime})
    head = text.split("class Base", 1)[0]
    assert "Other" not in head and "Note" not in head
    assert "\nimport datetime\n" in head


def test_the_cells_come_in_order_each_after_its_number_and_import(tmp_path) -> None:
    text = models_module([USER, NOTE], {"datetime": datetime})
    assert text.index("# -- %%model cell 1\nclass User") < text.index("# -- %%model cell 2\nfrom")
    (tmp_path / "models.py").write_text(text)
    models = imported(tmp_path / "models.py")
    assert sorted(models.Base.metadata.tables) == ["users"]
    assert sorted(models.Other.metadata.tables) == ["notes"]


@pytest.mark.parametrize(
    "namespace",
    [{}, {"default_name": lambda: "x"}],  # unknown anywhere; a function of the notebook's own
    ids=["missing", "lambda"],
)
def test_a_name_that_cannot_be_imported_is_refused(namespace) -> None:
    cell = USER.replace("String(20))", "String(20), default=default_name)")
    with pytest.raises(WorkspaceError) as caught:
        models_module([cell], namespace)
    assert str(caught.value) == (
        "the model cells use 'default_name', which no %%model cell defines and which cannot"
        " be imported from a module; define it in a %%model cell, then export again"
    )


def test_each_file_carries_the_mark_where_a_later_export_looks_for_it() -> None:
    # export reads the first 500 characters of a file to know it as its own
    for text in (models_module([USER], {}), alembic_ini("sqlite://"), ENV_PY):
        assert MARK in text[:500]
    compile(ENV_PY, "env.py", "exec")


def test_an_in_memory_database_becomes_a_file_beside_alembic_ini(tmp_path) -> None:
    assert url_in(alembic_ini("sqlite://"), tmp_path) == f"sqlite:///{tmp_path}/app.db"


def test_a_relative_sqlite_file_is_made_absolute(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert url_in(alembic_ini("sqlite:///data/app.db"), tmp_path) == (
        f"sqlite:///{tmp_path / 'data' / 'app.db'}"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://ann:s3cret@db.example:5432/shop?sslmode=require&password=s3cret",
            "postgresql+psycopg://ann@db.example:5432/shop?sslmode=require",
        ),
        ("mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BX%7D%3BPWD%3Ds3cret", "mssql+pyodbc:///"),
    ],
    ids=["password", "odbc"],
)
def test_alembic_ini_never_holds_a_secret(tmp_path, url, shown) -> None:
    ini = alembic_ini(url)
    assert "s3cret" not in ini
    assert url_in(ini, tmp_path) == shown


def test_a_percent_in_the_url_survives_alembics_interpolation(tmp_path) -> None:
    got = url_in(alembic_ini("mysql+pymysql://an%25n@db.example/shop"), tmp_path)
    assert make_url(got).username == "an%n"


# -- the three files as an Alembic project -------------------------------------------
@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty project folder; env.py's ``import models`` and sys.path entry are undone after."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "models", raising=False)
    yield tmp_path / "project"
    sys.modules.pop("models", None)


def write_project(folder: Path, sources: list[str], namespace: dict) -> None:
    (folder / "migrations" / "versions").mkdir(parents=True)
    (folder / "models.py").write_text(models_module(sources, namespace))
    (folder / "alembic.ini").write_text(alembic_ini("sqlite://"))
    (folder / "migrations" / "env.py").write_text(ENV_PY)
    template = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    shutil.copyfile(template, folder / "migrations" / "script.py.mako")


def alembic_run(folder: Path, url: str, step: str) -> None:
    """Alembic's own ``revision --autogenerate`` or ``upgrade head`` with env.py, which
    finds the metadata in models.py itself (no ``target_metadata`` is handed in)."""
    config = Config(str(folder / "alembic.ini"), stdout=io.StringIO())
    engine = create_engine(url)
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        if step == "revision":
            command.revision(config, autogenerate=True, message="first")
        else:
            command.upgrade(config, "head")
    engine.dispose()


def test_env_py_finds_every_base_in_models_py(project, tmp_path) -> None:
    write_project(project, [USER, NOTE], {"datetime": datetime})
    url = f"sqlite:///{tmp_path / 'app.db'}"
    alembic_run(project, url, "revision")
    alembic_run(project, url, "upgrade")
    assert sorted(inspect(create_engine(url)).get_table_names()) == [
        "alembic_version",
        "notes",
        "users",
    ]


def test_a_type_made_in_models_py_is_written_as_the_type_it_stands_for(project, tmp_path) -> None:
    upper = """
class Upper(TypeDecorator):
    impl = String
    cache_ok = True

class Doc(Base):
    __tablename__ = 'docs'
    id: Mapped[int] = mapped_column(primary_key=True)
    name = Column(Upper(20))
"""
    write_project(project, [upper], {"TypeDecorator": sqlalchemy.TypeDecorator})
    alembic_run(project, f"sqlite:///{tmp_path / 'app.db'}", "revision")
    (revision,) = [p.read_text() for p in project.glob("migrations/versions/*.py")]
    assert "sa.Column('name', sa.String(length=20), nullable=True)" in revision
    assert "models" not in revision  # no revision imports models.py, which changes after it
