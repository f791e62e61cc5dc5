"""orm_magic.present.er_model: the tables and foreign keys a drawing takes, and their depths."""

from __future__ import annotations

import dataclasses

import pytest

from orm_magic.present.er_model import DiagramColumn, DiagramLink, DiagramTable, depths


def link(child: str, parent: str) -> DiagramLink:
    return DiagramLink(child, (f"{parent}_id",), parent)


def test_a_table_referencing_nothing_is_depth_0_and_each_reference_goes_one_deeper() -> None:
    links = [link("books", "authors"), link("reviews", "books"), link("reviews", "users")]
    assert depths(["users", "authors", "books", "reviews"], links) == {
        "users": 0,
        "authors": 0,
        "books": 1,
        "reviews": 2,
    }


def test_a_self_reference_does_not_deepen_its_table() -> None:
    assert depths(["employees"], [link("employees", "employees")]) == {"employees": 0}


def test_a_cycle_ends_where_it_closes_and_always_the_same_way() -> None:
    links = [link("a", "b"), link("b", "c"), link("c", "a")]
    found = depths(["a", "b", "c"], links)
    assert sorted(found.values()) == [0, 1, 2]
    assert depths(["c", "b", "a"], list(reversed(links))) == found


def test_a_long_chain_is_as_deep_as_it_is_long() -> None:
    names = [f"t{i:03d}" for i in range(300)]
    links = [link(names[i + 1], names[i]) for i in range(299)]
    assert depths(names, links)[names[-1]] == 299


def test_the_model_is_plain_frozen_data() -> None:
    table = DiagramTable("users", (DiagramColumn("id", "INTEGER", primary_key=True),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.name = "other"  # type: ignore[misc]
    assert table == DiagramTable("users", (DiagramColumn("id", "INTEGER", True),))
