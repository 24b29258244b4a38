"""Adam, RMSProp and SGD for stacked parameters, with a learning rate per run.

These follow torch.optim's update rules (no weight decay, no amsgrad, RMSProp not centred).
All three are elementwise, so applying them to a (K, ...) stack equals applying them to each run
separately. The learning rate may be a float (all runs) or a tensor of shape (K,) (one per run,
for sweeps), and can change between steps: the live dashboard relies on that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

KINDS = ("adam", "rmsprop", "sgd")


class BatchedOptimizer:
    """One optimizer over a list of stacked parameters whose first axis is the run."""

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        kind: str,
        lr: float | torch.Tensor,
        beta1: float = 0.9,
        beta2: float = 0.999,
        momentum: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"optimizer={kind!r} is not allowed: choose one of {', '.join(KINDS)}")
        self.params = list(params)
        self.kind = kind
        self.beta1, self.beta2, self.momentum, self.eps = beta1, beta2, momentum, eps
        self.t = 0
        self.lr = lr
        # A multiplier on lr that schedules set each step without touching the per-run rates.
        self.scale = 1.0
        zeros = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg = zeros if kind == "adam" else []
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params] if kind in ("adam", "rmsprop") else []
        self.buf = [torch.zeros_like(p) for p in self.params] if kind != "adam" and momentum > 0 else []

    @property
    def lr(self) -> float | torch.Tensor:
        """The learning rate: a float, or a (K,) tensor with one rate per run."""
        return self._lr

    @lr.setter
    def lr(self, value: float | torch.Tensor) -> None:
        if isinstance(value, torch.Tensor):
            if value.ndim != 1 or value.shape[0] != self.params[0].shape[0]:
                raise ValueError(f"a per-run learning rate needs shape ({self.params[0].shape[0]},)")
            if not bool(((value > 0) & torch.isfinite(value)).all()):
                raise ValueError("every learning rate must be a finite number > 0")
            value = value.to(self.params[0])
            # One view per parameter rank, so the rate broadcasts over each run's slice.
            self._lr_views = {p.ndim: value.view(-1, *([1] * (p.ndim - 1))) for p in self.params}
        elif not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"lr={value!r} is not allowed: a finite number > 0")
        self._lr = value

    def _apply(self, p: torch.Tensor, direction: torch.Tensor, scale: float) -> None:
        """p -= lr * scale * direction, with lr per run where it is a tensor."""
        scale = scale * self.scale
        if isinstance(self._lr, torch.Tensor):
            p.sub_(direction * (self._lr_views[p.ndim] * scale))
        else:
            p.add_(direction, alpha=-self._lr * scale)

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        """Apply one update from `grads` (same order as the parameters)."""
        self.t += 1
        if self.kind == "adam":
            bc1 = 1 - self.beta1**self.t
            bc2_sqrt = math.sqrt(1 - self.beta2**self.t)
            for p, g, m, v in zip(self.params, grads, self.exp_avg, self.exp_avg_sq):
                m.lerp_(g, 1 - self.beta1)
                v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
                denom = (v.sqrt() / bc2_sqrt).add_(self.eps)
                self._apply(p, m / denom, 1 / bc1)
        elif self.kind == "rmsprop":
            for i, (p, g, v) in enumerate(zip(self.params, grads, self.exp_avg_sq)):
                v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
                avg = v.sqrt().add_(self.eps)
                if self.buf:
                    self.buf[i].mul_(self.momentum).addcdiv_(g, avg)
                    self._apply(p, self.buf[i], 1.0)
                else:
                    self._apply(p, g / avg, 1.0)
        else:
            for i, (p, g) in enumerate(zip(self.params, grads)):
                if self.buf:
                    self.buf[i].mul_(self.momentum).add_(g)
                    self._apply(p, self.buf[i], 1.0)
                else:
                    self._apply(p, g, 1.0)


__all__ = ["BatchedOptimizer", "KINDS"]
