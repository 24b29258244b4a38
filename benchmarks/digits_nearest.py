"""How close are generated digits to real ones? The nearest-neighbour ratio under changed settings.

    OMP_NUM_THREADS=1 python benchmarks/digits_nearest.py --loss wgan-gp --checks 400 800 \\
        --set d_lr=1e-4,g_lr=1e-4 --set ndf=64 --jobs 2

Each `--set` is one variant: comma-separated DigitsConfig fields changed from the loss's default
(`--set ''` is the default itself). A variant trains to the last check (its learning-rate schedule runs
to that round) and, at every check, draws 2,000 digits and prints the nearest-neighbour ratio (median
distance from a generated digit to its nearest training digit over the same for held-out real digits),
the Frechet distance and the classes covered. The first lines print the reference ratios of real
digits: held-out digits against the training half (1 by definition), and the second half of the data
set against the first (an estimate for digits by writers the training half has not seen, since the
data set's order groups digits by writer). Not a test: run it by hand.

Does a loss keep a good generator good? `--start-from bce` first trains the DCGAN at its default budget,
then starts every variant's G from the DCGAN's G (a fresh critic and fresh optimizer state), and
`--warm-critic N` trains that critic N steps against the frozen G before the first round, so that G's
first updates do not follow an untrained critic. Round 0 is then printed too:

    OMP_NUM_THREADS=1 python benchmarks/digits_nearest.py --start-from bce --warm-critic 500 \\
        --checks 100 200 300 400 --set d_lr=1e-4,g_lr=1e-4,lr_decay=1 --set d_lr=1e-4,g_lr=1e-4,lr_decay=1,ndf=128
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np


def parse_set(text: str) -> dict[str, Any]:
    """'d_lr=1e-4,ndf=64' -> {'d_lr': 1e-4, 'ndf': 64} (ints, then floats, else strings)."""
    out: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        for kind in (int, float):
            try:
                out[key.strip()] = kind(value)
                break
            except ValueError:
                continue
        else:
            out[key.strip()] = value.strip()
    return out


def run_variant(loss: str, changes: dict[str, Any], checks: list[int], seed: int, start_from: str | None = None,
                warm_critic: int = 0) -> list[dict[str, Any]]:
    """Train one variant to the last check, measuring at each check (and at round 0 with `start_from`)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    from ganlib import images

    judge = images.default_judge()
    config = images.digits_config(loss, seed=seed, **{"rounds": max(checks), "eval_every": max(checks), **changes})
    trainer = images.DigitsTrainer(config, judge)
    if start_from is not None:
        first = images.DigitsTrainer(images.digits_config(start_from, seed=seed), judge)
        first.step(first.config.rounds)
        trainer.G.load_state_dict(first.G.state_dict())  # copies into G's own tensors: the optimizer's stay valid
        for _ in range(warm_critic):
            trainer._critic_step()
        checks = [0, *checks]
    rows, done, cpu0 = [], 0, time.process_time()
    for check in checks:
        trainer.step(check - done)
        done = check
        m = judge.measure(trainer.sample(2000))
        rows.append({"loss": loss, "changes": changes, "seed": seed, "start_from": start_from,
                     "warm_critic": warm_critic, "round": check,
                     "cpu_seconds": round(time.process_time() - cpu0, 1), "nn_ratio": round(m["nn_ratio"], 3),
                     "frechet": round(m["frechet"], 3), "covered": m["classes_covered"]})
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loss", default="wgan-gp")
    p.add_argument("--checks", type=int, nargs="+", default=[400, 800])
    p.add_argument("--set", dest="sets", action="append", default=None, help="one variant, e.g. ndf=64,batch_size=128")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--start-from", default=None, help="a loss whose default run's G every variant starts from")
    p.add_argument("--warm-critic", type=int, default=0, help="critic steps against the frozen G before round 1")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    checks = sorted(set(args.checks) - {0})
    if not checks or checks[0] < 0:
        p.error("--checks needs rounds > 0")
    if args.warm_critic < 0 or (args.warm_critic and args.start_from is None):
        p.error("--warm-critic needs --start-from and a count >= 0")
    variants = [parse_set(s) for s in (args.sets if args.sets is not None else [""])]

    from sklearn.datasets import load_digits

    from ganlib import images

    if args.start_from is not None:
        if args.start_from not in images.LOSS_DEFAULTS:
            p.error(f"--start-from {args.start_from}: choose one of {', '.join(images.LOSS_DEFAULTS)}")
        if any({"nz", "ngf"} & set(v) for v in variants):
            p.error("--start-from copies G's weights: a variant may not change G's shape (nz, ngf)")

    real = float(np.median(images.default_judge().real_nn))
    every = load_digits().images.astype(np.float64)  # in the data set's order, which groups writers
    half = len(every) // 2
    unseen = float(np.median(images.nearest_distances(every[half:], every[:half])))
    print(f"real digits: held-out against training half 1.000 (median distance {real:.2f}); "
          f"second half of the data set against the first {unseen / real:.3f} ({len(every)} digits)")
    if args.start_from is not None:
        print(f"every variant's G starts from a trained {args.start_from} G; its critic first trains "
              f"{args.warm_critic} steps against it (round 0 is that start)")
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_variant, args.loss, v, checks, args.seed, args.start_from, args.warm_critic)
                   for v in variants]
        results = [row for f in futures for row in f.result()]
    print(f"{'changes':40s} {'round':>6} {'NN ratio':>8} {'Frechet':>8} {'covered':>7} {'CPU s':>6}")
    for r in results:
        label = ",".join(f"{k}={v}" for k, v in r["changes"].items()) or "(default)"
        print(f"{label:40s} {r['round']:6d} {r['nn_ratio']:8.3f} {r['frechet']:8.3f} {r['covered']:7d} "
              f"{r['cpu_seconds']:6.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
