"""Benchmark 1: K seeds in one batched pass against K plain single-seed runs.

The plain way is Dev Nag's training loop in current PyTorch: an nn.Module G and D, one
torch.optim.Adam each, one seed after another, batch of 100 decorated with squared deviations,
Adam 2e-4. ganlib's Trainer runs the same setting ('devnag' preset) for K seeds at once.
Prints ms per round per run and the ratio, and writes JSON:

    python benchmarks/seeds_in_one_pass.py --rounds 2000 --json artifacts/seeds_in_one_pass.json

Also counts the aten operators one round dispatches (torch.profiler), which shows how much of
a round is per-op overhead rather than arithmetic.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from ganlib import Trainer, preset


class _G(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.map1, self.map2, self.map3 = nn.Linear(1, 50), nn.Linear(50, 50), nn.Linear(50, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.map3(torch.sigmoid(self.map2(F.elu(self.map1(x)))))


class _D(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.map1, self.map2, self.map3 = nn.Linear(n, 50), nn.Linear(50, 50), nn.Linear(50, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.map3(F.elu(self.map2(F.elu(self.map1(x))))))


def _decorate(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, (x - x.mean()) ** 2], 1)


def plain_run(seed: int, rounds: int, batch: int = 100) -> float:
    """One seed trained the plain way; returns seconds."""
    torch.manual_seed(seed)
    g, d = _G(), _D(2 * batch)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.9, 0.999))
    bce = nn.BCELoss()
    ones, zeros = torch.ones(1, 1), torch.zeros(1, 1)
    t0 = time.perf_counter()
    for _ in range(rounds):
        d.zero_grad()
        real = torch.randn(1, batch) * 1.25 + 4.0
        loss_real = bce(d(_decorate(real)), ones)
        loss_real.backward()
        fake = g(torch.rand(batch, 1)).detach()
        loss_fake = bce(d(_decorate(fake.t())), zeros)
        loss_fake.backward()
        opt_d.step()
        g.zero_grad()
        fake = g(torch.rand(batch, 1))
        loss_g = bce(d(_decorate(fake.t())), ones)
        loss_g.backward()
        opt_g.step()
    return time.perf_counter() - t0


def batched_run(k: int, rounds: int) -> float:
    """k seeds in one ganlib Trainer; returns seconds of training (not construction)."""
    trainer = Trainer(preset("devnag", seeds=k, rounds=rounds, eval_every=rounds))
    t0 = time.perf_counter()
    trainer.step(rounds)
    return time.perf_counter() - t0


def ops_per_round(fn) -> int:
    """Number of aten operator calls made by fn() (one round)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return sum(e.count for e in prof.key_averages() if e.key.startswith("aten::"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2000)
    p.add_argument("--plain-seeds", type=int, default=3, help="plain runs timed (cost per run does not depend on K)")
    p.add_argument("--ks", default="1,10,32,128")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    p.add_argument("--json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    plain = [plain_run(s, args.rounds) for s in range(args.plain_seeds)]
    plain_ms = 1000 * sorted(plain)[len(plain) // 2] / args.rounds
    print(f"threads {torch.get_num_threads()}, {args.rounds} rounds, Dev Nag's setting")
    print(f"{'way':>22} {'K':>5} {'ms/round/run':>13} {'x plain':>8} {'s total':>8}")
    print(f"{'plain loop, per seed':>22} {1:>5} {plain_ms:>13.4f} {1.0:>8.2f} {sum(plain):>8.1f}")
    rows.append({"way": "plain", "k": 1, "ms_per_round_per_run": plain_ms, "seconds": sum(plain)})
    for k in [int(v) for v in args.ks.split(",")]:
        sec = batched_run(k, args.rounds)
        ms = 1000 * sec / args.rounds / k
        print(f"{'ganlib batched':>22} {k:>5} {ms:>13.4f} {ms / plain_ms:>8.3f} {sec:>8.1f}", flush=True)
        rows.append({"way": "batched", "k": k, "ms_per_round_per_run": ms, "ratio_to_plain": ms / plain_ms,
                     "seconds": sec})
    # Operator counts for one round of each.
    g, d = _G(), _D(200)
    opt_g, opt_d = torch.optim.Adam(g.parameters(), 2e-4), torch.optim.Adam(d.parameters(), 2e-4)

    def plain_round() -> None:
        d.zero_grad()
        (F.binary_cross_entropy(d(_decorate(torch.randn(1, 100))), torch.ones(1, 1))
         + F.binary_cross_entropy(d(_decorate(g(torch.rand(100, 1)).detach().t())), torch.zeros(1, 1))).backward()
        opt_d.step()
        g.zero_grad()
        F.binary_cross_entropy(d(_decorate(g(torch.rand(100, 1)).t())), torch.ones(1, 1)).backward()
        opt_g.step()

    n_plain = ops_per_round(plain_round)
    # A chunk of 10 rounds, divided by 10, spreads the per-chunk work (sampling, checks) fairly.
    trainer = Trainer(preset("devnag", seeds=10, rounds=1000, eval_every=1000))
    n_batched = ops_per_round(lambda: trainer.step(10)) / 10
    print(f"aten ops per round: plain (1 seed) {n_plain}, ganlib batched (10 seeds) {n_batched:.0f}")
    out = {"rounds": args.rounds, "threads": torch.get_num_threads(), "rows": rows,
           "aten_ops_per_round": {"plain_one_seed": n_plain, "batched_ten_seeds": n_batched}}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
