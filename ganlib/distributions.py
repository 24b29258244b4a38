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
    def shape(self) -> tuple[float, ...]:
        """The family's shape parameters beyond mean and std (none, except the mixture's separation)."""
        return ()

    def rescaled(self, mean: float, std: float) -> Distribution:
        """The same family and shape at another mean and std (mean 0, std 1: the standardised target)."""
        return type(self)(mean, std)

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


# The course's first two-mode target: modes 1.6 std apart, each 0.6 std wide, so close to unimodal that
# a uniform with its mean and std is within the success line (notebook 04).
DEFAULT_SEPARATION = 0.8


class Mixture(Distribution):
    """Two equal-weight normals at mean -/+ s std, each with std sqrt(1 - s^2) std (0 <= s < 1).

    The separation s sets the shape; the variances add up to std**2 (s^2 + (1 - s^2) = 1), so the
    mean and std stay `mean` and `std` for every s and standardising works as for the other
    families. s = 0 is a normal; the density has two peaks once the centres are more than two
    component std apart (s > 1/sqrt(2)); the default 0.8 puts them 2.7 component std apart, s = 0.95
    six and s = 0.98 ten.
    """

    name = "mixture"
    n_uniforms = 2
    SKEWNESS = 0.0

    def __init__(self, mean: float, std: float, separation: float = DEFAULT_SEPARATION) -> None:
        super().__init__(mean, std)
        s = separation
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not (math.isfinite(s) and 0.0 <= s < 1.0):
            raise ValueError(f"separation={separation!r} is not allowed: a number in [0, 1)")
        self.separation = float(s)
        # A component's std in std units.
        self.width = math.sqrt(1.0 - self.separation**2)

    @property
    def excess_kurtosis(self) -> float:
        """The exact excess kurtosis, -2 s^4.

        In std units E z^4 = s^4 + 6 s^2 w^2 + 3 w^4 for components N(+-s, w^2), and with
        w^2 = 1 - s^2 that is 3 - 2 s^4.
        """
        return -2.0 * self.separation**4

    def __repr__(self) -> str:
        return f"Mixture(mean={self.mean:g}, std={self.std:g}, separation={self.separation:g})"

    @property
    def shape(self) -> tuple[float, ...]:
        return (self.separation,)

    def rescaled(self, mean: float, std: float) -> Mixture:
        return Mixture(mean, std, self.separation)

    @property
    def centres(self) -> tuple[float, float]:
        """The two component means, mean -/+ separation * std."""
        return self.mean - self.separation * self.std, self.mean + self.separation * self.std

    @property
    def component_std(self) -> float:
        """Each component's std, sqrt(1 - separation^2) * std."""
        return self.width * self.std

    @property
    def bimodal(self) -> bool:
        """True when the density has two peaks: the centres more than two component std apart."""
        return self.separation > self.width

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
        # No closed form: bisection on the monotone cdf. The p-quantile lies between the two components'
        # p-quantiles (the cdf is their average), a bracket at most 2 s std + the spread of p wide; 64 halvings
        # reach float64 resolution from any bracket up to 2^11 std wide.
        lo_c, hi_c = self.centres
        q = self.component_std * _std_normal_icdf(p)
        lo, hi = lo_c + q, hi_c + q
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


def make_target(name: str, mean: float, std: float, separation: float = DEFAULT_SEPARATION) -> Distribution:
    """The target family `name` (normal, uniform, laplace, mixture) with this mean and std.

    `separation` is the mixture's s (see `Mixture`); the other families have no shape parameter
    and ignore it.
    """
    if name not in _FAMILIES:
        raise ValueError(f"target={name!r} is not allowed: choose one of {', '.join(_FAMILIES)}")
    if name == "mixture":
        return Mixture(mean, std, separation)
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
           "ideal_generator", "DEFAULT_SEPARATION"]
