"""How far generated samples are from the target: moments, exact W1, KS, success and failure labels.

All functions take samples of shape (n,) or (K, n) (K runs) and compute in float64.

Everything measured against a target is computed on standardised values z = (x - mean) / std
against the same family at mean 0, std 1, then scaled back: W1 is std times the W1 of z, and
KS, skew and kurtosis do not change. In target units a target at mean 1e6 with std 1e-3 keeps
only a few digits of its spread, and the closed form below would cancel terms of size 1e6.

W1 to a target is exact for the empirical distribution of the sample: with sorted values
x_(1) <= ... <= x_(n), W1 = sum_i integral over [(i-1)/n, i/n] of |x_(i) - Q(u)| du, where Q is
the target's quantile function; each piece has a closed form through the target's partial mean
integral_{-inf}^{x} t f(t) dt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from ganlib.distributions import Distribution, Laplace, Mixture, Normal, Uniform, make_target

# The success criterion, stated once: a run succeeds when its W1 to the target is below this
# fraction of the target's standard deviation.
SUCCESS_W1_FRACTION = 0.1
# Failure labels, tested in this order.
COLLAPSE_STD_FRACTION = 0.1  # generated std below 0.1 target std: collapsed
DRIFT_MEAN_FRACTION = 0.5  # |mean error| above 0.5 target std: drifted
SPREAD_TOLERANCE = 0.25  # |std ratio - 1| above 0.25: wrong spread
# Besides NaN/inf, a run has diverged when its samples run off beyond this many target std: an
# evaluation after round 0 finds |mean error| or std above it while the untrained generator's
# were within it (see `ran_off`). Runs of every preset stayed within 11 target std (10 seeds
# each, their full rounds); at a learning rate of 10, 14 of 20 Adam and 19 of 20 RMSProp runs of
# the default went past 100 within 2,000 rounds, to thousands, where a sigmoid D is saturated
# and G gets no gradient back.
DIVERGED_SCALE = 100.0
# Two-mode targets (a mixture whose density has two peaks): the mass "near" a mode is the fraction of
# values within MODE_WINDOW component std of its centre, and the gap is what lies between the two
# windows. A correct sample holds about q in each window (q = 0.477 once the modes are well apart, see
# `target_mode_mass`), with binomial sd sqrt(q (1 - q) / n) = 0.005 at n = 10,000. A run has dropped a
# mode when one window holds less than MODE_DROPPED_SHARE of q while the other holds at least q, the
# target's own mass there (the missing mass went to the other mode; a run spread too wide holds less
# than q in both windows and is not one). Less than MODE_DROPPED_SHARE of q is 48 sd below what a
# correct sample holds, which a correct sample of 10,000 values does with probability below 1e-500 (a
# binomial tail, bounded by 2 exp(-n KL(q/2 || q)); at n = 4,000, the evaluations' size, below 1e-200;
# at n = 100 below 2e-5; see `mode_dropped_false_positive_log10`).
MODE_WINDOW = 2.0
MODE_DROPPED_SHARE = 0.5
LABELS = ("good", "diverged", "collapsed", "mode dropped", "drifted", "wrong spread", "wrong shape")
# The runs whose mean and std are both close to the target's: what a by-eye "pretty good" judges (Dev
# Nag's eight of ten), counted from the labels so that the count always agrees with a results table.
CLOSE_LABELS = ("good", "wrong shape")


def _rows(x: torch.Tensor) -> torch.Tensor:
    """x as float64 rows: a 1-D sample is one row, and a scalar a sample of one value."""
    x = torch.as_tensor(x).to(torch.float64)
    return x.reshape(1, 1) if x.ndim == 0 else x.unsqueeze(0) if x.ndim == 1 else x


def _non_empty(name: str, *rows: torch.Tensor) -> None:
    """A one-line ValueError for a sample of no values: its distribution is undefined (scipy refuses it too)."""
    if any(r.shape[-1] == 0 for r in rows):
        raise ValueError(f"{name} needs samples of at least one value, got an empty one")


def sample_moments(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean, std, skew and excess kurtosis of each row (population moments, like numpy/scipy defaults)."""
    x = _rows(x)
    mean = x.mean(-1)
    dev = x - mean.unsqueeze(-1)
    m2 = (dev**2).mean(-1)
    std = m2.sqrt()
    skew = (dev**3).mean(-1) / m2**1.5
    kurt = (dev**4).mean(-1) / m2**2 - 3.0
    return {"mean": mean, "std": std, "skew": skew, "kurtosis": kurt}


def standardise(x: torch.Tensor, dist: Distribution) -> torch.Tensor:
    """(x - mean) / std of the target, in float64, rows as in every metric here."""
    return (_rows(x) - dist.mean) / dist.std


def _standard(dist: Distribution) -> Distribution:
    """The same family and shape at mean 0 and std 1."""
    return dist.rescaled(0.0, 1.0)


def w1_samples(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact 1-Wasserstein distance between two samples of equal size, row by row.

    For equal sizes it is the mean absolute difference of the sorted values.
    """
    a, b = _rows(a), _rows(b)
    _non_empty("w1_samples", a, b)
    if a.shape != b.shape:
        raise ValueError(f"w1_samples needs samples of equal shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return (torch.sort(a, -1).values - torch.sort(b, -1).values).abs().mean(-1)


def _partial_mean(dist: Distribution, x: torch.Tensor) -> torch.Tensor:
    """integral_{-inf}^{x} t f(t) dt for the target's density f."""
    if isinstance(dist, Normal):
        z = (x - dist.mean) / dist.std
        phi = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return dist.mean * dist._cdf(x) - dist.std * phi
    if isinstance(dist, Mixture):
        s = dist.component_std
        return sum(0.5 * _partial_mean(Normal(c, s), x) for c in dist.centres)
    if isinstance(dist, Uniform):
        lo, hi = dist.low, dist.high
        xc = x.clamp(lo, hi)
        return (xc * xc - lo * lo) / (2 * (hi - lo))
    if isinstance(dist, Laplace):
        m, b = dist.mean, dist.scale
        left = 0.5 * torch.exp((x.clamp(max=m) - m) / b) * (x - b)
        right = m - 0.5 * torch.exp(-(x.clamp(min=m) - m) / b) * (x + b)
        return torch.where(x < m, left, right)
    raise TypeError(f"no partial mean for {dist!r}")


_GRID_CACHE: dict[tuple[str, tuple[float, ...], float, float, int], torch.Tensor] = {}


def _partial_mean_grid(dist: Distribution, n: int) -> torch.Tensor:
    """G(i/n) = integral_0^{i/n} Q(u) du for i = 0..n (cached: the mixture's Q needs bisection)."""
    key = (dist.name, dist.shape, dist.mean, dist.std, n)
    if key not in _GRID_CACHE:
        if len(_GRID_CACHE) > 64:
            _GRID_CACHE.clear()
        p = torch.arange(1, n, dtype=torch.float64) / n
        inner = _partial_mean(dist, dist._icdf(p))
        _GRID_CACHE[key] = torch.cat([torch.zeros(1, dtype=torch.float64), inner,
                                      torch.tensor([dist.mean], dtype=torch.float64)])
    return _GRID_CACHE[key]


def w1_to_target(x: torch.Tensor, dist: Distribution) -> torch.Tensor:
    """Exact W1 between each row's empirical distribution and the target distribution (target units).

    A row with an infinite value (and no NaN) is infinitely far: its W1 is inf, as the definition
    integral |F_n - F| gives (|F_n - F| >= 1/n on a half-line). A row with a NaN gives NaN.
    """
    z = standardise(x, dist)
    _non_empty("w1_to_target", z)
    w1 = dist.std * _w1_standard(torch.sort(z, -1).values, _standard(dist))
    # The formula multiplies an infinite x by a zero weight there (inf * 0 = NaN): say inf instead.
    infinite = torch.isinf(z).any(-1) & ~torch.isnan(z).any(-1)
    return torch.where(infinite, torch.full_like(w1, math.inf), w1)


def _w1_standard(x: torch.Tensor, dist: Distribution) -> torch.Tensor:
    """W1 of sorted standardised rows x against the standard member `dist` of their family; never negative."""
    n = x.shape[-1]
    grid = _partial_mean_grid(dist, n).to(x.device)
    a = torch.arange(n, dtype=torch.float64, device=x.device) / n
    b = a + 1.0 / n
    ga, gb = grid[:-1], grid[1:]
    u = dist._cdf(x)
    # G(u*) with u* = F(x) clamped into the row's own interval [a, b].
    g_star = torch.where(u <= a, ga, torch.where(u >= b, gb, _partial_mean(dist, x)))
    u_star = torch.minimum(torch.maximum(u, a), b)
    piece = x * (u_star - a) - (g_star - ga) + (gb - g_star) - x * (b - u_star)
    # Each piece is >= 0 in exact arithmetic; rounding may leave a sum of order -1e-16 where W1 is 0.
    return piece.sum(-1).clamp_min(0.0)


def ks_to_target(x: torch.Tensor, dist: Distribution) -> torch.Tensor:
    """Kolmogorov-Smirnov statistic sup |F_n - F| of each row against the target."""
    return _ks_standard(torch.sort(standardise(x, dist), -1).values, _standard(dist))


def _ks_standard(x: torch.Tensor, dist: Distribution) -> torch.Tensor:
    """KS of sorted standardised rows x against the standard member `dist` of their family."""
    n = x.shape[-1]
    f = dist._cdf(x)
    i = torch.arange(1, n + 1, dtype=torch.float64, device=x.device)
    return torch.maximum(i / n - f, f - (i - 1) / n).amax(-1)


def two_modes(dist: Distribution) -> bool:
    """True for a target with two modes: a mixture whose density has two peaks (separation above 1/sqrt(2))."""
    return isinstance(dist, Mixture) and dist.bimodal


def mode_windows(dist: Distribution) -> tuple[tuple[float, float], tuple[float, float]]:
    """The two intervals "near a mode": each centre +- MODE_WINDOW component std, in target units.

    Only for two-mode targets (see `two_modes`); anything else raises ValueError.
    """
    if not two_modes(dist):
        raise ValueError(f"{dist!r} does not have two modes: only a mixture with separation above "
                         f"1/sqrt(2) = {1 / math.sqrt(2):.3f} has")
    half = MODE_WINDOW * dist.component_std
    return tuple((c - half, c + half) for c in dist.centres)  # type: ignore[return-value]


def gap_interval(dist: Distribution) -> tuple[float, float] | None:
    """The gap between the modes: the open interval between the two mode windows, or None where they overlap.

    Once the centres are more than 2 x MODE_WINDOW component std apart (separation above 2/sqrt(5) =
    0.894) the windows leave a gap, where the target holds 2.3% of its mass (each component's tail
    beyond two of its std on the inner side, 0.5 x 2.3% twice, a little less while the far tails overlap).
    """
    (_, lo), (hi, _) = mode_windows(dist)
    return (lo, hi) if lo < hi else None


def target_mode_mass(dist: Distribution) -> float:
    """The exact fraction of the target near each mode (the two are equal by symmetry)."""
    lo, hi = mode_windows(dist)[0]
    return float(dist.cdf(hi) - dist.cdf(lo))


def target_gap_mass(dist: Distribution) -> float:
    """The exact fraction of the target in the gap between its modes (NaN where there is no gap)."""
    gap = gap_interval(dist)
    return math.nan if gap is None else float(dist.cdf(gap[1]) - dist.cdf(gap[0]))


def _mode_masses_standard(z: torch.Tensor, standard: Distribution) -> dict[str, torch.Tensor]:
    """Fractions of each row of standardised values near the lower mode, the upper mode and in the gap."""
    nan = torch.full(z.shape[:-1], math.nan, dtype=torch.float64, device=z.device)
    if not two_modes(standard):
        return {"mass_low": nan, "mass_high": nan.clone(), "gap_mass": nan.clone()}
    (a, b), (c, d) = mode_windows(standard)
    out = {"mass_low": ((z >= a) & (z <= b)).double().mean(-1), "mass_high": ((z >= c) & (z <= d)).double().mean(-1)}
    # Between the windows; where they overlap there is no gap.
    out["gap_mass"] = ((z > b) & (z < c)).double().mean(-1) if b < c else nan
    # A row with NaN or inf (a diverged run) has no meaningful fractions.
    bad = ~torch.isfinite(z).all(-1)
    return {key: v.masked_fill(bad, math.nan) for key, v in out.items()}


def mode_masses(x: torch.Tensor, dist: Distribution) -> dict[str, torch.Tensor]:
    """For each row: the fraction of values near the lower mode, near the upper mode and in the gap.

    Keys mass_low, mass_high, gap_mass, each (K,) float64; NaN for a target without two modes, for
    rows holding NaN or inf, and gap_mass NaN where the mode windows overlap (see `mode_windows`,
    `gap_interval`).
    """
    return _mode_masses_standard(standardise(x, dist), _standard(dist))


def mode_dropped(mass_low: float, mass_high: float, target: Distribution) -> bool:
    """True when one mode's window holds less than MODE_DROPPED_SHARE x q and the other's at least q.

    q is the target's mass in each window (`target_mode_mass`); mass_low and mass_high are a run's
    fractions there (`mode_masses`). The run sits on one mode: the mass missing near one mode went
    to the other, which holds at least what the target holds there. A run whose values are near
    neither mode is not one, nor is a run spread too wide (thinly over both windows and beyond them,
    less than q in each) or one piled between the modes: they get another label. Always False for a
    target without two modes and for NaN or inf masses.
    """
    if not two_modes(target) or not (math.isfinite(mass_low) and math.isfinite(mass_high)):
        return False
    q = target_mode_mass(target)
    return min(mass_low, mass_high) < MODE_DROPPED_SHARE * q and max(mass_low, mass_high) >= q


def mode_dropped_false_positive_log10(n: int, separation: float) -> float:
    """log10 of an upper bound on the probability that a correct sample of n values is labelled "mode dropped".

    Each window's count in a sample of the target is binomial(n, q) (q = `target_mode_mass`); the
    label needs one of them below MODE_DROPPED_SHARE x q, so by the union bound and the Chernoff
    bound the probability is at most 2 exp(-n KL(share q || q)), KL the Kullback-Leibler divergence
    of two Bernoulli laws. The label also needs the other window at q or more (`mode_dropped`); the
    bound leaves that condition out, so it holds a fortiori (the exact probability is only smaller).
    As a log10, since it is far below the smallest float at n = 10,000.
    """
    q = target_mode_mass(make_target("mixture", 0.0, 1.0, separation))
    p = MODE_DROPPED_SHARE * q
    kl = p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
    return (math.log(2.0) - n * kl) / math.log(10.0)


def evaluate(x: torch.Tensor, dist: Distribution, *, standardised: bool = False) -> dict[str, torch.Tensor]:
    """Moments, W1 and KS of each row against the target, as (K,) float64 tensors in target units.

    Also the fractions near each mode and in the gap (`mode_masses`: mass_low, mass_high, gap_mass),
    NaN for targets without two modes.

    With `standardised=True`, x holds (values - dist.mean) / dist.std already (as a generator
    trained on standardised data makes them), which saves the round trip through target units.
    """
    z = _rows(x) if standardised else standardise(x, dist)
    standard = _standard(dist)
    m = sample_moments(z)
    # One sort serves W1 and KS (sorting is most of the cost for many long rows).
    zs = torch.sort(z, -1).values
    return {
        "mean": dist.mean + dist.std * m["mean"],
        "std": dist.std * m["std"],
        "skew": m["skew"],
        "kurtosis": m["kurtosis"],
        "w1": dist.std * _w1_standard(zs, standard),
        "ks": _ks_standard(zs, standard),
        **_mode_masses_standard(z, standard),
    }


def is_success(w1: float, target_std: float) -> bool:
    """The course's success criterion: W1 to the target below 0.1 target std."""
    return math.isfinite(w1) and w1 < SUCCESS_W1_FRACTION * target_std


def ran_off(mean: float, std: float, target: Distribution) -> bool:
    """True when samples of this mean and std lie beyond DIVERGED_SCALE target std from the target.

    That is |mean - target mean| or std above DIVERGED_SCALE target std; NaN counts as beyond.
    The trainer labels a run diverged when an evaluation after round 0 finds this and the
    untrained generator's samples did not.
    """
    limit = DIVERGED_SCALE * target.std
    return not (abs(mean - target.mean) <= limit and std <= limit)


def ran_off_reason(mean: float, std: float, target: Distribution, round_: int) -> str:
    """The explanation a run gets when `ran_off` labels it diverged at `round_`."""
    off = max(abs(mean - target.mean), std) / target.std
    return (f"G's samples ran off to mean {mean:.4g}, std {std:.4g}, {off:.3g} target std from the target "
            f"(beyond {DIVERGED_SCALE:g}) at round {round_}")


def label_run(mean: float, std: float, w1: float, target: Distribution, diverged: bool = False,
              mass_low: float = math.nan, mass_high: float = math.nan) -> str:
    """Name the outcome of a run: good, diverged, collapsed, mode dropped, drifted, wrong spread or wrong shape.

    good: W1 < 0.1 sigma. Otherwise, in this order: diverged (NaN/inf met, or the trainer saw the
    samples run off beyond DIVERGED_SCALE sigma, see `ran_off`, and passes diverged=True); collapsed
    (std < 0.1 sigma); mode dropped (two-mode targets only, given the fractions near each mode from
    `mode_masses`: one mode's window holds less than MODE_DROPPED_SHARE of the target's mass q there
    and the other at least q, see `mode_dropped`); drifted (|mean error| > 0.5 sigma); wrong spread
    (std off by more than 25%); wrong shape (mean and std close, W1 still high). A run spread too wide
    holds less than q in both windows, so it is never "mode dropped": it is "drifted" or "wrong spread".
    """
    if diverged or not all(math.isfinite(v) for v in (mean, std, w1)):
        return "diverged"
    sigma = target.std
    if w1 < SUCCESS_W1_FRACTION * sigma:
        return "good"
    if std < COLLAPSE_STD_FRACTION * sigma:
        return "collapsed"
    if mode_dropped(mass_low, mass_high, target):
        return "mode dropped"
    if abs(mean - target.mean) > DRIFT_MEAN_FRACTION * sigma:
        return "drifted"
    if abs(std / sigma - 1) > SPREAD_TOLERANCE:
        return "wrong spread"
    return "wrong shape"


def kde_density(samples: np.ndarray, x: np.ndarray, bandwidth: float | None = None) -> np.ndarray:
    """A Gaussian kernel density estimate of each row of `samples` (n,) or (K, n) at the points x.

    The bandwidth defaults to Silverman's rule, 0.9 min(std, IQR / 1.34) n^(-1/5), per row, so a
    collapsed generator gets a narrow spike rather than a smear. Non-finite samples are dropped; a
    row with none left gives NaN. Returns shape (len(x),) or (K, len(x)).
    """
    rows = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    x = np.asarray(x, dtype=np.float64)
    out = np.full((rows.shape[0], x.size), np.nan)
    for k, row in enumerate(rows):
        row = row[np.isfinite(row)]
        if row.size < 2:
            continue
        h = bandwidth
        if h is None:
            q75, q25 = np.percentile(row, [75, 25])
            spread = min(row.std(), (q75 - q25) / 1.34) or row.std()
            h = 0.9 * spread * row.size ** -0.2
        h = max(float(h), 1e-12 * max(1.0, float(np.abs(row).max())))
        # Binning the samples on a fine grid first keeps this O(len(x) * bins), not O(len(x) * n).
        lo, hi = row.min() - 4 * h, row.max() + 4 * h
        n_bins = int(min(8192, max(64, np.ceil((hi - lo) / (h / 8)))))
        counts, edges = np.histogram(row, bins=n_bins, range=(lo, hi))
        centres = 0.5 * (edges[1:] + edges[:-1])
        used = counts > 0
        z = (x[:, None] - centres[None, used]) / h
        out[k] = (np.exp(-0.5 * z * z) @ counts[used]) / (row.size * h * math.sqrt(2 * math.pi))
    return out[0] if np.asarray(samples).ndim == 1 else out


def optimal_discriminator(x: np.ndarray, samples: np.ndarray, target: Distribution,
                          bandwidth: float | None = None) -> np.ndarray:
    """D*(x) = p_R(x) / (p_R(x) + p_G(x)): the best discriminator against the current generator.

    p_R is the target's exact density; p_G is estimated from G's samples (one row per run) by
    `kde_density`. Where neither density is visible (both below 1e-300) D* is undefined; it is set
    to 1/2 there, which is what a discriminator that has seen nothing would say.
    """
    x = np.asarray(x, dtype=np.float64)
    p_r = np.asarray(target.pdf(x), dtype=np.float64)
    p_g = kde_density(samples, x, bandwidth)
    total = p_r + p_g
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(total > 1e-300, p_r / np.where(total > 1e-300, total, 1.0), 0.5)
    return np.where(np.isnan(p_g), np.nan, d)


@dataclass(frozen=True)
class RunResult:
    """The final measurements of one run: moments and W1 in target units, `w1_sigma` = W1 / target std.

    For a two-mode target also the fractions of its values near each mode and in the gap between them.
    """

    seed: int
    mean: float
    std: float
    skew: float
    kurtosis: float
    w1: float
    w1_sigma: float
    ks: float
    success: bool
    label: str
    diverged_at: int | None
    diverged_reason: str | None = None
    # Two-mode targets: fractions of the values near the lower and the upper mode and in the gap between
    # them (`mode_masses`); NaN for other targets (and gap_mass where the mode windows overlap).
    mass_low: float = math.nan
    mass_high: float = math.nan
    gap_mass: float = math.nan

    def __post_init__(self) -> None:
        # Every NaN field (a diverged run's moments, the mode masses of a one-mode target) is made the one
        # `math.nan` object: NaN != NaN, but dataclass equality compares field tuples, which take identical
        # objects as equal, so two results of identical runs compare (and hash) equal.
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and math.isnan(v):
                object.__setattr__(self, f.name, math.nan)


def _median(values: list[float], non_finite_last: bool) -> float:
    """The median; NaN and inf rank last (as +inf) when `non_finite_last`, else they are left out."""
    a = np.asarray(values, dtype=np.float64)
    if non_finite_last:
        a = np.where(np.isfinite(a), a, np.inf)
    else:
        a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else math.nan


def summarize_runs(runs: Sequence[RunResult], target: Distribution) -> dict:
    """Counts and medians of a set of runs against their target, as plain ints and floats.

    n, success, `labels` (a count for every label in LABELS), collapsed, and moments_close (runs
    whose mean and std are both within SUCCESS_W1_FRACTION target std of the target's); the
    medians of w1 (target units), w1_sigma (target std units) and ks, and of |mean error|,
    |std error| (target units), |skew error| and |excess kurtosis error| against the target's
    exact values; the median std, median kurtosis and median gap_mass (the fraction of values left
    in the gap between two modes). In the medians of W1, KS and the errors a diverged run (NaN)
    ranks last, as an infinite error; the median std, kurtosis and gap mass leave such runs out (NaN
    when none is left, as for targets without a gap).
    """
    if not runs:
        raise ValueError("summarize_runs needs at least one run")
    get = {key: [getattr(r, key) for r in runs] for key in ("mean", "std", "skew", "kurtosis", "w1", "w1_sigma", "ks")}
    labels = {lab: sum(r.label == lab for r in runs) for lab in LABELS}
    close = SUCCESS_W1_FRACTION * target.std

    def err(key: str, exact: float) -> float:
        return _median([abs(v - exact) for v in get[key]], True)

    return {
        "n": len(runs),
        "success": sum(bool(r.success) for r in runs),
        "labels": labels,
        "collapsed": labels["collapsed"],
        "moments_close": sum(abs(r.mean - target.mean) < close and abs(r.std - target.std) < close for r in runs),
        "w1": _median(get["w1"], True),
        "w1_sigma": _median(get["w1_sigma"], True),
        "ks": _median(get["ks"], True),
        "mean_err": err("mean", target.mean),
        "std_err": err("std", target.std),
        "skew_err": err("skew", target.skewness),
        "kurtosis_err": err("kurtosis", target.excess_kurtosis),
        "median_std": _median(get["std"], False),
        "median_kurtosis": _median(get["kurtosis"], False),
        "median_gap_mass": _median([r.gap_mass for r in runs], False),
    }


__all__ = ["sample_moments", "standardise", "w1_samples", "w1_to_target", "ks_to_target", "evaluate", "is_success",
           "label_run", "ran_off", "ran_off_reason", "RunResult", "summarize_runs", "LABELS", "CLOSE_LABELS",
           "SUCCESS_W1_FRACTION",
           "DIVERGED_SCALE", "kde_density", "optimal_discriminator", "two_modes", "mode_windows", "gap_interval",
           "target_mode_mass", "target_gap_mass", "mode_masses", "mode_dropped", "mode_dropped_false_positive_log10",
           "MODE_WINDOW", "MODE_DROPPED_SHARE"]
