"""Every figure a notebook shows has a one-sentence text alternative built from its numbers.

A figure drawn by a code cell has its caption line, printed in the same cell: "Figure: ...", one
sentence with at least one number (the website uses it as the image's alt text; a screen reader
reads it in JupyterLab). A panel's figure is named by its sentence too (`Panel.show`: the caption
line under it, which becomes the image's alt text in the browser): every panel image saved in a
notebook has one beside it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CAPTION = "Figure: "
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _text(value: object) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def captions(cell: dict) -> list[str]:
    """The caption lines a cell printed."""
    lines = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            lines += [line for line in _text(out.get("text", "")).splitlines() if line.startswith(CAPTION)]
    return lines


def problems_of(caption: str) -> list[str]:
    """What keeps a caption line from being a figure's one-sentence text alternative ([] if nothing)."""
    body = caption.removeprefix(CAPTION)
    found = []
    if not re.search(r"\d", body):
        found.append("no number in it")
    if not body.rstrip().endswith("."):
        found.append("not a sentence (no full stop at the end)")
    if len(body) > 400:
        found.append(f"{len(body)} characters (a sentence, not a paragraph)")
    if "nan" in re.findall(r"[a-z]+", body):
        found.append("a nan where a number should be")
    return found


def test_the_checks_find_what_they_should() -> None:
    assert problems_of("Figure: G's values, mean 4.02.") == []
    assert problems_of("Figure: G's values.") == ["no number in it"]
    assert problems_of("Figure: W1 0.1") == ["not a sentence (no full stop at the end)"]
    assert problems_of("Figure: W1 nan of 3 runs.") == ["a nan where a number should be"]
    cell = {"outputs": [{"output_type": "stream", "text": ["seeds 0-9\n", "Figure: a 1.\n"]}]}
    assert captions(cell) == ["Figure: a 1."]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_figure_a_notebook_draws_has_its_caption_line(path: Path) -> None:
    nb = json.loads(path.read_text())
    missing, bad = [], []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        figures = sum("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
        lines = captions(cell)
        if figures and not lines:
            missing.append(i)
        bad += [f"cell {i}: {p}: {line[:80]!r}" for line in lines for p in problems_of(line)]
    assert not missing, f"{path.name}: cells {missing} draw a figure without a 'Figure: ...' line"
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_panel_figure_saved_in_a_notebook_is_named_by_its_numbers(path: Path) -> None:
    state = json.loads(path.read_text())["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    parent = {c.removeprefix("IPY_MODEL_"): k for k, m in state.items() for c in m["state"].get("children", [])}

    def caption_of(key: str) -> str:
        """The caption line (a Label that reads "Figure: ...") in the nearest box around the widget `key`."""
        while key in parent:
            key = parent[key]
            for child in state[key]["state"].get("children", []):
                m = state.get(child.removeprefix("IPY_MODEL_"), {})
                if m.get("model_name") == "LabelModel" and m["state"].get("value", "").startswith(CAPTION):
                    return m["state"]["value"]
        return ""

    # Images that hold a figure (a panel that has not run yet shows none).
    images = [k for k, m in state.items() if m.get("model_name") == "ImageModel"
              and any(b.get("path") == ["value"] and b.get("data") for b in m.get("buffers", []))]
    bad = {k: caption_of(k) for k in images}
    # A figure given no sentence is named by its panels' titles, and says so: not a text alternative.
    bad = {k: c for k, c in bad.items() if not c or problems_of(c) or "no description given" in c}
    assert not bad, f"{path.name}: {len(bad)} of {len(images)} panel figures have no text alternative: {bad}"
