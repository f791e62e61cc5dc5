"""orm_magic.core.capture: the statements an engine emits, recorded as ``echo=True`` logs them.

Each test runs plain SQLAlchemy on an engine of its own and compares what the
recorder kept with what ``echo=True`` logs (:mod:`.echo`), statement by statement.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, Integer, String, create_engine, event, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core.capture import StatementRecorder
from orm_magic.core.dbapi import in_transaction
from orm_magic.core.engine import make_engine
from orm_magic.core.executions import DISPLAY_OPTION

from .echo import EchoLog, echo_log


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def echo() -> Iterator[EchoLog]:
    with echo_log() as log:
        yield log


@pytest.fixture
def recorder(engine: Engine) -> Iterator[StatementRecorder]:
    recorder = StatementRecorder(engine)
    yield recorder
    recorder.close()


def orm_work(engine: Engine) -> None:
    """A unit of work in plain SQLAlchemy: insert, update, query, delete, commit."""
    with Session(engine) as session:
        session.add_all([Item(id=1, name="a"), Item(id=2, name="b")])
        session.flush()
        session.get(Item, 1).name = "A"  # type: ignore[union-attr]
        session.scalars(select(Item).order_by(Item.id)).all()
        session.delete(session.get(Item, 2))
        session.commit()


def test_the_captured_sql_is_what_echo_logs(engine, echo, recorder) -> None:
    with recorder.capture() as cap:
        orm_work(engine)
    assert [(s.sql.strip(), s.parameters) for s in cap.statements] == echo.sent
    assert echo.lines[0] == "BEGIN (implicit)" and echo.lines[-1] == "COMMIT"


def test_parameters_are_those_the_cursor_received(engine, recorder) -> None:
    sent: list[tuple[str, object]] = []
    event.listen(
        engine, "before_cursor_execute", lambda c, cur, s, p, ctx, many: sent.append((s, p))
    )
    with recorder.capture() as cap:
        orm_work(engine)
    executed = [(s.sql, s.parameters) for s in cap.statements if not s.is_transaction]
    assert executed == sent


def test_the_kernel_log_holds_what_every_capture_got_and_more(engine, echo, recorder) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Item), [{"id": 10, "name": "x"}])
    with recorder.capture() as cap:
        orm_work(engine)
    log = [s.sql.strip() for s in recorder.log]
    assert log == echo.lines
    assert len(log) == 3 + cap.count  # BEGIN, INSERT, COMMIT before the capture


def test_a_capture_records_nothing_after_its_block(engine, recorder) -> None:
    with recorder.capture() as cap, engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    count = cap.count
    with engine.connect() as conn:
        conn.execute(text("SELECT 2"))
    assert cap.count == count
    assert [s.sql for s in cap.statements if not s.is_transaction] == ["SELECT 1"]
    assert recorder.log[-2].sql == "SELECT 2"  # the log still got it


def test_nested_captures_each_statement_goes_to_the_innermost(engine, recorder) -> None:
    with engine.connect() as conn, recorder.capture() as outer:
        conn.execute(text("SELECT 1"))
        with recorder.capture() as inner:
            conn.execute(text("SELECT 2"))
        conn.execute(text("SELECT 3"))
    assert [s.sql for s in inner.statements] == ["SELECT 2"]
    assert [s.sql for s in outer.statements if not s.is_transaction] == ["SELECT 1", "SELECT 3"]


def test_a_block_that_raises_closes_its_capture(engine, recorder) -> None:
    with pytest.raises(ZeroDivisionError), recorder.capture() as cap, engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        1 / 0  # noqa: B018
    with recorder.capture() as after, engine.connect() as conn:
        conn.execute(text("SELECT 2"))
    assert [s.sql for s in cap.statements if not s.is_transaction] == ["SELECT 1"]
    assert [s.sql for s in after.statements if not s.is_transaction] == ["SELECT 2"]


def test_a_failing_statement_is_recorded_as_echo_logs_it(engine, echo, recorder) -> None:
    with recorder.capture() as cap, pytest.raises(IntegrityError), Session(engine) as session:
        session.add_all([Item(id=1, name="a")])
        session.flush()
        session.add(Item(id=1, name="again"))
        session.flush()
    assert [s.sql.strip() for s in cap.statements] == echo.lines
    failed = [s for s in cap.statements if s.sql.startswith("INSERT")][-1]
    assert failed.duration is None and failed.rowcount is None
    assert cap.statements[-1].sql == "ROLLBACK"


def test_rows_affected_are_what_the_result_says(engine, recorder) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Item), [{"id": i, "name": "x"} for i in range(1, 6)])
    with recorder.capture() as cap, engine.begin() as conn:
        result = conn.execute(text("UPDATE items SET name = 'y' WHERE id < 4"))
    update = next(s for s in cap.statements if s.sql.startswith("UPDATE"))
    assert update.rowcount == result.rowcount == 3


def test_orm_dml_names_its_table_and_counts_rows(engine, recorder) -> None:
    with recorder.capture() as cap:
        orm_work(engine)
    assert list(cap.tables) == ["items"]
    assert cap.rowcount == 2 + 1 + 1  # two inserted, one updated, one deleted


def test_display_statements_are_not_recorded(engine, echo, recorder) -> None:
    with recorder.capture() as cap, engine.connect() as conn:
        conn.execute(text("SELECT 1"), execution_options={DISPLAY_OPTION: True})
        conn.execute(text("SELECT 2"))
    assert "SELECT 1" in echo.lines  # plain SQLAlchemy sent it
    assert [s.sql for s in cap.statements if not s.is_transaction] == ["SELECT 2"]


def test_a_guest_connection_leaves_no_boundary_and_ends_nothing_it_did_not_begin(
    engine, recorder
) -> None:
    with recorder.capture() as cap, engine.connect() as guest:
        recorder.admit_guest(guest)
        guest.execute(text("SELECT 1"))
        guest.rollback()
    assert [s.sql for s in cap.statements] == ["SELECT 1"]


def test_the_log_is_bounded_and_keeps_the_newest(engine) -> None:
    recorder = StatementRecorder(engine, loglimit=3)
    try:
        with engine.connect() as conn:
            for n in range(10):
                conn.execute(text(f"SELECT {n}"))
            assert [s.sql for s in recorder.log] == ["SELECT 7", "SELECT 8", "SELECT 9"]
            recorder.resize(2)
            assert [s.sql for s in recorder.log] == ["SELECT 8", "SELECT 9"]
    finally:
        recorder.close()


def test_a_capture_keeps_its_first_and_last_statements_and_counts_the_rest(engine) -> None:
    recorder = StatementRecorder(engine, keep=2)
    try:
        with engine.connect() as conn, recorder.capture() as cap:
            for n in range(10):
                conn.execute(text(f"SELECT {n}"))
        kept = [s.sql for s in cap.statements]
        assert kept == ["BEGIN (implicit)", "SELECT 0", "SELECT 8", "SELECT 9"]
        assert cap.count == 11 and cap.omitted == 7
    finally:
        recorder.close()


def test_many_parameters_are_kept_bounded_and_counted(engine, recorder) -> None:
    rows = [{"id": i, "name": "x"} for i in range(1, 101)]
    with recorder.capture() as cap, engine.begin() as conn:
        conn.execute(insert(Item), rows)
    inserts = [s for s in cap.statements if s.sql.startswith("INSERT")]
    assert inserts
    for statement in inserts:
        assert len(statement.parameters) <= 20
    assert sum(len(s.parameters) + s.parameters_omitted for s in inserts) >= 100


def test_close_stops_recording_and_puts_the_dialect_back(engine) -> None:
    recorder = StatementRecorder(engine)
    assert "do_begin" in vars(engine.dialect)
    recorder.close()
    assert "do_begin" not in vars(engine.dialect)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert recorder.log == []


def test_repeated_selects_with_varying_parameters_are_counted(engine, recorder) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Item), [{"id": i, "name": "x"} for i in range(1, 6)])
    with recorder.capture() as cap, Session(engine) as session:
        for i in range(1, 6):
            session.get(Item, i)
    (repeat,) = cap.repeated(5)
    assert repeat.count == 5 and repeat.varied
    assert cap.repeated(6) == []


def test_a_guest_on_the_shared_memory_connection_leaves_anothers_transaction_open() -> None:
    engine = make_engine("sqlite://")  # one connection that everyone shares (StaticPool)
    recorder = StatementRecorder(engine)
    try:
        with engine.connect() as user:
            user.execute(text("CREATE TABLE t (x INTEGER)"))
            user.commit()
            user.execute(text("INSERT INTO t VALUES (1)"))  # the user's open transaction
            with engine.connect() as guest:
                recorder.admit_guest(guest)
                assert guest.execute(text("SELECT count(*) FROM t")).scalar() == 1
            # the guest's close (the pool's reset-on-return) ended nothing of the user's
            assert user.in_transaction() and in_transaction(user.connection) is True
            user.rollback()
            assert user.execute(text("SELECT count(*) FROM t")).scalar() == 0
    finally:
        recorder.close()
        engine.dispose()
