"""Per notebook: how much a student reads, how it is organised, and what strict nbval checks.

    python scripts/notebook_stats.py            # every notebook under notebooks/
    python scripts/notebook_stats.py --check    # also exit 1 where a notebook breaks the reading rules

Reading: ``words`` of markdown (split on whitespace, exercise statements included), ``sections``
(``##`` headings), ``ideas`` (``##`` sections other than the closing "What to take away"),
``no_key`` (``##`` sections whose first lines hold no ``> **Key idea.**``), ``refs`` (1 when a
``### References`` or ``## References`` heading exists).

Checking: a code cell's outputs are compared unless its first line is ``# NBVAL_IGNORE_OUTPUT`` (or
it is tagged so); ``compared_outputs`` counts the outputs of compared cells, after joining
consecutive stream outputs as nbval does. ``check_cells`` are collapsed code cells
(``source_hidden``) holding an assert; ``asserts`` counts assert statements in all code; exercises
are counted by their ``EXERCISES[...]`` checks. The rules (``docs/NOTEBOOKS.md``): at most 2,000
words, at most four ideas, every section opening with its key idea, a reference list.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys

MARKERS = ("# NBVAL_IGNORE_OUTPUT", "# NBVAL_SKIP")
CLOSING = "what to take away"
MAX_WORDS, MAX_IDEAS = 2000, 4
COLS = ("words", "sections", "ideas", "no_key", "refs", "check_cells", "asserts", "exercises",
        "compared_outputs", "ignored_cells")


def reading(markdown: str) -> dict[str, int]:
    """Words, sections, ideas, sections without a key-idea line, and a reference list, of one notebook's markdown."""
    sections = re.split(r"(?m)^## ", markdown)[1:]
    titles = [s.splitlines()[0].strip().lower() if s.strip() else "" for s in sections]
    no_key = sum(1 for s in sections if not re.search(r"(?m)^\s*>\s*\*\*Key idea", "\n".join(s.splitlines()[1:6])))
    return dict(words=len(markdown.split()), sections=len(sections),
                ideas=sum(1 for t in titles if not t.startswith(CLOSING)), no_key=no_key,
                refs=int(bool(re.search(r"(?m)^#{2,3} References\s*$", markdown))))


def stats(path: str) -> dict[str, int]:
    """All counts for one notebook."""
    with open(path) as fh:
        nb = json.load(fh)
    md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    out = reading(md)
    out.update(code_cells=0, compared_cells=0, compared_outputs=0, ignored_cells=0, asserts=0, exercises=0,
               check_cells=0)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        out["code_cells"] += 1
        n_asserts = len(re.findall(r"^\s*assert\b", src, flags=re.M))
        out["asserts"] += n_asserts
        hidden = cell.get("metadata", {}).get("jupyter", {}).get("source_hidden", False)
        out["check_cells"] += int(bool(hidden and n_asserts))
        out["exercises"] += len(re.findall(r"EXERCISES\[\"[^\"]+\"\]\.check", src))
        tags = cell.get("metadata", {}).get("tags", [])
        if src.lstrip().startswith(MARKERS) or "nbval-ignore-output" in tags:
            out["ignored_cells"] += 1
            continue
        outputs, last_stream = 0, None
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream" and o.get("name") == last_stream:
                continue
            last_stream = o.get("name") if o["output_type"] == "stream" else None
            outputs += 1
        out["compared_cells"] += 1
        out["compared_outputs"] += outputs
    return out


def problems(s: dict[str, int]) -> list[str]:
    """What breaks the reading rules of docs/NOTEBOOKS.md, one phrase each."""
    found = []
    if s["words"] > MAX_WORDS:
        found.append(f"{s['words']} words > {MAX_WORDS}")
    if s["ideas"] > MAX_IDEAS:
        found.append(f"{s['ideas']} ideas > {MAX_IDEAS}")
    if s["no_key"]:
        found.append(f"{s['no_key']} sections without a key idea")
    if not s["refs"]:
        found.append("no references")
    return found


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "notebooks")
    paths = paths or sorted(glob.glob(os.path.join(root, "[0-9]*.ipynb")))
    print(f"{'notebook':34s}" + "".join(f"{c:>{len(c) + 2}s}" for c in COLS))
    failed = False
    for path in paths:
        s = stats(path)
        bad = problems(s)
        failed |= bool(bad)
        print(f"{os.path.basename(path):34s}" + "".join(f"{s[c]:>{len(c) + 2}d}" for c in COLS)
              + (f"   <- {'; '.join(bad)}" if bad else ""))
    return int(check and failed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
