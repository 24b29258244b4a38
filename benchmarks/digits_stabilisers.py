"""Issue 26 on the digits: precision and recall for every loss, R1, spectral normalisation, the
sliced-Wasserstein G and the conditional DCGAN, each at its default budget, over several seeds.

    OMP_NUM_THREADS=1 python benchmarks/digits_stabilisers.py --seeds 0 1 2 --out runs.jsonl

Each row is `python -m ganlib digits --loss L [flags] --seed S` run in-process (one thread): the
judge's measurements on 2,000 generated digits, precision and recall (k = 3 nearest-neighbour balls
in the classifier's feature space) beside their real-against-real floors, and the run's budget (G
updates, D updates, CPU seconds of training). Runs are appended to `--out` as they finish, and a
second call skips the runs already there, so an interrupted measurement resumes. The table gives
each variant's median and range over the seeds; a conditional run adds the classifier's lowest
per-class accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

# name -> (loss, changes, the command-line flags that give the same config)
VARIANTS: dict[str, tuple[str, dict, str]] = {
    "bce": ("bce", {}, "--loss bce"),
    "wgan": ("wgan", {}, "--loss wgan"),
    "wgan-gp": ("wgan-gp", {}, "--loss wgan-gp"),
    "sliced": ("sliced", {}, "--loss sliced"),
    "bce+r1": ("bce", {"d_penalty": "r1", "r1_gamma": 1.0}, "--loss bce --d-penalty r1 --r1-gamma 1"),
    "bce+sn": ("bce", {"spectral_norm": True}, "--loss bce --spectral-norm"),
    "bce conditional": ("bce", {"conditional": True}, "--loss bce --conditional"),
}


def run_one(name: str, seed: int) -> dict:
    """Train one variant at its default budget with `seed` and return its numbers."""
    import torch

    torch.set_num_threads(1)
    from ganlib import images

    loss, changes, _ = VARIANTS[name]
    judge = images.default_judge()
    config = images.digits_config(loss, seed=seed, **changes)
    cpu0 = time.process_time()
    result = images.train_digits(config, 2000, judge=judge)
    h = result.trainer.history
    m = result.metrics
    return {"variant": name, "seed": seed, "cpu_seconds": time.process_time() - cpu0,
            "train_cpu_seconds": h.cpu_seconds[-1], "g_updates": h.g_updates[-1], "d_updates": h.d_updates[-1],
            **{k: v for k, v in m.items() if k != "class_shares"}}


def table(rows: list[dict]) -> str:
    """Median [min-max] per variant over its seeds."""
    keys = [("frechet", "Frechet", 2), ("precision", "precision", 3), ("recall", "recall", 3),
            ("classes_covered", "classes", 0), ("train_cpu_seconds", "CPU s", 0)]
    lines = ["| variant | seeds | G upd. | D upd. | " + " | ".join(k[1] for k in keys) + " | lowest class acc. |",
             "|---" * (len(keys) + 5) + "|"]
    for name in VARIANTS:
        rs = [r for r in rows if r["variant"] == name]
        if not rs:
            continue
        cells = []
        for key, _, digits in keys:
            v = np.array([r[key] for r in rs], float)
            cells.append(f"{np.median(v):.{digits}f} [{v.min():.{digits}f}-{v.max():.{digits}f}]")
        acc = [min(r["class_accuracy"]) for r in rs if "class_accuracy" in r]
        acc_cell = f"{min(acc):.2f}-{max(acc):.2f}" if acc else ""
        lines.append(f"| {name} | {len(rs)} | {rs[0]['g_updates']} | {rs[0]['d_updates']} | " + " | ".join(cells)
                     + f" | {acc_cell} |")
    r0 = rows[0]
    lines.append(f"\nfloors (held-out real against training): Frechet {r0['frechet_floor']:.3f}, precision "
                 f"{r0['precision_floor']:.3f}, recall {r0['recall_floor']:.3f}")
    lines.append("commands: " + "; ".join(f"{n}: python -m ganlib digits {v[2]} --seed S" for n, v in VARIANTS.items()))
    return "\n".join(lines)


def main() -> None:
    """Run the missing (variant, seed) pairs, appending each to --out, then print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("digits_stabilisers.jsonl"))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    done = {(r["variant"], r["seed"]) for r in rows}
    for seed in args.seeds:
        for name in args.variants:
            if (name, seed) in done:
                continue
            row = run_one(name, seed)
            rows.append(row)
            with args.out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{name} seed {seed}: Frechet {row['frechet']:.3f} precision {row['precision']:.3f} "
                  f"recall {row['recall']:.3f} in {row['train_cpu_seconds']:.0f} CPU s", flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
