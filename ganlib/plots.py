"""Figures for the notebooks. Each function takes data (and optionally an `ax`) and returns a Figure.

Figures are built with `matplotlib.figure.Figure`, not pyplot, so nothing is shown as a side
effect and a widget can redraw hundreds of times without piling figures up in pyplot's registry.
A notebook shows one by leaving it as the cell's last expression; `to_png` turns one into bytes
for a `widgets.Image`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from ganlib.distributions import Distribution, ideal_generator
from ganlib.metrics import LABELS, SUCCESS_W1_FRACTION, optimal_discriminator
from ganlib.palette import COLORS, RECIPE_COLORS, SEQUENTIAL_CMAP, text_color_on

# The course palette (ganlib.palette): one colour per role, colour-blind safe for the roles drawn together.
LABEL_COLORS = {label: COLORS[label] for label in LABELS}


def new_figure(
    nrows: int = 1, ncols: int = 1, width: float = 6.4, height: float = 3.6, *, fast: bool = False
) -> tuple[Figure, np.ndarray]:
    """A Figure with a grid of axes (always returned as a 2-D array).

    The default lays it out tightly (constrained layout); `fast` uses fixed margins instead, which
    halves the drawing time of a many-panel figure, for widgets that redraw several times a second.
    """
    fig = Figure(figsize=(width, height), layout=None if fast else "constrained")
    if fast:
        fig.subplots_adjust(left=0.06, right=0.94, bottom=0.09, top=0.94, wspace=0.38, hspace=0.42)
    axes = np.atleast_2d(np.array(fig.subplots(nrows, ncols, squeeze=False)))
    return fig, axes


def _ax_or_new(ax: Axes | None, width: float = 6.4, height: float = 3.6) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, axes = new_figure(1, 1, width, height)
    return fig, axes[0, 0]


# The smallest text a figure keeps when it is projected (the course's figures are at most 9.5 in wide).
MIN_FONT_PT = 9


def readable(fig: Figure, pt: float = MIN_FONT_PT) -> Figure:
    """Raise every text in `fig` (titles, labels, ticks, keys) to at least `pt` points; returns `fig`."""
    for text in fig.findobj(Text):
        text.set_fontsize(max(text.get_fontsize(), pt))
    return fig


# Where a figure keeps its one-sentence text alternative (`with_alt`), for a panel to show and name it by.
ALT_ATTR = "ganlib_alt"


def with_alt(fig: Figure, text: str) -> Figure:
    """Give `fig` its one-sentence text alternative (built from the figure's numbers); returns `fig`.

    `widgets.Panel.show` shows it as the figure's caption line and names the image by it.
    """
    setattr(fig, ALT_ATTR, " ".join(str(text).split()))
    return fig


def alt_of(fig: Figure) -> str:
    """The text alternative of `fig`: the one `with_alt` gave it, else one built from its panels' titles."""
    text = getattr(fig, ALT_ATTR, "")
    if text:
        return text
    titles = [t for ax in fig.axes if (t := " ".join(ax.get_title().split()))]
    n = len([ax for ax in fig.axes if ax.get_visible() and ax.axison])
    if not titles:
        return f"a figure of {n} panel{'s' if n != 1 else ''} (no description given)"
    return f"{n} panel{'s' if n != 1 else ''}: " + "; ".join(titles)


def run_alt(trainer: Any, samples: np.ndarray, run: int = 0, unit: str = "round") -> str:
    """One sentence on a 1-D run in progress: its round (or `unit`), run `run`'s mean and std against the
    target's, and the median W1 of its runs at the last evaluation (in target std)."""
    target = trainer.target
    values = samples[run][np.isfinite(samples[run])]
    text = f"{unit} {trainer.round}"
    if values.size < 2:
        text += f": seed {trainer.seeds[run]} has no finite values"
    else:
        text += (f": seed {trainer.seeds[run]}'s values mean {values.mean():.2f}, std {values.std():.2f} "
                 f"(target mean {target.mean:.3g}, std {target.std:.3g})")
    w1 = np.asarray(trainer.history.w1, dtype=float)
    if w1.ndim == 2 and w1.shape[1] and np.isfinite(w1[:, -1]).any():
        runs = len(w1)
        text += (f"; median W1 of {runs} run{'s' if runs != 1 else ''} {np.nanmedian(w1[:, -1]) / target.std:.2f} "
                 f"target sd at {unit} {int(trainer.history.eval_round[-1])}")
    return text


def to_png(fig: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (modest dpi keeps notebooks small and redraws fast)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def plot_range(target: Distribution, samples: np.ndarray | None = None, width: float = 4.0) -> tuple[float, float]:
    """An x range that shows the target (mean +- width std) and most of the samples."""
    lo, hi = target.mean - width * target.std, target.mean + width * target.std
    if samples is not None:
        finite = np.asarray(samples, dtype=float)
        finite = finite[np.isfinite(finite)]
        if finite.size:
            q = np.quantile(finite, [0.005, 0.995])
            lo, hi = min(lo, q[0]), max(hi, q[1])
    return float(lo), float(hi)


def plot_density(
    target: Distribution,
    samples: np.ndarray | None = None,
    *,
    ax: Axes | None = None,
    bins: int = 60,
    label: str = "generated",
    title: str | None = None,
    stats: bool = True,
    xlim: tuple[float, float] | None = None,
) -> Figure:
    """The target's pdf as a curve and, if given, a histogram of samples (density scale).

    With `stats`, the samples' mean, std, skew and excess kurtosis are printed in the corner.
    """
    fig, ax = _ax_or_new(ax)
    lo, hi = xlim or plot_range(target, samples)
    xs = np.linspace(lo, hi, 400)
    if samples is not None:
        s = np.asarray(samples, dtype=float).ravel()
        s = s[np.isfinite(s)]
        inside = s[(s >= lo) & (s <= hi)]
        if s.size and not inside.size:
            ax.text(0.5, 0.5, "all generated values lie outside this range", transform=ax.transAxes,
                    ha="center", fontsize=8, color=COLORS["G"])
        if inside.size:
            ax.hist(inside, bins=bins, range=(lo, hi), density=True, color=COLORS["G"], alpha=0.45, label=label)
            if stats and s.size > 2:
                m, sd = s.mean(), s.std()
                z = (s - m) / sd if sd > 0 else np.zeros_like(s)
                text = (f"mean {m:.2f}\nstd {sd:.2f}\nskew {np.mean(z**3):.2f}\n"
                        f"excess kurt {np.mean(z**4) - 3:.2f}")
                ax.text(0.02, 0.97, text, transform=ax.transAxes, va="top", fontsize=8, family="monospace")
    ax.plot(xs, target.pdf(xs), color=COLORS["target"], lw=2, label=f"target {target.name}")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def plot_ideal_map(
    target: Distribution,
    noise: Distribution,
    maps: np.ndarray | None = None,
    z: np.ndarray | None = None,
    *,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
    both: bool = True,
) -> Figure:
    """The ideal generator G*(z) = F_target^-1(F_noise(z)) and, optionally, learned maps z -> G(z).

    With `both` (the default) the mirror map F_target^-1(1 - F_noise(z)) is drawn too, dashed: it
    pushes the noise onto the target just as exactly, and a GAN learns either one.
    """
    fig, ax = _ax_or_new(ax)
    if z is None:
        z = _noise_grid(noise)
    ax.plot(z, ideal_generator(target, noise, z), color=COLORS["G*"], lw=2.5, label="ideal G*(z), increasing")
    if both:
        ax.plot(z, ideal_generator(target, noise, z, decreasing=True), color=COLORS["G*"], lw=1.8, ls="--",
                label="ideal, decreasing")
    if maps is not None:
        maps = np.atleast_2d(maps)
        for i, row in enumerate(maps):
            lab = labels[i] if labels is not None else ("learned G(z)" if i == 0 else None)
            ax.plot(z, row, color=COLORS["G"], lw=1.2, alpha=0.8 if len(maps) == 1 else 0.35, label=lab)
    ax.set_xlabel("noise z")
    ax.set_ylabel("x = G(z)")
    ax.legend(fontsize=8, loc="best")
    return fig


def _noise_grid(noise: Distribution, n: int = 200) -> np.ndarray:
    if noise.name == "uniform":
        return np.linspace(noise.icdf(1e-3), noise.icdf(1 - 1e-3), n)
    return np.linspace(noise.mean - 3 * noise.std, noise.mean + 3 * noise.std, n)


def plot_moments(history, target: Distribution, *, axes: Sequence[Axes] | None = None) -> Figure:
    """Generated mean and std over training (one faint line per run) against the target's."""
    if axes is None:
        fig, grid = new_figure(1, 2, 9, 3.2)
        axes = grid[0]
    fig = axes[0].figure
    r = history.eval_round
    for ax, key, truth in ((axes[0], "mean", target.mean), (axes[1], "std", target.std)):
        vals = getattr(history, key)
        alpha = 0.9 if vals.shape[0] == 1 else 0.35
        for row in vals:
            ax.plot(r, row, color=COLORS["G" if key == "mean" else "std"], alpha=alpha, lw=1)
        ax.axhline(truth, color=COLORS["target"], ls="--", lw=1.5, label=f"target {key} {truth:g}")
        ax.set_xlabel("round")
        ax.set_ylabel(f"generated {key}")
        ax.legend(fontsize=8, loc="best", framealpha=0.6)
    return fig


def plot_w1(history, target: Distribution, *, ax: Axes | None = None, success_line: bool = True) -> Figure:
    """W1 to the target over training in target std units, one line per run, log scale, with the success line."""
    fig, ax = _ax_or_new(ax)
    vals = history.w1 / target.std
    alpha = 0.9 if vals.shape[0] == 1 else 0.35
    for row in vals:
        ax.plot(history.eval_round, row, color=COLORS["G"], alpha=alpha, lw=1)
    if success_line:
        ax.axhline(SUCCESS_W1_FRACTION, color=COLORS["reference"], ls=":", lw=1,
                   label=f"success: W1 < {SUCCESS_W1_FRACTION:g} sd")
        ax.legend(fontsize=8, loc="upper right")
    ax.set_yscale("log")
    ax.set_xlabel("round")
    ax.set_ylabel("W1 to target (sd)")
    return fig


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or y.shape[-1] < window:
        return y
    kernel = np.ones(window) / window
    return np.apply_along_axis(lambda row: np.convolve(row, kernel, mode="valid"), -1, y)


def plot_losses(
    history,
    *,
    ax: Axes | None = None,
    smooth: int = 50,
    reference: float | None = None,
    references: dict[str, float] | None = None,
) -> Figure:
    """D and G losses per round (moving average over `smooth` rounds), one faint line per run.

    `references` draws named horizontal lines, e.g. {"log 4": 1.386, "log 2": 0.693}; `reference`
    is a single unnamed one (labelled by its value).
    """
    fig, ax = _ax_or_new(ax)
    d, g = _smooth(history.d_loss, smooth), _smooth(history.g_loss, smooth)
    x = np.arange(d.shape[1]) + (smooth if history.d_loss.shape[1] >= smooth else 0)
    alpha = 0.9 if d.shape[0] == 1 else 0.3
    for i in range(d.shape[0]):
        ax.plot(x, d[i], color=COLORS["D"], alpha=alpha, lw=1, label="D loss" if i == 0 else None)
        ax.plot(x, g[i], color=COLORS["G"], alpha=alpha, lw=1, label="G loss" if i == 0 else None)
    lines = dict(references or {})
    if reference is not None:
        lines[f"{reference:.3f}"] = reference
    for (name, value), style in zip(lines.items(), (":", "--", "-.")):
        ax.axhline(value, color=COLORS["reference"], ls=style, lw=1, label=name)
    ax.set_xlabel("round")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8, loc="best")
    return fig


def plot_gallery(
    samples: np.ndarray,
    target: Distribution,
    titles: Sequence[str],
    *,
    ncols: int = 5,
    label_colors: Sequence[str] | None = None,
) -> Figure:
    """Small histograms of each run's samples against the target pdf, titled (e.g. seed and label)."""
    k = samples.shape[0]
    nrows = max(1, -(-k // ncols))
    fig, axes = new_figure(nrows, ncols, 2.0 * ncols, 1.6 * nrows)
    for i, ax in enumerate(axes.ravel()):
        if i >= k:
            ax.set_axis_off()
            continue
        lo, hi = plot_range(target, None, 4.0)
        s = samples[i][np.isfinite(samples[i])]
        if s.size:
            ax.hist(np.clip(s, lo, hi), bins=40, range=(lo, hi), density=True, color=COLORS["G"], alpha=0.5)
        xs = np.linspace(lo, hi, 200)
        ax.plot(xs, target.pdf(xs), color=COLORS["target"], lw=1.2)
        ax.set_title(titles[i], fontsize=8, color=label_colors[i] if label_colors else COLORS["text"])
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
        if i + ncols >= k:  # the lowest panel of its column names the x axis (a figure-level label
            ax.set_xlabel("x", fontsize=8)  # would sit under the key below)
    # One key for all panels, and one y name for the grid (each panel's density scale differs).
    fig.legend([Patch(color=COLORS["G"], alpha=0.5), Line2D([], [], color=COLORS["target"])],
               ["the run's samples (histogram)", "target density"], loc="outside lower center", ncol=2, fontsize=8)
    fig.supylabel("density", fontsize=8)
    return fig


# Share of an axis's data range added above it to hold a key inside the axes without covering data.
LEGEND_HEADROOM = 0.45


def plot_discriminator(
    x: np.ndarray,
    d_values: np.ndarray,
    target: Distribution,
    samples: np.ndarray | None = None,
    *,
    ax: Axes | None = None,
    ylabel: str = "D(x)",
    d_star: np.ndarray | None = None,
) -> Figure:
    """D(x) over x (right axis) with the target pdf and generated histogram (left axis).

    The 1-D analogue of Goodfellow et al.'s Figure 1: data, G's distribution and D's curve. With
    `d_star` (e.g. from `ganlib.metrics.optimal_discriminator`), the best discriminator against the
    current G is drawn too, dashed, so the reader sees how far the trained D is from it.
    """
    fig, ax = _ax_or_new(ax)
    plot_density(target, samples, ax=ax, stats=False, xlim=(float(x[0]), float(x[-1])))
    ax2 = ax.twinx()
    d_values = np.atleast_2d(d_values)
    for i, row in enumerate(d_values):
        ax2.plot(x, row, color=COLORS["D"], lw=1.5, alpha=0.9 if len(d_values) == 1 else 0.35,
                 label=ylabel if i == 0 else None)
    if d_star is not None:
        for i, row in enumerate(np.atleast_2d(d_star)):
            ax2.plot(x, row, color=COLORS["D*"], lw=1.2, ls="--", alpha=0.9 if np.ndim(d_star) == 1 else 0.35,
                     label="D*(x), the best D" if i == 0 else None)
    if ylabel == "D(x)":
        ax2.set_ylim(0, 1)
        ax2.axhline(0.5, color=COLORS["D"], ls=":", lw=1, label="1/2")
    ax2.set_ylabel(ylabel, color=COLORS["D"])
    # One key for both axes, in a band left free above the data: "best" placement sees only the twin
    # axis's curves, so it used to cover the histogram and the target drawn on the other axis.
    for a in (ax, ax2):
        lo, hi = a.get_ylim()
        a.set_ylim(lo, hi + LEGEND_HEADROOM * (hi - lo))
    if ylabel == "D(x)":
        ax2.set_yticks([0, 0.5, 1])
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax2.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper center", ncol=3,
               framealpha=0.8, columnspacing=1.0, handlelength=1.5)
    return fig


def plot_w1_strip(
    groups: dict[str, Sequence[float]],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    floor: float | None = None,
    floor_label: str = "",
    group: str = "group",
) -> Figure:
    """W1 of every run (in target std) per group as a strip of points, with each group's median.

    `group` names what a group is in the figure's text alternative ("D input": "... per D input; medians: ...").

    Points are spread sideways a little so that equal values stay visible; the dotted line is the
    success line, and `floor` draws a dashed reference line (e.g. the distance of a uniform with
    the right mean and std).
    """
    own = ax is None
    fig, ax = _ax_or_new(ax, 6.5, 3.4)
    for i, values in enumerate(groups.values()):
        v = np.asarray(values, dtype=float)
        offsets = np.linspace(-0.2, 0.2, len(v)) if len(v) > 1 else np.zeros(1)
        ax.scatter(i + offsets, np.clip(v, 1e-3, None), s=14, color=COLORS["G"], alpha=0.6)
        ax.plot([i - 0.3, i + 0.3], [np.median(v)] * 2, color=COLORS["reference"], lw=2)
    ax.axhline(SUCCESS_W1_FRACTION, color=COLORS["reference"], ls=":", lw=1,
                   label=f"success: W1 < {SUCCESS_W1_FRACTION:g} sd")
    if floor is not None:
        ax.axhline(floor, color=COLORS["reference"], ls="--", lw=1, label=floor_label)
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)), list(groups), rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("W1 to target (sd)")
    # The key sits in a band added above the points (log axis: a factor, not a length), so it covers
    # neither a point nor a reference line drawn across the whole width.
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi * (hi / lo) ** LEGEND_HEADROOM)
    ax.legend(fontsize=7, loc="upper center", ncol=2, framealpha=0.8)
    if title:
        ax.set_title(title, fontsize=10)
    medians = "; ".join(f"{name} {np.median(np.asarray(v, dtype=float)):.2f} "
                        f"({int((np.asarray(v, dtype=float) < SUCCESS_W1_FRACTION).sum())}/{len(v)} below "
                        f"{SUCCESS_W1_FRACTION:g})" for name, v in groups.items())
    # The sentence describes the whole figure only where the strip is the whole figure.
    heading = f"{title}: " if title else ""
    return with_alt(fig, f"{heading}W1 to the target of every run, in target sd, per {group}; medians: {medians}.") \
        if own else fig


def sample_panel_figure(trainer) -> Figure:
    """For a generator of whole samples (notebook 03's panel): G's samples, its sorted outputs, losses.

    Left: seed 0's values against the target pdf. Middle: one sorted output per run against the
    target's quantiles, which is what a sorted discriminator compares. Right: the losses with D's
    and G's equilibrium values log 4 and log 2.
    """
    fig, axes = new_figure(1, 3, 13.0, 3.4, fast=True)
    n = trainer.config.batch_size
    samples = trainer.sample(40 * n)
    plot_density(trainer.target, samples[0], ax=axes[0, 0], title=f"round {trainer.round}, seed {trainer.seeds[0]}")
    p = (np.arange(n) + 0.5) / n
    ax = axes[0, 1]
    for k, row in enumerate(np.sort(samples[:, :n], 1)):
        ax.plot(p, row, color=COLORS["G"], alpha=0.6, lw=1, label="G's sorted output" if k == 0 else None)
    ax.plot(p, trainer.target.icdf(p), color=COLORS["target"], lw=2, label="target quantiles")
    ax.set_xlabel("probability level p")
    ax.set_ylabel("value")
    ax.legend(fontsize=8, loc="upper left")
    if trainer.round:
        plot_losses(trainer.history, ax=axes[0, 2], smooth=min(25, max(1, trainer.round // 4)),
                    references={"log 4 (D)": float(np.log(4)), "log 2 (G)": float(np.log(2))})
    losses = ", and the losses" if trainer.round else ""
    return with_alt(fig, f"G's samples against the target and its sorted outputs against the target's quantiles"
                         f"{losses}; {run_alt(trainer, samples)}.")


def critic_panel_figure(trainer) -> Figure:
    """For a per-value D or critic (the WGAN notebooks' panels): G's samples, D(x) or f(x), and W1 over rounds.

    For the cross-entropy loss the best discriminator D* is drawn beside D(x); a critic's scale is
    arbitrary, so it has no such reference.
    """
    fig, axes = new_figure(1, 3, 13.0, 3.4, fast=True)
    samples = trainer.sample(2000)
    lo, hi = plot_range(trainer.target, samples[np.isfinite(samples)])
    plot_density(trainer.target, samples[0], ax=axes[0, 0], xlim=(lo, hi),
                 title=f"round {trainer.round}: seed {trainer.seeds[0]}'s samples")
    grid = np.linspace(lo, hi, 200)
    bce = trainer.config.loss == "bce"
    curves = trainer.discriminator_curve(grid)
    if not bce:
        # Only a critic's differences matter: each run's curve minus its mean over the grid, so a
        # clipped critic's tiny variation is not lost under its constant offset.
        curves = curves - curves.mean(1, keepdims=True)
    plot_discriminator(grid, curves, trainer.target, None, ax=axes[0, 1],
                       ylabel="D(x)" if bce else "critic f(x) - its mean",
                       d_star=optimal_discriminator(grid, samples, trainer.target) if bce else None)
    plot_w1(trainer.history, trainer.target, ax=axes[0, 2])
    what = "D(x) beside the best D*" if bce else "each critic f(x)"
    return with_alt(fig, f"G's samples against the target, {what}, and W1 over the rounds; "
                         f"{run_alt(trainer, samples)}.")


def results_table_html(rows: Sequence[dict], columns: Sequence[str], floatfmt: str = "{:.3f}") -> str:
    """A small HTML table (for widget output areas); floats are rounded with `floatfmt`."""
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = ""
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c, "")
            cells.append(f"<td>{floatfmt.format(v) if isinstance(v, float) else v}</td>")
        body += "<tr>" + "".join(cells) + "</tr>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


__all__ = ["new_figure", "to_png", "readable", "MIN_FONT_PT", "with_alt", "alt_of", "run_alt", "ALT_ATTR",
           "plot_range", "plot_density", "plot_ideal_map", "plot_moments", "plot_w1",
           "plot_w1_strip", "sample_panel_figure", "critic_panel_figure",
           "plot_losses", "plot_gallery", "plot_discriminator", "results_table_html", "COLORS", "LABEL_COLORS",
           "RECIPE_COLORS"]


def _axis_text(v: object) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


# Axis titles a student reads on a sweep map, for grid fields whose names are shorthand; other fields
# are shown by their Config name.
SWEEP_AXIS_NAMES = {"lr": "learning rate (both nets)", "d_lr": "D learning rate", "g_lr": "G learning rate",
                    "features": "D sees", "d_steps": "D steps per round", "batch_size": "batch size"}


def _axis_name(name: str) -> str:
    return SWEEP_AXIS_NAMES.get(name, name)


def plot_sweep_map(result: Mapping[str, Any], *, title: str | None = None, cmap: str = SEQUENTIAL_CMAP) -> Figure:
    """The map of where a GAN trains: success rate per cell of a sweep, with the failures that dominate.

    `result` is what `ganlib.sweep.sweep` returns (or its JSON, loaded). The first grid axis runs
    across, the second down; a third gives one panel per value. Each cell is coloured by its
    success rate and shows its successes out of its runs, then the label most of its failed runs
    got and how many got it (ties go to the label named first in LABELS, the order of the rule
    that labels a run). Cells the result lacks are left blank, with a dash. The colour scale is the
    palette's (cividis: its lightness order survives every colour-vision deficiency), and each cell's
    text is dark or light, whichever contrasts more with the cell.
    """
    names = list(result["grid"])
    if not 1 <= len(names) <= 3:
        raise ValueError(f"plot_sweep_map draws 1 to 3 grid axes; this sweep has {len(names)}: {', '.join(names)}")
    values = [list(result["grid"][n]) for n in names]
    xs = values[0]
    ys = values[1] if len(names) > 1 else [None]
    facets = values[2] if len(names) > 2 else [None]
    cells = {tuple(c[n] for n in names): c for c in result["cells"]}
    per_row = min(len(facets), 3)
    n_rows = math.ceil(len(facets) / per_row)
    width = min(16.0, 1.6 + per_row * (0.95 * len(xs) + 0.9))
    height = min(12.0, 1.0 + n_rows * (0.55 * len(ys) + 0.9))
    fig, axes = new_figure(n_rows, per_row, width, height)
    font = 7 if len(xs) <= 8 else 5.5
    colours = matplotlib.colormaps[cmap].with_extremes(bad=COLORS["background"])
    image = None
    for i, facet in enumerate(facets):
        ax = axes.flat[i]
        rates = np.full((len(ys), len(xs)), np.nan)
        for r, y in enumerate(ys):
            for c, x in enumerate(xs):
                key = tuple(v for v in (x, y, facet)[: len(names)])
                cell = cells.get(key)
                if cell is None:
                    ax.text(c, r, "-", ha="center", va="center", fontsize=font, color=COLORS["text"])
                    continue
                rates[r, c] = cell["success_rate"]
                counts = cell["labels"]
                n = sum(counts.values())
                text = f"{counts.get('good', 0)}/{n}"
                failed = [lab for lab in LABELS if lab != "good" and counts.get(lab, 0)]
                if failed:
                    top = max(failed, key=lambda lab: counts[lab])  # max keeps the first of equal counts
                    text += f"\n{top} {counts[top]}"
                ax.text(c, r, text, ha="center", va="center", fontsize=font,
                        color=text_color_on(colours(float(rates[r, c]))))
        image = ax.imshow(np.ma.masked_invalid(rates), cmap=colours, vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(xs)), [_axis_text(x) for x in xs], fontsize=8)
        ax.set_yticks(range(len(ys)), [_axis_text(y) for y in ys] if len(names) > 1 else [], fontsize=8)
        ax.set_xlabel(_axis_name(names[0]))
        if len(names) > 1:
            ax.set_ylabel(_axis_name(names[1]))
        if facet is not None:
            ax.set_title(f"{_axis_name(names[2])} = {_axis_text(facet)}", fontsize=9)
    for ax in axes.flat[len(facets):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes.ravel().tolist(), label="success rate", shrink=0.9)
    config = result.get("config", {})
    fig.suptitle(title or f"success (W1 < {SUCCESS_W1_FRACTION:g} target std) over {config.get('seeds', '?')} seeds a "
                 f"cell, {config.get('rounds', '?')} rounds", fontsize=10)
    return fig


__all__ += ["plot_sweep_map"]


# Words for the budget axes of `ganlib.train.History.budget`.
BUDGET_AXIS_NAMES = {"round": "round", "g_updates": "G updates", "d_updates": "D updates", "cpu_seconds": "CPU seconds"}


def plot_budget(
    results: Mapping[str, Any],
    axis: str = "g_updates",
    ax: Axes | None = None,
    metric: str = "w1",
    *,
    target_std: float | None = None,
    title: str | None = None,
) -> Figure:
    """Each named result's median W1 (or KS) over its runs against the budget spent, with the 25-75% band.

    `results` maps a name to a `TrainResult` (its trainer gives the target's std) or a `History`
    (then give `target_std`). `axis` is the budget on the x axis: "g_updates" (the default),
    "d_updates", "cpu_seconds" or "round" (see `History.budget`): recipes that take different
    numbers of D steps a round, or different time a step, are compared at equal cost, not at equal
    rounds. `metric` "w1" draws W1 in target std with the success line, "ks" the KS distance. A run
    that diverged (NaN) counts as infinitely far, since it failed: a median or quartile it makes
    infinite leaves a gap. Any other axis or metric, no results, or more results than the palette has
    recipe colours (seven), is a one-line ValueError.
    """
    if axis not in BUDGET_AXIS_NAMES:
        raise ValueError(f"axis={axis!r} is not allowed: choose one of {', '.join(BUDGET_AXIS_NAMES)}")
    if metric not in ("w1", "ks"):
        raise ValueError(f"metric={metric!r} is not allowed: choose one of w1, ks")
    if not results:
        raise ValueError("plot_budget needs at least one result to draw")
    if len(results) > len(RECIPE_COLORS):
        # Colours repeated on one axis would make two recipes one.
        raise ValueError(f"plot_budget draws at most {len(RECIPE_COLORS)} results on one axis (the palette's "
                         f"recipe colours); got {len(results)}")
    fig, ax = _ax_or_new(ax, 6.4, 3.6)
    for i, (name, result) in enumerate(results.items()):
        # A TrainResult carries its history and its trainer's target; a bare History needs target_std.
        history = getattr(result, "history", result)
        values = np.array(getattr(history, metric), dtype=float)
        if metric == "w1":
            std = result.trainer.target.std if hasattr(result, "trainer") else target_std
            if std is None:
                raise ValueError(f"results[{name!r}] is a History: give target_std to draw W1 in target std")
            values = values / std
        values[~np.isfinite(values)] = np.inf
        with np.errstate(invalid="ignore"):
            low, mid, high = np.quantile(values, [0.25, 0.5, 0.75], axis=0)
        # Infinite quantiles (and the NaN inf - inf makes in between) are drawn as gaps.
        low, mid, high = (np.where(np.isfinite(q), q, np.nan) for q in (low, mid, high))
        x = np.asarray(history.budget(axis), dtype=float)
        colour = RECIPE_COLORS[i]
        ax.fill_between(x, low, high, color=colour, alpha=0.2, lw=0)
        ax.plot(x, mid, color=colour, lw=1.8, label=f"{name} ({values.shape[0]} runs)")
    if metric == "w1":
        ax.axhline(SUCCESS_W1_FRACTION, color=COLORS["reference"], ls=":", lw=1,
                   label=f"success: W1 < {SUCCESS_W1_FRACTION:g} sd")
        ax.set_ylabel("W1 to target (sd)")
    else:
        ax.set_ylabel("KS distance to target")
    ax.set_yscale("log")
    ax.set_xlabel(BUDGET_AXIS_NAMES[axis])
    ax.legend(fontsize=9, loc="best", framealpha=0.8, title="median, band: 25th-75th percentile", title_fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


__all__ += ["plot_budget", "BUDGET_AXIS_NAMES"]
