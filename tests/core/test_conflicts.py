"""orm_magic.core.conflicts: a ``StaleDataError`` of plain SQLAlchemy, named in one line.

Two sessions on one SQLite file: the second changes a row the first loaded,
and the first's flush raises as plain SQLAlchemy makes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from orm_magic.core.capture import StatementRecorder
from orm_magic.core.conflicts import CANDIDATES, describe_conflict, versioned_before_flush


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(nullable=False)
    __mapper_args__ = {"version_id_col": version}


class Plain(Base):
    __tablename__ = "plain"
    id: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str] = mapped_column(String(20))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'bank.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Account(id=1, owner="ann"), Plain(id=1, note="x")])
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def recorder(engine: Engine) -> Iterator[StatementRecorder]:
    recorder = StatementRecorder(engine)
    yield recorder
    recorder.close()


def test_a_lost_update_names_the_object_and_both_versions(engine, recorder) -> None:
    with Session(engine) as mine, Session(engine) as theirs:
        account, plain = mine.get(Account, 1), mine.get(Plain, 1)
        theirs.get(Account, 1).owner = "bob"  # type: ignore[union-attr]
        theirs.commit()  # version 1 -> 2
        account.owner = "cy"  # type: ignore[union-attr]
        plain.note = "y"  # type: ignore[union-attr]  # no version column: not a candidate
        before = versioned_before_flush(mine)
        assert [(v.label, v.key, v.expected) for v in before] == [("Account(id=1)", "version", 1)]
        try:  # these sessions are plain SQLAlchemy's
            mine.flush()
        except StaleDataError as exc:
            stale = exc
        else:  # SQLAlchemy 2.0.0 on SQLite cannot verify the version (no rowcount)
            pytest.skip("this SQLAlchemy does not verify versions on SQLite, plain or not")
        logged = len(recorder.log)
        line = describe_conflict(stale, before, engine, recorder)
        assert len(recorder.log) == logged  # its read is a guest's: not in the log
        mine.rollback()
    assert line == (
        "StaleDataError: Account(id=1) was changed by another session since this one "
        "loaded it: this session expected version 1, the database has version 2 "
        "(table accounts); this session's change to it is discarded"
    )


def test_a_deleted_row_is_named_as_gone(engine, recorder) -> None:
    with Session(engine) as mine, Session(engine) as theirs:
        account = mine.get(Account, 1)
        theirs.delete(theirs.get(Account, 1))
        theirs.commit()
        mine.delete(account)
        before = versioned_before_flush(mine)
        with pytest.raises(StaleDataError) as caught:
            mine.flush()
        line = describe_conflict(caught.value, before, engine, recorder)
        mine.rollback()
    assert line is not None and "the database no longer has the row" in line
    with Session(engine) as check:  # the conflict's read left the database as it was
        assert check.scalars(select(Account)).all() == []


def test_other_errors_are_not_conflicts(engine, recorder) -> None:
    assert describe_conflict(ValueError("x"), [], engine, recorder) is None


def test_candidates_are_bounded(engine) -> None:
    with Session(engine) as session:
        session.add_all([Account(id=100 + i, owner="n") for i in range(CANDIDATES + 10)])
        session.commit()
        for account in session.scalars(select(Account)).all():
            account.owner = "m"
        assert len(versioned_before_flush(session)) == CANDIDATES
        session.rollback()
