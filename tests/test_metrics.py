"""ganlib.metrics against numpy, scipy.stats and numeric integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from ganlib.distributions import make_target
from ganlib.metrics import (
    LABELS,
    SUCCESS_W1_FRACTION,
    evaluate,
    is_success,
    ks_to_target,
    label_run,
    sample_moments,
    w1_samples,
    w1_to_target,
)

FAMILIES = ("normal", "uniform", "laplace", "mixture")


def rows(seed=0, k=3, n=500):
    rng = np.random.default_rng(seed)
    return np.stack([rng.normal(4, 1.25, n), rng.exponential(2.0, n), rng.uniform(-1, 3, n)][:k])


def test_sample_moments_against_numpy_and_scipy():
    x = rows()
    m = sample_moments(torch.from_numpy(x))
    np.testing.assert_allclose(m["mean"].numpy(), x.mean(1), rtol=1e-14)
    np.testing.assert_allclose(m["std"].numpy(), x.std(1), rtol=1e-13)
    np.testing.assert_allclose(m["skew"].numpy(), stats.skew(x, 1, bias=True), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(m["kurtosis"].numpy(), stats.kurtosis(x, 1, bias=True), rtol=1e-11)
    one = sample_moments(torch.from_numpy(x[1]))
    assert one["mean"].shape == (1,) and one["mean"].dtype == torch.float64
    assert one["skew"].item() == pytest.approx(stats.skew(x[1]), rel=1e-11)


def test_w1_samples_against_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, (2, 300)), rng.laplace(0.5, 2, (2, 300))
    got = w1_samples(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    for k in range(2):
        assert got[k] == pytest.approx(stats.wasserstein_distance(a[k], b[k]), rel=1e-12)
    # A shift by c moves every quantile by c: W1 = |c|.
    assert w1_samples(torch.from_numpy(a[0]), torch.from_numpy(a[0] - 0.7)).item() == pytest.approx(0.7, rel=1e-12)


def test_w1_samples_rejects_unequal_shapes():
    with pytest.raises(ValueError, match="equal shape"):
        w1_samples(torch.zeros(10), torch.zeros(11))


def w1_by_quadrature(x: np.ndarray, cdf, mean: float, std: float, kinks=()) -> float:
    """integral |F_n(t) - F(t)| dt, piece by piece between sample points (F_n is constant on each)."""
    xs = np.sort(x)
    n = xs.size
    # Beyond 40 std the tails of all four families are below 1e-25 std.
    edges = np.concatenate([[min(xs[0], mean - 40 * std)], xs, [max(xs[-1], mean + 40 * std)]])
    total = 0.0
    for i in range(n + 1):
        lo, hi = edges[i], edges[i + 1]
        if hi <= lo:
            continue
        level = i / n
        inner = [k for k in kinks if lo < k < hi]
        total += integrate.quad(lambda t, level=level: abs(level - cdf(t)), lo, hi, points=inner or None,
                                limit=200, epsabs=1e-14, epsrel=1e-12)[0]
    return total


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize(("mean", "std"), [(4.0, 1.25), (-50.0, 0.1)])
def test_w1_to_target_against_quadrature(name, mean, std, oracle):
    o = oracle(name, mean, std)
    rng = np.random.default_rng(2)
    n = 40
    # A sample that is off in location and spread, another drawn from the target itself.
    samples = np.stack([mean + 0.3 * std + 1.4 * std * rng.standard_normal(n),
                        make_target(name, mean, std).sample(n, torch.Generator().manual_seed(4), torch.float64)])
    got = w1_to_target(torch.from_numpy(samples), make_target(name, mean, std)).numpy()
    # F crosses the level i/n of each piece once, at its i/n quantile: give quad those kinks.
    q = make_target(name, mean, std).icdf(np.arange(1, n) / n)
    kinks = list(q)
    if name == "uniform":
        kinks += [mean - math.sqrt(3) * std, mean + math.sqrt(3) * std]
    for k in range(2):
        want = w1_by_quadrature(samples[k], o.cdf, mean, std, kinks)
        # quad reaches ~1e-14 absolute per piece over 42 pieces; the closed form cancels terms of size |mean|,
        # losing ~n * 1e-16 |mean|: 1e-10 std covers both.
        assert got[k] == pytest.approx(want, abs=1e-10 * std + 1e-13 * abs(mean))


@pytest.mark.parametrize("name", FAMILIES)
def test_w1_of_a_point_mass_is_mean_absolute_deviation(name):
    # x = c for every value: W1 = E|X - c|. At c = mean: normal sqrt(2/pi) s, uniform sqrt(3)/2 s,
    # laplace s/sqrt(2), mixture 0.8 s (2 Phi(4/3) - 1) + 2 (0.6 s) phi(4/3) (folded normal of one component).
    s = 1.25
    z = 0.8 / 0.6
    mad = {
        "normal": math.sqrt(2 / math.pi) * s,
        "uniform": math.sqrt(3) / 2 * s,
        "laplace": s / math.sqrt(2),
        "mixture": 0.8 * s * (2 * stats.norm.cdf(z) - 1) + 2 * 0.6 * s * stats.norm.pdf(z),
    }[name]
    d = make_target(name, 4.0, s)
    got = w1_to_target(torch.full((2, 1000), 4.0, dtype=torch.float64), d).numpy()
    np.testing.assert_allclose(got, mad, rtol=1e-12)
    # Far from the target W1 is just the distance of the means.
    far = w1_to_target(torch.full((1, 10), 4.0 + 1000 * s, dtype=torch.float64), d).item()
    assert far == pytest.approx(1000 * s, rel=1e-12)


@pytest.mark.parametrize("n", [1, 10, 1000])
def test_w1_of_uniform_midpoint_quantiles_by_hand(n):
    # Q is linear with slope w = 2 sqrt(3) std; on each of the n pieces the midpoint is off by |w (u - mid)|,
    # whose integral over a width 1/n is w / (4 n^2): in total w / (4 n).
    d = make_target("uniform", 4.0, 1.25)
    assert w1_to_target(d.quantiles(n), d).item() == pytest.approx(2 * math.sqrt(3) * 1.25 / (4 * n), rel=1e-11)


@pytest.mark.parametrize("name", FAMILIES)
def test_ks_to_target_against_scipy(name, oracle):
    o = oracle(name, 4.0, 1.25)
    x = rows(3)
    got = ks_to_target(torch.from_numpy(x), make_target(name, 4.0, 1.25)).numpy()
    for k in range(3):
        assert got[k] == pytest.approx(stats.kstest(x[k], o.cdf).statistic, rel=1e-12)


def test_evaluate_bundles_all_metrics():
    d = make_target("laplace", 4.0, 1.25)
    x = torch.from_numpy(rows(5))
    out = evaluate(x, d)
    assert set(out) == {"mean", "std", "skew", "kurtosis", "w1", "ks"}
    assert all(v.shape == (3,) and v.dtype == torch.float64 for v in out.values())
    assert torch.equal(out["w1"], w1_to_target(x, d)) and torch.equal(out["ks"], ks_to_target(x, d))


def test_metrics_accept_float32_and_compute_in_float64():
    d = make_target("normal", 0.0, 1.0)
    x32 = torch.from_numpy(rows(6)).float()
    assert torch.equal(w1_to_target(x32, d), w1_to_target(x32.double(), d))


def test_is_success_boundary():
    s = 1.25
    edge = SUCCESS_W1_FRACTION * s
    assert not is_success(edge, s)
    assert is_success(np.nextafter(edge, 0), s)
    assert is_success(0.0, s)
    assert not is_success(math.nan, s) and not is_success(math.inf, s)


NORMAL = make_target("normal", 4.0, 1.25)


@pytest.mark.parametrize(("mean", "std", "w1", "diverged", "label"), [
    (4.0, 1.25, 0.10, False, "good"),  # W1 below 0.1 * 1.25 = 0.125
    (4.0, 1.25, 0.10, True, "diverged"),
    (math.nan, 1.25, 0.10, False, "diverged"),
    (4.0, math.inf, 1.0, False, "diverged"),
    (4.0, 1.25, math.nan, False, "diverged"),
    (4.0, 0.12, 1.0, False, "collapsed"),  # std below 0.125
    (9.0, 0.12, 5.0, False, "collapsed"),  # collapse is named before drift
    (4.7, 1.25, 0.7, False, "drifted"),  # |mean error| 0.7 > 0.625
    (4.7, 2.00, 0.8, False, "drifted"),  # drift is named before spread
    (4.5, 1.60, 0.3, False, "wrong spread"),  # std ratio 1.28: off by more than 25%
    (4.5, 0.90, 0.3, False, "wrong spread"),  # std ratio 0.72
    (4.5, 1.50, 0.3, False, "wrong shape"),  # ratio 1.2 within 25%, mean off by 0.5 < 0.625
    (4.0, 1.25, 0.125, False, "wrong shape"),  # W1 exactly at the threshold is not good
])
def test_label_run(mean, std, w1, diverged, label):
    assert label_run(mean, std, w1, NORMAL, diverged) == label
    assert label in LABELS


def test_kde_density_matches_scipy_gaussian_kde_with_the_same_bandwidth() -> None:
    from ganlib.metrics import kde_density

    rng = np.random.default_rng(3)
    s = rng.normal(2.0, 0.5, 5000)
    x = np.linspace(-1, 5, 301)
    h = 0.1
    want = stats.gaussian_kde(s, bw_method=h / s.std(ddof=1))(x)
    # Binning moves each sample by at most h/16, which changes the density by at most
    # max|phi'| * h/16 / h^2 = 0.242 / (16 h): 0.15 here; the average effect is far smaller.
    np.testing.assert_allclose(kde_density(s, x, h), want, rtol=0, atol=0.01)
    two = kde_density(np.stack([s, s + 1.0]), x, h)
    assert two.shape == (2, 301)
    np.testing.assert_allclose(two[1, 50:], kde_density(s, x[50:] - 1.0, h), atol=1e-12)


def test_optimal_discriminator_is_pr_over_pr_plus_pg() -> None:
    from ganlib.metrics import optimal_discriminator

    target = make_target("normal", 4.0, 1.25)
    x = np.linspace(0, 8, 81)
    # G equal to the target: D* = 1/2 wherever both have visible mass.
    same = target.sample(20_000, torch.Generator().manual_seed(0), torch.float64).numpy()
    d = optimal_discriminator(x, same, target)
    assert np.all(np.abs(d[20:61] - 0.5) < 0.05)
    # A narrow G far to the right: D* is 1 on the target's bulk and 0 at G's spike.
    spike = np.random.default_rng(0).normal(7.5, 0.05, 4000)
    d = optimal_discriminator(x, spike, target)
    assert np.all(d[(x > 2) & (x < 6)] > 0.999) and d[np.argmin(np.abs(x - 7.5))] < 0.01
    # Against an independent p_G (scipy's kernel estimate, same bandwidth) on a finer grid.
    x = np.linspace(6.8, 8.2, 141)
    pg = stats.gaussian_kde(spike, bw_method=0.02 / spike.std(ddof=1))(x)
    want = target.pdf(x) / (target.pdf(x) + pg)
    np.testing.assert_allclose(optimal_discriminator(x, spike, target, bandwidth=0.02), want, rtol=0, atol=0.01)
    assert np.isnan(optimal_discriminator(x, np.array([np.nan, np.nan]), target)).all()
