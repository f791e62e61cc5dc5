"""orm_magic.core.errors: a database error as one readable line, from SQLAlchemy's exception."""

from __future__ import annotations

import pytest
from sqlalchemy import String, create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orm_magic.core.errors import VALUES_CHARS, describe_error, first_line


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


def failed_flush(*users: User) -> IntegrityError:
    """The error plain SQLAlchemy raises for a duplicate key, on SQLite."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(User(id=1, name="first"))
        session.commit()
        session.add_all(users)
        with pytest.raises(IntegrityError) as caught:
            session.flush()
    engine.dispose()
    return caught.value


def test_a_failed_insert_names_its_table_the_drivers_message_and_the_values() -> None:
    exc = failed_flush(User(id=1, name="again"))
    assert describe_error(exc) == (
        "IntegrityError in table users: UNIQUE constraint failed: users.id; values (1, 'again')"
    )


def test_the_line_is_one_line_though_sqlalchemys_message_has_several() -> None:
    exc = failed_flush(User(id=1, name="again"))
    assert "\n" in str(exc)  # SQLAlchemy's: [SQL: ...] [parameters: ...] (Background ...)
    assert "\n" not in describe_error(exc)
    assert first_line(exc) == str(exc.orig)


def test_long_values_are_cut() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn, pytest.raises(OperationalError) as caught:
        conn.execute(text("SELECT :v FROM missing"), {"v": "z" * 1000})
    line = describe_error(caught.value)
    assert line.startswith("OperationalError: no such table: missing; values ('zzz")
    assert "characters more)" in line and len(line) < 100 + VALUES_CHARS + 40
    engine.dispose()


def test_an_error_without_a_driver_is_its_own_first_line() -> None:
    assert first_line(ValueError("one\ntwo")) == "one"
    assert first_line(ValueError()) == "ValueError"
    assert describe_error(KeyError("k")) == "KeyError: 'k'"


def test_a_table_whose_name_has_a_space_is_named_whole() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text('CREATE TABLE "order lines" (id INTEGER PRIMARY KEY)'))
        conn.execute(text('INSERT INTO "order lines" VALUES (1)'))
    with engine.connect() as conn, pytest.raises(IntegrityError) as caught:
        conn.execute(text('INSERT INTO "order lines" VALUES (1)'))
    engine.dispose()
    assert describe_error(caught.value).startswith("IntegrityError in table order lines:")
