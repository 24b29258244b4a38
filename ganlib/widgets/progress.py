"""The course's one progress display for slow cells: pass it to `train`, call it, or wrap a loop with it.

What it shows, the same in every notebook: the cell's label on a line of its own (a long label wraps
there and never takes width from the bar), under it a bar of fixed width, and beside the bar the
work done out of the total, the time since the start and, once the pace is known, the time left. At
the end the bar turns green and says "done in N s", or red and says where it stopped.

The widgets are updated at most every UPDATE_SECONDS from the reports (a report is cheap; a widget
update is a message to the browser), and a ticker thread refreshes the time every TICK_SECONDS
between reports, so a cell whose work arrives in long pieces (a sweep's passes) never looks frozen.
"""

from __future__ import annotations

import html
import math
import numbers
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

import ipywidgets as W
from IPython.display import display

from ganlib.flows import FlowTrainer
from ganlib.plane import PlaneTrainer
from ganlib.train import Trainer

T = TypeVar("T")
# The clock the display reads (a test replaces it).
_now = time.perf_counter
Trainers = (Trainer, FlowTrainer, PlaneTrainer)

# The bar's width: about a quarter of a notebook's output area at 1366 px with the file browser open,
# wide enough that one pixel is well under 1% of the work.
BAR_WIDTH_PX = 320
# At most one widget update per this many seconds from reports (the bar: at least every 0.5 s).
UPDATE_SECONDS = 0.25
# The ticker's period: the time shown moves on between reports, at least this often.
TICK_SECONDS = 0.5
# The ticker stops after this long without a report (a bar left unfinished by a cell that failed
# outside a `with` block must not tick for ever).
TICK_IDLE_LIMIT = 600.0


def time_left(done: float, total: float, elapsed: float, *, after: float = 2.0, at_least: float = 5.0) -> str:
    """"about 40 s left" or "about 7 min left", extrapolated from the pace so far; "" when not worth saying.

    Said once `after` seconds have passed (the first rounds include start-up costs) and only when at
    least `at_least` seconds remain, so short runs show just their count.
    """
    if not all(map(math.isfinite, (done, total, elapsed))) or done <= 0 or done >= total or elapsed < after:
        return ""  # NaN compares False with everything: it would reach round() below
    left = elapsed / done * (total - done)
    if left < at_least:
        return ""
    if left < 90:
        return f"about {max(5, round(left / 5) * 5):.0f} s left"
    return f"about {round(left / 60):.0f} min left"


def elapsed_text(seconds: float) -> str:
    """Seconds as the display writes them: '2.4 s', '75 s', '12 min 5 s'."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 600:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"


class Progress:
    """The course's progress display: a label, a bar, the work done, the time taken and the time left.

    `total` counts whatever the cell does: rounds (over one or several `train` calls), loop steps,
    or a weighted amount where the pieces differ in cost. Call the object with a Trainer (what
    `train(config, progress=bar)` does after each chunk) or with a number done; or use
    `bar.update(done)`, `bar.advance(n)`, `bar.wrap(items)`. `bar.weighted(w)` is a reporter that
    counts each round of the trainers it is given as `w` units: a race whose last contender costs
    five times as much a round counts its rounds five times (`train(cfg, bar.weighted(5))`), so the
    bar and the time left follow the work, not the rounds. As a context manager it marks the end
    (a full green bar and "done in N s", or a red bar that says where it stopped, on an error or an
    interrupt).

    Progress through several trainers adds up: when the bar meets a new trainer, the rounds of the
    previous one are kept, so a loop of `train(cfg, bar)` calls fills one bar.

    The display is shown before any update, and its saved text/plain output (what nbval compares)
    names only the description and the total: the same on every run.
    """

    def __init__(self, total: float, description: str = "", *, unit: str = "round", show: bool = True) -> None:
        # An infinite total never fills; NaN, 0 and negatives are not amounts of work.
        if isinstance(total, bool) or not isinstance(total, numbers.Real) or not (math.isfinite(total) and total > 0):
            raise ValueError(f"total={total!r} is not allowed: the amount of work must be a finite number > 0")
        self.total = float(total)
        self.description = str(description)
        self.unit = unit
        self.done = 0.0
        self.finished = False
        self.failed = False
        self.updates = 0  # widget updates pushed (the throttle's tests count them)
        self.label = W.HTML(value=html.escape(self.description))
        self.label.add_class("ganlib-progress-label")
        self.bar = W.FloatProgress(value=0.0, min=0.0, max=self.total,
                                   layout=W.Layout(width=f"{BAR_WIDTH_PX}px", flex="0 0 auto"))
        self.note = W.Label(value=self._text(0.0), layout=W.Layout(flex="1 1 auto", min_width="0"))
        self.note.add_class("ganlib-progress-note")
        # The label on a line of its own: however long, it never takes width from the bar.
        self.widget = W.VBox([self.label, W.HBox([self.bar, self.note], layout=W.Layout(align_items="center"))])
        self.widget.add_class("ganlib-progress")
        self._t0 = _now()
        self._last_push = -math.inf
        self._last_report = self._t0
        self._lock = threading.RLock()
        self._ticker: threading.Thread | None = None
        # The trainer last reported, held (not just its id): a finished trainer's id can be reused by the
        # next one, whose rounds would then be taken for more of the same run.
        self._trainer: object | None = None
        self._trainer_round = 0
        self._weight = 1.0
        self._offset = 0.0
        if show:
            display(self)

    # --- reports ---
    def __call__(self, item: Trainer | FlowTrainer | PlaneTrainer | float) -> None:
        """Report progress: a trainer (its rounds, added to those of earlier trainers) or a number done."""
        if isinstance(item, Trainers):
            self._report_trainer(item, 1.0)
        else:
            self.update(float(item))

    def weighted(self, weight: float) -> Callable[[Trainer | FlowTrainer | PlaneTrainer], None]:
        """A reporter for `train(config, progress=...)` that counts each round as `weight` units of work.

        Give each contender of a race its cost per round (say, its seconds per round relative to the
        cheapest) and the total as the sum of cost x rounds: the bar then fills at an even pace.
        """
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not (
                math.isfinite(weight) and weight > 0):
            raise ValueError(f"weight={weight!r} is not allowed: a round's cost must be a finite number > 0")
        w = float(weight)
        return lambda trainer: self._report_trainer(trainer, w)

    def _report_trainer(self, trainer: object, weight: float) -> None:
        if trainer is not self._trainer:
            self._offset += self._trainer_round * self._weight
            self._trainer, self._weight = trainer, weight
        self._trainer_round = trainer.round
        self.update(self._offset + trainer.round * weight)

    def update(self, done: float, text: str | None = None) -> None:
        """Set the amount done (and, optionally, the note; by default 'done/total units · time · time left').

        The widgets follow at most every UPDATE_SECONDS; a note given as `text` is shown at once. A
        number out of [0, total] is clamped to it; NaN or an infinity is a one-line ValueError (it is
        no amount of work, and NaN would pass the clamp and stop the ticker).
        """
        value = float(done)
        if not math.isfinite(value):
            raise ValueError(f"done={done!r} is not allowed: the amount done must be a finite number")
        with self._lock:
            before = self.done
            self.done = min(max(value, 0.0), self.total)
            self._last_report = _now()
            # The moment the bar fills is shown at once: a cell often ends right after it.
            if text is not None:
                self._push(text)
            elif self._last_report - self._last_push >= UPDATE_SECONDS or self.done >= self.total > before:
                self._push()
        self._start_ticker()

    def advance(self, n: float = 1) -> None:
        """Add n to the amount done."""
        self.update(self.done + n)

    def wrap(self, items: Iterable[T]) -> Iterator[T]:
        """Yield the items, advancing by one after each."""
        for item in items:
            yield item
            self.advance(1)

    def finish(self, failed: bool = False) -> None:
        """Mark the end: a full green bar and the time taken, or a red bar that says where it stopped."""
        with self._lock:
            self.finished, self.failed = True, failed
            seconds = _now() - self._t0
            if failed:
                self.bar.bar_style = "danger"
                self._push(f"stopped at {self._count()} after {elapsed_text(seconds)}")
            else:
                self.done = self.total
                self.bar.bar_style = "success"
                self._push(f"done in {elapsed_text(seconds)}")

    # --- what is shown ---
    def _count(self) -> str:
        return f"{self.done:,.0f}/{self.total:,.0f} {self.unit}s"

    def _text(self, seconds: float) -> str:
        """The note while running: '4,200/12,000 rounds · 9 s · about 20 s left'."""
        left = time_left(self.done, self.total, seconds, after=1.0, at_least=2.0)
        return " · ".join(part for part in (self._count(), elapsed_text(seconds), left) if part)

    def _push(self, text: str | None = None) -> None:
        """Send the current state to the widgets (caller holds the lock)."""
        now = _now()
        self.bar.value = self.done
        self.note.value = text if text is not None else self._text(now - self._t0)
        self._last_push = now
        self.updates += 1

    def _tick(self) -> None:
        """Between reports, move the time on (and show a report the throttle held back)."""
        with self._lock:
            if not self.finished:
                self._push()

    def _start_ticker(self) -> None:
        if self._ticker is not None or self.finished:
            return
        ref = weakref.ref(self)  # the thread must not keep a forgotten bar alive

        def tick() -> None:
            while True:
                time.sleep(TICK_SECONDS)
                bar = ref()
                if bar is None or bar.finished or _now() - bar._last_report > TICK_IDLE_LIMIT:
                    return
                bar._tick()
                del bar

        self._ticker = threading.Thread(target=tick, name="ganlib-progress-ticker", daemon=True)
        self._ticker.start()

    # --- context manager and display ---
    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.finish(failed=exc_type is not None)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # The widget's view, with a text/plain of our own: ipywidgets' would spell out the layout,
        # and a saved output must not change when the layout does.
        return {**self.widget._repr_mimebundle_(**kwargs), "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"Progress({self.description!r}, total={self.total:g})"


def progress(total: float, description: str = "", **kwargs: Any) -> Progress:
    """Show a progress display for `total` units of work and return it (see `Progress`)."""
    return Progress(total, description, **kwargs)


__all__ = ["Progress", "progress", "time_left", "elapsed_text", "BAR_WIDTH_PX", "UPDATE_SECONDS", "TICK_SECONDS"]
