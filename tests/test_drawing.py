"""%orm_diagram in a shell: the bundle it displays and the files --save writes.

(The diagram of mapped models without a shell: tests/present/test_diagram.py.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from IPython.core.error import UsageError

from orm_magic.present.diagram import SVG_MIME

from .helpers import run

SVG = "{http://www.w3.org/2000/svg}"


def texts(root: ET.Element) -> set[str]:
    """What each <text> names: its content, or the whole name its <title> holds when
    the content is cut short."""
    found = set()
    for text in root.iter(f"{SVG}text"):
        title = text.find(f"{SVG}title")
        found.add("".join(text.itertext()) if title is None else title.text or "")
    return found


@pytest.fixture
def lib(shell, monkeypatch):
    """A shell on in-memory SQLite with an author-book model: the diagram is drawn
    from the mapped tables, not the database, so one database is enough here."""
    monkeypatch.setenv("ORM_MAGIC_URL", "sqlite://")
    shell.reset(new_session=False)
    shell.run_line_magic("load_ext", "orm_magic")
    run(
        shell,
        "%%model\nclass Author(Base):\n    __tablename__ = 'authors'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        "class Book(Base):\n    __tablename__ = 'books'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        "    author_id: Mapped[int] = mapped_column(ForeignKey('authors.id'))",
    )
    yield shell
    shell.run_line_magic("unload_ext", "orm_magic")
    shell.reset(new_session=False)


def test_orm_diagram_shows_svg_beside_mermaid(lib) -> None:
    bundle = run(lib, "%orm_diagram").outputs[0].data
    assert set(bundle) == {SVG_MIME, "text/vnd.mermaid", "text/plain"}
    assert {"authors", "books", "author_id"} <= texts(ET.fromstring(bundle[SVG_MIME]))


@pytest.mark.parametrize("suffix", [".svg", ".mmd"])
def test_orm_diagram_save_writes_the_kind_its_extension_names(lib, tmp_path, suffix) -> None:
    path = tmp_path / f"my diagram{suffix}"
    out = run(lib, f"%orm_diagram Author Book --save '{path}'")
    bundle = out.outputs[0].data
    expected = bundle[SVG_MIME] if suffix == ".svg" else bundle["text/vnd.mermaid"] + "\n"
    assert path.read_text(encoding="utf-8") == expected
    assert out.stdout == f"saved the diagram to {path}\n"


def test_orm_diagram_save_with_another_extension_is_one_usage_error(lib, tmp_path) -> None:
    out = run(lib, f"%orm_diagram --save {tmp_path / 'd.png'}", ok=False)
    error = out.result.error_in_exec
    assert isinstance(error, UsageError) and "\n" not in str(error)
    assert "end the name with .svg or .mmd" in str(error)
    assert not (tmp_path / "d.png").exists()


def test_orm_diagram_save_expands_the_home_folder(lib, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    run(lib, "%orm_diagram --save ~/er.mmd")
    assert (tmp_path / "er.mmd").read_text(encoding="utf-8").startswith("erDiagram\n")


def test_orm_diagram_save_into_a_missing_folder_is_one_usage_error(lib, tmp_path) -> None:
    out = run(lib, f"%orm_diagram --save {tmp_path / 'no' / 'd.svg'}", ok=False)
    error = out.result.error_in_exec
    assert isinstance(error, UsageError) and "\n" not in str(error)
    assert str(error).startswith("%orm_diagram: cannot write")
    assert out.outputs == []  # no diagram above the error
