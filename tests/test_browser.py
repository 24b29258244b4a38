"""The course in a real browser: JupyterLab + Chromium, driven by Playwright, at 1366 x 768.

Starts `jupyter lab` on 127.0.0.1 with a free port on a copy of a notebook, opens it, runs all
cells, checks that the widgets rendered as widgets (no "Error displaying widget", no raw
`IntSlider(...)` text), moves a panel's slider and checks that its figure changed, starts and
cancels a panel run from the browser, then finds the live dashboard by its Play button and
measures how often its canvas changes while playing: DevTools' screencast sends a frame whenever
the page's pixels change (at most 60 a second), and the frames in which the dashboard's part of
the picture differs from the previous frame are its redraws. It needs at least 20 a second, with
G's gradient arrows on (the default): the test checks that the checkbox is on, that the canvas
drew arrows while playing, and that its text alternative (aria-label) describes them. The 2-D
dashboard (ring of eight Gaussians: D's surface, G's points, an arrow on each) is measured the same
way in a small notebook the test writes beside the course's, which also shows that a refused input
is a one-line message in the widget.

A third notebook the test writes runs a 12 s cell whose progress display is the session's first widget:
the bar must be at least 200 px wide under its whole label, its count and time must move, it must end
with "done in", and JupyterLab's status bar must say Busy throughout (see KEEP_BUSY_FLAGS for why it
said Idle); then values typed into a panel's slider boxes out of range must give one line and no run.

Notebook 01 always; 05 (the WGAN dashboard) too with GAN_COURSE_BROWSER_ALL=1. Screenshots and the measured rates go
to artifacts/. Needs Debian's Chromium (`apt-get install chromium`); it skips without it, except
where GAN_COURSE_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganlib.widgets import N_ARROWS
from ganlib.widgets.plane_dashboard import N_POINTS as PLANE_POINTS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_vanilla_gan.ipynb"] + (["05_wgan.ipynb"] if os.environ.get("GAN_COURSE_BROWSER_ALL") == "1" else [])
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "artifacts"
VIEWPORT = {"width": 1366, "height": 768}
MIN_REDRAWS_PER_SECOND = 20
# The 2-D dashboard's notebook, written by the lab_server fixture (no course notebook holds it).
PLANE_NOTEBOOK = "plane_dashboard.ipynb"
PLAY_SECONDS = 6.0
# A notebook the lab_server fixture writes too: a long cell with the course's progress display, and a
# panel to type values into.
PROGRESS_NOTEBOOK = "progress_and_typing.ipynb"
# The progress cell's label: as long as the one that squeezed 01's bar to 18 px, and longer.
LONG_LABEL = ("ten seeds of Dev Nag's setting, then the minimax loss with three D steps, on to round 3,000 "
              "with the recommended recipe")
PROGRESS_STEPS, PROGRESS_STEP_SECONDS = 40, 0.3
MIN_BAR_PX = 200
# A third notebook of the fixture's: notebook 01's live dashboard alone, to work from the keyboard.
KEYS_NOTEBOOK = "dashboard_keys.ipynb"


# JupyterLab starts with the flags the course's launcher passes (scripts/course_env.KEEP_BUSY_FLAGS: status
# messages of kernel subshells and comms leave the kernel's status alone), so the "Busy" check below tests
# what a reader's `python lab.py` runs.
_spec = importlib.util.spec_from_file_location("course_env", ROOT / "scripts" / "course_env.py")
course_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(course_env)  # type: ignore[union-attr]
KEEP_BUSY_FLAGS = course_env.KEEP_BUSY_FLAGS


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if name and os.path.exists(name):
            return name
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = _chromium()
    if path is None:
        if os.environ.get("GAN_COURSE_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium not found; install it with apt-get install chromium")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    pytest.importorskip("playwright")
    return path


@contextlib.contextmanager
def start_lab(root: Path, notebooks: list[str]) -> Iterator[tuple[str, str]]:
    """`jupyter lab` on 127.0.0.1 serving copies of `notebooks` in `root`: yields (base URL, token)."""
    for name in notebooks:
        shutil.copy(ROOT / "notebooks" / name, root / name)
    port, token = _free_port(), "gancoursetest"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(root / ".run"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / ".ws"), "IPYKERNEL_CELL_NAME": "<IPY-INPUT>",
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
           "--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True", *KEEP_BUSY_FLAGS]
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("jupyter lab exited: " + (root / "lab.log").read_text()[-2000:]) from None
                time.sleep(0.5)
        else:
            raise RuntimeError("jupyter lab did not start within 60 s")
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def write_plane_notebook(path: Path) -> None:
    """A notebook of two cells, written for the test: the ring's 2-D dashboard (one run, arrows on),
    and a 2-D dashboard given a 1-D Config, which it must refuse in a message, not a traceback."""
    import nbformat

    kernelspec = json.loads((ROOT / "notebooks" / NOTEBOOKS[0]).read_text())["metadata"]["kernelspec"]
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernelspec})
    nb.cells = [
        nbformat.v4.new_code_cell("from ganlib import Config\nfrom ganlib.plane import PlaneConfig\n"
                                  "from ganlib.widgets import PlaneDashboard\n\n"
                                  "dash = PlaneDashboard(PlaneConfig(target='ring8', seeds=1))\ndash.widget"),
        nbformat.v4.new_code_cell("PlaneDashboard(Config()).widget"),
    ]
    nbformat.write(nb, str(path))


def write_progress_notebook(path: Path) -> None:
    """A notebook of three cells, written for the test: imports; a cell of about 12 s that reports to
    a `progress` display with a long label, its main thread busy as a training cell's is; and a small
    training panel with a seed and a learning-rate slider, to type values into."""
    import nbformat

    kernelspec = json.loads((ROOT / "notebooks" / NOTEBOOKS[0]).read_text())["metadata"]["kernelspec"]
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernelspec})
    nb.cells = [
        nbformat.v4.new_code_cell("import time\n\nfrom ganlib import Config\n"
                                  "from ganlib.widgets import dashboard_figure, progress, training_panel"),
        # The session's first widget, shown while the cell runs, as in 01, 05 and 09: JupyterLab then asks
        # the kernel for a subshell for the widgets' comms, whose busy and idle set the status to Idle.
        nbformat.v4.new_code_cell(
            f"with progress({PROGRESS_STEPS}, {LONG_LABEL!r}, unit='step') as bar:\n"
            f"    for _ in range({PROGRESS_STEPS}):\n"
            f"        t0 = time.perf_counter()\n"
            f"        while time.perf_counter() - t0 < {PROGRESS_STEP_SECONDS}:  # busy, as training is\n"
            f"            pass\n"
            f"        bar.advance(1)"),
        nbformat.v4.new_code_cell("panel = training_panel(Config(seeds=1, rounds=60, eval_every=20, d_lr=2e-4), "
                                  "['seed', 'd_lr'], dashboard_figure, height='300px')\npanel.widget"),
    ]
    nbformat.write(nb, str(path))


def write_keys_notebook(path: Path) -> None:
    """A notebook of one cell, written for the test: notebook 01's live dashboard (one run, D sees values)."""
    import nbformat

    kernelspec = json.loads((ROOT / "notebooks" / NOTEBOOKS[0]).read_text())["metadata"]["kernelspec"]
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernelspec})
    nb.cells = [nbformat.v4.new_code_cell("from ganlib import Config\nfrom ganlib.widgets import Dashboard\n\n"
                                          "dash = Dashboard(Config(features='value', seeds=1))\ndash.widget")]
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("course")
    write_plane_notebook(root / PLANE_NOTEBOOK)
    write_progress_notebook(root / PROGRESS_NOTEBOOK)
    write_keys_notebook(root / KEYS_NOTEBOOK)
    with start_lab(root, NOTEBOOKS) as server:
        yield server


def _round_of(text: str) -> int:
    """The round number of a dashboard status line such as 'round 60 (paused)'."""
    return int(re.match(r"round (\d+)", text.strip()).group(1))


def _image_sources(page) -> list[str]:
    return page.eval_on_selector_all(".jp-OutputArea .widget-image", "els => els.map(e => e.src)")


def _run_all(page) -> None:
    # A fresh server sometimes swallows the first "run all": retry until the first code cell
    # shows that it ran in this session.
    first_prompt = ".jp-CodeCell .jp-InputPrompt"
    for _attempt in range(4):
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            page.wait_for_function(
                "sel => { const p = document.querySelector(sel); return p && /\\[\\d+\\]/.test(p.textContent)"
                " && !p.textContent.includes('[*]'); }", arg=first_prompt, timeout=30_000)
            break
        except Exception:  # noqa: BLE001 - retry the command, as a person would press again
            continue
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-InputPrompt')].every(p => !p.textContent.includes('*'))",
        timeout=300_000, polling=1000)


def _changed(a, b) -> bool:
    """Whether two screencast crops differ by more than JPEG noise: 20+ pixels off by 24+ levels."""
    from PIL import ImageChops

    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v >= 24 else 0)
    return sum(diff.histogram()[255:]) >= 20


def measure_redraws(page, canvas, seconds: float) -> dict:
    """Redraws per second of `canvas`: screencast frames in which its pixels changed."""
    from PIL import Image

    box = canvas.bounding_box()
    cdp = page.context.new_cdp_session(page)
    frames: list[tuple[float, str]] = []

    def on_frame(event: dict) -> None:
        frames.append((event["metadata"]["timestamp"], event["data"]))
        cdp.send("Page.screencastFrameAck", {"sessionId": event["sessionId"]})

    cdp.on("Page.screencastFrame", on_frame)
    # Half the viewport's size: encoding and shipping each frame costs the machine a quarter as
    # much (the browser, the kernel and the server share it with this measurement), and the
    # dashboard's canvas is still hundreds of pixels across.
    cdp.send("Page.startScreencast", {"format": "jpeg", "quality": 70, "everyNthFrame": 1,
                                      "maxWidth": VIEWPORT["width"] // 2, "maxHeight": VIEWPORT["height"] // 2})
    page.wait_for_timeout(seconds * 1000)
    cdp.send("Page.stopScreencast")
    cdp.detach()
    changed, previous = 0, None
    for _t, data in frames:
        img = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
        f = img.width / VIEWPORT["width"]
        img = img.crop((int(f * box["x"]) + 2, int(f * box["y"]) + 2,
                        int(f * (box["x"] + box["width"])) - 2, int(f * (box["y"] + box["height"])) - 2))
        if previous is not None and _changed(previous, img):
            changed += 1
        previous = img
    span = frames[-1][0] - frames[0][0] if len(frames) > 1 else seconds
    return {"screencast_frames": len(frames), "dashboard_redraws": changed, "seconds": round(span, 2),
            "redraws_per_second": round(changed / max(span, 1e-9), 1)}


def _open(browser, base: str, token: str, notebook: str, stem: str) -> tuple:
    """A page with `notebook` open in a workspace of its own, its kernel ready: (page, the page's errors)."""
    page = browser.new_page(viewport=VIEWPORT)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # A workspace of its own, reset: otherwise the next notebook opens beside the last one.
    page.goto(f"{base}/lab/workspaces/w{stem}/tree/{notebook}?reset&token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    # No kernel dialog: the notebook is saved with its kernelspec.
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=60_000)
    page.wait_for_timeout(2000)
    assert page.locator(".jp-Dialog:has-text('Select Kernel')").count() == 0
    return page, errors


def _check_rendered(page) -> None:
    """Every output drawn as a widget, no traceback; JupyterLab's news toast dismissed."""
    text = page.locator(".jp-Notebook").inner_text()
    assert "Error displaying widget" not in text
    assert "IntSlider(" not in text and "FloatLogSlider(" not in text and "LivePlot(" not in text
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    # Dismiss JupyterLab's "get notified about news?" toast so it does not cover the figures.
    no_news = page.locator(".jp-toast-button:has-text('No'), .Toastify__toast button:has-text('No')")
    if no_news.count():
        no_news.first.click()


def _open_and_run(browser, base: str, token: str, notebook: str, stem: str) -> tuple:
    """A page with `notebook` open in a workspace of its own, every cell run: (page, the page's errors)."""
    page, errors = _open(browser, base, token, notebook, stem)
    _run_all(page)
    _check_rendered(page)
    return page, errors


def _type_into(control, text: str) -> None:
    """Type `text` into a slider's value box and press Enter, as a reader does."""
    box = control.locator(".ganlib-entry input").first
    box.click()
    box.press("Control+A")
    box.type(text)
    box.press("Enter")


def _kernel_status(page) -> str:
    """The kernel's state as JupyterLab's status bar shows it ('Idle', 'Busy', ...)."""
    found = re.search(r"\|\s*(Idle|Busy|Starting|Connecting|Unknown|Restarting|Dead)\b",
                      page.locator("#jp-main-statusbar").inner_text())
    return found.group(1) if found else "?"


def _play_the_dashboard(page, stem: str) -> tuple[dict, object, object]:
    """Step, then Play the first dashboard of the page with its arrows on, count its redraws, Pause.

    Returns the measured rates (also written to artifacts/), the canvas and the status line.
    """
    # The dashboard, found by its Play button: Step redraws its canvas.
    dash = page.locator(".jp-OutputArea-output:has(button:has-text('Play'))").first
    canvas = dash.locator(".ganlib-live canvas").first
    assert dash.locator(".ganlib-arrows input[type=checkbox]").first.is_checked(), "the arrows are not on"
    dash.locator("button:has-text('Step')").first.scroll_into_view_if_needed()
    canvas.scroll_into_view_if_needed()
    dash_status = dash.locator(".ganlib-status").first
    step_from = _round_of(dash_status.inner_text())
    picture = canvas.screenshot()
    dash.locator("button:has-text('Step')").first.click()
    deadline = time.time() + 30
    while time.time() < deadline and _round_of(dash_status.inner_text()) == step_from:
        page.wait_for_timeout(200)
    page.wait_for_timeout(500)
    assert _round_of(dash_status.inner_text()) > step_from, "Step did not train"
    assert canvas.screenshot() != picture, "the dashboard did not redraw after Step"

    # Play: count the canvas's redraws while it trains; Pause must stop it.
    played_from = _round_of(dash_status.inner_text())
    dash.locator("button:has-text('Play')").first.click()
    page.wait_for_timeout(1500)  # past the first frames, into the steady state
    t0, r0 = time.time(), _round_of(dash_status.inner_text())
    rate = measure_redraws(page, canvas, PLAY_SECONDS)
    t1, r1 = time.time(), _round_of(dash_status.inner_text())
    # What the last frame drew, from the canvas's counters (the redraws were measured with the arrows on).
    drawn = dash.locator(".ganlib-live").first.evaluate("el => el.ganlibCounters")
    rate["arrows_drawn"], rate["points_drawn"] = drawn["arrows"], drawn.get("points", 0)
    page.screenshot(path=str(ARTIFACTS / f"browser_{stem}_dashboard_playing.png"))
    dash.locator("button:has-text('Pause')").first.click()
    deadline = time.time() + 30
    while time.time() < deadline and "paused" not in dash_status.inner_text():
        page.wait_for_timeout(250)
    assert "paused" in dash_status.inner_text(), f"Pause did not stop the run: {dash_status.inner_text()!r}"
    paused_at = _round_of(dash_status.inner_text())
    assert paused_at >= played_from + 100, f"Play advanced only from round {played_from} to {paused_at}"
    page.wait_for_timeout(1500)
    assert _round_of(dash_status.inner_text()) == paused_at, "training went on after Pause"
    rate["rounds_per_second"] = round((r1 - r0) / (t1 - t0), 1)
    rate["paused_at_round"] = paused_at
    (ARTIFACTS / f"browser_{stem}_dashboard_rate.json").write_text(json.dumps(rate, indent=2))
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"browser_{stem}_dashboard.png"))
    # The canvas's text alternative (set at most once a second, so after the pause it is the last frame's).
    assert "arrows: " in (canvas.get_attribute("aria-label") or ""), canvas.get_attribute("aria-label")
    return rate, canvas, dash_status


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs_its_panel_redraws_and_its_dashboard_plays_at_20_redraws_per_second(
        chromium_path: str, lab_server, notebook: str) -> None:
    from playwright.sync_api import sync_playwright

    base, token = lab_server
    stem = notebook.split("_")[0]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        page, errors = _open_and_run(browser, base, token, notebook, stem)
        assert page.locator(".jp-OutputArea .widget-slider").count() >= 3

        # The notebook's last panel (its main slider panel: notebook 01 has an earlier one whose run
        # takes minutes): type a seed into the box beside its slider; the change trains in the
        # background and the figure redraws.
        panel = page.locator(".jp-OutputArea-output:has(button:has-text('Cancel'))").last
        slider = panel.locator(".ganlib-typed:has(.widget-label:text-is('seed'))").first
        slider.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"browser_{stem}_panel.png"))
        before = _image_sources(page)
        assert before, "no figure widgets found"
        _type_into(slider, "5")
        deadline = time.time() + 90
        while time.time() < deadline and _image_sources(page) == before:
            page.wait_for_timeout(250)
        assert _image_sources(page) != before, "no figure changed after moving the seed slider"
        status = panel.locator(".ganlib-status").first
        deadline = time.time() + 120
        while time.time() < deadline and not status.inner_text().startswith("done in"):
            page.wait_for_timeout(250)
        assert status.inner_text().startswith("done in"), status.inner_text()
        # The figure's alt text is the caption line under it: the new run's sentence, seed 5's numbers.
        caption = panel.locator(".ganlib-caption").first
        image = panel.locator(".widget-image").first
        assert _wait_for(page, lambda: "seed 5's values" in caption.inner_text()), caption.inner_text()
        assert _wait_for(page, lambda: image.get_attribute("alt") == caption.inner_text().removeprefix("Figure: ")), \
            (image.get_attribute("alt"), caption.inner_text())
        page.screenshot(path=str(ARTIFACTS / f"browser_{stem}_panel_after_release.png"))
        # Run, then Cancel: the run stops and says so.
        panel.locator("button:has-text('Run')").first.click()
        cancel = panel.locator("button:has-text('Cancel')").first
        deadline = time.time() + 30
        while time.time() < deadline and cancel.is_disabled():
            page.wait_for_timeout(50)
        cancel.click()
        deadline = time.time() + 10
        while time.time() < deadline and not status.inner_text().startswith("cancelled"):
            page.wait_for_timeout(100)
        assert status.inner_text().startswith("cancelled"), status.inner_text()

        rate, _canvas, _status = _play_the_dashboard(page, stem)
        assert not errors, f"errors in the page: {errors}"
        # A few dozen arrows under the histogram in every frame.
        assert rate["arrows_drawn"] == N_ARROWS, rate
        assert rate["redraws_per_second"] >= MIN_REDRAWS_PER_SECOND, rate
        browser.close()


def test_the_2d_dashboard_plays_at_20_redraws_per_second_with_its_arrows(chromium_path: str, lab_server) -> None:
    # A notebook the lab_server fixture wrote (PLANE_NOTEBOOK): the ring's dashboard, and one given a
    # 1-D Config, which it must refuse with a visible one-line message.
    from playwright.sync_api import sync_playwright

    base, token = lab_server
    stem = "plane"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        page, errors = _open_and_run(browser, base, token, PLANE_NOTEBOOK, stem)
        refused = page.locator(".jp-OutputArea-output:has-text('needs a PlaneConfig or a PlaneTrainer, got Config')")
        assert refused.count() == 1, "the refused input's message is not shown"
        assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
        rate, canvas, status = _play_the_dashboard(page, stem)
        assert not errors, f"errors in the page: {errors}"
        # G's points, each with its arrow, in every frame; the status line counts the modes.
        assert rate["points_drawn"] == PLANE_POINTS and rate["arrows_drawn"] == PLANE_POINTS, rate
        assert re.search(r"\d of 8 modes covered · \d+% high quality", status.inner_text()), status.inner_text()
        assert "modes" in (canvas.get_attribute("aria-label") or "")
        assert rate["redraws_per_second"] >= MIN_REDRAWS_PER_SECOND, rate
        browser.close()


# A control announced by its role alone, with no name: "- slider" or '- textbox:' in an ARIA snapshot.
_UNNAMED = re.compile(r"^\s*- (slider|textbox|button|checkbox|combobox|img)\s*(:.*)?$")


def _focused(page) -> str:
    """What has the keyboard's focus: its accessible label, else its text."""
    return page.evaluate("() => { const e = document.activeElement;"
                         " return (e.getAttribute('aria-label') || e.textContent || '').trim(); }")


def _wait_for(page, what, timeout: float = 20.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if what():
            return True
        page.wait_for_timeout(100)
    return what()


def test_the_dashboard_names_every_control_and_works_from_the_keyboard(chromium_path: str, lab_server) -> None:
    # What a screen reader announces and what a keyboard reaches: every control of notebook 01's
    # dashboard has a name, the canvas is a picture named by its numbers, and Play, Pause, a
    # slider, its value box and the arrows checkbox all work with keys alone.
    from playwright.sync_api import sync_playwright

    base, token = lab_server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        page, errors = _open_and_run(browser, base, token, KEYS_NOTEBOOK, "keys")
        dash = page.locator(".jp-OutputArea-output:has(canvas)").first
        _wait_for(page, lambda: dash.get_by_role("slider", name="seed").count() == 1)
        tree = dash.aria_snapshot()
        (ARTIFACTS / "browser_dashboard_aria.txt").write_text(tree)
        unnamed = [line for line in tree.splitlines() if _UNNAMED.match(line)]
        assert not unnamed, "controls without a name:\n" + "\n".join(unnamed)
        assert dash.get_by_role("slider").count() >= 8 and dash.get_by_role("textbox").count() >= 7, tree
        canvas = dash.get_by_role("img")
        assert re.match(r"round 0: G's values mean \d", canvas.get_attribute("aria-label") or ""), tree
        status = dash.locator(".ganlib-status").first

        def round_now() -> int:
            return _round_of(status.inner_text())

        # Play with Enter; Tab moves to Pause, which Space presses.
        dash.get_by_role("button", name="Play").focus()
        page.keyboard.press("Enter")
        assert _wait_for(page, lambda: round_now() > 0), status.inner_text()
        page.keyboard.press("Tab")
        assert _focused(page) == "Pause"
        page.keyboard.press("Space")
        assert _wait_for(page, lambda: "paused" in status.inner_text()), status.inner_text()
        paused_at = round_now()
        page.wait_for_timeout(800)
        assert round_now() == paused_at, "the run went on after Pause"
        # The arrow key moves the seed slider by one; its box follows and the run starts again from round 0.
        seed, seed_box = dash.get_by_role("slider", name="seed"), dash.get_by_role("textbox", name="seed: type a value")
        seed.focus()
        page.keyboard.press("ArrowRight")
        assert _wait_for(page, lambda: seed_box.input_value() == "1"), seed_box.input_value()
        assert _wait_for(page, lambda: round_now() == 0), status.inner_text()
        # A value typed into the box, with Enter, moves the slider.
        seed_box.focus()
        page.keyboard.press("Control+A")
        page.keyboard.type("7")
        page.keyboard.press("Enter")
        assert _wait_for(page, lambda: seed.get_attribute("aria-valuenow") in ("7", "7.00", "7.0")), \
            seed.get_attribute("aria-valuenow")
        # Space turns the arrows off: the picture's name says so.
        arrows = dash.get_by_role("checkbox", name="gradient arrows")
        arrows.focus()
        page.keyboard.press("Space")
        assert _wait_for(page, lambda: not arrows.is_checked())
        assert _wait_for(page, lambda: "arrows:" not in (canvas.get_attribute("aria-label") or "")), \
            canvas.get_attribute("aria-label")
        assert not errors, f"errors in the page: {errors}"
        browser.close()


def test_a_long_cell_shows_a_wide_progress_bar_the_status_stays_busy_and_typed_values_are_checked(
        chromium_path: str, lab_server) -> None:
    # A notebook the lab_server fixture wrote (PROGRESS_NOTEBOOK): a panel, then a 12 s cell with a
    # progress display under a long label.
    from playwright.sync_api import sync_playwright

    base, token = lab_server
    stem = "progress"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        page, errors = _open(browser, base, token, PROGRESS_NOTEBOOK, stem)
        # Not awaited: the command's promise ends with the last cell, and the test watches the cell run.
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        display = page.locator(".ganlib-progress").first
        display.wait_for(timeout=120_000)
        display.scroll_into_view_if_needed()
        label, bar, note = (display.locator(sel).first for sel in
                            (".ganlib-progress-label", ".widget-hprogress", ".ganlib-progress-note"))
        notes, states = [], []
        box = label_box = None
        fits = False
        deadline = time.time() + 120
        while time.time() < deadline:
            text = note.inner_text()
            notes.append(text)
            if text.startswith(("done in", "stopped")):
                break
            state = _kernel_status(page)
            if not note.inner_text().startswith(("done in", "stopped")):  # still running after the read
                states.append(state)
            if box is None and re.match(r"\d+/", text):
                # The bar, mid-run: its width and the label's place, and a screenshot.
                box, label_box = bar.bounding_box(), label.bounding_box()
                fits = label.evaluate("el => el.scrollWidth <= el.clientWidth + 1 && el.scrollHeight <= "
                                      "el.clientHeight + 1")
                page.screenshot(path=str(ARTIFACTS / "browser_progress_running.png"))
            page.wait_for_timeout(400)
        assert notes[-1].startswith("done in"), notes[-5:]
        assert box is not None and box["width"] >= MIN_BAR_PX, (box, notes)
        assert fits and label.inner_text().strip() == LONG_LABEL
        assert label_box["y"] + label_box["height"] <= box["y"] + 1, (label_box, box)  # above, not beside
        # The count and the time move on while the cell runs (at least every half second of work).
        running = [n for n in notes if re.match(rf"\d+/{PROGRESS_STEPS} steps · ", n)]
        assert len(set(running)) >= 8, notes
        assert any("left" in n for n in running), notes
        # JupyterLab said Busy for the whole cell, also after the widgets' subshell was made.
        assert len(states) >= 8 and set(states) == {"Busy"}, states
        page.screenshot(path=str(ARTIFACTS / "browser_progress_done.png"))

        # Typed values: out of range, a line and no run; in range, a run.
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-InputPrompt')].every(p => !p.textContent.includes('*'))",
            timeout=60_000)
        _check_rendered(page)
        panel = page.locator(".jp-OutputArea-output:has(button:has-text('Cancel'))").first
        panel.scroll_into_view_if_needed()
        seed = panel.locator(".ganlib-typed:has(.widget-label:text-is('seed'))").first
        status = panel.locator(".ganlib-status").first
        message = panel.locator(".widget-html").filter(has_text="must be")
        before, done_text = _image_sources(page), status.inner_text()
        lr = panel.locator(".ganlib-typed:has(.widget-label:text-is('D learning rate'))").first
        for control, text, line in [(seed, "-5", "seed must be from 0 to 99; kept 0"),
                                    (seed, "1000", "seed must be from 0 to 99; kept 0"),
                                    (lr, "0", "D learning rate must be from 1e-05 to 0.316; kept 0.0002"),
                                    (lr, "-1", "D learning rate must be from 1e-05 to 0.316; kept 0.0002")]:
            _type_into(control, text)
            page.wait_for_timeout(1500)
            assert line in message.first.inner_text(), (text, message.first.inner_text())
            assert status.inner_text() == done_text and _image_sources(page) == before, "a refused value ran"
            assert control.locator(".ganlib-entry input").first.input_value() != text  # the kept value is back
        page.screenshot(path=str(ARTIFACTS / "browser_typed_refused.png"))
        _type_into(seed, "5")
        deadline = time.time() + 90
        while time.time() < deadline and (_image_sources(page) == before or not status.inner_text().startswith(
                "done in")):
            page.wait_for_timeout(250)
        assert _image_sources(page) != before and status.inner_text().startswith("done in"), status.inner_text()
        assert "must be" not in panel.inner_text()  # the new run cleared the line
        assert not errors, f"errors in the page: {errors}"
        browser.close()


def test_the_course_launcher_passes_the_flags_that_keep_the_status_busy() -> None:
    # jupyter_server's own untracked types, plus the kernel-subshell requests and comm messages that
    # JupyterLab >= 4.4 sends beside a running cell (each answered with its own busy and idle).
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    prefix = "--MappingKernelManager.untracked_message_types="
    command = course_env.lab_command(ROOT / ".venv", [])
    passed = [a.removeprefix(prefix) for a in command if a.startswith(prefix)]
    assert set(MappingKernelManager().untracked_message_types) <= set(passed)
    assert {"create_subshell_request", "create_subshell_reply", "comm_open", "comm_msg", "comm_close"} <= set(passed)
    assert len(passed) == len(set(passed)) and [prefix + t for t in passed] == KEEP_BUSY_FLAGS
