"""The course's website: built with Jupyter Book 2 (`scripts/build_site.py`), then opened in Chromium.

The build runs once for the module (into a temporary folder: `_build/html` is left as it was) and is
served by a local http.server in a thread. Chromium, driven by Playwright, opens every page and checks
that no error reaches the console, that no request leaves 127.0.0.1 (the site is self-contained), that
every image loads, that the maths is typeset by KaTeX with its stylesheet and fonts, and that the saved
widgets are drawn in their saved state. Every same-site link must name a built page (and an anchor on
it). Notebook 01's dashboard plays its recorded run (scripts/record_replay.py) with ganlib's own
live_plot.js: Play advances the frames and redraws the canvas, Pause stops them. The source pages are
checked too: the landing page is the README's overview, and the exercises pages give every hint and
no solution.

Needs Node.js with npm (Jupyter Book 2 runs on it), the site extra and Debian's Chromium; it skips
without them, except where GAN_COURSE_REQUIRE_BROWSER=1 (CI), where any of them missing is a failure.
Run it alone, not in xdist workers (`scripts/course_env.py` runs it in the browser step): the build and
the browser share the machine's two cores with nothing else then.
"""

from __future__ import annotations

import base64
import functools
import html.parser
import importlib.util
import inspect
import math
import os
import re
import shutil
import sys
import threading
import time
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ganlib.exercises import EXERCISES

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REQUIRED = os.environ.get("GAN_COURSE_REQUIRE_BROWSER") == "1"


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # Registered first: a dataclass looks its module up in sys.modules while the module runs.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


build_site = _load_script("build_site")
record_replay = _load_script("record_replay")
_render_spec = importlib.util.spec_from_file_location("site_render", ROOT / "site" / "theme" / "render.py")
render = importlib.util.module_from_spec(_render_spec)
_render_spec.loader.exec_module(render)  # type: ignore[union-attr]


def _missing(what: str) -> None:
    if REQUIRED:
        pytest.fail(f"{what} (GAN_COURSE_REQUIRE_BROWSER=1)")
    pytest.skip(what)


# ----------------------------------------------------------------------------------------------
# The generated sources (no build needed)
# ----------------------------------------------------------------------------------------------

def test_the_landing_page_is_the_readmes_overview_with_every_notebook_linked() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    overview = build_site.readme_overview(readme)
    assert overview.startswith("A hands-on course")
    assert "## Set-up" not in overview and "./lab.sh      #" not in overview
    names = [nb.stem for nb in build_site.notebooks()]
    assert len(names) >= 9
    landing = build_site.landing_page(readme, names)
    for name in names:
        if f"| `{name}` |" in readme:  # a notebook the README's table lists
            assert f"[`{name}`](notebooks/{name}.ipynb)" in landing, name
    assert "docs/INSTRUCTORS.md" in landing


def test_readme_overview_says_clearly_when_the_readme_changed_shape() -> None:
    with pytest.raises(ValueError, match="no '## ' heading"):
        build_site.readme_overview("# title\n\nA hands-on course\n")
    with pytest.raises(ValueError, match="A hands-on course"):
        build_site.readme_overview("# title\n\nsomething else\n\n## Set-up\n")


def _cell(outputs: list[dict]) -> dict:
    """A notebook cell as MyST's AST holds it: a block with its code and its outputs."""
    return {"type": "block", "kind": "notebook-code", "children": [
        {"type": "code", "value": "fig"},
        {"type": "outputs", "children": [{"type": "output", "jupyter_data": o} for o in outputs]}]}


def test_a_figures_alt_text_is_its_cells_caption_line(tmp_path: Path) -> None:
    png = {"output_type": "execute_result", "data": {"image/png": "iVBORw0KGgo="}}
    page = render.Page(render.Site("http://127.0.0.1:9", tmp_path), {}, "index")
    captioned = page.node(_cell([{"output_type": "stream", "name": "stdout",
                                  "text": "seeds 0-9: 7/10\nFigure: W1 of ten runs; median 0.08 sd.\n"}, png]))
    assert 'alt="W1 of ten runs; median 0.08 sd."' in captioned
    # A cell without a caption line says so in general words, and the next cell does not inherit a caption.
    assert f'alt="{render.DEFAULT_ALT}"' in page.node(_cell([png]))
    assert render.figure_caption(_cell([{"output_type": "stream", "text": ["Figure: a ", "b 1.\n"]}])) == "a b 1."


def test_a_panels_figure_takes_its_caption_line_as_alt_text(tmp_path: Path) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    state = {"img": {"model_name": "ImageModel", "state": {"format": "png"},
                     "buffers": [{"path": ["value"], "data": png, "encoding": "base64"}]},
             "box": {"model_name": "BoxModel", "state": {"children": ["IPY_MODEL_img"]}},
             "cap": {"model_name": "LabelModel", "state": {"value": "Figure: round 300: W1 0.05 sd."}},
             "panel": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_box", "IPY_MODEL_cap"]}},
             "bare": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_box"]}}}
    data = {"widgets": {render.WIDGET_STATE: {"state": state}}}
    page = render.Page(render.Site("http://127.0.0.1:9", tmp_path), data, "index")
    assert 'alt="round 300: W1 0.05 sd."' in page.widget("IPY_MODEL_panel")
    # Outside the panel's box the caption does not apply.
    assert 'alt="the figure this panel last drew"' in page.widget("IPY_MODEL_bare")
    # An invisible widget (ControlNames, in every panel) draws nothing; a visible anywidget says it is live.
    state["hidden"] = {"model_name": "LayoutModel", "state": {"display": "none"}}
    state["names"] = {"model_name": "AnyModel", "state": {"layout": "IPY_MODEL_hidden"}}
    state["live"] = {"model_name": "AnyModel", "state": {}}
    assert page.widget("IPY_MODEL_names") == "" and "w-live" in page.widget("IPY_MODEL_live")


def test_exercise_pages_give_every_hint_and_no_solution() -> None:
    pages = build_site.exercise_pages(EXERCISES)
    assert set(pages) == {name.split(".")[0] for name in EXERCISES}
    for name, exercise in EXERCISES.items():
        page = pages[name.split(".")[0]]
        assert f"`{name}`" in page and build_site.markdown_text(exercise.question) in page
        for hint in exercise.hints:
            assert build_site.markdown_text(hint) in page
        # What solution() prints: the explanation, and the reference's code or value.
        assert exercise.explanation not in page, f"{name}: the solution's explanation is on the hints page"
        reference = exercise.reference()
        if callable(reference):
            body = [line.strip() for line in inspect.getsource(reference).splitlines()[1:] if len(line.strip()) > 12]
            leaked = [line for line in body if line in page]
            assert not leaked, f"{name}: the reference code is on the hints page: {leaked}"


def test_the_table_of_contents_lists_every_page(tmp_path: Path) -> None:
    nbs = build_site.notebooks()
    text = build_site.myst_yml(nbs, ["01", "02"], tmp_path)
    for nb in nbs:
        assert f"- file: notebooks/{nb.name}" in text
    assert "- file: exercises/01.md" in text and "- file: docs/INSTRUCTORS.md" in text
    assert f"template: \"{tmp_path}\"" in text


def test_each_recorded_dashboard_is_built_by_its_notebook_with_the_recorded_call() -> None:
    assert record_replay.RECORDINGS
    for recording in record_replay.RECORDINGS:
        assert recording.source_has_call(), f"{recording.notebook} no longer calls {recording.call}"
        assert (ROOT / "notebooks" / f"{recording.notebook}.ipynb").exists()
    assert build_site.notebook_page("01_vanilla_gan") == "notebooks.vanilla-gan.html"


def test_a_recording_holds_the_messages_the_kernel_sends_the_live_plot() -> None:
    data, blob = record_replay.record(record_replay.RECORDINGS[0], frames=2)
    messages = data["messages"]
    # The full snapshot a new page gets, then one frame per Step, numbered as LivePlot numbers them.
    assert [m["content"]["type"] for m in messages] == ["frame"] * 3
    seqs = [m["content"]["seq"] for m in messages]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert [m["content"]["round"] for m in messages] == [0, 20, 40] and data["rounds"] == 40
    assert {p["mode"] for p in messages[0]["content"]["parts"] if p["id"] == "d_loss"} == {"reset"}
    assert {p["mode"] for p in messages[1]["content"]["parts"] if p["id"] == "d_loss"} == {"append"}
    assert set(data["spec"]["series"]) >= {"hist", "d", "d_loss", "w1"}
    # Every array is a float32 buffer of its shape, and the buffers tile the binary file in order.
    offset = 0
    for m in messages:
        for part in m["content"]["parts"]:
            for array in part["arrays"]:
                start, length = m["buffers"][array["buffer"]]
                assert start == offset and length == 4 * math.prod(array["shape"]), part["id"]
                offset += length
    assert offset == len(blob)
    block = build_site.replay_block(data, "01_vanilla_gan")
    assert "Recording of a run (no kernel):" in block and 'data-recording="build/replay/01_vanilla_gan"' in block


def test_a_recording_is_made_again_only_when_what_it_depends_on_changed(tmp_path: Path) -> None:
    (tmp_path / "01_vanilla_gan.bin").write_bytes(b"")
    (tmp_path / "inputs.sha256").write_text(build_site.recording_inputs(), encoding="utf-8")
    kept = build_site.Recorder(tmp_path)
    assert kept.process is None and "up to date" in kept.finish()
    (tmp_path / "inputs.sha256").write_text("made from other code", encoding="utf-8")
    again = build_site.Recorder(tmp_path)
    try:
        assert again.process is not None and not (tmp_path / "01_vanilla_gan.bin").exists()
    finally:
        again.stop()


# ----------------------------------------------------------------------------------------------
# The built site, in Chromium
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        _missing("Node.js and npm not found (apt-get install nodejs npm)")
    if importlib.util.find_spec("jupyter_book") is None:
        _missing("jupyter-book not installed (pip install -e '.[site]')")
    out = tmp_path_factory.mktemp("site") / "html"
    seconds = build_site.build(out=out, quiet=True)
    print(f"site built in {seconds:.1f} s")
    return out


@pytest.fixture(scope="module")
def server(site: Path):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test reports what matters itself
        pass


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if name and os.path.exists(name):
            break
    else:
        _missing("Chromium not installed (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        _missing("playwright not installed (the dev extra)")
    return name


class _Links(html.parser.HTMLParser):
    """The hrefs, srcs and ids of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.hrefs.append(attrs[key])


# True once every replay on the page has loaded its recording (or failed to, which the console reports).
_REPLAYS_SETTLED = ("() => [...document.querySelectorAll('.ganlib-replay')]"
                    ".every(b => b.dataset.state && b.dataset.state !== 'loading')")


def _exercised_notebooks() -> set[str]:
    """The numbers of the notebooks that exist and have exercises (one being written may have neither yet)."""
    return {n.split(".")[0] for n in EXERCISES} & {nb.name[:2] for nb in build_site.notebooks()}


def _plain(text: str) -> str:
    """Text with typographic quotes made plain and runs of white space made one space."""
    for fancy, plain in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"')):
        text = text.replace(fancy, plain)
    return " ".join(text.split())


def _parse(path: Path) -> _Links:
    links = _Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def test_the_site_has_a_page_for_every_notebook_exercise_set_and_the_guide(site: Path) -> None:
    pages = sorted(p.name for p in site.glob("*.html"))
    assert "index.html" in pages and "docs.instructors.html" in pages
    assert len([p for p in pages if p.startswith("notebooks.")]) == len(build_site.notebooks())
    assert {p.split(".")[1] for p in pages if p.startswith("exercises.")} == _exercised_notebooks()
    index = (site / "index.html").read_text(encoding="utf-8")
    # Every page is in the navigation of the landing page.
    for page in pages:
        assert f'href="{page}"' in index, page


def test_every_same_site_link_names_a_built_file_and_anchor(site: Path) -> None:
    pages = {p.name: _parse(p) for p in site.glob("*.html")}
    checked = 0
    for name, links in pages.items():
        for href in links.hrefs:
            parts = urllib.parse.urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("data:", "mailto:")):
                continue
            target = name if not parts.path else urllib.parse.unquote(parts.path)
            assert (site / target).is_file(), f"{name}: {href} names no built file"
            if parts.fragment and target.endswith(".html"):
                assert parts.fragment in pages[target].ids, f"{name}: {href}: no id {parts.fragment!r} on {target}"
            checked += 1
    assert checked > 100


def test_every_page_loads_in_chromium_without_errors_with_its_figures_and_maths(
        site: Path, server: str, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    pages = sorted(p.name for p in site.glob("*.html"))
    problems: list[str] = []
    images = katex_pages = 0
    start = time.perf_counter()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        current = {"name": ""}
        page.on("console", lambda m: m.type == "error" and problems.append(f"{current['name']}: console: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"{current['name']}: page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"{current['name']}: request failed: {r.url}"))
        page.on("request", lambda r: r.url.startswith(("data:", server)) or problems.append(
            f"{current['name']}: a request left the site: {r.url}"))
        for name in pages:
            current["name"] = name
            response = page.goto(f"{server}/{name}", wait_until="load")
            assert response is not None and response.ok, name
            # A replay fetches its recording after the load event: let it finish before the next page.
            page.wait_for_function(_REPLAYS_SETTLED, timeout=20_000)
            # Load every image now, lazy ones too, and list those that did not decode.
            broken = page.evaluate("""async () => {
                const imgs = [...document.images];
                imgs.forEach(i => { i.loading = 'eager'; });
                await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
                return [imgs.length, imgs.filter(i => !(i.naturalWidth > 0)).map(i => i.getAttribute('src'))];
            }""")
            images += broken[0]
            problems += [f"{name}: image did not load: {src}" for src in broken[1]]
            maths = page.evaluate("""async () => {
                await document.fonts.ready;
                const k = document.querySelector('.katex');
                const mathml = document.querySelector('.katex-mathml');
                return {katex: document.querySelectorAll('.katex').length,
                        errors: document.querySelectorAll('.katex-error, code.math-source').length,
                        // KaTeX's stylesheet hides the MathML copy off screen and sets its own font.
                        hidden: mathml ? getComputedStyle(mathml).position === 'absolute' : null,
                        font: k ? getComputedStyle(k).fontFamily : '',
                        fontLoaded: k ? document.fonts.check('16px KaTeX_Main') : null};
            }""")
            if maths["katex"]:
                katex_pages += 1
                assert maths["hidden"] and "KaTeX_Main" in maths["font"] and maths["fontLoaded"], (name, maths)
            assert maths["errors"] == 0, f"{name}: {maths['errors']} formulas not typeset"
            if name.startswith("notebooks."):
                # Widgets are drawn, not shown as their Python repr.
                text = "\n".join(page.locator(".cell .outputs").all_inner_texts())
                assert "IntSlider(" not in text and "FloatLogSlider(" not in text and "VBox(" not in text, name
                # Every figure, and every panel's last figure, is named by its caption line's numbers.
                alts = page.eval_on_selector_all("img.output, img.w-image", "els => els.map(e => e.alt)")
                problems += [f"{name}: a figure without its text alternative: alt={a!r}" for a in alts
                             if a == render.DEFAULT_ALT or not re.search(r"\d", a)]
        # Every hint reads on its page as the notebook prints it (MyST's typographic quotes aside).
        for number in sorted(_exercised_notebooks()):
            page.goto(f"{server}/exercises.{number}.html", wait_until="load")
            text = _plain(page.locator("main").inner_text())
            for name, exercise in EXERCISES.items():
                if name.startswith(number + "."):
                    for hint in (exercise.question, *exercise.hints):
                        assert _plain(hint) in text, f"exercises.{number}.html: {hint!r} not shown as written"
        vanilla = "notebooks.vanilla-gan.html"
        page.goto(f"{server}/{vanilla}", wait_until="load")
        assert page.locator(".katex").count() > 50
        # The panel's controls at their saved values, and the figure it last drew.
        assert page.locator(".widget-static input[type=range]").count() >= 3
        assert page.locator(".widget-static img.w-image").count() >= 1
        browser.close()
    print(f"{len(pages)} pages, {images} images, maths on {katex_pages} pages, in {time.perf_counter() - start:.1f} s")
    assert not problems, "\n".join(problems[:40])
    assert images >= 40 and katex_pages >= 9


def test_the_dashboard_replay_plays_and_pauses_in_chromium(site: Path, server: str, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    page_name = build_site.notebook_page(record_replay.RECORDINGS[0].notebook)
    # The drawing code is ganlib's own file, not a copy that could drift from it.
    assert (site / "build" / "replay" / "live_plot.js").read_bytes() == (
        ROOT / "ganlib" / "widgets" / "live_plot.js").read_bytes()
    problems: list[str] = []
    start = time.perf_counter()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.goto(f"{server}/{page_name}", wait_until="load")
        page.wait_for_function(_REPLAYS_SETTLED, timeout=20_000)
        block = page.locator(".ganlib-replay")
        assert block.count() == 1 and block.get_attribute("data-state") == "ready", problems
        # In the dashboard's place: after its (disabled) saved controls, inside the saved widget.
        assert page.locator(".widget-static .ganlib-replay").count() == 1
        assert page.locator(".widget-static .w-live").count() == 0
        assert block.locator(".replay-label").inner_text().startswith("Recording of a run (no kernel):")
        frames = int(block.get_attribute("data-frames"))
        assert frames == record_replay.RECORDINGS[0].frames + 1
        assert block.get_attribute("data-frame") == "1"
        assert block.locator(".replay-counter").inner_text().startswith(f"frame 1 of {frames} · round 0")
        block.scroll_into_view_if_needed()

        def drawn() -> dict:
            # live_plot.js's counters (frames drawn) and the canvas's pixels.
            return block.evaluate("""b => { const el = b.querySelector('.replay-plot');
                return {draws: el.ganlibCounters.frames, png: el.querySelector('canvas').toDataURL()}; }""")

        handle = block.element_handle()
        page.wait_for_function("b => b.querySelector('.replay-plot').ganlibCounters.frames > 0", arg=handle)
        first = drawn()
        button = block.locator(".replay-play")
        assert button.inner_text() == "Play"
        button.click()
        assert block.get_attribute("data-state") == "playing" and button.inner_text() == "Pause"
        page.wait_for_function("b => Number(b.dataset.frame) >= 6", arg=handle, timeout=15_000)
        button.click()
        assert block.get_attribute("data-state") == "paused" and button.inner_text() == "Play"
        stopped = int(block.get_attribute("data-frame"))
        page.wait_for_timeout(200)  # the next animation frame draws the last frame that arrived
        playing = drawn()
        assert stopped >= 6 and playing["draws"] > first["draws"] and playing["png"] != first["png"]
        counter = block.locator(".replay-counter").inner_text()
        assert counter == f"frame {stopped} of {frames} · round {20 * (stopped - 1):,}", counter
        # Paused: no more frames, and the canvas stays as it is.
        page.wait_for_timeout(800)
        assert int(block.get_attribute("data-frame")) == stopped and drawn()["png"] == playing["png"]
        # The slider goes to any frame; Play at the last starts again from the first.
        block.locator(".replay-seek").fill(str(frames - 1))
        assert int(block.get_attribute("data-frame")) == frames
        button.click()
        page.wait_for_function("b => Number(b.dataset.frame) < 5", arg=handle, timeout=5_000)
        button.click()
        browser.close()
    print(f"replay: played to frame {stopped} of {frames} and paused, in {time.perf_counter() - start:.1f} s")
    assert not problems, "\n".join(problems)
