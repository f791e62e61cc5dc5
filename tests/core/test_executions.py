"""orm_magic.core.executions: what one execution is, read once from SQLAlchemy's own context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    Engine,
    ForeignKey,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from orm_magic.core.executions import (
    DISPLAY_OPTION,
    PARAMETER_LIMIT,
    bounded,
    dml_table_of,
    execution_facts,
    is_parameter_sets,
    tag_relationship_load,
)


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    books: Mapped[list[Book]] = relationship()


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def facts(engine: Engine) -> list[tuple[str, Any]]:
    """(statement, execution_facts) of every cursor call from here on."""
    seen: list[tuple[str, Any]] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda conn, cursor, sql, params, context, many: seen.append(
            (sql, execution_facts(context))
        ),
    )
    return seen


def test_dml_names_its_table_and_a_select_none(engine, facts) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Author), [{"id": 1}])
        conn.execute(update(Author).values(id=2))
        conn.execute(select(Author))
        conn.execute(delete(Author))
        conn.execute(text("DELETE FROM books"))  # text: not known from the context
    assert [f for _, f in facts] == [
        (False, "authors", None),
        (False, "authors", None),
        (False, None, None),
        (False, "authors", None),
        (False, None, None),
    ]


def test_a_display_statement_is_hidden(engine, facts) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"), execution_options={DISPLAY_OPTION: True})
    assert facts == [("SELECT 1", (True, None, None))]


def test_a_lazy_load_is_named_by_its_relationship_and_its_sql_is_unchanged(engine, facts) -> None:
    with Session(engine) as session:
        session.add(Author(id=1, books=[Book(id=1)]))
        session.commit()
        plain_author = session.get(Author, 1)
        plain_author.books  # noqa: B018
    plain = [sql for sql, _ in facts]
    facts.clear()
    with Session(engine) as session:
        event.listen(session, "do_orm_execute", tag_relationship_load)
        author = session.get(Author, 1)
        author.books  # noqa: B018 -- the lazy load
    assert [f[2] for _, f in facts] == [None, "Author.books"]
    assert [sql for sql, _ in facts] == plain[-2:]


def test_parameters_are_bounded_and_what_was_cut_is_counted() -> None:
    many = [(i,) for i in range(PARAMETER_LIMIT + 5)]
    assert bounded(many, True) == (many[:PARAMETER_LIMIT], 5)
    values = {f"p{i}": i for i in range(PARAMETER_LIMIT + 3)}
    kept, cut = bounded(values, False)
    assert list(kept) == [f"p{i}" for i in range(PARAMETER_LIMIT)] and cut == 3
    assert bounded((1, 2), False) == ((1, 2), 0)


def test_only_a_list_of_rows_is_parameter_sets() -> None:
    assert is_parameter_sets([(1,), (2,)]) and is_parameter_sets([{"a": 1}])
    assert (
        not is_parameter_sets((1, 2)) and not is_parameter_sets([]) and not is_parameter_sets({})
    )


@pytest.mark.parametrize(
    ("sql", "table"),
    [
        ("INSERT INTO users (id) VALUES (?)", "users"),
        ('  update "my table" SET x = 1', "my table"),
        ("DELETE FROM `shop`.`orders` WHERE 1", "shop.orders"),
        ('INSERT INTO "say ""hi""" VALUES (1)', 'say "hi"'),
        ("INSERT INTO sales.deals (id) VALUES (1)", "sales.deals"),
        ('UPDATE "orders" SET x = 1', "orders"),
        ("DELETE FROM [orders]", "orders"),
        ("SELECT * FROM users", None),
        (None, None),
    ],
)
def test_the_table_a_dml_text_names(sql: str | None, table: str | None) -> None:
    assert dml_table_of(sql) == table
