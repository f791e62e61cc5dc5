"""The README and .ci/run tell the truth: commands, magics, the seed transcript."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
TEST_COMMAND = "pip install -e '.[test,reflect]' && python -m pytest"


def test_readme_opens_with_the_two_setup_commands():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert blocks[0].startswith("pip install '.[lab]' && jupyter lab notebooks/")
    assert blocks[1] == TEST_COMMAND


def test_ci_runs_exactly_the_readme_test_command():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert TEST_COMMAND in lines


def test_every_magic_has_a_docstring_and_is_in_the_readme(ip):
    magics = ip.magics_manager.magics
    ours = {
        (kind, name)
        for kind in ("line", "cell")
        for name, fn in magics[kind].items()
        if type(getattr(fn, "__self__", None)).__module__.startswith("orm_magic")
    }
    assert ("cell", "model") in ours and len(ours) >= 14
    for kind, name in ours:
        assert (magics[kind][name].__doc__ or "").strip(), name
        written = f"`%%{name}" if kind == "cell" else f"`%{name}"
        assert written in README, f"{written} is not in the README"


def _normalize(text: str) -> str:
    # timings and clock times differ from run to run
    text = re.sub(r"\d+\.\d+ ms in the database", "N ms in the database", text)
    return re.sub(r"\d\d:\d\d:\d\d\.\d\d\d", "HH:MM:SS", text).strip()


def _readme_transcript() -> str:
    section = README.split("## The seed's session, as magics", 1)[1]
    return re.search(r"```\n(.*?)\n```", section, re.S).group(1)


def test_readme_transcript_is_what_python_m_orm_magic_prints():
    env = {k: v for k, v in os.environ.items() if k != "ORM_MAGIC_URL"}
    out = subprocess.run(
        [sys.executable, "-m", "orm_magic"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert "INSERT INTO users (name, fullname, nickname) VALUES (?, ?, ?)" in out
    assert _normalize(out) == _normalize(_readme_transcript())


@pytest.mark.skipif(os.environ.get("ORM_MAGIC_SKIP_VENV") == "1", reason="ORM_MAGIC_SKIP_VENV=1")
def test_a_fresh_virtualenv_install_reproduces_the_seed(tmp_path):
    """pip install into a new venv (no repository on the path), then the seed in IPython."""
    # Build from a copy: setuptools writes build/ into the source tree, and
    # the version matrix runs several suites on one checkout at once.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "orm_magic", source / "orm_magic", ignore=shutil.ignore_patterns("__pycache__")
    )
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(source)], check=True, cwd=tmp_path
    )
    env = {k: v for k, v in os.environ.items() if k not in ("ORM_MAGIC_URL", "PYTHONPATH")}
    out = subprocess.run(
        [str(python), "-m", "orm_magic"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert (
        str(env_dir)
        in subprocess.run(
            [str(python), "-c", "import orm_magic; print(orm_magic.__file__)"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=True,
        ).stdout
    )
    assert "CREATE TABLE users" in out
    assert "('ed', 'Ed Jones', 'eddie')" in out
    assert "<User(name='ed', fullname='Ed Jones', nickname='eddie')>" in out
    assert "DELETE FROM users WHERE users.id = ?" in out
    assert "Traceback" not in out
