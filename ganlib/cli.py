"""`python -m ganlib train|sweep|presets`: train or sweep from the shell, print a table, write JSON.

Every Config field is a flag (`d_lr` is `--d-lr`; tuples are comma-separated, `--g-hidden 50,50`),
with `--mean`, `--std` and `--seeds` as the short names of the target and run count. Flags start
from a preset (`--preset devnag`), default `recommended`. A bad flag or value exits with status 2
and one line saying what is wrong.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np
import torch

from ganlib import images
from ganlib.config import PRESETS, Config, preset
from ganlib.metrics import SUCCESS_W1_FRACTION, RunResult
from ganlib.train import Trainer, train

ALIASES = {"target_mean": ["--mean"], "target_std": ["--std"]}
# Fields a sweep can vary inside one batched pass (a per-run learning rate); others loop.
BATCHED_SWEEP_FIELDS = ("d_lr", "g_lr", "lr")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

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


def format_table(runs: Sequence[RunResult]) -> str:
    """A fixed-width table of per-seed results."""
    head = f"{'seed':>6} {'mean':>8} {'std':>7} {'skew':>7} {'kurt':>7} {'W1':>7} {'KS':>6}  label"
    lines = [head, "-" * len(head)]
    for r in runs:
        lines.append(
            f"{r.seed:>6} {_fmt(r.mean):>8} {_fmt(r.std):>7} {_fmt(r.skew, 2):>7} {_fmt(r.kurtosis, 2):>7} "
            f"{_fmt(r.w1):>7} {_fmt(r.ks):>6}  {r.label}"
            + (f" (round {r.diverged_at})" if r.diverged_at is not None else "")
        )
    return "\n".join(lines)


def _clean(v: Any) -> Any:
    """JSON has no NaN: write null instead."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _cmd_train(args: argparse.Namespace) -> int:
    config = _config_from(args)
    stderr_tty = sys.stderr.isatty()

    def progress(tr: Trainer) -> None:
        if stderr_tty:
            print(f"\rround {tr.round}/{config.rounds}", end="", file=sys.stderr, flush=True)

    result = train(config, progress)
    if stderr_tty:
        print(file=sys.stderr)
    n_ok = sum(r.success for r in result.runs)
    print(format_table(result.runs))
    print(f"success: {n_ok}/{len(result.runs)} runs with W1 < {SUCCESS_W1_FRACTION:g} x target std "
          f"({SUCCESS_W1_FRACTION * config.target_std:.3f}); {config.rounds} rounds in {result.seconds:.1f} s")
    if args.json:
        payload = {
            "config": config.to_dict(),
            "train_seconds": round(result.seconds, 3),
            "success_rate": n_ok / len(result.runs),
            "criterion": f"W1 < {SUCCESS_W1_FRACTION:g} * target_std",
            "runs": [
                {"seed": r.seed, "mean": _clean(r.mean), "std": _clean(r.std), "skew": _clean(r.skew),
                 "kurtosis": _clean(r.kurtosis), "w1": _clean(r.w1), "ks": _clean(r.ks), "success": r.success,
                 "label": r.label, "diverged_at": r.diverged_at, "diverged_reason": r.diverged_reason}
                for r in result.runs
            ],
        }
        with open(args.json, "w") as fh:
            json.dump(payload, fh, indent=2)
    if args.samples:
        np.save(args.samples, result.trainer.sample(10_000))
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


def sweep(config: Config, grid: dict[str, list[Any]]) -> dict[str, Any]:
    """Train every grid cell on the same `config.seeds` seeds; learning rates share one batched pass.

    Returns the cells with success rate and median W1, and the throughput in runs x rounds per second.
    """
    if {"seed", "seeds"} & set(grid):
        raise ValueError("seed and seeds cannot be swept: every cell trains the same config.seeds seeds")
    batched = {k: v for k, v in grid.items() if k in BATCHED_SWEEP_FIELDS}
    looped = {k: v for k, v in grid.items() if k not in BATCHED_SWEEP_FIELDS}
    k_seeds = config.seeds
    cells_out: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    total_run_rounds = 0
    for loop_values in itertools.product(*looped.values()) if looped else [()]:
        base = config.replace(**dict(zip(looped, loop_values)))
        combos = list(itertools.product(*batched.values())) if batched else [()]
        d_lr = torch.tensor([dict(zip(batched, c)).get("d_lr", dict(zip(batched, c)).get("lr", base.d_lr))
                             for c in combos for _ in range(k_seeds)], dtype=torch.float64)
        g_lr = torch.tensor([dict(zip(batched, c)).get("g_lr", dict(zip(batched, c)).get("lr", base.g_lr))
                             for c in combos for _ in range(k_seeds)], dtype=torch.float64)
        big = base.replace(seeds=k_seeds * len(combos))
        trainer = Trainer(big, d_lr=d_lr, g_lr=g_lr, run_seeds=[base.seed + j for _ in combos for j in range(k_seeds)])
        trainer.step(base.rounds)
        total_run_rounds += big.seeds * base.rounds
        runs = trainer.results(4000)
        for ci, combo in enumerate(combos):
            block = runs[ci * k_seeds:(ci + 1) * k_seeds]
            w1s = [r.w1 for r in block]
            cells_out.append({
                **dict(zip(looped, loop_values)), **dict(zip(batched, combo)),
                "success_rate": sum(r.success for r in block) / k_seeds,
                "median_w1": _clean(float(np.nanmedian(w1s)) if any(math.isfinite(w) for w in w1s) else float("nan")),
                "labels": {lab: sum(r.label == lab for r in block) for lab in sorted({r.label for r in block})},
            })
    seconds = time.perf_counter() - t0
    return {"config": config.to_dict(), "grid": grid, "cells": cells_out, "seconds": round(seconds, 3),
            "runs_x_rounds_per_second": round(total_run_rounds / seconds, 1)}


def _cmd_sweep(args: argparse.Namespace) -> int:
    config = _config_from(args)
    grid = _parse_grid(args.grid)
    out = sweep(config, grid)
    keys = list(grid)
    print("  ".join(f"{k:>10}" for k in keys) + f"  {'success':>8}  {'median W1':>9}")
    for cell in out["cells"]:
        mw = cell["median_w1"]
        print("  ".join(f"{cell[k]:>10g}" if isinstance(cell[k], (int, float)) else f"{cell[k]:>10}" for k in keys)
              + f"  {cell['success_rate']:>8.2f}  {(_fmt(mw) if mw is not None else 'nan'):>9}")
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
    images.add_digits_parser(sub)
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
        if args.command == "digits":
            return images.run_digits(args)
        return _cmd_sweep(args)
    except (ValueError, OSError) as exc:
        print(f"ganlib: error: {exc}", file=sys.stderr)
        return 2


__all__ = ["main", "build_parser", "format_table", "sweep"]
