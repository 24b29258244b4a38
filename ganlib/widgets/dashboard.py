"""The live training dashboard: Play, Pause, Step and Reset, with six panels drawn by the browser.

Why the browser draws: a new six-panel matplotlib figure shipped as PNG cost about 230 ms a frame
(2 redraws a second in JupyterLab), and even reusing the figure cost 67 ms. Candidate libraries,
measured kernel-side for one frame of this dashboard (3 runs; histogram, D(x) and D*, maps, losses
one point per round, moments and W1 one point per 20 rounds), message serialised as the kernel
does, on the shared 2-core machine:

    library                         round 20          round 3,000        round 20,000
    plotly FigureWidget (batch)     6.95 ms, 15 kB    7.10 ms, 169 kB    7.56 ms, 1,046 kB
    bqplot (6 figures, Lines)       0.19 ms, 14 kB    0.21 ms, 168 kB    0.45 ms, 1,045 kB
    anywidget, new data only        0.01 ms, 6.5 kB   0.01 ms, 6.5 kB    0.02 ms, 6.5 kB

plotly and bqplot set whole trace arrays, so each frame resends the history: 1 MB a frame by
round 20,000 (20 MB/s at 20 frames a second through the Jupyter server, re-parsed and redrawn by
the browser). plotly's widget also carries a 4.8 MB JavaScript bundle that is saved into every
notebook's widget state. anywidget with our own canvas renderer (`live_plot.js`, a few hundred
lines, no imports, so it works offline) appends only the new points, and its JavaScript is small
enough to ship inside ganlib. So: anywidget.

Per frame the kernel samples G, evaluates D and G on grids and the optimal discriminator D*, takes
G's push on 80 of its values (`Trainer.generator_push`, drawn as arrows under the
histogram, as GAN Lab draws them), and sends those curves plus the history points since the last
frame; see `DashboardFrames`. Its cost does not grow with the round (measured in
`benchmarks/slider_latency.py`).
"""

from __future__ import annotations

import asyncio
import math
import numbers
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W
import numpy as np

from ganlib import palette, plots
from ganlib.config import Config
from ganlib.distributions import ideal_generator
from ganlib.metrics import optimal_discriminator
from ganlib.train import LIVE_FIELDS, Trainer
from ganlib.widgets.controls import (
    FIELD_SPECS,
    config_with,
    control_grid,
    divergence_message,
    field_value,
    make_control,
    message_html,
)
from ganlib.widgets.live_plot import LivePlot
from ganlib.widgets.panel import running_loop

ALL_DIVERGED = "all runs diverged: press Reset"
# Arrows drawn under the histogram: enough to show where the push changes sign and how it varies
# along the axis, few enough to stay apart: horizontal arrows on one axis overlap unless they take
# rows, and the strip under a 420 px dashboard's histogram has room for 8 rows of 10 (200 arrows
# were a solid block there).
N_ARROWS = 80
# The longest arrow of a frame spans this share of the x axis, about the gap between two arrows of a
# row. Scaled per frame, not on a fixed scale: the push's size varies by orders of magnitude between
# losses (a clipped WGAN critic's slope is ~100 times smaller than a cross-entropy D's) and over a
# run (a saturating D), so any fixed scale leaves the arrows invisible on some settings and crossing
# the panel on others. What the picture teaches is the direction and the relative size along the
# axis; the size itself is in the text (mean and largest push), where a vanishing gradient shows as
# a number falling by decades.
ARROW_LENGTH = 0.07


class DashboardFrames:
    """What the dashboard's six panels show, as a `spec` (fixed per run) and frames of new data.

    The panels: G's histogram against the target's pdf; D(x) (or the critic f(x)) with the optimal
    D* = p_R / (p_R + p_G) of run 0 - or, when D sees whole batches, G's sorted samples against the
    target's quantiles; G's map against both monotone ideal maps; D and G losses; generated mean
    and std against the targets; W1 in target std with the success line at 0.1. Run 0 is drawn
    bold, the other runs faint. With `arrows`, a strip under the histogram holds an arrow on each of
    `n_arrows` of run 0's values (`Trainer.generator_push`): where G's loss pushes that value.
    """

    def __init__(self, trainer: Trainer, *, n_samples: int = 1000, bins: int = 60, grid: int = 200,
                 arrows: bool = True, n_arrows: int = N_ARROWS) -> None:
        self.trainer = trainer
        self.arrows = arrows
        # generator_push takes whole batches when D sees batches: as many values as fit the evaluation.
        c = trainer.config
        per = c.batch_size if (not trainer.features.per_value or trainer.features.cross_sample) else 1
        self.n_arrows = min(n_arrows, c.eval_samples // per * per)
        # The one-line text alternative of the latest frame, built from its numbers.
        self.alt = ""
        self.n_samples = n_samples
        self.bins = bins
        target = trainer.target
        self.lo, self.hi = plots.plot_range(target, None, 4.0)
        self.xs = np.linspace(self.lo, self.hi, grid)
        self.per_value_d = trainer.features.per_value
        self.bce = trainer.config.loss == "bce"
        self.has_map = trainer.config.generator == "per_value" and trainer.config.noise_dim == 1
        self.z = plots._noise_grid(trainer.noise, grid)
        self.z_quantiles = np.asarray(trainer.noise.icdf((np.arange(n_samples) + 0.5) / n_samples), dtype=float)
        n_batch = trainer.config.batch_size
        self.p = (np.arange(n_batch) + 0.5) / n_batch
        self._rounds_sent = 0
        self._evals_sent = 0

    # --- fixed per run ---
    def spec(self) -> dict[str, Any]:
        """Panels, their fixed curves and reference lines, and the series that frames update."""
        tr, target, c = self.trainer, self.trainer.target, plots.COLORS
        seed = tr.seeds[0]
        pdf_x = np.linspace(self.lo, self.hi, 400)
        pdf = np.asarray(target.pdf(pdf_x), dtype=float)
        faint = " (other seeds faint)" if tr.k > 1 else ""
        panels: list[dict[str, Any]] = [{
            "title": f"G's samples (seed {seed})", "xlabel": "x", "ylabel": "density", "x": [self.lo, self.hi],
            "y_from_zero": True, "ylimits": [0.0, 4.0 * float(pdf.max())],
            "lines": [_line(pdf_x, pdf, c["target"], 2)],
            "legend": [{"label": "G's histogram", "color": c["G"], "kind": "bar"},
                       {"label": f"target {target.name} pdf", "color": c["target"]},
                       {"label": "G's push", "color": c["G"], "kind": "arrow"}],
            # The share of the plot's height the arrows' strip takes, under the histogram, when there are arrows.
            "strip": 0.36,
        }]
        series: dict[str, dict[str, Any]] = {
            "hist": {"panel": 0, "kind": "bars", "x0": self.lo, "x1": self.hi, "color": c["G"], "alpha": 0.45},
            "arrows": {"panel": 0, "kind": "arrows", "color": c["G"], "length": ARROW_LENGTH, "width": 1.3, "rows": 8},
        }
        if self.per_value_d:
            d_label = "D(x)" if self.bce else "critic f(x)"
            panel = {"title": "what D says about each x", "xlabel": "x", "ylabel": d_label, "x": [self.lo, self.hi],
                     "legend": [{"label": f"{d_label}{faint}", "color": c["D"]},
                                {"label": "D* = pR/(pR+pG)", "color": c["D*"], "dash": [5, 3]}]}
            if self.bce:
                panel.update(y=[0.0, 1.0], hlines=[{"y": 0.5, "color": c["D"], "dash": [2, 3], "width": 1}])
            else:
                panel.update(y2=[0.0, 1.0], y2label="D*")
            panels.append(panel)
            series["d"] = {"panel": 1, "kind": "line", "x": self.xs.tolist(), "color": c["D"], "alpha": 0.35,
                           "first_width": 2, "width": 1.2}
            series["dstar"] = {"panel": 1, "kind": "line", "x": self.xs.tolist(), "color": c["D*"], "width": 1.5,
                               "dash": [5, 3], "axis": 1 if self.bce else 2}
        else:
            q = target.icdf(self.p)
            span = float(q[-1] - q[0])
            panels.append({
                "title": f"D sees '{tr.config.features}': sorted sample", "xlabel": "probability p",
                "ylabel": "quantile",
                "x": [0.0, 1.0], "ylimits": [float(q[0]) - span, float(q[-1]) + span],
                "lines": [_line(self.p, q, c["target"], 2)],
                "legend": [{"label": "target quantiles", "color": c["target"]},
                           {"label": f"G's sorted sample{faint}", "color": c["G"]}],
            })
            series["quantiles"] = {"panel": 1, "kind": "line", "x": self.p.tolist(), "color": c["G"], "alpha": 0.35,
                                   "first_width": 2, "width": 1.2}
        if self.has_map:
            inc = ideal_generator(target, tr.noise, self.z)
            dec = ideal_generator(target, tr.noise, self.z, decreasing=True)
            top, bottom = float(max(inc.max(), dec.max())), float(min(inc.min(), dec.min()))
            span = top - bottom
            panels.append({
                "title": "G's map against both ideal maps", "xlabel": "noise z", "ylabel": "x = G(z)",
                "x": [float(self.z[0]), float(self.z[-1])], "ylimits": [bottom - span, top + span],
                "lines": [_line(self.z, inc, c["G*"], 2.5), _line(self.z, dec, c["G*"], 1.8, [6, 4])],
                "legend": [{"label": "ideal, increasing", "color": c["G*"], "width": 2.5},
                           {"label": "decreasing", "color": c["G*"], "dash": [6, 4]},
                           {"label": f"G(z){faint}", "color": c["G"]}],
            })
            series["map"] = {"panel": 2, "kind": "line", "x": self.z.tolist(), "color": c["G"], "alpha": 0.35,
                             "first_width": 2, "width": 1.2}
        else:
            panels.append({"title": "G's map", "message": "G maps a whole noise vector: no map z -> x to draw"})
        panels.append({"title": "losses", "xlabel": "round", "ylabel": "loss", "x_from_zero": True,
                       "xmin_span": 20, "legend": [{"label": "D loss", "color": c["D"]},
                                                   {"label": "G loss", "color": c["G"]}]})
        series["d_loss"] = {"panel": 3, "kind": "line", "color": c["D"], "alpha": 0.35, "width": 1, "first_width": 1.5}
        series["g_loss"] = {"panel": 3, "kind": "line", "color": c["G"], "alpha": 0.35, "width": 1,
                            "first_width": 1.5}
        panels.append({
            "title": "generated mean and std", "xlabel": "round", "ylabel": "mean and std", "x_from_zero": True,
            "xmin_span": 20,
            "hlines": [{"y": target.mean, "color": c["target"], "dash": [6, 4], "width": 1.5},
                       {"y": target.std, "color": c["target"], "dash": [2, 3], "width": 1.5}],
            "ylimits": [target.mean - 6 * target.std - 1, target.mean + 6 * target.std + 1],
            "legend": [{"label": "mean", "color": c["G"]}, {"label": "std", "color": c["std"]},
                       {"label": f"targets {target.mean:g}, {target.std:g}", "color": c["target"], "dash": [6, 4]}],
        })
        series["mean"] = {"panel": 4, "kind": "line", "color": c["G"], "alpha": 0.35, "width": 1, "first_width": 1.8}
        series["std"] = {"panel": 4, "kind": "line", "color": c["std"], "alpha": 0.35, "width": 1, "first_width": 1.8}
        panels.append({
            "title": "W1 to the target", "xlabel": "round", "ylabel": "W1 / target std", "x_from_zero": True,
            "xmin_span": 20, "ylog": True, "ylimits": [1e-3, 1e3],
            "hlines": [{"y": 0.1, "color": c["reference"], "dash": [2, 3], "width": 1.2}],
            "legend": [{"label": f"W1{faint}", "color": c["G"]},
                       {"label": "success: 0.1", "color": c["reference"], "dash": [2, 3]}],
        })
        series["w1"] = {"panel": 5, "kind": "line", "color": c["G"], "alpha": 0.35, "width": 1, "first_width": 1.8}
        return {"rows": 2, "cols": 3, "panels": panels, "series": series, "theme": palette.theme()}

    # --- one frame ---
    def frame(self, full: bool = False) -> tuple[dict[str, Any], list[tuple[dict, list[np.ndarray]]]]:
        """The header and the parts of the next frame: current curves, and history since the last frame.

        With `full`, the histories are sent from round 0 (a new page, or a new run).
        """
        tr, target = self.trainer, self.trainer.target
        if full:
            self._rounds_sent = self._evals_sent = 0
        mode = "reset" if full else "append"
        if self.has_map:
            # G at evenly spaced noise quantiles: its distribution without sampling noise, and
            # cheaper than fresh samples (no random draws).
            samples = tr.generator_map(self.z_quantiles)
        else:
            samples = tr.sample(self.n_samples)
        first = samples[0]
        finite = first[np.isfinite(first)]
        counts = np.zeros(self.bins)
        if finite.size:
            counts, _ = np.histogram(finite, bins=self.bins, range=(self.lo, self.hi))
            counts = counts / (finite.size * (self.hi - self.lo) / self.bins)
        parts: list[tuple[dict, list[np.ndarray]]] = [({"id": "hist", "mode": "replace"}, [counts[None, :]])]
        push = None
        if self.arrows and self.n_arrows:
            values, push = (a[0] for a in tr.generator_push(self.n_arrows, runs=slice(0, 1)))
            # One (2, n) array: row 0 the values (where the arrows start), row 1 the push (their length).
            parts.append(({"id": "arrows", "mode": "replace"}, [np.stack([values, push])]))
        else:
            parts.append(({"id": "arrows", "mode": "clear"}, []))
        if self.per_value_d:
            parts.append(({"id": "d", "mode": "replace"}, [tr.discriminator_curve(self.xs)]))
            dstar = optimal_discriminator(self.xs, finite, target) if finite.size > 1 else np.full(self.xs.size, np.nan)
            parts.append(({"id": "dstar", "mode": "replace"}, [dstar[None, :]]))
        else:
            quantiles = np.sort(samples[:, : self.p.size], 1)
            parts.append(({"id": "quantiles", "mode": "replace"}, [quantiles]))
        if self.has_map:
            parts.append(({"id": "map", "mode": "replace"}, [tr.generator_map(self.z)]))
        # Only what was recorded since the last frame: a frame costs the same at round 20 and 20,000.
        per_round, eval_round, evals = tr.history_since(self._rounds_sent, self._evals_sent)
        n_new = per_round["d_loss"].shape[1]
        x_rounds = np.arange(self._rounds_sent + 1, self._rounds_sent + n_new + 1, dtype=float)
        for name in ("d_loss", "g_loss"):
            parts.append(({"id": name, "mode": mode}, [per_round[name], x_rounds]))
        self._rounds_sent += n_new
        x_evals = eval_round.astype(float)
        for name, key, scale in (("mean", "mean", 1.0), ("std", "std", 1.0), ("w1", "w1", target.std)):
            parts.append(({"id": name, "mode": mode}, [evals[key] / scale, x_evals]))
        self._evals_sent += x_evals.size
        diverged = tr.diverged_at[0] is not None
        no_arrows = "arrows off" if not self.arrows else (
            f"no arrows: D sees batches of {tr.config.batch_size} values, more than the {tr.config.eval_samples} "
            "evaluated")
        self.alt = describe_frame(tr.round, finite, target.mean, target.std, push, diverged, no_arrows)
        summary = push_summary(push) if push is not None else None
        note = "" if summary is None else f"push: mean {summary['mean']:+.2g}, {summary['right']:.0%} right"
        header = {"round": tr.round, "titles": {"0": f"round {tr.round}: G's samples (seed {tr.seeds[0]})"},
                  "texts": {"0": _stats_text(finite, diverged), "0:strip": note}, "alt": self.alt}
        return header, parts


def _line(x: np.ndarray, y: np.ndarray, color: str, width: float, dash: list[int] | None = None) -> dict[str, Any]:
    """A fixed curve of a panel (non-finite values become gaps)."""
    ys = [float(v) if math.isfinite(v) else None for v in np.asarray(y, dtype=float)]
    return {"x": np.asarray(x, dtype=float).tolist(), "y": ys, "color": color, "width": width, "dash": dash or []}


def _stats_text(values: np.ndarray, diverged: bool) -> str:
    if diverged:
        return "diverged"
    if values.size < 3:
        return "no finite samples"
    m, sd = float(values.mean()), float(values.std())
    z = (values - m) / sd if sd > 0 else np.zeros_like(values)
    return f"mean {m:6.2f}\nstd  {sd:6.2f}\nskew {np.mean(z**3):6.2f}\nkurt {np.mean(z**4) - 3:6.2f}"


def push_summary(push: np.ndarray) -> dict[str, float] | None:
    """Mean push, largest |push| and the share of values pushed right (push > 0), over the finite pushes.

    None when no push is finite (a diverged run).
    """
    p = np.asarray(push, dtype=float)
    p = p[np.isfinite(p)]
    if not p.size:
        return None
    return {"mean": float(p.mean()), "largest": float(np.abs(p).max()), "right": float(np.mean(p > 0))}


def describe_frame(round_: int, values: np.ndarray, target_mean: float, target_std: float,
                   push: np.ndarray | None, diverged: bool, no_arrows: str = "arrows off") -> str:
    """The frame's one-line text alternative, from its numbers: G's mean and std against the target's, and the arrows.

    For example "round 200: G's values mean 3.91, std 0.84 (target 4, 1.25); arrows: most values
    pushed right, mean push +0.31, largest 0.9". Without a push, `no_arrows` says why.
    """
    if diverged:
        return f"round {round_}: run 0 diverged"
    if values.size < 3:
        return f"round {round_}: G has no finite values"
    text = (f"round {round_}: G's values mean {values.mean():.2f}, std {values.std():.2f} "
            f"(target {target_mean:g}, {target_std:g})")
    if push is None:
        return f"{text}; {no_arrows}"
    summary = push_summary(push)
    if summary is None:
        return text + "; no finite push"
    right = summary["right"]
    # Two thirds either way reads as "most"; in between the push splits the values (as it does
    # when G's values straddle the target).
    way = ("most values pushed right" if right >= 2 / 3 else "most values pushed left" if right <= 1 / 3
           else f"values pushed both ways ({right:.0%} right)")
    return f"{text}; arrows: {way}, mean push {summary['mean']:+.2g}, largest {summary['largest']:.2g}"


class LiveDashboard:
    """What every live dashboard shares: Play, Pause, Step and Reset, an arrows checkbox, a status line,
    a one-line message and a `LivePlot` canvas fed by a frame source.

    A subclass builds its controls, calls `__init__` with them, and then `_start()`; it makes the
    trainer (`_new_trainer`, from its controls) and the frame source (`_new_source`: an object with
    `spec()`, `frame(full)`, `alt` and a settable `arrows`), and may add to the status line
    (`_status_detail`). In a kernel, Play runs an asyncio task that trains a few rounds, sends a
    frame and yields, so button clicks and slider moves are handled between frames; it aims at
    `frame_rate` frames a second and spends `train_share` of each frame period training (the rest
    is left to the browser and the Jupyter server, which share the machine). `step_frames(n)` trains
    `chunk` rounds and sends a frame, n times, synchronously (tests, notebook cells). The `arrows`
    checkbox shows or hides G's push; `alt_text` is the latest frame's one-line description (also the
    canvas's aria-label in the browser). Every callback catches its errors: a failure is a one-line
    message in the widget, which stays usable.
    """

    def __init__(
        self,
        controls: dict[str, W.Widget],
        *,
        chunk: int,
        max_rounds: int,
        height: int | str,
        frame_rate: float,
        train_share: float,
    ) -> None:
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk={chunk!r} is not allowed: a number of rounds >= 1")
        # Play waits 1 / frame_rate between frames: 0, a negative or a NaN rate gave a button that did nothing.
        if (isinstance(frame_rate, bool) or not isinstance(frame_rate, numbers.Real) or not math.isfinite(frame_rate)
                or frame_rate <= 0):
            raise ValueError(f"frame_rate={frame_rate!r} is not allowed: a finite number of frames a second > 0")
        self.chunk = chunk
        self.max_rounds = max_rounds
        self.frame_rate = frame_rate
        self.train_share = train_share
        self.controls = controls
        small = W.Layout(width="92px")
        self.play_button = W.Button(description="Play", icon="play", button_style="success", layout=small)
        self.pause_button = W.Button(description="Pause", icon="pause", layout=small)
        self.step_button = W.Button(description="Step", icon="step-forward", layout=small)
        self.reset_button = W.Button(description="Reset", icon="refresh", layout=small)
        # Set off from the checkbox before it, so the two do not read as one phrase.
        self.status = W.Label(value="", layout=W.Layout(margin="0 0 0 12px"))
        self.status.add_class("ganlib-status")
        # G's push on its samples, drawn as arrows (on by default: it is the picture of what G's loss
        # does; off gives the data the whole panel).
        self.arrows = W.Checkbox(value=True, description="gradient arrows", indent=False,
                                 layout=W.Layout(width="auto"))
        self.arrows.add_class("ganlib-arrows")
        self.message = W.HTML(value="")
        self.plot = LivePlot(height=int(str(height).removesuffix("px")))
        self.plot.on_snapshot_request = lambda: self._guard(self._send_snapshot)
        self.playing = False
        self.frames = 0
        self.frame_seconds: list[float] = []
        self.frame_times: list[float] = []
        self.reset_error: str | None = None
        self.trainer: Any = None
        self._source: Any = None
        self._task: asyncio.Task | None = None
        self._seconds_per_round = 0.0
        self._status_time = 0.0
        self.play_button.on_click(lambda _b: self.play())
        self.pause_button.on_click(lambda _b: self.pause())
        self.step_button.on_click(lambda _b: self._guard(self.step_frames, 1))
        self.reset_button.on_click(lambda _b: self._guard(self.reset, "Reset pressed"))
        self.arrows.observe(lambda ch: self._guard(self._arrows_change, ch["new"]), names="value")
        buttons = W.HBox([self.play_button, self.pause_button, self.step_button, self.reset_button, self.arrows,
                          self.status], layout=W.Layout(align_items="center"))
        self.widget = W.VBox([control_grid(list(controls.values())), buttons, self.message, self.plot])

    def _start(self) -> None:
        """Start the first run (a subclass calls it once its controls and settings are in place)."""
        self._guard(self.reset, "")

    # --- what a subclass provides ---
    def _new_trainer(self) -> Any:
        """A trainer for the run the controls describe (raises ValueError for a bad combination)."""
        raise NotImplementedError

    def _new_source(self, trainer: Any) -> Any:
        """The frame source of `trainer`'s run."""
        raise NotImplementedError

    def _status_detail(self) -> str:
        """What the status line says after the round ('' for nothing)."""
        return ""

    # --- helpers ---
    def notify(self, text: str, level: str = "warning") -> None:
        """Show a one-line message ('' clears it)."""
        self.message.value = message_html(text, level)

    def _guard(self, fn: Callable, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - keep the dashboard usable whatever happened
            self.pause()
            self.notify(_one_line(exc), "error")
            return None

    def _can_train(self) -> bool:
        """Whether there is a run to advance; if not, say why and pause."""
        if self.trainer is None:
            self.pause()
            self.notify(f"no run to train: {self.reset_error}. Change the settings or press Reset.", "error")
            return False
        if self.trainer.stopped:
            self.pause()
            self.notify(ALL_DIVERGED, "error")
            return False
        if self.trainer.round >= self.max_rounds:
            self.pause()
            self.notify(f"the run reached max_rounds = {self.max_rounds}: press Reset", "info")
            return False
        return True

    def _arrows_change(self, on: bool) -> None:
        if self._source is None:
            return
        self._source.arrows = bool(on)
        # While paused nothing else would redraw: show (or hide) the arrows now.
        if not self.playing:
            self.redraw()

    @property
    def alt_text(self) -> str:
        """The latest frame's one-line text alternative, built from its numbers ('' before any)."""
        return self._source.alt if self._source is not None else ""

    # --- actions ---
    def reset(self, why: str = "") -> None:
        """Start a new run from the current controls and draw its initial state."""
        self.pause()
        self.trainer = None
        self._source = None
        try:
            trainer = self._new_trainer()
            source = self._new_source(trainer)
        except Exception as exc:
            self.reset_error = _one_line(exc)
            self.plot.clear()
            self.plot.spec = {}
            self.status.value = "no run"
            raise
        self.reset_error = None
        self.trainer = trainer
        self._source = source
        self.frame_times.clear()
        self.plot.clear()
        self.plot.spec = self._source.spec()
        self.notify(f"{why}: a new run started" if why else "", "info")
        self.redraw(full=True)

    def _send_snapshot(self) -> None:
        if self._source is not None:
            self.redraw(full=True)

    def redraw(self, full: bool = False) -> None:
        """Send the browser a frame: the current pictures and the history since the last frame."""
        t0 = time.perf_counter()
        header, parts = self._source.frame(full=full)
        self.plot.send_frame(header, parts)
        now = time.perf_counter()
        self.frames += 1
        self.frame_seconds.append(now - t0)
        self.frame_times.append(now)
        del self.frame_seconds[:-200], self.frame_times[:-200]
        self._show_status()

    def _show_status(self) -> None:
        if self.trainer is None:
            return
        now = time.perf_counter()
        # While playing, one update a second: each is a message and makes the browser lay out
        # the page again (the canvas shows the round anyway).
        if self.playing and now - self._status_time < 1.0:
            return
        self._status_time = now
        text = f"round {self.trainer.round}" + self._status_detail() + ("" if self.playing else " (paused)")
        if self.playing and len(self.frame_times) > 10:
            text += f" · {self.fps:.0f} frames/s"
        self.status.value = text

    def _train(self, rounds: int) -> None:
        t0 = time.perf_counter()
        before = self.trainer.round
        self.trainer.step(min(rounds, self.max_rounds - self.trainer.round), evaluate_at_end=False)
        done = self.trainer.round - before
        if done:
            per = (time.perf_counter() - t0) / done
            self._seconds_per_round = per if self._seconds_per_round == 0 else 0.8 * self._seconds_per_round + 0.2 * per
        msg = divergence_message(self.trainer)
        if msg:
            self.notify(ALL_DIVERGED if self.trainer.stopped else msg, "error" if self.trainer.stopped else "warning")

    def step_frames(self, n: int = 1) -> None:
        """Train `chunk` rounds and send a frame, n times (synchronously)."""
        for _ in range(n):
            if not self._can_train():
                break
            self._train(self.chunk)
            self.redraw()
            if self.trainer.stopped:
                self.pause()
                break

    def play(self) -> None:
        """Train and redraw continuously until Pause (needs a running asyncio loop, as in a kernel)."""
        if self.playing or not self._can_train():
            return
        loop = running_loop()
        if loop is None:
            self.notify("no event loop here (not in a kernel): use Step", "error")
            return
        self.playing = True
        self.frame_times.clear()
        self._task = loop.create_task(self._play_loop())

    def _rounds_per_frame(self) -> int:
        """Rounds that fit in the training share of a frame period, from chunk/4 to chunk.

        The floor keeps training efficient on a slow machine: every `Trainer.step` call has a fixed
        cost (drawing the chunk's random numbers), which would cost more than the rounds themselves
        if a call trained one.
        """
        if self._seconds_per_round <= 0:
            return self.chunk
        budget = max(0.0, self.train_share / self.frame_rate - self.frame_cost_recent())
        return max(max(1, self.chunk // 4), min(self.chunk, int(budget / self._seconds_per_round)))

    def frame_cost_recent(self) -> float:
        """Median kernel seconds of the last 20 frames (0 before the first)."""
        return float(np.median(self.frame_seconds[-20:])) if self.frame_seconds else 0.0

    async def _play_loop(self) -> None:
        period = 1.0 / self.frame_rate
        while self.playing:
            t0 = time.perf_counter()
            if not self._guard(self._can_train):
                break
            self._guard(self._train, self._rounds_per_frame())
            if self.trainer is not None and self.plot.ready_for_frame():
                self._guard(self.redraw)
            # Sleep out the rest of the frame period: the kernel handles clicks and slider moves
            # meanwhile, and the browser and the Jupyter server, which draw and relay the frames
            # on the same few cores, get their share.
            await asyncio.sleep(max(0.0, period - (time.perf_counter() - t0)))
        self.playing = False
        self._show_status()

    def pause(self) -> None:
        """Stop after the current frame."""
        self.playing = False
        if self.trainer is not None:
            self.status.value = f"round {self.trainer.round}{self._status_detail()} (paused)"

    @property
    def fps(self) -> float:
        """Frames sent per second over the latest frames of Play or Step (NaN before two frames)."""
        t = self.frame_times[-60:]
        if len(t) < 2 or t[-1] <= t[0]:
            return math.nan
        return (len(t) - 1) / (t[-1] - t[0])

    @property
    def frame_cost(self) -> float:
        """Median seconds the kernel spends on one frame (sample, evaluate, send), training excluded."""
        return float(np.median(self.frame_seconds)) if self.frame_seconds else math.nan


def _one_line(exc: BaseException) -> str:
    """A message for the widget: a ValueError's own text, else the exception's type and text."""
    return str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"


class Dashboard(LiveDashboard):
    """Play, Pause, Step and Reset a training run and watch it in six panels drawn by the browser.

    Learning rates, D/G steps, clip and GP weight apply to the run in progress (the next rounds
    use them). Changing anything else (target, what D sees, widths, loss, seeds) resets the run
    and says so. The histogram's panel carries G's push on run 0's values as arrows (the `arrows`
    checkbox); see `LiveDashboard` for Play, Step and the frame rate.
    """

    def __init__(
        self,
        config: Config,
        live_fields: Sequence[str] = ("d_lr", "g_lr", "d_steps", "g_steps"),
        reset_fields: Sequence[str] = ("target", "target_mean", "target_std", "features", "width", "seed"),
        *,
        chunk: int = 20,
        max_rounds: int = 20_000,
        height: int | str = 420,
        frame_rate: float = 30.0,
        train_share: float = 0.7,
    ) -> None:
        bad = [f for f in live_fields if f not in LIVE_FIELDS]
        if bad:
            raise ValueError(f"{bad} cannot change during a run; live fields are {', '.join(LIVE_FIELDS)}")
        self.base = config
        self.live = {f: make_control(f, field_value(config, f)) for f in live_fields}
        self.shape = {f: make_control(f, field_value(config, f)) for f in reset_fields}
        super().__init__({**self.live, **self.shape}, chunk=chunk, max_rounds=max_rounds, height=height,
                         frame_rate=frame_rate, train_share=train_share)
        self.trainer: Trainer | None = None
        self._source: DashboardFrames | None = None
        for name, c in self.live.items():
            c.observe(lambda ch, name=name: self._guard(self._live_change, name, ch["new"]), names="value")
        for name, c in self.shape.items():
            c.observe(lambda ch, name=name: self._guard(self.reset, f"{FIELD_SPECS[name].label} changed"),
                      names="value")
        self._start()

    def current_config(self) -> Config:
        """The Config the controls describe."""
        return config_with(self.base, {name: c.value for name, c in self.controls.items()})

    def _new_trainer(self) -> Trainer:
        cfg = self.current_config()
        # No schedule: the learning rates are the reader's to move while the run goes on.
        return Trainer(cfg.replace(rounds=self.max_rounds, eval_every=self.chunk, eval_samples=1000, lr_decay=1.0))

    def _new_source(self, trainer: Trainer) -> DashboardFrames:
        return DashboardFrames(trainer, arrows=self.arrows.value)

    def _live_change(self, name: str, value: Any) -> None:
        if self.trainer is None:
            return
        self.trainer.set(**{name: value})
        if self.trainer.stopped:
            self.notify(ALL_DIVERGED, "error")
        else:
            self.notify(f"{FIELD_SPECS[name].label} is now {value:.3g}: the next rounds use it", "info")


__all__ = ["Dashboard", "DashboardFrames", "LiveDashboard", "ALL_DIVERGED", "describe_frame", "push_summary",
           "N_ARROWS"]
