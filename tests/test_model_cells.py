"""%%model cells: association tables, failing cells that change nothing, edited cells."""

from __future__ import annotations

import pytest
import sqlalchemy
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from .helpers import run

USER = """%%model
class User(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
"""

GROUP = """%%model
links = Table(
    'links', Base.metadata,
    Column('user_id', ForeignKey('users.id'), primary_key=True),
    Column('group_id', ForeignKey('groups.id'), primary_key=True),
)

class Group(Base):
    __tablename__ = 'groups'
    id: Mapped[int] = mapped_column(primary_key=True)
    members: Mapped[list[User]] = relationship(secondary=links)
"""


def rows(ip, sql):
    with ip.user_ns["engine"].connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def has_table(ip, name):
    return sqlalchemy.inspect(ip.user_ns["engine"]).has_table(name)


def run_id(ip, source, cell_id, ok=True):
    """Run a cell as Jupyter does, with the cell's id."""
    with capture_output() as captured:
        result = ip.run_cell(source, store_history=True, cell_id=cell_id)
    if ok and not result.success:
        raise AssertionError(f"cell failed: {result.error_in_exec!r}\n{captured.stdout}")
    return result


def workspace(ip):
    return ip._orm_magic.workspace


# -- association tables ----------------------------------------------------------------
def test_an_association_table_is_created_and_shown_when_touched(ip):
    run(ip, USER)
    out = run(ip, GROUP)
    assert "CREATE TABLE links" in out.text
    assert has_table(ip, "links")
    out = run(ip, "%orm_add Group(members=[User(name='a'), User(name='b')])\n%orm_commit")
    assert "INSERT INTO links" in out.text
    assert "links: 2 rows" in out.text
    assert rows(ip, "SELECT count(*) FROM links") == [(2,)]


def test_association_tables_are_the_workspaces_own(ip):
    run(ip, USER)
    run(ip, GROUP)
    assert list(workspace(ip).tables())[-1] == "links"  # after what it references
    assert "links {" in run(ip, "%orm_diagram").text


def test_connect_creates_and_reset_drops_association_tables(ip, tmp_path):
    run(ip, USER)
    run(ip, GROUP)
    out = run(ip, f"%orm_connect sqlite:///{tmp_path / 'new.db'}")
    assert "CREATE TABLE links" in out.text
    run(ip, "%orm_add Group(members=[User(name='a')])\n%orm_commit")
    out = run(ip, "%orm_reset --yes")
    assert "links" in out.text
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert sqlalchemy.inspect(engine).get_table_names() == []
    engine.dispose()


def test_a_rerun_moves_the_association_table_along(ip):
    run(ip, USER)
    run(ip, GROUP)
    run(ip, "%orm_add Group(members=[User(name='a')])\n%orm_commit")
    edited = GROUP.replace(
        "primary_key=True),\n)", "primary_key=True),\n    Column('role', String(20)),\n)"
    )
    out = run(ip, edited)
    assert "sa.Column('role', sa.String(length=20), nullable=True)" in out.text
    assert "table links changed: 1 row kept" in out.text
    assert rows(ip, "SELECT user_id, group_id, role FROM links") == [(1, 1, None)]
    run(ip, "g = session.get(Group, 1)\ng.members.append(User(name='b'))\n%orm_commit")
    assert rows(ip, "SELECT count(*) FROM links") == [(2,)]


# -- a failing cell changes nothing ------------------------------------------------------
NO_TABLENAME = "class Bad(Base):\n    id = Column(Integer, primary_key=True)\n"
BAD_RELATIONSHIP = (
    "class Pet(Base):\n    __tablename__ = 'pets'\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    "    owner: Mapped[User] = relationship(back_populates='nosuch')\n"
)
BAD_DDL = (
    "from sqlalchemy import CheckConstraint\n"
    "class Odd(Base):\n    __tablename__ = 'odd'\n"
    "    __table_args__ = (CheckConstraint('id >'),)\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
)


@pytest.mark.parametrize("flushed", [False, True], ids=["pending", "flushed"])
@pytest.mark.parametrize(
    "body, message",
    [
        (NO_TABLENAME, "does not have a __table__ or __tablename__"),
        (BAD_RELATIONSHIP, "NoForeignKeysError"),
        (BAD_DDL, "the earlier models and tables are unchanged"),
    ],
    ids=["no-tablename", "bad-relationship", "bad-ddl"],
)
def test_a_failing_cell_keeps_the_session_and_its_objects(ip, body, message, flushed):
    run(ip, USER)
    run(ip, "%orm_add User(name='kept')\n%orm_commit")
    run(ip, "u = User(name='new')\n%orm_add u" + (" --flush" if flushed else ""))
    before = ip.user_ns["User"]
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("model", "", body)
    if flushed and body is BAD_DDL:  # refused before any DDL: its transaction must end first
        message = "needs the session's transaction to end first"
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert ip.user_ns["User"] is before
    assert ip.user_ns["u"] in workspace(ip).session
    run(ip, "%orm_commit")
    assert rows(ip, "SELECT name FROM users ORDER BY id") == [("kept",), ("new",)]
    run(ip, "%orm_add User(name='next') --flush")
    assert set(workspace(ip).all_models()) == {"User"}


def refused_change(ip):
    """USER changed in a way the database refuses while the table has a row."""
    if ip.user_ns["engine"].dialect.name == "mysql":
        # MySQL fills a new NOT NULL column with 0, but refuses 'kept' as an integer
        return USER.replace("Mapped[str] = mapped_column(String(50))", "Mapped[int]")
    return USER + "    age: Mapped[int]\n"


def test_a_failing_table_change_keeps_rows_and_pending_objects(ip):
    run(ip, USER)
    run(ip, "%orm_add User(name='kept')\n%orm_commit\n%orm_add User(name='pending')")
    required = refused_change(ip)
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("model", "", required.split("\n", 1)[1])
    assert "unchanged" in str(info.value)
    assert "discarded" not in str(info.value)
    run(ip, "%orm_commit")
    assert rows(ip, "SELECT name FROM users ORDER BY id") == [("kept",), ("pending",)]


def test_a_failing_table_change_names_flushed_work_it_discarded(ip):
    run(ip, USER)
    run(ip, "%orm_add User(name='kept')\n%orm_commit\n%orm_add User(name='flushed') --flush")
    required = refused_change(ip)
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("model", "", required.split("\n", 1)[1])
    message = str(info.value)
    assert "the session's work was discarded" in message
    assert "rows flushed but not committed undone" in message
    run(ip, "%orm_add User(name='after') --flush\n%orm_commit")
    assert rows(ip, "SELECT name FROM users ORDER BY id") == [("kept",), ("after",)]


def test_new_tables_wait_for_flushed_work_to_be_committed(ip):
    run(ip, USER)
    run(ip, "%orm_add User(name='flushed') --flush")
    with pytest.raises(UsageError, match="transaction to end first.*rows flushed"):
        ip.run_cell_magic("model", "", GROUP.split("\n", 1)[1])
    assert "Group" not in ip.user_ns
    run(ip, "%orm_commit")
    run(ip, GROUP)
    assert rows(ip, "SELECT name FROM users") == [("flushed",)]


# -- an edited cell replaces its earlier version -------------------------------------------
PERSON = USER.replace("class User", "class Person")


def test_a_renamed_class_in_a_rerun_cell_replaces_the_old_one(ip):
    run_id(ip, USER, "c1")
    run(ip, "%orm_add User(name='ed')\n%orm_commit")
    run_id(ip, PERSON, "c1")
    assert set(workspace(ip).all_models()) == {"Person"}
    assert "User" not in ip.user_ns
    assert rows(ip, "SELECT name FROM users") == [("ed",)]
    run(ip, "%orm_add Person(name='al') --flush\n%orm_commit")
    assert rows(ip, "SELECT name FROM users ORDER BY id") == [("ed",), ("al",)]


def test_a_class_moved_to_another_table_leaves_one_model(ip):
    run_id(ip, PERSON, "c1")
    run_id(ip, USER.replace("'users'", "'people'"), "c1")
    assert set(workspace(ip).all_models()) == {"User"}
    assert list(workspace(ip).tables()) == ["people"]
    run(ip, "%orm_add User(name='x') --flush")


def test_a_rerun_cell_with_a_new_class_and_table_replaces_its_old_version(ip):
    run_id(ip, USER, "c1")
    run_id(ip, PERSON.replace("'users'", "'people'"), "c1")
    assert set(workspace(ip).all_models()) == {"Person"}


def test_without_a_cell_id_names_and_tables_decide(ip):
    run(ip, USER)
    run(ip, "%orm_add User(name='ed')\n%orm_commit")
    run(ip, PERSON)  # same table: a re-run
    assert set(workspace(ip).all_models()) == {"Person"}
    run(ip, USER.replace("class User", "class Other").replace("'users'", "'others'"))
    assert set(workspace(ip).all_models()) == {"Person", "Other"}
    assert rows(ip, "SELECT name FROM users") == [("ed",)]


def test_two_cells_keep_apart_by_id(ip):
    run_id(ip, USER, "c1")
    run_id(ip, GROUP, "c2")
    run_id(ip, USER, "c1")
    run(ip, "%orm_add Group(members=[User(name='a')])\n%orm_commit")
    assert set(workspace(ip).all_models()) == {"User", "Group"}


def test_unload_removes_the_cell_id_callback(shell):
    before = list(shell.events.callbacks["pre_run_cell"])
    shell.run_line_magic("load_ext", "orm_magic")
    shell.run_line_magic("unload_ext", "orm_magic")
    assert shell.events.callbacks["pre_run_cell"] == before
