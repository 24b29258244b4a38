"""A progress bar for slow notebook cells: pass it to `train`, call it, or wrap a loop with it."""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

import ipywidgets as W
from IPython.display import display

from ganlib.flows import FlowTrainer
from ganlib.plane import PlaneTrainer
from ganlib.train import Trainer

T = TypeVar("T")


class Progress:
    """A bar and a one-line note, shown when created, at value 0.

    `total` counts whatever the cell does: rounds (over one or several `train` calls) or loop
    steps. Call the object with a Trainer (what `train(config, progress=bar)` does after each
    chunk) or with a number done; or use `bar.update(done)`, `bar.advance(n)`, `bar.wrap(items)`.
    As a context manager it marks the end (full bar and the time taken, or "stopped" on an error).

    Progress through several trainers adds up: when `bar(trainer)` meets a new trainer, the rounds
    of the previous one are kept, so a loop of `train(cfg, bar)` calls fills one bar.

    The bar is displayed before any update, so the cell's saved text/plain output (what nbval
    compares) is the same on every run: it names only the description and the total.
    """

    def __init__(self, total: float, description: str = "", *, unit: str = "round", show: bool = True) -> None:
        # An infinite total never fills; NaN, 0 and negatives are not amounts of work.
        if isinstance(total, bool) or not isinstance(total, numbers.Real) or not (math.isfinite(total) and total > 0):
            raise ValueError(f"total={total!r} is not allowed: the amount of work must be a finite number > 0")
        self.total = float(total)
        self.unit = unit
        self.done = 0.0
        self.bar = W.FloatProgress(value=0.0, min=0.0, max=self.total, description=description,
                                   style={"description_width": "initial"})
        self.note = W.Label(value="")
        self.widget = W.HBox([self.bar, self.note])
        self._t0 = time.perf_counter()
        # The trainer last reported, held (not just its id): a finished trainer's id can be reused by the
        # next one, whose rounds would then be taken for more of the same run.
        self._trainer: object | None = None
        self._trainer_round = 0
        self._offset = 0.0
        if show:
            display(self.widget)

    def __call__(self, item: Trainer | FlowTrainer | PlaneTrainer | float) -> None:
        """Report progress: a trainer (its rounds, added to those of earlier trainers) or a number."""
        if isinstance(item, (Trainer, FlowTrainer, PlaneTrainer)):
            if item is not self._trainer:
                self._offset += self._trainer_round
                self._trainer = item
            self._trainer_round = item.round
            self.update(self._offset + item.round)
        else:
            self.update(float(item))

    def update(self, done: float, text: str | None = None) -> None:
        """Set the amount done (and, optionally, the note; by default 'done/total unit, seconds')."""
        self.done = min(float(done), self.total)
        self.bar.value = self.done
        seconds = time.perf_counter() - self._t0
        self.note.value = text if text is not None else (
            f"{self.done:,.0f}/{self.total:,.0f} {self.unit}s, {seconds:.1f} s")

    def advance(self, n: float = 1) -> None:
        """Add n to the amount done."""
        self.update(self.done + n)

    def wrap(self, items: Iterable[T]) -> Iterator[T]:
        """Yield the items, advancing by one after each."""
        for item in items:
            yield item
            self.advance(1)

    def finish(self, failed: bool = False) -> None:
        """Mark the end: a full bar and the time taken, or a red bar that says where it stopped."""
        seconds = time.perf_counter() - self._t0
        if failed:
            self.bar.bar_style = "danger"
            self.note.value = f"stopped at {self.done:,.0f}/{self.total:,.0f} {self.unit}s after {seconds:.1f} s"
        else:
            self.bar.value = self.total
            self.bar.bar_style = "success"
            self.note.value = f"done in {seconds:.1f} s"

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.finish(failed=exc_type is not None)

    def __repr__(self) -> str:
        return f"Progress({self.bar.description!r}, total={self.total:g})"


def progress(total: float, description: str = "", **kwargs: Any) -> Progress:
    """Show a progress bar for `total` units of work and return it (see `Progress`)."""
    return Progress(total, description, **kwargs)


__all__ = ["Progress", "progress"]
