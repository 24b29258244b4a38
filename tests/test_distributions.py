"""ganlib.distributions against scipy.stats: pdf, cdf, icdf, sampling, and the ideal generator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize, stats

from ganlib.distributions import Laplace, Mixture, Normal, Uniform, ideal_generator, make_noise, make_target

FAMILIES = ("normal", "uniform", "laplace", "mixture")
PARAMS = [(0.0, 1.0), (4.0, 1.25), (-300.0, 0.01), (1e5, 2e3)]
CASES = [(f, m, s) for f in FAMILIES for m, s in PARAMS]
IDS = [f"{f}-{m:g}-{s:g}" for f, m, s in CASES]


def grid(name, mean, std, n=201):
    """Points inside the support (the uniform's is mean +- sqrt(3) std), out to 5 std elsewhere."""
    half = (math.sqrt(3.0) * 0.999 if name == "uniform" else 5.0) * std
    return mean + np.linspace(-half, half, n)


@pytest.mark.parametrize(("name", "mean", "std"), [c for c in CASES if c[0] != "uniform"],
                         ids=[i for i, c in zip(IDS, CASES) if c[0] != "uniform"])
def test_pdf_matches_scipy(name, mean, std, oracle):
    x = grid(name, mean, std)
    np.testing.assert_allclose(make_target(name, mean, std).pdf(x), oracle(name, mean, std).pdf(x), rtol=1e-12)


@pytest.mark.parametrize(("mean", "std"), PARAMS)
def test_uniform_pdf_is_flat_on_its_support_and_zero_outside(mean, std, oracle):
    d = make_target("uniform", mean, std)
    half = math.sqrt(3.0) * std
    inside = mean + np.linspace(-0.999, 0.999, 51) * half
    outside = mean + np.array([-1.01, -3.0, 1.01, 3.0]) * half
    # 2**-23 relative: loose enough for a float32 rounding of 1/(2 sqrt(3) std) (see the strict test below).
    np.testing.assert_allclose(d.pdf(inside), oracle("uniform", mean, std).pdf(inside), rtol=2.0**-23)
    assert np.all(d.pdf(outside) == 0.0)


def test_uniform_pdf_has_float64_precision(oracle):
    x = np.array([3.0, 4.0, 5.0])
    np.testing.assert_allclose(make_target("uniform", 4.0, 1.25).pdf(x), oracle("uniform", 4.0, 1.25).pdf(x),
                               rtol=1e-13)


@pytest.mark.parametrize(("name", "mean", "std"), CASES, ids=IDS)
def test_cdf_matches_scipy(name, mean, std, oracle):
    x = grid(name, mean, std)
    if name == "uniform":
        x = np.concatenate([x, mean + np.array([-3.0, 3.0]) * std])
    # erf-based cdfs lose relative precision in the far left tail, not absolute: 1e-15 absolute.
    np.testing.assert_allclose(make_target(name, mean, std).cdf(x), oracle(name, mean, std).cdf(x),
                               rtol=1e-12, atol=1e-15 * (1 + abs(mean) / std))


PROBS = np.concatenate([[1e-6, 1e-3], np.linspace(0.01, 0.99, 99), [1 - 1e-3, 1 - 1e-6]])


@pytest.mark.parametrize(("name", "mean", "std"), CASES, ids=IDS)
def test_icdf_matches_scipy(name, mean, std, oracle):
    got = make_target(name, mean, std).icdf(PROBS)
    if name == "mixture":
        o = oracle(name, mean, std)
        want = np.array([optimize.brentq(lambda x, p=p: o.cdf(x) - p, mean - 20 * std, mean + 20 * std,
                                         xtol=1e-14 * std, rtol=1e-15) for p in PROBS])
    else:
        want = oracle(name, mean, std).ppf(PROBS)
    # An error of 1e-16 in p moves x by 1e-16 / pdf(x) <= 3e-11 std at p = 1e-6 (pdf ~ 5e-6 / std there).
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * std + 1e-12 * abs(mean))


@pytest.mark.parametrize(("name", "mean", "std"), CASES, ids=IDS)
def test_icdf_inverts_cdf(name, mean, std):
    d = make_target(name, mean, std)
    x = np.asarray(d.icdf(PROBS))
    # x carries an absolute rounding of ~1e-16 |mean|, which moves F(x) by up to that times pdf(x) <= 1/std.
    np.testing.assert_allclose(d.cdf(x), PROBS, rtol=1e-9, atol=1e-15 * (1 + abs(mean) / std))
    # Within 3 std p stays above 1e-3, where the round trip is well conditioned.
    x = grid(name, mean, std)
    x = x[np.abs(x - mean) <= 3 * std]
    np.testing.assert_allclose(d.icdf(d.cdf(x)), x, rtol=0, atol=1e-9 * std + 1e-12 * abs(mean))


@pytest.mark.parametrize("name", FAMILIES)
def test_density_has_the_stated_mean_and_std(name):
    # Integrating the pdf checks the parametrisation itself, e.g. the mixture's 0.8**2 + 0.6**2 = 1.
    mean, std = 4.0, 1.25
    d = make_target(name, mean, std)
    lo, hi = (mean - math.sqrt(3) * std, mean + math.sqrt(3) * std) if name == "uniform" else (mean - 40 * std,
                                                                                                mean + 40 * std)
    pts = [mean - 0.8 * std, mean, mean + 0.8 * std]

    def moment(k, c=0.0):
        return integrate.quad(lambda x: (x - c) ** k * d.pdf(x), lo, hi, points=pts, limit=200,
                              epsabs=1e-13, epsrel=1e-13)[0]

    # The uniform's density carries a float32 rounding (see test_uniform_pdf_has_float64_precision).
    tol = 2.0**-23 if name == "uniform" else 1e-9
    assert moment(0) == pytest.approx(1.0, abs=tol)
    assert moment(1) == pytest.approx(mean, rel=tol)
    assert math.sqrt(moment(2, mean)) == pytest.approx(std, rel=tol)


EXCESS_KURTOSIS = {"normal": 0.0, "uniform": -1.2, "laplace": 3.0, "mixture": -0.8192}


# Far from zero relative to the spread: the mixture once drew its centres in float32, which at 1e6 rounds
# them to multiples of 0.0625 and gave a sample std of 0.087 for a std of 0.1.
FAR = [(f, m, s) for f in FAMILIES for m, s in [(1e6, 0.1), (1e4, 1e-3), (-1e6, 0.5)]]


@pytest.mark.parametrize(("name", "mean", "std"), [(f, 4.0, 1.25) for f in FAMILIES] + [(f, -300.0, 0.01)
                                                                                        for f in FAMILIES] + FAR)
def test_sample_mean_and_std(name, mean, std):
    n = 100_000
    x = make_target(name, mean, std).sample(n, torch.Generator().manual_seed(123), torch.float64).numpy()
    # Standard errors: mean std/sqrt(n); sample std std*sqrt((kurt - 1)/(4n)) with kurt = excess + 3.
    # 5 standard errors: a correct sampler fails this with probability below 1e-6.
    se_mean = std / math.sqrt(n)
    se_std = std * math.sqrt((EXCESS_KURTOSIS[name] + 2.0) / (4 * n))
    assert abs(x.mean() - mean) < 5 * se_mean
    assert abs(x.std() - std) < 5 * se_std


@pytest.mark.parametrize("name", FAMILIES)
def test_samples_follow_the_cdf(name, oracle):
    n = 4000
    x = make_target(name, 4.0, 1.25).sample(n, torch.Generator().manual_seed(7), torch.float64).numpy()
    # KS statistic of n draws: 99.9% quantile ~1.95/sqrt(n) = 0.031.
    assert stats.kstest(x, oracle(name, 4.0, 1.25).cdf).statistic < 1.95 / math.sqrt(n)


def test_mixture_picks_each_component_half_the_time():
    d = make_target("mixture", 0.0, 1.0)
    x = d.sample(40_000, torch.Generator().manual_seed(3), torch.float64).numpy()
    # P(x > 0) = 1/2 by symmetry and P(x > 0.8) = 1/4 + sf(1.6 / 0.6) / 2 (upper centre, lower one's tail);
    # binomial sd <= 0.5/sqrt(n) = 0.0025, so 5 sd = 0.0125.
    assert abs((x > 0).mean() - 0.5) < 0.0125
    assert abs(((x > 0.8).mean()) - 0.5 * (1 - stats.norm.cdf(0)) - 0.5 * stats.norm.sf(1.6 / 0.6)) < 0.0125


@pytest.mark.parametrize("name", FAMILIES)
def test_sampling_is_reproducible_per_generator(name):
    d = make_target(name, 4.0, 1.25)
    a = d.sample((3, 50), torch.Generator().manual_seed(11))
    b = d.sample((3, 50), torch.Generator().manual_seed(11))
    c = d.sample((3, 50), torch.Generator().manual_seed(12))
    assert a.shape == (3, 50) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert (a != c).float().mean() > 0.99


@pytest.mark.parametrize("name", FAMILIES)
def test_float32_and_float64_draw_the_same_values(name):
    d = make_target(name, 4.0, 1.25)
    x32 = d.sample(1000, torch.Generator().manual_seed(5), torch.float32)
    x64 = d.sample(1000, torch.Generator().manual_seed(5), torch.float64)
    assert x64.dtype == torch.float64
    assert torch.equal(x32, x64.to(torch.float32))


@pytest.mark.parametrize("name", FAMILIES)
def test_stream_does_not_depend_on_how_many_are_drawn_at_once(name):
    d = make_target(name, 0.0, 1.0)
    g = torch.Generator().manual_seed(9)
    parts = torch.cat([d.sample(30, g, torch.float64), d.sample(70, g, torch.float64)])
    assert torch.equal(parts, d.sample(100, torch.Generator().manual_seed(9), torch.float64))


def test_uniform_noise_is_exactly_torch_rand():
    u = make_noise("uniform").sample(1000, torch.Generator().manual_seed(2), torch.float64)
    assert torch.equal(u, torch.rand(1000, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64)[:, 0])


def test_noises_are_standard(oracle):
    n = make_noise("normal")
    u = make_noise("uniform")
    assert isinstance(n, Normal) and (n.mean, n.std) == (0.0, 1.0)
    assert isinstance(u, Uniform) and (u.low, u.high) == pytest.approx((0.0, 1.0), abs=1e-15)


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5, math.nan])
@pytest.mark.parametrize("name", FAMILIES)
def test_icdf_rejects_p_outside_open_unit_interval(name, p):
    d = make_target(name, 0.0, 1.0)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        d.icdf(p)
    with pytest.raises(ValueError):
        d.icdf(np.array([0.5, p]))


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="target='cauchy'"):
        make_target("cauchy", 0.0, 1.0)
    with pytest.raises(ValueError, match="noise='gamma'"):
        make_noise("gamma")


@pytest.mark.parametrize("cls", [Normal, Uniform, Laplace, Mixture])
@pytest.mark.parametrize(("mean", "std"), [(0.0, -1.0), (0.0, 0.0), (math.nan, 1.0), (0.0, math.inf)])
def test_bad_parameters_raise(cls, mean, std):
    with pytest.raises(ValueError, match="std"):
        cls(mean, std)


def test_return_types_follow_the_input():
    d = make_target("normal", 0.0, 1.0)
    assert isinstance(d.cdf(0.0), float) and d.cdf(0.0) == 0.5
    assert isinstance(d.pdf(np.zeros(3)), np.ndarray)
    t = d.icdf(torch.tensor([0.5], dtype=torch.float32))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64 and t.item() == 0.0


@pytest.mark.parametrize("name", FAMILIES)
def test_quantiles_are_midpoint_icdf(name):
    d = make_target(name, 4.0, 1.25)
    n = 40
    np.testing.assert_array_equal(d.quantiles(n).numpy(), d.icdf((np.arange(n) + 0.5) / n))


@pytest.mark.parametrize("noise_name", ["uniform", "normal"])
@pytest.mark.parametrize("name", FAMILIES)
def test_ideal_generator_is_target_icdf_of_noise_cdf(name, noise_name, oracle):
    target = make_target(name, 4.0, 1.25)
    noise = make_noise(noise_name)
    z = noise.icdf(np.linspace(0.001, 0.999, 101))
    noise_cdf = stats.uniform.cdf(z) if noise_name == "uniform" else stats.norm.cdf(z)
    o = oracle(name, 4.0, 1.25)
    if name == "mixture":
        want = np.array([optimize.brentq(lambda x, p=p: o.cdf(x) - p, -30, 40, xtol=1e-13) for p in noise_cdf])
    else:
        want = o.ppf(noise_cdf)
    np.testing.assert_allclose(ideal_generator(target, noise, z), want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", FAMILIES)
def test_ideal_generator_pushes_uniform_noise_onto_target(name, oracle):
    n = 4000
    noise = make_noise("uniform")
    z = noise.sample(n, torch.Generator().manual_seed(21), torch.float64)
    x = ideal_generator(make_target(name, 4.0, 1.25), noise, z)
    assert isinstance(x, torch.Tensor) and torch.isfinite(x).all()
    # KS of n draws: 99.9% quantile ~1.95/sqrt(n) = 0.031.
    assert stats.kstest(x.numpy(), oracle(name, 4.0, 1.25).cdf).statistic < 1.95 / math.sqrt(n)


def test_ideal_generator_is_finite_at_the_ends_of_the_noise():
    x = ideal_generator(make_target("normal", 0.0, 1.0), make_noise("uniform"), np.array([0.0, 1.0]))
    # p is clamped to [2**-53, 1 - 2**-53]: the 2**-53 quantile of N(0, 1) is -8.29.
    assert np.all(np.isfinite(x)) and x[0] == pytest.approx(stats.norm.ppf(2.0**-53), rel=1e-6)


@pytest.mark.parametrize("name", ["normal", "uniform", "laplace", "mixture"])
def test_the_decreasing_ideal_map_is_the_mirror_quantile_map(name, oracle):
    # F^-1(1 - u): decreasing in z, and it pushes uniform noise onto the target as exactly as G*.
    target, noise = make_target(name, 4.0, 1.25), make_noise("uniform")
    z = np.linspace(0.01, 0.99, 99)
    down = ideal_generator(target, noise, z, decreasing=True)
    np.testing.assert_allclose(down, ideal_generator(target, noise, 1 - z), rtol=0, atol=1e-9)
    assert np.all(np.diff(down) < 0)
    np.testing.assert_allclose(oracle(name, 4.0, 1.25).cdf(down), 1 - z, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("name", "mean", "std"), FAR)
def test_samples_are_float64_exact_far_from_zero(name, mean, std):
    # Each sample is mean + std * z with z computed in float64: standardised back, it must equal the draw of the
    # same generator at mean 0, std 1 up to the rounding of numbers of size |mean| (ulp(1e6) = 1.2e-10), i.e.
    # 2 ulp(|mean| + 10 std) / std; float32 centres are off by up to 0.03 / std.
    g = torch.Generator().manual_seed(8)
    x = make_target(name, mean, std).sample(2000, g, torch.float64)
    z = make_target(name, 0.0, 1.0).sample(2000, torch.Generator().manual_seed(8), torch.float64)
    tol = 2 * np.spacing(abs(mean) + 10 * std) / std
    np.testing.assert_allclose(((x - mean) / std).numpy(), z.numpy(), rtol=0, atol=tol)


# Exact shape constants: (skewness, excess kurtosis). The mixture's kurtosis follows from the component at
# +-a (a = 0.8) with spread s = 0.6: E (X - mean)^4 = a^4 + 6 a^2 s^2 + 3 s^4 = 2.1808 with variance 1.
SHAPES = {"normal": (0.0, 0.0), "uniform": (0.0, -1.2), "laplace": (0.0, 3.0), "mixture": (0.0, 2.1808 - 3.0)}


@pytest.mark.parametrize("name", FAMILIES)
def test_skewness_and_excess_kurtosis_are_exact(name, oracle):
    d = make_target(name, 4.0, 1.25)
    skew, kurt = SHAPES[name]
    assert isinstance(d.skewness, float) and isinstance(d.excess_kurtosis, float)
    assert d.skewness == pytest.approx(skew, abs=1e-15)
    assert d.excess_kurtosis == pytest.approx(kurt, rel=1e-14, abs=1e-15)
    # Independently: scipy's own moments where it has the family, numerical integration of the oracle's pdf for all.
    if name != "mixture":
        s, k = oracle(name, 4.0, 1.25).stats(moments="sk")
        assert (d.skewness, d.excess_kurtosis) == pytest.approx((float(s), float(k)), abs=1e-12)
    o = oracle(name, 4.0, 1.25)
    lo, hi = (4.0 - math.sqrt(3) * 1.25, 4.0 + math.sqrt(3) * 1.25) if name == "uniform" else (4.0 - 60, 4.0 + 60)

    def central(k):
        return integrate.quad(lambda x: (x - 4.0) ** k * o.pdf(x), lo, hi, points=[3.0, 4.0, 5.0], limit=400,
                              epsabs=1e-13, epsrel=1e-12)[0]

    # quad reaches ~1e-12 relative here; the moment ratios inherit a few times that.
    assert d.skewness == pytest.approx(central(3) / 1.25**3, abs=1e-9)
    assert d.excess_kurtosis == pytest.approx(central(4) / 1.25**4 - 3.0, abs=1e-9)
    # Shape constants do not depend on the mean and std, and the noises have them too.
    assert make_target(name, -300.0, 0.01).excess_kurtosis == d.excess_kurtosis
    assert make_noise("uniform").excess_kurtosis == pytest.approx(-1.2) and make_noise("normal").skewness == 0.0


# ----- the mixture's separation -----

class SeparatedMixtureOracle:
    """0.5 N(m - s std, (1 - s^2) std^2) + 0.5 N(m + s std, (1 - s^2) std^2), built by hand from scipy."""

    def __init__(self, mean: float, std: float, s: float) -> None:
        w = math.sqrt(1 - s * s) * std
        self.parts = [stats.norm(mean - s * std, w), stats.norm(mean + s * std, w)]

    def pdf(self, x):
        return 0.5 * (self.parts[0].pdf(x) + self.parts[1].pdf(x))

    def cdf(self, x):
        return 0.5 * (self.parts[0].cdf(x) + self.parts[1].cdf(x))


SEPARATIONS = [0.0, 0.3, 0.8, 0.95, 0.96, 0.98, 0.999]
SEP_CASES = [(s, m, sd) for s in SEPARATIONS for m, sd in [(4.0, 1.25), (-300.0, 0.01)]]


@pytest.mark.parametrize(("s", "mean", "std"), SEP_CASES)
def test_separated_mixture_pdf_and_cdf_match_scipy(s, mean, std):
    d, o = make_target("mixture", mean, std, s), SeparatedMixtureOracle(mean, std, s)
    x = mean + std * np.linspace(-4, 4, 401)
    np.testing.assert_allclose(d.pdf(x), o.pdf(x), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(d.cdf(x), o.cdf(x), rtol=1e-12, atol=1e-15 * (1 + abs(mean) / std))


@pytest.mark.parametrize(("s", "mean", "std"), SEP_CASES)
def test_separated_mixture_icdf_matches_root_finding(s, mean, std):
    d, o = make_target("mixture", mean, std, s), SeparatedMixtureOracle(mean, std, s)
    got = d.icdf(PROBS)
    want = np.array([optimize.brentq(lambda x, p=p: o.cdf(x) - p, mean - 20 * std, mean + 20 * std,
                                     xtol=1e-14 * std, rtol=1e-15) for p in PROBS])
    # As for the course's mixture: an error of 1e-16 in p moves x by 1e-16 / pdf(x). In the gap of s = 0.999
    # (components 0.045 std wide) the pdf at p = 1/2 is ~1e-100 / std, so x there is fixed only to the
    # bracket: compare the cdf instead where the pdf is tiny.
    pdf = np.asarray(d.pdf(got)) * std
    flat = pdf < 1e-6
    np.testing.assert_allclose(got[~flat], want[~flat], rtol=0, atol=1e-9 * std + 1e-12 * abs(mean))
    np.testing.assert_allclose(o.cdf(got), PROBS, rtol=1e-9, atol=1e-15 * (1 + abs(mean) / std))


@pytest.mark.parametrize("s", SEPARATIONS)
def test_separated_mixture_keeps_mean_and_std_and_has_exact_shape(s):
    mean, std = 4.0, 1.25
    d, o = make_target("mixture", mean, std, s), SeparatedMixtureOracle(mean, std, s)
    c = list(d.centres) if s > 0 else [mean]

    def central(k):
        return integrate.quad(lambda x: (x - mean) ** k * o.pdf(x), mean - 40 * std, mean + 40 * std, points=c,
                              limit=400, epsabs=1e-13, epsrel=1e-12)[0]

    assert integrate.quad(o.pdf, mean - 40 * std, mean + 40 * std, points=c, limit=400)[0] == pytest.approx(1.0)
    assert integrate.quad(lambda x: x * d.pdf(x), mean - 40 * std, mean + 40 * std, points=c, limit=400,
                          epsabs=1e-12)[0] == pytest.approx(mean, rel=1e-9)
    assert math.sqrt(central(2)) == pytest.approx(std, rel=1e-9)
    assert d.skewness == 0.0
    # The closed form -2 s^4 against numerical integration (quad reaches ~1e-12 relative).
    assert d.excess_kurtosis == pytest.approx(central(4) / std**4 - 3.0, abs=1e-9)
    assert d.centres == pytest.approx((mean - s * std, mean + s * std), rel=1e-15)
    assert d.component_std == pytest.approx(math.sqrt(1 - s * s) * std, rel=1e-15)
    assert d.bimodal == (s > 1 / math.sqrt(2))


def test_separation_zero_is_the_normal_and_the_default_is_the_course_mixture(oracle):
    x = np.linspace(-2, 10, 121)
    np.testing.assert_allclose(make_target("mixture", 4.0, 1.25, 0.0).pdf(x), stats.norm(4.0, 1.25).pdf(x),
                               rtol=1e-14)
    assert repr(make_target("mixture", 4.0, 1.25)) == "Mixture(mean=4, std=1.25, separation=0.8)"
    np.testing.assert_allclose(make_target("mixture", 4.0, 1.25).pdf(x), oracle("mixture", 4.0, 1.25).pdf(x),
                               rtol=1e-12)
    # The other families have no shape parameter: the separation does not change them.
    assert make_target("normal", 4.0, 1.25, 0.5).pdf(5.0) == make_target("normal", 4.0, 1.25).pdf(5.0)


@pytest.mark.parametrize("s", [0.95, 0.98])
def test_separated_mixture_samples_follow_the_cdf(s):
    n = 20_000
    d = make_target("mixture", 4.0, 1.25, s)
    x = d.sample(n, torch.Generator().manual_seed(31), torch.float64).numpy()
    # KS of n draws: 99.9% quantile ~1.95/sqrt(n); mean and std within 5 standard errors (excess kurtosis
    # -2 s^4 in the std's standard error std sqrt((kurt - 1) / (4n))).
    assert stats.kstest(x, SeparatedMixtureOracle(4.0, 1.25, s).cdf).statistic < 1.95 / math.sqrt(n)
    assert abs(x.mean() - 4.0) < 5 * 1.25 / math.sqrt(n)
    assert abs(x.std() - 1.25) < 5 * 1.25 * math.sqrt((2 - 2 * s**4) / (4 * n))
    # Sampling is in float64: float32 draws are the float64 ones rounded.
    x32 = d.sample(n, torch.Generator().manual_seed(31), torch.float32)
    assert torch.equal(x32, torch.from_numpy(x).to(torch.float32))


def test_separated_mixture_is_float64_exact_far_from_zero():
    # As test_samples_are_float64_exact_far_from_zero, at s = 0.98 (components 0.2 std wide).
    x = make_target("mixture", 1e6, 0.1, 0.98).sample(2000, torch.Generator().manual_seed(8), torch.float64)
    z = make_target("mixture", 0.0, 1.0, 0.98).sample(2000, torch.Generator().manual_seed(8), torch.float64)
    np.testing.assert_allclose(((x - 1e6) / 0.1).numpy(), z.numpy(), rtol=0, atol=2 * np.spacing(1e6 + 1.0) / 0.1)


@pytest.mark.parametrize("s", [-0.1, 1.0, 1.5, math.nan, math.inf, True, "0.5", None])
def test_bad_separations_raise(s):
    with pytest.raises(ValueError, match=r"separation=.* is not allowed: a number in \[0, 1\)"):
        make_target("mixture", 0.0, 1.0, s)
    with pytest.raises(ValueError, match="separation"):
        Mixture(0.0, 1.0, s)


def test_rescaled_keeps_family_and_shape():
    d = make_target("mixture", 4.0, 1.25, 0.97)
    z = d.rescaled(0.0, 1.0)
    assert isinstance(z, Mixture) and z.separation == 0.97 and (z.mean, z.std) == (0.0, 1.0)
    assert z.shape == (0.97,) and make_target("laplace", 1.0, 2.0).shape == ()
    assert isinstance(make_target("laplace", 1.0, 2.0).rescaled(0.0, 1.0), Laplace)
