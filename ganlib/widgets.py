"""Slider panels and the live training dashboard.

Builders return objects that hold their controls, so code and tests can set values, press
buttons and read what was drawn: `panel.controls["d_lr"].value = 1e-3` retrains exactly as a
student's slider release does. Figures arrive as PNG bytes in a `widgets.Image` of fixed height,
so the page does not jump and a headless test can check that a redraw happened.

Every callback catches its errors: a bad value or a diverging run puts a short message in the
panel and the panel stays usable.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

from ganlib import plots
from ganlib.config import ACTIVATIONS, FEATURES, GP_SIDES, LOSSES, NOISES, OPTIMIZERS, TARGETS, Config
from ganlib.train import LIVE_FIELDS, Trainer

_STYLE = {"description_width": "110px"}
_LAYOUT = W.Layout(width="330px")


@dataclass(frozen=True)
class FieldSpec:
    """How a Config field appears as a control."""

    kind: str  # "float", "log", "int", "choice", "select"
    label: str
    lo: float = 0.0
    hi: float = 1.0
    step: float = 1.0
    options: tuple = ()


# "width" is not a Config field: it sets every hidden layer of G and D to one width.
FIELD_SPECS: dict[str, FieldSpec] = {
    "target": FieldSpec("choice", "target", options=TARGETS),
    "target_mean": FieldSpec("float", "target mean", -10.0, 10.0, 0.25),
    "target_std": FieldSpec("float", "target std", 0.2, 5.0, 0.05),
    "noise": FieldSpec("choice", "noise", options=NOISES),
    "features": FieldSpec("choice", "D sees", options=FEATURES),
    "loss": FieldSpec("choice", "loss", options=LOSSES),
    "d_optimizer": FieldSpec("choice", "D optimizer", options=OPTIMIZERS),
    "g_optimizer": FieldSpec("choice", "G optimizer", options=OPTIMIZERS),
    "d_lr": FieldSpec("log", "D learning rate", -5.0, -0.5, 0.1),
    "g_lr": FieldSpec("log", "G learning rate", -5.0, -0.5, 0.1),
    "d_steps": FieldSpec("int", "D steps/round", 1, 10, 1),
    "g_steps": FieldSpec("int", "G steps/round", 1, 10, 1),
    "batch_size": FieldSpec("select", "batch size", options=(8, 16, 32, 64, 100, 128, 256, 512)),
    "sets": FieldSpec("int", "samples/step", 1, 16, 1),
    "rounds": FieldSpec("select", "rounds", options=(100, 250, 500, 1000, 2000, 3000, 5000, 10000)),
    "seed": FieldSpec("int", "seed", 0, 99, 1),
    "seeds": FieldSpec("int", "seeds", 1, 32, 1),
    "width": FieldSpec("select", "hidden width", options=(2, 4, 8, 16, 32, 50, 64, 128)),
    "clip": FieldSpec("log", "clip c", -3.0, 0.0, 0.1),
    "gp_weight": FieldSpec("log", "GP weight", -1.0, 2.0, 0.1),
    "gp_side": FieldSpec("choice", "GP side", options=GP_SIDES),
    "lr_decay": FieldSpec("log", "final lr factor", -2.0, 0.0, 0.1),
    "g_activations": FieldSpec("choice", "G activation", options=ACTIVATIONS),
    "normalize": FieldSpec("choice", "standardise", options=(True, False)),
}


def _value_of(config: Config, name: str) -> Any:
    if name == "width":
        return config.g_hidden[0]
    if name == "g_activations":
        return config.g_activations[0]
    return getattr(config, name)


def make_control(name: str, value: Any) -> W.Widget:
    """One control for field `name`, set to `value`; sliders apply on release."""
    if name not in FIELD_SPECS:
        raise ValueError(f"no control for field {name!r}; known: {', '.join(FIELD_SPECS)}")
    s = FIELD_SPECS[name]
    common = dict(description=s.label, style=_STYLE, layout=_LAYOUT)
    # A slider would silently clamp a preset's value that lies outside its range: widen it instead.
    if s.kind == "float":
        return W.FloatSlider(value=value, min=min(s.lo, value), max=max(s.hi, value), step=s.step,
                             continuous_update=False, readout_format=".2f", **common)
    if s.kind == "log":
        exp = math.log10(value)
        return W.FloatLogSlider(value=value, base=10, min=min(s.lo, math.floor(exp)), max=max(s.hi, math.ceil(exp)),
                                step=s.step, continuous_update=False, readout_format=".1e", **common)
    if s.kind == "int":
        return W.IntSlider(value=value, min=min(int(s.lo), value), max=max(int(s.hi), value), step=int(s.step),
                           continuous_update=False, **common)
    options = tuple(s.options)
    if value not in options:
        options = tuple(sorted({*options, value}, key=str)) if s.kind == "choice" else tuple(sorted({*options, value}))
    if s.kind == "select":
        return W.SelectionSlider(options=options, value=value, continuous_update=False, **common)
    return W.Dropdown(options=options, value=value, **common)


def config_with(config: Config, values: dict[str, Any]) -> Config:
    """`config` with control values applied (handles the pseudo-fields width and g_activations)."""
    changes = dict(values)
    if "width" in changes:
        w = int(changes.pop("width"))
        changes["g_hidden"] = (w,) * len(config.g_hidden)
        changes["d_hidden"] = (w,) * len(config.d_hidden)
    if "g_activations" in changes:
        changes["g_activations"] = (changes["g_activations"],) * len(config.g_hidden)
    return config.replace(**changes)


def divergence_message(trainer: Trainer) -> str | None:
    """A one-line note on runs that met NaN/inf, or None."""
    bad = [(s, r) for s, r in zip(trainer.seeds, trainer.diverged_reason) if r is not None]
    if not bad:
        return None
    seed, reason = bad[0]
    return (f"{len(bad)} of {trainer.k} run(s) diverged (seed {seed}: {reason}). "
            "Try smaller learning rates or fewer D steps.")


class Panel:
    """Controls for some Config fields, a Run button, progress, a message line and a figure.

    `job(config, panel)` does the work for the current values; it draws with `panel.show(fig)`,
    reports with `panel.set_progress(done, total)`, can put HTML under the figure with
    `panel.html.value`, and reads `panel.extras` (controls that are not Config fields). With
    `auto=True` releasing any control runs the job; the Run button always does.
    """

    def __init__(
        self,
        config: Config,
        fields: Sequence[str],
        job: Callable[[Config, Panel], None],
        *,
        auto: bool = True,
        height: str = "380px",
        title: str | None = None,
        extras: dict[str, W.ValueWidget] | None = None,
    ) -> None:
        self.base = config
        self.job = job
        self.controls: dict[str, W.Widget] = {f: make_control(f, _value_of(config, f)) for f in fields}
        # Controls that are not Config fields (say, which contenders to compare); the job reads them.
        self.extras: dict[str, W.ValueWidget] = dict(extras or {})
        self.button = W.Button(description="Run", button_style="primary", icon="play")
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="", layout=W.Layout(width="260px"))
        self.status = W.Label(value="")
        self.message = W.HTML(value="")
        self.image = W.Image(format="png", layout=W.Layout(height=height, object_fit="contain"))
        self.html = W.HTML(value="")
        self.redraws = 0
        self.runs = 0
        self.last_error: str | None = None
        self.first_draw_seconds: float | None = None
        self._t_start = 0.0
        self.button.on_click(lambda _b: self.run())
        if auto:
            for c in [*self.controls.values(), *self.extras.values()]:
                c.observe(lambda _change: self.run(), names="value")
        grid = W.GridBox([*self.controls.values(), *self.extras.values()],
                         layout=W.Layout(grid_template_columns="repeat(auto-fill, 340px)"))
        header = [W.HTML(f"<b>{title}</b>")] if title else []
        self.widget = W.VBox([*header, grid, W.HBox([self.button, self.progress, self.status]), self.message,
                              self.image, self.html])

    def current_config(self) -> Config:
        """The Config the controls describe (raises ValueError for a bad combination)."""
        return config_with(self.base, {name: c.value for name, c in self.controls.items()})

    def show(self, fig: Figure, dpi: int = 72) -> None:
        """Draw `fig` in the panel's image."""
        self.image.value = plots.to_png(fig, dpi)
        self.redraws += 1
        if self.first_draw_seconds is None:
            self.first_draw_seconds = time.perf_counter() - self._t_start

    def set_progress(self, done: float, total: float, text: str = "") -> None:
        """Show progress as a fraction done, with an optional note."""
        self.progress.value = 0.0 if total <= 0 else min(1.0, done / total)
        self.status.value = text

    def notify(self, text: str, level: str = "warning") -> None:
        """Show a one-line message above the figure ('' clears it)."""
        color = {"warning": "#b35900", "error": "#b30000", "info": "#335"}[level]
        self.message.value = f'<span style="color:{color}">{text}</span>' if text else ""

    def run(self) -> None:
        """Run the job for the current control values; errors become a message, never a traceback."""
        self._t_start = time.perf_counter()
        self.first_draw_seconds = None
        self.last_error = None
        self.runs += 1
        self.notify("")
        try:
            config = self.current_config()
            self.set_progress(0, 1, "running")
            self.job(config, self)
            self.status.value = f"done in {time.perf_counter() - self._t_start:.1f} s"
        except Exception as exc:  # noqa: BLE001 - a panel must survive any failure and say what it was
            self.last_error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
            self.notify(self.last_error, "error")
            self.status.value = "failed"


def train_progressively(
    config: Config,
    panel: Panel,
    render: Callable[[Trainer], Figure],
    *,
    first_chunk: int = 25,
    redraw_seconds: float = 0.5,
) -> Trainer:
    """Train `config` for its rounds, redrawing with `render` as it goes; returns the trainer.

    The first chunk is small so the first figure appears quickly; later redraws come at most
    every `redraw_seconds`. Divergence is reported in the panel's message line.
    """
    trainer = Trainer(config)
    last = [time.perf_counter()]

    def on_chunk(tr: Trainer) -> None:
        panel.set_progress(tr.round, config.rounds, f"round {tr.round}/{config.rounds}")
        if time.perf_counter() - last[0] >= redraw_seconds:
            panel.show(render(tr))
            last[0] = time.perf_counter()

    trainer.step(min(first_chunk, config.rounds), None)
    panel.show(render(trainer))
    last[0] = time.perf_counter()
    trainer.step(config.rounds - trainer.round, on_chunk)
    panel.show(render(trainer))
    panel.set_progress(1, 1, f"round {trainer.round}")
    msg = divergence_message(trainer)
    if msg:
        panel.notify(msg)
    return trainer


def training_panel(
    config: Config,
    fields: Sequence[str],
    render: Callable[[Trainer], Figure],
    *,
    after: Callable[[Trainer, Panel], None] | None = None,
    run_now: bool = True,
    **panel_kw: Any,
) -> Panel:
    """A Panel whose job trains the controls' config progressively and draws `render(trainer)`.

    `after(trainer, panel)` runs once training ends (for a table under the figure).
    """

    def job(cfg: Config, panel: Panel) -> None:
        trainer = train_progressively(cfg, panel, render)
        panel.trainer = trainer
        if after is not None:
            after(trainer, panel)

    panel = Panel(config, fields, job, **panel_kw)
    panel.trainer = None
    if run_now:
        panel.run()
    return panel


def summary_html(trainer: Trainer, n: int = 4000) -> str:
    """An HTML table of the runs' final results (rounded) and the success count."""
    runs = trainer.results(n)
    rows = [{"seed": r.seed, "mean": r.mean, "std": r.std, "skew": r.skew, "kurt": r.kurtosis, "W1": r.w1,
             "label": r.label} for r in runs]
    ok = sum(r.success for r in runs)
    table = plots.results_table_html(rows, ["seed", "mean", "std", "skew", "kurt", "W1", "label"], "{:.2f}")
    return f"<p>success: {ok}/{len(runs)} runs (W1 &lt; 0.1 target std)</p>{table}"


# ----------------------------------------------------------------------------------------------
# The live dashboard
# ----------------------------------------------------------------------------------------------

def dashboard_figure(trainer: Trainer, n_samples: int = 2000) -> Figure:
    """Six panels of a run in progress: histogram, D(x) or sorted sample, maps, losses, moments, W1."""
    fig, axes = plots.new_figure(2, 3, 12.0, 6.0, fast=True)
    h = trainer.history
    target = trainer.target
    samples = trainer.sample(n_samples)
    finite = np.isfinite(samples).all(1)
    shown = samples[finite] if finite.any() else samples
    lo, hi = plots.plot_range(target, None, 4.0)
    plots.plot_density(target, shown[0] if len(shown) else None, ax=axes[0, 0], xlim=(lo, hi),
                       title=f"round {trainer.round}: G's samples (seed {trainer.seeds[0]})")
    if trainer.features.per_value:
        xs = np.linspace(lo, hi, 200)
        ylabel = "D(x)" if trainer.config.loss == "bce" else "critic f(x)"
        plots.plot_discriminator(xs, trainer.discriminator_curve(xs), target, shown[0] if len(shown) else None,
                                 ax=axes[0, 1], ylabel=ylabel)
        axes[0, 1].set_title("what D says about each x", fontsize=10)
    else:
        q = np.sort(shown, 1)
        p = (np.arange(q.shape[1]) + 0.5) / q.shape[1]
        axes[0, 1].plot(p, target.icdf(p), color=plots.COLORS["target"], lw=2, label="target quantiles")
        for i, row in enumerate(q):
            axes[0, 1].plot(p, row, color=plots.COLORS["gen"], alpha=0.4, lw=1,
                            label="G's sorted sample" if i == 0 else None)
        axes[0, 1].set_xlabel("probability p")
        axes[0, 1].set_ylabel("quantile")
        axes[0, 1].legend(fontsize=8)
        axes[0, 1].set_title(f"D sees '{trainer.config.features}': quantiles", fontsize=10)
    if trainer.config.generator == "per_value" and trainer.config.noise_dim == 1:
        z = plots._noise_grid(trainer.noise)
        plots.plot_ideal_map(target, trainer.noise, trainer.generator_map(z), z, ax=axes[0, 2])
        axes[0, 2].set_title("G's map against the ideal map", fontsize=10)
    else:
        axes[0, 2].set_axis_off()
    if h.rounds:
        plots.plot_losses(h, ax=axes[1, 0], smooth=min(25, max(1, h.rounds // 4)))
    axes[1, 0].set_title("losses", fontsize=10)
    plots.plot_moments(h, target, axes=[axes[1, 1], axes[1, 1]])
    axes[1, 1].set_ylabel("mean and std")
    axes[1, 1].set_title("generated mean and std", fontsize=10)
    plots.plot_w1(h, target, ax=axes[1, 2])
    axes[1, 2].set_title("W1 to the target", fontsize=10)
    return fig


class Dashboard:
    """Play, Pause, Step and Reset a training run and watch it redraw while it trains.

    Learning rates, D/G steps, clip and GP weight apply to the run in progress (the next chunk
    uses them). Changing anything else (target, what D sees, widths, loss, seeds) resets the run
    and says so. In a kernel, Play runs an asyncio task that trains a chunk, redraws and yields,
    so button clicks and slider moves are handled between chunks. `step_frames(n)` does the same
    synchronously (tests, or a kernel without a front end).
    """

    def __init__(
        self,
        config: Config,
        live_fields: Sequence[str] = ("d_lr", "g_lr", "d_steps", "g_steps"),
        reset_fields: Sequence[str] = ("target", "target_mean", "target_std", "features", "width", "seed"),
        *,
        chunk: int = 20,
        max_rounds: int = 20_000,
        height: str = "460px",
    ) -> None:
        bad = [f for f in live_fields if f not in LIVE_FIELDS]
        if bad:
            raise ValueError(f"{bad} cannot change during a run; live fields are {', '.join(LIVE_FIELDS)}")
        self.base = config
        self.chunk = chunk
        self.max_rounds = max_rounds
        self.live = {f: make_control(f, _value_of(config, f)) for f in live_fields}
        self.shape = {f: make_control(f, _value_of(config, f)) for f in reset_fields}
        self.controls = {**self.live, **self.shape}
        self.play_button = W.Button(description="Play", icon="play", button_style="success")
        self.pause_button = W.Button(description="Pause", icon="pause")
        self.step_button = W.Button(description="Step", icon="step-forward")
        self.reset_button = W.Button(description="Reset", icon="refresh")
        self.status = W.Label(value="")
        self.message = W.HTML(value="")
        self.image = W.Image(format="png", layout=W.Layout(height=height, object_fit="contain"))
        self.playing = False
        self.frames = 0
        self.frame_seconds: list[float] = []
        self._task: asyncio.Task | None = None
        self.trainer: Trainer | None = None
        self.play_button.on_click(lambda _b: self.play())
        self.pause_button.on_click(lambda _b: self.pause())
        self.step_button.on_click(lambda _b: self._guard(self.step_frames, 1))
        self.reset_button.on_click(lambda _b: self._guard(self.reset, "Reset pressed"))
        for name, c in self.live.items():
            c.observe(lambda ch, name=name: self._guard(self._live_change, name, ch["new"]), names="value")
        for name, c in self.shape.items():
            c.observe(lambda ch, name=name: self._guard(self.reset, f"{FIELD_SPECS[name].label} changed"),
                      names="value")
        grid = W.GridBox(list(self.controls.values()),
                         layout=W.Layout(grid_template_columns="repeat(auto-fill, 340px)"))
        buttons = W.HBox([self.play_button, self.pause_button, self.step_button, self.reset_button, self.status])
        self.widget = W.VBox([grid, buttons, self.message, self.image])
        self._guard(self.reset, "")

    # --- helpers ---
    def notify(self, text: str, level: str = "warning") -> None:
        """Show a one-line message ('' clears it)."""
        color = {"warning": "#b35900", "error": "#b30000", "info": "#335"}[level]
        self.message.value = f'<span style="color:{color}">{text}</span>' if text else ""

    def _guard(self, fn: Callable, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - keep the dashboard usable whatever happened
            self.pause()
            self.notify(str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}", "error")
            return None

    def current_config(self) -> Config:
        """The Config the controls describe."""
        return config_with(self.base, {name: c.value for name, c in self.controls.items()})

    def _live_change(self, name: str, value: Any) -> None:
        if self.trainer is None:
            return
        self.trainer.set(**{name: value})
        self.notify(f"{FIELD_SPECS[name].label} is now {value:.3g}: the next rounds use it", "info")

    # --- actions ---
    def reset(self, why: str = "") -> None:
        """Start a new run from the current controls and draw its initial state."""
        self.pause()
        cfg = self.current_config()
        # No schedule: the learning rates are the reader's to move while the run goes on.
        self.trainer = Trainer(cfg.replace(rounds=self.max_rounds, eval_every=max(self.chunk, 20),
                                           eval_samples=2000, lr_decay=1.0))
        self.notify(f"{why}: a new run started" if why else "", "info")
        self.redraw()

    def redraw(self) -> None:
        """Draw the current state of the run."""
        t0 = time.perf_counter()
        self.image.value = plots.to_png(dashboard_figure(self.trainer), 64)
        self.frames += 1
        self.frame_seconds.append(time.perf_counter() - t0)
        self.status.value = f"round {self.trainer.round}" + ("" if self.playing else " (paused)")

    def step_frames(self, n: int = 1) -> None:
        """Train `chunk` rounds and redraw, n times (synchronously)."""
        for _ in range(n):
            if self.trainer.round >= self.max_rounds or self.trainer.stopped:
                self.pause()
                break
            self.trainer.step(self.chunk)
            self.redraw()
            msg = divergence_message(self.trainer)
            if msg:
                self.notify(msg)
                if self.trainer.stopped:
                    self.pause()
                    break

    def play(self) -> None:
        """Train and redraw continuously until Pause (needs a running asyncio loop, as in a kernel)."""
        if self.playing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            try:
                loop = asyncio.get_event_loop()
            except RuntimeError:
                self.notify("no event loop: use Step", "error")
                return
        self.playing = True
        self._task = loop.create_task(self._play_loop())

    async def _play_loop(self) -> None:
        while self.playing:
            self._guard(self.step_frames, 1)
            # Yield to the kernel so clicks and slider moves are handled between chunks.
            await asyncio.sleep(0.01)

    def pause(self) -> None:
        """Stop after the current chunk."""
        self.playing = False
        if self.trainer is not None:
            self.status.value = f"round {self.trainer.round} (paused)"

    @property
    def fps(self) -> float:
        """Frames per second of redraws alone (median), a lower bound of what Play reaches."""
        if not self.frame_seconds:
            return math.nan
        return 1.0 / float(np.median(self.frame_seconds))


__all__ = ["FieldSpec", "FIELD_SPECS", "make_control", "config_with", "Panel", "training_panel",
           "train_progressively", "summary_html", "divergence_message", "Dashboard", "dashboard_figure"]
