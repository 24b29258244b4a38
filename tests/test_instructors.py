"""The instructor guide (docs/INSTRUCTORS.md) stays true to the notebooks and the README.

Its times table must give each notebook's word count as scripts/notebook_stats.py counts it, the
reading time at the stated 200 words a minute, and the README's measured Run All time; every notebook
has a section; every exercise is named in its notebook's section; and every section a misconception
points to is a heading of that notebook. A notebook edited without its guide entry fails here.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from ganlib.exercises import EXERCISES

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "INSTRUCTORS.md").read_text(encoding="utf-8")
WORDS_PER_MINUTE = 200


def _notebook_stats():
    spec = importlib.util.spec_from_file_location("notebook_stats", ROOT / "scripts" / "notebook_stats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _notebooks() -> dict[str, Path]:
    return {p.name[:2]: p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}


def _readme_run_all() -> dict[str, float]:
    """'00 3.9 s, 01 43.6 s, ...' of the README's paragraph on the whole course's run time."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    paragraph = readme[readme.index("**The whole course**"):]
    paragraph = paragraph[:paragraph.index("\n\n")]
    return {n: float(s) for n, s in re.findall(r"\b(\d\d) (\d+(?:\.\d+)?) s\b", paragraph)}


def _table() -> dict[str, list[str]]:
    """The times table's rows, by notebook number: [name, words, reading, run all, read and run, exercises]."""
    rows = {}
    for line in GUIDE.splitlines():
        m = re.match(r"^\| (\d\d) ([^|]+)\|(.+)\|\s*$", line)
        if m:
            rows[m.group(1)] = [m.group(2).strip()] + [c.strip() for c in m.group(3).split("|")]
    return rows


def _section(number: str) -> str:
    """The guide's `## NN · ...` section."""
    m = re.search(rf"(?ms)^## {number} · .*?(?=^## |\Z)", GUIDE)
    assert m, f"the guide has no section '## {number} · ...'"
    return m.group(0)


def _headings(path: Path) -> set[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    md = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return {_plain(line.lstrip("#").strip()) for line in md.splitlines() if re.match(r"^#{2,4} ", line)}


def _plain(title: str) -> str:
    """A title without maths markup, so that '$D^*$' and 'D*' compare equal."""
    return " ".join(re.sub(r"[$\\^{}*]", "", title).split())


def test_every_notebook_has_a_section() -> None:
    for number in _notebooks():
        _section(number)


def test_the_times_table_matches_the_notebooks_and_the_readme() -> None:
    stats = _notebook_stats()
    run_all = _readme_run_all()
    rows = _table()
    assert set(rows) >= {n for n in _notebooks() if n in run_all}, "a notebook the README times is not in the table"
    total_words = total_run = 0.0
    for number, row in rows.items():
        _name, words, reading, run, both, exercises = row
        words_now = stats.stats(str(_notebooks()[number]))["words"]
        assert int(words.replace(",", "")) == words_now, f"{number}: the guide says {words} words, not {words_now}"
        assert float(reading) == round(words_now / WORDS_PER_MINUTE, 1), number
        assert float(run) == run_all[number], f"{number}: the README's Run All time is {run_all[number]} s"
        assert float(both) == round(words_now / WORDS_PER_MINUTE + run_all[number] / 60, 1), number
        assert int(exercises) == sum(1 for name in EXERCISES if name.startswith(number + ".")), number
        total_words += words_now
        total_run += run_all[number]
    totals = next(line for line in GUIDE.splitlines() if line.startswith("| all "))
    cells = [c.strip() for c in totals.strip("|").split("|")]
    assert int(cells[1].replace(",", "")) == total_words
    assert float(cells[2]) == round(total_words / WORDS_PER_MINUTE, 1)
    assert float(cells[3]) == round(total_run, 1)
    assert float(cells[4]) == round(total_words / WORDS_PER_MINUTE + total_run / 60, 1)


@pytest.mark.parametrize("number", sorted(_notebooks()))
def test_each_section_names_its_exercises_and_points_misconceptions_at_real_sections(number: str) -> None:
    section = _section(number)
    if "being written" in section.splitlines()[0]:
        pytest.skip(f"notebook {number}'s guide entry is being written")
    for name in EXERCISES:
        if name.startswith(number + "."):
            assert f"`{name}`" in section, f"exercise {name} is not in the guide's section {number}"
    block = section.split("**Misconceptions and where they are answered.**", 1)
    assert len(block) == 2, f"section {number} has no misconceptions"
    bullets = re.findall(r'(?m)^- ".+?": (.+?)(?=^- |^\*\*|\Z)', block[1], flags=re.S)
    assert len(bullets) >= 2, f"section {number}: fewer than two misconceptions"
    headings = _headings(_notebooks()[number])
    for answer in bullets:
        for title in re.findall(r"\*([^*$]+(?:\$[^$]*\$[^*$]*)*)\*", answer):
            assert _plain(title) in headings, f"section {number} points to *{title}*, not a heading of the notebook"
