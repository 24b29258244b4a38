"""The instructor guide (docs/INSTRUCTORS.md) stays true to the notebooks and the README.

Its times table must give each notebook's word count as scripts/notebook_stats.py counts it, the
reading time at the stated 200 words a minute, and the README's measured Run All time; each section's
opening line ("read and run about N minutes (W words; Run All T s)") and the totals quoted in the text
must agree with it; every notebook has a section; every exercise is named in its notebook's section;
every section a misconception points to is a heading of that notebook; and the session plans' sums are
the table's read-and-run minutes plus 5 minutes an exercise plus the discussion, at most 90 minutes.
A notebook edited without its guide entry fails here.
"""

from __future__ import annotations

import importlib.util
import json
import math
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


def _stated(words: int, run_all: float) -> int:
    """Whole minutes to read and run: the table's one-decimal value rounded half up (10.5 -> 11)."""
    return math.floor(round(words / WORDS_PER_MINUTE + run_all / 60, 1) + 0.5)


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


@pytest.mark.parametrize("number", sorted(_notebooks()))
def test_each_section_opens_with_the_tables_numbers(number: str) -> None:
    words = _notebook_stats().stats(str(_notebooks()[number]))["words"]
    run_all = _readme_run_all()
    assert number in run_all, f"the README's 'The whole course' paragraph gives no Run All time for {number}"
    m = re.search(r"read\s+and\s+run\s+about\s+(\S+)\s+minutes\s+\((\S+)\s+words;\s+Run\s+All\s+(\S+)\s+s\b",
                  _section(number))
    assert m, f"section {number} does not open with 'read and run about N minutes (W words; Run All T s)'"
    minutes, section_words, run = m.groups()
    assert section_words == f"{words:,}", f"section {number}: {section_words} words, the notebook has {words:,}"
    assert run == str(run_all[number]), f"section {number}: Run All {run} s, the README says {run_all[number]} s"
    assert minutes == str(_stated(words, run_all[number])), f"section {number}: about {minutes} minutes"


def test_the_totals_quoted_in_the_text_match_the_table() -> None:
    numbers = sorted(_notebooks())
    run_all = _readme_run_all()
    total = round(sum(run_all[n] for n in numbers if n in run_all), 1)
    assert f"{total} s for 00 to {numbers[-1]} together" in GUIDE, f"'{total} s for 00 to {numbers[-1]} together'"
    reading = sorted(float(row[2]) for row in _table().values())
    assert f"each reads in {reading[0]} to {reading[-1]} minutes" in GUIDE


def test_the_session_plans_add_up() -> None:
    table = _table()
    plans = GUIDE[GUIDE.index("## Session plans"):]
    rows = re.findall(r"(?m)^\| \d+: .*\|$", plans)
    assert len(rows) >= 6, "the two- and four-session plans have fewer than six sessions in all"
    counts = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
    for row in rows:
        session, notebooks, read_run, exercises, discussion, total = [c.strip() for c in row.strip("|").split("|")]
        parts = re.findall(r"\b(\d\d)\b(?: \([^)]*?(\d+) min\))?", notebooks)
        assert all(n in table for n, _ in parts), f"{session}: a notebook without a row in the times table"
        terms = [fixed or table[n][4] for n, fixed in parts]
        assert read_run == " + ".join(terms) + f" = {round(sum(map(float, terms)), 1)}", (session, read_run)
        named = re.findall(r"`(\d\d\.\w+)`", exercises)
        assert all(name in EXERCISES and name[:2] in dict(parts) for name in named), (session, named)
        m = re.match(r"all (\w+): \d+$", exercises)
        if m:
            in_notebooks = sum(1 for name in EXERCISES if name[:2] in dict(parts))
            assert counts[m.group(1)] == in_notebooks, (session, exercises, in_notebooks)
        n_exercises = counts[m.group(1)] if m else len(named)
        assert int(exercises.rsplit(":", 1)[1]) == 5 * n_exercises, (session, exercises)
        minutes = round(sum(map(float, terms)) + int(exercises.rsplit(":", 1)[1])
                        + int(discussion.rsplit(":", 1)[1]), 1)
        assert float(total) == minutes and minutes <= 90, (session, total, minutes)
