"""ganlib.plane: the 2-D targets, their metrics against independent oracles, the batched trainer."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math

import numpy as np
import pytest
import scipy.optimize
import scipy.stats
import torch

from ganlib.losses import r1_penalty
from ganlib.models import StackedMLP
from ganlib.plane import (
    COVER_SHARE,
    PLANE_METHODS,
    QUALITY_RADIUS,
    PlaneConfig,
    PlaneHistory,
    PlaneTrainer,
    coverage,
    grid25,
    mode_counts,
    plane_label,
    plane_method,
    reference_sample,
    ring8,
    slice_directions,
    sliced_w1,
    sliced_w1_floor,
    train_plane,
)

SMALL = dict(seeds=2, rounds=40, eval_every=20, eval_samples=200, batch_size=32)


def rng_points(n, seed=0, scale=2.0):
    return np.random.default_rng(seed).normal(0, scale, size=(n, 2))


# ----- targets -----

def test_ring_centres_lie_on_the_circle_at_equal_angles():
    t = ring8(radius=2.0, std=0.02)
    np.testing.assert_allclose(np.hypot(*t.centres.T), 2.0, atol=1e-12)
    angles = np.sort(np.mod(np.arctan2(t.centres[:, 1], t.centres[:, 0]), 2 * math.pi))
    np.testing.assert_allclose(np.diff(angles), 2 * math.pi / 8, atol=1e-12)
    assert t.modes == 8 and t.std == 0.02


def test_grid_has_25_centres_on_a_square_lattice():
    t = grid25(spacing=1.0, std=0.05)
    assert t.modes == 25
    assert sorted(set(np.round(t.centres[:, 0], 12))) == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert len({tuple(c) for c in np.round(t.centres, 12)}) == 25


def test_target_samples_have_the_mixtures_moments():
    # Mean of the ring's mixture is 0; each coordinate's variance is r^2 / 2 + s^2 (a hand calculation).
    t = ring8(2.0, 0.1)
    x = t.sample(200_000, torch.Generator().manual_seed(1))
    se = math.sqrt(2.0 / 200_000) * 2  # coordinate std about sqrt(2); 4 standard errors below
    np.testing.assert_allclose(x.mean(0), 0.0, atol=4 * se / 2)
    np.testing.assert_allclose(x.var(0), 2.0 + 0.01, rtol=0.02)


def test_pdf_integrates_to_one_on_a_grid():
    t = ring8(2.0, 0.1)
    (x0, x1), (y0, y1) = t.extent
    xs = np.linspace(x0, x1, 801)
    xx, yy = np.meshgrid(xs, xs)
    dens = t.pdf(np.stack([xx, yy], -1))
    h = xs[1] - xs[0]
    assert abs(dens.sum() * h * h - 1.0) < 1e-3


# ----- metrics -----

def test_mode_counts_match_a_brute_force_count():
    t = ring8(2.0, 0.1)
    pts = t.sample(500, torch.Generator().manual_seed(3))
    pts[:50] = rng_points(50, 1)  # some points far from every mode
    want = np.zeros(8, int)
    for p in pts:
        for m, c in enumerate(t.centres):
            if math.dist(p, c) <= QUALITY_RADIUS * t.std:
                want[m] += 1
    np.testing.assert_array_equal(mode_counts(pts, t), want)


def test_exact_target_samples_cover_every_mode_with_the_chi_square_share_high_quality():
    # For an exact sample, a point is within 3 std of its own centre with P(chi2_2 <= 9) = 1 - exp(-4.5).
    t = ring8(2.0, 0.05)
    n = 100_000
    cov = coverage(t.sample(n, torch.Generator().manual_seed(4)), t)
    assert cov["modes_covered"] == 8
    p = 1 - math.exp(-4.5)
    assert abs(cov["high_quality"] - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_a_sample_on_one_mode_covers_one_mode_and_noise_covers_none():
    t = ring8(2.0, 0.05)
    one = t.centres[3] + 0.05 * np.random.default_rng(0).normal(size=(2000, 2))
    cov = coverage(one, t)
    assert cov["modes_covered"] == 1 and cov["covered"][3]
    noise = rng_points(2000, 2, scale=3.0)
    assert coverage(noise, t)["modes_covered"] == 0


def test_a_mode_is_covered_at_a_quarter_of_its_fair_share():
    t = ring8(2.0, 0.05)
    n = 800
    need = math.ceil(COVER_SHARE * n / 8)  # 25 points
    pts = np.full((n, 2), 10.0)
    pts[:need] = t.centres[0]
    pts[need:2 * need - 1] = t.centres[1]
    cov = coverage(pts, t)
    assert cov["covered"][0] and not cov["covered"][1]


def test_coverage_is_batched_over_runs():
    t = grid25(1.0, 0.05)
    runs = np.stack([t.sample(500, torch.Generator().manual_seed(s)) for s in range(3)])
    batched = coverage(runs, t)
    for k in range(3):
        one = coverage(runs[k], t)
        assert batched["modes_covered"][k] == one["modes_covered"]
        assert batched["high_quality"][k] == one["high_quality"]


def test_non_finite_points_are_near_no_mode():
    t = ring8(2.0, 0.05)
    pts = np.tile(t.centres[:1], (100, 1))
    pts[:10] = np.nan
    pts[10:20] = np.inf
    assert coverage(pts, t)["high_quality"] == pytest.approx(0.8)


def test_sliced_w1_on_one_direction_is_scipys_1d_w1_of_the_projections():
    a, b = rng_points(300, 5), rng_points(300, 6) + [0.5, -0.2]
    u = np.array([[math.cos(0.3), math.sin(0.3)]])
    want = scipy.stats.wasserstein_distance(a @ u[0], b @ u[0])
    assert sliced_w1(a, b, u) == pytest.approx(want, rel=1e-12)


def test_sliced_w1_with_many_directions_is_the_integral_over_angles():
    # Brute force: average scipy's 1-D W1 over a fine quadrature in the angle.
    a, b = rng_points(60, 7), rng_points(60, 8, scale=1.0) + [1.0, 0.0]
    angles = (np.arange(2000) + 0.5) * math.pi / 2000
    brute = np.mean([scipy.stats.wasserstein_distance(a @ [math.cos(t), math.sin(t)], b @ [math.cos(t), math.sin(t)])
                     for t in angles])
    assert sliced_w1(a, b, 512) == pytest.approx(brute, rel=2e-3)


def test_sliced_w1_never_exceeds_the_exact_w1_by_assignment():
    for seed in range(5):
        a, b = rng_points(40, 10 + seed), rng_points(40, 20 + seed, scale=0.5) + [seed * 0.3, 0.0]
        cost = np.linalg.norm(a[:, None] - b[None], axis=-1)
        rows, cols = scipy.optimize.linear_sum_assignment(cost)
        exact = cost[rows, cols].mean()
        sw = sliced_w1(a, b, 64)
        assert 0 < sw <= exact + 1e-12
        # ... and is within the constant of the 2-D sliced/exact relation for a translation: SW = (2/pi) |shift|.
    shift = np.array([0.7, -0.4])
    pts = rng_points(500, 30)
    assert sliced_w1(pts + shift, pts, 4096) == pytest.approx(2 / math.pi * np.linalg.norm(shift), rel=1e-4)


def test_slice_directions_are_unit_vectors_spread_over_half_a_turn():
    u = slice_directions(8)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.arctan2(u[:, 1], u[:, 0]), math.pi * (np.arange(8) + 0.5) / 8, atol=1e-12)


def test_sliced_w1_floor_is_the_spread_of_exact_samples():
    t = ring8(2.0, 0.05)
    floor = sliced_w1_floor(t, 1000, draws=10)
    ref = reference_sample(t, 1000)
    other = t.sample(1000, torch.Generator().manual_seed(99))
    assert 0 < floor < 0.2
    assert sliced_w1(other, ref) < 3 * floor


@pytest.mark.parametrize("bad", [
    (np.zeros((3, 2)), np.zeros((4, 2))),
    (np.zeros((0, 2)), np.zeros((0, 2))),
    (np.zeros(3), np.zeros(3)),
])
def test_sliced_w1_refuses_mismatched_or_empty_sets(bad):
    with pytest.raises(ValueError):
        sliced_w1(*bad)


def test_labels():
    assert plane_label(8, 8, 0.9, False) == "all modes"
    assert plane_label(8, 8, 0.3, False) == "blurred"
    assert plane_label(4, 8, 0.9, False) == "collapsed"
    assert plane_label(6, 8, 0.9, False) == "missing modes"
    assert plane_label(8, 8, 0.9, True) == "diverged"


def test_last_hop_is_the_last_change_of_the_covered_set():
    covered = np.zeros((2, 4, 3), bool)
    covered[0, :, 0] = True
    covered[0, 2:, 1] = True  # run 0 finds mode 1 at the third evaluation
    covered[1, :, 2] = True  # run 1 never changes
    h = PlaneHistory(seeds=[0, 1], d_loss=np.zeros((2, 0)), g_loss=np.zeros((2, 0)),
                     eval_round=np.array([0, 10, 20, 30]), modes_covered=covered.sum(-1),
                     high_quality=np.zeros((2, 4)), sliced_w1=np.zeros((2, 4)), covered=covered,
                     g_updates=np.zeros(4, int), d_updates=np.zeros(4, int), cpu_seconds=np.zeros(4),
                     diverged_at=[None, None])
    assert h.last_hop() == [20, None]


# ----- R1 -----

def test_r1_penalty_is_half_gamma_times_the_squared_gradient_norm_by_finite_differences():
    torch.manual_seed(0)
    net = StackedMLP([2, 5, 1], ["tanh"], [torch.Generator().manual_seed(i) for i in range(2)], torch.float64)
    x = torch.randn(2, 7, 2, dtype=torch.float64, requires_grad=True)
    got = r1_penalty(net(x), x, gamma=0.3)
    h = 1e-6
    want = []
    for k in range(2):
        sq = 0.0
        for i in range(7):
            for d in range(2):
                e = torch.zeros_like(x)
                e[k, i, d] = h
                diff = (net(x.detach() + e) - net(x.detach() - e))[k, i, 0] / (2 * h)
                sq += float(diff.detach()) ** 2
        want.append(0.5 * 0.3 * sq / 7)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-6)
    # The graph is kept: the penalty has a gradient with respect to the weights.
    assert torch.autograd.grad(got.sum(), net.params[0])[0].abs().sum() > 0


# ----- the trainer -----

@pytest.mark.parametrize("method", sorted(PLANE_METHODS))
def test_every_method_trains_and_records_its_budget(method):
    cfg = plane_method(method, **SMALL)
    r = train_plane(cfg, n_final=400)
    h = r.history
    assert h.d_loss.shape == (2, 40) and np.isfinite(h.d_loss).all() and np.isfinite(h.g_loss).all()
    np.testing.assert_array_equal(h.eval_round, [0, 20, 40])
    np.testing.assert_array_equal(h.g_updates, [0, 20, 40])
    d_steps = [cfg.d_steps_at(i) for i in range(40)]
    assert h.d_updates[-1] == sum(d_steps)
    assert np.all(np.diff(h.cpu_seconds) > 0)
    assert h.covered.shape == (2, 3, 8)
    for run in r.runs:
        assert 0 <= run.modes_covered <= 8 and 0 <= run.high_quality <= 1 and run.sliced_w1 > 0


def test_results_agree_with_an_independent_count_on_the_sample():
    tr = PlaneTrainer(PlaneConfig(**SMALL)).step(40)
    res = tr.results(500)
    pts = tr.sample(500)
    for k, run in enumerate(res):
        cov = coverage(pts[k], tr.target)
        assert run.modes_covered == cov["modes_covered"]
        assert run.high_quality == cov["high_quality"]
        assert run.sliced_w1 == pytest.approx(float(sliced_w1(pts[k], reference_sample(tr.target, 500))))


def test_same_seed_same_runs_and_run_k_alone_equals_run_k_in_a_batch():
    cfg = plane_method("r1", **SMALL, dtype="float64")
    a = PlaneTrainer(cfg).step(30).sample(300)
    b = PlaneTrainer(cfg).step(30).sample(300)
    np.testing.assert_array_equal(a, b)
    alone = PlaneTrainer(cfg.replace(seed=1, seeds=1)).step(30).sample(300)
    # Batched matmuls may sum in another order: float64 rounding (1e-16), grown over 30 rounds of Adam.
    np.testing.assert_allclose(alone[0], a[1], atol=1e-9)


def test_step_in_pieces_equals_one_step():
    cfg = plane_method("wgan", **SMALL)
    a = PlaneTrainer(cfg).step(30)
    b = PlaneTrainer(cfg).step(10).step(20)
    for p, q in zip(a.G.params, b.G.params):
        torch.testing.assert_close(p, q)


def test_push_is_minus_the_gradient_of_each_points_loss_by_finite_differences():
    for method in ("gan", "wgan-gp", "pack"):
        tr = PlaneTrainer(plane_method(method, **SMALL, dtype="float64")).step(20)
        pts, push = tr.push(8)
        assert pts.shape == push.shape == (2, 8, 2)
        x = torch.as_tensor(pts)
        h = 1e-6
        for i, d in ((0, 0), (3, 1)):
            e = torch.zeros_like(x)
            e[:, i, d] = h

            def loss(y, tr=tr):
                out = tr.D(tr._d_view(y))
                return (torch.nn.functional.softplus(-out) if tr.config.loss == "bce" else -out).sum((1, 2))
            with torch.no_grad():
                fd = (loss(x + e) - loss(x - e)) / (2 * h)
            np.testing.assert_allclose(-fd.numpy(), push[:, i, d], rtol=1e-5, atol=1e-8)


def test_surface_is_d_on_the_grid():
    tr = PlaneTrainer(PlaneConfig(**SMALL)).step(10)
    xs, ys = np.linspace(-3, 3, 7), np.linspace(-2, 2, 5)
    s = tr.surface(xs, ys)
    assert s.shape == (2, 5, 7) and ((s > 0) & (s < 1)).all()
    with torch.no_grad():
        one = torch.sigmoid(tr.D(torch.tensor([[[xs[2], ys[4]]]] * 2, dtype=torch.float32)))
    np.testing.assert_allclose(s[:, 4, 2], one.reshape(2).numpy(), rtol=1e-5)


def test_wgan_clips_every_critic_weight():
    tr = PlaneTrainer(plane_method("wgan", **SMALL)).step(5)
    assert max(float(p.abs().max()) for p in tr.D.params) <= 0.01 + 1e-9


def test_critic_warmup_schedule():
    cfg = plane_method("wgan", **SMALL)
    assert [cfg.d_steps_at(r) for r in (0, 24, 25, 26, 500)] == [100, 100, 5, 5, 100]


@pytest.mark.parametrize("change", [
    dict(target="ring9"), dict(component_std=0.0), dict(component_std=0.5), dict(loss="hinge"),
    dict(pack=3, d_input="pack"), dict(d_input="sorted"), dict(d_penalty="r2"), dict(r1_gamma=-1.0),
    dict(g_hidden=()), dict(d_hidden=(0,)), dict(rounds=-1), dict(seeds=0), dict(batch_size=1),
    dict(critic_warmup=(1, 2)), dict(optimizer="lbfgs"), dict(d_lr=0.0), dict(eval_samples=10),
    dict(noise_dim=0), dict(dtype="float16"), dict(device="tpu"),
])
def test_bad_config_values_are_refused_in_one_line(change):
    with pytest.raises(ValueError) as e:
        PlaneConfig(**change)
    assert "\n" not in str(e.value) and next(iter(change)) in str(e.value)


def test_bad_calls_are_refused_in_one_line():
    tr = PlaneTrainer(PlaneConfig(**SMALL))
    for call in (lambda: tr.step(-1), lambda: tr.sample(0), lambda: tr.push(0), lambda: tr.results(2_000_000),
                 lambda: plane_method("unrolled"), lambda: PlaneTrainer("ring8"),
                 lambda: PlaneConfig().replace(bogus=1)):
        with pytest.raises(ValueError) as e:
            call()
        assert "\n" not in str(e.value)


# ----- the command line -----

def test_train_ring8_from_the_shell_reports_mode_counts_that_the_saved_points_confirm(tmp_path, capsys):
    from ganlib.cli import main
    js, npy = tmp_path / "r.json", tmp_path / "s.npy"
    rc = main(["train", "--target", "ring8", "--method", "pack", "--seeds", "3", "--rounds", "60",
               "--eval-every", "30", "--component-std", "0.08", "--json", str(js), "--samples", str(npy)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "modes" in out and "sliced W1 floor" in out
    data = json.loads(js.read_text())
    pts = np.load(npy)
    assert pts.shape == (3, 4000, 2)
    assert data["config"]["d_input"] == "pack" and data["config"]["component_std"] == 0.08
    assert data["budget"]["round"] == [0, 30, 60] and data["budget"]["g_updates"] == [0, 30, 60]
    centres = np.array(data["mode_centres"])
    for k, run in enumerate(data["runs"]):
        # An independent count on the saved points: distances to every centre, plain numpy.
        d = np.sqrt(((pts[k][:, None, :] - centres[None]) ** 2).sum(-1))
        counts = (d <= 3 * 0.08).sum(0)
        covered = counts >= 0.25 * len(pts[k]) / len(centres)
        assert run["modes_covered"] == int(covered.sum())
        assert run["covered"] == [int(i) for i in np.flatnonzero(covered)]
        assert run["high_quality"] == pytest.approx(counts.sum() / len(pts[k]))
        assert len(run["modes_covered_at_evals"]) == 3


def test_train_grid25_with_r1_from_the_shell(tmp_path, capsys):
    from ganlib.cli import main
    rc = main(["train", "--target", "grid25", "--method", "r1", "--r1-gamma", "0.5", "--seeds", "2",
               "--rounds", "20", "--json", str(tmp_path / "g.json")])
    assert rc == 0
    data = json.loads((tmp_path / "g.json").read_text())
    assert data["config"]["d_penalty"] == "r1" and data["config"]["r1_gamma"] == 0.5
    assert len(data["mode_centres"]) == 25 and all(r["modes"] == 25 for r in data["runs"])


@pytest.mark.parametrize("argv, text", [
    (["--target", "ring8", "--mean", "3"], "no meaning for the 2-D target"),
    (["--target", "ring8", "--preset", "devnag"], "--preset is for 1-D targets"),
    (["--target", "ring8", "--lr", "1e-3", "--d-lr", "1e-3"], "--lr sets both"),
    (["--target", "ring8", "--component-std", "0.6"], "component_std"),
    (["--target", "ring8", "--d-input", "pack", "--pack", "3"], "pack=3"),
    (["--target", "ring8", "--method", "unrolled"], "invalid choice"),
    (["--pack", "2"], "for the 2-D targets"),
    (["--target", "ring9"], "target"),
])
def test_bad_2d_flags_exit_2_with_one_line_and_write_nothing(argv, text, tmp_path, capsys):
    from ganlib.cli import main
    js = tmp_path / "x.json"
    with pytest.raises(SystemExit) if "invalid choice" in text else contextlib.nullcontext():
        rc = main(["train", *argv, "--rounds", "5", "--seeds", "1", "--json", str(js)])
        assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and text in err, err
    assert not js.exists()


def test_every_plane_config_field_has_a_flag_of_train():
    from ganlib.cli import _plane_config_from, build_parser
    cfg = PlaneConfig(target="grid25", component_std=0.04, d_input="minibatch", optimizer="rmsprop", beta1=0.3,
                      critic_warmup=(10, 2, 50), g_hidden=(8, 9), pack=4, d_penalty="r1", r1_gamma=2.0, scale=3.0)
    argv = ["train"]
    for f in dataclasses.fields(PlaneConfig):
        value = getattr(cfg, f.name)
        flag = "--" + f.name.replace("_", "-")
        argv += [flag, ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    args = build_parser().parse_args(argv)
    assert _plane_config_from(args) == cfg


def test_progress_adds_up_the_rounds_of_several_plane_trainers():
    from ganlib.widgets.progress import Progress
    bar = Progress(50, "two trainers", show=False)
    for rounds in (20, 30):
        train_plane(PlaneConfig(**{**SMALL, "rounds": rounds}), bar, n_final=100)
    assert bar.done == 50


def test_push_alignment_and_toward_nearest_mode_by_hand():
    from ganlib.plane import push_alignment, toward_nearest_mode
    same = np.tile([[1.0, 0.0]], (10, 1)) * np.arange(1, 11)[:, None]
    assert push_alignment(same) == pytest.approx(1.0)
    opposite = np.array([[1.0, 0.0], [-2.0, 0.0], [0.0, 3.0], [0.0, -1.0]])
    assert push_alignment(opposite) == pytest.approx(0.0, abs=1e-12)
    assert push_alignment(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])) == pytest.approx(math.sqrt(2) / 2)
    t = ring8(2.0, 0.05)
    pts = t.centres * 0.9  # each point just inside its own centre
    inward, outward = t.centres - pts, pts - t.centres
    c = t.centres
    assert toward_nearest_mode(pts, inward, c) == 1.0 and toward_nearest_mode(pts, outward, c) == 0.0
    mixed = np.where(np.arange(8)[:, None] < 2, inward, outward)
    assert toward_nearest_mode(np.stack([pts, pts]), np.stack([mixed, inward]), c).tolist() == [0.25, 1.0]
    assert np.isnan(toward_nearest_mode(pts, np.zeros_like(pts), c))


def test_push_and_surface_of_some_runs_are_those_runs_rows():
    for method in ("gan", "pack", "minibatch"):
        tr = PlaneTrainer(plane_method(method, **SMALL, dtype="float64")).step(5)
        pts, push = tr.push(64)
        one_pts, one_push = tr.push(64, runs=slice(1, 2))
        np.testing.assert_allclose(one_pts[0], pts[1], rtol=1e-12)
        np.testing.assert_allclose(one_push[0], push[1], rtol=1e-9, atol=1e-12)
        xs = np.linspace(-2, 2, 5)
        np.testing.assert_allclose(tr.surface(xs, xs, runs=slice(1, 2))[0], tr.surface(xs, xs)[1], rtol=1e-9)
    with pytest.raises(ValueError, match="selects none"):
        tr.push(8, runs=slice(5, 6))
    with pytest.raises(ValueError, match="a slice"):
        tr.surface(xs, xs, runs=1)


def test_progress_keeps_the_last_trainer_so_its_id_cannot_pass_to_the_next():
    # CPython reuses a freed object's memory, and so its id: a bar that remembered only the id took a new
    # trainer at the old address for more rounds of the finished one (seen: 30 of 50 rounds counted).
    import gc
    import weakref

    from ganlib.widgets.progress import Progress
    bar = Progress(50, "two trainers", show=False)
    first = PlaneTrainer(PlaneConfig(**{**SMALL, "rounds": 20})).step(20, bar)
    alive = weakref.ref(first)
    del first
    gc.collect()
    assert alive() is not None, "the bar must hold the trainer it last counted"
    PlaneTrainer(PlaneConfig(**{**SMALL, "rounds": 30})).step(30, bar)
    assert bar.done == 50


def test_numpy_values_become_python_ones_as_in_config():
    cfg = PlaneConfig(seeds=np.int64(3), d_lr=np.float32(0.5), g_hidden=(np.int64(8), 8))
    assert type(cfg.seeds) is int and type(cfg.d_lr) is float and type(cfg.g_hidden[0]) is int
    assert cfg == PlaneConfig(seeds=3, d_lr=0.5, g_hidden=(8, 8))


def test_plane_method_names_an_unknown_field_in_one_line():
    # PlaneConfig(**...) raised TypeError: __init__() got an unexpected keyword argument 'bogus' (issue 31 QA).
    with pytest.raises(ValueError, match=r"^unknown plane config field\(s\): bogus; the fields are target, ") as exc:
        plane_method("gan", bogus=1, seeds=2)
    assert "\n" not in str(exc.value)
    assert plane_method("gan", seeds=2).seeds == 2
