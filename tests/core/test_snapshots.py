"""orm_magic.core.snapshots: when a display may read inside a session's transaction.

On real servers, with the recorder marking what each transaction ran: the
decision at each isolation level, and, beside plain SQLAlchemy, that what it
protects is real (an InnoDB snapshot is fixed by the first plain read, not by
a write).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, Integer, String, create_engine, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core import snapshots
from orm_magic.core.capture import StatementRecorder
from orm_magic.core.snapshots import read_through


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


SERVERS = [
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=["sqlite", *SERVERS])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = {
        "sqlite": lambda: "sqlite://",
        "postgresql": lambda: request.getfixturevalue("pg_url"),
        "mariadb": lambda: request.getfixturevalue("mariadb_empty_url"),
    }[request.param]()
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Item(id=1, name="one"))
        session.commit()
    recorder = StatementRecorder(engine)  # it marks what each transaction runs
    yield engine
    recorder.close()
    engine.dispose()


def decision(session: Session) -> tuple[bool, str | None]:
    plan = read_through(session.connection())
    return plan.inside, plan.note


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_sqlite_is_always_read_through(engine) -> None:
    with Session(engine) as session:
        session.add(Item(id=2, name="two"))
        session.flush()
        assert decision(session) == (True, None)


@pytest.mark.parametrize("engine", SERVERS, indirect=True)
def test_a_transaction_that_ran_nothing_is_read_beside_it_without_a_note(engine) -> None:
    with Session(engine) as session:
        assert decision(session) == (False, None)  # nothing of its own to see


@pytest.mark.parametrize("engine", SERVERS, indirect=True)
def test_after_a_plain_read_the_transaction_is_read_through(engine) -> None:
    with Session(engine) as session:
        session.scalars(select(Item)).all()
        session.add(Item(id=2, name="two"))
        session.flush()
        assert decision(session) == (True, None)


@pytest.mark.parametrize("engine", SERVERS, indirect=True)
def test_after_a_write_only_innodb_is_read_beside_and_says_so(engine) -> None:
    with Session(engine) as session:
        session.add(Item(id=2, name="two"))
        session.flush()
        through, note = decision(session)
    if engine.dialect.name == "postgresql":  # its first write fixed the snapshot
        assert (through, note) == (True, None)
    else:
        assert not through and note is not None and "REPEATABLE READ snapshot" in note


@pytest.mark.parametrize("engine", SERVERS, indirect=True)
def test_statements_that_take_no_snapshot_do_not_count_as_a_read(engine) -> None:
    with Session(engine) as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        session.begin_nested()  # a SAVEPOINT: PostgreSQL takes no snapshot for it
        session.execute(text("SELECT 1")).all()  # no table: InnoDB makes no read view
        assert decision(session) == (False, None)


@pytest.mark.postgres
def test_on_postgres_a_display_after_a_savepoint_leaves_the_snapshot_unfixed(pg_url) -> None:
    """Differential: the session sees a row committed after the display, as
    plain SQLAlchemy's does (a read inside would have fixed its snapshot)."""
    from orm_magic.core.reading import read_table

    engine = create_engine(pg_url, isolation_level="REPEATABLE READ")
    Base.metadata.create_all(engine)
    recorder = StatementRecorder(engine)
    try:
        with Session(engine) as session, Session(engine) as other:
            session.begin_nested()
            shown = read_table(engine, recorder, session.connection(), Item.__table__, 5)
            other.add(Item(id=7, name="seven"))
            other.commit()
            assert shown.rows == [] and shown.note is None
            assert session.scalars(select(Item.id)).all() == [7]
    finally:
        recorder.close()
        engine.dispose()


@pytest.mark.parametrize("engine", SERVERS, indirect=True)
def test_a_locking_read_does_not_count_as_the_first_read(engine) -> None:
    with Session(engine) as session:
        session.scalars(select(Item).with_for_update()).all()
        through, _ = decision(session)
    assert through is (engine.dialect.name == "postgresql")


@pytest.mark.parametrize("engine", SERVERS, indirect=True)
def test_a_serializable_transaction_is_never_read_through(engine) -> None:
    with Session(engine) as session:
        session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        session.scalars(select(Item)).all()
        through, note = decision(session)
    assert not through and note is not None and "SERIALIZABLE" in note


@pytest.mark.parametrize("engine", SERVERS, indirect=True)
def test_read_committed_is_read_through_after_anything(engine) -> None:
    with Session(engine) as session:
        session.connection(execution_options={"isolation_level": "READ COMMITTED"})
        session.add(Item(id=2, name="two"))
        session.flush()
        assert decision(session) == (True, None)


@pytest.mark.parametrize("engine", SERVERS, indirect=True)
def test_each_begin_forgets_the_last_transaction(engine) -> None:
    with Session(engine) as session:
        session.scalars(select(Item)).all()
        session.commit()
        assert decision(session) == (False, None)  # a new transaction, nothing run yet


def test_marks_are_per_statement_kind() -> None:
    class Checkout:
        pass

    checkout = Checkout()
    snapshots.mark(checkout, "SAVEPOINT sa_savepoint_1")
    snapshots.mark(checkout, "SET lock_timeout = 200")
    snapshots.mark(checkout, "SELECT 1")  # no table: no read view on InnoDB
    assert checkout._orm_magic_transaction == snapshots.RAN
    snapshots.mark(checkout, "  select * from t for update")
    assert checkout._orm_magic_transaction == snapshots.RAN | snapshots.LOCKED
    snapshots.mark(checkout, "(SELECT a FROM t) UNION (SELECT a FROM u)")
    snapshots.mark(checkout, "INSERT INTO t VALUES (1)")
    everything = snapshots.RAN | snapshots.READ | snapshots.LOCKED | snapshots.WROTE
    assert checkout._orm_magic_transaction == everything
    snapshots.forget(checkout)
    assert checkout._orm_magic_transaction == 0


@pytest.mark.mariadb
def test_innodb_fixes_the_snapshot_at_the_first_plain_read_not_at_a_write(
    mariadb_empty_url: str,
) -> None:
    """What the rule protects, in plain SQLAlchemy: a read after a write fixes
    what the transaction sees of later commits."""
    engine = create_engine(mariadb_empty_url)
    Base.metadata.create_all(engine)
    try:
        seen = []
        for read_early in (False, True):
            with Session(engine) as mine, Session(engine) as other:
                mine.add(Item(id=10, name="mine"))
                mine.flush()
                if read_early:  # what a display through the connection would do
                    mine.execute(text("SELECT COUNT(*) FROM items")).scalar()
                other.add(Item(id=20, name="other"))
                other.commit()
                seen.append(sorted(mine.scalars(select(Item.id))))
                mine.rollback()
                other.execute(text("DELETE FROM items"))
                other.commit()
        assert seen == [[10, 20], [10]]
    finally:
        engine.dispose()
