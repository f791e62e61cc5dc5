"""A real JupyterLab server on loopback, and the page actions a student performs in it.

Everything here drives the real thing: a ``jupyter lab`` process with its own
settings and workspace directories (so nothing leaks from or into the user's
JupyterLab), and Chromium through Playwright clicking JupyterLab's own menus.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Flags that keep headless Chromium off the network and away from a GPU.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM = Path("/usr/bin/chromium")

LIGHT = "JupyterLab Light"
DARK = "JupyterLab Dark"

#: User settings written before the server starts. Windowing off, so that every
#: cell is in the DOM (for the assertions and the full-page screenshot) and no
#: blank screen after the last cell; no news or update checks, which would reach
#: for the network and pop a toast.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "scrollPastEnd": False,
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/apputils-extension/themes.jupyterlab-settings": {"theme": LIGHT},
}

#: Every cell of the open notebook, with its prompt and each output's text.
CELLS_JS = """
() => Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell'))
  .map((cell, index) => ({
    index,
    code: cell.classList.contains('jp-CodeCell'),
    prompt: (cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
    outputs: Array.from(cell.querySelectorAll('.jp-OutputArea-output')).map(o => ({
      mime: o.getAttribute('data-mime-type') || '',
      text: o.innerText,
    })),
  }))
"""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    """``jupyter lab`` serving ``root`` on 127.0.0.1 with a random token."""

    root: Path
    home: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "jupyter-lab.log"

    def start(self, timeout: float = 90.0) -> None:
        """Start the server and wait until its API answers with our token."""
        settings = self.home / "settings"
        for name, value in SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        env = dict(
            os.environ,
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            IPYTHONDIR=str(self.home / "ipython"),
        )
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            f"--ServerApp.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--ServerApp.ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
        ]  # fmt: skip
        if os.geteuid() == 0:
            command.append("--allow-root")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        raise RuntimeError(f"jupyter lab did not answer in {timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str) -> Any:
        """One call to the server's REST API, authenticated with the token."""
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel, so that each notebook starts from a fresh one."""
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def open_notebook(
    page: Any, server: LabServer, name: str, cell_count: int, timeout: float = 60_000
) -> None:
    """Open ``name`` alone (``reset`` drops the previous layout), wait for its kernel.

    The page shows a one-cell placeholder and an "idle" indicator before the
    notebook and its kernel are loaded, so wait for all ``cell_count`` cells and
    for the status bar to name a kernel that is idle.
    """
    page.goto(f"{server.url}/lab/tree/{name}?token={server.token}&reset")
    page.wait_for_function(
        "n => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length === n",
        arg=cell_count,
        timeout=timeout,
    )
    # The left sidebar (file browser) would take a quarter of the width.
    current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current.count():
        current.first.click()
    wait_idle(page, timeout)


def wait_idle(page: Any, timeout: float = 120_000) -> None:
    """Wait until a kernel is connected and idle, and no cell is queued or running."""
    page.wait_for_function(
        """() => {
            const bar = document.querySelector('#jp-main-statusbar');
            const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
            const prompts = Array.from(document.querySelectorAll(
                '.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt'));
            return bar && /\\| Idle/.test(bar.innerText) && !/No Kernel/.test(bar.innerText)
                && status && status.getAttribute('data-status') === 'idle'
                && !prompts.some(p => p.textContent.includes('*'));
        }""",
        timeout=timeout,
        polling=250,
    )


def menu(page: Any, *labels: str) -> None:
    """Click through JupyterLab's menu bar: ``menu(page, "Run", "Run All Cells")``."""
    page.locator(".lm-MenuBar-itemLabel", has_text=labels[0]).first.click()
    for label in labels[1:]:
        item = page.locator(".lm-Menu-content .lm-Menu-itemLabel").get_by_text(label, exact=True)
        item.last.click()


#: The execution counts shown in the open notebook's prompts.
COUNTS_JS = """
() => Array.from(document.querySelectorAll(
    '.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt'))
    .map(p => (p.textContent.match(/\\[(\\d+|\\*)\\]/) || [])[1] || '')
"""


def run_all(page: Any, timeout: float = 180_000) -> None:
    """Run > Run All Cells, then wait until every cell has run and the kernel is idle."""
    before = max((int(c) for c in page.evaluate(COUNTS_JS) if c.isdigit()), default=0)
    menu(page, "Run", "Run All Cells")
    # Wait for this run to start (a queued cell or a newer count) before waiting
    # for idle: the kernel is idle between the click and the first request.
    page.wait_for_function(
        f"() => ({COUNTS_JS})().some(c => c === '*' || Number(c) > {before})",
        timeout=timeout,
    )
    wait_idle(page, timeout)


def set_theme(page: Any, theme: str) -> None:
    """Settings > Theme > ``theme`` (the command ``apputils:change-theme``), then wait."""
    if page.evaluate("document.body.dataset.jpThemeName") == theme:
        return
    menu(page, "Settings", "Theme", theme)
    page.wait_for_function(
        "name => document.body.dataset.jpThemeName === name", arg=theme, timeout=30_000
    )
    # The theme's stylesheet is swapped in after the attribute; let it apply.
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)


def cells(page: Any) -> list[dict[str, Any]]:
    """Each cell of the open notebook: index, code or not, prompt, outputs (mime, text)."""
    return page.evaluate(CELLS_JS)


def screenshot(page: Any, path: Path, width: int = 1280) -> Path:
    """The whole notebook as one image: the viewport is made as tall as the notebook."""
    # The notebook scrolls inside its own panel, not the page: grow the viewport
    # by what that panel hides, so the page (and the screenshot) holds it all.
    hidden = page.evaluate(
        """() => {
            const outer = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
            return outer ? Math.max(0, outer.scrollHeight - outer.clientHeight) : 0;
        }"""
    )
    height = page.viewport_size["height"] + hidden + 20
    original = page.viewport_size
    page.set_viewport_size({"width": width, "height": min(max(height, 600), 16_000)})
    page.wait_for_timeout(300)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(original)
    return path
