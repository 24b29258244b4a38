"""ganlib.metrics against numpy, scipy.stats and numeric integration."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from ganlib.distributions import make_target
from ganlib.metrics import (
    LABELS,
    SUCCESS_W1_FRACTION,
    RunResult,
    evaluate,
    is_success,
    ks_to_target,
    label_run,
    sample_moments,
    summarize_runs,
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
    assert set(out) == {"mean", "std", "skew", "kurtosis", "w1", "ks", "mass_low", "mass_high", "gap_mass"}
    assert all(v.shape == (3,) and v.dtype == torch.float64 for v in out.values())
    # A Laplace target has one mode: no mass near modes, no gap.
    assert all(torch.isnan(out[k]).all() for k in ("mass_low", "mass_high", "gap_mass"))
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


# Targets whose mean is huge next to their spread, where values in target units keep only ~7 (1e6 / 1e-3)
# or fewer significant digits of the spread.
EXTREME = [(1e6, 1e-3), (-1e6, 1e-2), (1e4, 1e-6), (3e5, 2e3)]


def trained_like(mean: float, std: float, seed: int = 0, n: int = 100) -> np.ndarray:
    """Two rows as a trained generator gives them: one close to N(mean, std), one off in location and spread."""
    rng = np.random.default_rng(seed)
    z = np.stack([rng.standard_normal(n) * 1.01 + 0.02, rng.standard_normal(n) * 0.7 - 0.4])
    return mean + std * z


@functools.lru_cache
def w1_of_trained_like_in_std_units(name: str, oracle) -> tuple[float, float]:
    """The quadrature W1 of trained_like's two rows at mean 0, std 1 (the oracle for every scale)."""
    z = trained_like(0.0, 1.0)
    q = make_target(name, 0.0, 1.0).icdf(np.arange(1, z.shape[1]) / z.shape[1])
    kinks = list(q) + ([-math.sqrt(3), math.sqrt(3)] if name == "uniform" else [])
    o = oracle(name, 0.0, 1.0)
    return tuple(w1_by_quadrature(row, o.cdf, 0.0, 1.0, kinks) for row in z)


@pytest.mark.parametrize(("mean", "std"), EXTREME)
@pytest.mark.parametrize("name", FAMILIES)
def test_metrics_at_extreme_scales_match_scipy(name, mean, std, oracle):
    x = trained_like(mean, std)
    d = make_target(name, mean, std)
    out = evaluate(torch.from_numpy(x), d)
    # The sample values are mean + std z rounded to half an ulp of |mean| + 10 std: r std at most. W1 moves by
    # at most that much, so W1 / std matches the quadrature of z to r plus quad's 1e-9; KS and the moments
    # computed on standardised values inherit a few r (times the moments' powers), while the formula in
    # target units cancelled terms of size |mean| and was off by up to 1e4 std.
    r = np.spacing(abs(mean) + 10 * std) / std
    want = w1_of_trained_like_in_std_units(name, oracle)
    for k in range(2):
        assert out["w1"][k].item() / std == pytest.approx(want[k], abs=2 * r + 1e-9)
        assert out["ks"][k].item() == pytest.approx(stats.kstest(x[k], oracle(name, mean, std).cdf).statistic,
                                                     abs=10 * r + 1e-12)
        assert out["mean"][k].item() == pytest.approx(x[k].mean(), abs=std * 10 * r)
        assert out["std"][k].item() == pytest.approx(x[k].std(), abs=std * 10 * r)
        assert out["skew"][k].item() == pytest.approx(stats.skew(x[k]), abs=100 * r)
        assert out["kurtosis"][k].item() == pytest.approx(stats.kurtosis(x[k]), abs=100 * r)
    assert torch.equal(out["w1"], w1_to_target(torch.from_numpy(x), d))
    assert torch.equal(out["ks"], ks_to_target(torch.from_numpy(x), d))


@pytest.mark.parametrize("n", [1, 10, 4000, 10_000])
@pytest.mark.parametrize(("mean", "std"), EXTREME + [(0.0, 1e-6), (0.0, 1e6)])
@pytest.mark.parametrize("name", FAMILIES)
def test_perfect_samples_score_the_same_at_every_scale(name, mean, std, n):
    # The target's own midpoint quantiles are as good as n values can be; in std units their W1 is the same
    # for every mean and std, up to the rounding of the values (r std each, see above).
    d = make_target(name, mean, std)
    standard = make_target(name, 0.0, 1.0)
    r = np.spacing(abs(mean) + 10 * std) / std
    got = w1_to_target(d.quantiles(n), d).item() / std
    want = w1_to_target(standard.quantiles(n), standard).item()
    assert got >= 0 and got == pytest.approx(want, abs=2 * r + 1e-12)


def test_w1_is_never_negative():
    # Values a hair apart from the target's quantiles, where rounding of the closed form could dip below 0.
    d = make_target("normal", 1e6, 1e-3)
    x = torch.stack([d.quantiles(1000) + k * np.spacing(1e6) for k in range(-3, 4)])
    assert (w1_to_target(x, d) >= 0).all()
    assert all((w1_to_target(torch.from_numpy(trained_like(1e6, 1e-3, seed=s)), d) >= 0).all() for s in range(5))


def run(seed=0, mean=4.0, std=1.25, skew=0.0, kurtosis=0.0, w1=0.05, ks=0.02, label="good", target_std=1.25):
    return RunResult(seed=seed, mean=mean, std=std, skew=skew, kurtosis=kurtosis, w1=w1, w1_sigma=w1 / target_std,
                     ks=ks, success=label == "good", label=label, diverged_at=None)


def test_summarize_runs_by_hand_for_any_family():
    # A Laplace target at mean -3, std 0.5 (skewness 0, excess kurtosis 3): four runs and one that diverged.
    target = make_target("laplace", -3.0, 0.5)
    nan = math.nan
    runs = [run(0, -3.1, 0.45, 0.2, 2.0, 0.04, label="good", target_std=0.5),
            run(1, -2.5, 0.30, -0.5, 1.0, 0.30, label="drifted", target_std=0.5),
            run(2, -3.0, 0.02, 0.0, 5.0, 0.38, label="collapsed", target_std=0.5),
            run(3, -2.98, 0.52, 0.1, 3.5, 0.045, label="good", target_std=0.5),
            run(4, nan, nan, nan, nan, nan, label="diverged", target_std=0.5)]
    s = summarize_runs(runs, target)
    assert s["n"] == 5 and s["success"] == 2 and s["collapsed"] == 1
    # Mean and std both within 0.1 x 0.5 = 0.05 of the target's: run 3 only (run 0's mean is off by 0.1).
    assert s["moments_close"] == 1
    assert s["labels"] == {"good": 2, "diverged": 1, "collapsed": 1, "mode dropped": 0, "drifted": 1,
                           "wrong spread": 0, "wrong shape": 0}
    # A Laplace target has no gap between modes.
    assert math.isnan(s["median_gap_mass"])
    # Errors rank a diverged run last (as +inf): medians of five, by hand.
    assert s["w1"] == pytest.approx(0.30)  # 0.04 0.045 0.30 0.38 inf
    assert s["w1_sigma"] == pytest.approx(0.60)
    assert s["ks"] == pytest.approx(0.02)  # 0.02 four times, then inf
    assert s["mean_err"] == pytest.approx(0.1)  # 0.1 0.5 0.0 0.02 inf -> 0 0.02 0.1 0.5 inf
    assert s["std_err"] == pytest.approx(0.2)  # 0.05 0.2 0.48 0.02 inf
    assert s["skew_err"] == pytest.approx(0.2)  # 0.2 0.5 0 0.1 inf
    assert s["kurtosis_err"] == pytest.approx(2.0)  # 1 2 2 0.5 inf -> 0.5 1 2 2 inf
    # Plain medians skip the diverged run: std 0.02 0.30 0.45 0.52 -> 0.375; kurtosis 1 2 3.5 5 -> 2.75.
    assert s["median_std"] == pytest.approx(0.375) and s["median_kurtosis"] == pytest.approx(2.75)
    for key, value in s.items():
        if key == "labels":
            assert all(type(v) is int for v in value.values())
        elif key == "median_gap_mass":
            assert type(value) is float
        else:
            assert type(value) in (int, float), (key, type(value))
    json.dumps({k: v for k, v in s.items() if k != "median_gap_mass"})


@pytest.mark.parametrize("name", FAMILIES)
def test_summarize_runs_of_trained_runs_against_numpy(name):
    from ganlib.config import Config
    from ganlib.train import train

    c = Config(target=name, target_mean=-7.0, target_std=0.3, g_hidden=(8, 8), d_hidden=(8, 8), rounds=60,
               eval_every=60, eval_samples=200, seeds=5, seed=3)
    res = train(c, n_final=1000)
    s = summarize_runs(res.runs, res.trainer.target)
    t = make_target(name, -7.0, 0.3)
    get = lambda key: np.array([getattr(r, key) for r in res.runs])  # noqa: E731
    assert s["w1"] == float(np.median(get("w1")))
    assert s["w1_sigma"] == pytest.approx(float(np.median(get("w1"))) / 0.3, rel=1e-12)
    assert s["mean_err"] == float(np.median(abs(get("mean") + 7.0)))
    assert s["skew_err"] == float(np.median(abs(get("skew") - t.skewness)))
    assert s["kurtosis_err"] == float(np.median(abs(get("kurtosis") - t.excess_kurtosis)))
    assert s["success"] == sum(r.success for r in res.runs) and s["n"] == 5
    assert s["ks"] == float(np.median(get("ks")))
    close = (abs(get("mean") + 7.0) < 0.03) & (abs(get("std") - 0.3) < 0.03)
    assert s["moments_close"] == int(close.sum())


def test_summarize_runs_needs_runs():
    with pytest.raises(ValueError, match="at least one run"):
        summarize_runs([], make_target("normal", 0.0, 1.0))


def test_run_result_w1_sigma_is_w1_in_target_std():
    from ganlib.config import Config
    from ganlib.train import Trainer

    tr = Trainer(Config(target_std=0.01, target_mean=50.0, g_hidden=(8,), g_activations=("elu",), d_hidden=(8,),
                        d_activations=("elu",), eval_samples=100, seeds=2, rounds=0))
    for r in tr.results(500):
        assert r.w1_sigma == r.w1 / 0.01 and r.w1_sigma > 0


def test_ran_off_is_beyond_diverged_scale_target_std_in_mean_or_spread():
    from ganlib.metrics import DIVERGED_SCALE, ran_off, ran_off_reason

    t = make_target("normal", 4.0, 1.25)
    edge = DIVERGED_SCALE * 1.25
    assert not ran_off(4.0 + edge, 1.25, t) and not ran_off(4.0 - edge, 1.25, t) and not ran_off(4.0, edge, t)
    assert ran_off(np.nextafter(4.0 + edge, math.inf), 1.25, t) and ran_off(4.0, np.nextafter(edge, math.inf), t)
    assert ran_off(math.nan, 1.0, t) and ran_off(4.0, math.inf, t)
    reason = ran_off_reason(4.0 + 3 * edge, 0.01, t, 70)
    assert reason == f"G's samples ran off to mean {4.0 + 3 * edge:.4g}, std 0.01, 300 target std from the target " \
                     f"(beyond {DIVERGED_SCALE:g}) at round 70"


# ----- two modes: the separated mixture, mass near each mode, the gap, "mode dropped" -----

def separated_cdf(mean: float, std: float, s: float):
    """The separated mixture's cdf built from scipy's normal (the oracle)."""
    w = math.sqrt(1 - s * s) * std
    lo, hi = stats.norm(mean - s * std, w), stats.norm(mean + s * std, w)
    return lambda x: 0.5 * (lo.cdf(x) + hi.cdf(x))


@pytest.mark.parametrize("s", [0.0, 0.8, 0.95, 0.98])
@pytest.mark.parametrize(("mean", "std"), [(4.0, 1.25), (-50.0, 0.1)])
def test_w1_to_a_separated_mixture_against_quadrature(s, mean, std):
    d = make_target("mixture", mean, std, s)
    rng = np.random.default_rng(5)
    n = 40
    # One row spread like a normal, one from the target itself, one piled on the upper mode only.
    samples = np.stack([mean + 0.3 * std + 1.4 * std * rng.standard_normal(n),
                        d.sample(n, torch.Generator().manual_seed(4), torch.float64).numpy(),
                        mean + s * std + 0.1 * std * rng.standard_normal(n)])
    got = w1_to_target(torch.from_numpy(samples), d).numpy()
    kinks = list(d.icdf(np.arange(1, n) / n))
    for k in range(3):
        want = w1_by_quadrature(samples[k], separated_cdf(mean, std, s), mean, std, kinks)
        # As in test_w1_to_target_against_quadrature.
        assert got[k] == pytest.approx(want, abs=1e-10 * std + 1e-13 * abs(mean))


def test_w1_cache_keeps_separations_apart():
    # The partial-mean grid is cached per family, mean, std and n: two separations must not share one.
    x = torch.linspace(-2, 2, 500, dtype=torch.float64)
    a = w1_to_target(x, make_target("mixture", 0.0, 1.0, 0.8)).item()
    b = w1_to_target(x, make_target("mixture", 0.0, 1.0, 0.96)).item()
    c = w1_to_target(x, make_target("mixture", 0.0, 1.0, 0.8)).item()
    assert a == c and abs(a - b) > 0.01
    assert b == pytest.approx(w1_by_quadrature(x.numpy(), separated_cdf(0.0, 1.0, 0.96), 0.0, 1.0,
                                               list(make_target("mixture", 0.0, 1.0, 0.96).icdf(
                                                   np.arange(1, 500) / 500))), abs=1e-10)


@pytest.mark.parametrize("n", [10, 4000, 10_000])
@pytest.mark.parametrize("s", [0.5, 0.96, 0.98])
def test_perfect_samples_of_a_separated_mixture_score_the_same_at_every_scale(s, n):
    d, standard = make_target("mixture", 1e4, 1e-3, s), make_target("mixture", 0.0, 1.0, s)
    r = np.spacing(1e4 + 10e-3) / 1e-3
    got = w1_to_target(d.quantiles(n), d).item() / 1e-3
    assert got == pytest.approx(w1_to_target(standard.quantiles(n), standard).item(), abs=2 * r + 1e-12)


def test_mode_windows_gap_and_the_targets_own_masses_by_hand():
    from ganlib.metrics import (
        MODE_WINDOW,
        gap_interval,
        mode_windows,
        target_gap_mass,
        target_mode_mass,
        two_modes,
    )

    d = make_target("mixture", 4.0, 1.25, 0.96)
    w = math.sqrt(1 - 0.96**2) * 1.25
    (a, b), (c, e) = mode_windows(d)
    assert (a, b, c, e) == pytest.approx((4 - 1.2 - 2 * w, 4 - 1.2 + 2 * w, 4 + 1.2 - 2 * w, 4 + 1.2 + 2 * w),
                                         rel=1e-14)
    assert gap_interval(d) == pytest.approx((b, c), rel=1e-14) and MODE_WINDOW == 2.0
    cdf = separated_cdf(4.0, 1.25, 0.96)
    assert target_mode_mass(d) == pytest.approx(cdf(b) - cdf(a), rel=1e-12)
    assert target_gap_mass(d) == pytest.approx(cdf(c) - cdf(b), rel=1e-12)
    # Modes far apart: each window holds its component's central 95.45%, the gap both inner 2.275% tails.
    assert target_mode_mass(d) == pytest.approx(0.5 * (stats.norm.cdf(2) - stats.norm.cdf(-2)), abs=1e-6)
    assert target_gap_mass(d) == pytest.approx(stats.norm.sf(2), abs=1e-6)
    # Two peaks only above s = 1/sqrt(2); a gap between the windows only above s = 2/sqrt(5).
    assert two_modes(make_target("mixture", 0.0, 1.0, 0.71)) and not two_modes(make_target("mixture", 0.0, 1.0, 0.7))
    assert not two_modes(make_target("normal", 0.0, 1.0))
    assert gap_interval(make_target("mixture", 0.0, 1.0, 0.89)) is None
    assert gap_interval(make_target("mixture", 0.0, 1.0, 0.9)) is not None
    assert math.isnan(target_gap_mass(make_target("mixture", 0.0, 1.0, 0.8)))
    with pytest.raises(ValueError, match="does not have two modes"):
        mode_windows(make_target("uniform", 0.0, 1.0))


def test_mode_masses_count_values_by_hand():
    from ganlib.metrics import mode_masses, mode_windows

    d = make_target("mixture", 4.0, 1.25, 0.96)
    (a, b), (c, e) = mode_windows(d)
    rng = np.random.default_rng(0)
    x = np.stack([rng.normal(4, 1.25, 1000), rng.normal(4 + 1.2, 0.1, 1000), np.full(1000, 4.0)])
    m = mode_masses(torch.from_numpy(x), d)
    np.testing.assert_array_equal(m["mass_low"].numpy(), ((x >= a) & (x <= b)).mean(1))
    np.testing.assert_array_equal(m["mass_high"].numpy(), ((x >= c) & (x <= e)).mean(1))
    np.testing.assert_array_equal(m["gap_mass"].numpy(), ((x > b) & (x < c)).mean(1))
    assert m["gap_mass"][2] == 1.0 and m["mass_high"][1] == 1.0
    # evaluate carries them too; targets without two modes (or without a gap) give NaN.
    out = evaluate(torch.from_numpy(x), d)
    assert torch.equal(out["gap_mass"], m["gap_mass"])
    assert torch.isnan(evaluate(torch.from_numpy(x), NORMAL)["mass_low"]).all()
    default = evaluate(torch.from_numpy(x), make_target("mixture", 4.0, 1.25))
    assert torch.isnan(default["gap_mass"]).all() and not torch.isnan(default["mass_low"]).any()
    # A row with a NaN (a diverged run) gets no fractions at all.
    x[0, 5] = np.nan
    assert all(torch.isnan(v[0]) and not torch.isnan(v[1]) for v in mode_masses(torch.from_numpy(x), d).values())


TWO = make_target("mixture", 4.0, 1.25, 0.96)


@pytest.mark.parametrize(("std", "mean", "low", "high", "label"), [
    (0.35, 5.2, 0.0, 0.99, "mode dropped"),  # every value near the upper mode
    (0.35, 2.8, 0.99, 0.0, "mode dropped"),
    (0.80, 4.5, 0.20, 0.60, "mode dropped"),  # 0.20 < 0.477 / 2: less than half its share
    (0.80, 4.5, 0.25, 0.60, "wrong spread"),  # 0.25 is more than half its share
    (0.80, 4.5, 0.20, 0.4773, "mode dropped"),  # the kept window holds q = 0.47725 (0.4773 >= q) ...
    (0.80, 4.5, 0.20, 0.4772, "wrong spread"),  # ... or a little less: the missing mass went elsewhere
    (2.50, 4.0, 0.11, 0.24, "wrong spread"),  # too wide: less than q in both windows, however uneven
    (0.10, 5.2, 0.0, 0.99, "collapsed"),  # a spike on one mode is named collapsed first
    (0.35, 9.0, 0.0, 0.0, "drifted"),  # near neither mode: not a dropped mode
    (0.30, 4.0, 0.1, 0.1, "wrong spread"),  # piled in the gap
    (1.25, 4.0, 0.3, 0.3, "wrong shape"),
])
def test_label_run_names_a_dropped_mode(std, mean, low, high, label):
    assert label_run(mean, std, 0.5, TWO, False, low, high) == label
    # Without the masses, or on a target without two modes, the rule is never applied.
    assert label_run(mean, std, 0.5, TWO) != "mode dropped"
    assert label_run(mean, std, 0.5, make_target("mixture", 4.0, 1.25, 0.7), False, low, high) != "mode dropped"
    assert label in LABELS and LABELS.index("collapsed") < LABELS.index("mode dropped") < LABELS.index("drifted")


@pytest.mark.parametrize("s", [0.75, 0.8, 0.9, 0.95, 0.96, 0.98, 0.999])
def test_false_positive_bound_against_the_exact_binomial_tail(s):
    from ganlib.metrics import MODE_DROPPED_SHARE, mode_dropped_false_positive_log10, target_mode_mass

    q = target_mode_mass(make_target("mixture", 0.0, 1.0, s))
    for n in (100, 1000, 4000, 10_000):
        # P(one window below share x q) <= 2 P(Binomial(n, q) < share x q x n), the union bound.
        k = math.ceil(MODE_DROPPED_SHARE * q * n) - 1
        exact = (math.log(2) + stats.binom.logcdf(k, n, q)) / math.log(10)
        assert exact <= mode_dropped_false_positive_log10(n, s) + 1e-9
    # The numbers the README states: a correct sample of 10,000 values (the final measurement) below 1e-500,
    # of 4,000 (an evaluation) below 1e-200, even of 100 values below 2e-5.
    assert mode_dropped_false_positive_log10(10_000, s) < -500
    assert mode_dropped_false_positive_log10(4000, s) < -200
    assert mode_dropped_false_positive_log10(100, s) < math.log10(2e-5)


def test_correct_samples_are_never_labelled_mode_dropped_and_a_lost_mode_always_is():
    from ganlib.metrics import mode_masses, target_mode_mass

    q = target_mode_mass(TWO)
    x = TWO.sample((200, 10_000), torch.Generator().manual_seed(1), torch.float64)
    m = mode_masses(x, TWO)
    # 400 binomial(10,000, q) fractions: all within 5 sd of q (each is outside with probability 6e-7).
    sd = math.sqrt(q * (1 - q) / 10_000)
    for key in ("mass_low", "mass_high"):
        assert (m[key] - q).abs().max() < 5 * sd
    ev = evaluate(x, TWO)
    labels = [label_run(*(ev[k][i].item() for k in ("mean", "std")), 1.0, TWO, False, ev["mass_low"][i].item(),
                        ev["mass_high"][i].item()) for i in range(200)]
    assert "mode dropped" not in labels
    # One component alone, and one with 10% of the other: dropped. With 30%: not (more than half its share).
    upper = make_target("normal", TWO.centres[1], TWO.component_std).sample(10_000, torch.Generator().manual_seed(2),
                                                                            torch.float64)
    lower = make_target("normal", TWO.centres[0], TWO.component_std).sample(10_000, torch.Generator().manual_seed(3),
                                                                            torch.float64)
    rows = torch.stack([upper, torch.cat([upper[:9000], lower[:1000]]), torch.cat([upper[:7000], lower[:3000]])])
    ev = evaluate(rows, TWO)
    got = [label_run(ev["mean"][i].item(), ev["std"][i].item(), ev["w1"][i].item(), TWO, False,
                     ev["mass_low"][i].item(), ev["mass_high"][i].item()) for i in range(3)]
    assert got[:2] == ["mode dropped", "mode dropped"] and got[2] != "mode dropped"


# The notebooks' two-mode targets in standardised units: notebook 04's mixture (4, 1.25) at the default
# separation 0.8, whose windows [-2, 0.4] and [-0.4, 2] overlap, and notebook 07's at 0.96, windows
# [-1.52, -0.4] and [0.4, 1.52]. Each case is a law in standardised units with its cdf by hand, its samples
# drawn with a seeded numpy generator, and the label the rule must give.
def _normal(mu, sd):
    return (lambda rng, n: rng.normal(mu, sd, n)), (lambda x: stats.norm.cdf((x - mu) / sd))


def _two_normals(p, s):
    """A fraction p of values from the upper component N(s, 1 - s^2), the rest from the lower one."""
    w = math.sqrt(1 - s * s)
    def draw(rng, n):
        k = round(p * n)
        return np.concatenate([rng.normal(s, w, k), rng.normal(-s, w, n - k)])
    return draw, (lambda x: p * stats.norm.cdf((x - s) / w) + (1 - p) * stats.norm.cdf((x + s) / w))


def _uniform(a, b):
    return (lambda rng, n: rng.uniform(a, b, n)), (lambda x: min(max((x - a) / (b - a), 0.0), 1.0))


def _reflected_exponential(beta):
    """beta - Exponential(scale beta): mean 0, std beta, a long thin tail below and a pile near its top beta."""
    return (lambda rng, n: beta - rng.exponential(beta, n)), (lambda x: math.exp(-max(beta - x, 0.0) / beta))


def _case(s, name):
    w = math.sqrt(1 - s * s)
    return {
        "one mode": _two_normals(1.0, s),  # (a) every value from the upper component
        "85/15": _two_normals(0.85, s),  # (b) a partial drop
        "normal 1.8 std": _normal(0.0, 1.8),  # (c) too wide, symmetric
        "uniform -1..7.7": _uniform(-4.0, 2.96),  # (c) the gallery's range, (-1 - 4) / 1.25 to (7.7 - 4) / 1.25
        "too wide, piled high": _reflected_exponential(2.5),  # (c) the gallery's shape: mean 4, std 2.5 sd
        "middle": _normal(0.0, w),  # (e) a component-wide bump between the modes
        "in the gap": _normal(0.3, w),  # (e) a bump in the gap, off centre
        "half-way": _normal(s / 2, w),  # a bump half-way between the middle and the upper mode
    }[name]


# (separation, case, label under the rule, label the old rule gave (mode dropped where one window held less
# than half of q and the other at least half of q), its mass in the lower and the upper window by hand).
MODE_CASES = [
    (0.8, "one mode", "mode dropped", "mode dropped", 0.2525, 0.9545),
    (0.96, "one mode", "mode dropped", "mode dropped", 0.0000, 0.9545),
    # 85% from the upper component and 15% from the lower: at 0.96 the lower window holds 0.143, 0.30 of
    # q = 0.477, and the upper 0.811, more than q: the mass missing below went to the upper mode, a partial
    # drop. At 0.8 the overlapping windows give the lower 0.358, 0.59 of q = 0.604: not dropped (drifted,
    # mean 0.56 sd high).
    (0.8, "85/15", "drifted", "drifted", 0.3578, 0.8492),
    (0.96, "85/15", "mode dropped", "mode dropped", 0.1432, 0.8113),
    (0.8, "normal 1.8 std", "wrong spread", "wrong spread", 0.4547, 0.4547),
    (0.96, "normal 1.8 std", "wrong spread", "wrong spread", 0.2129, 0.2129),
    # Mean 3.35: 0.52 sd low, so drifted before wrong spread, under both rules.
    (0.8, "uniform -1..7.7", "drifted", "drifted", 0.3448, 0.3448),
    (0.96, "uniform -1..7.7", "drifted", "drifted", 0.1609, 0.1609),
    # Notebook 04's worst batch+moments run: the old rule's false "mode dropped".
    (0.8, "too wide, piled high", "wrong spread", "mode dropped", 0.2664, 0.5052),
    (0.96, "too wide, piled high", "wrong spread", "mode dropped", 0.1132, 0.2440),
    (0.8, "middle", "wrong spread", "wrong spread", 0.7471, 0.7471),
    (0.96, "middle", "wrong spread", "wrong spread", 0.0766, 0.0766),
    (0.96, "in the gap", "wrong spread", "mode dropped", 0.0062, 0.3605),
    # Nothing near the lower mode and 0.61 > q near the upper one: it sits on one mode, if off centre.
    (0.96, "half-way", "mode dropped", "mode dropped", 0.0008, 0.6123),
    (0.8, "half-way", "wrong spread", "wrong spread", 0.5000, 0.9050),
]


@pytest.mark.parametrize(("s", "name", "label", "old_label", "low", "high"), MODE_CASES)
def test_mode_dropped_only_for_a_run_on_one_mode(s, name, label, old_label, low, high):
    from ganlib.metrics import mode_dropped, target_mode_mass

    target = make_target("mixture", 4.0, 1.25, s)
    w = math.sqrt(1 - s * s)
    # q by hand: the own component's central 2 std, plus the other component's tail inside the window.
    q = 0.5 * (stats.norm.cdf(2) - stats.norm.cdf(-2)) + 0.5 * (
        stats.norm.cdf((-s + 2 * w - s) / w) - stats.norm.cdf((-s - 2 * w - s) / w))
    assert target_mode_mass(target) == pytest.approx(q, rel=1e-9)
    assert q == pytest.approx({0.8: 0.6035, 0.96: 0.4773}[s], abs=1e-4)
    draw, cdf = _case(s, name)
    windows = ((-s - 2 * w, -s + 2 * w), (s - 2 * w, s + 2 * w))
    by_hand = [cdf(b) - cdf(a) for a, b in windows]
    assert by_hand == pytest.approx([low, high], abs=1e-4)
    z = draw(np.random.default_rng(7), 20_000)
    ev = evaluate(torch.from_numpy(4.0 + 1.25 * z), target)
    got = ev["mass_low"].item(), ev["mass_high"].item()
    assert got == pytest.approx(by_hand, abs=0.015)  # binomial sd at most 0.0036 at n = 20,000
    assert label_run(ev["mean"].item(), ev["std"].item(), ev["w1"].item(), target, False, *got) == label
    assert mode_dropped(*got, target) == (label == "mode dropped")
    # The old rule on the same masses: what it labelled, and where it was wrong.
    old = min(got) < q / 2 <= max(got)
    assert old == (old_label == "mode dropped")


def test_a_correct_sample_is_good_and_holds_q_near_each_mode():
    # (d): 20,000 values of each target are "good", with q near each mode; neither window is below half of q.
    for s, q in ((0.8, 0.6035), (0.96, 0.4773)):
        target = make_target("mixture", 4.0, 1.25, s)
        ev = evaluate(target.sample(20_000, torch.Generator().manual_seed(5), torch.float64), target)
        got = ev["mass_low"].item(), ev["mass_high"].item()
        assert got == pytest.approx((q, q), abs=0.015)
        assert label_run(ev["mean"].item(), ev["std"].item(), ev["w1"].item(), target, False, *got) == "good"
        # Even with W1 too high, a sample with the target's masses is not "mode dropped".
        assert label_run(ev["mean"].item(), ev["std"].item(), 1.0, target, False, *got) != "mode dropped"


def test_summarize_runs_reports_the_median_gap_mass():
    runs = [RunResult(seed=i, mean=4.0, std=1.25, skew=0.0, kurtosis=-1.7, w1=0.3, w1_sigma=0.24, ks=0.1,
                      success=False, label="wrong shape", diverged_at=None, mass_low=0.4, mass_high=0.4, gap_mass=g)
            for i, g in enumerate([0.1, 0.3, math.nan, 0.2])]
    assert summarize_runs(runs, TWO)["median_gap_mass"] == pytest.approx(0.2)


def test_results_of_identical_runs_compare_equal_although_nan_is_not_equal_to_nan() -> None:
    # Mode masses are NaN for a one-mode target and a diverged run's moments are NaN; each NaN made by a
    # computation is a new float object, and NaN != NaN, yet the results of two identical runs must be equal.
    def make(nan_source):
        return RunResult(seed=1, mean=nan_source(), std=1.0, skew=0.0, kurtosis=0.0, w1=0.5, w1_sigma=0.4, ks=0.1,
                         success=False, label="diverged", diverged_at=3, mass_low=nan_source(),
                         mass_high=nan_source(), gap_mass=nan_source())

    a, b = make(lambda: float(torch.tensor(float("nan")))), make(lambda: float("nan") * 1.0)
    assert a == b and hash(a) == hash(b) and math.isnan(a.mass_low)
    assert a != RunResult(**{**a.__dict__, "gap_mass": 0.0})


def test_every_label_has_a_colour_in_the_figures() -> None:
    # Galleries colour each run's title by its label: a label without a colour stopped notebook 04
    # (KeyError) when "mode dropped" was added to the rule.
    from ganlib import metrics, plots

    assert set(plots.LABEL_COLORS) == set(metrics.LABELS)
    assert len(set(plots.LABEL_COLORS.values())) == len(plots.LABEL_COLORS)


# ----- issue 31: non-finite values, empty samples, a scalar as a sample of one -----

@pytest.mark.parametrize("name", ["normal", "uniform", "laplace", "mixture"])
@pytest.mark.parametrize("bad", [math.inf, -math.inf])
def test_w1_to_target_of_an_infinite_value_is_inf(name, bad):
    # By the definition, W1 = integral |F_n - F|, and a value at +-inf leaves |F_n - F| >= 1/n on a half-line
    # of infinite length: W1 is +inf, not NaN. A NaN value still gives NaN (nothing can be said).
    target = make_target(name, 4.0, 1.25)
    got = w1_to_target(torch.tensor([[3.0, bad, 5.0], [3.0, 4.0, 5.0], [3.0, math.nan, 5.0]]), target)
    assert got[0].item() == math.inf
    assert math.isfinite(got[1].item()) and math.isnan(got[2].item())


def test_w1_samples_of_empty_samples_is_one_line():
    with pytest.raises(ValueError, match="empty") as exc:
        w1_samples([], [])
    assert "\n" not in str(exc.value)
    with pytest.raises(ValueError, match="empty"):
        stats.wasserstein_distance([], [])  # scipy refuses them too


def test_w1_to_target_takes_a_scalar_as_a_sample_of_one():
    # One value x against N(4, 1.25): W1 = E|X - x|, by quadrature from scipy.
    target = make_target("normal", 4.0, 1.25)
    want = integrate.quad(lambda t: abs(t - 4.5) * stats.norm(4.0, 1.25).pdf(t), -np.inf, np.inf)[0]
    for x in (np.float64(4.5), 4.5, torch.tensor(4.5)):
        assert w1_to_target(x, target).item() == pytest.approx(want, rel=1e-9)
