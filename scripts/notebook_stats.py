"""Count, per notebook, what strict nbval compares, what it ignores, and how many asserts carry claims.

    python scripts/notebook_stats.py            # every notebook under notebooks/

A code cell's outputs are compared unless its first line is `# NBVAL_IGNORE_OUTPUT` (or it is
tagged so); "compared outputs" counts the outputs of compared cells, after joining consecutive
stream outputs as nbval does. Asserts are counted in the code (statements starting with `assert`),
and exercises by their `EXERCISES[...]` checks.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys

MARKERS = ("# NBVAL_IGNORE_OUTPUT", "# NBVAL_SKIP")


def stats(path: str) -> dict[str, int]:
    """Counts for one notebook."""
    with open(path) as fh:
        nb = json.load(fh)
    out = dict(code_cells=0, compared_cells=0, compared_outputs=0, ignored_cells=0, asserts=0, exercises=0)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        out["code_cells"] += 1
        out["asserts"] += len(re.findall(r"^\s*assert\b", src, flags=re.M))
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


def main() -> int:
    root = os.path.join(os.path.dirname(__file__), "..", "notebooks")
    paths = sys.argv[1:] or sorted(glob.glob(os.path.join(root, "[0-9]*.ipynb")))
    cols = ("code_cells", "compared_cells", "compared_outputs", "ignored_cells", "asserts", "exercises")
    print(f"{'notebook':36s} " + " ".join(f"{c:>16s}" for c in cols))
    for path in paths:
        s = stats(path)
        print(f"{os.path.basename(path):36s} " + " ".join(f"{s[c]:>16d}" for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
