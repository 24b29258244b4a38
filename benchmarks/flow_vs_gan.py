"""Flow matching against the GAN recipe and the textbook GAN on three targets, over seed blocks.

    OMP_NUM_THREADS=1 python benchmarks/flow_vs_gan.py --blocks 0 1000 2000 [--json out.json]

For each block B and target (normal, Laplace, the two-mode mixture of separation 0.96; all N(4, 1.25)
in mean and std), ten seeds B..B+9 of: flow matching (`ganlib.flows`, its defaults: 4,000 updates,
20 midpoint evaluations a sample), the course's recommended GAN (D sees the sorted batch) and the same
recipe with a D that sees one value (the textbook GAN), all three on N(0, 1) noise, so that the only
difference is the method. Prints one row per (block, target, method): successes of ten, median W1 in
target std, runs that kept both modes (two-mode target), training CPU seconds per run, and network
evaluations per sample. Also checks the flow's reported W1 against scipy's on the values it samples.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from ganlib import preset, train
from ganlib.flows import FlowConfig, train_flow
from ganlib.metrics import mode_dropped

TARGETS = {"normal": {}, "laplace": {}, "mixture": {"mixture_separation": 0.96}}


def _row(name: str, target: str, block: int, result, evaluations: int) -> dict:
    runs = result.runs
    w1 = np.array([r.w1_sigma for r in runs])
    kept = (sum(not mode_dropped(r.mass_low, r.mass_high, result.trainer.target) and r.label != "collapsed"
                for r in runs) if target == "mixture" else None)
    return {"block": block, "target": target, "method": name, "success": int(sum(r.success for r in runs)),
            "median_w1_sigma": float(np.median(w1)), "modes_kept": kept,
            "cpu_seconds_per_run": float(result.history.cpu_seconds[-1] / len(runs)),
            "evaluations_per_sample": evaluations}


def _scipy_check(result) -> float:
    """Largest |reported W1 - scipy's W1| over the runs, on the 10,000 values `sample` gives (target units)."""
    from scipy import stats

    samples = result.trainer.sample(10_000)
    target = result.trainer.target
    q = target.icdf((np.arange(200_000) + 0.5) / 200_000)
    return max(abs(r.w1 - stats.wasserstein_distance(s, np.asarray(q))) for r, s in zip(result.runs, samples))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, nargs="+", default=[0, 1000, 2000])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = []
    print(f"{'block':>5} {'target':8} {'method':26} {'success':>7} {'med W1':>7} {'modes':>5} {'CPU s/run':>9} "
          f"{'evals':>5}")
    for block in args.blocks:
        for target, extra in TARGETS.items():
            common = dict(target=target, noise="normal", seed=block, **extra)
            flow = train_flow(FlowConfig(**common))
            contenders = [("flow matching", flow, FlowConfig().evaluations),
                          ("GAN recipe (sorted batch)", train(preset("recommended", **common)), 1),
                          ("textbook GAN (one value)", train(preset("recommended", features="value", **common)), 1)]
            for name, result, evals in contenders:
                row = _row(name, target, block, result, evals)
                rows.append(row)
                kept = "" if row["modes_kept"] is None else str(row["modes_kept"])
                print(f"{block:>5} {target:8} {name:26} {row['success']:>4}/10 {row['median_w1_sigma']:7.3f} "
                      f"{kept:>5} {row['cpu_seconds_per_run']:9.3f} {evals:>5}", flush=True)
            gap = _scipy_check(flow)
            print(f"      flow's reported W1 against scipy's on its samples: largest difference {gap:.2e}", flush=True)
            rows[-3]["scipy_w1_gap"] = gap
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
