"""The live dashboard in two dimensions: D's surface, the target's modes and G's points with their push.

GAN Lab's picture, drawn by the browser as the 1-D dashboard is (`LivePlot`, see dashboard.py for
why): one panel shows, for one run, D's output on a grid as a heat map, the target's mode centres
with circles of 3 component stds (what counts as high quality), a few hundred of G's points and an
arrow on each, where G's loss pushes it (`PlaneTrainer.push`); the other shows the modes covered
and the share of high-quality points at each evaluation, the run shown bold and any others faint.
Per frame the kernel sends D's grid (64 x 64 float32 numbers, 16 kB), the points and their push,
and the evaluations since the last frame: a frame costs the same at round 20 as at round 20,000.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from ganlib import palette
from ganlib.plane import (
    D_INPUTS,
    D_PENALTIES,
    PLANE_LOSSES,
    PLANE_TARGETS,
    QUALITY_RADIUS,
    PlaneConfig,
    PlaneTrainer,
    toward_nearest_mode,
)
from ganlib.widgets.controls import control_layout, on_refused
from ganlib.widgets.dashboard import LiveDashboard

# G's points drawn, each with its arrow: GAN Lab draws a few hundred; more hide the modes' circles.
N_POINTS = 300
# D's grid: 64 x 64 cells, drawn smoothed over a panel of ~400 px (a cell is ~6 px), 0.3 ms of D a frame.
GRID = 64
# The longest arrow of a frame is this share of the box's side. Scaled per frame, as in 1-D (see
# dashboard.ARROW_LENGTH): the push of a WGAN critic and of a cross-entropy D differ by orders of
# magnitude; the text gives the sizes.
ARROW_LENGTH_2D = 0.08
# Rounds between evaluations (modes covered, high-quality share): an evaluation measures the sliced
# distance too, which cost ~14 ms for one run of 1,000 points on this machine against ~1.3 ms a
# round, so every 50 rounds keeps it near a fifth of the training time. Points a run it measures:
EVAL_EVERY_2D = 50
EVAL_SAMPLES_2D = 1000
# Colours of the heat map: the course's sequential map (colour-blind safe, lightness in order), sent
# to the browser as 256 steps; the heat map is drawn at this opacity over the background, so G's
# points, their arrows and the modes' circles stay readable on its dark end.
HEAT_STEPS = 256
HEAT_ALPHA = 0.7


def heat_lut(steps: int = HEAT_STEPS) -> list[str]:
    """The heat map's colours, low to high: `palette.SEQUENTIAL_CMAP` sampled at `steps` points, as '#rrggbb'."""
    cmap = colormaps[palette.SEQUENTIAL_CMAP]
    return [to_hex(cmap(v)) for v in np.linspace(0.0, 1.0, steps)]


def describe_plane_frame(round_: int, seed: int, modes_covered: int, modes: int, high_quality: float,
                         eval_round: int, d_label: str, surface: np.ndarray, points: np.ndarray,
                         push: np.ndarray | None, centres: np.ndarray, diverged: bool) -> str:
    """The 2-D frame's one-line text alternative, from its numbers.

    For example "round 1200, seed 0: G covers 6 of 8 modes, 83% of its points high quality (evaluated
    at round 1200); D(x) from 0.12 to 0.91; arrows: 70% point toward the nearest mode, mean length 0.42".
    """
    if diverged:
        return f"round {round_}, seed {seed}: the run diverged"
    text = (f"round {round_}, seed {seed}: G covers {modes_covered} of {modes} modes, {high_quality:.0%} of its "
            f"points high quality (evaluated at round {eval_round})")
    s = np.asarray(surface, dtype=float)
    s = s[np.isfinite(s)]
    if s.size:
        text += f"; {d_label} from {s.min():.2g} to {s.max():.2g}"
    if push is None:
        return text + "; arrows off"
    share = float(toward_nearest_mode(points, push, centres))
    if math.isnan(share):
        return text + "; no finite push"
    length = np.linalg.norm(np.asarray(push, dtype=float), axis=-1)
    length = length[np.isfinite(length)]
    return f"{text}; arrows: {share:.0%} point toward the nearest mode, mean length {length.mean():.2g}"


class PlaneFrames:
    """What the 2-D dashboard shows of run `run` of a `PlaneTrainer`: a `spec` (fixed per run) and frames.

    Panel 0: D's output on a GRID x GRID grid of cell centres over `trainer.extent` (the probability
    D(x) for the cross-entropy loss, on a fixed 0-1 colour scale; the critic's value for the WGANs,
    on the frame's own range, since only its differences mean anything), the target's centres with
    circles of QUALITY_RADIUS stds, and `n_points` of G's points from `trainer.push` with, when
    `arrows`, their push. Panel 1: modes covered (left axis) and the high-quality share (right axis)
    at each evaluation, run `run` first (bold), the others faint.
    """

    def __init__(self, trainer: PlaneTrainer, *, run: int = 0, arrows: bool = True, n_points: int = N_POINTS,
                 grid: int = GRID) -> None:
        if isinstance(run, bool) or not isinstance(run, (int, np.integer)) or not 0 <= run < trainer.k:
            raise ValueError(f"run={run!r} is not allowed: a run of the trainer, from 0 to {trainer.k - 1}")
        self.trainer = trainer
        self.run = int(run)
        self.arrows = arrows
        self.n_points = n_points
        (x0, x1), (y0, y1) = trainer.extent
        self.xs = x0 + (np.arange(grid) + 0.5) * (x1 - x0) / grid
        self.ys = y0 + (np.arange(grid) + 0.5) * (y1 - y0) / grid
        self.bce = trainer.config.loss == "bce"
        self.d_label = "D(x)" if self.bce else "critic f(x)"
        # The run shown first: the browser draws a series' first row bold.
        self.order = [self.run] + [k for k in range(trainer.k) if k != self.run]
        self._evals_sent = 0
        self._eval_checked: int | None = None
        self.last_eval_round = 0
        self.alt = ""

    def spec(self) -> dict[str, Any]:
        """The two panels, the target's centres and circles, the heat map's colours, and the series frames update."""
        tr, c = self.trainer, palette.COLORS
        (x0, x1), (y0, y1) = tr.extent
        modes = int(len(tr.target.centres))
        faint = " (other seeds faint)" if tr.k > 1 else ""
        plane = {
            "kind": "plane", "title": f"{self.d_label} and G's points (seed {tr.seeds[self.run]})",
            "x": [float(x0), float(x1)], "y": [float(y0), float(y1)], "xlabel": "x1", "ylabel": "x2",
            "centres": np.asarray(tr.target.centres, dtype=float).tolist(),
            "radius": QUALITY_RADIUS * float(tr.target.std), "mode_color": c["target"],
            "colorbar": {"label": self.d_label, "lut": heat_lut(), "range": [0.0, 1.0] if self.bce else None,
                         "alpha": HEAT_ALPHA},
            "legend": [{"label": "G's points", "color": c["G"], "kind": "dot"},
                       {"label": "G's push", "color": c["G"], "kind": "arrow"},
                       {"label": f"{tr.target.name} modes, {QUALITY_RADIUS:g} std", "color": c["target"],
                        "kind": "ring"}],
        }
        coverage = {
            "title": "modes covered and high-quality share", "xlabel": "round", "ylabel": "modes covered",
            "x_from_zero": True, "xmin_span": 100, "y": [0.0, modes + 0.5], "y2": [0.0, 1.0],
            "y2label": "high-quality share",
            "hlines": [{"y": modes, "color": c["target"], "dash": [6, 4], "width": 1.2}],
            "legend": [{"label": f"modes covered{faint}", "color": c["G"]},
                       {"label": "high-quality share", "color": c["std"], "dash": [5, 3]},
                       {"label": f"all {modes} modes", "color": c["target"], "dash": [6, 4]}],
        }
        # With several runs the others are faint; a run alone is drawn in full.
        alpha = 0.35 if tr.k > 1 else 1.0
        series = {
            "surface": {"panel": 0, "kind": "heatmap", "nx": int(self.xs.size), "ny": int(self.ys.size)},
            "points": {"panel": 0, "kind": "points", "color": c["G"], "length": ARROW_LENGTH_2D},
            "modes": {"panel": 1, "kind": "line", "color": c["G"], "alpha": alpha, "width": 1.5, "first_width": 2},
            "quality": {"panel": 1, "kind": "line", "color": c["std"], "alpha": alpha, "width": 1.5,
                        "first_width": 2, "dash": [5, 3], "axis": 2},
        }
        return {"rows": 1, "cols": 2, "panels": [plane, coverage], "series": series, "theme": palette.theme()}

    def frame(self, full: bool = False) -> tuple[dict[str, Any], list[tuple[dict, list[np.ndarray]]]]:
        """The header and parts of the next frame: D's grid, G's points (and push), the evaluations since the last.

        With `full`, the evaluations are sent from the first (a new page, or a new run).
        """
        tr, k = self.trainer, self.run
        one = slice(k, k + 1)  # only the run shown: a 10-run trainer would pay ten times for the others
        surface = tr.surface(self.xs, self.ys, runs=one)[0]
        points, push = (a[0] for a in tr.push(self.n_points, runs=one))
        rows = [points[:, 0], points[:, 1]] + ([push[:, 0], push[:, 1]] if self.arrows else [])
        parts: list[tuple[dict, list[np.ndarray]]] = [
            ({"id": "surface", "mode": "replace"}, [surface.reshape(1, -1)]),
            # Rows x, y and, with the arrows on, the push's two components.
            ({"id": "points", "mode": "replace"}, [np.stack(rows)]),
        ]
        parts += self._evaluations(full)
        cov = tr.coverage()
        modes = int(len(tr.target.centres))
        diverged = tr.diverged_at[k] is not None
        self.alt = describe_plane_frame(tr.round, tr.seeds[k], int(cov["modes_covered"][k]), modes,
                                        float(cov["high_quality"][k]), self.last_eval_round, self.d_label, surface,
                                        points, push if self.arrows else None, tr.target.centres, diverged)
        header = {"round": tr.round, "alt": self.alt,
                  "titles": {"0": f"round {tr.round}: {self.d_label} and G's points (seed {tr.seeds[k]})"}}
        return header, parts

    def _evaluations(self, full: bool) -> list[tuple[dict, list[np.ndarray]]]:
        """Parts appending the evaluations recorded since the last frame (all of them with `full`).

        The trainer's history is rebuilt on each access, so it is read only when the run has crossed a
        multiple of eval_every since the last look, where the dashboard's steps evaluate. (An
        evaluation that a step from code added elsewhere, at its end, arrives with the next crossing.)
        """
        tr = self.trainer
        every = tr.config.eval_every
        if full:
            self._evals_sent = 0
        elif self._eval_checked is not None and tr.round // every == self._eval_checked // every:
            return []
        self._eval_checked = tr.round
        h = tr.history
        new = slice(self._evals_sent, None)
        x = h.eval_round[new].astype(float)
        if h.eval_round.size:
            self.last_eval_round = int(h.eval_round[-1])
        self._evals_sent = int(h.eval_round.size)
        mode = "reset" if full else "append"
        return [({"id": "modes", "mode": mode}, [h.modes_covered[self.order, new].astype(float), x]),
                ({"id": "quality", "mode": mode}, [h.high_quality[self.order, new].astype(float), x])]


# The controls: what the reader may change (each change starts a new run), as (kind, label, options).
PLANE_CONTROLS: dict[str, tuple[str, str, tuple]] = {
    "target": ("choice", "target", PLANE_TARGETS),
    "loss": ("choice", "loss", PLANE_LOSSES),
    "d_input": ("choice", "D sees", D_INPUTS),
    "d_penalty": ("choice", "D penalty", D_PENALTIES),
    "component_std": ("log", "mode std", (-2.0, -0.3, 0.05)),
    "d_lr": ("log", "D learning rate", (-5.0, -1.0, 0.1)),
    "g_lr": ("log", "G learning rate", (-5.0, -1.0, 0.1)),
    "seed": ("int", "seed", (0, 99, 1)),
}


def plane_control(name: str, value: Any) -> W.Widget:
    """One control for PlaneConfig field `name` (see PLANE_CONTROLS), set to `value`; sliders apply on release."""
    if name not in PLANE_CONTROLS:
        raise ValueError(f"no control for field {name!r}; known: {', '.join(PLANE_CONTROLS)}")
    kind, label, opts = PLANE_CONTROLS[name]
    common = dict(description=label, style={"description_width": "100px"}, layout=control_layout())
    if kind == "choice":
        return W.Dropdown(options=opts if value in opts else (*opts, value), value=value, **common)
    lo, hi, step = opts
    # A slider would silently clamp a value outside its range: widen the range instead.
    if kind == "log":
        exp = math.log10(value)
        return W.FloatLogSlider(value=value, base=10, min=min(lo, math.floor(exp)), max=max(hi, math.ceil(exp)),
                                step=step, continuous_update=False, readout_format=".2g", **common)
    return W.IntSlider(value=value, min=min(int(lo), value), max=max(int(hi), value), step=int(step),
                       continuous_update=False, **common)


class PlaneDashboard(LiveDashboard):
    """Play, Pause, Step and Reset a 2-D GAN and watch D's surface, G's points and their push, live.

    Give it a `PlaneConfig` (one run is trained, seed `config.seed`: the seed control picks another)
    or a `PlaneTrainer` (shown from where it is; run `run` of its K, the others faint in the coverage
    panel; Reset trains a new single run from the controls). Every control starts a new run and says
    so. The status line gives the round, the modes covered and the high-quality share at the last
    evaluation. A config the trainer refuses (or anything but a PlaneConfig or a PlaneTrainer) is a
    one-line message in the widget; the controls then start a run once they describe one.
    """

    def __init__(
        self,
        source: PlaneConfig | PlaneTrainer,
        fields: Sequence[str] = ("target", "loss", "d_input", "component_std", "d_lr", "g_lr", "seed"),
        *,
        run: int = 0,
        chunk: int = 20,
        max_rounds: int = 20_000,
        height: int | str = 460,
        frame_rate: float = 30.0,
        train_share: float = 0.7,
    ) -> None:
        self._given: PlaneTrainer | None = None
        self._refused: str | None = None
        if isinstance(source, PlaneTrainer):
            self._given, base = source, source.config
        elif isinstance(source, PlaneConfig):
            base = source
        else:
            base = PlaneConfig()
            self._refused = (f"PlaneDashboard needs a PlaneConfig or a PlaneTrainer, got {type(source).__name__}: "
                             "the controls below show the defaults")
        self.base = base
        self.run = run
        controls = {f: plane_control(f, getattr(base, f)) for f in fields}
        super().__init__(controls, chunk=chunk, max_rounds=max_rounds, height=height, frame_rate=frame_rate,
                         train_share=train_share)
        self.trainer: PlaneTrainer | None = None
        self._source: PlaneFrames | None = None
        # A typed value out of range: one line on the message line, and the run goes on.
        on_refused(list(controls.values()), lambda text: self.notify(text, "error"))
        for name, c in controls.items():
            c.observe(lambda ch, name=name: self._guard(self.reset, f"{PLANE_CONTROLS[name][1]} changed"),
                      names="value")
        self._start()

    def current_config(self) -> PlaneConfig:
        """The PlaneConfig the controls describe, one run (raises a one-line ValueError for a refused one)."""
        return self.base.replace(seeds=1, **{name: c.value for name, c in self.controls.items()})

    def _new_trainer(self) -> PlaneTrainer:
        if self._refused is not None:
            refused, self._refused = self._refused, None
            raise ValueError(refused)
        if self._given is not None:
            given, self._given = self._given, None
            return given
        return PlaneTrainer(self.current_config().replace(eval_every=EVAL_EVERY_2D, eval_samples=EVAL_SAMPLES_2D))

    def _new_source(self, trainer: PlaneTrainer) -> PlaneFrames:
        run = self.run if trainer.k > 1 else 0
        return PlaneFrames(trainer, run=run, arrows=self.arrows.value)

    def _status_detail(self) -> str:
        if self.trainer is None or self._source is None:
            return ""
        # The seed is in the panel's title: the line stays short enough for the buttons' row.
        k, cov = self._source.run, self.trainer.coverage()
        modes = int(len(self.trainer.target.centres))
        return (f" · {int(cov['modes_covered'][k])} of {modes} modes covered · "
                f"{float(cov['high_quality'][k]):.0%} high quality")


__all__ = ["PlaneDashboard", "PlaneFrames", "PLANE_CONTROLS", "plane_control", "describe_plane_frame",
           "toward_nearest_mode", "heat_lut", "N_POINTS", "GRID", "EVAL_EVERY_2D"]
