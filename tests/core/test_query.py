"""orm_magic.core.query: a query run exactly as written, returning what plain SQLAlchemy returns.

Each test runs the same statement through ``run_query`` and through plain
SQLAlchemy, on the same data, and compares results and the SQL sent (as a
:class:`StatementRecorder` logs it: orm_magic's own count is not logged).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, ForeignKey, String, create_engine, event, func, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
)

from orm_magic.core.capture import StatementRecorder
from orm_magic.core.query import QueryError, column_names, objects_frame, run_query
from orm_magic.data.tables import NOT_LOADED


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    books: Mapped[list[Book]] = relationship()


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for a in range(1, 6):
            session.add(Author(id=a, name=f"a{a}", books=[Book(id=10 * a + b) for b in (1, 2)]))
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def recorder(engine: Engine) -> Iterator[StatementRecorder]:
    recorder = StatementRecorder(engine)
    yield recorder
    recorder.close()


def side_by_side(
    engine: Engine, recorder: StatementRecorder, make: Callable[[Session], Any], plain: str
) -> tuple[Any, Any, list[str], list[str]]:
    """(ours, plain SQLAlchemy's, our SQL, plain SQL) for one query in two fresh sessions."""
    with Session(engine) as session, recorder.capture() as cap:
        ours = run_query(session, make(session), shown=10, maxitems=1000)
        ours_value = [tuple(r) if not isinstance(r, Base) else (type(r), r.id) for r in ours.value]
    with Session(engine) as session, recorder.capture() as plain_cap:
        result = getattr(session, plain)(make(session)) if plain != "all" else make(session).all()
        values = result if isinstance(result, list) else result.all()
        plain_value = [tuple(r) if not isinstance(r, Base) else (type(r), r.id) for r in values]
    return (
        ours_value,
        plain_value,
        [s.sql for s in cap.statements],
        [s.sql for s in plain_cap.statements],
    )


def test_one_entity_returns_its_objects_as_scalars_all_does(engine, recorder) -> None:
    ours, plain, sql, plain_sql = side_by_side(
        engine, recorder, lambda s: select(Author).where(Author.id > 2), "scalars"
    )
    assert ours == plain == [(Author, 3), (Author, 4), (Author, 5)]
    assert sql == plain_sql  # the count before it is orm_magic's own, not logged


def test_columns_return_rows_as_execute_all_does(engine, recorder) -> None:
    ours, plain, sql, plain_sql = side_by_side(
        engine,
        recorder,
        lambda s: (
            select(Author.name, func.count(Book.id))
            .join(Book)
            .group_by(Author.name)
            .order_by(Author.name)
        ),
        "execute",  # fmt: skip
    )
    assert ours == plain and len(ours) == 5 and sql == plain_sql


def test_a_legacy_query_returns_what_all_returns(engine, recorder) -> None:
    ours, plain, sql, plain_sql = side_by_side(
        engine,
        recorder,
        lambda s: s.query(Author).filter(Author.id < 3).order_by(Author.id),
        "all",
    )
    assert ours == plain == [(Author, 1), (Author, 2)] and sql == plain_sql


def test_the_users_limit_is_kept_and_none_is_added(engine, recorder) -> None:
    ours, plain, sql, plain_sql = side_by_side(
        engine, recorder, lambda s: select(Author).order_by(Author.id).limit(2), "scalars"
    )
    assert ours == plain == [(Author, 1), (Author, 2)] and sql == plain_sql
    ours, plain, sql, plain_sql = side_by_side(
        engine, recorder, lambda s: select(Author.id).order_by(Author.id), "execute"
    )
    assert len(ours) == 5 and "LIMIT" not in " ".join(sql)


def test_a_joined_collection_is_uniqued_as_sqlalchemy_requires(engine) -> None:
    statement = select(Author).options(joinedload(Author.books)).order_by(Author.id)
    with Session(engine) as session:
        with pytest.raises(Exception, match="unique"):
            session.scalars(statement).all()  # plain SQLAlchemy refuses it without unique()
        plain = session.scalars(statement).unique().all()
    with Session(engine) as session:
        ours = run_query(session, statement, shown=10, maxitems=1000).value
    assert [a.id for a in ours] == [a.id for a in plain] == [1, 2, 3, 4, 5]


def test_more_rows_than_maxitems_are_refused_before_any_object_is_built(engine) -> None:
    with Session(engine) as session:
        with pytest.raises(QueryError, match="more than 3 rows; add .limit"):
            run_query(session, select(Author), shown=10, maxitems=3)
        assert len(session.identity_map) == 0  # counted, not loaded
        with pytest.raises(QueryError, match="more than 3 rows"):
            run_query(session, select(Author.id), shown=10, maxitems=3)
        assert len(run_query(session, select(Author).limit(3), 10, maxitems=3).value) == 3


def test_a_pending_object_is_autoflushed_and_found_as_plain_sqlalchemy_finds_it(engine) -> None:
    with Session(engine) as session:
        session.add(Author(id=9, name="new"))
        found = run_query(session, select(Author).where(Author.id == 9), 10, 1000).value
        assert [a.name for a in found] == ["new"] and not session.new


def test_only_the_frame_is_cut_to_the_rows_shown(engine) -> None:
    with Session(engine) as session:
        result = run_query(session, select(Author), shown=2, maxitems=1000)
    assert len(result.value) == 5 and len(result.frame.rows) == 2
    assert result.frame.note == "first 2 of 5 rows; --limit N shows more"
    assert result.frame.columns == ["id", "name"]


def test_the_frame_reads_objects_from_memory_only(engine) -> None:
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    with Session(engine) as session:
        author = session.get(Author, 1)
        session.expire(author)
        sent.clear()
        frame = objects_frame(Author, [author])
        assert sent == [] and frame.rows == [(NOT_LOADED, NOT_LOADED)]


def test_what_is_not_a_query_is_one_line() -> None:
    with Session() as session, pytest.raises(QueryError, match="'list' object is not a query"):
        run_query(session, [1, 2], 10, 1000)


def test_unnamed_and_repeated_columns_get_distinct_headings() -> None:
    assert column_names(["", "id", "id"], 3) == ["column 1", "id", "id (3)"]
    assert column_names(["a"], 2) == ["column 1", "column 2"]
