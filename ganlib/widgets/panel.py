"""Slider panels: controls, Run and Cancel, progress, a message line and a figure that redraws.

A panel never freezes the notebook. A run that code starts with `panel.run()` (a notebook cell, a
test) runs to the end before the call returns, so the next line can read `panel.trainer`. A run
that the reader starts in the browser (releasing a slider, pressing Run) goes to the background:
an asyncio task on the kernel's loop starts the job in a worker thread and awaits it, so the
kernel keeps handling clicks while the job trains and draws. Cancel, or a new release, stops that
run at its next progress point (every `panel.show` and `panel.set_progress`, and each chunk of
rounds in `train_progressively`): a `RunCancelled` is raised inside the job, which ends it. The
next run starts only once the cancelled one has stopped, so two runs never compete for the CPU.

A thread rather than a coroutine, because a job is ordinary blocking code (a `train` call, a loop
over contenders): the thread needs no rewrite of the notebooks' jobs, and ipywidgets supports
setting widget values from a thread. Cancellation is cooperative: a job that calls none of the
panel's methods for a long time cannot be stopped sooner.

Figures arrive as PNG bytes sized to be shown pixel for pixel (never scaled by the browser) and
with every text at least 10 px high, so they stay readable on a 1366 x 768 laptop screen.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

from ganlib import plots
from ganlib.config import Config
from ganlib.flows import FlowConfig, FlowTrainer
from ganlib.metrics import CLOSE_LABELS, optimal_discriminator
from ganlib.train import Trainer
from ganlib.widgets.controls import (
    config_with,
    control_grid,
    divergence_message,
    field_value,
    from_browser,
    make_control,
    message_html,
)
from ganlib.widgets.names import ControlNames
from ganlib.widgets.progress import time_left

# Smallest text on a figure, in screen pixels (the readability bar at 1366 x 768).
MIN_TEXT_PX = 10
# Largest resolution of a panel's figure (a small figure is shown smaller, not enlarged).
MAX_DPI = 100.0
# Widest figure a panel draws: the output area of a notebook at 1366 px with the file browser open.
FIGURE_WIDTH_PX = 900


class RunCancelled(BaseException):  # noqa: N818 - reads as what happened, like KeyboardInterrupt
    """Raised inside a panel's job when its run was cancelled (Cancel, or a newer release).

    A BaseException, like KeyboardInterrupt, so that a job's own `except Exception` does not
    swallow it and train on.
    """


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop running in this thread (the kernel's, inside a widget callback), or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _layout_key(fig: Figure) -> tuple:
    """What a figure's layout depends on, apart from its texts: its size and the grid of its axes."""
    cells = []
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        cells.append(None if spec is None else (spec.get_geometry(), ax.yaxis.get_label_position()))
    return (tuple(np.round(fig.get_size_inches(), 3)), tuple(cells))


def readable_png(
    fig: Figure,
    max_width_px: float,
    max_height_px: float,
    min_text_px: float = MIN_TEXT_PX,
    *,
    layouts: dict | None = None,
    reuse_layout: bool = False,
) -> bytes:
    """`fig` as PNG bytes that fit max_width x max_height pixels, every text at least min_text_px high.

    The resolution is chosen so the image fits the box when shown at its own size (at most
    100 dpi); texts smaller than `min_text_px` at that resolution are enlarged, and the figure is laid out again
    (constrained layout) so the larger labels do not overlap their neighbours. Laying out costs
    about as much as drawing, so with a `layouts` cache and `reuse_layout`, a figure shaped like
    one laid out before takes that one's axes positions instead (redraws during training).
    """
    w_in, h_in = fig.get_size_inches()
    # Never above 100 dpi: a small figure is not blown up to fill the box (10 pt text would be 14 px).
    dpi = min(max_width_px / w_in, max_height_px / h_in, MAX_DPI)
    min_pt = min_text_px * 72.0 / dpi
    for ax in fig.axes:
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            ticks = axis.get_major_ticks()
            if ticks and ticks[0].label1.get_fontsize() < min_pt:
                ax.tick_params(axis=which, which="both", labelsize=min_pt)
    for text in fig.findobj(Text):
        if text.get_text() and text.get_fontsize() < min_pt:
            text.set_fontsize(min_pt)
    key = _layout_key(fig)
    known = layouts.get(key) if layouts is not None and reuse_layout else None
    if known is not None:
        # No layout engine at all: with one, even a placeholder, savefig draws the figure twice.
        fig.set_layout_engine(None)
        for ax, pos in zip(fig.axes, known):
            ax.set_position(pos)
    else:
        fig.set_layout_engine("constrained")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    if layouts is not None and known is None:
        layouts[key] = [ax.get_position() for ax in fig.axes]
    return buf.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels of PNG bytes (from the IHDR chunk that opens every PNG)."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


class _Run:
    """One run of a panel's job: its number, whether it runs in the background, its cancel flag."""

    def __init__(self, number: int, background: bool) -> None:
        self.number = number
        self.background = background
        self.cancelled = threading.Event()
        self.thread: threading.Thread | None = None


class Panel:
    """Controls for some Config fields, Run and Cancel buttons, progress, a message line and a figure.

    `job(config, panel)` does the work for the current values; it draws with `panel.show(fig)`,
    reports with `panel.set_progress(done, total)`, can put HTML under the figure with
    `panel.html.value`, and reads `panel.extras` (controls that are not Config fields). With
    `auto=True` releasing any control runs the job; the Run button always does. Runs started in
    the browser go to the background and can be cancelled; `panel.run()` runs in the caller.
    """

    def __init__(
        self,
        config: Config,
        fields: Sequence[str],
        job: Callable[[Config, Panel], None],
        *,
        auto: bool = True,
        height: str = "460px",
        title: str | None = None,
        extras: dict[str, W.ValueWidget] | None = None,
        width: int = FIGURE_WIDTH_PX,
    ) -> None:
        self.base = config
        self.job = job
        self.controls: dict[str, W.Widget] = {f: make_control(f, field_value(config, f)) for f in fields}
        # Controls that are not Config fields (say, which contenders to compare); the job reads them.
        self.extras: dict[str, W.ValueWidget] = dict(extras or {})
        self.figure_size = (float(width), float(str(height).removesuffix("px")))
        self.button = W.Button(description="Run", button_style="primary", icon="play",
                               layout=W.Layout(width="90px"))
        self.cancel_button = W.Button(description="Cancel", icon="stop", disabled=True,
                                      layout=W.Layout(width="100px"))
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="", layout=W.Layout(width="240px"))
        self.status = W.Label(value="")
        self.status.add_class("ganlib-status")
        self.message = W.HTML(value="")
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%", max_height=f"{self.figure_size[1]:.0f}px",
                                                           object_fit="contain"))
        self.html = W.HTML(value="")
        # The figure's text alternative, as a caption line under it (the image is named by it too).
        self.caption = W.Label(value="")
        self.caption.add_class("ganlib-caption")
        self.trainer: Trainer | None = None
        self.redraws = 0
        self.runs = 0
        self.cancelled_runs = 0
        self.last_error: str | None = None
        self.first_draw_seconds: float | None = None
        self.task: asyncio.Task | None = None
        self._t_start = 0.0
        self._run_count = 0
        self._current: _Run | None = None
        self._local = threading.local()
        self._layouts: dict = {}
        self.button.on_click(lambda _b: self.start())
        self.cancel_button.on_click(lambda _b: self.cancel())
        if auto:
            for c in [*self.controls.values(), *self.extras.values()]:
                c.observe(self._on_change, names="value")
        header = [W.HTML(f"<b>{title}</b>")] if title else []
        # The figure's box keeps its height from the start, so the page does not jump at the first draw.
        self._figure_box = W.Box([self.image], layout=W.Layout(min_height=f"{self.figure_size[1]:.0f}px",
                                                               align_items="flex-start"))
        # A typed value out of range is refused on the message line, and starts no run.
        grid = control_grid([*self.controls.values(), *self.extras.values()],
                            on_refused=lambda text: self.notify(text, "error"))
        self.widget = W.VBox([*header, grid,
                              W.HBox([self.button, self.cancel_button, self.progress, self.status]), self.message,
                              self._figure_box, self.caption, self.html, ControlNames()])

    # --- what a job calls ---
    def current_config(self) -> Config:
        """The Config the controls describe (raises ValueError for a bad combination)."""
        return config_with(self.base, {name: c.value for name, c in self.controls.items()})

    def check_cancelled(self) -> None:
        """Raise RunCancelled if the run calling this was cancelled (a job may call it in long loops)."""
        run = getattr(self._local, "run", None)
        if run is not None and run.cancelled.is_set():
            raise RunCancelled

    def show(self, fig: Figure, dpi: int | None = None, *, quick: bool = False, alt: str | None = None) -> None:
        """Draw `fig` in the panel's image (at `dpi` if given, else sized to fit, text >= 10 px).

        `quick` reuses the layout of an earlier figure of the same shape (for redraws during a run).
        `alt` is the figure's one-sentence text alternative (default: the one `plots.with_alt` gave it,
        else one from its panels' titles): shown as the caption line under the figure, and the image's alt text.
        """
        self.check_cancelled()
        text = " ".join(alt.split()) if alt is not None else plots.alt_of(fig)
        if dpi is None:
            png = readable_png(fig, *self.figure_size, layouts=self._layouts, reuse_layout=quick)
        else:
            png = plots.to_png(fig, dpi)
        self.check_cancelled()
        self.image.value = png
        # ControlNames makes the caption the image's alt text in the browser (an Image's tooltip breaks its view).
        self.caption.value = f"Figure: {text}" if text else ""
        # The box keeps the height of the latest figure: no gap around a short one, no jump between redraws.
        self._figure_box.layout.min_height = f"{png_size(png)[1]}px"
        self.redraws += 1
        if self.first_draw_seconds is None:
            self.first_draw_seconds = time.perf_counter() - self._t_start

    def set_progress(self, done: float, total: float, text: str = "") -> None:
        """Show progress as a fraction done, with an optional note."""
        self.check_cancelled()
        self.progress.value = 0.0 if total <= 0 else min(1.0, done / total)
        self.status.value = text

    def notify(self, text: str, level: str = "warning") -> None:
        """Show a one-line message above the figure ('' clears it)."""
        self.message.value = message_html(text, level)

    # --- starting and stopping runs ---
    @property
    def running(self) -> bool:
        """True while a run is in progress (in the caller or in the background)."""
        return self._current is not None

    def run(self) -> None:
        """Run the job for the current values now, to the end, in the calling thread.

        A background run in progress is cancelled first (and waited for). Errors become a
        message in the panel, never a traceback.
        """
        run = self._new_run(background=False)
        self._stop_previous(wait=True)
        self._execute(run, None)

    def start(self) -> asyncio.Task | None:
        """Start a run in the background (what a release or the Run button does); returns its task.

        Cancels the run in progress. Without a running asyncio loop (plain Python, no kernel)
        there is no background: the run happens at once, as `run()` does, and None is returned.
        """
        loop = running_loop()
        if loop is None:
            self.run()
            return None
        run = self._new_run(background=True)
        self._stop_previous(wait=False)
        self.task = loop.create_task(self._background(run))
        return self.task

    def cancel(self) -> None:
        """Stop the run in progress at its next progress point (within about half a second)."""
        if self._current is not None:
            self._current.cancelled.set()
            self.status.value = "cancelling..."

    def _on_change(self, change: dict) -> None:
        # A value set by the browser arrives through set_state, which locks the synced properties
        # (`value`, or `index` for dropdowns and selection sliders) while observers run, and a value
        # typed into a slider's box is marked as the reader's (controls.from_browser); a value set by
        # code is neither. Only the reader's changes go to the background.
        if from_browser(change["owner"]):
            self.start()
        else:
            self.run()

    def _new_run(self, background: bool) -> _Run:
        self._run_count += 1
        return _Run(self._run_count, background)

    def _stop_previous(self, wait: bool) -> None:
        prev = self._current
        if prev is None:
            return
        prev.cancelled.set()
        if wait and prev.thread is not None and prev.thread is not threading.current_thread():
            prev.thread.join()

    async def _background(self, run: _Run) -> None:
        # Wait until the cancelled run has stopped; a newer release may supersede this one meanwhile.
        while self._current is not None:
            await asyncio.sleep(0.01)
        if run.number != self._run_count:
            return
        loop = asyncio.get_running_loop()
        try:
            config = self.current_config()
        except ValueError as exc:
            self._begin(run)
            self._fail(exc)
            self._end(run)
            return
        finished = loop.create_future()

        def work() -> None:
            try:
                self._execute(run, config)
            finally:
                loop.call_soon_threadsafe(lambda: finished.done() or finished.set_result(None))

        run.thread = threading.Thread(target=work, name=f"ganlib-panel-run-{run.number}", daemon=True)
        self._current = run
        run.thread.start()
        await finished

    # --- one run, in whichever thread ---
    def _begin(self, run: _Run) -> None:
        self._current = run
        self._local.run = run
        self._t_start = time.perf_counter()
        self.first_draw_seconds = None
        self.last_error = None
        self.runs += 1
        self.notify("")
        self.cancel_button.disabled = not run.background

    def _end(self, run: _Run) -> None:
        self._local.run = None
        self.cancel_button.disabled = True
        if self._current is run:
            self._current = None

    def _fail(self, exc: BaseException) -> None:
        self.last_error = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        self.notify(self.last_error, "error")
        self.status.value = "failed"

    def _execute(self, run: _Run, config: Config | None) -> None:
        self._begin(run)
        try:
            if config is None:
                config = self.current_config()
            self.set_progress(0, 1, "running")
            self.job(config, self)
            self.status.value = f"done in {time.perf_counter() - self._t_start:.1f} s"
        except RunCancelled:
            self.cancelled_runs += 1
            self.status.value = f"cancelled after {time.perf_counter() - self._t_start:.1f} s"
        except Exception as exc:  # noqa: BLE001 - a panel must survive any failure and say what it was
            self._fail(exc)
        finally:
            self._end(run)


def train_progressively(
    config: Config | FlowConfig,
    panel: Panel,
    render: Callable[[Trainer], Figure],
    *,
    first_chunk: int = 25,
    first_seconds: float = 0.1,
    piece_seconds: float = 0.1,
    redraw_seconds: float = 0.5,
) -> Trainer:
    """Train `config` for its rounds, redrawing with `render` as it goes; returns the trainer.

    The first figure comes after `first_chunk` rounds, or fewer where those would take more than
    `first_seconds` (a setting with many D and G steps a round). Then the rounds go in pieces of
    about `piece_seconds`, sized from the measured time per round: each piece ends at a progress
    point where a cancelled run stops, so Cancel answers within about that time whatever a round
    costs. Redraws come at most every `redraw_seconds`. Divergence is reported in the panel's
    message line. A `FlowConfig` trains a `FlowTrainer` the same way.
    """
    trainer = FlowTrainer(config) if isinstance(config, FlowConfig) else Trainer(config)
    total = config.rounds
    per_round = 0.0
    t_start = time.perf_counter()

    def advance(n: int, evaluate: bool) -> None:
        nonlocal per_round
        t0, before = time.perf_counter(), trainer.round
        # Evaluations between pieces would cost more than the rounds of a short piece; the run's
        # evaluations still come every eval_every rounds, and at its end.
        trainer.step(n, evaluate_at_end=evaluate or trainer.round + n >= total)
        if trainer.round > before:
            per_round = (time.perf_counter() - t0) / (trainer.round - before)
        left = time_left(trainer.round, total, time.perf_counter() - t_start)
        panel.set_progress(trainer.round, total, f"round {trainer.round}/{total}" + (f", {left}" if left else ""))

    if total > 0:
        advance(1, evaluate=False)
        rest = min(first_chunk, total) - trainer.round
        if rest > 0 and not trainer.stopped:
            advance(max(1, min(rest, int(first_seconds / max(per_round, 1e-9)))), evaluate=True)
    panel.check_cancelled()
    panel.show(render(trainer), quick=True)
    last = time.perf_counter()
    while trainer.round < total and not trainer.stopped:
        advance(max(1, min(total - trainer.round, int(piece_seconds / max(per_round, 1e-9)))), evaluate=False)
        if time.perf_counter() - last >= redraw_seconds:
            panel.show(render(trainer), quick=True)
            last = time.perf_counter()
    panel.check_cancelled()
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
    if run_now:
        panel.run()
    return panel


def summary_html(trainer: Trainer, n: int = 4000) -> str:
    """An HTML table of the runs' final results (rounded), under the success count and the count of runs
    close in mean and std (metrics.CLOSE_LABELS)."""
    runs = trainer.results(n)
    # W1 in target std, the unit of the success line printed above the table.
    rows = [{"seed": r.seed, "mean": r.mean, "std": r.std, "skew": r.skew, "kurt": r.kurtosis,
             "W1 (sd)": r.w1_sigma, "label": r.label} for r in runs]
    ok = sum(r.success for r in runs)
    close = sum(r.label in CLOSE_LABELS for r in runs)
    table = plots.results_table_html(rows, ["seed", "mean", "std", "skew", "kurt", "W1 (sd)", "label"], "{:.3f}")
    return (f"<p>success: {ok}/{len(runs)} runs (W1 &lt; 0.1 target std); mean and std close: {close}/{len(runs)} "
            f"runs (labels good or wrong shape)</p>{table}")


def dashboard_figure(trainer: Trainer, n_samples: int = 2000) -> Figure:
    """Six panels of a run in progress, as a matplotlib figure (the panels' version of the dashboard).

    G's histogram against the target; D(x) with the optimal D* = p_R / (p_R + p_G) (or, when D
    sees whole batches, G's sorted sample against the target's quantiles); G's map against both
    monotone ideal maps; losses; mean and std; W1 in target std with the success line at 0.1.
    """
    # Fixed margins to start with: `Panel.show` lays it out (or reuses a layout) when it draws.
    fig, axes = plots.new_figure(2, 3, 12.0, 6.0, fast=True)
    h = trainer.history
    target = trainer.target
    samples = trainer.sample(n_samples)
    finite = np.isfinite(samples).all(1)
    shown = samples[finite] if finite.any() else samples
    first = shown[0] if len(shown) else None
    # The run drawn: the first whose values are all finite (seed 0's unless it diverged).
    drawn = int(np.flatnonzero(finite)[0]) if finite.any() else 0
    lo, hi = plots.plot_range(target, None, 4.0)
    plots.plot_density(target, first, ax=axes[0, 0], xlim=(lo, hi),
                       title=f"round {trainer.round}: G's samples (seed {trainer.seeds[drawn]})")
    ax = axes[0, 1]
    if trainer.features.per_value:
        xs = np.linspace(lo, hi, 200)
        bce = trainer.config.loss == "bce"
        curves = trainer.discriminator_curve(xs)
        for i, row in enumerate(curves):
            ax.plot(xs, row, color=plots.COLORS["D"], lw=1.5, alpha=0.9 if i == 0 else 0.35,
                    label=("D(x)" if bce else "critic f(x)") if i == 0 else None)
        # D* is a probability: on D's own axis for BCE, on a second axis beside a critic's values.
        dstar_ax = ax if bce else ax.twinx()
        if first is not None:
            dstar_ax.plot(xs, optimal_discriminator(xs, first, target), color=plots.COLORS["D*"], lw=1.5,
                          ls="--", label="D* = p_R/(p_R+p_G)")
        dstar_ax.set_ylim(-0.02, 1.02)
        if bce:
            ax.axhline(0.5, color=plots.COLORS["D"], ls=":", lw=1)
            ax.set_ylabel("D(x)")
        else:
            ax.set_ylabel("critic f(x)")
            dstar_ax.set_ylabel("D*")
        ax.set_xlabel("x")
        handles = ax.get_legend_handles_labels()
        if dstar_ax is not ax:
            extra = dstar_ax.get_legend_handles_labels()
            handles = (handles[0] + extra[0], handles[1] + extra[1])
        ax.legend(*handles, fontsize=8, loc="lower left")
        ax.set_title("what D says about each x", fontsize=10)
    else:
        q = np.sort(shown, 1)
        p = (np.arange(q.shape[1]) + 0.5) / q.shape[1]
        ax.plot(p, target.icdf(p), color=plots.COLORS["target"], lw=2, label="target quantiles")
        for i, row in enumerate(q):
            ax.plot(p, row, color=plots.COLORS["G"], alpha=0.4, lw=1, label="G's sorted sample" if i == 0 else None)
        ax.set_xlabel("probability p")
        ax.set_ylabel("quantile")
        ax.legend(fontsize=8)
        ax.set_title(f"D sees '{trainer.config.features}': quantiles", fontsize=10)
    drawn_map = trainer.config.generator == "per_value" and trainer.config.noise_dim == 1
    if drawn_map:
        z = plots._noise_grid(trainer.noise)
        plots.plot_ideal_map(target, trainer.noise, trainer.generator_map(z), z, ax=axes[0, 2])
        axes[0, 2].set_title("G's map against both ideal maps", fontsize=10)
    else:
        axes[0, 2].set_axis_off()
    if h.rounds:
        # Cross-entropy has named equilibrium values: D's loss log 4 and G's log 2 when D says 1/2.
        refs = {"log 4 (D)": float(np.log(4)), "log 2 (G)": float(np.log(2))} if trainer.config.loss == "bce" else None
        plots.plot_losses(h, ax=axes[1, 0], smooth=min(25, max(1, h.rounds // 4)), references=refs)
    axes[1, 0].set_title("losses", fontsize=10)
    plots.plot_moments(h, target, axes=[axes[1, 1], axes[1, 1]])
    axes[1, 1].set_ylabel("mean and std")
    axes[1, 1].set_title("generated mean and std", fontsize=10)
    ax = axes[1, 2]
    for i, row in enumerate(h.w1 / target.std):
        ax.plot(h.eval_round, row, color=plots.COLORS["G"], alpha=0.9 if i == 0 else 0.35, lw=1)
    ax.axhline(0.1, color=plots.COLORS["reference"], ls=":", lw=1, label="success: 0.1")
    ax.set_yscale("log")
    ax.set_xlabel("round")
    ax.set_ylabel("W1 / target std")
    ax.legend(fontsize=8)
    ax.set_title("W1 to the target", fontsize=10)
    if trainer.features.per_value:
        second = "D(x) beside the best D*" if trainer.config.loss == "bce" else "the critic f(x) beside D*"
    else:
        second = "G's sorted sample against the target's quantiles"
    panels = f"{'six' if drawn_map else 'five'} panels: G's samples against the target, {second}, " + (
        "G's map against both ideal maps, " if drawn_map else "")
    return plots.with_alt(fig, f"{panels}the losses, the mean and std, and W1 over the rounds; "
                               f"{plots.run_alt(trainer, samples, run=drawn)}.")


def flow_figure(trainer: FlowTrainer, n_samples: int = 2000) -> Figure:
    """Three panels of a flow-matching run: its first seed's histogram against the target, every run's
    map z -> x against the increasing ideal map, and every run's W1 in target std over the rounds."""
    fig, axes = plots.new_figure(1, 3, 12.0, 3.6, fast=True)
    target, h = trainer.target, trainer.history
    samples = trainer.sample(n_samples)
    lo, hi = plots.plot_range(target, None, 4.0)
    first = samples[0] if np.isfinite(samples[0]).all() else None
    plots.plot_density(target, first, ax=axes[0, 0], xlim=(lo, hi),
                       title=f"round {trainer.round}: samples, {trainer.config.evaluations} evaluations")
    z = np.linspace(-2.5, 2.5, 101) if trainer.config.noise == "normal" else plots._noise_grid(trainer.noise)
    maps = trainer.transport_map(z)
    plots.plot_ideal_map(target, trainer.noise, maps, z, ax=axes[0, 1], both=False,
                         labels=["the flows' maps"] + [None] * (len(maps) - 1))
    # A flow has no G: name its map and the ideal one for what they are.
    axes[0, 1].lines[0].set_label("ideal map F^-1(F_noise(z))")
    axes[0, 1].set_ylabel("sample x(1)")
    axes[0, 1].legend(fontsize=9, loc="upper left")
    axes[0, 1].set_title("the flow's map z -> x(1) and the ideal map", fontsize=10)
    ax = axes[0, 2]
    for i, row in enumerate(h.w1 / target.std):
        ax.plot(h.eval_round, row, color=plots.COLORS["G"], alpha=0.9 if i == 0 else 0.35, lw=1)
    ax.axhline(0.1, color=plots.COLORS["reference"], ls=":", lw=1, label="success: 0.1")
    ax.set_yscale("log")
    ax.set_xlabel("round")
    ax.set_ylabel("W1 / target std")
    ax.legend(fontsize=9)
    ax.set_title("W1 to the target", fontsize=10)
    return plots.with_alt(fig, "the flow's samples against the target, its maps against the ideal map, and W1 over "
                               f"the updates; {plots.run_alt(trainer, samples, unit='update')}.")


__all__ = ["Panel", "RunCancelled", "training_panel", "train_progressively", "summary_html", "dashboard_figure",
           "flow_figure",
           "readable_png", "running_loop", "MIN_TEXT_PX"]
