"""Targets and noise on the real line: sampling with an explicit generator, pdf, cdf, inverse cdf.

Every family is parametrised by its mean and standard deviation, so one pair of sliders moves any
of them. Samples are made from uniform numbers by the inverse cdf (the mixture first picks a
component), always in float64 and then cast: a run in float32 and one in float64 see the same
data, and the stream of uniforms a run consumes does not depend on how many rounds are drawn at
once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

Array = Any  # a torch.Tensor, numpy array or float; functions return the same kind they receive

_SQRT2 = math.sqrt(2.0)
_SQRT3 = math.sqrt(3.0)
# torch.rand draws multiples of 2**-53 in [0, 1); moving 0 to the next grid point keeps every
# inverse cdf finite without biasing anything measurable (it happens once in 9e15 draws).
_U_MIN = 2.0**-53


def _to_tensor(x: Array) -> tuple[torch.Tensor, bool]:
    if isinstance(x, torch.Tensor):
        return x, True
    return torch.as_tensor(np.asarray(x, dtype=np.float64)), False


def _back(y: torch.Tensor, was_tensor: bool) -> Array:
    if was_tensor:
        return y
    out = y.numpy()
    return float(out) if out.ndim == 0 else out


def _std_normal_cdf(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(z / _SQRT2))


def _std_normal_icdf(p: torch.Tensor) -> torch.Tensor:
    return _SQRT2 * torch.erfinv(2.0 * p - 1.0)


class Distribution:
    """A distribution on the real line with a known mean and standard deviation."""

    name: str = ""
    n_uniforms: int = 1  # uniform numbers consumed per sample

    def __init__(self, mean: float, std: float) -> None:
        if not (math.isfinite(mean) and math.isfinite(std)):
            raise ValueError(f"mean={mean!r}, std={std!r}: both must be finite numbers")
        if std <= 0:
            raise ValueError(f"std={std!r} is not allowed: it must be > 0")
        self.mean = float(mean)
        self.std = float(std)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean:g}, std={self.std:g})"

    # Each family's exact shape constants, the same for every mean and std.
    SKEWNESS: float
    EXCESS_KURTOSIS: float

    @property
    def skewness(self) -> float:
        """The exact skewness E[(X - mean)^3] / std^3 (it does not depend on the mean and std)."""
        return self.SKEWNESS

    @property
    def excess_kurtosis(self) -> float:
        """The exact excess kurtosis E[(X - mean)^4] / std^4 - 3 (0 for a normal)."""
        return self.EXCESS_KURTOSIS

    # Subclasses implement these on float64 tensors.
    def _pdf(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _cdf(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _icdf(self, p: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def from_uniform(self, u: torch.Tensor) -> torch.Tensor:
        """Map float64 uniforms of shape (..., n_uniforms) in [0, 1) to samples of shape (...)."""
        return self._icdf(u[..., 0].clamp_min(_U_MIN))

    def pdf(self, x: Array) -> Array:
        """Probability density at x."""
        t, was = _to_tensor(x)
        return _back(self._pdf(t.double()), was)

    def cdf(self, x: Array) -> Array:
        """Cumulative distribution function at x."""
        t, was = _to_tensor(x)
        return _back(self._cdf(t.double()), was)

    def icdf(self, p: Array) -> Array:
        """Inverse cdf (quantile function) at p in (0, 1)."""
        t, was = _to_tensor(p)
        t = t.double()
        if bool(((t <= 0) | (t >= 1) | torch.isnan(t)).any()):
            raise ValueError("icdf needs probabilities strictly between 0 and 1")
        return _back(self._icdf(t), was)

    def sample(
        self,
        shape: int | tuple[int, ...],
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Draw samples of the given shape (on the CPU), reproducibly from `generator`."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        u = torch.rand((*shape, self.n_uniforms), generator=generator, dtype=torch.float64)
        return self.from_uniform(u).to(dtype)

    def quantiles(self, n: int) -> torch.Tensor:
        """The n midpoint quantiles icdf((i + 1/2) / n), i = 0..n-1, in float64."""
        p = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        return self._icdf(p)


class Normal(Distribution):
    """N(mean, std**2)."""

    name = "normal"
    SKEWNESS = 0.0
    EXCESS_KURTOSIS = 0.0

    def _pdf(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.std
        return torch.exp(-0.5 * z * z) / (self.std * math.sqrt(2 * math.pi))

    def _cdf(self, x: torch.Tensor) -> torch.Tensor:
        return _std_normal_cdf((x - self.mean) / self.std)

    def _icdf(self, p: torch.Tensor) -> torch.Tensor:
        return self.mean + self.std * _std_normal_icdf(p)


class Uniform(Distribution):
    """Uniform on [mean - sqrt(3) std, mean + sqrt(3) std]."""

    name = "uniform"
    SKEWNESS = 0.0
    EXCESS_KURTOSIS = -1.2  # E z^4 of a uniform on [-sqrt(3), sqrt(3)] is 9/5

    @property
    def low(self) -> float:
        return self.mean - _SQRT3 * self.std

    @property
    def high(self) -> float:
        return self.mean + _SQRT3 * self.std

    def _pdf(self, x: torch.Tensor) -> torch.Tensor:
        inside = (x >= self.low) & (x <= self.high)
        return inside.to(x.dtype) / (self.high - self.low)

    def _cdf(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.low) / (self.high - self.low)).clamp(0.0, 1.0)

    def _icdf(self, p: torch.Tensor) -> torch.Tensor:
        return self.low + (self.high - self.low) * p

    def from_uniform(self, u: torch.Tensor) -> torch.Tensor:
        # No clamping: U(0, 1) noise is exactly torch.rand, as in the source articles.
        return self._icdf(u[..., 0])


class Laplace(Distribution):
    """Laplace with location `mean` and scale b = std / sqrt(2)."""

    name = "laplace"
    SKEWNESS = 0.0
    EXCESS_KURTOSIS = 3.0  # E |X - mean|^4 = 24 b^4 with variance 2 b^2: 24 / 4 - 3

    @property
    def scale(self) -> float:
        return self.std / _SQRT2

    def _pdf(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-(x - self.mean).abs() / self.scale) / (2 * self.scale)

    def _cdf(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.scale
        return torch.where(z < 0, 0.5 * torch.exp(z.clamp(max=0)), 1 - 0.5 * torch.exp(-z.clamp(min=0)))

    def _icdf(self, p: torch.Tensor) -> torch.Tensor:
        lower = self.mean + self.scale * torch.log(2 * p.clamp(max=0.5))
        upper = self.mean - self.scale * torch.log(2 - 2 * p.clamp(min=0.5))
        return torch.where(p < 0.5, lower, upper)


class Mixture(Distribution):
    """Two equal-weight normals at mean -/+ 0.8 std, each with std 0.6 std.

    The variances add up to std**2 (0.8**2 + 0.6**2 = 1), and the two modes are clearly apart
    (the gap 1.6 std exceeds twice the component std, the condition for two peaks).
    """

    name = "mixture"
    n_uniforms = 2
    SHIFT = 0.8
    WIDTH = 0.6

    # Two equal components placed symmetrically about the mean. In std units a component is
    # N(+-a, w^2) with a^2 + w^2 = 1, so E z^4 = a^4 + 6 a^2 w^2 + 3 w^4.
    SKEWNESS = 0.0
    EXCESS_KURTOSIS = SHIFT**4 + 6 * SHIFT**2 * WIDTH**2 + 3 * WIDTH**4 - 3.0

    @property
    def centres(self) -> tuple[float, float]:
        return self.mean - self.SHIFT * self.std, self.mean + self.SHIFT * self.std

    @property
    def component_std(self) -> float:
        return self.WIDTH * self.std

    def _pdf(self, x: torch.Tensor) -> torch.Tensor:
        s = self.component_std
        out = torch.zeros_like(x)
        for c in self.centres:
            z = (x - c) / s
            out = out + 0.5 * torch.exp(-0.5 * z * z) / (s * math.sqrt(2 * math.pi))
        return out

    def _cdf(self, x: torch.Tensor) -> torch.Tensor:
        s = self.component_std
        lo, hi = self.centres
        return 0.5 * (_std_normal_cdf((x - lo) / s) + _std_normal_cdf((x - hi) / s))

    def _icdf(self, p: torch.Tensor) -> torch.Tensor:
        # No closed form: bisection on the monotone cdf; 64 halvings of a 20-std bracket reach
        # float64 resolution.
        lo = torch.full_like(p, self.mean - 10 * self.std)
        hi = torch.full_like(p, self.mean + 10 * self.std)
        for _ in range(64):
            mid = 0.5 * (lo + hi)
            below = self._cdf(mid) < p
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
        return 0.5 * (lo + hi)

    def from_uniform(self, u: torch.Tensor) -> torch.Tensor:
        lo, hi = self.centres
        # The centres as float64 tensors: torch.where on two Python floats gives float32, which rounds a
        # centre near 1e6 to a multiple of 0.0625.
        centre = torch.full_like(u[..., 0], hi).masked_fill_(u[..., 0] < 0.5, lo)
        return centre + self.component_std * _std_normal_icdf(u[..., 1].clamp_min(_U_MIN))


_FAMILIES: dict[str, type[Distribution]] = {
    "normal": Normal,
    "uniform": Uniform,
    "laplace": Laplace,
    "mixture": Mixture,
}


def make_target(name: str, mean: float, std: float) -> Distribution:
    """The target family `name` (normal, uniform, laplace, mixture) with this mean and std."""
    if name not in _FAMILIES:
        raise ValueError(f"target={name!r} is not allowed: choose one of {', '.join(_FAMILIES)}")
    return _FAMILIES[name](mean, std)


def make_noise(name: str) -> Distribution:
    """The generator's noise: 'uniform' is U(0, 1) as in the articles, 'normal' is N(0, 1)."""
    if name == "uniform":
        return Uniform(0.5, 1.0 / math.sqrt(12.0))
    if name == "normal":
        return Normal(0.0, 1.0)
    raise ValueError(f"noise={name!r} is not allowed: choose one of uniform, normal")


def ideal_generator(target: Distribution, noise: Distribution, z: Array, *, decreasing: bool = False) -> Array:
    """The map G*(z) = F_target^-1(F_noise(z)) that pushes the noise exactly onto the target.

    With `decreasing=True`, the mirror map F_target^-1(1 - F_noise(z)): 1 - F_noise(Z) is uniform
    too, so it pushes the noise onto the target just as exactly. These are the only two monotone
    maps that do; a GAN may learn either.
    """
    t, was = _to_tensor(z)
    p = noise._cdf(t.double())
    if decreasing:
        p = 1.0 - p
    return _back(target._icdf(p.clamp(_U_MIN, 1 - 2.0**-53)), was)


__all__ = ["Distribution", "Normal", "Uniform", "Laplace", "Mixture", "make_target", "make_noise",
           "ideal_generator"]
