"""orm_magic.core.migrate: Alembic brings the live tables in line with the models.

Without a shell: a table made by plain ``create_all`` from the old definition,
``bring_in_line`` on a connection of a plain engine with the new definition,
then the tables, rows and SQL compared with what the code it shows does when
plain Alembic runs it. SQLite in memory (batch, "move and copy") and, where
MySQL's DDL commits as it runs, MariaDB.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import produce_migrations
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Engine, Index, Integer, MetaData, String, Table
from sqlalchemy.exc import IntegrityError

from orm_magic.core import migrate
from orm_magic.core.capture import StatementRecorder
from orm_magic.core.engine import make_engine
from orm_magic.core.errors import WorkspaceError

from .echo import echo_log

DDL = ("CREATE", "INSERT", "DROP", "ALTER")


def users(metadata: MetaData, *columns: Column) -> Table:
    """The users table: id and name, then ``columns``."""
    return Table(
        "users",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(50)),
        *columns,
    )


def old_users() -> Table:
    return users(MetaData(), Column("nickname", String(50)))


def fresh(engine: Engine, table: Table, **row: str) -> None:
    """``table`` made anew by plain ``create_all``, holding ``row`` when given."""
    table.metadata.drop_all(engine)
    table.metadata.create_all(engine)
    if row:
        with engine.begin() as conn:
            conn.execute(table.insert().values(**row))


def ddl(lines: list[str]) -> list[str]:
    return [line for line in lines if line.split()[0] in DDL]


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def columns(engine: Engine, table: str = "users", schema: str | None = None) -> list[str]:
    return [c["name"] for c in sa.inspect(engine).get_columns(table, schema=schema)]


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def plain_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = (
        "sqlite://" if request.param == "sqlite" else request.getfixturevalue("mariadb_empty_url")
    )
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine() -> Iterator[Engine]:
    # the workspace's engine: pysqlite as plain SQLAlchemy sets it up runs DDL outside
    # the transaction, so no rollback would undo a failed move and copy
    engine = make_engine("sqlite://")
    fresh(engine, old_users(), name="ed", nickname="eddie")
    yield engine
    engine.dispose()


@pytest.fixture
def mariadb(mariadb_empty_url: str) -> Iterator[Engine]:
    engine = sa.create_engine(mariadb_empty_url)
    fresh(engine, old_users(), name="ed", nickname="eddie")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (name, nickname) VALUES ('x', 'not a number')")
    yield engine
    engine.dispose()


def in_line(engine: Engine, tables: list[Table], previous=(), confirm=False) -> migrate.Migration:
    with engine.begin() as conn:
        return migrate.bring_in_line(conn, tables, list(previous), confirm=confirm)


# -- what a migration does ------------------------------------------------------------
def test_an_added_column_keeps_the_rows_and_is_what_its_code_does_in_alembic(plain_engine):
    fresh(plain_engine, old_users(), name="ed", nickname="eddie")
    new = users(MetaData(), Column("nickname", String(50)), Column("email", String(50)))
    with echo_log() as ours:
        migration = in_line(plain_engine, [new])
    assert "sa.Column('email', sa.String(length=50), nullable=True))" in migration.code
    assert migration.kept == {"users": 1} and migration.dropped == []
    assert rows(plain_engine, "SELECT id, name, nickname, email FROM users") == [
        (1, "ed", "eddie", None)
    ]
    fresh(plain_engine, old_users(), name="ed", nickname="eddie")
    with echo_log() as plain, plain_engine.begin() as conn:  # the code, as a revision would run it
        exec(migration.code, {"op": Operations(MigrationContext.configure(conn)), "sa": sa})
    assert ddl(ours.lines) == ddl(plain.lines) and ddl(ours.lines)


def test_nothing_differs_nothing_runs(engine):
    with echo_log() as echo:
        migration = in_line(engine, [old_users()])
    assert migration == migrate.Migration() and migration.notes() == []
    assert ddl(echo.lines) == []


def test_the_comparisons_reads_are_not_recorded_only_the_migration(engine):
    recorder = StatementRecorder(engine)
    in_line(engine, [users(MetaData(), Column("nickname", String(50)), Column("age", Integer))])
    assert [s.sql.strip() for s in recorder.log] == [
        "BEGIN (implicit)",
        "ALTER TABLE users ADD COLUMN age INTEGER",
        "COMMIT",
    ]
    recorder.close()


def test_the_notes_show_the_code_the_rows_kept_and_what_was_dropped(engine):
    migration = in_line(engine, [users(MetaData())], confirm=True)
    assert migration.notes() == [
        "migration, as Alembic renders it:",
        "with op.batch_alter_table('users', schema=None) as batch_op:",
        "    batch_op.drop_column('nickname')",
        "table users changed: 1 row kept",
        "dropped column users.nickname (the table held 1 row)",
    ]
    assert columns(engine) == ["id", "name"] and rows(engine, "SELECT * FROM users") == [(1, "ed")]


def test_dropping_a_column_holding_rows_is_refused_and_changes_nothing(engine):
    with echo_log() as echo, pytest.raises(migrate.DestructiveChange) as caught:
        in_line(engine, [users(MetaData())])
    assert str(caught.value) == (
        "this change drops column users.nickname (1 row): with op.batch_alter_table('users',"
        " schema=None) as batch_op: batch_op.drop_column('nickname'); the models and tables"
        " are unchanged; run the cell as %%model --yes to apply it"
    )
    assert ddl(echo.lines) == [] and columns(engine) == ["id", "name", "nickname"]


def test_dropping_a_column_of_an_empty_table_needs_no_confirm(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM users")
    migration = in_line(engine, [users(MetaData())])
    assert migration.dropped == [migrate.Dropped("column users.nickname", 0)]
    assert columns(engine) == ["id", "name"]


def test_the_table_of_a_previous_model_is_dropped_and_others_are_not_touched(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    people = Table("people", MetaData(), Column("id", Integer, primary_key=True))
    migration = in_line(engine, [people], previous=[old_users()], confirm=True)
    assert "op.drop_table('users')" in migration.code
    assert migration.dropped == [migrate.Dropped("table users", 1)]
    assert sa.inspect(engine).get_table_names() == ["notes", "people"]


def test_views_and_foreign_keys_of_tables_no_model_owns_survive_a_move_and_copy(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE VIEW named AS SELECT id, name FROM users")
        conn.exec_driver_sql(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id))"
        )
        conn.exec_driver_sql("INSERT INTO notes VALUES (7, 1)")
    migration = in_line(engine, [users(MetaData())], confirm=True)
    assert "CASCADE" not in migration.code
    assert rows(engine, "SELECT * FROM named") == [(1, "ed")]
    assert rows(engine, "SELECT * FROM notes") == [(7, 1)]
    assert [fk["referred_table"] for fk in sa.inspect(engine).get_foreign_keys("notes")] == [
        "users"
    ]
    assert rows(engine, "PRAGMA legacy_alter_table") == [(0,)]  # a connection setting: reset


def test_plain_alembic_fails_that_move_and_copy_with_a_view_on_the_table(engine):
    # why bring_in_line turns SQLite's legacy_alter_table on around the batch
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE VIEW named AS SELECT id, name FROM users")
    code = "with op.batch_alter_table('users') as batch_op:\n    batch_op.drop_column('nickname')"
    error = pytest.raises(sa.exc.OperationalError, match="error in view named")
    with error, engine.begin() as conn:
        exec(code, {"op": Operations(MigrationContext.configure(conn)), "sa": sa})


def test_a_failing_move_and_copy_raises_the_drivers_error_and_undoes_it_all(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE VIEW named AS SELECT id, name FROM users")
    required = users(MetaData(), Column("age", Integer, nullable=False))  # nickname dropped
    with pytest.raises(IntegrityError, match="NOT NULL constraint failed: _alembic_tmp_users.age"):
        in_line(engine, [required], confirm=True)
    assert sa.inspect(engine).get_table_names() == ["users"]  # no _alembic_tmp_users
    assert rows(engine, "SELECT * FROM users") == [(1, "ed", "eddie")]
    assert rows(engine, "PRAGMA legacy_alter_table") == [(0,)]


def test_an_index_made_by_hand_stays_an_index_a_model_defined_before_goes(engine):
    old = old_users()
    Index("by_model", old.c.nickname)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX by_model ON users (nickname)")
        conn.exec_driver_sql("CREATE INDEX by_hand ON users (name)")
    in_line(engine, [users(MetaData(), Column("nickname", String(50)))], previous=[old])
    assert [ix["name"] for ix in sa.inspect(engine).get_indexes("users")] == ["by_hand"]


def test_tables_of_two_metadata_are_both_compared_neither_dropped(engine):
    tags = Table("tags", MetaData(), Column("id", Integer, primary_key=True))
    tags.metadata.create_all(engine)
    other = Table(
        "tags", MetaData(), Column("id", Integer, primary_key=True), Column("t", Integer)
    )
    new = users(MetaData(), Column("nickname", String(50)), Column("age", Integer))
    migration = in_line(engine, [new, other])
    assert migration.kept == {"tags": 0, "users": 1} and migration.dropped == []
    assert columns(engine, "tags") == ["id", "t"] and columns(engine)[-1] == "age"


def test_a_table_in_another_schema_is_compared_there():
    engine = sa.create_engine("sqlite://")
    sa.event.listen(
        engine, "connect", lambda dbapi, _: dbapi.execute("ATTACH ':memory:' AS other")
    )
    Table("items", MetaData(), Column("id", Integer, primary_key=True), schema="other").create(
        engine
    )
    new = Table(
        "items", MetaData(), Column("id", Integer, primary_key=True), Column("x", Integer),
        schema="other",
    )  # fmt: skip
    migration = in_line(engine, [new])
    assert "batch_alter_table('items', schema='other')" in migration.code
    assert columns(engine, "items", "other") == ["id", "x"]
    assert sa.inspect(engine).get_table_names() == []  # none made in main
    engine.dispose()


# -- check: the refusal alone ---------------------------------------------------------
def test_check_refuses_a_drop_of_rows_and_changes_nothing(engine):
    refused = pytest.raises(migrate.DestructiveChange, match="drops column users.nickname")
    with echo_log() as echo, engine.connect() as conn, refused:
        migrate.check(conn, [users(MetaData())], [])
    assert ddl(echo.lines) == [] and columns(engine) == ["id", "name", "nickname"]


def test_check_lets_an_added_column_pass_without_running_it(engine):
    new = users(MetaData(), Column("nickname", String(50)), Column("age", Integer))
    with echo_log() as echo, engine.connect() as conn:
        assert migrate.check(conn, [new], []) is None
    assert ddl(echo.lines) == [] and columns(engine) == ["id", "name", "nickname"]


# -- the words --------------------------------------------------------------------------
def test_dropped_describes_its_rows():
    assert migrate.Dropped("column users.nickname", 3).describe() == (
        "column users.nickname (3 rows)"
    )
    assert (
        migrate.Dropped("table tags", 1).describe(held=True) == "table tags (the table held 1 row)"
    )
    assert migrate.Dropped("table tags", None).describe() == "table tags (more than 10,000 rows)"


def test_the_notes_say_more_than_the_count_limit_when_not_counted():
    migration = migrate.Migration("op.x()", kept={"big": None, "small": 1_234})
    assert migration.notes()[-2:] == [
        "table big changed: more than 10,000 rows kept",
        "table small changed: 1,234 rows kept",
    ]


def test_not_rolled_back_names_the_error_and_the_code_on_one_line():
    error = migrate.not_rolled_back(ValueError("boom"), "op.a()\n\n  op.b()\n")
    assert isinstance(error, WorkspaceError)
    assert str(error) == (
        "ValueError: boom; MySQL and MariaDB commit each ALTER TABLE as it runs, so what ran"
        " before the failure stays applied: op.a() op.b(); the earlier models are unchanged:"
        " correct the cell and run it again"
    )


# -- MySQL and MariaDB commit each ALTER as it runs -------------------------------------
@pytest.mark.mariadb
def test_a_migration_failing_half_way_on_mariadb_says_what_stays(mariadb):
    new = users(MetaData(), Column("nickname", Integer), Column("email", String(50)))
    with pytest.raises(migrate.NotRolledBack) as caught:
        in_line(mariadb, [new])
    message = str(caught.value)
    assert message.startswith("OperationalError: ") and "(MySQL error 1292)" in message
    assert message.endswith(
        " stays applied: op.add_column('users', sa.Column('email', sa.String(length=50),"
        " nullable=True)); the earlier models are unchanged: correct the cell and run it again"
    )
    assert columns(mariadb) == ["id", "name", "nickname", "email"]  # committed by the server
    assert rows(mariadb, "SELECT nickname FROM users ORDER BY id") == [
        ("eddie",),
        ("not a number",),
    ]


@pytest.mark.mariadb
def test_a_first_operation_failing_on_mariadb_raises_the_drivers_error(mariadb):
    with pytest.raises(sa.exc.DBAPIError) as caught:
        in_line(mariadb, [users(MetaData(), Column("nickname", Integer))])
    assert not isinstance(caught.value, WorkspaceError)
    assert columns(mariadb) == ["id", "name", "nickname"]


def test_apply_runs_operations_and_lists_those_that_ran(engine):
    new = users(MetaData(), Column("nickname", String(50)), Column("age", Integer))
    applied: list = []
    with engine.begin() as conn:
        context = MigrationContext.configure(conn, opts={"render_as_batch": True})
        upgrade = produce_migrations(context, new.metadata).upgrade_ops
        migrate.apply(Operations(context), upgrade, True, applied)
    assert applied == upgrade.ops
    assert columns(engine) == ["id", "name", "nickname", "age"]
