"""Each notebook states near its top how long it takes to read and run (issue 30).

    python scripts/notebook_times.py                 # write the line into every notebooks/NN_*.ipynb
    python scripts/notebook_times.py --check         # write nothing; exit 1 if a line is missing or wrong
    python scripts/notebook_times.py --notebooks-dir /tmp/nbcopy --readme /tmp/README.md

The line is ``*About N minutes to read and run.*``, the first markdown cell's second paragraph, right
after the title line (``# NN · ...``, a blank line, the time line, a blank line, the introduction).
Running the script again leaves a notebook whose line is right untouched; a wrong N is replaced.

N is the instructor guide's times table (``docs/INSTRUCTORS.md``) made whole: the table's "read and
run" is ``round(words / 200 + run_all / 60, 1)`` minutes, and N is that one-decimal value rounded half
up, so a table cell of 10.5 is stated as 11. ``words`` is the notebook's markdown as
``scripts/notebook_stats.py`` counts it **with the time line included**: the line is markdown that a
student reads, it is always seven words whatever N is (so N does not depend on itself), and the
guide's table, filled after this script, counts the same words. ``run_all`` is the notebook's *Run All*
time in seconds from the README's "**The whole course**" paragraph (``... 09 65.1 s, 10 36.6 s ...``).

The course's rule of at most 2,000 words (``notebook_stats.py --check``) holds after the script: a
notebook that the line would take over 2,000 words is left unchanged and reported with how many words
to cut; so is a notebook the README gives no time for. Either makes the exit status 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
WORDS_PER_MINUTE = 200
LINE = "*About {n} minutes to read and run.*"
LINE_RE = re.compile(r"^\*About (\d+) minutes? to read and run\.\*[ \t]*$", re.M)


def notebook_stats() -> ModuleType:
    """scripts/notebook_stats.py as a module (the course's word count and reading rules)."""
    spec = importlib.util.spec_from_file_location("notebook_stats", ROOT / "scripts" / "notebook_stats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_run_all(readme: Path) -> dict[str, float]:
    """Run All seconds by notebook number, from the README's '**The whole course**' paragraph."""
    text = readme.read_text(encoding="utf-8")
    paragraph = text[text.index("**The whole course**"):]
    paragraph = paragraph[:paragraph.index("\n\n")]
    return {n: float(s) for n, s in re.findall(r"\b(\d\d) (\d+(?:\.\d+)?) s\b", paragraph)}


def read_and_run(words: int, run_seconds: float) -> float:
    """The guide table's 'read and run (min)': reading at 200 words a minute plus Run All, to one decimal."""
    return round(words / WORDS_PER_MINUTE + run_seconds / 60, 1)


def stated_minutes(words: int, run_seconds: float) -> int:
    """The whole minutes a notebook states: the table's one-decimal value rounded half up (10.5 -> 11)."""
    return math.floor(read_and_run(words, run_seconds) + 0.5)


def _markdown(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def _without_line(text: str) -> str:
    """Markdown with every time line taken out, and the blank line after each."""
    kept, after_line = [], False
    for line in text.split("\n"):
        if LINE_RE.fullmatch(line):
            after_line = True
            continue
        if not (after_line and not line.strip()):
            kept.append(line)
        after_line = False
    return "\n".join(kept)


def with_line(nb: dict, minutes: int) -> dict:
    """A copy of the notebook with one time line, after the title of its first markdown cell."""
    nb = json.loads(json.dumps(nb))
    markdown = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    if not markdown or not "".join(markdown[0]["source"]).startswith("# "):
        raise ValueError("the first markdown cell does not open with a '# ' title")
    for cell in markdown[1:]:
        text = "".join(cell["source"])
        if LINE_RE.search(text):
            cell["source"] = _without_line(text).splitlines(keepends=True)
    title, _, rest = "".join(markdown[0]["source"]).partition("\n")
    rest = _without_line(rest).lstrip("\n")
    text = f"{title}\n\n{LINE.format(n=minutes)}" + (f"\n\n{rest}" if rest else "")
    markdown[0]["source"] = text.splitlines(keepends=True)
    return nb


def stated(nb: dict) -> list[int]:
    """Every N stated by a time line anywhere in the notebook's markdown."""
    return [int(n) for n in LINE_RE.findall(_markdown(nb))]


def dumps(nb: dict) -> str:
    """The notebook as nbformat writes it (one-space indent, sorted keys, UTF-8, final newline)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def plan(path: Path, run_all: dict[str, float], stats: ModuleType) -> tuple[str, dict | None, str]:
    """What to do with one notebook: (status, new notebook or None, message).

    status is 'ok' (already right), 'write', or 'problem' (no README time, or over the word limit).
    """
    number = path.name[:2]
    nb = json.loads(path.read_text(encoding="utf-8"))
    if number not in run_all:
        return "problem", None, f"{path.name}: the README's 'The whole course' paragraph gives no Run All time"
    # The line has seven words whatever N is, so count with a provisional N, then state the real one.
    words = stats.reading(_markdown(with_line(nb, 0)))["words"]
    minutes = stated_minutes(words, run_all[number])
    new = with_line(nb, minutes)
    message = f"{path.name}: {words:,} words, Run All {run_all[number]} s -> about {minutes} minutes"
    if dumps(new) == dumps(nb):
        return "ok", None, message + " (already stated)"
    if words > stats.MAX_WORDS:
        over = words - stats.MAX_WORDS
        return "problem", None, (f"{path.name}: with the time line it would have {words:,} words, {over} over "
                                 f"{stats.MAX_WORDS:,}: cut {over} words, then run this again")
    return "write", new, message


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, verify) the time line of every notebook; 1 if any notebook is left wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks-dir", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a line is missing or wrong")
    args = parser.parse_args(argv)
    stats = notebook_stats()
    run_all = readme_run_all(args.readme)
    paths = sorted(args.notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(f"no notebooks NN_*.ipynb in {args.notebooks_dir}")
        return 1
    failed = False
    for path in paths:
        status, new, message = plan(path, run_all, stats)
        if status == "write" and not args.check:
            path.write_text(dumps(new), encoding="utf-8")
            message += " (written)"
        elif status == "write":
            message += " (missing or wrong)"
        failed |= status == "problem" or (status == "write" and args.check)
        print(message)
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
