"""ganlib.flows and `python -m ganlib flow`: the loss, the exact field, the sampler, reproducibility, bad input.

Every number is checked against an oracle that does not use the code under test: a hand computation,
scipy (ppf, quad, brentq, wasserstein_distance, kstest) or numpy. Tolerances are derived in a comment
beside each; Monte Carlo ones are a multiple of a standard error computed in the test itself.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import integrate as quad_
from scipy import optimize, stats

from ganlib.cli import main
from ganlib.config import Config
from ganlib.distributions import ideal_generator, make_noise, make_target
from ganlib.flows import (
    MAX_EVALUATIONS,
    FlowConfig,
    FlowTrainer,
    exact_velocity,
    flow_target,
    integrate,
    loss_floor,
    train_flow,
)
from ganlib.train import _stream_generators

HISTORY_FIELDS = ("g_loss", "mean", "std", "skew", "kurtosis", "w1", "ks")
# The course's two-mode target in standardised units: modes at -/+ 0.8, each of std sqrt(1 - 0.8^2) = 0.6.
SEP, WIDTH = 0.8, 0.6
# Small nets and evaluations: what is tested does not depend on the network size.
TINY = dict(hidden=(8, 8), batch_size=16, rounds=100, eval_every=50, eval_samples=200, seeds=3, seed=5)


@pytest.fixture
def tiny_flow():
    """A factory of small, fast FlowConfigs: tiny_flow(**overrides)."""

    def make(**overrides) -> FlowConfig:
        return FlowConfig(**{**TINY, **overrides})

    return make


def one_error_line(err: str) -> str:
    assert err.startswith("ganlib: error:"), err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err


def normal_quantile_gap(n: int, std: float) -> float:
    """W1 between N(m, std^2) and its n midpoint quantiles, exactly (scipy's normal, no ganlib).

    On the cell [a, b] = [i/n, (i+1)/n] with q = Q(m), m its midpoint, and the antiderivative
    int Q(u) du = -phi(Q(u)), int_a^b |Q(u) - q| du = 2 phi(q) - phi(Q(a)) - phi(Q(b)). By the triangle
    inequality this bounds how far W1 to the exact target (ganlib's) and scipy's W1 to the quantiles differ.
    """
    edges = stats.norm.pdf(stats.norm.ppf(np.arange(n + 1) / n))
    mids = stats.norm.pdf(stats.norm.ppf((np.arange(n) + 0.5) / n))
    return std * float(np.sum(2 * mids - edges[:-1] - edges[1:]))


def mixture_cdf(x):
    """The standardised two-mode target's cdf, from scipy."""
    return 0.5 * stats.norm.cdf(x, -SEP, WIDTH) + 0.5 * stats.norm.cdf(x, SEP, WIDTH)


def mixture_pdf(x):
    return 0.5 * stats.norm.pdf(x, -SEP, WIDTH) + 0.5 * stats.norm.pdf(x, SEP, WIDTH)


def mixture_quantiles(p: np.ndarray) -> np.ndarray:
    """The standardised mixture's quantiles at p, by inverting its scipy cdf on a dense grid.

    Linear interpolation of the inverse on a grid of spacing 1.6e-4 errs by about h^2 |Q''| / 8 < 1e-7
    where the density is not tiny, far below the 1e-2 sampling scale of W1 it is used for.
    """
    grid = np.linspace(-8.0, 8.0, 100_001)
    return np.interp(p, mixture_cdf(grid), grid)


def test_flow_loss_by_hand_on_the_same_draws():
    # A linear velocity net (one identity hidden unit), v = a x + b t + c, with a, b, c set by hand per run:
    # the first round's recorded loss must be mean over the batch of (a x_t + b t + c - (x1 - x0))^2 on the
    # run's own draws. Those are rebuilt from the run's data stream as documented: per value, one uniform for
    # x1, one for x0, one for t, with x1 and x0 normal by the inverse cdf (scipy's here).
    c = FlowConfig(hidden=(1,), activations=("identity",), batch_size=16, rounds=1, eval_every=1, eval_samples=100,
                   seeds=2, seed=3, dtype="float64")
    tr = FlowTrainer(c)
    abc = [(0.7, -1.3, 0.25), (-0.4, 2.0, -0.6)]
    with torch.no_grad():
        w0, b0, w1, b1 = tr.net.params
        for k, (a, b, cc) in enumerate(abc):
            w0[k] = torch.tensor([[a], [b]], dtype=torch.float64)
            b0[k] = 0.0
            w1[k] = 1.0
            b1[k] = cc
    tr.step(1)
    got = tr.history.g_loss[:, 0]
    for k, (a, b, cc) in enumerate(abc):
        g = _stream_generators([c.seed + k], "data")[0]
        u = torch.rand(c.batch_size * 3, generator=g, dtype=torch.float64).numpy().reshape(c.batch_size, 3)
        # (4 + 1.25 z - 4) / 1.25 standardises a normal target value back to z.
        x1, x0, t = stats.norm.ppf(u[:, 0]), stats.norm.ppf(u[:, 1]), u[:, 2]
        xt = (1 - t) * x0 + t * x1
        want = np.mean((a * xt + b * t + cc - (x1 - x0)) ** 2)
        # torch's and scipy's inverse normal cdf agree to ~1e-15 relative; a mean of 16 squares of O(1) numbers
        # keeps that to ~1e-14. 1e-12 leaves a factor 100, while a wrong slot, stream or t moves the loss by O(1).
        assert got[k] == pytest.approx(want, rel=1e-12)
    # The two runs had different draws and parameters: their losses must differ (else the check proves little).
    assert abs(got[0] - got[1]) > 1e-2


def test_loss_floor_of_a_normal_target_is_pi_over_2():
    # In standardised units u(x, t) = (2t - 1) / ((1 - t)^2 + t^2) x, x_t ~ N(0, (1 - t)^2 + t^2), so
    # E u^2 = int_0^1 (2t - 1)^2 / ((1 - t)^2 + t^2) dt = 2 - pi/2 and L* = 2 - E u^2 = pi/2. The integral by quad:
    eu2 = quad_.quad(lambda t: (2 * t - 1) ** 2 / ((1 - t) ** 2 + t**2), 0, 1, epsabs=1e-14)[0]
    assert eu2 == pytest.approx(2 - math.pi / 2, abs=1e-12)
    # loss_floor is 2 - mean(u^2) over n draws: its standard error is std(u^2) / sqrt(n), estimated from
    # 200,000 independent numpy draws of the same u^2. Five standard errors: a false alarm once in ~2 million.
    n = 1_000_000
    rng = np.random.default_rng(0)
    t, x0, x1 = rng.random(200_000), rng.standard_normal(200_000), rng.standard_normal(200_000)
    u2 = ((2 * t - 1) / ((1 - t) ** 2 + t**2) * ((1 - t) * x0 + t * x1)) ** 2
    se = u2.std() / math.sqrt(n)
    floor = loss_floor(make_target("normal", 4.0, 1.25), n=n, seed=0)
    assert abs(floor - math.pi / 2) < 5 * se
    # Standardised units: the target's mean and std do not change the draws or the number.
    assert loss_floor(make_target("normal", -3.0, 7.0), n=n, seed=0) == floor
    # A fixed seed reproduces it; another seed gives another estimate (the draws really are random).
    assert loss_floor(make_target("normal", 0.0, 1.0), n=1000, seed=4) == loss_floor(
        make_target("normal", 0.0, 1.0), n=1000, seed=4)
    assert loss_floor(make_target("normal", 0.0, 1.0), n=1000, seed=4) != loss_floor(
        make_target("normal", 0.0, 1.0), n=1000, seed=5)


def test_loss_floor_of_the_two_mode_target_against_quadrature():
    # L* = 2 - int_0^1 int u(x, t)^2 p_t(x) dx dt, with p_t the mixture of N(t m, (1 - t)^2 + t^2 w^2) (x_t's law)
    # and u from exact_velocity (checked against brute-force quadrature below). Gauss-Legendre in t (200 nodes)
    # and a grid of 4,001 points over +-8 in x are exact to far below the Monte Carlo error of loss_floor.
    target = make_target("mixture", 4.0, 1.25)
    tn, tw = np.polynomial.legendre.leggauss(200)
    tn, tw = (tn + 1) / 2, tw / 2
    x = np.linspace(-8, 8, 4001)
    eu2, eu4 = 0.0, 0.0
    for t, wt in zip(tn, tw):
        sd = math.sqrt((1 - t) ** 2 + t**2 * WIDTH**2)
        p = 0.5 * stats.norm.pdf(x, -t * SEP, sd) + 0.5 * stats.norm.pdf(x, t * SEP, sd)
        u2 = exact_velocity(torch.from_numpy(x), float(t), target).numpy() ** 2
        eu2 += wt * quad_.trapezoid(u2 * p, x)
        eu4 += wt * quad_.trapezoid(u2**2 * p, x)
    n = 1_000_000
    # The standard error of mean(u^2) over n draws is sqrt(E u^4 - (E u^2)^2 / n); five of them.
    se = math.sqrt((eu4 - eu2**2) / n)
    assert abs(loss_floor(target, n=n) - (2 - eu2)) < 5 * se
    # The two-mode floor is below the normal one: knowing x_t tells more about x1 - x0 when x1 has two modes.
    assert 2 - eu2 < math.pi / 2 - 10 * se


@pytest.mark.parametrize("n", [0, -5, 2.5, True])
def test_loss_floor_rejects_bad_draw_counts(n):
    with pytest.raises(ValueError, match="n=") as exc:
        loss_floor(make_target("normal", 0.0, 1.0), n=n)
    assert "\n" not in str(exc.value)


def test_exact_velocity_of_a_normal_target_is_the_closed_form():
    x = np.array([-3.0, -1.2, 0.0, 0.4, 2.5])
    for t in (0.0, 0.1, 0.5, 0.77, 1.0):
        want = (2 * t - 1) / ((1 - t) ** 2 + t**2) * x
        got = exact_velocity(torch.from_numpy(x), t, make_target("normal", 4.0, 1.25)).numpy()
        # float64 arithmetic of a few operations: 1e-14 relative (and 1e-15 absolute at x = 0).
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


def _velocity_by_quadrature(x: float, t: float) -> tuple[float, float]:
    """E[x1 - x0 | x_t = x] for the standardised mixture, by integrating over x1 (scipy quad): the pair
    (x1, x0 = (x - t x1) / (1 - t)) has density p(x1) phi(x0) / (1 - t), and the Jacobian cancels in the ratio.
    Returns the value and a bound on its quadrature error."""

    def phi(v: float) -> float:
        # The normal density by hand: scipy's per-call overhead would make the quadrature seconds long.
        return math.exp(-0.5 * v * v) / math.sqrt(2 * math.pi)

    def dens(x1: float) -> float:
        p1 = 0.5 * (phi((x1 + SEP) / WIDTH) + phi((x1 - SEP) / WIDTH)) / WIDTH
        return p1 * phi((x - t * x1) / (1 - t))

    # Near t = 1 phi(x0) is a narrow bump in x1 at x / t: quad is told where it and the modes are.
    pts = sorted([-SEP, SEP, x / t])
    kw = dict(points=pts, limit=200, epsabs=1e-14, epsrel=1e-12)
    num, e_num = quad_.quad(lambda x1: (x1 - (x - t * x1) / (1 - t)) * dens(x1), -12, 12, **kw)
    den, e_den = quad_.quad(dens, -12, 12, **kw)
    return num / den, (e_num + abs(num / den) * e_den) / den


def test_exact_velocity_of_the_two_mode_target_against_brute_force_quadrature():
    target = make_target("mixture", 4.0, 1.25)
    for t in (0.1, 0.5, 0.9, 0.99):
        for x in (-2.5, -0.7, 0.0, 0.3, 2.0):
            want, err = _velocity_by_quadrature(x, t)
            got = exact_velocity(x, t, target).item()
            # quad's own error bound (below 1e-10 here) plus 1e-12 for the float64 rounding of both sides.
            assert got == pytest.approx(want, abs=err + 1e-12), (x, t)
    # By hand at the ends: u(x, 0) = E x1 - x = -x, and u(x, 1) = x - E[x0 | x1 = x] = x.
    x = torch.tensor([-2.0, -0.3, 1.5], dtype=torch.float64)
    for tgt in (target, make_target("normal", 0.0, 1.0)):
        torch.testing.assert_close(exact_velocity(x, 0.0, tgt), -x, rtol=0, atol=1e-15)
        torch.testing.assert_close(exact_velocity(x, 1.0, tgt), x, rtol=0, atol=1e-15)
    # x and t broadcast: a (3, 1) grid of x against (4,) times gives (3, 4), each entry the pointwise value.
    ts = torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=torch.float64)
    grid = exact_velocity(x.view(3, 1), ts, target)
    assert grid.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            # The same arithmetic vectorised: equal to a few ulps.
            assert grid[i, j].item() == pytest.approx(exact_velocity(x[i].item(), ts[j].item(), target).item(),
                                                      rel=1e-14)


def test_exact_velocity_has_no_closed_form_for_other_targets():
    with pytest.raises(ValueError, match="laplace") as exc:
        exact_velocity(torch.zeros(3), 0.5, make_target("laplace", 0.0, 1.0))
    assert "\n" not in str(exc.value)


def _exact_flow(target, z: torch.Tensor, steps: int) -> torch.Tensor:
    """x(1) in target units from standardised noise z under the exact field, midpoint rule."""
    return integrate(lambda x, t: exact_velocity(x, t, target), z, steps, "midpoint") * target.std + target.mean


@pytest.mark.parametrize("name", ["normal", "mixture"])
def test_the_exact_field_transports_noise_onto_the_target(name):
    target = make_target(name, 4.0, 1.25)
    n = 20_000
    rng = np.random.default_rng(11)
    z = rng.standard_normal(n)
    x50 = _exact_flow(target, torch.from_numpy(z), 50).numpy()
    x100 = _exact_flow(target, torch.from_numpy(z), 100).numpy()
    p = (np.arange(n) + 0.5) / n
    inverse = stats.norm.ppf if name == "normal" else mixture_quantiles
    quantiles = target.mean + target.std * inverse(p)
    # The exact sample these z make: F^-1(Phi(z)), by scipy. The midpoint rule errs by O(h^2), so the error of
    # 50 steps is 4/3 of x50 - x100 (Richardson); twice that, plus 1e-6 std for the grid inversion of the mixture
    # cdf, bounds the mean distance, and by the triangle inequality the difference of the two W1 to the quantiles.
    exact = target.mean + target.std * inverse(stats.norm.cdf(z))
    err = np.abs(x50 - exact).mean()
    assert err <= 2 * np.abs(x50 - x100).mean() + 1e-6 * target.std
    w1 = stats.wasserstein_distance(x50, quantiles)
    assert w1 == pytest.approx(stats.wasserstein_distance(exact, quantiles), abs=err + 1e-12)

    def exact_sample(seed: int) -> np.ndarray:
        r = np.random.default_rng(seed)
        if name == "normal":
            return stats.norm(target.mean, target.std).rvs(n, random_state=r)
        centre = np.where(r.random(n) < 0.5, -SEP, SEP)
        return target.mean + target.std * (centre + WIDTH * r.standard_normal(n))

    # The sampling noise of W1 at this n: the flowed values are an exact i.i.d. target sample (up to err), so
    # their W1 is exchangeable with that of independent exact samples; it exceeds the largest of 100 of them with
    # probability 1/101 for a random z (here z is fixed, so the test is deterministic). A field off by 0.1 std
    # moves W1 to ~0.1 std, four times that largest value (0.023-0.029 std measured).
    ref = [stats.wasserstein_distance(exact_sample(s), quantiles) for s in range(100)]
    assert w1 <= max(ref) + err


@pytest.mark.parametrize("name", ["normal", "mixture"])
def test_the_exact_flow_is_the_increasing_ideal_map(name):
    # In 1-D the flow of the exact field is the monotone transport z -> F^-1(Phi(z)). The midpoint rule errs by
    # O(h^2), so x(50 steps) - x(100 steps) is 3 times the error of 100 steps (Richardson); allowing the whole
    # difference is a margin of 3 on the integrator's error, plus 1e-12 for float64 rounding over 200 evaluations.
    target = make_target(name, 4.0, 1.25)
    z = torch.linspace(-3, 3, 13, dtype=torch.float64)
    x50, x100 = _exact_flow(target, z, 50), _exact_flow(target, z, 100)
    ideal = ideal_generator(target, make_noise("normal"), z)
    assert ((x100 - ideal).abs() <= (x50 - x100).abs() + 1e-12).all()
    # The ideal map by an oracle of its own: scipy's cdf inverted with brentq.
    for zi, xi in zip(z.tolist(), x100.tolist()):
        if name == "normal":
            want = target.mean + target.std * zi
        else:
            pz = stats.norm.cdf(zi)
            want = target.mean + target.std * optimize.brentq(lambda v, p=pz: mixture_cdf(v) - p, -10, 10, xtol=1e-14)
        assert xi == pytest.approx(want, abs=1e-4 * target.std)
    assert (torch.diff(x100) > 0).all()


def test_integrate_has_the_orders_of_euler_and_midpoint():
    x0 = torch.tensor([1.0, -0.5], dtype=torch.float64)
    # dx/dt = x from x0: by hand, Euler gives x0 (1 + h)^N and the midpoint rule x0 (1 + h + h^2 / 2)^N.
    for n in (10, 20, 40):
        h = 1.0 / n
        euler = integrate(lambda x, t: x, x0, n, "euler")
        mid = integrate(lambda x, t: x, x0, n, "midpoint")
        torch.testing.assert_close(euler, x0 * (1 + h) ** n, rtol=1e-13, atol=0)
        torch.testing.assert_close(mid, x0 * (1 + h + h * h / 2) ** n, rtol=1e-13, atol=0)
    # The orders: halving h halves Euler's error and quarters the midpoint rule's. The ratios are 2 (1 + O(h)) and
    # 4 (1 + O(h)): from h = 1/20 to 1/40 they are 1.956 and 3.925 (by hand from the formulas above), so +-5% holds.
    err = {(s, n): abs(integrate(lambda x, t: x, x0, n, s)[0].item() - math.e) for s in ("euler", "midpoint")
           for n in (20, 40)}
    assert err["euler", 20] / err["euler", 40] == pytest.approx(2, rel=0.05)
    assert err["midpoint", 20] / err["midpoint", 40] == pytest.approx(4, rel=0.05)
    # The time argument: dx/dt = t from 0. Euler sums t at the left ends, h^2 (0 + 1 + ... + N-1) = (1 - h) / 2;
    # the midpoint rule evaluates at t + h/2 and is exact for a linear integrand, 1/2.
    zero = torch.zeros(1, dtype=torch.float64)
    for n in (1, 7, 50):
        assert integrate(lambda x, t: torch.full_like(x, t), zero, n, "euler").item() == pytest.approx(
            (1 - 1 / n) / 2, abs=1e-14)
        assert integrate(lambda x, t: torch.full_like(x, t), zero, n, "midpoint").item() == pytest.approx(
            0.5, abs=1e-14)


@pytest.mark.parametrize(("args", "text"), [((5, "rk4"), "sampler='rk4'"), ((0, "euler"), "steps=0"),
                                            ((2.5, "euler"), "steps=2.5")])
def test_integrate_rejects_bad_samplers_and_step_counts(args, text):
    with pytest.raises(ValueError, match=text.replace("(", r"\(")) as exc:
        integrate(lambda x, t: x, torch.ones(2), *args)
    assert "\n" not in str(exc.value)


def assert_flow_runs_equal(a: FlowTrainer, ka: int, b: FlowTrainer, kb: int, atol: float, sample_atol: float) -> None:
    """Run ka of a and run kb of b: the same history, parameters and samples."""
    ha, hb = a.history, b.history
    np.testing.assert_array_equal(ha.eval_round, hb.eval_round)
    for name in HISTORY_FIELDS:
        np.testing.assert_allclose(getattr(ha, name)[ka], getattr(hb, name)[kb], rtol=0, atol=atol, err_msg=name)
    for p, q in zip(a.net.params, b.net.params):
        np.testing.assert_allclose(p[ka].detach().double().numpy(), q[kb].detach().double().numpy(), rtol=0,
                                   atol=atol)
    np.testing.assert_allclose(a.sample(500)[ka], b.sample(500)[kb], rtol=0, atol=sample_atol)


def test_same_config_twice_gives_identical_numbers(tiny_flow):
    c = tiny_flow()
    a, b = FlowTrainer(c).step(100), FlowTrainer(c).step(100)
    for k in range(3):
        assert_flow_runs_equal(a, k, b, k, atol=0, sample_atol=0)
    # The runs really differ (else equality proves little).
    assert np.abs(a.history.g_loss[0] - a.history.g_loss[1]).max() > 1e-2
    # Another first seed gives other numbers.
    other = FlowTrainer(c.replace(seed=6)).step(100)
    assert not np.array_equal(other.history.g_loss[0], a.history.g_loss[0])
    np.testing.assert_array_equal(other.history.g_loss[0], a.history.g_loss[1])


@pytest.mark.parametrize(("dtype", "atol", "sample_atol"), [("float64", 1e-10, 1e-10), ("float32", 1e-5, 1e-5)])
def test_run_k_of_a_batch_is_the_run_of_seed_plus_k_alone(dtype, atol, sample_atol, tiny_flow):
    # A batch of 3 and a single run differ only by the summation order of the batched matmuls. float64: an ulp is
    # ~1e-16 and 100 rounds of Adam amplify it to ~1e-15 (measured); 1e-10 leaves room for other BLAS builds,
    # while a shifted stream or mixed runs change numbers at 1e-2. float32: an ulp of values up to ~10 (target
    # units) is 1e-6, and a sample passes 20 network evaluations; 1e-5 is ten ulps of the largest value.
    c = tiny_flow(dtype=dtype)
    batch = FlowTrainer(c).step(100)
    for k in range(3):
        alone = FlowTrainer(c.replace(seeds=1, seed=c.seed + k)).step(100)
        assert_flow_runs_equal(batch, k, alone, 0, atol=atol, sample_atol=sample_atol)


def test_steps_in_pieces_equal_one_step(tiny_flow):
    # Random numbers come in chunks that end at evaluations and at the end of a step: splitting 100 rounds as
    # 37 + 63 must draw the same numbers and make the same updates. The extra evaluation at round 37 reads the
    # fixed evaluation noise without training, so the rounds evaluated in both histories agree exactly.
    c = tiny_flow(dtype="float64")
    whole = FlowTrainer(c).step(100)
    parts = FlowTrainer(c).step(37).step(63)
    assert parts.history.eval_round.tolist() == [0, 37, 50, 100]
    np.testing.assert_array_equal(parts.history.g_loss, whole.history.g_loss)
    keep = [0, 2, 3]
    for name in HISTORY_FIELDS[1:]:
        np.testing.assert_array_equal(getattr(parts.history, name)[:, keep], getattr(whole.history, name), name)
    np.testing.assert_array_equal(parts.excess_loss[:, keep], whole.excess_loss)
    for p, q in zip(parts.net.params, whole.net.params):
        assert torch.equal(p, q)
    np.testing.assert_array_equal(parts.sample(300), whole.sample(300))


def test_a_runs_random_streams_are_independent(tiny_flow):
    # The documented design: a run's velocity init, training triples, evaluation noise and sampling noise come
    # from separate streams. The root cause first: the first numbers of the four streams of seed 5.
    firsts = {s: torch.rand(1, generator=_stream_generators([5], s)[0], dtype=torch.float64).item()
              for s in ("g_init", "data", "eval", "sample")}
    # The symptom: with eval_samples == n, the last evaluation and results(n) measure the same net on what should
    # be independent noise, so their W1 differ by sampling noise (~0.1 std at 200 values), not by nothing.
    c = tiny_flow(rounds=50, eval_every=50, eval_samples=200)
    tr = FlowTrainer(c).step(50)
    same_noise = np.allclose(tr.history.w1[:, -1], [r.w1 for r in tr.results(200)], rtol=0, atol=1e-12)
    assert len(set(firsts.values())) == 4 and not same_noise


@pytest.fixture(scope="module")
def trained():
    """Three runs of a small flow, trained 1,000 rounds at a constant rate (0.2 s)."""
    c = FlowConfig(hidden=(16, 16), batch_size=64, rounds=1000, eval_every=500, eval_samples=500, seeds=3, seed=0,
                   lr_decay=1.0)
    tr = FlowTrainer(c)
    untrained_error = tr.velocity_error()
    tr.step(c.rounds)
    return tr, untrained_error


def test_a_trained_flows_map_is_increasing(trained):
    tr, _ = trained
    z = np.linspace(-4, 4, 401)
    m = tr.transport_map(z)
    assert m.shape == (3, 401) and np.isfinite(m).all()
    # The exact flow's map is strictly increasing; neighbours 0.02 apart land ~0.02 x 1.25 apart, four orders
    # above float32 rounding, so strict increase is the check (no rounding allowance needed).
    assert (np.diff(m, axis=1) > 0).all()
    # The map at a z is where sample() sends that noise value: at the config's sampler and evaluations both are
    # the same integration of the same net. The sample stream's first value of run k is its first normal draw.
    g = _stream_generators(tr.seeds, "sample")
    z0 = [stats.norm.ppf(torch.rand(1, 1, generator=gk, dtype=torch.float64).item()) for gk in g]
    first = tr.sample(100)[:, 0]
    # float32 nets: a value of order 5 is known to an ulp, 5e-7; 1e-5 allows the batch's other summation order.
    for k in range(3):
        assert tr.transport_map([z0[k]])[k, 0] == pytest.approx(first[k], abs=1e-5)


def test_results_are_the_metrics_of_sample_by_scipy(trained):
    tr, _ = trained
    n = 10_000
    x = tr.sample(n)
    runs = tr.results(n)
    target = stats.norm(4.0, 1.25)
    quantiles = target.ppf((np.arange(n) + 0.5) / n)
    # results() draws its noise from the same sampling stream as sample(): the same values. Its W1 is to the exact
    # target; scipy's is to the n midpoint quantiles; they differ by at most W1(target, quantiles), computed exactly.
    gap = normal_quantile_gap(n, 1.25)
    assert 0 < gap < 1e-3
    for k, r in enumerate(runs):
        assert r.seed == k
        assert r.w1 == pytest.approx(stats.wasserstein_distance(x[k], quantiles), abs=gap + 1e-12)
        # KS to a continuous cdf is exact in scipy (the two one-sided suprema at the sample points).
        assert r.ks == pytest.approx(stats.kstest(x[k], target.cdf).statistic, abs=1e-12)
        assert r.mean == pytest.approx(x[k].mean(), abs=1e-12)
        assert r.w1_sigma == pytest.approx(r.w1 / 1.25, rel=1e-15)
        assert r.success == (r.w1 < 0.1 * 1.25)


def test_velocity_error_is_the_loss_above_its_floor(trained):
    # L(v) = L* + E|v - u|^2 for any v. With fresh numpy draws (normal target, u by hand), the per-draw
    # D = (v - (x1 - x0))^2 - (v - u)^2 has mean L* = pi/2, and (v - u)^2 has mean velocity_error. Each is checked
    # to five standard errors of its own estimate (std / sqrt(n)); velocity_error's own estimate (n draws of its
    # own) adds an independent error of the same size, hence sqrt(2).
    tr, untrained_error = trained
    n = 100_000
    rng = np.random.default_rng(3)
    x0, x1, t = rng.standard_normal(n), rng.standard_normal(n), rng.random(n)
    xt = (1 - t) * x0 + t * x1
    u = (2 * t - 1) / ((1 - t) ** 2 + t**2) * xt

    def as_runs(a):
        return torch.from_numpy(a).float().view(1, n, 1).expand(3, n, 1)

    with torch.no_grad():
        v = tr.velocity(as_runs(xt), as_runs(t)).double().numpy()[..., 0]
    d = (v - (x1 - x0)) ** 2 - (v - u) ** 2
    e = (v - u) ** 2
    vel_err = tr.velocity_error(n=n, seed=1)
    for k in range(3):
        assert abs(d[k].mean() - math.pi / 2) < 5 * d[k].std() / math.sqrt(n)
        assert abs(vel_err[k] - e[k].mean()) < 5 * math.sqrt(2) * e[k].std() / math.sqrt(n)
    # Training brings v towards u. Measured over 6 seed sets of 3 runs (seed 0, 3, ..., 15): untrained 0.44-0.65,
    # after 1,000 rounds 0.023-0.073, the ratio at most 0.16. Requiring a ratio below 0.5 leaves a factor 3.
    assert (vel_err < 0.5 * untrained_error).all()


def test_excess_loss_is_the_velocity_error_at_each_evaluation(trained, tiny_flow):
    # Each evaluation records E|v - u|^2 on 4,000 fixed draws (seed 0): velocity_error(4000, seed=0) of the net as
    # it was then. At the end that is the trained net's; at round 0 the untrained one's, which a fresh trainer has.
    tr, _ = trained
    ex = tr.excess_loss
    assert ex.shape == (3, len(tr.history.eval_round))
    np.testing.assert_allclose(ex[:, -1], tr.velocity_error(n=4000, seed=0), rtol=1e-12)
    fresh = FlowTrainer(tr.config)
    np.testing.assert_allclose(ex[:, 0], fresh.velocity_error(n=4000, seed=0), rtol=1e-12)
    # It falls with training (see test_velocity_error_is_the_loss_above_its_floor for the margin).
    assert (ex[:, -1] < 0.5 * ex[:, 0]).all()
    # A copy: changing it does not change the record.
    ex[:] = 0
    assert (tr.excess_loss[:, 0] > 0).all()


@pytest.mark.parametrize("changes", [dict(noise="uniform"), dict(normalize=False), dict(target="laplace")])
def test_velocity_error_refuses_settings_without_the_closed_form(changes, tiny_flow):
    tr = FlowTrainer(tiny_flow(**changes))
    for what in ("velocity_error", "excess_loss"):
        with pytest.raises(ValueError, match=f"{what} needs noise='normal', normalize=True") as exc:
            getattr(tr, what)() if what == "velocity_error" else tr.excess_loss
        assert "\n" not in str(exc.value)


@pytest.mark.parametrize(("changes", "field"), [
    (dict(target="cauchy"), "target"),
    (dict(target_std=-1.0), "target_std"),
    (dict(target_mean=float("nan")), "target_mean"),
    (dict(mixture_separation=1.0), "mixture_separation"),
    (dict(noise="cauchy"), "noise"),
    (dict(normalize=1), "normalize"),
    (dict(hidden=()), "hidden"),
    (dict(hidden=(8, 0), activations=("elu", "elu")), "hidden"),
    (dict(hidden=[8, 8]), "hidden"),
    (dict(activations=("elu",)), "activations"),
    (dict(activations=("elu", "swish")), "activations"),
    (dict(optimizer="lbfgs"), "optimizer"),
    (dict(lr=0.0), "lr"),
    (dict(beta1=1.0), "beta1"),
    (dict(lr_decay=0.0), "lr_decay"),
    (dict(batch_size=0), "batch_size"),
    (dict(rounds=-1), "rounds"),
    (dict(sampler="rk4"), "sampler"),
    (dict(evaluations=7), "evaluations"),
    (dict(evaluations=0), "evaluations"),
    (dict(evaluations=1001, sampler="euler"), "evaluations"),
    (dict(eval_every=0), "eval_every"),
    (dict(eval_samples=99), "eval_samples"),
    (dict(seed=-1), "seed"),
    (dict(seeds=0), "seeds"),
    (dict(device="tpu"), "device"),
    (dict(dtype="float16"), "dtype"),
])
def test_bad_flow_config_values_are_one_line_naming_the_field(changes, field, tiny_flow):
    with pytest.raises(ValueError) as exc:
        tiny_flow(**changes)
    msg = str(exc.value)
    assert msg.startswith(f"{field}=") and "is not allowed" in msg and "\n" not in msg


def test_flow_config_accepts_what_the_sampler_allows_and_refuses_unknown_fields(tiny_flow):
    # Euler takes one evaluation a step, so an odd count is fine there; the midpoint rule takes two.
    assert tiny_flow(sampler="euler", evaluations=7).steps == 7
    assert tiny_flow(evaluations=8).steps == 4
    with pytest.raises(ValueError, match="unknown flow config field.*: g_lr"):
        tiny_flow().replace(g_lr=1e-3)
    # numpy scalars are stored as Python values, so configs compare and write to JSON alike.
    assert tiny_flow(lr=np.float32(0.5), seeds=np.int64(2)) == tiny_flow(lr=0.5, seeds=2)


def test_sampling_rejects_evaluations_its_sampler_cannot_take(trained):
    tr, _ = trained
    with pytest.raises(ValueError, match="evaluations=7") as exc:
        tr.sample(100, evaluations=7)
    assert "\n" not in str(exc.value)
    assert tr.sample(100, evaluations=7, sampler="euler").shape == (3, 100)
    # The same noise whatever the integration: 20 and 40 midpoint evaluations differ by the O(h^2) error of the
    # coarse one (at most 0.0024 std over 6 seed sets; 0.01 std leaves a factor 4), and not by the 1 std two
    # independent noises would make; nor are they identical (the setting reaches the sampler).
    a, b = tr.sample(1000), tr.sample(1000, evaluations=40)
    assert 0 < np.abs(a - b).max() < 0.01 * 1.25


def test_sampling_refuses_more_evaluations_than_the_config_allows(trained):
    tr, _ = trained
    # One value a run keeps this fast (1,002 evaluations of a 16-wide net) while the cap is still exceeded.
    with pytest.raises(ValueError, match="evaluations=1002"):
        tr.sample(1, evaluations=MAX_EVALUATIONS + 2)


def test_the_history_records_the_flow_as_g_and_refuses_a_gan_config(tiny_flow):
    c = tiny_flow()
    h = FlowTrainer(c).step(100).history
    assert h.g_loss.shape == (3, 100) and np.isfinite(h.g_loss).all()
    assert np.isnan(h.d_loss).all() and np.isnan(h.d_real).all() and np.isnan(h.d_fake).all()
    assert h.eval_round.tolist() == [0, 50, 100]
    assert h.budget("g_updates").tolist() == [0, 50, 100] and h.budget("d_updates").tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="a FlowTrainer needs a FlowConfig, got Config"):
        FlowTrainer(Config())


TINY_FLOW_FLAGS = ["--hidden", "8,8", "--batch-size", "16", "--eval-samples", "200", "--eval-every", "30"]


def test_flow_cli_writes_trains_json_fields_and_samples_matching_scipy(tmp_path, capsys):
    js, npy, train_js = tmp_path / "flow.json", tmp_path / "s.npy", tmp_path / "train.json"
    assert main(["flow", *TINY_FLOW_FLAGS, "--rounds", "60", "--seeds", "2", "--json", str(js),
                 "--samples", str(npy)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["seed", "mean", "std", "skew", "kurt", "W1/std", "KS", "label"]
    assert out[4].startswith("success: ") and "/2 runs" in out[4]
    assert main(["train", "--g-hidden", "8,8", "--d-hidden", "8,8", "--eval-samples", "200", "--batch-size", "16",
                 "--rounds", "2", "--seeds", "1", "--json", str(train_js)]) == 0
    capsys.readouterr()
    data, ref = json.loads(js.read_text()), json.loads(train_js.read_text())
    assert set(data) == set(ref) | {"method", "sampler", "evaluations_per_sample"}
    assert (data["method"], data["sampler"], data["evaluations_per_sample"]) == ("flow matching", "midpoint", 20)
    assert set(data["budget"]) == set(ref["budget"])
    assert data["budget"]["round"] == [0, 30, 60] and data["budget"]["g_updates"] == [0, 30, 60]
    assert data["budget"]["d_updates"] == [0, 0, 0]
    assert [set(r) for r in data["runs"]] == [set(ref["runs"][0])] * 2
    config = FlowConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data["config"].items()})
    assert config == FlowConfig(hidden=(8, 8), batch_size=16, eval_samples=200, eval_every=30, rounds=60, seeds=2)

    # The reported W1 is the saved samples' W1 to the target: scipy's W1 to the 10,000 midpoint quantiles,
    # within the exact gap between those quantiles and the target (see normal_quantile_gap).
    samples = np.load(npy)
    assert samples.shape == (2, 10_000) and np.isfinite(samples).all()
    quantiles = stats.norm(4.0, 1.25).ppf((np.arange(10_000) + 0.5) / 10_000)
    gap = normal_quantile_gap(10_000, 1.25)
    for k, run in enumerate(data["runs"]):
        assert run["seed"] == k
        assert run["w1"] == pytest.approx(stats.wasserstein_distance(samples[k], quantiles), abs=gap + 1e-12)
        assert run["w1_sigma"] == pytest.approx(run["w1"] / 1.25, rel=1e-12)
        assert run["success"] == (run["w1"] < 0.125)
        assert len(run["w1_at_evals"]) == 3
    assert data["success_rate"] == sum(r["success"] for r in data["runs"]) / 2

    # The CLI trains the config it writes: the same run in this process gives the same numbers (float32 ulps,
    # measured 0; 1e-6 is far below the 1e-2 a wrong seed or setting makes).
    again = train_flow(config)
    for run, r in zip(data["runs"], again.runs):
        assert run["w1"] == pytest.approx(r.w1, abs=1e-6)
    np.testing.assert_allclose(samples, again.trainer.sample(10_000), rtol=0, atol=1e-5)


@pytest.fixture
def no_flow_training(monkeypatch):
    """Make any flow training fail the test: errors must come before a FlowTrainer is built."""

    def refuse(*args, **kwargs):
        pytest.fail("a FlowTrainer was built although the command should have stopped before training")

    monkeypatch.setattr("ganlib.cli.FlowTrainer", refuse)
    monkeypatch.setattr("ganlib.cli.train_flow", refuse)


@pytest.mark.parametrize(("argv", "text"), [
    (["--evaluations", "7"], "evaluations=7 is not allowed"),
    (["--std", "-1"], "target_std=-1.0"),
    (["--hidden", "0"], "hidden=0"),
    (["--hidden", "8,8", "--activations", "elu"], "activations=('elu',)"),
    (["--sampler", "rk9"], "sampler='rk9'"),
    (["--seeds", "0"], "seeds=0"),
    (["--lr", "0"], "lr=0.0"),
    (["--seeds", "4096", "--batch-size", "100000", "--hidden", "4096,4096"], "GiB"),
    (["--json", "{tmp}/missing/r.json"], "--json"),
    (["--samples", "{tmp}/afile/s.npy"], "--samples"),
    (["--json", "{tmp}/same", "--samples", "{tmp}/same"], "both write"),
])
def test_flow_bad_values_exit_2_with_one_line_and_write_nothing(argv, text, tmp_path, capsys, no_flow_training):
    (tmp_path / "afile").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    outputs = [] if "--json" in argv else ["--json", str(tmp_path / "r.json")]
    outputs += [] if "--samples" in argv else ["--samples", str(tmp_path / "s.npy")]
    assert main(["flow", "--rounds", "5", *argv, *outputs]) == 2
    out, err = capsys.readouterr()
    assert text in one_error_line(err)
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.parametrize(("argv", "text"), [
    (["flow", "--evaluations", "many"], "argument --evaluations: invalid int value: 'many'"),
    (["flow", "--g-hidden", "8,8"], "unrecognized arguments: --g-hidden"),
    (["flow", "--eval"], "unrecognized arguments: --eval"),
])
def test_flow_bad_flags_exit_2_with_one_line(argv, text, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert text in one_error_line(err)
    assert out == ""


def test_flow_target_is_the_configs_target(tiny_flow):
    t = flow_target(tiny_flow(target="mixture", target_mean=-2.0, target_std=3.0, mixture_separation=0.5))
    assert (t.name, t.mean, t.std, t.separation) == ("mixture", -2.0, 3.0, 0.5)


def test_default_budget_succeeds_on_at_least_9_of_10_seeds():
    # Issue 28's bar: W1 < 0.1 std on at least 9 of 10 seeds of the normal target at the default budget (4,000
    # rounds, ten seeds). Measured: 10/10 at seed 0 with the worst run at W1 0.055 std, so the bar holds with a
    # margin of ~2 in W1 for the worst run. About 10 s on one thread.
    result = train_flow(FlowConfig())
    assert sum(r.success for r in result.runs) >= 9
    assert all(r.diverged_at is None for r in result.runs)
