"""Each notebook states near its top how long it takes to read and run (issue 30).

Every notebook has exactly one line ``*About N minutes to read and run.*``, right after the title of its
first markdown cell, and N is the instructor guide's "read and run" minutes for that notebook made whole:
``round(words / 200 + run_all / 60, 1)`` rounded half up, with ``words`` counted by
scripts/notebook_stats.py (the line included) and ``run_all`` the README's measured Run All seconds. The
line is written by ``python scripts/notebook_times.py``; rerun it after editing a notebook's markdown or
the README's times.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LINE = re.compile(r"^\*About (\d+) minutes? to read and run\.\*\s*$")


def _notebook_stats():
    spec = importlib.util.spec_from_file_location("notebook_stats", ROOT / "scripts" / "notebook_stats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _readme_run_all() -> dict[str, float]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    paragraph = readme[readme.index("**The whole course**"):]
    paragraph = paragraph[:paragraph.index("\n\n")]
    return {n: float(s) for n, s in re.findall(r"\b(\d\d) (\d+(?:\.\d+)?) s\b", paragraph)}


def _guide_read_and_run() -> dict[str, float]:
    """The guide's times table: 'read and run (min)' by notebook number."""
    guide = (ROOT / "docs" / "INSTRUCTORS.md").read_text(encoding="utf-8")
    rows = re.findall(r"(?m)^\| (\d\d) [^|]+\|[^|]+\|[^|]+\|[^|]+\|([^|]+)\|[^|]+\|\s*$", guide)
    return {n: float(both) for n, both in rows}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_each_notebook_states_its_read_and_run_minutes_once_under_its_title(path: Path) -> None:
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "markdown"]
    lines = [line for c in cells for line in "".join(c["source"]).splitlines()]
    stated = [int(m.group(1)) for line in lines if (m := LINE.match(line))]
    assert len(stated) == 1, f"{path.name}: {len(stated)} time lines; run scripts/notebook_times.py"
    first = "".join(cells[0]["source"]).splitlines()
    assert first[0].startswith("# ") and not first[1].strip() and LINE.match(first[2]), (
        f"{path.name}: the time line is not right after the title of the first cell")

    number = path.name[:2]
    run_all = _readme_run_all()
    assert number in run_all, f"the README's 'The whole course' paragraph gives no Run All time for {number}"
    words = _notebook_stats().stats(str(path))["words"]
    both = round(words / 200 + run_all[number] / 60, 1)
    assert stated[0] == math.floor(both + 0.5), (
        f"{path.name} says about {stated[0]} minutes; {words} words and Run All {run_all[number]} s give {both}: "
        "run scripts/notebook_times.py")
    table = _guide_read_and_run()
    assert number in table, f"the guide's times table has no row for {number}"
    assert stated[0] == math.floor(table[number] + 0.5), f"{path.name}: the guide's table says {table[number]}"
