"""R1 and spectral normalisation of D on notebook 07's two-mode target, beside its vanilla and WGAN-GP contenders.

The race of notebook 07 (section 3), on its budget axis: every contender trains 800 rounds of one G
update each, **equal G updates** (WGAN-GP's critic takes five D steps a round, as its recipe says, so
it has five times the D updates; CPU seconds are printed to show what that costs). The target is the
mixture of separation 0.96; batches of 64, Adam 2e-3 with beta1 0.5, both rates falling to 5% by the
last round, evaluated every 20 rounds on 500 values, as the notebook's `BASE`.

Contenders (each D sees one value at a time, `features="value"`):
- vanilla: the notebook's per-value GAN with the non-saturating loss;
- vanilla + R1 at gamma 0.1, 1 and 10 (`d_penalty="r1"`, on D's logit at the real values);
- vanilla + spectral norm (`spectral_norm=True`);
- WGAN-GP: the notebook's "WGAN, one-sided GP" (loss wgan-gp, one-sided, 5 critic steps a round).

Per contender and seed block (10 seeds, trained as one batched pass of K=10 runs) it prints: modes lost
(runs whose final 10,000 values leave one mode's window under half the target's share and the other at
least at its share, `ganlib.metrics.mode_dropped`, the notebook's "lost a mode"); hops (the median run's
number of switches between covering one mode alone and the other alone, checked every 20 rounds, the
notebook's `hops`); collapsed (runs labelled "collapsed", std under 0.1 target std: a spike on a mode or
in the gap; a spike in the gap has lost no mode by that definition, so both are shown); success (runs
with W1 < 0.1 target std); the median run's W1 in target std; and the CPU seconds of the training
rounds of the whole pass (`History.cpu_seconds`, all ten runs). Not a test: run it by hand, one
process, e.g.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/two_modes_stabilisers.py --json two_modes.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from ganlib import Config, train
from ganlib.metrics import mode_dropped, summarize_runs, target_mode_mass
from ganlib.train import History, make_config_target

S_SEP = 0.96  # notebook 07's separation
ROUNDS, SEEDS = 800, 10  # notebook 07's race: 800 rounds, equal G updates
BLOCKS = (0, 1000, 2000)
R1_GAMMAS = (0.1, 1.0, 10.0)


def contenders(seed: int) -> dict[str, Config]:
    """The contenders of one seed block, as notebook 07 builds its race (`BASE`) plus R1 and spectral norm."""
    base = Config(target="mixture", mixture_separation=S_SEP, rounds=ROUNDS, seeds=SEEDS, seed=seed, eval_every=20,
                  eval_samples=500)
    vanilla = base.replace(features="value")
    out = {"vanilla": vanilla}
    for gamma in R1_GAMMAS:
        out[f"vanilla + R1 gamma {gamma:g}"] = vanilla.replace(d_penalty="r1", r1_gamma=gamma)
    out["vanilla + spectral norm"] = vanilla.replace(spectral_norm=True)
    out["WGAN-GP (one-sided)"] = base.replace(features="value", loss="wgan-gp", gp_side="one-sided", d_steps=5)
    return out


def hop_counts(history: History, q: float) -> list[int]:
    """Each run's hops: changes of the mode it covers alone (notebook 07's `covered_alone` and `hops`).

    At each evaluation a run covers the lower mode alone when that window holds at least q/2 and the
    upper less, and the reverse; evaluations where it covers both or neither are skipped.
    """
    out = []
    for low, high in zip(history.mass_low, history.mass_high):
        alone = [0 if a >= q / 2 > b else 1 if b >= q / 2 > a else None for a, b in zip(low, high)]
        seq = [m for m in alone if m is not None]
        out.append(sum(a != b for a, b in zip(seq, seq[1:])))
    return out


def main() -> None:
    """Train every contender on every seed block, print the table, optionally write JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--blocks", type=int, nargs="+", default=list(BLOCKS), help="first seeds of the seed blocks")
    p.add_argument("--json", help="write every row (and each run's numbers) as JSON")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"two-mode target: mixture, separation {S_SEP}; {ROUNDS} rounds = {ROUNDS} G updates each (equal G "
          f"updates; WGAN-GP takes 5 D updates a round); {SEEDS} seeds a block, one batched pass each; "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}, 1 thread", flush=True)
    head = (f"{'contender':26s} {'seeds':>9s} {'modes lost':>10s} {'hops (median)':>13s} {'collapsed':>9s} "
            f"{'success':>7s} {'median W1 (sd)':>14s} {'CPU s':>6s}")
    print(head)
    print("-" * len(head))
    rows = []
    t_all = time.process_time()
    for seed in args.blocks:
        for name, cfg in contenders(seed).items():
            res = train(cfg, threads=1)
            target = make_config_target(cfg)
            q = target_mode_mass(target)
            lost = [bool(mode_dropped(r.mass_low, r.mass_high, target)) for r in res.runs]
            hops = hop_counts(res.history, q)
            summary = summarize_runs(res.runs, target)
            cpu = float(res.history.cpu_seconds[-1])
            row = {"contender": name, "seed": seed, "seeds": SEEDS, "config": cfg.to_dict(),
                   "modes_lost": sum(lost), "median_hops": float(np.median(hops)), "hops": hops,
                   "success": summary["success"], "collapsed": summary["collapsed"],
                   "median_w1_sigma": summary["w1_sigma"],
                   "labels": [r.label for r in res.runs], "cpu_seconds": round(cpu, 2),
                   "g_updates": int(res.history.g_updates[-1]), "d_updates": int(res.history.d_updates[-1])}
            rows.append(row)
            print(f"{name:26s} {seed:>4d}-{seed + SEEDS - 1:<4d} {sum(lost):>7d}/{SEEDS} "
                  f"{row['median_hops']:>13.1f} {summary['collapsed']:>6d}/{SEEDS} {summary['success']:>4d}/{SEEDS} "
                  f"{summary['w1_sigma']:>14.2f} "
                  f"{cpu:>6.1f}", flush=True)
    print()
    print(f"over all blocks ({SEEDS * len(args.blocks)} runs per contender; hops: each block's median run):")
    print(f"{'contender':26s} {'modes lost':>10s} {'hops by block':>15s} {'collapsed':>9s} {'success':>7s} "
          f"{'CPU s':>6s}")
    for name in contenders(0):
        mine = [r for r in rows if r["contender"] == name]
        n = SEEDS * len(mine)
        block_hops = " ".join(f"{r['median_hops']:g}" for r in mine)
        print(f"{name:26s} {sum(r['modes_lost'] for r in mine):>7d}/{n} {block_hops:>15s} "
              f"{sum(r['collapsed'] for r in mine):>6d}/{n} {sum(r['success'] for r in mine):>4d}/{n} "
              f"{sum(r['cpu_seconds'] for r in mine):>6.1f}")
    print(f"\nwhole benchmark: {time.process_time() - t_all:.0f} CPU seconds (training, evaluation and results)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rounds": ROUNDS, "seeds": SEEDS, "separation": S_SEP, "budget_axis": "equal G updates",
                       "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
