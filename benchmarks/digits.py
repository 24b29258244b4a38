"""The three losses on the 8x8 digits, each at its default budget, over several seeds.

    OMP_NUM_THREADS=1 python benchmarks/digits.py --seeds 0 1 2 3 4 --jobs 2 --json digits.json

Each (loss, seed) is `python -m ganlib digits --loss L --seed S` run in-process: the article's
DCGAN-style G and critic (for wgan-gp a critic with a layer norm in place of BatchNorm), then the
judge's measurements on 2,000 generated digits. Per loss the table
gives: classes covered (>= 4% of the digits), the Frechet distance in the classifier's feature space
against its floor (held-out real digits against the training half), the nearest-neighbour ratio
(median distance of a generated digit to its nearest training digit over the same for held-out real
digits), the share of digits the classifier is less than 90% sure of, the critic's estimate against
the Frechet distance (Spearman over each run's evaluations; then the final values across seeds), and
the CPU seconds of training. One process per job, one thread each.
The critic's correlation is also given from the estimate's highest point on, after the critic has
caught up with G. A second table gives each run's budget at its last evaluation, from the run's
budget record: G updates, D (critic) updates, warm-up steps included (wgan's default schedule adds
100-step rounds, so its D updates are not rounds x D steps), and the CPU seconds of the training
rounds alone (evaluations left out), so the losses can be compared at equal cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def run_one(loss: str, seed: int) -> dict:
    """Train one run at the loss's default budget and return its numbers."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    from ganlib import images

    judge = images.default_judge()
    config = images.digits_config(loss, seed=seed)
    cpu0 = time.process_time()
    result = images.train_digits(config, 2000, judge=judge)
    cpu = time.process_time() - cpu0
    h = result.trainer.history
    confident = judge.model.predict_proba(result.images.reshape(len(result.images), -1) / images.PIXEL_MAX).max(1)
    return {
        "loss": loss, "seed": seed, "cpu_seconds": cpu, "wall_seconds": result.trainer.seconds,
        **{k: v for k, v in result.metrics.items() if k != "class_shares"},
        "class_shares": result.metrics["class_shares"],
        "unsure": float(np.mean(confident < 0.9)),
        "spearman": result.critic_vs_frechet["spearman"], "pearson": result.critic_vs_frechet["pearson"],
        "after_peak": result.critic_vs_frechet["spearman_after_peak"],
        "peak_round": result.critic_vs_frechet["peak_round"],
        "final_estimate": float(h.estimate_at_evals(config.eval_every)[-1]), "final_frechet": h.frechet[-1],
        "eval_round": h.eval_round, "frechet_path": h.frechet,
        "estimate_path": [float(v) for v in h.estimate_at_evals(config.eval_every)],
        # the budget at the last evaluation (the default budgets end on one) and at every evaluation
        "g_updates": h.g_updates[-1], "d_updates": h.d_updates[-1], "train_cpu_seconds": h.cpu_seconds[-1],
        "budget": h.budget(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--losses", nargs="+", default=["bce", "wgan", "wgan-gp"])
    p.add_argument("--jobs", type=int, default=1, help="runs at once, one thread each")
    p.add_argument("--json", help="write every run's numbers here")
    args = p.parse_args()
    from ganlib import images

    for loss in args.losses:
        images.digits_config(loss)  # a bad name fails here, before any training
    tasks = [(loss, seed) for loss in args.losses for seed in args.seeds]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        runs = list(pool.map(run_one, *zip(*tasks)))
    judge = images.default_judge()
    print(f"classifier: held-out accuracy {judge.accuracy:.3f}; Frechet floor {judge.frechet_floor:.3f}; "
          f"seeds {', '.join(map(str, args.seeds))}")
    head = (f"{'loss':8s} {'rounds x D steps':>16s} {'covered':>9s} {'Frechet':>15s} {'NN ratio':>11s} "
            f"{'unsure':>7s} {'rho in run':>14s} {'after peak':>11s} {'rho seeds':>9s} {'CPU s':>6s}")
    print(head)
    print("-" * len(head))
    for loss in args.losses:
        rs = [r for r in runs if r["loss"] == loss]
        cfg = images.digits_config(loss)

        def span(key: str, fmt: str, rs: list[dict] = rs) -> str:
            v = [r[key] for r in rs]
            return f"{min(v):{fmt}}-{max(v):{fmt}}"

        across = images.spearman([r["final_estimate"] for r in rs], [r["final_frechet"] for r in rs])
        unsure = np.median([r["unsure"] for r in rs])
        warm = "+w" if cfg.critic_warmup[0] else ""  # a critic warm-up: more D updates than rounds x steps
        print(f"{loss:8s} {cfg.rounds:>9d} x {f'{cfg.d_steps}{warm}':<4s} {span('classes_covered', 'd'):>9s} "
              f"{span('frechet', '.2f'):>15s} {span('nn_ratio', '.2f'):>11s} {unsure:7.2f} "
              f"{span('spearman', '.2f'):>14s} {span('after_peak', '.2f'):>11s} {across:9.2f} "
              f"{np.median([r['cpu_seconds'] for r in rs]):6.1f}")
    print("covered, Frechet, NN ratio, rho in run (Spearman of the critic's estimate vs the Frechet distance over "
          "the run's evaluations) and after peak (the same from the estimate's highest point on; nan when the peak "
          "is the last evaluation): min-max over seeds; unsure: median share of digits the classifier gives < 90%; "
          "rho seeds: Spearman of final estimate vs final Frechet across seeds; CPU s: median training CPU time; "
          "+w: with the WGAN code's critic warm-up (see the budget below)")
    print()
    head = (f"{'loss':8s} {'seed':>5s} {'G updates':>10s} {'D updates':>10s} {'CPU s':>7s} {'Frechet':>8s} "
            f"{'covered':>8s}")
    print(head)
    print("-" * len(head))
    for r in runs:
        print(f"{r['loss']:8s} {r['seed']:5d} {r['g_updates']:10d} {r['d_updates']:10d} {r['train_cpu_seconds']:7.1f} "
              f"{r['frechet']:8.2f} {r['classes_covered']:8d}")
    print("budget at the last evaluation, from each run's record: G and D updates (critic warm-up steps included) "
          "and the CPU seconds of the training rounds alone; Frechet and covered: the 2,000 digits drawn at the end")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(runs, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
