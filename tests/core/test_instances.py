"""orm_magic.core.instances: what a magic's expression gave, checked from object state alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, String, create_engine, event, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core.errors import WorkspaceError
from orm_magic.core.instances import (
    as_instances,
    check_states,
    explain_state,
    instance_label,
    is_mapped_instance,
    state_name,
)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    user_id: Mapped[int] = mapped_column("id", primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([User(user_id=1, name="a"), User(user_id=2, name="b")])
        session.commit()
    yield engine
    engine.dispose()


def test_one_instance_a_list_or_a_generator_gives_a_list() -> None:
    users = [User(user_id=i, name="x") for i in range(3)]
    assert as_instances(users[0], 10) == users[:1]
    assert as_instances(users, 10) == users
    assert as_instances(tuple(users), 10) == users
    assert as_instances(iter(users), 10) == users


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (User, "User is a class, not an instance; create one with User(...)"),
        (int, "class int is not a mapped instance"),
        ("text", "'str' object is not a mapped instance"),
        ({"a": 1}, "'dict' object is not a mapped instance"),
        (42, "'int' object is not a mapped instance"),
        ([], "the expression gave no objects"),
        ([User(), 3], "item 1 is a 'int' object, not a mapped instance"),
    ],
)
def test_what_is_not_a_mapped_instance_is_one_line_saying_so(value, message) -> None:
    with pytest.raises(WorkspaceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        as_instances(value, 10)


def test_more_objects_than_the_limit_are_refused_before_reading_them_all() -> None:
    consumed = []

    def users():
        for i in range(1_000_000):
            consumed.append(i)
            yield User(user_id=i)

    with pytest.raises(WorkspaceError, match="more than 5 objects in one call"):
        as_instances(users(), 5)
    assert len(consumed) == 6
    with pytest.raises(WorkspaceError, match="more than 2 objects"):
        as_instances([User(), User(), User()], 2)


def test_an_instance_of_a_disposed_mapping_is_named_stale() -> None:
    class Old(DeclarativeBase):
        pass

    class Thing(Old):
        __tablename__ = "things"
        id: Mapped[int] = mapped_column(primary_key=True)

    thing = Thing(id=1)
    Old.registry.dispose()
    assert not is_mapped_instance(thing)
    with pytest.raises(WorkspaceError, match="made from an earlier definition of Thing"):
        as_instances([thing], 10)


def test_state_name_is_inspects_flag(engine) -> None:
    def check(obj: User, name: str) -> None:
        assert state_name(obj) == name and getattr(inspect(obj), name)

    with Session(engine) as session:
        persistent, deleted = session.get(User, 1), session.get(User, 2)
        pending = User(user_id=6, name="p")
        session.add(pending)
        check(User(user_id=5), "transient")
        check(pending, "pending")
        check(persistent, "persistent")
        session.delete(deleted)
        check(deleted, "persistent")  # marked for deletion; deleted once flushed
        session.flush()
        check(deleted, "deleted")
        session.rollback()
    check(persistent, "detached")


def test_labels_come_from_the_identity_key_without_sql(engine) -> None:
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    with Session(engine) as session:
        user = session.get(User, 1)
        session.expire(user)
        sent.clear()
        assert instance_label(user) == "User(user_id=1)"  # the attribute, not the column
        assert explain_state(user, marked_deleted=False) == "persistent"
        assert sent == [] and inspect(user).expired
    assert instance_label(User(user_id=3)) == "User"


def test_check_states_refuses_what_the_operation_cannot_take(engine) -> None:
    with Session(engine) as session, Session(engine) as other:
        theirs = other.get(User, 2)
        with pytest.raises(WorkspaceError, match=r"User\(user_id=2\) belongs to another Session"):
            check_states("add", [theirs], session)
        with pytest.raises(WorkspaceError, match="pending, not in the database yet"):
            pending = User(user_id=9, name="p")
            session.add(pending)
            check_states("delete", [pending], session)
        mine = session.get(User, 1)
        session.delete(mine)
        session.flush()
        with pytest.raises(WorkspaceError, match="was deleted; make a new object"):
            check_states("add", [mine], session)
        with pytest.raises(WorkspaceError, match="is already deleted"):
            check_states("delete", [mine], session)
        check_states("add", [User(user_id=10, name="n")], session)  # transient: accepted


def test_what_check_states_accepts_plain_sqlalchemy_accepts(engine) -> None:
    with Session(engine) as session:
        objects = [session.get(User, 1), User(user_id=20, name="n")]
        check_states("add", objects, session)
        session.add_all(objects)  # no error either
        session.flush()
        check_states("delete", objects, session)
        for obj in objects:
            session.delete(obj)
        session.flush()
        session.rollback()
