"""orm_magic.core.registries: SQLAlchemy registries of model cells, configured and taken down."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from sqlalchemy import ForeignKey, MetaData, Table, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from orm_magic.core.registries import (
    ForeignTables,
    Mapping,
    configure_registries,
    forget,
    restore_namespace,
)


def fresh_base() -> type[DeclarativeBase]:
    class Base(DeclarativeBase):
        pass

    return Base


def test_a_relationship_to_a_class_not_defined_yet_is_a_note_not_an_error() -> None:
    Base = fresh_base()

    class Author(Base):
        __tablename__ = "authors"
        id: Mapped[int] = mapped_column(primary_key=True)
        books: Mapped[list[Book]] = relationship()  # noqa: F821 -- defined in a later cell

    assert configure_registries([Base.registry]) == (
        "'Book' is not defined yet; its relationships resolve once it is"
    )
    Base.registry.dispose()


def test_a_configured_registry_gives_no_note_and_other_errors_raise() -> None:
    Base = fresh_base()

    class Thing(Base):
        __tablename__ = "things"
        id: Mapped[int] = mapped_column(primary_key=True)

    assert configure_registries([Base.registry]) is None
    Broken = fresh_base()

    class Parent(Broken):
        __tablename__ = "parents"
        id: Mapped[int] = mapped_column(primary_key=True)
        children: Mapped[list[Child]] = relationship()  # no foreign key joins them

    class Child(Broken):
        __tablename__ = "children"
        id: Mapped[int] = mapped_column(primary_key=True)

    with pytest.raises(sqlalchemy.exc.NoForeignKeysError):  # as plain configure() raises
        configure_registries([Broken.registry])
    Base.registry.dispose()
    Broken.registry.dispose()


def test_forget_unmaps_one_class_and_leaves_its_neighbours() -> None:
    Base = fresh_base()

    class Kept(Base):
        __tablename__ = "kept"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Gone(Base):
        __tablename__ = "gone"
        id: Mapped[int] = mapped_column(primary_key=True)

    forget([Gone, int])  # a class that is not mapped is skipped
    assert inspect(Gone, raiseerr=False) is None
    assert inspect(Kept).class_ is Kept and Gone not in [m.class_ for m in Base.registry.mappers]
    Base.registry.dispose()


def test_dispose_unmaps_a_mapping_and_takes_its_tables_off_a_users_own_metadata() -> None:
    Base, Users = fresh_base(), fresh_base()

    class Ours(Base):
        __tablename__ = "ours"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Theirs(Users):
        __tablename__ = "theirs"
        id: Mapped[int] = mapped_column(primary_key=True)
        our_id: Mapped[int] = mapped_column(ForeignKey("ours.id"), nullable=True)

    mapping = Mapping(Base, classes=[[Ours], [Theirs]])
    assert mapping.all_classes() == [Ours, Theirs] and mapping.foreign_classes() == [Theirs]
    mapping.dispose()
    assert inspect(Ours, raiseerr=False) is None and inspect(Theirs, raiseerr=False) is None
    assert "theirs" not in Users.metadata.tables


def test_foreign_tables_are_taken_aside_and_put_back() -> None:
    metadata = MetaData()
    table = Table("mine", metadata)
    aside = ForeignTables([table])
    assert "mine" not in metadata.tables
    aside.put_back()
    assert metadata.tables["mine"] is table
    aside.put_back()  # twice is harmless
    assert list(metadata.tables) == ["mine"]


def test_restore_namespace_puts_back_exactly_the_snapshot() -> None:
    namespace = {"a": 1, "b": 2}
    snapshot = dict(namespace)
    namespace.update(c=3, a=0)
    restore_namespace(namespace, snapshot)
    assert namespace == {"a": 1, "b": 2}
