"""The package as installed: its version and the metadata pip sees."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import orm_magic


def test_version_agrees_with_the_installed_metadata():
    assert orm_magic.__version__ == importlib.metadata.version("orm_magic")


def test_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", orm_magic.__version__)


def test_floors_are_the_versions_the_matrix_tests():
    """setup.cfg's floors equal the oldest set that .ci/matrix installs."""
    requires = importlib.metadata.requires("orm_magic") or []
    floors = {}
    for requirement in requires:
        if "extra ==" in requirement:
            continue
        name, floor = re.fullmatch(r"(\w+)\s*>=\s*([\d.]+)", requirement).groups()
        floors[name.lower()] = floor
    matrix = (Path(__file__).parents[1] / ".ci" / "matrix").read_text()
    oldest = dict(re.findall(r"^OLDEST_\w+='(\w+)==([\d.]+)'", matrix, re.MULTILINE))
    assert set(floors) == {"ipython", "pandas", "sqlalchemy", "alembic"}
    assert set(oldest) == set(floors)
    for name, pin in oldest.items():
        # the floor 7.34 is the release 7.34.0, exactly what the matrix pins
        floor = floors[name].split(".")
        assert floor + ["0"] * (len(pin.split(".")) - len(floor)) == pin.split("."), name
