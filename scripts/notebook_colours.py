"""List the colours the notebooks' code writes out instead of taking them from the course palette.

    python scripts/notebook_colours.py                      # every notebook under notebooks/
    python scripts/notebook_colours.py notebooks/05_wgan.ipynb

One line per finding: notebook, code cell (0-based, counting every cell), line in the cell, the
snippet that names the colour, and the line. A figure's colours should come from
`ganlib.plots.COLORS` (role -> colour), `plots.LABEL_COLORS`, `plots.RECIPE_COLORS` or the palette's
colour maps (`ganlib.palette.SEQUENTIAL_CMAP`, `IMAGE_CMAP`), which are chosen so that the roles
drawn together stay apart for colour-blind readers. Exit status 1 when anything is found.
"""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

from ganlib.palette import colour_literals

ROOT = Path(__file__).resolve().parents[1]


def findings(path: str) -> list[tuple[int, int, str, str]]:
    """(cell, line, snippet, line text) for each colour written out in the code cells of the notebook at `path`."""
    cells = json.loads(Path(path).read_text())["cells"]
    out = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        for j, line in enumerate("".join(cell["source"]).splitlines()):
            for snippet in colour_literals(line):
                out.append((i, j, snippet, line.strip()))
    return out


def main(argv: list[str]) -> int:
    """Print the findings of each notebook in `argv` (default: all); 1 if any, else 0."""
    paths = argv or sorted(glob.glob(str(ROOT / "notebooks" / "*.ipynb")))
    total = 0
    for path in paths:
        for cell, line, snippet, text in findings(path):
            print(f"{Path(path).name} cell {cell} line {line + 1}: {snippet}    {text}")
            total += 1
    print(f"{total} colour(s) written out in {len(paths)} notebook(s)", file=sys.stderr)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
