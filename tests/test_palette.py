"""The course palette: roles drawn together stay apart for colour-blind readers, and every colour comes from it.

The oracle is colorspacious: Machado et al.'s simulation of deuteranopia, protanopia and tritanopia
at severity 100, then the CAM02-UCS colour difference.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from colorspacious import cspace_convert
from matplotlib.colors import to_hex

from ganlib import images as I
from ganlib import palette, plots, train
from ganlib import widgets as gw
from ganlib.metrics import LABELS, optimal_discriminator

ROOT = Path(__file__).resolve().parents[1]
DEFICIENCIES = ("deuteranomaly", "protanomaly", "tritanomaly")


def _ucs(color: str, deficiency: str | None) -> np.ndarray:
    rgb = np.array([int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    if deficiency is not None:
        seen = cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": deficiency, "severity": 100}, "sRGB1")
        rgb = np.clip(seen, 0, 1)  # the simulation can leave the sRGB gamut by a little
    return cspace_convert(rgb, "sRGB1", "CAM02-UCS")


def distance(a: str, b: str, deficiency: str | None) -> float:
    """CAM02-UCS colour difference of two '#rrggbb' colours as seen with `deficiency` (None: normal vision)."""
    return float(np.linalg.norm(_ucs(a, deficiency) - _ucs(b, deficiency)))


def test_the_oracle_separates_what_it_should_and_merges_what_it_should():
    # Black and white are 100 apart in lightness for everyone. The old palette's pairs this one replaces:
    # G red beside D green merge for a deuteranope, the labels good (green) and wrong spread (orange) for a
    # protanope, and the target's blue beside D's green for a tritanope.
    for d in (None, *DEFICIENCIES):
        assert distance("#000000", "#ffffff", d) == pytest.approx(100, abs=0.5)
    assert distance("#d62728", "#2ca02c", None) > 40
    assert distance("#d62728", "#2ca02c", "deuteranomaly") < 10
    assert distance("#2ca02c", "#ff7f0e", "protanomaly") < 5
    assert distance("#1f77b4", "#2ca02c", "tritanomaly") < 20


@pytest.mark.parametrize("group", list(palette.DRAWN_TOGETHER))
def test_every_pair_drawn_together_stays_apart_under_each_deficiency(group):
    roles = palette.DRAWN_TOGETHER[group]
    close = []
    for a, b in itertools.combinations(roles, 2):
        for d in (None, *DEFICIENCIES):
            de = distance(palette.color_of(a), palette.color_of(b), d)
            if de < palette.MIN_DISTANCE:
                close.append(f"{a} / {b} under {d or 'normal vision'}: {de:.1f}")
    assert not close, close


def test_the_groups_cover_the_roles_figures_draw():
    drawn = {role for roles in palette.DRAWN_TOGETHER.values() for role in roles}
    assert {"target", "G", "D", "D*", "noise", "std", "reference", *LABELS} <= drawn
    assert {f"recipe {i}" for i in range(len(palette.RECIPE_COLORS))} <= drawn
    assert set(plots.LABEL_COLORS) == set(LABELS)
    assert all(plots.LABEL_COLORS[lab] == palette.COLORS[lab] for lab in LABELS)
    # the names the notebooks used before the roles were named are the same colours
    assert (plots.COLORS["gen"], plots.COLORS["d"], plots.COLORS["ideal"]) == (plots.COLORS["G"], plots.COLORS["D"],
                                                                               plots.COLORS["G*"])
    with pytest.raises(KeyError, match="no colour for the role 'H'"):
        palette.color_of("H")


def test_contrast_against_the_background_by_hand_and_for_every_line_and_text_role():
    assert palette.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert palette.contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    # #767676 is the lightest grey with 4.5:1 on white (a well-known WCAG value), #777777 just misses it
    assert palette.contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert palette.contrast_ratio("#777777", "#ffffff") < 4.5
    bg = palette.COLORS["background"]
    assert {r: round(palette.contrast_ratio(palette.COLORS[r], bg), 2) for r in palette.LINE_ROLES
            if palette.contrast_ratio(palette.COLORS[r], bg) < 3} == {}
    assert {r: round(palette.contrast_ratio(palette.COLORS[r], bg), 2) for r in palette.TEXT_ROLES
            if palette.contrast_ratio(palette.COLORS[r], bg) < 4.5} == {}
    for c in palette.RECIPE_COLORS:
        assert palette.contrast_ratio(c, bg) >= 3


def test_the_sweep_maps_scale_keeps_its_order_for_every_reader_and_its_text_stays_readable():
    cmap = matplotlib.colormaps[palette.SEQUENTIAL_CMAP]
    samples = [to_hex(cmap(v)) for v in np.linspace(0, 1, 11)]
    for d in (None, *DEFICIENCIES):
        lightness = [_ucs(c, d)[0] for c in samples]
        assert np.all(np.diff(lightness) > 0), d  # a higher success rate is lighter, whatever the vision
        assert distance(samples[0], samples[-1], d) > 60
    for v in np.linspace(0, 1, 21):
        assert palette.contrast_ratio(palette.text_color_on(cmap(v)), cmap(v)) >= 4.5
    assert palette.text_color_on(cmap(0.0)) == palette.COLORS["background"]
    assert palette.text_color_on(cmap(1.0)) == palette.COLORS["reference"]


# ----- no colour from outside the palette -----

def test_the_literal_finder_finds_what_it_should():
    for snippet in ('ax.plot(x, color="k")', 'plot_sweep_map(r, cmap="RdYlGn")', '{"color": "red"}',
                    '{"hlines": [{"y": 0.1, "color": "#000000"}]}', 'ctx.fillStyle = theme.text || "#fff";',
                    'ctx.fillStyle = "rgba(255,255,255,0.8)";', 'ctx.strokeStyle = `red`;',
                    '\'<span style="color:#335">\'', "ax.axvline(1, c='0.5')", 'ax.plot(x, y, "k--", lw=1)'):
        assert palette.colour_literals(snippet), snippet
    assert not palette.colour_literals('ax.plot(x, color=COLORS["G"]); ctx.fillStyle = theme.text; "#"; id="#1"')


def test_no_colour_in_ganlib_comes_from_outside_the_palette():
    files = [p for p in (ROOT / "ganlib").rglob("*") if p.suffix in (".py", ".js", ".css") and p.name != "palette.py"]
    assert any(p.suffix == ".js" for p in files) and len(files) > 20
    found = {str(p.relative_to(ROOT)): palette.colour_literals(p.read_text()) for p in files}
    assert {k: v for k, v in found.items() if v} == {}


def test_no_colour_in_the_notebooks_comes_from_outside_the_palette():
    # what scripts/notebook_colours.py lists: a colour written out in a code cell instead of taken from the palette
    import json

    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(notebooks) >= 12
    found = {}
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        found[path.name] = palette.colour_literals(code)
    assert {k: v for k, v in found.items() if v} == {}


def _artist_colours(fig) -> set[str]:
    """The colours of what the figure's code drew: lines, collections, patches, texts, titles, labels."""
    out: set[str] = set()
    for ax in fig.axes:
        for line in ax.lines:
            out.add(to_hex(line.get_color()))
        for coll in ax.collections:
            if coll.get_array() is not None:  # coloured by a colour map (a colour bar): the map is the palette's
                assert coll.get_cmap().name in (palette.SEQUENTIAL_CMAP, palette.IMAGE_CMAP)
                continue
            out |= {to_hex(c) for c in coll.get_facecolors()} | {to_hex(c) for c in coll.get_edgecolors()}
        for patch in ax.patches:
            out.add(to_hex(patch.get_facecolor()))
        for text in [*ax.texts, ax.title, ax.xaxis.label, ax.yaxis.label]:
            if text.get_text():
                out.add(to_hex(text.get_color()))
        for image in ax.get_images():
            assert image.get_cmap().name in (palette.SEQUENTIAL_CMAP, palette.IMAGE_CMAP)
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]:
        for handle in legend.legend_handles:
            if hasattr(handle, "get_color"):
                out.add(to_hex(handle.get_color()))
    return out


@pytest.fixture(scope="module")
def trained():
    from ganlib import Config

    cfg = Config(seeds=2, rounds=40, eval_every=20, eval_samples=300, batch_size=16, g_hidden=(8, 8), d_hidden=(8, 8),
                 features="value", target="mixture")
    return train(cfg, n_final=500)


def test_every_figure_draws_in_palette_colours(trained):
    tr, h = trained.trainer, trained.history
    target = tr.target
    samples = tr.sample(500)
    x = np.linspace(target.mean - 4 * target.std, target.mean + 4 * target.std, 50)
    digits_history = I.DigitsHistory(estimate=[0.1, 0.2, 0.3, 0.4], eval_round=[0, 2, 4], frechet=[3.0, 2.0, 1.0],
                                     d_updates=[0, 10, 20])
    figures = {
        "density": plots.plot_density(target, samples[0]),
        "ideal map": plots.plot_ideal_map(target, tr.noise, tr.generator_map(np.linspace(0, 1, 20)),
                                          np.linspace(0, 1, 20)),
        "moments": plots.plot_moments(h, target),
        "w1": plots.plot_w1(h, target),
        "losses": plots.plot_losses(h, smooth=5, references={"log 4": 1.386, "log 2": 0.693}),
        "gallery": plots.plot_gallery(samples, target, ["a", "b"],
                                      label_colors=[plots.LABEL_COLORS[r.label] for r in trained.runs]),
        "discriminator": plots.plot_discriminator(x, tr.discriminator_curve(x), target, samples[0],
                                                  d_star=optimal_discriminator(x, samples[0], target)),
        "w1 strip": plots.plot_w1_strip({"a": [0.1, 0.2], "b": [0.3]}, floor=0.2, floor_label="floor"),
        "critic panel": plots.critic_panel_figure(tr),
        "budget": plots.plot_budget({f"r{i}": trained for i in range(len(palette.RECIPE_COLORS))}),
        "sweep map": plots.plot_sweep_map({"config": {}, "grid": {"lr": [1e-3, 1e-2], "d_steps": [1, 2]}, "cells": [
            {"lr": 1e-3, "d_steps": 1, "success_rate": 0.0, "labels": {"collapsed": 2}},
            {"lr": 1e-2, "d_steps": 1, "success_rate": 0.5, "labels": {"good": 1, "drifted": 1}},
            {"lr": 1e-3, "d_steps": 2, "success_rate": 1.0, "labels": {"good": 2}}]}),
        "dashboard figure": gw.panel.dashboard_figure(tr, n_samples=500),
    }
    fig, axes = plots.new_figure(1, 2)
    I.plot_digits(np.zeros((4, 8, 8)), axes[0, 0])
    I.plot_critic_and_frechet(digits_history, 1, axes[0, 1], mark=1, floor=0.5)
    figures["digits"] = fig
    allowed = {c.lower() for c in palette.COLORS.values()} | {c.lower() for c in palette.RECIPE_COLORS}
    outside = {name: sorted(_artist_colours(f) - allowed) for name, f in figures.items()}
    assert {k: v for k, v in outside.items() if v} == {}
    # the D figure shows G, the target, D and D* in their roles' colours
    assert {palette.COLORS[r] for r in ("G", "target", "D", "D*")} <= _artist_colours(figures["discriminator"])


def test_plot_budget_refuses_more_results_than_it_has_colours(trained):
    with pytest.raises(ValueError, match="^plot_budget draws at most 7 results on one axis"):
        plots.plot_budget({f"r{i}": trained for i in range(8)})


def _colours_in(obj) -> list[str]:
    if isinstance(obj, dict):
        return [v for k, v in obj.items() if k == "color"] + [c for v in obj.values() for c in _colours_in(v)]
    if isinstance(obj, list):
        return [c for v in obj for c in _colours_in(v)]
    return []


def test_the_dashboard_draws_in_palette_colours():
    from ganlib import Config

    for features in ("value", "sorted"):
        dash = gw.Dashboard(Config(seeds=2, rounds=40, eval_every=20, eval_samples=300, batch_size=16,
                                   g_hidden=(8, 8), d_hidden=(8, 8), features=features), chunk=10)
        spec = dash.plot.spec
        colours = _colours_in(spec)
        assert len(colours) > 15
        assert set(colours) <= set(palette.COLORS.values())
        assert spec["theme"] == palette.theme() and set(spec["theme"].values()) <= set(palette.COLORS.values())
        # the theme names every colour the browser's drawing reads from it
        js = (ROOT / "ganlib" / "widgets" / "live_plot.js").read_text()
        used = set(re.findall(r"theme\.(\w+)", js)) | set(re.findall(r'theme\["([^"]+)"\]', js))
        assert used and used <= set(spec["theme"])
