"""Notebook 08's methods on the ring of eight Gaussians, minibatch discrimination included, over seed blocks.

    OMP_NUM_THREADS=1 python benchmarks/plane_methods.py --blocks 0 1000 2000

Each block trains ten seeds of each method at the notebook's budgets (2,000 rounds of one D and one G
update; the WGANs 400 rounds of five critic steps) and prints, per method, the runs that cover all
eight modes, the median modes covered, high-quality share and sliced W1, and the training CPU seconds
of the ten runs. Minibatch discrimination compares every pair of points in a batch of 128, which the
notebook leaves out for its cost; this is where it is measured. `--json F` keeps every run's numbers.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ganlib.plane import N_FINAL_2D, plane_method, plane_target, sliced_w1_floor, train_plane

METHODS = {"gan": 2000, "pack": 2000, "r1": 2000, "minibatch": 2000, "wgan": 400, "wgan-gp": 400}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--blocks", type=int, nargs="+", default=[0, 1000, 2000])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--json", help="write every run's numbers here")
    args = p.parse_args()
    rows: dict[str, list[dict]] = {m: [] for m in args.methods}
    for block in args.blocks:
        for method in args.methods:
            t0 = time.perf_counter()
            res = train_plane(plane_method(method, seed=block, rounds=METHODS[method]))
            rows[method].append({
                "block": block, "seconds": time.perf_counter() - t0, "cpu": float(res.history.cpu_seconds[-1]),
                "modes": [r.modes_covered for r in res.runs], "high_quality": [r.high_quality for r in res.runs],
                "sliced_w1": [r.sliced_w1 for r in res.runs]})
            print(f"block {block} {method}: {rows[method][-1]['modes']} ({rows[method][-1]['cpu']:.1f} CPU s)",
                  flush=True)
    floor = sliced_w1_floor(plane_target(plane_method("gan")), N_FINAL_2D)
    print("\n| method | rounds | runs with all 8 modes, per block | median modes | median high quality | "
          "median sliced W1 | CPU s (10 runs) |")
    print("|---|---|---|---|---|---|---|")
    for method, blocks in rows.items():
        modes = np.concatenate([b["modes"] for b in blocks])
        hq = np.concatenate([b["high_quality"] for b in blocks])
        sw = np.concatenate([b["sliced_w1"] for b in blocks])
        per_block = ", ".join(str(sum(m == 8 for m in b["modes"])) for b in blocks)
        cpu = np.median([b["cpu"] for b in blocks])
        print(f"| {method} | {METHODS[method]} | {per_block} | {np.median(modes):.1f} | {np.median(hq):.2f} | "
              f"{np.median(sw):.3f} | {cpu:.1f} |")
    print(f"\nsliced W1 floor of {N_FINAL_2D} exact points: {floor:.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
