"""orm_magic.core.export: model cells and their tables to a project, without a shell.

The cells run here as ``%%model`` runs them (the vocabulary, a ``Base``, in a
namespace named ``__main__``); their tables go to :func:`export_project`.
What it writes is checked with Alembic's own ``upgrade`` on a fresh database,
against plain ``create_all`` of the same tables on another (compared through
``sqlalchemy.inspect``) and against the models (Alembic's ``compare_metadata``).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, create_engine, inspect
from sqlalchemy.orm import DeclarativeBase

from orm_magic.core.errors import WorkspaceError
from orm_magic.core.export import export_project
from orm_magic.core.model_cells import fill_vocabulary

USER = """
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
"""
ADDRESS = """
import enum

class Kind(enum.Enum):
    home = 1
    work = 2

class Address(Base):
    __tablename__ = 'addresses'
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[Kind | None]
    user_id = Column(Integer, ForeignKey('users.id'), index=True)
    user: Mapped[User] = relationship()
"""
EMAIL = USER + "    email: Mapped[str | None]\n"


def cells(*sources: str) -> tuple[dict[str, Any], list[Table]]:
    """The namespace and the tables after running ``sources`` as %%model cells."""

    class Base(DeclarativeBase):
        pass

    namespace: dict[str, Any] = {"__name__": "__main__", "Base": Base}
    fill_vocabulary(namespace)
    for source in sources:  # not under this file's `from __future__ import annotations`
        exec(compile(source, "<cell>", "exec", dont_inherit=True), namespace)
    return namespace, list(Base.metadata.sorted_tables)


def export(directory: Path, *sources: str, url: str = "sqlite://"):
    namespace, tables = cells(*sources)
    return export_project(directory, list(sources), tables, namespace, url)


def upgrade(project: Path, url: str) -> None:
    """Alembic's own ``upgrade head`` of the project, through its env.py.

    On a connection handed in, as a caller may: env.py then sets up no logging.
    """
    config = Config(str(project / "alembic.ini"), stdout=io.StringIO())
    engine = create_engine(url)
    with engine.connect() as conn:
        config.attributes.update(connection=conn, target_metadata=MetaData())
        command.upgrade(config, "head")
    engine.dispose()


def schema(url: str) -> dict[str, Any]:
    """Each table's columns, keys and indexes, as ``sqlalchemy.inspect`` reads them."""
    engine = create_engine(url)
    found = inspect(engine)
    shape = {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(name)],
            found.get_pk_constraint(name)["constrained_columns"],
            [
                (k["constrained_columns"], k["referred_table"], k["referred_columns"])
                for k in found.get_foreign_keys(name)
            ],
            [(i["name"], i["column_names"], i["unique"]) for i in found.get_indexes(name)],
        )
        for name in found.get_table_names()
        if name != "alembic_version"
    }
    engine.dispose()
    return shape


def differences(url: str, tables: list[Table]) -> list:
    metadata = MetaData()
    for table in tables:
        table.to_metadata(metadata)
    engine = create_engine(url)
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    return [d for d in found if not (d[0] == "remove_table" and d[1].name == "alembic_version")]


def revisions(project: Path) -> list[Path]:
    return sorted(project.glob("migrations/versions/*.py"))


def test_the_first_export_writes_the_project_and_one_revision(tmp_path) -> None:
    done = export(tmp_path, USER, ADDRESS)
    (revision,) = revisions(tmp_path)
    assert done.written == [
        "models.py",
        "alembic.ini",
        "migrations/env.py",
        "migrations/script.py.mako",
        f"migrations/versions/{revision.name}",
    ]
    assert done.revision == done.head == revision.name.split("_")[0]
    # the message names each operation; the index on addresses.user_id is a change
    assert revision.read_text().startswith('"""create users, create addresses, change addresses\n')
    assert done.code.startswith("op.create_table('users',\n")


def test_alembics_upgrade_makes_the_schema_create_all_makes(tmp_path) -> None:
    export(tmp_path / "project", USER, ADDRESS)
    upgraded, created = f"sqlite:///{tmp_path / 'up.db'}", f"sqlite:///{tmp_path / 'made.db'}"
    upgrade(tmp_path / "project", upgraded)
    _, tables = cells(USER, ADDRESS)
    tables[0].metadata.create_all(create_engine(created))
    assert schema(upgraded) == schema(created)
    assert sorted(schema(upgraded)) == ["addresses", "users"]
    assert differences(upgraded, tables) == []


def test_a_later_export_holds_only_the_difference_and_keeps_the_rows(tmp_path) -> None:
    project, url = tmp_path / "project", f"sqlite:///{tmp_path / 'app.db'}"
    first = export(project, USER)
    upgrade(project, url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (id, name) VALUES (1, 'ed')")
    second = export(project, EMAIL)
    assert second.code == (
        "with op.batch_alter_table('users', schema=None) as batch_op:\n"
        "    batch_op.add_column(sa.Column('email', sa.String(), nullable=True))"
    )
    assert len(revisions(project)) == 2 and second.head == second.revision != first.head
    text = next(p for p in revisions(project) if p.name.startswith(second.head)).read_text()
    # the annotation is the template's, which differs between Alembic releases
    assert re.search(rf"^down_revision\b[^=\n]*= '{first.head}'$", text, re.MULTILINE)
    upgrade(project, url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id, name, email FROM users").all() == [(1, "ed", None)]
    engine.dispose()
    assert differences(url, cells(EMAIL)[1]) == []


def test_an_unchanged_export_adds_no_revision(tmp_path) -> None:
    first = export(tmp_path, USER)
    again = export(tmp_path, USER)
    assert (again.revision, again.head, again.code) == (None, first.head, "")
    assert again.written == ["models.py", "alembic.ini", "migrations/env.py"]
    assert len(revisions(tmp_path)) == 1


def test_a_users_own_revision_template_is_kept_and_used(tmp_path) -> None:
    export(tmp_path, USER)
    mako = tmp_path / "migrations" / "script.py.mako"
    mako.write_text("# our house style\n" + mako.read_text())
    done = export(tmp_path, EMAIL)
    assert "migrations/script.py.mako" not in done.written
    assert mako.read_text().startswith("# our house style\n")
    new = next(p for p in revisions(tmp_path) if p.name.startswith(str(done.revision)))
    assert new.read_text().startswith("# our house style\n")


@pytest.mark.parametrize("name", ["models.py", "alembic.ini", "migrations/env.py"])
def test_a_file_not_its_own_is_refused_and_nothing_written(tmp_path, name) -> None:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text("# mine\n")
    (tmp_path / "notes.txt").write_text("mine")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    with pytest.raises(WorkspaceError) as caught:
        export(tmp_path, USER)
    shown = tmp_path / ("migrations" if name.startswith("migrations") else name)
    assert str(caught.value) == (
        f"{shown} was not written by %orm_export; export to another directory"
    )
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / name).read_text() == "# mine\n"


def test_an_export_keeps_the_other_files_in_the_directory(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    export(tmp_path, USER)
    export(tmp_path, EMAIL)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_directory_that_cannot_be_one_is_refused(tmp_path) -> None:
    (tmp_path / "a file").write_text("mine")
    with pytest.raises(WorkspaceError) as caught:
        export(tmp_path / "a file", USER)
    assert str(caught.value) == f"{tmp_path / 'a file'} is a file, not a directory"
    with pytest.raises(WorkspaceError, match=r"^cannot write in .*/a file/sub: .*elsewhere$"):
        export(tmp_path / "a file" / "sub", USER)
    assert [p.name for p in tmp_path.iterdir()] == ["a file"]
    assert (tmp_path / "a file").read_text() == "mine"


def test_nothing_to_export_writes_nothing(tmp_path) -> None:
    with pytest.raises(WorkspaceError, match=r"^no %%model cell has run yet"):
        export_project(tmp_path / "project", [], [], {}, "sqlite://")
    assert list(tmp_path.iterdir()) == []


def test_a_type_class_of_a_cells_own_is_refused_and_nothing_written(tmp_path) -> None:
    point = """
from sqlalchemy.types import UserDefinedType

class Point(UserDefinedType):
    cache_ok = True

    def get_col_spec(self):
        return "POINT"

class Place(Base):
    __tablename__ = 'places'
    id: Mapped[int] = mapped_column(primary_key=True)
    at = Column(Point())
"""
    with pytest.raises(WorkspaceError, match=r"a type defined in a cell \(Point\); make it a "):
        export(tmp_path / "project", point)
    assert list(tmp_path.iterdir()) == []


def test_a_type_decorator_of_a_cells_own_is_written_as_its_impl(tmp_path) -> None:
    upper = """
from sqlalchemy import TypeDecorator

class Upper(TypeDecorator):
    impl = String
    cache_ok = True

class Doc(Base):
    __tablename__ = 'docs'
    id: Mapped[int] = mapped_column(primary_key=True)
    name = Column(Upper(20))
"""
    done = export(tmp_path, upper)
    assert "sa.Column('name', sa.String(length=20), nullable=True)" in done.code
    (revision,) = revisions(tmp_path)
    assert "__main__" not in revision.read_text() and "models" not in revision.read_text()


MARIADB_MODELS = """
from sqlalchemy.dialects.mysql import MEDIUMTEXT, SET

class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    bio = Column(MEDIUMTEXT)
    tags = Column(SET('new', 'sale'))  # SQLite cannot make it: the scratch is MariaDB
"""


@pytest.mark.mariadb
def test_on_mariadb_the_revision_is_made_in_a_scratch_database_dropped_after(
    tmp_path, mariadb_server, mariadb_empty_url
) -> None:
    done = export(tmp_path, MARIADB_MODELS, url=mariadb_empty_url)
    assert "sa.Column('bio', mysql.MEDIUMTEXT(), nullable=True)" in done.code
    assert "sa.Column('tags', mysql.SET('new', 'sale'), nullable=True)" in done.code
    assert mariadb_server._admin("SHOW DATABASES LIKE 'orm\\\\_magic\\\\_export\\\\_%'") == []
    upgrade(tmp_path, mariadb_empty_url)
    assert differences(mariadb_empty_url, cells(MARIADB_MODELS)[1]) == []
