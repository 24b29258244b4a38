"""The command line and a notebook-like run, with and without OMP_NUM_THREADS=1, under load.

    python benchmarks/threads.py                        # load 2, 3 repeats, the reference run once
    python benchmarks/threads.py --load 2 --repeat 5 --rounds 2000 --seeds 10 --no-reference

ganlib's trainers set torch's thread count themselves (one, unless asked for more: see
ganlib.threads), so a student who starts JupyterLab without the course's commands, or runs
`python -m ganlib train` from a plain shell, should train as fast as with OMP_NUM_THREADS=1. This
script checks that on a busy machine, which is where extra threads hurt: it starts `--load`
single-threaded busy processes of its own (beside whatever else runs), then times, each in a
fresh Python process:

- cli: `python -m ganlib train --preset devnag --rounds R --seeds S` (the `train_seconds` of its JSON);
- notebook: what the notebooks' cells do in a kernel, timed in-process: `train(preset("devnag", ...))`,
  a dashboard-like Trainer stepped 20 rounds at a time with its evaluations, then `sample` and
  `results`;

each with the environment as a plain shell leaves it (no OMP_NUM_THREADS, no GAN_COURSE_THREADS)
and with OMP_NUM_THREADS=1, alternating, so that drifts of the machine's load fall on both alike.
The reference (`--reference`, on by default, one repeat) is what ganlib did before it chose its own
threads: torch's default count, one per core (GAN_COURSE_THREADS set to it). The verdict compares
the medians: without the variable within 10% of with it.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOTEBOOK_LIKE = r"""
import json, sys, time
from ganlib import Trainer, preset, train
rounds, seeds = int(sys.argv[1]), int(sys.argv[2])
t0 = time.perf_counter()
train(preset("devnag", rounds=rounds, seeds=seeds))                     # a cell that trains ten seeds
tr = Trainer(preset("devnag", rounds=rounds, seeds=3, eval_every=200))   # the dashboard: a frame a step
for _ in range(rounds // 20):
    tr.step(20, evaluate_at_end=False)
tr.sample(10_000)
tr.results()
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def _spin(stop: multiprocessing.synchronize.Event) -> None:
    """A single-threaded busy process: the load."""
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def _env(mode: str, cores: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "GAN_COURSE_THREADS")}
    if mode == "omp1":
        env["OMP_NUM_THREADS"] = "1"
    elif mode == "torch-default":
        env["GAN_COURSE_THREADS"] = str(cores)
    return env


def _cli(mode: str, rounds: int, seeds: int, cores: int, cap: float | None = None) -> float:
    """Seconds of training of the train command (its JSON's train_seconds); inf if it ran past `cap` seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        try:
            subprocess.run([sys.executable, "-m", "ganlib", "train", "--preset", "devnag", "--rounds", str(rounds),
                            "--seeds", str(seeds), "--json", str(out)], env=_env(mode, cores), check=True,
                           stdout=subprocess.DEVNULL, timeout=cap)
        except subprocess.TimeoutExpired:
            return math.inf
        return float(json.loads(out.read_text())["train_seconds"])


def _notebook(mode: str, rounds: int, seeds: int, cores: int, cap: float | None = None) -> float:
    """Seconds of the notebook-like script's ganlib calls; inf if it ran past `cap` seconds."""
    try:
        done = subprocess.run([sys.executable, "-c", NOTEBOOK_LIKE, str(rounds), str(seeds)], env=_env(mode, cores),
                              check=True, capture_output=True, text=True, timeout=cap)
    except subprocess.TimeoutExpired:
        return math.inf
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a line per run and the verdict; exit status 1 if a ratio is over 1.10."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--load", type=int, default=2, help="busy processes to start beside the runs (default 2)")
    p.add_argument("--reference", action=argparse.BooleanOptionalAction, default=True,
                   help="also time torch's default thread count once (ganlib before it chose; default on)")
    p.add_argument("--reference-cap", type=float, default=300.0,
                   help="stop a reference run after this many seconds and report it as longer (default 300)")
    args = p.parse_args(argv)
    cores = os.cpu_count() or 1
    stop = multiprocessing.Event()
    load = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.load)]
    for proc in load:
        proc.start()
    times: dict[tuple[str, str], list[float]] = {}
    try:
        time.sleep(2.0 if load else 0.0)
        print(f"devnag, {args.rounds} rounds, {args.seeds} seeds; {cores} CPUs; {args.load} busy processes started")
        print(f"{'run':>8} {'environment':>24} {'load 1 min':>10} {'seconds':>8}")
        plan = [(kind, mode) for _ in range(args.repeat) for kind in ("cli", "notebook") for mode in ("plain", "omp1")]
        if args.reference:
            plan += [("cli", "torch-default"), ("notebook", "torch-default")]
        for kind, mode in plan:
            load_avg = os.getloadavg()[0]
            cap = args.reference_cap if mode == "torch-default" else None
            seconds = (_cli if kind == "cli" else _notebook)(mode, args.rounds, args.seeds, cores, cap)
            times.setdefault((kind, mode), []).append(seconds)
            label = {"plain": "no variable", "omp1": "OMP_NUM_THREADS=1",
                     "torch-default": f"{cores} threads (old default)"}[mode]
            shown = f"{seconds:>8.2f}" if math.isfinite(seconds) else f"> {cap:.0f}"
            print(f"{kind:>8} {label:>24} {load_avg:>10.2f} {shown:>8}", flush=True)
    finally:
        stop.set()
        for proc in load:
            proc.join(timeout=5)
    status = 0
    print("\nmedians:")
    for kind in ("cli", "notebook"):
        if (kind, "plain") not in times:
            continue
        plain, omp1 = statistics.median(times[kind, "plain"]), statistics.median(times[kind, "omp1"])
        ratio = plain / omp1
        ok = ratio <= 1.10
        status |= not ok
        line = (f"{kind:>8}: no variable {plain:.2f} s, OMP_NUM_THREADS=1 {omp1:.2f} s, ratio {ratio:.3f} "
                f"({'within' if ok else 'NOT within'} 10%)")
        if (kind, "torch-default") in times:
            old = times[kind, "torch-default"][0]
            line += (f"; torch's default threads {old:.2f} s ({old / omp1:.1f}x)" if math.isfinite(old) else
                     f"; torch's default threads more than {args.reference_cap:.0f} s "
                     f"(over {args.reference_cap / omp1:.1f}x)")
        print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
