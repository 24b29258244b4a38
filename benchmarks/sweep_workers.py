"""The same sweep in this process (one thread) and on a local Dask cluster of N single-threaded workers.

    OMP_NUM_THREADS=1 python benchmarks/sweep_workers.py                  # 2 workers, 2 repeats
    OMP_NUM_THREADS=1 python benchmarks/sweep_workers.py --workers 2 --repeat 3 --rounds 2000

For each repeat: the serial sweep's seconds (in this process, torch on one thread, as the course
runs), then the Dask sweep's wall time (starting the cluster, whose workers import torch, training,
closing it) and its training time alone; the ratios to the serial time; and the load average
(1 minute) before each, since other work on the machine slows both. CPU seconds (user + system)
are counted too, which other work disturbs far less than wall time: the serial sweep's, and the
Dask sweep's in this process (client and scheduler) and in the cluster's processes. Every Dask result is checked
to equal the serial one number for number. The default grid, four learning rates by D steps 1 to
4, gives four passes whose costs (2, 3, 4, 5 network updates a round) split evenly over two
workers (5 + 2 and 4 + 3), so the ideal ratio is 0.5 plus the cluster's start-up.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import torch

from ganlib.config import preset
from ganlib.sweep import parse_grid, plan_sweep, sweep

DEFAULT_GRID = ["lr=5e-4,1e-3,2e-3,4e-3", "d_steps=1,2,3,4"]


def _children_cpu() -> float:
    """User and system CPU seconds of this process's finished (and waited-for) children and theirs."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per repeat and the range of the ratios."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="recommended")
    p.add_argument("--rounds", type=int, default=1000)
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--grid", action="append", help=f"FIELD=V1,V2 (default: {' '.join(DEFAULT_GRID)})")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args(argv)
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("note: OMP_NUM_THREADS is not 1; the serial sweep runs on one thread all the same", file=sys.stderr)
    torch.set_num_threads(1)
    config = preset(args.preset, rounds=args.rounds, seeds=args.seeds)
    grid = parse_grid(args.grid or DEFAULT_GRID)
    plan = plan_sweep(config, grid)
    runs = sum(p.runs for p in plan)
    print(f"{args.preset}, {args.rounds} rounds, {args.seeds} seeds a cell, grid {grid}: {len(plan)} passes, "
          f"{runs} runs; {os.cpu_count()} CPUs; torch {torch.__version__}")
    print(f"{'repeat':>6} {'load':>5} {'serial s':>8} {'cpu s':>6} {'load':>5} {'dask wall s':>11} "
          f"{'train s':>7} {'cpu s':>6} {'wall/serial':>11} {'train/serial':>12} {'cpu/serial':>10}")
    rows = []
    for r in range(args.repeat):
        load_s = os.getloadavg()[0]
        cpu0 = time.process_time()
        serial = sweep(config, grid)
        cpu_serial = time.process_time() - cpu0
        load_d = os.getloadavg()[0]
        t0, cpu0, children0 = time.perf_counter(), time.process_time(), _children_cpu()
        on_dask = sweep(config, grid, workers=args.workers)
        wall = time.perf_counter() - t0
        # This process (client and scheduler) and its children (nannies and workers, waited for at the end).
        cpu_dask = time.process_time() - cpu0 + _children_cpu() - children0
        if on_dask["cells"] != serial["cells"]:
            print("the Dask sweep's cells differ from the serial sweep's", file=sys.stderr)
            return 1
        row = (serial["seconds"], wall, on_dask["seconds"])
        rows.append(row)
        print(f"{r:>6} {load_s:>5.2f} {row[0]:>8.1f} {cpu_serial:>6.1f} {load_d:>5.2f} {row[1]:>11.1f} "
              f"{row[2]:>7.1f} {cpu_dask:>6.1f} {row[1] / row[0]:>11.2f} {row[2] / row[0]:>12.2f} "
              f"{cpu_dask / cpu_serial:>10.2f}")
    walls = sorted(w / s for s, w, _ in rows)
    trains = sorted(t / s for s, _, t in rows)
    print(f"{args.workers} workers against the serial sweep: wall {walls[0]:.2f}-{walls[-1]:.2f}, training "
          f"{trains[0]:.2f}-{trains[-1]:.2f} of the serial time; identical cells in every repeat")
    return 0


if __name__ == "__main__":
    sys.exit(main())
