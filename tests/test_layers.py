"""The floors of the package, read from its real imports (grimp, import-linter's graph).

The README's "How it is built" picture is generated here from the import graph
and must match it; no import cycle is left anywhere in the package, counting
imports inside functions; every module stays small enough to read in one
sitting. ``python tests/test_layers.py`` prints the picture for the README.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The floors, top to bottom, with what each is for.
FLOORS = {
    "magics": "IPython: parse the line, call the core, display",
    "present": "plain data in, text, HTML and SVG out",
    "core": "SQLAlchemy, never IPython",
    "data": "plain dataclasses",
}
#: Lines a module may have (the guideline is "about 300").
MODULE_LINES = 320


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("orm_magic", cache_dir=None)


def floor_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FLOORS else None


def picture(graph: grimp.ImportGraph) -> str:
    """A Mermaid flowchart of the floors, their modules, and which floor imports which."""
    lines = ["flowchart TD"]
    for floor, purpose in FLOORS.items():
        modules = sorted(
            m.split(".")[2] for m in graph.modules if floor_of(m) == floor and m.count(".") == 2
        )
        lines.append(f'    {floor}["<b>{floor}</b>: {purpose}<br/>{", ".join(modules)}"]')
    edges = set()
    for module in graph.modules:
        source = floor_of(module)
        for imported in graph.find_modules_directly_imported_by(module):
            target = floor_of(imported)
            if source and target and source != target:
                edges.add((source, target))
    order = list(FLOORS)
    for source, target in sorted(edges, key=lambda e: (order.index(e[0]), order.index(e[1]))):
        lines.append(f"    {source} --> {target}")
    return "\n".join(lines)


def readme_picture() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## How it is built", 1)[1]
    match = re.search(r"```mermaid\n(.*?)\n```", section, re.DOTALL)
    assert match, "the README's 'How it is built' section has no mermaid picture"
    return match.group(1)


def test_the_readme_picture_is_the_import_graph(graph):
    assert readme_picture() == picture(graph), "run: python tests/test_layers.py"


def test_floors_import_only_downwards(graph):
    order = list(FLOORS)
    for module in graph.modules:
        source = floor_of(module)
        for imported in graph.find_modules_directly_imported_by(module):
            target = floor_of(imported)
            if source and target and source != target:
                assert order.index(target) > order.index(source), f"{module} -> {imported}"
    # presentation and core are side by side: neither imports the other
    assert not graph.chain_exists("orm_magic.present", "orm_magic.core", as_packages=True)
    assert not graph.chain_exists("orm_magic.core", "orm_magic.present", as_packages=True)


def test_no_import_cycle_anywhere(graph):
    modules = sorted(m for m in graph.modules if m.startswith("orm_magic."))
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported == module or not imported.startswith("orm_magic."):
                continue
            # a package's __init__ is not a cycle with its own modules' imports of it
            if module.startswith(imported + ".") or imported.startswith(module + "."):
                continue
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            assert chain is None, f"import cycle: {module} -> {' -> '.join(chain)}"


def test_every_module_fits_in_a_reading():
    for path in sorted((ROOT / "orm_magic").rglob("*.py")):
        lines = len(path.read_text().splitlines())
        assert lines <= MODULE_LINES, f"{path.relative_to(ROOT)}: {lines} lines"


def test_no_two_module_names_differ_only_by_a_suffix():
    names = {p.stem for p in (ROOT / "orm_magic").rglob("*.py") if p.stem != "__init__"}
    for name in names:
        for other in names - {name}:
            assert not other.startswith(name + "_") and not other.startswith(name + "s"), (
                f"{name} and {other}"
            )


#: Modules of the core and the presentation with no mirror test of their own yet
#: (``tests/<floor>/test_<module>.py``, no shell), and where they are tested
#: meanwhile. Every module has one now; a new module without one must be
#: entered here with the reason.
UNMIRRORED: dict[str, str] = {}


def test_core_and_present_modules_have_mirror_tests_without_a_shell():
    modules = {
        f"{floor}.{path.stem}": ROOT / "tests" / floor / f"test_{path.stem}.py"
        for floor in ("core", "present")
        for path in (ROOT / "orm_magic" / floor).glob("*.py")
        if path.stem != "__init__"
    }
    missing = sorted(m for m, test in modules.items() if not test.exists() and m not in UNMIRRORED)
    assert not missing, f"no tests/<floor>/test_<module>.py and no UNMIRRORED entry: {missing}"
    done = sorted(m for m in UNMIRRORED if m not in modules or modules[m].exists())
    assert not done, f"UNMIRRORED entries for mirrored or removed modules: {done}"
    for test in modules.values():
        if test.exists():  # core and present are tested without IPython or its fixtures
            assert not shell_uses(test), f"{test.relative_to(ROOT)}: {shell_uses(test)}"


def shell_uses(test: Path) -> list[str]:
    """The IPython imports and shell fixtures (``ip``, ``shell``) a test file uses."""
    found = []
    for node in ast.walk(ast.parse(test.read_text())):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names]
            found += [n for n in names if n.split(".")[0] == "IPython"]
        elif isinstance(node, ast.FunctionDef):
            found += [a.arg for a in node.args.args if a.arg in ("ip", "shell")]
    return found


if __name__ == "__main__":
    sys.stdout.write(picture(grimp.build_graph("orm_magic", cache_dir=None)) + "\n")
