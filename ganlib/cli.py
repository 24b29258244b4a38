"""`python -m ganlib train|sweep|presets`: train or sweep from the shell, print a table, write JSON.

Every Config field is a flag (`d_lr` is `--d-lr`; tuples are comma-separated, `--g-hidden 50,50`),
with `--mean`, `--std` and `--seeds` as the short names of the target and run count. Flags start
from a preset (`--preset devnag`), default `recommended`. A bad flag or value, an output path
that cannot be written, a config over the memory budget or an allocation failure exits with
status 2 and one line saying what is wrong; all that can be checked is checked before training.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from ganlib.config import MAX_SEEDS, PRESETS, Config, preset
from ganlib.metrics import SUCCESS_W1_FRACTION, RunResult, summarize_runs
from ganlib.train import MEMORY_BUDGET, N_FINAL, Trainer, check_memory, estimate_memory, make_config_target, train

ALIASES = {"target_mean": ["--mean"], "target_std": ["--std"]}
# Fields a sweep can vary inside one batched pass (a per-run learning rate); others loop.
BATCHED_SWEEP_FIELDS = ("d_lr", "g_lr", "lr")


# What argparse should take for a negative number rather than an option: -7, -2.5, -.5e-3, -1E+4,
# -inf, -nan (its own pattern stops at -2.5, so `--mean -1e4` was "expected one argument").
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # argparse reads this attribute to tell a negative number from an option.
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"ganlib: error: {message}\n")


def _tuple_of(kind: type) -> Any:
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(v) for v in text.split(",") if v.strip())
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__} values, got {text!r}") from exc
    return parse


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="recommended", choices=list(PRESETS), help="start from this preset")
    for f in dataclasses.fields(Config):
        names = [f"--{f.name.replace('_', '-')}"] + ALIASES.get(f.name, [])
        if f.name == "seeds":
            names = ["--seeds"]
        default = f.default
        if isinstance(default, bool):
            p.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction, default=None)
        elif isinstance(default, tuple):
            kind = int if all(isinstance(v, int) for v in default) else str
            p.add_argument(*names, dest=f.name, type=_tuple_of(kind), default=None, metavar="A,B")
        else:
            kind = type(default)
            p.add_argument(*names, dest=f.name, type=kind, default=None, metavar=kind.__name__.upper())


def _config_from(args: argparse.Namespace) -> Config:
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if getattr(args, f.name) is not None}
    return preset(args.preset, **overrides)


def _fmt(v: float, digits: int = 3) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.{digits}f}"


def format_table(runs: Sequence[RunResult], target_std: float | None = None) -> str:
    """A fixed-width table of per-seed results; W1 in target std units (the column W1/std).

    Mean and std are in target units with enough decimals to show a thousandth of `target_std`
    (three decimals when it is not given).
    """
    decimals = 3 if target_std is None else max(0, 3 - math.floor(math.log10(target_std)))
    wm, ws = 5 + decimals, 4 + decimals
    head = f"{'seed':>6} {'mean':>{wm}} {'std':>{ws}} {'skew':>7} {'kurt':>7} {'W1/std':>7} {'KS':>6}  label"
    lines = [head, "-" * len(head)]
    for r in runs:
        lines.append(
            f"{r.seed:>6} {_fmt(r.mean, decimals):>{wm}} {_fmt(r.std, decimals):>{ws}} {_fmt(r.skew, 2):>7} "
            f"{_fmt(r.kurtosis, 2):>7} {_fmt(r.w1_sigma):>7} {_fmt(r.ks):>6}  {r.label}"
            + (f" (round {r.diverged_at})" if r.diverged_at is not None else "")
        )
    return "\n".join(lines)


def _clean(v: Any) -> Any:
    """JSON has no NaN: write null instead."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _check_output(flag: str, path: str | None, suffix: str = "") -> None:
    """A one-line ValueError unless `path` can be written (checked before any training)."""
    if path is None:
        return
    target = Path(path if path.endswith(suffix) else path + suffix)
    parent = target.parent
    if target.is_dir() or Path(path).is_dir():
        raise ValueError(f"{flag} {path}: is a directory; give a file name")
    if not parent.exists():
        raise ValueError(f"{flag} {path}: the directory {parent} does not exist")
    if not parent.is_dir():
        raise ValueError(f"{flag} {path}: {parent} is not a directory")
    if (target.exists() and not os.access(target, os.W_OK)) or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: not writable")


def _cmd_train(args: argparse.Namespace) -> int:
    config = _config_from(args)
    check_memory(config, MEMORY_BUDGET)
    _check_output("--json", args.json)
    # np.save adds .npy to a name without it.
    _check_output("--samples", args.samples, ".npy")
    stderr_tty = sys.stderr.isatty()

    def progress(tr: Trainer) -> None:
        if stderr_tty:
            print(f"\rround {tr.round}/{config.rounds}", end="", file=sys.stderr, flush=True)

    result = train(config, progress)
    if stderr_tty:
        print(file=sys.stderr)
    n_ok = sum(r.success for r in result.runs)
    print(format_table(result.runs, config.target_std))
    print(f"success: {n_ok}/{len(result.runs)} runs with W1 < {SUCCESS_W1_FRACTION:g} x target std "
          f"({SUCCESS_W1_FRACTION * config.target_std:.3g}); {config.rounds} rounds in {result.seconds:.1f} s")
    if args.json:
        payload = {
            "config": config.to_dict(),
            "train_seconds": round(result.seconds, 3),
            "success_rate": n_ok / len(result.runs),
            "criterion": f"W1 < {SUCCESS_W1_FRACTION:g} * target_std",
            "runs": [
                {"seed": r.seed, "mean": _clean(r.mean), "std": _clean(r.std), "skew": _clean(r.skew),
                 "kurtosis": _clean(r.kurtosis), "w1": _clean(r.w1), "w1_sigma": _clean(r.w1_sigma),
                 "ks": _clean(r.ks), "success": r.success,
                 "label": r.label, "diverged_at": r.diverged_at, "diverged_reason": r.diverged_reason}
                for r in result.runs
            ],
        }
        with open(args.json, "w") as fh:
            json.dump(payload, fh, indent=2)
    if args.samples:
        np.save(args.samples, result.trainer.sample(N_FINAL))
    return 0


def _parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    fields = {f.name: f for f in dataclasses.fields(Config)}
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, _, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in fields and name != "lr":
            raise ValueError(f"--grid {item!r}: unknown field {name!r}")
        kind = float if name == "lr" else type(fields[name].default)
        if kind in (tuple, bool) or name in ("seeds", "seed"):
            # Every cell trains the same config.seeds seeds, so seeds are not an axis.
            raise ValueError(f"--grid {item!r}: {name} cannot be swept")
        try:
            grid[name] = [kind(v) for v in values.split(",") if v.strip()]
        except ValueError as exc:
            raise ValueError(f"--grid {item!r}: values must be {kind.__name__}") from exc
        if not grid[name]:
            raise ValueError(f"--grid {item!r}: give NAME=V1,V2,...")
    return grid


def _largest_pass(base: Config, n_combos: int) -> int:
    """How many learning-rate combinations (base.seeds runs each) one batched pass can train.

    At most MAX_SEEDS runs and at most MEMORY_BUDGET by `estimate_memory`, which grows with the
    number of runs; a single combination over the budget raises the one-line ValueError.
    """
    check_memory(base, MEMORY_BUDGET)
    lo, hi = 1, max(1, min(n_combos, MAX_SEEDS // base.seeds))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate_memory(base.replace(seeds=mid * base.seeds)).peak <= MEMORY_BUDGET:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _rates(base: Config, cell: dict[str, Any]) -> dict[str, float]:
    """d_lr and g_lr of a cell: lr sets both, d_lr / g_lr override it."""
    return {"d_lr": cell.get("d_lr", cell.get("lr", base.d_lr)), "g_lr": cell.get("g_lr", cell.get("lr", base.g_lr))}


def _plan(config: Config, grid: dict[str, list[Any]]) -> list[tuple[dict, Config, list[list[tuple]]]]:
    """Every cell validated and every pass sized before anything trains.

    For each combination of the looped fields: its values, its Config, and its learning-rate
    combinations split into passes of balanced size that fit MAX_SEEDS and the memory budget.
    """
    if {"seed", "seeds"} & set(grid):
        raise ValueError("seed and seeds cannot be swept: every cell trains the same config.seeds seeds")
    batched = {k: v for k, v in grid.items() if k in BATCHED_SWEEP_FIELDS}
    looped = {k: v for k, v in grid.items() if k not in BATCHED_SWEEP_FIELDS}
    combos = list(itertools.product(*batched.values()))
    plan = []
    for loop_values in itertools.product(*looped.values()):
        loop = dict(zip(looped, loop_values))
        base = config.replace(**loop)
        for combo in combos:
            # Each cell as a Config of its own: its learning rates get Config's range check.
            base.replace(**_rates(base, dict(zip(batched, combo))))
        per_pass = _largest_pass(base, len(combos))
        size = math.ceil(len(combos) / math.ceil(len(combos) / per_pass))
        plan.append((loop, base, [combos[i:i + size] for i in range(0, len(combos), size)]))
    return plan


def sweep(config: Config, grid: dict[str, list[Any]]) -> dict[str, Any]:
    """Train every grid cell on the same `config.seeds` seeds; learning rates share batched passes.

    Every cell's Config, and the memory of every pass, is checked before anything trains, so a
    bad value in the last cell costs nothing. Learning-rate combinations train together, in as
    few passes as MAX_SEEDS runs and the memory budget allow. Returns the cells with success
    rate, median W1 (target units and target std) and label counts, and the throughput in runs x
    rounds per second.
    """
    plan = _plan(config, grid)
    batched = [k for k in grid if k in BATCHED_SWEEP_FIELDS]
    k_seeds = config.seeds
    cells_out: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    total_run_rounds = 0
    for loop, base, passes in plan:
        target = make_config_target(base)
        for combos in passes:
            rates = [_rates(base, dict(zip(batched, combo))) for combo in combos]
            d_lr = torch.tensor([r["d_lr"] for r in rates for _ in range(k_seeds)], dtype=torch.float64)
            g_lr = torch.tensor([r["g_lr"] for r in rates for _ in range(k_seeds)], dtype=torch.float64)
            big = base.replace(seeds=k_seeds * len(combos))
            trainer = Trainer(big, d_lr=d_lr, g_lr=g_lr,
                              run_seeds=[base.seed + j for _ in combos for j in range(k_seeds)])
            trainer.step(base.rounds)
            total_run_rounds += big.seeds * base.rounds
            runs = trainer.results(4000)
            for ci, combo in enumerate(combos):
                summary = summarize_runs(runs[ci * k_seeds:(ci + 1) * k_seeds], target)
                cells_out.append({
                    **loop, **dict(zip(batched, combo)),
                    "success_rate": summary["success"] / k_seeds,
                    "median_w1": _clean(summary["w1"]),
                    "median_w1_sigma": _clean(summary["w1_sigma"]),
                    "labels": {lab: n for lab, n in summary["labels"].items() if n},
                })
    seconds = time.perf_counter() - t0
    return {"config": config.to_dict(), "grid": grid, "cells": cells_out, "seconds": round(seconds, 3),
            "runs_x_rounds_per_second": round(total_run_rounds / seconds, 1)}


def _cmd_sweep(args: argparse.Namespace) -> int:
    config = _config_from(args)
    grid = _parse_grid(args.grid)
    _plan(config, grid)  # every cell and pass checked before the output path and the training
    _check_output("--json", args.json)
    out = sweep(config, grid)
    keys = list(grid)
    print("  ".join(f"{k:>10}" for k in keys) + f"  {'success':>8}  {'median W1/std':>13}")
    for cell in out["cells"]:
        mw = cell["median_w1_sigma"]
        print("  ".join(f"{cell[k]:>10g}" if isinstance(cell[k], (int, float)) else f"{cell[k]:>10}" for k in keys)
              + f"  {cell['success_rate']:>8.2f}  {(_fmt(mw) if mw is not None else 'nan'):>13}")
    print(f"{out['runs_x_rounds_per_second']:.0f} runs x rounds per second ({out['seconds']:.1f} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (exposed for tests and documentation)."""
    p = _Parser(prog="python -m ganlib", description="Train GANs on 1-D targets from the shell.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train config.seeds runs and report each")
    _add_config_flags(t)
    t.add_argument("--json", metavar="PATH", help="write config, time and per-run results as JSON")
    t.add_argument("--samples", metavar="PATH", help="write a (seeds, 10000) .npy of generated values")
    s = sub.add_parser("sweep", help="train a grid of settings, many seeds per cell, batched")
    _add_config_flags(s)
    s.add_argument("--grid", action="append", required=True, metavar="FIELD=V1,V2",
                   help="a field and its values; repeat for more axes (lr sets d_lr and g_lr together)")
    s.add_argument("--json", metavar="PATH", help="write the cells as JSON")
    sub.add_parser("presets", help="list the presets")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m ganlib`; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "presets":
            for name, fields in PRESETS.items():
                print(f"{name}: {', '.join(f'{k}={v}' for k, v in fields.items()) or 'the Config defaults'}")
            return 0
        if args.command == "train":
            return _cmd_train(args)
        return _cmd_sweep(args)
    except (ValueError, OSError, MemoryError) as exc:
        print(f"ganlib: error: {exc}", file=sys.stderr)
        return 2


__all__ = ["main", "build_parser", "format_table", "sweep"]
