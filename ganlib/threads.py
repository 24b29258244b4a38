"""How many CPU threads ganlib's trainers use: one, unless the user asks for more.

The course's networks are tiny: a training round is mostly per-operator overhead, so a second
thread saves nothing, and on a busy machine torch's default (one thread per core) is many times
slower. Measured under a load of about 4 on two cores, Dev Nag's setting for 2,000 rounds, ten seeds
batched: 4.13 s a run on torch's default threads against 0.47 s on one. So every trainer sets the
thread count itself while it works and gives the caller's setting back when it returns, whether
JupyterLab was started by the course's commands, by conda, by an IDE or on Colab, and without
OMP_NUM_THREADS. A user asks for more with a trainer's `threads` argument, the command line's
`--threads`, or the environment variable GAN_COURSE_THREADS.

torch's setting belongs to the thread that sets it (OpenMP keeps it per thread), so the count is
set inside each call that trains, in whichever thread runs it: a widget's worker thread included.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch

ENV_VAR = "GAN_COURSE_THREADS"
DEFAULT_THREADS = 1
# More threads than this is a typo, not a machine.
MAX_THREADS = 1024

F = TypeVar("F", bound=Callable[..., Any])


def _check(value: object, source: str) -> int:
    """value as a whole number of threads in [1, MAX_THREADS], or a one-line ValueError naming `source`."""
    n = value
    if isinstance(value, str):
        try:
            n = int(value.strip())
        except ValueError:
            pass
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_THREADS:
        raise ValueError(f"{source}={value!r} is not allowed: a whole number of CPU threads from 1 to {MAX_THREADS}")
    return n


def course_threads(threads: int | None = None) -> int:
    """The number of CPU threads a trainer uses: `threads` if given, else GAN_COURSE_THREADS, else 1.

    A bad value (0, -2, 'four') is a one-line ValueError naming where it came from. OMP_NUM_THREADS
    is not read: it sets torch's default, which the trainers replace while they work.
    """
    if threads is not None:
        return _check(threads, "threads")
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _check(env, ENV_VAR)
    return DEFAULT_THREADS


@contextlib.contextmanager
def using_threads(n: int) -> Iterator[int]:
    """Run the block on `n` torch threads (in this thread), then give back the count the caller had."""
    n = _check(n, "threads")
    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def on_own_threads(method: F) -> F:
    """Decorate a trainer's method so that it runs on the trainer's `threads` (see `using_threads`)."""

    @functools.wraps(method)
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        with using_threads(self.threads):
            return method(self, *args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _threads_arg(text: str) -> int:
    try:
        return _check(text, "--threads")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: a whole number of CPU threads from 1 to "
                                         f"{MAX_THREADS}") from None


def add_threads_flag(parser: argparse.ArgumentParser) -> None:
    """Give a command of `python -m ganlib` its `--threads N` flag (default: GAN_COURSE_THREADS, else 1)."""
    parser.add_argument("--threads", type=_threads_arg, default=None, metavar="N",
                        help=f"CPU threads to train on (default: the environment variable {ENV_VAR}, else "
                             f"{DEFAULT_THREADS}: these small networks are no faster on more, and much slower on a "
                             "busy machine)")


__all__ = ["ENV_VAR", "DEFAULT_THREADS", "MAX_THREADS", "course_threads", "using_threads", "on_own_threads",
           "add_threads_flag"]
