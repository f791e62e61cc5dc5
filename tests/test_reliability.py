"""Notebook habits: re-run cells, failed flushes, bad input, hostile values, big runs."""

from __future__ import annotations

import pytest
import sqlalchemy
from IPython.core.error import UsageError

from .helpers import run

USER = """%%model
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    addresses: Mapped[list["Address"]] = relationship(back_populates="user")
"""

ADDRESS = """%%model
class Address(Base):
    __tablename__ = 'addresses'
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[int] = mapped_column(ForeignKey('users.id'))
    user: Mapped["User"] = relationship(back_populates="addresses")
"""


def rows(ip, sql):
    """Rows straight from the database, through the workspace engine."""
    with ip.user_ns["engine"].connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


@pytest.fixture
def two_models(ip):
    run(ip, USER)
    run(ip, ADDRESS)
    run(ip, "%orm_add User(name='ed', addresses=[Address(email='ed@x')])\n%orm_commit")
    return ip


# -- re-running %%model cells ----------------------------------------------------------
def test_rerunning_a_model_cell_again_and_again(two_models):
    ip = two_models
    for _ in range(4):
        run(ip, USER)
    for _ in range(3):
        run(ip, ADDRESS)
    run(ip, USER)
    out = run(ip, "u = session.scalars(select(User)).one()\n[a.email for a in u.addresses]")
    assert out.result.result == ["ed@x"]
    back = run(ip, "session.scalars(select(Address)).one().user.name")
    assert back.result.result == "ed"
    run(ip, "%orm_add User(name='new', addresses=[Address(email='n@x')])\n%orm_commit")
    assert rows(ip, "SELECT count(*) FROM addresses") == [(2,)]


def test_changed_columns_migrate_the_table_and_keep_rows(two_models):
    ip = two_models
    name = "name: Mapped[str] = mapped_column(String(100))"
    edited = USER.replace(name, name + "\n    age: Mapped[int | None]")
    out = run(ip, edited)
    assert "sa.Column('age', sa.Integer(), nullable=True)" in out.text
    assert "table users changed: 1 row kept" in out.text
    assert rows(ip, "SELECT id, name, age FROM users") == [(1, "ed", None)]
    dropped = edited.replace(f"    {name}\n", "").replace("%%model", "%%model --yes")
    retyped = "age: Mapped[str | None] = mapped_column(String(20))"
    out = run(ip, dropped.replace("age: Mapped[int | None]", retyped))
    assert "dropped column users.name (the table held 1 row)" in out.text
    assert "alter_column(" in out.text and "type_=sa.String(length=20)" in out.text
    assert rows(ip, "SELECT id FROM users") == [(1,)]


TAG = """%%model
class Tag(Base):
    __tablename__ = 'tags'
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(50))
"""


def test_model_drop_empties_the_cells_tables(ip):
    run(ip, TAG)
    run(ip, "%orm_add [Tag(label='a'), Tag(label='b')]\n%orm_commit")
    out = run(ip, TAG.replace("%%model", "%%model --drop"))
    assert "table tags emptied (--drop): 2 rows deleted" in out.text
    assert rows(ip, "SELECT count(*) FROM tags") == [(0,)]


def test_old_instances_give_a_clear_line(two_models):
    ip = two_models
    run(ip, "old = User(name='old')")
    run(ip, USER)
    with pytest.raises(UsageError, match="earlier definition of User"):
        ip.run_line_magic("orm_add", "old")
    assert run(ip, "%orm_add User(name='fresh') --flush").text


def test_a_failing_model_cell_changes_nothing(two_models):
    ip = two_models
    before_user = ip.user_ns["User"]
    bad = USER.replace("%%model\n", "%%model\n") + "\nraise ValueError('boom')\n"
    bad = bad.replace(
        "class User",
        "class Extra(Base):\n    __tablename__ = 'extra'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n\nclass User",
    )
    with pytest.raises(UsageError, match="ValueError: boom"):
        ip.run_cell_magic("model", "", bad.split("\n", 1)[1])
    assert ip.user_ns["User"] is before_user
    assert "Extra" not in ip.user_ns
    assert "extra" not in ip._orm_magic.workspace.tables()
    assert not sqlalchemy.inspect(ip.user_ns["engine"]).has_table("extra")
    out = run(ip, "u = session.scalars(select(User)).one()\nu.addresses[0].email")
    assert out.result.result == "ed@x"


@pytest.mark.parametrize(
    "body, message",
    [
        ("class (:", "syntax error on line 1"),
        ("x = 1", "mapped no class"),
        ("1 / 0", "ZeroDivisionError"),
        ("class T(Base):\n    __tablename__ = 't'\n    x = Column(Integer)", "primary key"),
    ],
)
def test_bad_model_cells_are_one_line(two_models, body, message):
    with pytest.raises(UsageError) as info:
        two_models.run_cell_magic("model", "", body)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# -- failed flushes ---------------------------------------------------------------------
def test_duplicate_key_names_table_constraint_values_and_keeps_committed(two_models):
    ip = two_models
    run(ip, "%orm_add [User(id=5, name='a'), User(id=1, name='dup')]")
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("orm_commit", "")
    message = str(info.value)
    assert "IntegrityError in table users" in message
    # SQLite's, PostgreSQL's and MySQL's words
    assert any(
        words in message
        for words in ("users.id", "Key (id)=(1) already exists", "Duplicate entry '1'")
    )
    assert "'dup'" in message
    assert "rolled back: 2 pending objects discarded (User)" in message
    assert "\n" not in message
    assert rows(ip, "SELECT id, name FROM users") == [(1, "ed")]
    assert run(ip, "%orm_add User(name='next')\n%orm_commit").text
    assert rows(ip, "SELECT name FROM users ORDER BY id") == [("ed",), ("next",)]


def test_not_null_violation(two_models):
    with pytest.raises(UsageError, match="(?i)not.null|name' cannot be null"):
        two_models.run_line_magic("orm_add", "User() --flush")
    assert rows(two_models, "SELECT count(*) FROM users") == [(1,)]


def test_users_own_failed_autoflush_is_rolled_back_by_next_magic(two_models):
    ip = two_models
    out = run(ip, "session.add(User(id=1, name='clash'))\nsession.query(User).all()", ok=False)
    assert not out.result.success
    out = run(ip, "%orm_add User(name='after')")
    assert "had failed earlier; rolled back first" in out.text
    run(ip, "%orm_commit")
    assert rows(ip, "SELECT name FROM users ORDER BY id") == [("ed",), ("after",)]


def test_savepoints_work_on_sqlite(two_models):
    ip = two_models
    run(
        ip,
        "nested = session.begin_nested()\nsession.add(User(name='inner'))\n"
        "session.flush()\nnested.rollback()",
    )
    run(ip, "%orm_add User(name='outer')\n%orm_commit")
    assert rows(ip, "SELECT name FROM users ORDER BY id") == [("ed",), ("outer",)]
    assert any("SAVEPOINT" in s for s in ip.run_line_magic("orm_log", "")["statement"])


# -- bad input --------------------------------------------------------------------------
def test_huge_iterable_is_refused(two_models):
    ip = two_models
    run(ip, "%config OrmMagic.maxitems = 100")
    with pytest.raises(UsageError, match="more than 100 objects"):
        ip.run_line_magic("orm_add", "(User(name=str(i)) for i in range(10**9))")
    assert not ip.user_ns["session"].new


def test_short_errors_false_shows_the_traceback(two_models):
    ip = two_models
    run(ip, "%config OrmMagic.short_errors = False")
    with pytest.raises(NameError):
        ip.run_line_magic("orm_add", "nobody")


# -- output that cannot hurt -------------------------------------------------------------
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)> \"q\" 'a' $x^2$"


def test_hostile_values_are_escaped(two_models):
    ip = two_models
    ip.user_ns["hostile"] = HOSTILE
    out = run(ip, "%orm_add User(name=hostile) --flush")
    page = out.html
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page
    assert "tex2jax_ignore" in page and "mathjax_ignore" in page
    assert HOSTILE in out.html_text


# -- unbounded things ---------------------------------------------------------------------
def test_a_cell_of_100000_statements_shows_both_ends(two_models):
    ip = two_models
    if ip.user_ns["engine"].dialect.name != "sqlite":
        pytest.skip("100,000 server round trips take a minute; the bound is the same code")
    out = run(
        ip,
        "conn = session.connection()\n"
        "for i in range(100_000):\n    conn.exec_driver_sql(f'SELECT {i}')",
    )
    assert "SELECT 0" in out.text and "SELECT 99999" in out.text
    assert "statements not shown" in out.text
    assert len(out.text) < 20_000


def test_the_summary_counts_every_statement_not_only_the_kept_ones(two_models):
    # A report keeps 100 statements; the rows affected cover all of them.
    ip = two_models
    out = run(ip, "%orm_add [User(name=f'bulk{i}') for i in range(300)] --flush")
    assert "300 rows affected" in out.text  # one INSERT per row or batched, by version
    out = run(
        ip,
        "from sqlalchemy import insert\n"
        "conn = session.connection()\n"
        "for i in range(300):\n"
        "    conn.execute(insert(User.__table__).values(name=f'core{i}'))",
    )
    assert "statements not shown" in out.text
    assert "300 rows affected" in out.text


def test_kernel_log_is_bounded(two_models):
    ip = two_models
    run(ip, "%config OrmMagic.loglimit = 50")
    run(ip, "for i in range(500):\n    session.get(User, 1, populate_existing=True)")
    assert len(ip.run_line_magic("orm_log", "")) == 50


DELETED_SOLO = (
    "session.add(User(id=7, name='solo'))\nsession.commit()\n"
    "d = session.get(User, 7)\nsession.delete(d)\nsession.flush()"
)


@pytest.mark.parametrize(
    "setup, line, message",
    [
        ("t = User(name='t')", "orm_delete t", "not in the database yet"),
        (
            "u = session.get(User, 1)\np = User(name='p')\nsession.add(p)",
            "orm_delete [u, p]",
            "pending",
        ),
        (DELETED_SOLO, "orm_add d", "was deleted"),
        (DELETED_SOLO, "orm_delete d", "already deleted"),
    ],
)
def test_wrong_lifecycle_state_is_refused_before_any_change(two_models, setup, line, message):
    ip = two_models
    run(ip, setup)
    before = (len(ip.user_ns["session"].new), len(ip.user_ns["session"].deleted))
    name, _, rest = line.partition(" ")
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic(name, rest)
    assert (len(ip.user_ns["session"].new), len(ip.user_ns["session"].deleted)) == before


def test_warnings_inside_a_magic_become_notes_of_its_report(ip):
    run(ip, TAG)
    run(
        ip,
        "import warnings\ndef noisy(label):\n    warnings.warn('careful: ' + label)\n"
        "    return Tag(label=label)",
    )
    out = run(ip, "%orm_add [noisy('a'), noisy('b'), noisy('a')]")
    assert "warning — UserWarning: careful: a" in out.text
    assert "warning — UserWarning: careful: b" in out.text
    assert out.text.count("careful: a") == 1
    assert "UserWarning" not in out.stderr


def test_plain_sql_after_a_silent_magic_in_one_cell_is_shown(ip):
    # two empty captures once compared equal, and the cell's was removed
    run(ip, TAG)
    out = run(ip, "t = Tag(label='x')\n%orm_add t\nsession.flush()")
    assert out.text.count("INSERT INTO tags") == 1
    assert "Traceback" not in out.stderr


def test_a_failed_display_read_keeps_the_transaction(ip):
    run(ip, TAG)
    run(ip, "%orm_add Tag(label='kept') --flush")
    # a model whose table was never created: its display read fails
    run(
        ip,
        "class Ghost(Base):\n    __tablename__ = 'ghosts'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)",
    )
    shown = run(ip, "%orm_show Ghost")
    assert "could not be read" in shown.text
    out = run(ip, "%orm_commit")
    assert "had failed earlier" not in out.text
    assert rows(ip, "SELECT label FROM tags") == [("kept",)]


def test_reset_forgets_model_cells_and_says_what_it_discarded(two_models):
    ip = two_models
    run(ip, "%orm_add User(name='unsaved')")
    out = run(ip, "%orm_reset --yes")
    assert "1 pending object discarded (User)" in out.text
    run(ip, TAG)
    run(ip, TAG)  # a re-run rebuilds from the cells since the reset only
    assert set(ip._orm_magic.workspace.all_models()) == {"Tag"}
    assert "User" not in ip._orm_magic.workspace.all_models()


def test_orm_query_recovers_a_failed_session_first(two_models):
    ip = two_models
    run(ip, "session.add(User(id=1, name='clash'))\nsession.query(User).all()", ok=False)
    out = run(ip, "%orm_query select(User.name)")
    assert "had failed earlier; rolled back first" in out.text
    assert "ed" in out.text


def test_labels_use_attribute_names_not_column_names(ip):
    run(
        ip,
        "%%model\nclass Renamed(Base):\n    __tablename__ = 'renamed'\n"
        "    ident: Mapped[int] = mapped_column('id', primary_key=True)",
    )
    out = run(ip, "%orm_add Renamed() --flush")
    assert "Renamed(ident=1): persistent" in out.text
