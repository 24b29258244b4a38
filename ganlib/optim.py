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


def _same_layout(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether a and b (of one shape) lay their elements out in the same memory order (a size-1 axis has no say)."""
    return all(sa == sb for sa, sb, n in zip(a.stride(), b.stride(), a.shape) if n > 1)


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
        self._step_t = torch.zeros((), dtype=torch.float32, device=self.params[0].device)

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

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        """Apply one update from `grads` (same order as the parameters).

        A handful of foreach (multi-tensor) calls per step instead of a loop over parameters:
        with networks this small, the number of operator calls, not arithmetic, sets the cost.
        """
        # The fused Adam kernel walks a parameter, its gradient and its moments in memory order, so all
        # four must share one layout. A gradient through a double backward (WGAN-GP, R1) can come back
        # transposed against its parameter; a convolution's parameter and gradient share a permuted one.
        grads = [g if _same_layout(p, g) else torch.empty_like(p).copy_(g) for p, g in zip(self.params, grads)]
        self.t += 1
        per_run = isinstance(self._lr, torch.Tensor)
        if self.kind == "adam":
            bc1 = 1 - self.beta1**self.t
            bc2_sqrt = math.sqrt(1 - self.beta2**self.t)
            if not per_run:
                # One fused kernel per tensor. It reads the step count from a tensor (on the
                # parameters' device), kept across steps rather than allocated each time.
                self._step_t.fill_(float(self.t))
                torch._fused_adam_(self.params, grads, self.exp_avg, self.exp_avg_sq, [],
                                   [self._step_t] * len(self.params),
                                   lr=self._lr * self.scale, beta1=self.beta1, beta2=self.beta2, weight_decay=0.0,
                                   eps=self.eps, amsgrad=False, maximize=False)
                return
            torch._foreach_lerp_(self.exp_avg, grads, 1 - self.beta1)
            torch._foreach_mul_(self.exp_avg_sq, self.beta2)
            torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - self.beta2)
            denom = torch._foreach_sqrt(self.exp_avg_sq)
            torch._foreach_div_(denom, bc2_sqrt)
            torch._foreach_add_(denom, self.eps)
            directions = torch._foreach_div(self.exp_avg, denom)
            scale = 1 / bc1
        elif self.kind == "rmsprop":
            torch._foreach_mul_(self.exp_avg_sq, self.beta2)
            torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - self.beta2)
            avg = torch._foreach_sqrt(self.exp_avg_sq)
            torch._foreach_add_(avg, self.eps)
            if self.buf:
                torch._foreach_mul_(self.buf, self.momentum)
                torch._foreach_addcdiv_(self.buf, grads, avg)
                directions = self.buf
            else:
                directions = torch._foreach_div(grads, avg)
            scale = 1.0
        else:
            if self.buf:
                torch._foreach_mul_(self.buf, self.momentum)
                torch._foreach_add_(self.buf, grads)
                directions = self.buf
            else:
                directions = grads
            scale = 1.0
        scale *= self.scale
        if per_run:
            for p, d in zip(self.params, directions):
                p.sub_(d * (self._lr_views[p.ndim] * scale))
        else:
            torch._foreach_add_(self.params, directions, alpha=-self._lr * scale)


__all__ = ["BatchedOptimizer", "KINDS"]
