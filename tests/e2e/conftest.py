"""Fixtures for the browser tests: one JupyterLab server and one Chromium per session.

Without Debian's Chromium, JupyterLab or Playwright, every test here is skipped
with the reason; ``.ci/run`` installs all three, so CI runs them.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .lab import CHROMIUM, CHROMIUM_ARGS, LabServer

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
#: Where the screenshots go (gitignored); reported at the end of the run.
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    for module, package in (("jupyterlab", "jupyterlab"), ("playwright", "playwright")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A JupyterLab server over a temporary copy of ``notebooks/``."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("lab-root")
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        shutil.copy(notebook, root / notebook.name)
    server = LabServer(root=root, home=tmp_path_factory.mktemp("lab-home"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(lab: LabServer) -> Iterator[Any]:
    """A context of headless Debian Chromium, driven by Playwright (never a downloaded
    browser). One context for the session: its HTTP cache halves JupyterLab's start."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        yield context
        context.close()
        chromium.close()


@pytest.fixture
def page(browser: Any, lab: LabServer) -> Iterator[Any]:
    """A fresh browser page; afterwards every kernel is shut down."""
    page = browser.new_page()
    yield page
    page.close()
    lab.shutdown_kernels()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS.exists() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"e2e screenshots (light and dark themes): {SCREENSHOTS}")
