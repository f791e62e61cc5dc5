"""What a student sees: each notebook run in real JupyterLab, in headless Chromium.

Each notebook is opened, run with Run > Run All Cells, and checked on the
rendered page: SQL sections and tables visible, the expected values in table
cells, no error output (except in cells tagged ``raises-exception``). A
notebook written here checks that markup and ``$...$`` in a value show as
typed. Screenshots of every notebook, light and dark, go to SCREENSHOTS.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from . import lab as jl
from .conftest import NOTEBOOKS, SCREENSHOTS

pytestmark = pytest.mark.e2e

STDERR = "application/vnd.jupyter.stderr"
#: What an error output reads like, as opposed to a harmless line on stderr.
ERROR = re.compile(r"Traceback|\b\w*(Error|Exception)\b")

#: Per notebook of the course: SQL that must show in its SQL sections, and
#: values that must show in its table cells (what each lesson is about).
EXPECTED: dict[str, dict[str, list[str]]] = {
    "01_first_session.ipynb": {
        "sql": [
            "CREATE TABLE users (",
            "INSERT INTO users (name, fullname, nickname) VALUES (?, ?, ?)",
            "DELETE FROM users WHERE users.id = ?",
        ],
        # "persistent": the state column of %orm_session's identity map
        "values": ["Ed Jones", "edsnickname", "eddie", "persistent"],
    },
    "02_relationships_and_queries.ipynb": {
        "sql": [
            "CREATE TABLE addresses (",
            "JOIN addresses ON users.id = addresses.user_id",
            "WHERE ? = addresses.user_id",  # the N+1 loop, before selectinload
            "WHERE addresses.user_id IN (?, ?, ?)",
        ],
        "values": ["Jack Bean", "jack@google.com", "j25@yahoo.com", "ed@google.com"],
    },
    "03_transactions.ipynb": {
        "sql": [
            "UPDATE accounts SET balance=? WHERE accounts.id = ?",
            "SAVEPOINT sa_savepoint_1",
            "ROLLBACK TO SAVEPOINT sa_savepoint_1",
        ],
        "values": ["ann", "bob", "carl"],
    },
    "04_from_notebook_to_project.ipynb": {
        "sql": ["CREATE TABLE books (", "ALTER TABLE books ADD COLUMN isbn VARCHAR"],
        "values": ["Dune", "Emma"],
    },
    "05_exploring_an_existing_database.ipynb": {
        "sql": [
            'PRAGMA main.table_info("order_lines")',  # the reflected cell: checked, not created
            "WHERE ? = order_lines.order_id",  # the N+1 loop, before selectinload
            "WHERE order_lines.order_id IN (?, ?, ?, ?, ?, ?)",
            "INSERT INTO products (name, price) VALUES (?, ?) RETURNING id",
        ],
        "values": ["ann@example.com", "Teaspoon", "Oolong tea"],
    },
    "06_two_sessions.ipynb": {
        "sql": [
            "[b] INSERT INTO accounts (id, owner, balance) VALUES (?, ?, ?)",
            "[main] UPDATE safe_accounts SET balance=?, version=?",
            "[b] ROLLBACK",
        ],
        "values": ["ann", "bob", "120", "130"],
    },
}

#: A value that is markup and TeX if anything renders it instead of showing it.
TRICKY = "<b>bold</b> $x$"
TRICKY_FULLNAME = "Ed $y$ Jones & <i>co</i>"


def course() -> list[str]:
    return sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


ESCAPING_CELLS = [
    "%load_ext orm_magic",
    "%%model\nclass User(Base):\n    __tablename__ = 'users'\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    "    name: Mapped[str]\n    fullname: Mapped[str | None]",
    f"%orm_add User(name={TRICKY!r}, fullname={TRICKY_FULLNAME!r}) --flush",
    "%orm_commit",
    "%orm_show User",
    # Wider than any notebook: the table must scroll inside its own box.
    "%%model\nclass Wide(Base):\n    __tablename__ = 'wide'\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    + "".join(f"    column_{i}: Mapped[str | None]\n" for i in range(12)),
    "%orm_add Wide(**{f'column_{i}': 'x' * 30 for i in range(12)}) --flush",
    "%orm_log -n 3",
]

DIAGRAM_CELLS = [
    "%load_ext orm_magic",
    "%%model\nclass User(Base):\n    __tablename__ = 'users'\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    "    name: Mapped[str]\n"
    "    addresses: Mapped[list['Address']] = relationship(back_populates='user')",
    "%%model\nclass Address(Base):\n    __tablename__ = 'addresses'\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    "    email: Mapped[str]\n"
    "    user_id: Mapped[int] = mapped_column(ForeignKey('users.id'))\n"
    "    user: Mapped[User] = relationship(back_populates='addresses')",
    "%orm_diagram",
]


def write_notebook(root: Path, name: str, sources: list[str], mistake: bool = False) -> str:
    """A notebook of ``sources`` in the server's root; ``mistake`` adds a tagged error."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cells = [new_code_cell(source) for source in sources]
    if mistake:
        # On purpose: proves that the error check does see an error output.
        cell = new_code_cell("%orm_add no_such_user")
        cell.metadata["tags"] = ["raises-exception"]
        cells.append(cell)
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(notebook, root / name)
    return name


def tags_of(path: Path) -> list[list[str]]:
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    return [list(cell.metadata.get("tags", [])) for cell in notebook.cells]


def run_and_check(page: Any, lab: jl.LabServer, name: str) -> list[dict[str, Any]]:
    """Open ``name``, run all cells, and check that every cell ran without an error.

    Returns the cells as read from the page.
    """
    read, tags = run(page, lab, name)
    check(name, read, tags)
    return read


def run(page: Any, lab: jl.LabServer, name: str) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """Open ``name`` and run all cells; the cells as read from the page, and their tags."""
    tags = tags_of(lab.root / name)
    jl.open_notebook(page, lab, name, len(tags))
    jl.run_all(page)
    read = jl.cells(page)
    assert len(read) == len(tags), "the page does not show every cell of the notebook"
    return read, tags


def check(name: str, read: list[dict[str, Any]], tags: list[list[str]]) -> None:
    """Every code cell ran, and none shows an error unless tagged ``raises-exception``."""
    not_run = [c["index"] for c in read if c["code"] and not re.search(r"\[\d+\]", c["prompt"])]
    assert not not_run, f"{name}: cells {not_run} did not run\n{errors(read, tags, True)}"
    unexpected = errors(read, tags, allowed=False)
    assert not unexpected, f"{name}: error output:\n{unexpected}"


def overflowing(page: Any) -> list[str]:
    """Our outputs wider than the notebook's output area (a wide table must scroll
    in its own box instead), as the start of their text."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.jp-OutputArea-output'))
            .filter(o => o.querySelector('.orm-magic') && o.scrollWidth > o.clientWidth + 1)
            .map(o => o.innerText.slice(0, 80))"""
    )


def errors(read: list[dict[str, Any]], tags: list[list[str]], allowed: bool) -> str:
    """Error outputs, in cells tagged ``raises-exception`` (allowed) or not."""
    found = []
    for cell in read:
        if ("raises-exception" in tags[cell["index"]]) != allowed:
            continue
        for output in cell["outputs"]:
            if output["mime"] == STDERR and ERROR.search(output["text"]):
                found.append(f"cell {cell['index']}: {output['text'][:2000]}")
    return "\n".join(found)


def shoot(page: Any, stem: str, rerun: bool = False) -> None:
    """Screenshots of the notebook in the light and the dark theme.

    ``rerun`` runs the notebook again in the dark theme first: JupyterLab draws a
    Mermaid diagram in the theme of the moment and does not redraw it on a switch.
    """
    for theme, suffix in ((jl.LIGHT, "light"), (jl.DARK, "dark")):
        jl.set_theme(page, theme)
        if rerun and theme == jl.DARK:
            jl.run_all(page)
        path = jl.screenshot(page, SCREENSHOTS / f"{stem}-{suffix}.png")
        assert path.stat().st_size > 0
    jl.set_theme(page, jl.LIGHT)


def table_cells(page: Any) -> list[str]:
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('.jp-OutputArea .orm-magic td'))"
        ".map(td => td.textContent)"
    )


def sql_sections(page: Any) -> list[str]:
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('.jp-OutputArea .orm-magic pre'))"
        ".map(pre => pre.innerText)"
    )


@pytest.mark.parametrize("name", course())
def test_course_notebook_runs_and_reads(page: Any, lab: jl.LabServer, name: str) -> None:
    from playwright.sync_api import expect

    run_and_check(page, lab, name)
    expect(page.locator(".jp-OutputArea .orm-magic pre").first).to_be_visible()
    expect(page.locator(".jp-OutputArea .orm-magic table").first).to_be_visible()
    assert name in EXPECTED, f"{name}: add what it must show to EXPECTED"
    expected = EXPECTED[name]
    sql = "\n".join(sql_sections(page))
    for statement in expected.get("sql", []):
        assert statement in sql, f"{name}: {statement!r} not in any SQL section"
    assert not overflowing(page), f"{name}: outputs wider than the notebook"
    values = set(table_cells(page))
    for value in expected.get("values", []):
        assert value in values, f"{name}: no table cell shows {value!r}"
    shoot(page, Path(name).stem)


def test_values_show_as_typed(page: Any, lab: jl.LabServer) -> None:
    """Markup and TeX in a stored value show literally: not bold, not typeset."""
    from playwright.sync_api import expect

    name = write_notebook(lab.root, "e2e_escaping.ipynb", ESCAPING_CELLS, mistake=True)
    read = run_and_check(page, lab, name)
    assert "no_such_user" in errors(read, tags_of(lab.root / name), allowed=True)

    cells = table_cells(page)
    assert TRICKY in cells and TRICKY_FULLNAME in cells, cells
    shown = page.locator(".jp-OutputArea .orm-magic td", has_text="bold").first
    expect(shown).to_be_visible()
    assert shown.locator("b").count() == 0, "the value's <b> became markup"
    outputs = page.locator(".jp-OutputArea")
    assert outputs.locator("mjx-container, .MathJax, .katex").count() == 0, "TeX was typeset"
    # The INSERT's parameters show the value as typed too.
    assert any(repr(TRICKY) in sql for sql in sql_sections(page)), sql_sections(page)
    assert "x" * 30 in cells
    assert not overflowing(page), "an output is wider than the notebook"
    shoot(page, "e2e_escaping")


def test_diagram_renders_as_svg(page: Any, lab: jl.LabServer) -> None:
    """``%orm_diagram`` output is drawn by JupyterLab's Mermaid renderer as an SVG."""
    from playwright.sync_api import expect

    name = write_notebook(lab.root, "e2e_diagram.ipynb", DIAGRAM_CELLS)
    read, tags = run(page, lab, name)
    if any("`%orm_diagram` not found" in o["text"] for o in read[-1]["outputs"]):
        pytest.skip("%orm_diagram does not exist yet (issue 6): no diagram to check")
    check(name, read, tags)
    last = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").last
    # JupyterLab's Mermaid renderer draws an SVG, inline or as an <img> data URI.
    drawn = last.locator(
        '.jp-RenderedMermaid svg, .jp-RenderedMermaid img[src^="data:image/svg+xml"]'
    ).first
    expect(drawn).to_be_visible(timeout=30_000)
    assert last.locator(".jp-RenderedMermaid.jp-mod-warning").count() == 0, "Mermaid failed"
    svg = drawn.evaluate(
        "e => e.tagName.toLowerCase() === 'img' ? decodeURIComponent(e.src) : e.outerHTML"
    )
    for word in ("users", "addresses", "user_id"):
        assert f">{word}<" in svg, f"the diagram does not show {word}"
    shoot(page, "e2e_diagram", rerun=True)
