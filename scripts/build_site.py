"""Build the course's static website into _build/html with Jupyter Book 2 (MyST), from the saved notebooks.

`./site.sh` (or `python site.py`) sets up .venv with the `site` extra and runs this file. No notebook
is executed: every page shows the outputs saved in the notebooks; the one thing trained is the short
run that notebook 01's dashboard replays (step 3). Steps:

1. Lay out the site's sources in `_build/src/`, mirroring the repository: the landing page `index.md`,
   generated from the README's overview (the part between the two commands and `## Set-up`, so it
   cannot drift from the README), every notebook under `notebooks/`, a page of exercises with their
   hints (never the solutions) per notebook under `exercises/`, generated from `ganlib.exercises`, and
   the instructor guide `docs/INSTRUCTORS.md`; then `myst.yml` with the table of contents.
2. Install the pinned KaTeX stylesheet and fonts from the npm registry (`site/theme/package-lock.json`)
   into `_build/npm/`, once.
3. Run `jupyter-book build --html` there. Jupyter Book parses every page to MyST's AST (maths already
   typeset by KaTeX); the course's own theme, `site/theme/` (a MyST site template whose `render`
   command is `site/theme/render.py`), turns that AST into static HTML. The stock book theme is not
   used because MyST downloads it from GitHub at build time, which this course's machines (and many
   classrooms' firewalls) cannot reach; nothing here touches the network but npm's registry, once.
   Meanwhile, in a process of its own, `scripts/record_replay.py` records a run of notebook 01's
   live dashboard with the course's Trainer (about 6 s of one core, into `_build/replay/`; kept
   for the next build while ganlib, the notebooks and the recorder are unchanged).
4. Put the replay on the dashboard's page (`add_replays`): the recording, ganlib's own
   `live_plot.js` (the dashboard's drawing code, unchanged) and `site/replay/replay.js`, which feeds it
   the recorded frames with a play/pause button, go under `build/replay/`, and a block labelled as a
   recording takes the place of the dashboard's canvas in its saved state.
5. Move the result to `_build/html/`: open `_build/html/index.html` through any static web server
   (not as a file: the replay's module script and its recording are fetched over HTTP).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
STAGE = BUILD / "src"
HTML = BUILD / "html"
NPM = BUILD / "npm"
THEME = ROOT / "site" / "theme"
REPLAY = ROOT / "site" / "replay"
RECORDED = BUILD / "replay"
WIDGETS = ROOT / "ganlib" / "widgets"


def notebooks(root: Path = ROOT) -> list[Path]:
    """The course's notebooks, in reading order (their names start with their number)."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def notebook_title(path: Path) -> str:
    """The notebook's first markdown heading ('01 · The vanilla GAN'), or its file name."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def readme_overview(readme: str) -> str:
    """The README's overview: from the paragraph after the opening commands' block up to `## Set-up`.

    The README opens with its title, a code block of the two commands and a paragraph on how to run
    them; the overview is everything after that paragraph that precedes the first `##` heading.
    """
    lines = readme.splitlines()
    try:
        end = next(i for i, line in enumerate(lines) if line.startswith("## "))
    except StopIteration as exc:
        raise ValueError("README.md has no '## ' heading: cannot find where its overview ends") from exc
    start = next((i for i, line in enumerate(lines[:end]) if line.startswith("A hands-on course")), None)
    if start is None:
        raise ValueError("README.md has no paragraph starting 'A hands-on course': cannot find its overview")
    return "\n".join(lines[start:end]).strip() + "\n"


def link_notebook_names(markdown: str, names: list[str]) -> str:
    """`01_vanilla_gan` in backticks at the start of a table row becomes a link to that notebook."""
    for name in names:
        markdown = markdown.replace(f"| `{name}` |", f"| [`{name}`](notebooks/{name}.ipynb) |")
    return markdown


def landing_page(readme: str, names: list[str]) -> str:
    """index.md: the README's overview, with the notebooks linked, and where the rest of the site is."""
    overview = link_notebook_names(readme_overview(readme), names)
    return "\n".join([
        "---", "title: gan-course", "---", "",
        overview,
        "## This website", "",
        "Every notebook is shown here as it was saved: its maths, code, outputs and figures. Sliders and the"
        " live dashboard need a running kernel: open the notebooks in JupyterLab (`./lab.sh`, or `py lab.py` on"
        " Windows) to use them. Here the sliders show their saved values, and notebook 01's dashboard plays a"
        " recording of a run. Each notebook's exercises, with their hints, have a page of their own; the"
        " [instructor guide](docs/INSTRUCTORS.md) has learning goals, timings and session plans.", "",
    ])


def markdown_text(text: str) -> str:
    """Plain text as Markdown that shows it verbatim: D*(x), p_R and [a, b] stay as written."""
    return re.sub(r"([\\`*_\[\]<>$#|~])", r"\\\1", text)


def exercise_pages(registry: dict) -> dict[str, str]:
    """Markdown of one exercises page per notebook number ('01' -> text): questions and hints, no solutions."""
    by_notebook: dict[str, list] = {}
    for name, exercise in registry.items():
        by_notebook.setdefault(name.split(".", 1)[0], []).append(exercise)
    pages = {}
    for number, exercises in sorted(by_notebook.items()):
        out = ["---", f"title: Exercises of notebook {number}", "---", "",
               f"The exercises of notebook {number}, with their hints, gentlest first. Each is checked in the"
               " notebook by `correct = EXERCISES[NAME].check(answer)`; in the notebook,"
               " `EXERCISES[NAME].hint()` prints the next hint and `EXERCISES[NAME].solution()` a reference"
               " answer with why it is right. The solutions are not on this page on purpose: try first.", ""]
        for exercise in exercises:
            kind = "write a function" if exercise.kind == "code" else "predict, then run"
            out += [f"## `{exercise.name}` ({kind})", "", markdown_text(exercise.question), ""]
            for level, hint in enumerate(exercise.hints, start=1):
                out += [f"{level}. Hint {level} of {len(exercise.hints)}: {markdown_text(hint)}"]
            out += [""]
        pages[number] = "\n".join(out)
    return pages


def myst_yml(nbs: list[Path], exercise_numbers: list[str], theme: Path) -> str:
    """The MyST project file: the table of contents and the course's own theme."""
    lines = ["version: 1", "project:", "  title: gan-course", "  numbering: false", "  toc:",
             "    - file: index.md", "    - title: Notebooks", "      children:"]
    lines += [f"        - file: notebooks/{nb.name}" for nb in nbs]
    if exercise_numbers:
        lines += ["    - title: Exercises and hints", "      children:"]
        lines += [f"        - file: exercises/{n}.md" for n in exercise_numbers]
    lines += ["    - file: docs/INSTRUCTORS.md", "site:", f"  template: {json.dumps(str(theme))}",
              "  options:", "    folders: true", ""]
    return "\n".join(lines)


def stage(stage_dir: Path = STAGE) -> list[Path]:
    """Write the site's sources into `stage_dir` (emptied first); returns the notebooks staged."""
    from ganlib.exercises import EXERCISES

    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    (stage_dir / "notebooks").mkdir(parents=True)
    (stage_dir / "docs").mkdir()
    (stage_dir / "exercises").mkdir()
    nbs = notebooks()
    for nb in nbs:
        shutil.copy2(nb, stage_dir / "notebooks" / nb.name)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (stage_dir / "index.md").write_text(landing_page(readme, [nb.stem for nb in nbs]), encoding="utf-8")
    # The README's images, by the same relative paths.
    for image in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", readme_overview(readme)):
        (stage_dir / image).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / image, stage_dir / image)
    guide = ROOT / "docs" / "INSTRUCTORS.md"
    shutil.copy2(guide, stage_dir / "docs" / guide.name)
    staged_numbers = {nb.name[:2] for nb in nbs}
    pages = {n: text for n, text in exercise_pages(EXERCISES).items() if n in staged_numbers}
    for number, text in pages.items():
        (stage_dir / "exercises" / f"{number}.md").write_text(text, encoding="utf-8")
    (stage_dir / "myst.yml").write_text(myst_yml(nbs, sorted(pages), THEME), encoding="utf-8")
    return nbs


def npm_assets(npm_dir: Path = NPM) -> Path:
    """Install the theme's pinned npm packages (KaTeX's stylesheet and fonts) once; returns node_modules."""
    lock = THEME / "package-lock.json"
    modules = npm_dir / "node_modules"
    stamp = npm_dir / "installed-lock.json"
    if stamp.exists() and stamp.read_bytes() == lock.read_bytes() and modules.exists():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found: the site needs Node.js 18 or newer with npm "
                           "(Debian: apt install nodejs npm)")
    npm_dir.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(THEME / name, npm_dir / name)
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                          cwd=npm_dir)
    if done.returncode != 0:
        raise RuntimeError(f"npm ci failed in {npm_dir} (exit status {done.returncode})")
    shutil.copy2(lock, stamp)
    return modules


def notebook_page(stem: str) -> str:
    """The built page of a notebook: '01_vanilla_gan' -> 'notebooks.vanilla-gan.html' (MyST's slug)."""
    return "notebooks." + re.sub(r"^\d+[_-]", "", stem).replace("_", "-").lower() + ".html"


def recording_inputs() -> str:
    """A digest of everything a recording depends on: the recorder, ganlib's code, the notebooks, the
    seed and the versions of PyTorch and NumPy. Equal digests give the same recording."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    files = [ROOT / "scripts" / "record_replay.py", *sorted((ROOT / "ganlib").rglob("*.py")),
             *sorted((ROOT / "ganlib").rglob("*.js")), *notebooks()]
    for path in files:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    for name in ("torch", "numpy"):
        digest.update(f"{name}=={version(name)}".encode())
    digest.update(("GAN_COURSE_SEED=" + os.environ.get("GAN_COURSE_SEED", "").strip()).encode())
    return digest.hexdigest()


class Recorder:
    """`scripts/record_replay.py` (the dashboards' runs, into `folder`), run in a process of its own.

    It trains while Jupyter Book builds: one thread each, so the two share the machine's cores. It is
    not run when `folder` holds a recording made from the same inputs (`recording_inputs`): a rebuild
    after editing only the README or the guide need not train again, one after any change to the code
    or the notebooks does, so the replay cannot go stale.
    """

    def __init__(self, folder: Path = RECORDED) -> None:
        self.folder = folder
        # Taken before the run: a file edited while it trains makes the next build record again.
        self.inputs = recording_inputs()
        stamp = folder / "inputs.sha256"
        self.process: subprocess.Popen | None = None
        if stamp.exists() and stamp.read_text(encoding="utf-8") == self.inputs and any(folder.glob("*.bin")):
            return
        if folder.exists():
            shutil.rmtree(folder)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "record_replay.py"), str(folder)],
                                        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def finish(self) -> str:
        """Wait for the recording; its output (one line per recording), or RuntimeError with it if it failed."""
        if self.process is None:
            return f"record_replay: the recording in {self.folder} is up to date\n"
        output, _ = self.process.communicate()
        if self.process.returncode != 0:
            raise RuntimeError(f"recording the dashboard's replay failed (exit status {self.process.returncode}): "
                               f"{output[-3000:]}")
        # Written only now, with the recording complete: an interrupted one is made again next time.
        (self.folder / "inputs.sha256").write_text(self.inputs, encoding="utf-8")
        return output

    def stop(self) -> None:
        """Stop the recording (the build failed: it would not be used)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def replay_block(recording: dict, name: str) -> str:
    """The replay's HTML: its label, a play/pause button, a slider over the frames, a counter and the plot.

    `site/replay/replay.js` fills the plot and wires the controls; until it has loaded the recording
    they are disabled and the counter says so.
    """
    frames = len(recording["messages"])
    label = (f"<strong>Recording of a run (no kernel):</strong> this dashboard, "
             f"<code>{html.escape(recording['call'])}</code>, trained for {recording['rounds']:,} rounds by the"
             f" course's Trainer when this site was built, {frames} frames as the kernel sent them, drawn by the"
             " dashboard's own code. Its controls above do nothing here: open the notebook in JupyterLab to train"
             " it live.")
    return (f'<div class="ganlib-replay" data-recording="build/replay/{html.escape(name)}">'
            f'<p class="replay-label">{label}</p>'
            '<div class="replay-controls"><button type="button" class="replay-play" disabled>Play</button>'
            f'<input type="range" class="replay-seek" min="0" max="{frames - 1}" value="0" disabled'
            ' aria-label="frame of the recording">'
            '<span class="replay-counter">the recording plays once loaded (serve the site over HTTP, do not open it'
            ' as a file)</span></div>'
            '<div class="replay-plot"></div></div>')


def add_replays(site: Path, recorded: Path = RECORDED) -> list[str]:
    """Put each recorded dashboard run on its notebook's page, in place of the dashboard's canvas.

    The saved dashboard is drawn as its controls (disabled) and a note where the canvas goes
    (`<div class="w-live">`, from site/theme/render.py); the note after the dashboard's Play button
    becomes the replay block. live_plot.js and its stylesheet are copied from ganlib as they are, so
    the page draws with the very code the notebook's widget runs. Returns the pages changed.
    """
    assets = site / "build" / "replay"
    assets.mkdir(parents=True, exist_ok=True)
    for source in (WIDGETS / "live_plot.js", WIDGETS / "live_plot.css", REPLAY / "replay.js", REPLAY / "replay.css"):
        shutil.copy2(source, assets / source.name)
    head = ('<link rel="stylesheet" href="build/replay/live_plot.css">'
            '<link rel="stylesheet" href="build/replay/replay.css">'
            '<script type="module" src="build/replay/replay.js"></script></head>')
    changed = []
    for meta in sorted(recorded.glob("*.json")):
        recording = json.loads(meta.read_text(encoding="utf-8"))
        shutil.copy2(meta, assets / meta.name)
        shutil.copy2(meta.with_suffix(".bin"), assets / meta.with_suffix(".bin").name)
        page = site / notebook_page(recording["notebook"])
        if not page.exists():
            raise RuntimeError(f"the replay of {recording['notebook']} has no page to go on ({page.name} not built)")
        text = page.read_text(encoding="utf-8")
        play = text.find('<button type="button" disabled>Play</button>')
        start = text.find('<div class="w-live">', play) if play >= 0 else -1
        if start < 0:
            raise RuntimeError(f"{page.name}: no saved dashboard (a Play button, then its canvas's note) "
                               "to put the replay in")
        end = text.index("</div>", start) + len("</div>")
        text = text[:start] + replay_block(recording, meta.stem) + text[end:]
        page.write_text(text.replace("</head>", head, 1), encoding="utf-8")
        changed.append(page.name)
    return changed


def jupyter_book() -> list[str]:
    """The command that runs Jupyter Book 2 with this Python."""
    try:
        from importlib.metadata import version

        found = version("jupyter-book")
    except Exception as exc:  # PackageNotFoundError, or broken metadata
        raise RuntimeError("jupyter-book is not installed: run ./site.sh (or python site.py), which installs "
                           "the site extra, or pip install -e '.[site]'") from exc
    if not found.startswith("2."):
        raise RuntimeError(f"jupyter-book {found} is installed; the site needs Jupyter Book 2 "
                           "(pip install -e '.[site]')")
    return [sys.executable, "-m", "jupyter_book"]


def build(out: Path = HTML, quiet: bool = False) -> float:
    """Stage, build and move the site to `out`; returns the seconds it took."""
    start = time.perf_counter()
    command = jupyter_book()
    if shutil.which("node") is None:
        raise RuntimeError("node not found: Jupyter Book 2 needs Node.js 18 or newer (Debian: apt install nodejs npm)")
    stage()
    modules = npm_assets()
    recorder = Recorder()
    # `python` in template.yml is this Python: the venv's, which has Pygments.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, "GAN_COURSE_SITE_NODE_MODULES": str(modules),
           # The renderer and the build print to the same terminal.
           "PYTHONUNBUFFERED": "1"}
    # Jupyter Book's Python wrapper offers to download Node.js when it finds none (checked above, since
    # nothing may be downloaded here); BASE_URL would make MyST prefix links that the theme writes relative.
    env.pop("BASE_URL", None)
    try:
        done = subprocess.run([*command, "build", "--html", "--ci"], cwd=STAGE, env=env,
                              stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT, text=True)
    except BaseException:
        recorder.stop()
        raise
    built = STAGE / "_build" / "html"
    if done.returncode != 0 or not (built / "index.html").exists():
        recorder.stop()
        tail = (done.stdout or "")[-3000:] if quiet else ""
        raise RuntimeError(f"jupyter-book build --html failed (exit status {done.returncode}){tail and ': ' + tail}")
    recorded = recorder.finish()
    if not quiet:
        print(recorded, end="")
    add_replays(built)
    if out.exists():
        shutil.rmtree(out)
    shutil.move(str(built), str(out))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print only the last line (or the error)")
    args = parser.parse_args(argv)
    try:
        seconds = build(quiet=args.quiet)
    except RuntimeError as exc:
        print(f"site: {exc}", file=sys.stderr)
        return 1
    print(f"site: built {HTML.relative_to(ROOT)} in {seconds:.1f} s; serve it with "
          f"python -m http.server --directory {HTML.relative_to(ROOT)} and open http://127.0.0.1:8000/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
