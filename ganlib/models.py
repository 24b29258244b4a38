"""Multilayer perceptrons that hold K independent copies, so K seeds train in one pass.

A layer's weights have shape (K, fan_in, fan_out) and its inputs (K, N, fan_in); one
`torch.baddbmm` computes all K copies at once. The copies never mix: run k's output and gradient
depend only on run k's weights and inputs, so a batch of K runs computes what K separate runs
would. Each copy is initialised like `torch.nn.Linear` (weights and biases uniform in
+-1/sqrt(fan_in)) from its own run's generator.

`StackedMLP.use_spectral_norm` turns on spectral normalisation (Miyato et al. 2018): each run's each
weight matrix is used divided by its largest singular value, estimated by power iteration with a
persistent vector per run and layer drawn from the run's own generator.
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


def _init_linear(fan_in: int, fan_out: int, generators: Sequence[torch.Generator], dtype: torch.dtype,
                 device: str | torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """K copies of a linear layer's weight (K, fan_in, fan_out) and bias (K, 1, fan_out), nn.Linear's init.

    nn.Linear's default init in distribution: weights and biases uniform in +-1/sqrt(fan_in), drawn
    weight then bias per run from that run's generator.
    """
    bound = 1.0 / math.sqrt(fan_in)
    w, b = [], []
    for g in generators:
        w.append((torch.rand(fan_out, fan_in, generator=g, dtype=torch.float64) * 2 - 1) * bound)
        b.append((torch.rand(fan_out, generator=g, dtype=torch.float64) * 2 - 1) * bound)
    weight = torch.stack(w).transpose(1, 2).contiguous().to(device=device, dtype=dtype)
    bias = torch.stack(b).unsqueeze(1).to(device=device, dtype=dtype)
    return weight.requires_grad_(), bias.requires_grad_()


# Power iterations run when spectral normalisation is turned on, before the first use, as
# torch.nn.utils.parametrizations.spectral_norm does: the first updates then already see sigma near
# the largest singular value rather than that of a random direction.
SN_START_ITERATIONS = 15
# F.normalize's floor on a norm (torch's spectral_norm uses the same): a zero weight matrix gives a zero
# vector, not NaN.
_SN_EPS = 1e-12


def power_iteration(w: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One power iteration for the largest singular value of each run's weight w (K, fan_in, fan_out).

    u (K, fan_out) is the current right vector. Returns the new (u, v): v = normalise(w u) (K, fan_in),
    u = normalise(w^T v). This is torch's spectral_norm step for its weight layout (out, in) = w^T,
    where v = normalise(W^T u) and u = normalise(W v). No gradient is taken through it.
    """
    with torch.no_grad():
        v = F.normalize(torch.bmm(w, u.unsqueeze(-1)).squeeze(-1), dim=-1, eps=_SN_EPS)
        u = F.normalize(torch.bmm(v.unsqueeze(1), w).squeeze(1), dim=-1, eps=_SN_EPS)
    return u, v


def spectral_sigma(w: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """sigma = v^T w u per run (K,): the estimate of w's largest singular value from the power iteration's u, v.

    u and v are constants (no gradient), w is not: the gradient flows through sigma into w, as in
    torch.nn.utils.spectral_norm and Miyato et al.
    """
    return (v * torch.bmm(w, u.unsqueeze(-1)).squeeze(-1)).sum(-1)


class StackedMLP:
    """K independent MLPs `sizes[0] -> ... -> sizes[-1]` with one activation per hidden layer.

    The last layer is linear: D's output is a logit (BCE applies the sigmoid inside the loss,
    which is the numerically stable way) or a critic value (WGAN has no sigmoid at all).
    With spectral normalisation on (`use_spectral_norm`) every forward pass uses each weight
    divided by `spectral_sigma`; `params` stay the raw weights the optimizer steps.
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
        for fan_in, fan_out in zip(self._fan_ins(), self.sizes[1:]):
            self.params += list(_init_linear(fan_in, fan_out, generators, dtype, device))
        # Spectral normalisation's vectors per linear layer, (K, fan_out) and (K, fan_in); None: off.
        self.sn_u: list[torch.Tensor] | None = None
        self.sn_v: list[torch.Tensor] | None = None

    def use_spectral_norm(self, generators: Sequence[torch.Generator],
                          iterations: int = SN_START_ITERATIONS) -> None:
        """Turn on spectral normalisation of every linear layer's weight (Miyato et al. 2018).

        Each run's u of each layer is drawn normal from that run's generator (after whatever the
        generator drew before, so a run's vectors do not depend on the other runs), normalised, and
        refined by `iterations` power iterations. From then on each forward pass uses w / sigma with
        sigma = v^T w u from the stored vectors; `power_iteration_` advances them (the trainer does
        once per D update, as the paper's Algorithm 1). Only the linear layers are normalised:
        minibatch discrimination's tensor T is not a layer of D's chain but a projection compared
        across values (its features are exp of distances, not a linear map of its input).
        """
        if len(generators) != self.k:
            raise ValueError(f"spectral normalisation needs one generator per run ({self.k}), got {len(generators)}")
        w0 = self.weights[0]
        self.sn_u, self.sn_v = [], []
        for w in self.weights:
            u = torch.stack([torch.randn(w.shape[2], generator=g, dtype=torch.float64) for g in generators])
            u = F.normalize(u.to(device=w0.device, dtype=w0.dtype), dim=-1, eps=_SN_EPS)
            self.sn_u.append(u)
            # A placeholder until the first iteration below replaces it (v follows from u).
            self.sn_v.append(torch.zeros(self.k, w.shape[1], dtype=w0.dtype, device=w0.device))
        # One iteration at least, so that v is the power iteration's and not the placeholder.
        for _ in range(max(1, int(iterations))):
            self.power_iteration_()

    @property
    def spectral_norm(self) -> bool:
        """True when the weights are spectrally normalised in every forward pass."""
        return self.sn_u is not None

    def power_iteration_(self) -> None:
        """Advance every layer's u and v by one power iteration (in place; nothing if spectral norm is off)."""
        if self.sn_u is None or self.sn_v is None:
            return
        for i, w in enumerate(self.weights):
            self.sn_u[i], self.sn_v[i] = power_iteration(w.detach(), self.sn_u[i])

    def sigmas(self) -> list[torch.Tensor]:
        """Each layer's current estimate of its largest singular value per run, (K,) each (detached)."""
        if self.sn_u is None or self.sn_v is None:
            raise ValueError("sigmas needs spectral normalisation: call use_spectral_norm first")
        return [spectral_sigma(w.detach(), u, v) for w, u, v in zip(self.weights, self.sn_u, self.sn_v)]

    def _params_for(self, runs: slice | None) -> list[torch.Tensor]:
        """The parameters a forward pass uses (of the runs in `runs`): weights over sigma when spectrally normalised."""
        params = self.params if runs is None else [p[runs] for p in self.params]
        if self.sn_u is None or self.sn_v is None:
            return params
        params = list(params)
        for i in range(self.n_layers):
            u, v = self.sn_u[i], self.sn_v[i]
            if runs is not None:
                u, v = u[runs], v[runs]
            w = params[2 * i]
            params[2 * i] = w / spectral_sigma(w, u, v).view(-1, 1, 1)
        return params

    def _fan_ins(self) -> list[int]:
        """Each layer's number of inputs."""
        return list(self.sizes[:-1])

    @property
    def weights(self) -> list[torch.Tensor]:
        """The weight matrices, (K, fan_in, fan_out) each."""
        return self.params[0:2 * self.n_layers:2]

    @property
    def n_layers(self) -> int:
        """Number of linear layers."""
        return len(self.sizes) - 1

    def __call__(self, x: torch.Tensor, runs: slice | None = None) -> torch.Tensor:
        """Apply all K copies: x of shape (K, N, sizes[0]) -> (K, N, sizes[-1]).

        With `runs`, only the copies in that slice: x then has one row per run in it. Evaluating
        a few runs at a time bounds the memory a large K needs; the numbers are the same.
        """
        params = self._params_for(runs)
        n_layers = self.n_layers
        for i in range(n_layers):
            x = torch.baddbmm(params[2 * i + 1], x, params[2 * i])
            if i < n_layers - 1:
                x = self._acts[i](x)
        return x

    def state(self) -> list[torch.Tensor]:
        """Detached copies of the parameters."""
        return [p.detach().clone() for p in self.params]

    def select(self, index: torch.Tensor | Sequence[int]) -> StackedMLP:
        """A new network of the same kind holding copies of the runs at `index` (for drawing a few runs)."""
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        idx = torch.as_tensor(index, dtype=torch.long, device=self.params[0].device)
        out.params = [p.detach()[idx].clone() for p in self.params]
        if self.sn_u is not None and self.sn_v is not None:
            out.sn_u = [u[idx].clone() for u in self.sn_u]
            out.sn_v = [v[idx].clone() for v in self.sn_v]
        out.k = len(idx)
        return out


# Numbers in one block of pairwise differences when D's curve is drawn (`MinibatchDiscriminator.in_batch`):
# 16M float32 numbers, 64 MB, whatever the number of runs and query points.
_PAIR_BLOCK = 1 << 24


def minibatch_features(m: torch.Tensor) -> torch.Tensor:
    """o(x_i)_b = sum_j exp(-||M_i,b - M_j,b||_1) over the values j of each batch (i included).

    m holds M_i for every value of every batch, shape (..., S, B, C): S values per batch, B kernels
    of C dimensions. Returns (..., S, B). The j = i term adds exp(0) = 1 to every feature; the next
    layer's bias absorbs that constant, and keeping it follows the paper's sum over the whole batch.
    """
    dist = None
    # One of the C dimensions at a time: never a (..., S, S, B, C) tensor, which made this 1.5x slower.
    for c in range(m.shape[-1]):
        mc = m[..., c]
        part = (mc.unsqueeze(-2) - mc.unsqueeze(-3)).abs()  # (..., S_i, S_j, B)
        dist = part if dist is None else dist + part
    return torch.exp(-dist).sum(-2)


class MinibatchDiscriminator(StackedMLP):
    """K per-value discriminators with minibatch discrimination after the first hidden layer.

    Salimans et al. (2016): D maps each value x_i to its first hidden layer h_i (A units); a learned
    tensor T (A x B x C, one per run) gives M_i = h_i T, B rows of C numbers, and
    o(x_i)_b = sum_j exp(-||M_i,b - M_j,b||_1) sums over the values of x_i's own batch. The next layer
    sees [h_i, o(x_i)]: a value's score depends on how many of its batch lie close to it in each
    learned projection, which a batch of G's samples crowded into one mode gives away. Inputs are
    (K, N, 1) with N a multiple of `group` (the batch size): consecutive groups of values are
    batches, and values of different batches, like different runs, never mix.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activations: Sequence[str],
        generators: Sequence[torch.Generator],
        kernels: int,
        kernel_dims: int,
        group: int,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> None:
        if len(sizes) < 3:
            raise ValueError("minibatch discrimination needs at least one hidden layer")
        self.kernels, self.kernel_dims, self.group = int(kernels), int(kernel_dims), int(group)
        super().__init__(sizes, activations, generators, dtype, device)
        # T as a bias-free linear map A -> B x C, initialised like nn.Linear, after the layers' weights.
        bound = 1.0 / math.sqrt(self.sizes[1])
        t = [(torch.rand(self.sizes[1], self.kernels * self.kernel_dims, generator=g, dtype=torch.float64) * 2 - 1)
             * bound for g in generators]
        self.params.append(torch.stack(t).to(device=device, dtype=dtype).requires_grad_())

    def _fan_ins(self) -> list[int]:
        fans = list(self.sizes[:-1])
        fans[1] += self.kernels  # the second layer sees [h, o]
        return fans

    @property
    def tensor(self) -> torch.Tensor:
        """T, shape (K, A, B * C): M_i = h_i T viewed as (B, C)."""
        return self.params[-1]

    def _first(self, x: torch.Tensor, params: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The first hidden layer h (K, N, A) and M = h T (K, N, B, C)."""
        h = self._acts[0](torch.baddbmm(params[1], x, params[0]))
        m = torch.bmm(h, params[-1]).view(*h.shape[:2], self.kernels, self.kernel_dims)
        return h, m

    def _rest(self, h: torch.Tensor, o: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat([h, o], -1)
        for i in range(1, self.n_layers):
            x = torch.baddbmm(params[2 * i + 1], x, params[2 * i])
            if i < self.n_layers - 1:
                x = self._acts[i](x)
        return x

    def __call__(self, x: torch.Tensor, runs: slice | None = None) -> torch.Tensor:
        """D's outputs (K, N, 1) for values x (K, N, 1), each batch of `group` values compared within itself."""
        params = self._params_for(runs)
        k, n, _ = x.shape
        if n % self.group:
            raise ValueError(f"minibatch discrimination needs whole batches of {self.group} values, got {n}")
        h, m = self._first(x, params)
        o = minibatch_features(m.view(k, n // self.group, self.group, self.kernels, self.kernel_dims))
        return self._rest(h, o.view(k, n, self.kernels), params)

    def in_batch(self, x: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """D's output at each value x (K, Q, 1) when it joins `batch` (K, S - 1, 1), the rest of its batch.

        D's curve: what D says about a value x given the other values it arrives with (in
        training, all real or all G's). Each x is scored on its own batch [x, batch].
        """
        params = self._params_for(None)
        h, m = self._first(x, params)
        _, mb = self._first(batch, params)
        # A few queries at a time: the pairs (K, queries, S - 1, B, C) stay below _PAIR_BLOCK numbers.
        per_query = max(1, mb.numel())
        step = max(1, _PAIR_BLOCK // per_query)
        parts = []
        for a in range(0, x.shape[1], step):
            dist = (m[:, a:a + step].unsqueeze(2) - mb.unsqueeze(1)).abs().sum(-1)  # (K, queries, S - 1, B)
            o = 1.0 + torch.exp(-dist).sum(2)  # the j = i term is exp(0) = 1
            parts.append(self._rest(h[:, a:a + step], o, params))
        return torch.cat(parts, 1)


__all__ = ["StackedMLP", "MinibatchDiscriminator", "minibatch_features", "ACTIVATION_FNS", "power_iteration",
           "spectral_sigma", "SN_START_ITERATIONS"]
