"""Multilayer perceptrons that hold K independent copies, so K seeds train in one pass.

A layer's weights have shape (K, fan_in, fan_out) and its inputs (K, N, fan_in); one
`torch.baddbmm` computes all K copies at once. The copies never mix: run k's output and gradient
depend only on run k's weights and inputs, so a batch of K runs computes what K separate runs
would. Each copy is initialised like `torch.nn.Linear` (weights and biases uniform in
+-1/sqrt(fan_in)) from its own run's generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

ACTIVATION_FNS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "elu": F.elu,
    "relu": torch.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "identity": lambda x: x,
}


class StackedMLP:
    """K independent MLPs `sizes[0] -> ... -> sizes[-1]` with one activation per hidden layer.

    The last layer is linear: D's output is a logit (BCE applies the sigmoid inside the loss,
    which is the numerically stable way) or a critic value (WGAN has no sigmoid at all).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activations: Sequence[str],
        generators: Sequence[torch.Generator],
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> None:
        if len(activations) != len(sizes) - 2:
            raise ValueError(f"{len(sizes) - 2} hidden layers need as many activations, got {len(activations)}")
        for a in activations:
            if a not in ACTIVATION_FNS:
                raise ValueError(f"activation={a!r} is not allowed: choose one of {', '.join(ACTIVATION_FNS)}")
        self.sizes = tuple(int(s) for s in sizes)
        self.activation_names = tuple(activations)
        self._acts = [ACTIVATION_FNS[a] for a in activations]
        self.k = len(generators)
        self.params: list[torch.Tensor] = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            w, b = [], []
            for g in generators:
                # nn.Linear's default init in distribution; drawn weight then bias per run.
                w.append((torch.rand(fan_out, fan_in, generator=g, dtype=torch.float64) * 2 - 1) * bound)
                b.append((torch.rand(fan_out, generator=g, dtype=torch.float64) * 2 - 1) * bound)
            weight = torch.stack(w).transpose(1, 2).contiguous().to(device=device, dtype=dtype)
            bias = torch.stack(b).unsqueeze(1).to(device=device, dtype=dtype)
            self.params += [weight.requires_grad_(), bias.requires_grad_()]

    @property
    def weights(self) -> list[torch.Tensor]:
        """The weight matrices, (K, fan_in, fan_out) each."""
        return self.params[0::2]

    def __call__(self, x: torch.Tensor, runs: slice | None = None) -> torch.Tensor:
        """Apply all K copies: x of shape (K, N, sizes[0]) -> (K, N, sizes[-1]).

        With `runs`, only the copies in that slice: x then has one row per run in it. Evaluating
        a few runs at a time bounds the memory a large K needs; the numbers are the same.
        """
        params = self.params if runs is None else [p[runs] for p in self.params]
        n_layers = len(params) // 2
        for i in range(n_layers):
            x = torch.baddbmm(params[2 * i + 1], x, params[2 * i])
            if i < n_layers - 1:
                x = self._acts[i](x)
        return x

    def state(self) -> list[torch.Tensor]:
        """Detached copies of the parameters."""
        return [p.detach().clone() for p in self.params]

    def select(self, index: torch.Tensor | Sequence[int]) -> StackedMLP:
        """A new StackedMLP holding copies of the runs at `index` (for drawing a few runs)."""
        out = object.__new__(StackedMLP)
        out.sizes, out.activation_names, out._acts = self.sizes, self.activation_names, self._acts
        idx = torch.as_tensor(index, dtype=torch.long, device=self.params[0].device)
        out.params = [p.detach()[idx].clone() for p in self.params]
        out.k = len(idx)
        return out


__all__ = ["StackedMLP", "ACTIVATION_FNS"]
