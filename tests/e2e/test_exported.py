"""What a reader sees without JupyterLab: exported pages, VS Code, Colab.

Every course notebook is exported with ``jupyter nbconvert --to html`` (light
and dark themes) from its saved outputs, and opened in Chromium with every
request that leaves the machine aborted. Each page must show every report,
SQL section and table of the notebook, and each ER diagram as a visible SVG
naming its tables. Then the saved reports and diagrams are set in pages styled
like VS Code's dark theme, Colab (light and dark) and a bare exported page,
none of which defines JupyterLab's ``--jp-*`` variables, and every piece of
their text must stand out from its background. Screenshots of all of it go to
SCREENSHOTS.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from orm_magic.present.tables import TABLE_STYLE

from .conftest import NOTEBOOKS, SCREENSHOTS, missing
from .lab import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

SVG_MIME = "image/svg+xml"
#: The rendered size and first words of each element a selector finds.
SIZES = "all => all.map(e => [e.offsetWidth, e.offsetHeight, e.innerText.slice(0, 60)])"
NAMES = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each theme's folder of exported pages, one ``jupyter nbconvert`` run per theme."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    folders = {}
    runs = []
    for theme in ("light", "dark"):
        folders[theme] = tmp_path_factory.mktemp(f"export-{theme}")
        command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html"]
        command += [f"--theme={theme}", f"--output-dir={folders[theme]}"]
        runs.append(subprocess.Popen([*command, *(str(NOTEBOOKS / n) for n in NAMES)]))
    for run in runs:
        assert run.wait(timeout=120) == 0, "jupyter nbconvert failed"
    return folders


@pytest.fixture(scope="module")
def offline() -> Iterator[tuple[Any, list[str]]]:
    """A Chromium context that is offline and aborts every request not for a file://
    or data: URL, and the list of the URLs it aborted."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # offline as well: whatever a route does not see (a worker's request) fails too
        context = chromium.new_context(viewport={"width": 1100, "height": 900}, offline=True)
        context.route("**/*", only_local)
        yield context, blocked
        context.close()
        chromium.close()


def saved_outputs(name: str) -> list[dict[str, str]]:
    """The mime bundles of every display and result the notebook was saved with."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    return [
        out.data
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type in ("display_data", "execute_result")
    ]


def diagram_tables(svg: str) -> list[str]:
    """The table names an SVG diagram of ours draws."""
    root = ET.fromstring(svg)
    return [g.get("data-table", "") for g in root.iter() if g.get("class") == "table"]


def drawn_svgs(page: Any) -> list[str]:
    """The SVG markup of each picture in the page's SVG outputs, inline or as a data URI,
    after checking that it is visible and (for an <img>) decoded."""
    found = []
    for output in page.locator('[data-mime-type="image/svg+xml"]').all():
        picture = output.locator("svg, img").first
        assert picture.is_visible(), "a diagram is not visible"
        if picture.evaluate("e => e.tagName.toLowerCase()") == "img":
            assert picture.evaluate("e => e.complete && e.naturalWidth > 0"), "not drawn"
            src = picture.get_attribute("src") or ""
            assert src.startswith("data:image/svg+xml;base64,"), src[:80]
            found.append(base64.b64decode(src.split(",", 1)[1]).decode("utf-8"))
        else:
            found.append(picture.evaluate("e => e.outerHTML"))
    return found


@pytest.mark.parametrize("name", NAMES)
def test_exported_page_shows_every_output_offline(
    exported: dict[str, Path], offline: tuple[Any, list[str]], name: str
) -> None:
    context, blocked = offline
    outputs = saved_outputs(name)
    reports = [o["text/html"] for o in outputs if "orm-magic" in o.get("text/html", "")]
    diagrams = [o[SVG_MIME] for o in outputs if SVG_MIME in o]
    page = context.new_page()
    try:
        for theme, folder in exported.items():
            refused = len(blocked)
            page.goto((folder / name).with_suffix(".html").as_uri())
            # the page asks for scripts from CDNs (require.js, MathJax): refused, it goes on
            assert len(blocked) > refused, f"{name} ({theme}): no request was refused"
            assert all(url.startswith(("http:", "https:")) for url in blocked[refused:])
            shown = page.locator(".jp-OutputArea-output .orm-magic")
            assert shown.count() == len(reports), f"{name} ({theme}): a report is missing"
            for kind in ("pre", "table"):
                expected = sum(report.count(f"<{kind}") for report in reports)
                # each one's box, read in one round trip: none may be empty (hidden)
                sizes = page.eval_on_selector_all(
                    f".jp-OutputArea-output .orm-magic {kind}", SIZES
                )
                assert len(sizes) == expected, f"{name} ({theme}): {kind} missing"
                hidden = [text for width, height, text in sizes if not (width and height)]
                assert not hidden, f"{name} ({theme}): {kind} not visible: {hidden}"
            drawn = drawn_svgs(page)
            assert len(drawn) == len(diagrams), f"{name} ({theme}): a diagram is missing"
            for svg, saved in zip(drawn, diagrams):
                tables = diagram_tables(saved)
                assert tables and diagram_tables(svg) == tables
                texts = {
                    "".join(t.itertext()) for t in ET.fromstring(svg).iter() if "text" in t.tag
                }
                assert set(tables) <= texts, f"{name}: the diagram does not name {tables}"
            path = SCREENSHOTS / f"export-{Path(name).stem}-{theme}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=True)
    finally:
        page.close()


#: Pages like the notebook frontends that do not define JupyterLab's variables.
SURROUNDINGS = {
    "vscode-dark": "background:#1e1e1e;color:#cccccc;font-family:'Segoe UI',sans-serif",
    "colab-light": "background:#ffffff;color:#212121;font-family:Roboto,sans-serif",
    "colab-dark": "background:#383838;color:#d5d5d5;font-family:Roboto,sans-serif",
    "exported-bare": "background:#ffffff;color:#000000",
}

#: Contrast of every piece of text against what is behind it (WCAG: 4.5 for body
#: text; 3 for the de-emphasised clock times and notes, which are also smaller).
CONTRAST = """(minimum) => {
  // a computed colour is rgb(a) in 0..255, or color(srgb r g b / a) in 0..1 (color-mix)
  const rgba = s => {
    const m = s.match(/[\\d.]+/g).map(Number);
    const scale = s.startsWith('color(') ? 255 : 1;
    return [m[0] * scale, m[1] * scale, m[2] * scale, m.length > 3 ? m[3] : 1];
  };
  const over = (top, under) =>
    [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
  const lum = c => {
    const v = c.slice(0, 3).map(x => {
      x /= 255;
      return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  };
  const poor = [];
  for (const el of document.querySelectorAll('.orm-magic *')) {
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.tagName === 'STYLE') continue;
    let layers = [], opacity = 1;
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      opacity *= Number(s.opacity);
      const bg = rgba(s.backgroundColor);
      if (bg[3] > 0) layers.push(bg);
    }
    let back = [255, 255, 255, 1];
    for (const layer of layers.reverse()) back = over(layer, back);
    const ink = rgba(getComputedStyle(el).color);
    const text = over([ink[0], ink[1], ink[2], ink[3] * opacity], back);
    const [a, b] = [lum(text), lum(back)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const needed = opacity < 1 ? 3 : minimum;
    const what = el.textContent.trim().slice(0, 50);
    if (ratio < needed) poor.push(`${ratio.toFixed(2)} < ${needed}: ${what}`);
  }
  return poor;
}"""


def surroundings_page(style: str) -> str:
    """Every saved report and diagram of the course, in a page of ``style``; diagrams
    as an <img> of the SVG, as VS Code and GitHub show them."""
    parts = []
    for name in NAMES:
        for data in saved_outputs(name):
            if "orm-magic" in data.get("text/html", ""):
                parts.append(f'<div style="margin:12px 0">{data["text/html"]}</div>')
            elif SVG_MIME in data:
                encoded = base64.b64encode(data[SVG_MIME].encode()).decode()
                parts.append(f'<img class="diagram" src="data:{SVG_MIME};base64,{encoded}">')
    return (
        f'<!DOCTYPE html><html><body style="{style};font-size:13px">{"".join(parts)}</body></html>'
    )


@pytest.mark.parametrize("surroundings", SURROUNDINGS)
def test_reports_read_well_without_jupyterlab(
    offline: tuple[Any, list[str]], surroundings: str
) -> None:
    context, _ = offline
    page = context.new_page()
    try:
        page.set_content(surroundings_page(SURROUNDINGS[surroundings]))
        assert (
            page.evaluate(
                "() => getComputedStyle(document.body).getPropertyValue('--jp-ui-font-color0')"
            )
            == ""
        )
        poor = page.evaluate(CONTRAST, 4.5)
        assert not poor, f"{surroundings}: text hard to read:\n" + "\n".join(poor[:20])
        cells = page.locator(".orm-magic td").first
        assert cells.evaluate("e => parseFloat(getComputedStyle(e).paddingLeft)") > 0
        assert page.locator("img.diagram").count() > 0
        assert page.evaluate(
            "() => Array.from(document.querySelectorAll('img.diagram')).every(i => i.naturalWidth)"
        )
        path = SCREENSHOTS / f"surroundings-{surroundings}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        # the first screens: the same kinds of report recur all the way down
        page.set_viewport_size({"width": 1000, "height": 6000})
        page.screenshot(path=str(path))
    finally:
        page.close()


def test_a_page_s_own_table_rules_win_over_the_reports(offline: tuple[Any, list[str]]) -> None:
    """Reports style their tables only where the page does not: JupyterLab's rule for
    cells (``.jp-RenderedHTMLCommon td``) keeps its padding around a report's table."""
    context, _ = offline
    cell = "<tr><th>id</th></tr><tr><td>1</td></tr>"
    report = f'<div class="orm-magic">{TABLE_STYLE}<table class="dataframe">{cell}</table></div>'
    page = context.new_page()
    try:
        page.set_content(
            "<style>.jp-RenderedHTMLCommon td{padding:5px}</style>"
            f'<div class="jp-RenderedHTMLCommon" id="lab">{report}</div>'
            f'<div id="bare">{report}</div>'
        )
        left = "e => getComputedStyle(e).paddingLeft"
        assert page.eval_on_selector("#lab .orm-magic td", left) == "5px"
        assert page.eval_on_selector("#bare .orm-magic td", left) not in ("5px", "0px")
    finally:
        page.close()
