"""Build the course's static website into _build/html with Jupyter Book 2 (MyST), from the saved notebooks.

`./site.sh` (or `python site.py`) sets up .venv with the `site` extra and runs this file. Nothing is
executed: every page shows the outputs saved in the notebooks. Steps:

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
4. Move the result to `_build/html/`: open `_build/html/index.html` through any static web server.
"""

from __future__ import annotations

import argparse
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
        " Windows) to use them. Each notebook's exercises, with their hints, have a page of their own; the"
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
    # `python` in template.yml is this Python: the venv's, which has Pygments.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, "GAN_COURSE_SITE_NODE_MODULES": str(modules),
           # The renderer and the build print to the same terminal.
           "PYTHONUNBUFFERED": "1"}
    # Jupyter Book's Python wrapper offers to download Node.js when it finds none (checked above, since
    # nothing may be downloaded here); BASE_URL would make MyST prefix links that the theme writes relative.
    env.pop("BASE_URL", None)
    done = subprocess.run([*command, "build", "--html", "--ci"], cwd=STAGE, env=env,
                          stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT, text=True)
    built = STAGE / "_build" / "html"
    if done.returncode != 0 or not (built / "index.html").exists():
        tail = (done.stdout or "")[-3000:] if quiet else ""
        raise RuntimeError(f"jupyter-book build --html failed (exit status {done.returncode}){tail and ': ' + tail}")
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
