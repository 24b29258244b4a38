"""Shared fixtures of ganlib's unit tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from ganlib.config import Config

# The tensors here are tiny: extra intra-op threads only fight the xdist workers for the 2 cores.
torch.set_num_threads(1)

# Small nets and short evaluations keep a Trainer round well under a millisecond.
TINY = dict(
    g_hidden=(8, 8), g_activations=("elu", "sigmoid"), d_hidden=(8, 8), d_activations=("elu", "elu"),
    features="value", loss="bce", batch_size=16, rounds=100, eval_every=50, eval_samples=200, seeds=3, seed=5,
)


@pytest.fixture
def tiny():
    """A factory of small, fast Configs: tiny(**overrides)."""

    def make(**overrides) -> Config:
        return Config(**{**TINY, **overrides})

    return make


class MixtureOracle:
    """The course's mixture built by hand from scipy: 0.5 N(m - 0.8 s, 0.6 s) + 0.5 N(m + 0.8 s, 0.6 s)."""

    def __init__(self, mean: float, std: float) -> None:
        self.parts = [stats.norm(mean - 0.8 * std, 0.6 * std), stats.norm(mean + 0.8 * std, 0.6 * std)]

    def pdf(self, x):
        return 0.5 * self.parts[0].pdf(x) + 0.5 * self.parts[1].pdf(x)

    def cdf(self, x):
        return 0.5 * self.parts[0].cdf(x) + 0.5 * self.parts[1].cdf(x)


def scipy_oracle(name: str, mean: float, std: float):
    """An independent scipy version of ganlib's target family `name` with this mean and std."""
    if name == "normal":
        return stats.norm(mean, std)
    if name == "uniform":
        half = math.sqrt(3.0) * std
        return stats.uniform(mean - half, 2 * half)
    if name == "laplace":
        return stats.laplace(mean, std / math.sqrt(2.0))
    if name == "mixture":
        return MixtureOracle(mean, std)
    raise KeyError(name)


@pytest.fixture
def oracle():
    return scipy_oracle


def forward_numpy(params: list[torch.Tensor], acts: tuple[str, ...], x: np.ndarray, run: int) -> np.ndarray:
    """Run `run` of a StackedMLP evaluated by hand in numpy float64: x (N, fan_in) -> (N, fan_out)."""
    fns = {
        "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0))),
        "relu": lambda v: np.maximum(v, 0),
        "leaky_relu": lambda v: np.where(v > 0, v, 0.2 * v),
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
        "tanh": np.tanh,
        "identity": lambda v: v,
    }
    h = np.asarray(x, dtype=np.float64)
    n_layers = len(params) // 2
    for i in range(n_layers):
        w = params[2 * i].detach().double().numpy()[run]
        b = params[2 * i + 1].detach().double().numpy()[run]
        h = h @ w + b
        if i < n_layers - 1:
            h = fns[acts[i]](h)
    return h


@pytest.fixture
def numpy_mlp():
    return forward_numpy
