"""%orm_export: a project that runs without orm_magic, checked with Alembic's own command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from IPython.core.error import UsageError

from .helpers import run
from .pg import PASSWORD

USER = """%%model
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
"""
ADDRESS = """%%model
import enum

class Kind(enum.Enum):
    home = 1
    work = 2

class Address(Base):
    __tablename__ = 'addresses'
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[Kind | None]
    user_id = Column(Integer, ForeignKey('users.id'))
    user: Mapped[User] = relationship()
"""
EMAIL = USER + "    email: Mapped[str | None]\n"


@pytest.fixture
def db_url() -> str:
    """The notebook side runs on in-memory SQLite; the projects go to both databases."""
    return "sqlite://"


def alembic(project: Path, url: str, *args: str) -> str:
    """Alembic's command line, in a fresh process, from another working directory."""
    env = {**os.environ, "DATABASE_URL": url}
    command = [sys.executable, "-m", "alembic", "-c", str(project / "alembic.ini"), *args]
    done = subprocess.run(command, cwd="/", env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def differences(ip, url: str) -> list:
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), ip.user_ns["Base"].metadata)
    engine.dispose()
    return [d for d in found if not (d[0] == "remove_table" and d[1].name == "alembic_version")]


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_round_trip_through_alembics_command_line(ip, tmp_path, request, database):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    if database == "postgresql":
        url = request.getfixturevalue("pg_url")
    project = tmp_path / "project"
    run(ip, USER)
    run(ip, ADDRESS)
    run(ip, f"%orm_export {project}")
    alembic(project, url, "upgrade", "head")
    assert differences(ip, url) == []
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (id, name) VALUES (1, 'ed')")
    run(ip, EMAIL)
    out = run(ip, f"%orm_export {project}")
    assert "add_column(sa.Column('email', sa.String(), nullable=True))" in out.text
    assert "create_table" not in out.text  # only the difference from the head
    alembic(project, url, "upgrade", "head")
    assert differences(ip, url) == []
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id, name, email FROM users").all() == [(1, "ed", None)]
    engine.dispose()
    assert len(list((project / "migrations" / "versions").glob("*.py"))) == 2


def test_models_py_imports_in_a_fresh_interpreter(ip, tmp_path):
    run(ip, USER)
    run(ip, ADDRESS)
    run(ip, f"%orm_export {tmp_path}")
    models = (tmp_path / "models.py").read_text()
    assert "from sqlalchemy import Column, ForeignKey, Integer" in models
    assert models.index("class User") < models.index("class Address")
    code = "import models; print(sorted(models.Base.metadata.tables), models.Kind.home)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.stdout.strip() == "['addresses', 'users'] Kind.home", done.stderr


def test_an_unchanged_export_adds_no_revision(ip, tmp_path):
    run(ip, USER)
    run(ip, f"%orm_export {tmp_path}")
    out = run(ip, f"%orm_export {tmp_path}")
    assert "no new revision" in out.text
    assert len(list(tmp_path.glob("migrations/versions/*.py"))) == 1


def test_other_files_are_kept_and_foreign_ones_refused_writing_nothing(ip, tmp_path):
    run(ip, USER)
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "models.py").write_text("# my own models\n")
    with pytest.raises(UsageError, match=r"models.py was not written by %orm_export") as caught:
        ip.run_line_magic("orm_export", str(tmp_path))
    assert "\n" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.py", "notes.txt"]
    assert (tmp_path / "models.py").read_text() == "# my own models\n"
    (tmp_path / "models.py").unlink()
    run(ip, f"%orm_export {tmp_path}")
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.postgres
@pytest.mark.parametrize("where", ["user:password@", "?password="])
def test_alembic_ini_never_holds_the_password(ip, tmp_path, pg_url, where):
    url = sqlalchemy.make_url(pg_url)
    if where == "?password=":
        url = url.set(password=None).update_query_dict({"password": PASSWORD})
    run(ip, f"%orm_connect {url.render_as_string(hide_password=False)}")
    run(ip, USER)
    out = run(ip, f"%orm_export {tmp_path}")
    written = [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    assert not [text for text in [out.text, *written] if PASSWORD in text]
    ini = (tmp_path / "alembic.ini").read_text()
    assert f"sqlalchemy.url = postgresql+psycopg://postgres@127.0.0.1:{url.port}/" in ini


def test_a_name_the_cells_cannot_import_is_one_line(ip, tmp_path):
    run(ip, "def default_name():\n    return 'x'")
    run(
        ip,
        USER.replace(
            "name: Mapped[str]", "name: Mapped[str] = mapped_column(default=default_name)"
        ),
    )
    with pytest.raises(UsageError, match="the model cells use 'default_name'"):
        ip.run_line_magic("orm_export", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_nothing_to_export_is_one_line(ip, tmp_path):
    with pytest.raises(UsageError, match="no %%model cell has run yet"):
        ip.run_line_magic("orm_export", str(tmp_path / "project"))
    assert list(tmp_path.iterdir()) == []


POSTGRES_TYPES = """%%model
from sqlalchemy.dialects.postgresql import JSONB

class Upper(TypeDecorator):  # a type of the notebook's own
    impl = String
    cache_ok = True

class Doc(Base):
    __tablename__ = 'docs'
    id: Mapped[int] = mapped_column(primary_key=True)
    body = Column(JSONB)
    name = Column(Upper(20))
"""


@pytest.mark.postgres
def test_a_postgresql_workspace_exports_its_own_types(ip, tmp_path, pg_server, pg_url):
    run(ip, f"%orm_connect {pg_url}\nfrom sqlalchemy import TypeDecorator")
    run(ip, POSTGRES_TYPES)
    out = run(ip, f"%orm_export {tmp_path}")
    assert "postgresql.JSONB(astext_type=sa.Text())" in out.text  # PostgreSQL's rendering
    assert "sa.Column('name', sa.String(length=20)" in out.text  # no __main__, no models
    run(ip, POSTGRES_TYPES + "    extra: Mapped[str | None]\n")
    out = run(ip, f"%orm_export {tmp_path}")  # the head upgraded on PostgreSQL, compared
    assert "batch_op.add_column(sa.Column('extra', sa.String(), nullable=True))" in out.text
    revisions = [p.read_text() for p in tmp_path.glob("migrations/versions/*.py")]
    assert len(revisions) == 2 and not [r for r in revisions if "models" in r]
    empty = pg_server.url(pg_server.create_database())
    alembic(tmp_path, empty, "upgrade", "head")
    assert differences(ip, empty) == []
    schemas = sqlalchemy.inspect(ip.user_ns["engine"]).get_schema_names()
    assert sorted(schemas) == ["information_schema", "public"]  # the scratch is gone


def test_a_cells_own_base_is_in_the_projects_metadata_too(ip, tmp_path):
    run(ip, USER)
    run(ip, """%%model
from sqlalchemy.orm import DeclarativeBase

class Other(DeclarativeBase):
    pass

class Note(Other):
    __tablename__ = 'notes'
    id: Mapped[int] = mapped_column(primary_key=True)
""")  # fmt: skip
    run(ip, f"%orm_export '{tmp_path / 'my project'}'")  # a path with a space, quoted
    url = f"sqlite:///{tmp_path / 'app.db'}"
    alembic(tmp_path / "my project", url, "upgrade", "head")
    # Alembic's own check, with the project's env.py: models.py's metadata is the database's
    assert "No new upgrade operations detected" in alembic(tmp_path / "my project", url, "check")
    tables = sqlalchemy.inspect(sqlalchemy.create_engine(url)).get_table_names()
    assert sorted(tables) == ["alembic_version", "notes", "users"]


def test_a_directory_that_cannot_be_one_is_one_line(ip, tmp_path):
    run(ip, USER)
    (tmp_path / "a file").write_text("mine")
    for where, says in [("a file", "is a file, not a directory"), ("a file/sub", "cannot write")]:
        with pytest.raises(UsageError, match=says) as caught:
            ip.run_line_magic("orm_export", f"'{tmp_path / where}'")
        assert "\n" not in str(caught.value)
    assert [p.name for p in tmp_path.iterdir()] == ["a file"]
    assert (tmp_path / "a file").read_text() == "mine"


def test_a_type_class_of_a_cells_own_is_one_line_and_writes_nothing(ip, tmp_path):
    run(ip, """%%model
from sqlalchemy.types import UserDefinedType

class Point(UserDefinedType):
    cache_ok = True

    def get_col_spec(self):
        return "POINT"

class Place(Base):
    __tablename__ = 'places'
    id: Mapped[int] = mapped_column(primary_key=True)
    at = Column(Point())
""")  # fmt: skip
    with pytest.raises(UsageError, match=r"a type defined in a cell \(Point\)") as caught:
        ip.run_line_magic("orm_export", str(tmp_path))
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_a_role_that_cannot_make_the_scratch_schema_is_told_in_one_line(ip, tmp_path, pg_server):
    database, role = pg_server.create_database(), f"limited_{os.getpid()}_{id(tmp_path)}"
    pg_server._admin(f"CREATE ROLE {role} LOGIN PASSWORD 'limited-secret'")
    pg_server._admin(f"GRANT CREATE ON SCHEMA public TO {role}", database)  # no CREATE SCHEMA
    url = sqlalchemy.make_url(pg_server.url(database))
    url = url.set(username=role, password="limited-secret").render_as_string(hide_password=False)
    run(ip, f"%orm_connect {url}")
    run(ip, USER)
    with pytest.raises(
        UsageError, match="a schema made on the server for a moment.*needs CREATE"
    ) as caught:
        ip.run_line_magic("orm_export", str(tmp_path))
    assert "\n" not in str(caught.value) and "limited-secret" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


# -- MariaDB: the revision generated in a scratch database on the workspace's server --
MARIADB_MODELS = """%%model
from sqlalchemy.dialects.mysql import MEDIUMTEXT, SET

class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    bio = Column(MEDIUMTEXT)
    tags = Column(SET('new', 'sale'))  # SQLite cannot make it: the scratch is MariaDB
"""


def scratch_databases(server) -> list:
    return server._admin("SHOW DATABASES LIKE 'orm\\\\_magic\\\\_export\\\\_%'")


@pytest.mark.mariadb
def test_a_mariadb_workspace_round_trip_through_alembics_command_line(
    ip, tmp_path, mariadb_server, mariadb_empty_url
):
    from .mariadb import PASSWORD as MARIADB_PASSWORD

    run(ip, f"%orm_connect {mariadb_empty_url}")
    run(ip, MARIADB_MODELS)
    first = run(ip, f"%orm_export {tmp_path}")
    assert "sa.Column('bio', mysql.MEDIUMTEXT(), nullable=True)" in first.text  # MySQL's types
    assert "sa.Column('tags', mysql.SET('new', 'sale'), nullable=True)" in first.text
    database = mariadb_server.create_database()
    url = mariadb_server.url(database)  # with the password: given in DATABASE_URL only
    alembic(tmp_path, url, "upgrade", "head")
    assert differences(ip, url) == []
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users VALUES (1, 'ed', 'long', 'sale')")
    run(ip, MARIADB_MODELS + "    email: Mapped[str | None] = mapped_column(String(50))\n")
    second = run(ip, f"%orm_export {tmp_path}")
    assert "add_column(sa.Column('email', sa.String(length=50), nullable=True))" in second.text
    assert "create_table" not in second.text  # only the difference from the head
    alembic(tmp_path, url, "upgrade", "head")
    assert differences(ip, url) == []
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT * FROM users").all() == [
            (1, "ed", "long", "sale", None)
        ]
    engine.dispose()
    mariadb_server.drop_database(database)
    assert scratch_databases(mariadb_server) == []  # each export's scratch is dropped
    written = [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    assert len(list(tmp_path.glob("migrations/versions/*.py"))) == 2
    assert not [t for t in [first.text, second.text, *written] if MARIADB_PASSWORD in t]
    port = sqlalchemy.make_url(url).port
    assert (
        f"sqlalchemy.url = mysql+pymysql://orm_magic@127.0.0.1:{port}/"
        in (tmp_path / "alembic.ini").read_text()
    )


@pytest.mark.mariadb
def test_a_mariadb_user_that_cannot_make_the_scratch_database_is_told_in_one_line(
    ip, tmp_path, mariadb_server
):
    database, user = mariadb_server.create_database(), f"limited_{os.getpid()}"
    mariadb_server._admin(
        f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'limited-secret'",
        f"GRANT ALL PRIVILEGES ON {database}.* TO '{user}'@'127.0.0.1'",  # no other database
    )
    url = sqlalchemy.make_url(mariadb_server.url(database))
    url = url.set(username=user, password="limited-secret").render_as_string(hide_password=False)
    run(ip, f"%orm_connect {url}")
    run(ip, MARIADB_MODELS)
    with pytest.raises(
        UsageError, match="a database made on the server for a moment.*needs CREATE"
    ) as caught:
        ip.run_line_magic("orm_export", str(tmp_path))
    assert "\n" not in str(caught.value) and "limited-secret" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.mariadb
def test_a_project_moved_to_mariadb_is_told_what_to_change_and_leaves_nothing(
    ip, tmp_path, mariadb_server, mariadb_empty_url
):
    run(ip, USER)  # on SQLite: a String without a length
    run(ip, f"%orm_export {tmp_path}")
    before = sorted(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    run(ip, USER.replace("name: Mapped[str]", "name: Mapped[str] = mapped_column(String(50))"))
    run(ip, f"%orm_connect {mariadb_empty_url}")
    # the head revision is upgraded in the scratch database: MariaDB refuses it
    with pytest.raises(
        UsageError, match="could not run the project's revisions.*need a length for every `String`"
    ) as caught:
        ip.run_line_magic("orm_export", str(tmp_path))
    assert "\n" not in str(caught.value)
    assert sorted(p.read_text() for p in tmp_path.rglob("*") if p.is_file()) == before
    assert scratch_databases(mariadb_server) == []
