"""The course's colours: one mapping from role to colour, for every figure, the sweep map and the dashboard.

Chosen so that every two roles drawn together stay apart for readers with any of the three
colour-vision deficiencies: under a simulation of deuteranopia, protanopia and tritanopia (Machado
et al.'s model at severity 100, as `colorspacious` implements it), and under normal vision, every
pair within each group of `DRAWN_TOGETHER` is at least `MIN_DISTANCE` apart in CAM02-UCS
(tests/test_palette.py measures it). Pairs of the old palette that failed: G red beside D green
(5 apart under deuteranopia), the labels good (green) and wrong spread (orange) 1.6 apart under
protanopia, the target's blue beside D's green 11 apart under tritanopia. Lines and label texts are also
at least 3:1 in contrast against the white background, and message texts 4.5:1 (WCAG 2).

Black is what is known exactly (the ideal generator G*, the best discriminator D*, the success
line, medians). Roles that are never drawn together may share a colour: `good` is close to the
target's blue, and the recipes' series reuse the labels' colours, since a figure shows either runs
by label or recipes by name.

Nothing else in ganlib names a colour (a test searches the code, the dashboard's JavaScript
included): a figure takes its colours from here.
"""

from __future__ import annotations

import re

MIN_DISTANCE = 20.0

COLORS: dict[str, str] = {
    # the data, the two players and what is known exactly
    "target": "#0044ff",
    "G": "#dd6600",
    "D": "#770066",
    "D*": "#000000",
    "G*": "#000000",
    "reference": "#000000",  # the success line, medians, a floor
    "noise": "#888888",
    "std": "#887777",  # the dashboard's std beside G's mean
    # the failure labels of ganlib.metrics.LABELS
    "good": "#2244aa",
    "diverged": "#000000",
    "collapsed": "#661144",
    "drifted": "#bb3355",
    "wrong spread": "#bb8822",
    "wrong shape": "#444400",
    "mode dropped": "#119999",
    # what frames the data
    "background": "#ffffff",
    "text": "#222222",
    "muted text": "#555555",
    "axes": "#888888",
    "grid": "#dddddd",
    # one-line messages under a panel's controls
    "warning": "#b35900",
    "error": "#b30000",
    "info": "#333355",
}
# The names the notebooks used before the roles were named G, D and G*: the same colours.
COLORS.update({"gen": COLORS["G"], "d": COLORS["D"], "ideal": COLORS["G*"]})

# The series of several recipes (methods, losses, D inputs) on one axis, in the order they are given
# out: the labels' six colours and a violet. A figure draws at most seven, beside the black reference.
RECIPE_COLORS: tuple[str, ...] = (COLORS["good"], COLORS["wrong spread"], COLORS["mode dropped"], COLORS["drifted"],
                                  COLORS["collapsed"], COLORS["wrong shape"], "#9966ff")

# The sweep map's colour scale: cividis keeps its order of lightness under every deficiency (it was
# designed for that); cells without runs are left in the background colour with a dash.
SEQUENTIAL_CMAP = "cividis"
# Greyscale images (the digits), dark ink on light paper.
IMAGE_CMAP = "gray_r"

# The roles that one figure or the dashboard shows together: each pair must stay apart.
DRAWN_TOGETHER: dict[str, tuple[str, ...]] = {
    "dashboard and the D figures": ("target", "G", "D", "D*", "std"),
    "noise beside the data": ("noise", "target", "G", "reference"),
    "failure labels (galleries, tables)": ("good", "diverged", "collapsed", "drifted", "wrong spread", "wrong shape",
                                           "mode dropped"),
    "recipes on one axis": ("reference", *(f"recipe {i}" for i in range(len(RECIPE_COLORS)))),
}

# Roles drawn as lines or label text (at least 3:1 against the background) and as message text (4.5:1).
LINE_ROLES = ("target", "G", "D", "D*", "noise", "std", "good", "diverged", "collapsed", "drifted", "wrong spread",
              "wrong shape", "mode dropped", "axes")
TEXT_ROLES = ("text", "muted text", "warning", "error", "info")


def color_of(role: str) -> str:
    """The colour of `role` (a key of COLORS, or 'recipe i' for the i-th recipe colour); a one-line KeyError if none."""
    if role.startswith("recipe "):
        return RECIPE_COLORS[int(role.split()[1])]
    try:
        return COLORS[role]
    except KeyError:
        raise KeyError(f"no colour for the role {role!r}; roles: {', '.join(COLORS)}") from None


def _channels(color: str | tuple[float, ...]) -> tuple[float, float, float]:
    if isinstance(color, str):
        h = color.lstrip("#")
        return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]
    return float(color[0]), float(color[1]), float(color[2])


def relative_luminance(color: str | tuple[float, ...]) -> float:
    """WCAG 2's relative luminance of '#rrggbb' or an (r, g, b[, a]) tuple in [0, 1] (alpha ignored)."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in _channels(color)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(a: str | tuple[float, ...], b: str | tuple[float, ...]) -> float:
    """WCAG 2's contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_color_on(fill: str | tuple[float, ...]) -> str:
    """Black or the background's white, whichever reads better on `fill` (a sweep map's cell).

    One of the two is always at least 4.58:1 (the square root of 21), WCAG's 4.5 for small text.
    """
    return max((COLORS["reference"], COLORS["background"]), key=lambda c: contrast_ratio(c, fill))


# A colour written out rather than taken from COLORS: '#rgb', '#rrggbb' or '#rrggbbaa' in quotes, rgb()/rgba()
# with numbers, a matplotlib colour or colour map given as a literal string (keyword or format string such
# as "k--"), a canvas style or an HTML style set to a literal.
_LITERALS = [
    re.compile(r"""["'`]#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?(?:[0-9a-fA-F]{2})?["'`]"""),
    re.compile(r"rgba?\(\s*\d"),
    re.compile(r"""\b(?:color|colors|c|facecolor|edgecolor|fc|ec|cmap|bad|colormap)\s*=\s*["']"""),
    re.compile(r"""["'](?:color|colour)["']\s*:\s*["']"""),
    re.compile(r"""(?:fillStyle|strokeStyle|shadowColor)\s*=\s*["'`]"""),
    re.compile(r"""style=\\?["'][^"']*color:\s*[#a-z]"""),
    re.compile(r"""\bplot\([^()\n]*,\s*["'][bgrcmykw](?:--|-\.|[-:.o^vsx+*])?["']\s*[,)]"""),
]


def colour_literals(text: str) -> list[str]:
    """The colours written out in `text` (source code, or a notebook's code), each as the snippet that names it.

    The test of ganlib's sources, and scripts/notebook_colours.py for the notebooks, use it: a colour
    should come from COLORS (or RECIPE_COLORS, SEQUENTIAL_CMAP, IMAGE_CMAP) instead.
    """
    return [m.group(0) for pattern in _LITERALS for m in pattern.finditer(text)]


def theme() -> dict[str, str]:
    """The colours the dashboard's browser drawing needs besides its series (sent with its spec)."""
    return {k: COLORS[k] for k in ("background", "text", "muted text", "axes", "grid")}


__all__ = ["COLORS", "RECIPE_COLORS", "SEQUENTIAL_CMAP", "IMAGE_CMAP", "DRAWN_TOGETHER", "MIN_DISTANCE", "LINE_ROLES",
           "TEXT_ROLES", "color_of", "theme", "colour_literals", "relative_luminance", "contrast_ratio",
           "text_color_on"]
