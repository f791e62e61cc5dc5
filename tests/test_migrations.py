"""Re-run %%model cells migrate through Alembic: every model against the live database.

Each `ip` test runs on in-memory SQLite, PostgreSQL and MariaDB (conftest's db_url).
Strings have a length everywhere: MariaDB refuses a VARCHAR without one.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata, produce_migrations
from alembic.migration import MigrationContext
from alembic.operations import Operations
from IPython.core.error import UsageError

from orm_magic.core import migrate

from .helpers import log_sql, run
from .test_connect import only_on

USER = """%%model
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    nickname: Mapped[str | None] = mapped_column(String(50))
    age: Mapped[int | None]
"""
# adds email, drops nickname, retypes age
EDITED = """%%model --yes
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(50))
    age: Mapped[str | None] = mapped_column(String(50))
"""
WITH_EMAIL = USER + "    email: Mapped[str | None] = mapped_column(String(50))\n"


def rows(ip, sql):
    with ip.user_ns["engine"].connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def differences(ip) -> list:
    """What Alembic still finds between the models and their tables."""
    ws = ip._orm_magic.workspace
    names = {t.name for t in ws.tables().values()}
    with ws.engine.connect() as conn:
        opts = {"include_name": lambda name, type_, _: type_ != "table" or name in names}
        return compare_metadata(MigrationContext.configure(conn, opts=opts), ws.Base.metadata)


@pytest.fixture
def users(ip):
    run(ip, USER)
    run(ip, "%orm_add User(name='ed', nickname='eddie', age=30)\n%orm_commit")
    return ip


def test_an_added_column_is_alembics_migration_and_keeps_the_rows(users):
    out = run(users, WITH_EMAIL)
    assert "add_column(" in out.text
    assert "sa.Column('email', sa.String(length=50), nullable=True))" in out.text
    assert "table users changed: 1 row kept" in out.text
    assert "ALTER TABLE users ADD COLUMN email VARCHAR(50)" in log_sql(users)
    assert rows(users, "SELECT id, name, email FROM users") == [(1, "ed", None)]
    assert differences(users) == []


def test_the_sql_shown_is_what_plain_alembic_emits(users):
    old, new = sqlalchemy.MetaData(), sqlalchemy.MetaData()
    users.user_ns["User"].__table__.to_metadata(old)
    table = users.user_ns["User"].__table__.to_metadata(new)
    table.append_column(sqlalchemy.Column("email", sqlalchemy.String(50)))
    before = len(log_sql(users))
    run(users, WITH_EMAIL)
    ours = [s for s in log_sql(users)[before:] if s.startswith(("ALTER", "CREATE", "DROP"))]
    # plain Alembic on a plain engine of the same database, from the same old table
    plain = sqlalchemy.create_engine(users.user_ns["engine"].url)
    emitted: list[str] = []
    sqlalchemy.event.listen(plain, "before_cursor_execute", lambda *a: emitted.append(a[2]))
    with plain.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS users")
        old.create_all(conn)
        del emitted[:]
        context = MigrationContext.configure(conn)
        upgrade = produce_migrations(context, new).upgrade_ops
        migrate.apply(Operations(context), upgrade, batch=False)
    plain.dispose()
    ddl = [s.strip() for s in emitted if s.lstrip().startswith(("ALTER", "CREATE", "DROP"))]
    assert ours == ddl == ["ALTER TABLE users ADD COLUMN email VARCHAR(50)"]


def test_views_foreign_keys_and_rows_the_models_do_not_own_survive(users):
    with users.user_ns["engine"].begin() as conn:
        conn.exec_driver_sql("CREATE VIEW named AS SELECT id, name FROM users")
        conn.exec_driver_sql(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER,"
            " FOREIGN KEY (user_id) REFERENCES users (id))"
        )
        conn.exec_driver_sql("INSERT INTO notes VALUES (7, 1)")
    out = run(users, EDITED)
    assert "CASCADE" not in "\n".join(log_sql(users))
    assert "drop_column(" in out.text and "'nickname')" in out.text
    assert rows(users, "SELECT id, name, email, age FROM users") == [(1, "ed", None, "30")]
    assert rows(users, "SELECT * FROM named") == [(1, "ed")]
    assert rows(users, "SELECT * FROM notes") == [(7, 1)]
    inspector = sqlalchemy.inspect(users.user_ns["engine"])
    assert [fk["referred_table"] for fk in inspector.get_foreign_keys("notes")] == ["users"]
    assert differences(users) == []


def test_an_index_made_by_hand_on_a_models_table_stays(users):
    with users.user_ns["engine"].begin() as conn:
        conn.exec_driver_sql("CREATE INDEX by_hand ON users (name)")
    run(users, WITH_EMAIL)
    indexes = sqlalchemy.inspect(users.user_ns["engine"]).get_indexes("users")
    assert [ix["name"] for ix in indexes] == ["by_hand"]


@only_on("postgresql", "mariadb")
def test_dropping_a_column_holding_rows_on_a_server_needs_yes(users):
    with pytest.raises(UsageError) as caught:
        users.run_cell_magic("model", "", EDITED.split("\n", 1)[1])
    message = str(caught.value)
    assert "drops column users.nickname (1 row)" in message
    assert "drop_column('users', 'nickname')" in message and "%%model --yes" in message
    assert "\n" not in message
    assert rows(users, "SELECT nickname, age FROM users") == [("eddie", 30)]
    run(users, "%orm_add User(name='still works')\n%orm_commit")  # the models are as they were


@only_on("sqlite")
def test_a_file_database_refuses_a_drop_too(ip, tmp_path):
    run(ip, f"%orm_connect sqlite:///{tmp_path / 'f.db'}")
    run(ip, USER)
    run(ip, "%orm_add User(name='ed', nickname='eddie')\n%orm_commit")
    with pytest.raises(UsageError, match="drops column users.nickname"):
        ip.run_cell_magic("model", "", EDITED.split("\n", 1)[1])
    out = run(ip, EDITED)  # with --yes
    assert "dropped column users.nickname (the table held 1 row)" in out.text


def test_a_refused_drop_changes_nothing_not_even_the_sessions_work(ip, tmp_path, db_url):
    if db_url == "sqlite://":  # in memory a drop is applied: refused on a file
        run(ip, f"%orm_connect sqlite:///{tmp_path / 'f.db'}")
    run(ip, USER)
    run(ip, "%orm_add User(name='ed', nickname='eddie')\n%orm_commit")
    # one object flushed (the session holds a transaction), one only added
    run(ip, "%orm_add User(name='flushed')\n%orm_flush\n%orm_add User(name='pending')")
    with pytest.raises(UsageError, match="drops column users.nickname") as caught:
        ip.run_cell_magic("model", "", EDITED.split("\n", 1)[1])
    assert "discard" not in str(caught.value)
    assert [u.name for u in ip.user_ns["session"].new] == ["pending"]
    run(ip, "%orm_commit")
    assert rows(ip, "SELECT name, nickname FROM users ORDER BY id") == [
        ("ed", "eddie"),
        ("flushed", None),
        ("pending", None),
    ]


@only_on("sqlite")
def test_in_memory_a_drop_is_applied_and_named(users):
    out = run(users, EDITED.replace(" --yes", ""))
    assert "dropped column users.nickname (the table held 1 row)" in out.text


@only_on("postgresql", "mariadb")
def test_a_failing_migration_changes_nothing(users):
    run(users, "%orm_add User(name='x', nickname='not a number')\n%orm_commit")
    retyped = USER.replace(
        "nickname: Mapped[str | None] = mapped_column(String(50))", "nickname: Mapped[int | None]"
    )
    assert retyped != USER
    with pytest.raises(UsageError, match="the earlier models and tables are unchanged"):
        users.run_cell_magic("model", "", retyped.split("\n", 1)[1])
    assert rows(users, "SELECT count(*) FROM users") == [(2,)]
    assert differences(users) == []


@only_on("sqlite")
def test_the_table_of_a_model_no_cell_defines_any_more_is_dropped(users):
    out = run(users, USER.replace("'users'", "'people'"))
    assert "op.drop_table('users')" in out.text
    assert "dropped table users (the table held 1 row)" in out.text
    assert sqlalchemy.inspect(users.user_ns["engine"]).get_table_names() == ["people"]


MIXIN = """%%model
class Stamped:
    created: Mapped[str | None] = mapped_column(String(50))

class Tag(Stamped, Base):
    __tablename__ = 'tags'
    id: Mapped[int] = mapped_column(primary_key=True)
"""
POST = """%%model
class Post(Stamped, Base):
    __tablename__ = 'posts'
    id: Mapped[int] = mapped_column(primary_key=True)
"""


def test_a_mixin_edited_in_one_cell_changes_the_tables_of_another(ip):
    run(ip, MIXIN)
    run(ip, POST)
    run(ip, "%orm_add Post(created='monday')\n%orm_commit")
    stamped = "created: Mapped[str | None] = mapped_column(String(50))"
    out = run(ip, MIXIN.replace(stamped, stamped + "\n    author: Mapped[str | None]"
                                " = mapped_column(String(50))"))  # fmt: skip
    assert "table posts changed: 1 row kept" in out.text
    run(ip, "%orm_add Post(created='tuesday', author='ann')\n%orm_commit")
    assert rows(ip, "SELECT created, author FROM posts ORDER BY id") == [
        ("monday", None),
        ("tuesday", "ann"),
    ]
    assert differences(ip) == []


def test_load_does_not_import_alembic():
    code = (
        "import sys; from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'orm_magic')\n"
        "print('alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


# -- MySQL and MariaDB commit each CREATE and ALTER as it runs: no rollback undoes them --
TAGS = """
class Tag(Base):
    __tablename__ = 'tags'
    id: Mapped[int] = mapped_column(primary_key=True)
"""


def test_a_refused_drop_leaves_no_new_table_behind(ip, tmp_path, db_url):
    if db_url == "sqlite://":  # in memory a drop is applied: refused on a file
        run(ip, f"%orm_connect sqlite:///{tmp_path / 'f.db'}")
    run(ip, USER)
    run(ip, "%orm_add User(name='ed', nickname='eddie')\n%orm_commit")
    with pytest.raises(UsageError, match="the models and tables are unchanged"):
        ip.run_cell_magic("model", "", EDITED.split("\n", 1)[1] + TAGS)
    assert not sqlalchemy.inspect(ip.user_ns["engine"]).has_table("tags")
    assert rows(ip, "SELECT name, nickname FROM users") == [("ed", "eddie")]


@only_on("postgresql", "mariadb")
def test_a_migration_failing_half_way_says_what_stays(users, db_url):
    # MariaDB refuses the second ALTER after committing the first; PostgreSQL rolls back
    run(users, "%orm_add User(name='x', nickname='not a number')\n%orm_commit")
    run(users, "%orm_add User(name='flushed')\n%orm_flush")  # the session's work: lost, told
    cell = WITH_EMAIL.replace(
        "nickname: Mapped[str | None] = mapped_column(String(50))", "nickname: Mapped[int | None]"
    )
    with pytest.raises(UsageError) as caught:
        users.run_cell_magic("model", "", cell.split("\n", 1)[1] + TAGS)
    message, inspector = str(caught.value), sqlalchemy.inspect(users.user_ns["engine"])
    columns = [c["name"] for c in inspector.get_columns("users")]
    assert message.endswith(
        "; the session's work was discarded: rows flushed but not committed undone"
    )
    if db_url.startswith("mysql"):
        assert (
            "(MySQL error 1292); MySQL and MariaDB commit each ALTER TABLE as it runs" in message
        )
        assert "stays applied: op.add_column('users', sa.Column('email'" in message
        assert "the earlier models are unchanged" in message and "tables are" not in message
        assert columns == ["id", "name", "nickname", "age", "email"]
    else:
        assert "the earlier models and tables are unchanged;" in message
        assert columns == ["id", "name", "nickname", "age"]
    assert not users.user_ns["session"].new and not users.user_ns["session"].dirty
    assert "\n" not in message and not inspector.has_table("tags")  # the new table: dropped
    assert rows(users, "SELECT name, nickname FROM users ORDER BY id") == [
        ("ed", "eddie"),
        ("x", "not a number"),
    ]
    run(users, WITH_EMAIL)  # corrected, the cell brings the table in line
    assert differences(users) == []


@only_on("postgresql", "mariadb")
def test_emptying_that_fails_after_the_migration_says_what_stays(users, db_url):
    with users.user_ns["engine"].begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER,"
            " FOREIGN KEY (user_id) REFERENCES users (id))"
        )
        conn.exec_driver_sql("INSERT INTO notes VALUES (7, 1)")
    with pytest.raises(UsageError, match="IntegrityError") as caught:  # notes refers to ed
        users.run_cell_magic("model", "--drop", WITH_EMAIL.split("\n", 1)[1])
    columns = [c["name"] for c in sqlalchemy.inspect(users.user_ns["engine"]).get_columns("users")]
    if db_url.startswith("mysql"):
        assert "stays applied: op.add_column('users', sa.Column('email'" in str(caught.value)
        assert columns[-1] == "email"
    else:
        assert str(caught.value).endswith("the earlier models and tables are unchanged")
        assert "email" not in columns
    assert rows(users, "SELECT id, name FROM users") == [(1, "ed")]


@only_on("postgresql", "mariadb")
def test_a_new_cell_whose_second_table_fails_leaves_no_first_table(ip):
    mismatched = """%%model
class Author(Base):
    __tablename__ = 'authors'
    id: Mapped[int] = mapped_column(primary_key=True)

class Book(Base):
    __tablename__ = 'books'
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[str] = mapped_column(String(10), ForeignKey('authors.id'))
"""
    with pytest.raises(UsageError, match="the earlier models and tables are unchanged"):
        ip.run_cell_magic("model", "", mismatched.split("\n", 1)[1])
    assert sqlalchemy.inspect(ip.user_ns["engine"]).get_table_names() == []
    run(
        ip,
        mismatched.replace(
            "Mapped[str] = mapped_column(String(10), ", "Mapped[int] = mapped_column("
        ),
    )
