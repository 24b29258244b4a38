"""Presenting a notebook in class with its widgets live: JupyterLab's own presentation view, in Chromium.

The course's presentation view is JupyterLab 4's Simple Interface with Presentation Mode, full screen,
one section open at a time: no slideshow package. Each test does what the instructor guide
("Presenting in class") tells an instructor to do, with the same keys and menus, at 1366 x 768:
Ctrl+Shift+D (Simple Interface); View > Appearance > Presentation Mode; View > Appearance > Show Header
(unticked); Ctrl+B (side panel closed); F11 (full screen); then, in command mode, Ctrl+Shift+Left (every
heading collapsed) and the Right and Down arrows to open the title, move to a widget's `##` section and
open it and its `###` subheadings. The other sections' cells must be hidden, the section's shown.

- Notebook 02, all of it run (a few seconds: its panel is numpy only): while presenting, the Dirac GAN
  panel's R1 gamma slider goes to 1; the panel's figure (its <img>) must change and its summary line
  report the new run (R1 brings the point to the equilibrium). Then on to the next section (Left, Down,
  Right) and back (Up, Right): the panel keeps its new figure.
- Notebook 01, only the cells its live dashboard needs (the rest trains for minutes): while presenting,
  Step must train and redraw the canvas, Play must train 100 rounds and redraw, Pause must stop it.

Each checks that the view is still presenting full-screen at the end and that the page raised no error.
How fast the dashboard redraws is tests/test_browser.py's job, whose server and browser helpers these
tests use. Like it, they need Debian's Chromium and skip without it, except where
GAN_COURSE_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure. Screenshots of the presented
sections go to artifacts/.
"""

from __future__ import annotations

import contextlib
import json
import re
import time

import pytest
from test_browser import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    ROOT,
    VIEWPORT,
    _round_of,
    _run_all,
    chromium_path,  # noqa: F401 - the fixture, shared with the browser test
    start_lab,
)

PANEL_NOTEBOOK = "02_dirac_gan.ipynb"
PANEL_TITLE = "The Dirac GAN: steps, momentum, R1"
DASHBOARD_NOTEBOOK = "01_vanilla_gan.ipynb"


def _heading_levels(notebook: str) -> dict[int, int]:
    """The heading cells of `notebook`: index -> level of the cell's first heading, as JupyterLab counts it
    (a markdown cell is a heading if any of its lines is one)."""
    levels = {}
    for i, cell in enumerate(json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]):
        lines = "".join(cell["source"]).splitlines() if cell["cell_type"] == "markdown" else []
        first = next((line for line in lines if line.startswith("#")), None)
        if first is not None:
            levels[i] = len(first) - len(first.lstrip("#"))
    return levels


def _cell(notebook: str, source: str, start: bool = False) -> int:
    """The index of the one code cell of `notebook` whose source is (or, with `start`, starts with) `source`."""
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    found = [i for i, c in enumerate(cells) if c["cell_type"] == "code"
             and ("".join(c["source"]).startswith(source) if start else "".join(c["source"]) == source)]
    assert len(found) == 1, f"{notebook} has {len(found)} code cells {source!r}; the test expects one"
    return found[0]


def _hidden(page) -> list[bool]:
    """Whether each cell of the open notebook is hidden under a collapsed heading."""
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets.map(w => w.isHidden)")


def _collapsed(page, cell: int) -> bool:
    """Whether heading cell `cell` of the open notebook is collapsed."""
    return page.evaluate("i => window.jupyterapp.shell.currentWidget.content.widgets[i].headingCollapsed", cell)


def _active_cell(page) -> int:
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex")


def _view(page) -> dict:
    """The shell's state: its mode, whether it presents, whether the page is full-screen."""
    return page.evaluate("() => ({mode: window.jupyterapp.shell.mode,"
                         " presenting: window.jupyterapp.shell.presentationMode,"
                         " fullscreen: document.fullscreenElement === document.documentElement})")


def _figures(panel) -> list[str]:
    return panel.locator(".widget-image").evaluate_all("els => els.map(e => e.src)")


def _wait_until(page, condition, seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline and not condition():
        page.wait_for_timeout(200)
    assert condition(), what


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    with start_lab(tmp_path_factory.mktemp("present"), [PANEL_NOTEBOOK, DASHBOARD_NOTEBOOK]) as server:
        yield server


@contextlib.contextmanager
def _browser(chromium: str, lab: tuple[str, str], notebook: str):
    """A page of JupyterLab at 1366 x 768 with `notebook` open and its kernel idle: yields (page, errors)."""
    from playwright.sync_api import sync_playwright

    base, token = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # A workspace of its own, reset: the other test's layout and modes do not carry over.
        page.goto(f"{base}/lab/workspaces/present{notebook[:2]}/tree/{notebook}?reset&token={token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.sessionContext", timeout=60_000)
        # Run cells once the kernel is idle: sent earlier, a command can be lost.
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.ready")
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status"
                               " === 'idle'", timeout=90_000, polling=250)
        try:
            yield page, errors
        finally:
            browser.close()


def _present(page) -> None:
    """Start presenting as the guide says: the Simple Interface by its shortcut; Presentation Mode, then the
    header hidden, by their menus; the side panel closed and the page full-screen by their shortcuts."""
    no_news = page.locator(".jp-toast-button:has-text('No'), .Toastify__toast button:has-text('No')")
    if no_news.count():
        no_news.first.click()
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+Shift+D")
    _wait_until(page, lambda: _view(page)["mode"] == "single-document", 10, "Ctrl+Shift+D: no Simple Interface")
    page.locator(".lm-MenuBar-itemLabel:text-is('View')").click()
    page.locator(".lm-Menu-itemLabel:text-is('Appearance')").click()
    page.locator(".lm-Menu-itemLabel:text-is('Presentation Mode')").click()
    _wait_until(page, lambda: _view(page)["presenting"], 10, "the menu did not start Presentation Mode")
    assert page.locator(".jp-LabShell.jp-mod-presentationMode").count() == 1
    page.locator(".lm-MenuBar-itemLabel:text-is('View')").click()
    page.locator(".lm-Menu-itemLabel:text-is('Appearance')").click()
    page.locator(".lm-Menu-itemLabel:text-is('Show Header')").click()
    _wait_until(page, lambda: not page.evaluate("() => window.jupyterapp.shell.isTopInSimpleModeVisible()"), 10,
                "the menu did not hide the header")
    page.keyboard.press("Control+B")
    page.keyboard.press("F11")
    _wait_until(page, lambda: _view(page)["fullscreen"], 10, "F11 did not make the page full-screen")
    assert page.evaluate("() => window.jupyterapp.shell.leftCollapsed"), "Ctrl+B did not close the side panel"


def _open_section_of(page, notebook: str, cell: int) -> tuple[list[int], int, range]:
    """Show only the `##` section that holds `cell`, by the guide's keys: in command mode collapse every
    heading, open the title (Right), step onto the first `##` heading (Right), go down the closed headings
    to the section's (Down), open it (Right), then each of its closed `###` subheadings (Right to step onto
    it, Right to open it). Returns the `##` heading cells, the section's number among them, its cells."""
    levels = _heading_levels(notebook)
    headings = [i for i, level in levels.items() if level == 2]
    section = max(k for k, h in enumerate(headings) if h < cell)
    shown = range(headings[section], headings[section + 1] if section + 1 < len(headings) else 10**6)
    subheadings = [i for i in shown if levels.get(i, 0) > 2]
    page.locator(".jp-Notebook .jp-MarkdownCell").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+ArrowLeft")
    _wait_until(page, lambda: sum(_hidden(page)) > 0, 10, "Ctrl+Shift+Left collapsed no heading")
    assert _active_cell(page) == 0
    assert [i for i, h in enumerate(_hidden(page)) if not h] == [0], "the title is not the only cell showing"
    for key in ["ArrowRight", "ArrowRight", *["ArrowDown"] * section, "ArrowRight",
                *["ArrowRight"] * 2 * len(subheadings)]:
        page.keyboard.press(key)
        page.wait_for_timeout(300)
    hidden = _hidden(page)
    showing = [i for i, h in enumerate(hidden) if not h]
    assert _active_cell(page) == [headings[section], *subheadings][-1], (_active_cell(page), showing)
    assert all(i in showing for i in shown if i < len(hidden)), f"the section is not all showing: {showing}"
    assert all(h in showing for h in headings), f"a `##` heading is hidden: {showing}"
    others = [i for i in range(headings[0], len(hidden)) if i not in shown and i not in headings]
    assert others and all(hidden[i] for i in others), f"cells of other sections are showing: {showing}"
    return headings, section, shown


def test_a_panel_redraws_its_figure_while_its_section_is_presented(chromium_path: str, lab) -> None:  # noqa: F811
    panel_cell = _cell(PANEL_NOTEBOOK, "panel.widget")
    with _browser(chromium_path, lab, PANEL_NOTEBOOK) as (page, errors):
        # Notebook 02 runs in seconds: all of it, as in class.
        _run_all(page)
        panel = page.locator(f".jp-OutputArea-output:has-text('{PANEL_TITLE}')").first
        status = panel.locator(".ganlib-status").first
        _wait_until(page, lambda: status.inner_text().startswith("done in"), 60, "the panel did not draw")
        _present(page)
        headings, section, shown = _open_section_of(page, PANEL_NOTEBOOK, panel_cell)
        hidden = _hidden(page)

        # Present: bring the panel on screen and set R1 gamma to 1 through the value box beside its slider.
        slider = panel.locator(".ganlib-typed:has(.widget-label:text-is('R1 gamma'))").first
        slider.scroll_into_view_if_needed()
        summary = panel.locator(".widget-html-content:has-text('distance from the equilibrium')").first
        before, line_before = _figures(panel), summary.inner_text()
        assert before, "the panel shows no figure"
        box = slider.locator(".ganlib-entry input").first
        box.click()
        box.press("Control+A")
        box.type("1")
        box.press("Enter")
        _wait_until(page, lambda: _figures(panel) != before, 60, "the figure did not change while presenting")
        _wait_until(page, lambda: summary.inner_text() != line_before, 30, "the summary line did not change")
        _wait_until(page, lambda: status.inner_text().startswith("done in"), 60, "the panel's run did not finish")
        # Without R1 alternating steps circle at distance about 1; with gamma = 1 they reach (0, 0).
        distance = float(re.search(r"steps: (\S+)$", summary.inner_text().strip()).group(1))
        assert distance < 1e-3, summary.inner_text()
        figure = panel.locator(".widget-image").first
        figure.scroll_into_view_if_needed()
        box = figure.bounding_box()
        assert box and 0 <= box["y"] < VIEWPORT["height"] and box["height"] > 100, box
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "present_02_section.png"))
        assert _view(page) == {"mode": "single-document", "presenting": True, "fullscreen": True}
        assert page.locator("#jp-top-panel").first.is_hidden(), "the header came back"
        assert _hidden(page) == hidden, "moving the slider opened or closed sections"

        # On to the next section: select this section's heading (a click), close it (Left), step to the
        # next heading (Down) and open it (Right); then back to the panel's section.
        assert section + 1 < len(headings), "the panel is in the last section: no next section to move to"
        page.locator(".jp-Notebook .jp-Cell").nth(headings[section]).click()
        for key in ["ArrowLeft", "ArrowDown", "ArrowRight"]:
            page.keyboard.press(key)
            page.wait_for_timeout(300)
        hidden = _hidden(page)
        assert _active_cell(page) == headings[section + 1], _active_cell(page)
        assert all(hidden[i] for i in shown if i not in headings), "the presented section did not close"
        assert _collapsed(page, headings[section]) and not _collapsed(page, headings[section + 1]), \
            "the next section did not open"
        # Back (Up onto the closed heading, Right to open it): the panel shows its last figure.
        after = _figures(panel)
        for key in ["ArrowUp", "ArrowRight"]:
            page.keyboard.press(key)
            page.wait_for_timeout(300)
        assert _active_cell(page) == headings[section] and not _collapsed(page, headings[section])
        assert not _hidden(page)[panel_cell] and panel.locator(".widget-image").first.is_visible()
        assert _figures(panel) == after, "reopening the section changed the panel's figure"
        assert not errors, f"errors in the page: {errors}"


def test_the_dashboard_plays_while_its_section_is_presented(chromium_path: str, lab) -> None:  # noqa: F811
    # Notebook 01 trains for minutes before its dashboard: run only the cells the dashboard needs (the
    # imports, the cell that builds it, the cell that shows it).
    cells = [_cell(DASHBOARD_NOTEBOOK, "%matplotlib inline", start=True),
             _cell(DASHBOARD_NOTEBOOK, "dash = Dashboard(", start=True), _cell(DASHBOARD_NOTEBOOK, "dash.widget")]
    with _browser(chromium_path, lab, DASHBOARD_NOTEBOOK) as (page, errors):
        page.evaluate("""async cells => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            for (const i of cells) {
                nb.activeCellIndex = i;
                nb.deselectAll();
                await window.jupyterapp.commands.execute('notebook:run-cell');
            }
        }""", cells)
        dash = page.locator(".jp-OutputArea-output:has(button:has-text('Play'))").first
        dash_status = dash.locator(".ganlib-status").first
        _wait_until(page, lambda: dash_status.count() > 0 and re.match(r"round \d+", dash_status.inner_text()),
                    120, "the dashboard did not start")
        _present(page)
        _open_section_of(page, DASHBOARD_NOTEBOOK, cells[-1])

        # Step trains a chunk and redraws the canvas; Play keeps training and drawing; Pause stops it.
        canvas = dash.locator(".ganlib-live canvas").first
        dash.locator("button:has-text('Step')").first.scroll_into_view_if_needed()
        canvas.scroll_into_view_if_needed()
        step_from, picture = _round_of(dash_status.inner_text()), canvas.screenshot()
        dash.locator("button:has-text('Step')").first.click()
        _wait_until(page, lambda: _round_of(dash_status.inner_text()) > step_from, 30, "Step did not train")
        page.wait_for_timeout(500)
        assert canvas.screenshot() != picture, "the dashboard did not redraw after Step"
        played_from, picture = _round_of(dash_status.inner_text()), canvas.screenshot()
        dash.locator("button:has-text('Play')").first.click()
        _wait_until(page, lambda: _round_of(dash_status.inner_text()) >= played_from + 100, 60,
                    "Play did not train 100 rounds")
        assert canvas.screenshot() != picture, "the dashboard did not redraw while playing"
        page.screenshot(path=str(ARTIFACTS / "present_01_dashboard.png"))
        dash.locator("button:has-text('Pause')").first.click()
        _wait_until(page, lambda: "paused" in dash_status.inner_text(), 30, "Pause did not stop the run")
        paused_at = _round_of(dash_status.inner_text())
        page.wait_for_timeout(1000)
        assert _round_of(dash_status.inner_text()) == paused_at, "training went on after Pause"
        assert _view(page) == {"mode": "single-document", "presenting": True, "fullscreen": True}
        assert not errors, f"errors in the page: {errors}"
