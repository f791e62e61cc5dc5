"""orm_magic.core.schema_changes: a model cell's tables created or brought in line.

Without a shell: a Workspace, tables of plain ``MetaData`` (as a model cell's
Base holds them) and what exists in the database afterwards, compared with
plain ``create_all``. In memory a drop needs no confirmation, on a file it
does; on MariaDB, whose CREATE and ALTER commit as they run, a failed run drops
the tables it created and says what stays applied.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table
from sqlalchemy.exc import IntegrityError

from orm_magic.core import schema_changes
from orm_magic.core.errors import WorkspaceError
from orm_magic.core.migrate import DestructiveChange, NotRolledBack
from orm_magic.core.workspace import Workspace

from .echo import echo_log
from .test_migrate import users


def nicknamed() -> Table:
    return users(MetaData(), Column("nickname", String(50)))


def tags() -> Table:
    return Table("tags", MetaData(), Column("id", Integer, primary_key=True))


def columns(ws: Workspace, table: str = "users") -> list[str]:
    return [c["name"] for c in sa.inspect(ws.engine).get_columns(table)]


def rows(ws: Workspace, sql: str) -> list[tuple]:
    with ws.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def ddl(lines: list[str]) -> list[str]:
    return [line for line in lines if line.split()[0] in ("CREATE", "ALTER", "DROP", "DELETE")]


def in_line(ws, previous, tables, confirm=False, emptied=()) -> list[str]:
    keyed = {t.key: t for t in previous}
    return schema_changes.bring_in_line(ws, keyed, tables, confirm, set(emptied))


def open_workspace(url: str) -> Workspace:
    """A workspace whose users table (with a nickname) holds ed."""
    ws = Workspace(url)
    table = nicknamed()
    table.metadata.create_all(ws.engine)
    with ws.engine.begin() as conn:
        conn.execute(table.insert().values(name="ed", nickname="eddie"))
    return ws


@pytest.fixture(params=["memory", "file"])
def ws(request: pytest.FixtureRequest, tmp_path) -> Iterator[Workspace]:
    url = "sqlite://" if request.param == "memory" else f"sqlite:///{tmp_path / 'f.db'}"
    workspace = open_workspace(url)
    yield workspace
    workspace.close()


@pytest.fixture
def memory() -> Iterator[Workspace]:
    workspace = open_workspace("sqlite://")
    yield workspace
    workspace.close()


@pytest.fixture
def file(tmp_path) -> Iterator[Workspace]:
    workspace = open_workspace(f"sqlite:///{tmp_path / 'f.db'}")
    yield workspace
    workspace.close()


@pytest.fixture
def mariadb(mariadb_empty_url: str) -> Iterator[Workspace]:
    workspace = open_workspace(mariadb_empty_url)
    yield workspace
    workspace.close()


# -- creating and migrating -------------------------------------------------------------
def test_missing_tables_are_created_as_create_all_creates_them(memory):
    metadata = MetaData()
    Table("authors", metadata, Column("id", Integer, primary_key=True))
    books = Table(
        "books", metadata, Column("id", Integer, primary_key=True),
        Column("author_id", ForeignKey("authors.id")),
    )  # fmt: skip
    with echo_log() as ours:
        notes = in_line(memory, [], [books, metadata.tables["authors"]])  # child first
    plain = sa.create_engine("sqlite://")
    with echo_log() as echo:
        metadata.create_all(plain)
    plain.dispose()
    assert notes == [] and ddl(ours.lines) == ddl(echo.lines) and len(ddl(echo.lines)) == 2


def test_creating_tables_on_an_empty_database_does_not_import_alembic():
    code = (
        "import sys\nfrom sqlalchemy import Column, Integer, MetaData, Table\n"
        "from orm_magic.core import schema_changes\n"
        "from orm_magic.core.workspace import Workspace\n"
        "ws = Workspace('sqlite://')\n"
        "t = Table('tags', MetaData(), Column('id', Integer, primary_key=True))\n"
        "schema_changes.check(ws, {}, [t], False)\n"
        "print(schema_changes.bring_in_line(ws, {}, [t], False, set()), 'alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[] False", result.stderr


def test_an_existing_table_is_migrated_beside_a_new_one(ws):
    new = users(MetaData(), Column("nickname", String(50)), Column("email", String(50)))
    notes = in_line(ws, [nicknamed()], [new, tags()])
    assert notes[0] == "migration, as Alembic renders it:"
    assert notes[-1] == "table users changed: 1 row kept"
    assert columns(ws) == ["id", "name", "nickname", "email"] and columns(ws, "tags") == ["id"]
    assert rows(ws, "SELECT name, nickname, email FROM users") == [("ed", "eddie", None)]


def test_in_memory_a_drop_needs_no_confirm(memory):
    notes = in_line(memory, [nicknamed()], [users(MetaData())])
    assert notes[-1] == "dropped column users.nickname (the table held 1 row)"
    assert columns(memory) == ["id", "name"]


def test_on_a_file_a_drop_without_confirm_is_refused_and_nothing_changes(file):
    with pytest.raises(DestructiveChange, match=r"drops column users.nickname \(1 row\)"):
        in_line(file, [nicknamed()], [users(MetaData()), tags()])
    assert sa.inspect(file.engine).get_table_names() == ["users"]
    assert rows(file, "SELECT name, nickname FROM users") == [("ed", "eddie")]
    assert in_line(file, [nicknamed()], [users(MetaData())], confirm=True)[-1] == (
        "dropped column users.nickname (the table held 1 row)"
    )


def test_the_table_of_a_model_no_cell_defines_is_dropped(memory):
    people = Table("people", MetaData(), Column("id", Integer, primary_key=True))
    notes = in_line(memory, [nicknamed()], [people])
    assert notes[-1] == "dropped table users (the table held 1 row)"
    assert sa.inspect(memory.engine).get_table_names() == ["people"]


def test_emptied_tables_lose_their_rows_children_first(memory):
    posts = Table(
        "posts", nicknamed().metadata, Column("id", Integer, primary_key=True),
        Column("user_id", ForeignKey("users.id")),
    )  # fmt: skip
    posts.create(memory.engine)
    with memory.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (name) VALUES ('al')")
        conn.exec_driver_sql("INSERT INTO posts (user_id) VALUES (2)")
    with echo_log() as echo:
        notes = in_line(memory, [], posts.metadata.sorted_tables, emptied={"users", "posts"})
    assert notes == [
        "table posts emptied (--drop): 1 row deleted",  # one row, not "1 rows"
        "table users emptied (--drop): 2 rows deleted",
    ]
    assert ddl(echo.lines) == ["DELETE FROM posts", "DELETE FROM users"]
    assert rows(memory, "SELECT count(*) FROM users") == [(0,)]


# -- a failure leaves the database as it was --------------------------------------------
def test_a_failed_migration_undoes_the_new_tables_too_on_sqlite(ws):
    required = users(MetaData(), Column("age", Integer, nullable=False))  # nickname dropped
    with pytest.raises(IntegrityError, match="NOT NULL constraint failed"):
        in_line(ws, [nicknamed()], [required, tags()], confirm=True)
    assert sa.inspect(ws.engine).get_table_names() == ["users"]
    assert rows(ws, "SELECT * FROM users") == [(1, "ed", "eddie")]


def test_emptying_that_fails_after_the_migration_undoes_the_migration_on_sqlite(ws):
    with ws.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER kept BEFORE DELETE ON users BEGIN SELECT RAISE(ABORT, 'kept'); END"
        )
    new = users(MetaData(), Column("nickname", String(50)), Column("email", String(50)))
    with pytest.raises(IntegrityError, match="kept"):
        in_line(ws, [nicknamed()], [new, tags()], emptied={"users"})
    assert sa.inspect(ws.engine).get_table_names() == ["users"]
    assert columns(ws) == ["id", "name", "nickname"]
    assert rows(ws, "SELECT name FROM users") == [("ed",)]


# -- check: a refusal before anything changes -------------------------------------------
def test_check_refuses_a_drop_on_a_file_without_touching_the_sessions_transaction(file):
    session = file.session
    session.execute(sa.text("INSERT INTO users (name) VALUES ('flushed')"))
    with echo_log() as echo, pytest.raises(DestructiveChange, match="users.nickname"):
        schema_changes.check(file, {"users": nicknamed()}, [users(MetaData())], False)
    assert ddl(echo.lines) == [] and session.in_transaction()
    session.commit()
    assert rows(file, "SELECT name, nickname FROM users") == [("ed", "eddie"), ("flushed", None)]


@pytest.mark.parametrize("where, confirm", [("memory", False), ("file", True)])
def test_check_reads_nothing_when_a_drop_is_allowed(request, where, confirm):
    ws = request.getfixturevalue(where)
    with echo_log() as echo:
        schema_changes.check(ws, {"users": nicknamed()}, [users(MetaData())], confirm)
    assert echo.lines == [] and columns(ws) == ["id", "name", "nickname"]


# -- MySQL and MariaDB commit each CREATE and ALTER as it runs --------------------------
@pytest.mark.mariadb
def test_a_refused_drop_on_mariadb_drops_the_tables_it_created(mariadb):
    with echo_log() as echo, pytest.raises(DestructiveChange, match="users.nickname"):
        in_line(mariadb, [nicknamed()], [users(MetaData()), tags()])
    assert "DROP TABLE tags" in ddl(echo.lines)  # committed when created: dropped again
    assert sa.inspect(mariadb.engine).get_table_names() == ["users"]
    assert rows(mariadb, "SELECT name, nickname FROM users") == [("ed", "eddie")]


@pytest.mark.mariadb
def test_a_second_new_table_failing_on_mariadb_leaves_no_first_table(mariadb):
    metadata = MetaData()
    Table("authors", metadata, Column("id", Integer, primary_key=True))
    Table(
        "books", metadata, Column("id", Integer, primary_key=True),
        Column("author_id", String(10), ForeignKey("authors.id")),
    )  # fmt: skip
    with pytest.raises(sa.exc.DBAPIError) as caught:
        in_line(mariadb, [], metadata.sorted_tables)
    assert not isinstance(caught.value, WorkspaceError)  # the driver's error, as it was
    assert sa.inspect(mariadb.engine).get_table_names() == ["users"]


@pytest.mark.mariadb
def test_a_half_way_failure_on_mariadb_keeps_its_first_alter_not_its_new_table(mariadb):
    with mariadb.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (name, nickname) VALUES ('x', 'not a number')")
    new = users(MetaData(), Column("nickname", Integer), Column("email", String(50)))
    with pytest.raises(NotRolledBack, match=r"stays applied: op.add_column\('users'"):
        in_line(mariadb, [nicknamed()], [new, tags()])
    assert sa.inspect(mariadb.engine).get_table_names() == ["users"]
    assert columns(mariadb) == ["id", "name", "nickname", "email"]


@pytest.mark.mariadb
def test_emptying_that_fails_after_the_migration_on_mariadb_says_what_stays(mariadb):
    with mariadb.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER,"
            " FOREIGN KEY (user_id) REFERENCES users (id))"
        )
        conn.exec_driver_sql("INSERT INTO notes VALUES (7, 1)")
    new = users(MetaData(), Column("nickname", String(50)), Column("email", String(50)))
    with pytest.raises(NotRolledBack) as caught:  # notes refers to ed
        in_line(mariadb, [nicknamed()], [new, tags()], emptied={"users"})
    assert str(caught.value).startswith("IntegrityError in table users: ")
    assert "stays applied: op.add_column('users', sa.Column('email'" in str(caught.value)
    assert sa.inspect(mariadb.engine).get_table_names() == ["notes", "users"]
    assert columns(mariadb)[-1] == "email"
    assert rows(mariadb, "SELECT id, name FROM users") == [(1, "ed")]


@pytest.mark.mariadb
def test_a_created_table_that_cannot_be_dropped_again_on_mariadb_is_named(mariadb):
    with mariadb.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER,"
            " FOREIGN KEY (user_id) REFERENCES users (id))"
        )
        conn.exec_driver_sql("INSERT INTO notes VALUES (7, 1)")
    # users now refers to the new tags: the migration's foreign key keeps tags from a DROP
    tag = tags()
    new = users(MetaData(), Column("nickname", String(50)), Column("tag_id", ForeignKey(tag.c.id)))
    with pytest.raises(WorkspaceError) as caught:  # notes refers to ed
        in_line(mariadb, [nicknamed()], [new, tag], emptied={"users"})
    message = str(caught.value)
    assert type(caught.value) is WorkspaceError and message.startswith("IntegrityError")
    assert "stays applied: op.add_column('users', sa.Column('tag_id'" in message
    assert message.endswith(
        "; and the tables it created (tags) may remain: dropping them failed: Cannot delete"
        " or update a parent row: a foreign key constraint fails (MySQL error 1451)"
    )
    assert sa.inspect(mariadb.engine).get_table_names() == ["notes", "tags", "users"]
