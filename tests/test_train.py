"""ganlib.train: batched runs equal separate runs, reproducibility, chunking, divergence, the public API."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from ganlib.config import Config
from ganlib.features import get_feature_map
from ganlib.metrics import DIVERGED_SCALE, LABELS, RunResult, evaluate, is_success, label_run
from ganlib.train import (
    LIVE_FIELDS,
    MEMORY_BUDGET,
    History,
    Trainer,
    TrainResult,
    estimate_memory,
    resolve_device,
    train,
)

train_module = sys.modules["ganlib.train"]

PER_ROUND = ("d_loss", "g_loss", "d_real", "d_fake")
EVALS = ("mean", "std", "skew", "kurtosis", "w1", "ks")


def params_of(tr: Trainer) -> list[torch.Tensor]:
    return [p.detach() for p in tr.G.params + tr.D.params]


def assert_run_equal(a: Trainer, ka: int, b: Trainer, kb: int, atol: float, shape_atol: float | None = None) -> None:
    """Run ka of trainer a and run kb of trainer b have the same history and parameters.

    `shape_atol` (default atol) is for skew and kurtosis, which divide output rounding by the generated spread.
    """
    ha, hb = a.history, b.history
    assert ha.rounds == hb.rounds
    np.testing.assert_array_equal(ha.eval_round, hb.eval_round)
    for name in PER_ROUND + EVALS:
        tol = shape_atol if shape_atol is not None and name in ("skew", "kurtosis") else atol
        np.testing.assert_allclose(getattr(ha, name)[ka], getattr(hb, name)[kb], rtol=0, atol=tol, err_msg=name)
    for p, q in zip(params_of(a), params_of(b)):
        np.testing.assert_allclose(p[ka].double().numpy(), q[kb].double().numpy(), rtol=0, atol=atol)
    assert ha.diverged_at[ka] == hb.diverged_at[kb]


def assert_batched_equals_separate(config: Config, atol: float, shape_atol: float | None = None) -> None:
    batched = Trainer(config).step(config.rounds)
    assert batched.history.rounds == config.rounds
    assert all(d is None for d in batched.diverged_at)
    for k in range(config.seeds):
        alone = Trainer(config.replace(seeds=1, seed=config.seed + k)).step(config.rounds)
        assert_run_equal(batched, k, alone, 0, atol, shape_atol)
    # The runs really differ from each other (else equality above proves little).
    assert max((p[0] - p[1]).abs().max().item() for p in params_of(batched)) > 1e-2


# float64: a batch of K and a single run differ only by BLAS summation order (1 ulp, seen as ~1e-15 after
# 200 rounds); 1e-10 leaves room for the amplification of such ulps while any mixing of runs or any shift
# of a random stream changes numbers at the 1e-2 level.
F64_CASES = {
    "value": dict(features="value"),
    "diffs": dict(features="diffs"),
    "sorted": dict(features="sorted"),
    "meanstd": dict(features="meanstd"),
    "wgan": dict(loss="wgan", d_steps=2, d_optimizer="rmsprop", g_optimizer="rmsprop"),
    "wgan-gp": dict(loss="wgan-gp", d_steps=2),
    "wgan-gp-sorted": dict(loss="wgan-gp", features="sorted"),
    "wgan-gp-one-sided": dict(loss="wgan-gp", gp_side="one-sided", d_steps=2),
    "whole_sample": dict(generator="whole_sample", noise_dim=4, features="sorted"),
    "mixture-sets-steps": dict(target="mixture", noise="normal", sets=2, d_steps=2, g_steps=2, g_objective="minimax",
                               d_optimizer="rmsprop", d_momentum=0.5, g_optimizer="sgd", g_momentum=0.9, g_lr=1e-2),
    # Minibatch discrimination: each run its own T, each batch compared within itself (two sets a step).
    "minibatch": dict(features="minibatch", target="mixture", mixture_separation=0.96),
    "minibatch-sets-wgan-gp": dict(features="minibatch", sets=2, loss="wgan-gp", gp_side="one-sided",
                                   minibatch_kernels=3, minibatch_dims=2),
    # issue 26: R1 (no random numbers of its own) and spectral norm (u from each run's D stream).
    "r1": dict(d_penalty="r1", r1_gamma=10.0),
    "r1-sorted-wgan-gp": dict(d_penalty="r1", features="sorted", loss="wgan-gp"),
    "spectral-norm": dict(spectral_norm=True, d_steps=2),
    "spectral-norm-r1-minibatch": dict(spectral_norm=True, d_penalty="r1", features="minibatch", target="mixture",
                                       mixture_separation=0.96),
}


@pytest.mark.parametrize("case", sorted(F64_CASES))
def test_batched_runs_equal_separate_runs_float64(case, tiny):
    assert_batched_equals_separate(tiny(dtype="float64", rounds=200, **F64_CASES[case]), atol=1e-10)


@pytest.mark.parametrize("case", ["value", "sorted", "wgan-gp", "minibatch"])
def test_batched_runs_equal_separate_runs_float32(case, tiny):
    # float32 ulps are 1e-7; 50 rounds amplify them to ~2e-7 (measured), so 1e-5. Skew and kurtosis divide
    # the 6e-8 relative rounding of outputs near 4 by a generated spread that is ~1e-3 early on: ~1e-4 error
    # for the third and fourth standardised moments (measured up to 1.2e-5), so 1e-3 for those.
    # Minibatch discrimination amplifies more: exp(-|M_i - M_j|) of near-equal values early on. Over 40 first
    # seeds (120 runs) of this case, parameters and the mean differed by up to 4e-5 and skew and kurtosis by up to
    # 0.12 and 0.44 (measured): 2e-4 and 2 leave a factor of about 5, and a shifted stream still moves them by 1e-2.
    atol, shape_atol = (2e-4, 2.0) if case == "minibatch" else (1e-5, 1e-3)
    assert_batched_equals_separate(tiny(rounds=50, **F64_CASES[case]), atol=atol, shape_atol=shape_atol)


def test_run_seeds_choose_each_runs_stream(tiny):
    c = tiny(dtype="float64", rounds=40)
    tr = Trainer(c, run_seeds=[9, 9, 2])
    tr.step(40)
    assert tr.seeds == [9, 9, 2]
    assert_run_equal(tr, 0, tr, 1, atol=0)
    assert_run_equal(tr, 2, Trainer(c.replace(seeds=1, seed=2)).step(40), 0, atol=1e-10)


@pytest.mark.parametrize("seeds", [[1, 2], [1, 2, 3, 4], [0, -1, 2], [0, 2**33, 1]])
def test_run_seeds_are_validated(seeds, tiny):
    with pytest.raises(ValueError, match=r"run_seeds needs 3 seeds in \[0, "):
        Trainer(tiny(), run_seeds=seeds)


@pytest.mark.parametrize("other", [dict(features="value"),
                                   dict(features="meanstd", d_hidden=(7,), d_activations=("tanh",)),
                                   dict(d_lr=0.5, d_activations=("relu", "relu"))])
def test_configs_that_differ_only_in_d_share_g_and_the_batches(other, tiny):
    # Common random numbers: a comparison of D inputs gives every contender the same G start and data.
    a, b = Trainer(tiny(features="sorted")), Trainer(tiny(**other))
    for p, q in zip(a.G.params, b.G.params):
        assert torch.equal(p, q)
    ca, cb = a._draw_chunk(3), b._draw_chunk(3)
    assert set(ca) == set(cb)
    for name in ca:
        assert torch.equal(ca[name], cb[name]), name
    assert torch.equal(a._z_eval, b._z_eval)
    # ...while D's first layer, drawn from its own stream, differs in values (and maybe shape).
    assert not (a.D.params[0].shape == b.D.params[0].shape and torch.equal(a.D.params[0], b.D.params[0]))


def test_per_run_learning_rates_equal_separate_runs(tiny):
    c = tiny(dtype="float64", rounds=60)
    d_lr = torch.tensor([1e-3, 5e-3, 2e-2], dtype=torch.float64)
    g_lr = torch.tensor([2e-2, 1e-3, 5e-3], dtype=torch.float64)
    tr = Trainer(c, d_lr=d_lr, g_lr=g_lr).step(60)
    for k in range(3):
        alone = Trainer(c.replace(seeds=1, seed=c.seed + k, d_lr=float(d_lr[k]), g_lr=float(g_lr[k]))).step(60)
        assert_run_equal(tr, k, alone, 0, atol=1e-10)


def test_same_config_twice_gives_identical_numbers(tiny):
    c = tiny(features="sorted", loss="wgan-gp", rounds=60)
    a, b = Trainer(c).step(60), Trainer(c).step(60)
    assert_run_equal(a, 0, b, 0, atol=0)
    assert_run_equal(a, 2, b, 2, atol=0)
    np.testing.assert_array_equal(a.sample(500), b.sample(500))
    ra, rb = a.results(500), b.results(500)
    assert ra == rb


def test_a_different_seed_gives_different_numbers(tiny):
    a = Trainer(tiny(rounds=20)).step(20)
    b = Trainer(tiny(rounds=20, seed=6)).step(20)
    assert not np.array_equal(a.history.d_loss, b.history.d_loss)
    # seed 6 is seed 5 shifted by one run.
    assert_run_equal(a, 1, b, 0, atol=0)


def test_chunking_does_not_change_the_numbers(tiny):
    c = tiny(dtype="float64", rounds=100, eval_every=50, loss="wgan-gp")
    whole = Trainer(c).step(100)
    parts = Trainer(c).step(30).step(0).step(70)
    one_by_one = Trainer(c)
    for _ in range(100):
        one_by_one.step(1)
    for other in (parts, one_by_one):
        ha, hb = whole.history, other.history
        for name in PER_ROUND:
            np.testing.assert_array_equal(getattr(ha, name), getattr(hb, name))
        for p, q in zip(params_of(whole), params_of(other)):
            assert torch.equal(p, q)
        # A step that ends between evaluation points adds an evaluation there; the common ones agree.
        common = np.flatnonzero(np.isin(hb.eval_round, ha.eval_round))
        np.testing.assert_array_equal(hb.eval_round[common], ha.eval_round)
        for name in EVALS:
            np.testing.assert_array_equal(getattr(hb, name)[:, common], getattr(ha, name))
    np.testing.assert_array_equal(parts.history.eval_round, [0, 30, 50, 100])


def test_history_shapes_and_eval_rounds(tiny):
    c = tiny(rounds=120, eval_every=50)
    tr = Trainer(c)
    h0 = tr.history
    assert h0.rounds == 0 and h0.d_loss.shape == (3, 0)
    np.testing.assert_array_equal(h0.eval_round, [0])
    tr.step(120)
    h = tr.history
    assert isinstance(h, History) and h.seeds == [5, 6, 7] and h.rounds == 120
    for name in PER_ROUND:
        assert getattr(h, name).shape == (3, 120)
    np.testing.assert_array_equal(h.eval_round, [0, 50, 100, 120])
    for name in EVALS:
        assert getattr(h, name).shape == (3, 4) and np.isfinite(getattr(h, name)).all()
    np.testing.assert_array_equal(h.w1_estimate, h.d_real - h.d_fake)
    # BCE: d_real and d_fake are mean probabilities.
    assert ((h.d_real > 0) & (h.d_real < 1) & (h.d_fake > 0) & (h.d_fake < 1)).all()
    assert h.diverged_at == [None] * 3 and h.diverged_reason == [None] * 3
    # A snapshot: training on does not change an old history.
    tr.step(10)
    assert h.rounds == 120 and tr.history.rounds == 130


def test_initial_evaluation_is_that_of_an_untrained_generator(tiny):
    # An untrained G (sigmoid last hidden layer) has a small spread s. By the triangle inequality, with c its
    # mean, W1(G, target) >= W1(c, target) - E|G - c| >= sqrt(2/pi) std - s = 0.8 std - s: above 0.5 std
    # whenever s < 0.3 std.
    tr = Trainer(tiny(seeds=8))
    h = tr.history
    assert (h.std[:, 0] < 0.3 * 1.25).all()
    assert (h.w1[:, 0] > 0.5 * 1.25).all()


def test_callback_sees_progress(tiny):
    seen = []
    Trainer(tiny(eval_every=25)).step(60, callback=lambda t: seen.append(t.round))
    assert seen == [25, 50, 60]


def test_step_without_evaluation_at_the_end_evaluates_only_at_eval_every(tiny):
    # Steps of 7 rounds with eval_every=5: evaluations at 0 (the start), 5, 10, 15, 20 only; the
    # default also evaluates where each step ends (7, 14).
    lean = Trainer(tiny(eval_every=5))
    for _ in range(3):
        lean.step(7, evaluate_at_end=False)
    assert lean.history.eval_round.tolist() == [0, 5, 10, 15, 20]
    full = Trainer(tiny(eval_every=5))
    for _ in range(3):
        full.step(7)
    assert full.history.eval_round.tolist() == [0, 5, 7, 10, 14, 15, 20, 21]
    # The rounds themselves are the same: skipping an evaluation draws no random numbers.
    np.testing.assert_array_equal(lean.history.d_loss, full.history.d_loss)


@pytest.mark.parametrize("n", [-1, 1.5, True, "3"])
def test_step_rejects_bad_round_counts(n, tiny):
    with pytest.raises(ValueError, match="n=.* is not allowed"):
        Trainer(tiny()).step(n)


def test_lr_decay_schedule(tiny):
    c = tiny(lr_decay=0.25, rounds=100, d_optimizer="sgd", g_optimizer="sgd")
    tr = Trainer(c)
    tr.step(1)
    assert tr.opt_d.scale == tr.opt_g.scale == 1.0
    tr.step(49)
    # Round r (counted from 0) runs at lr * decay**(r / rounds).
    assert tr.opt_d.scale == pytest.approx(0.25 ** (49 / 100), rel=1e-14)
    tr.step(50)
    assert tr.opt_g.scale == pytest.approx(0.25 ** (99 / 100), rel=1e-14)
    assert tr.opt_d.lr == c.d_lr
    const = Trainer(tiny(lr_decay=1.0)).step(30)
    assert const.opt_d.scale == 1.0


def test_set_changes_live_fields(tiny):
    c = tiny(dtype="float64", rounds=40)
    tr = Trainer(c)
    tr.set(d_lr=1e-4, g_lr=3e-3)
    assert tr.opt_d.lr == 1e-4 and tr.opt_g.lr == 3e-3
    assert (tr.config.d_lr, tr.config.g_lr) == (1e-4, 3e-3)
    # Set before any step: identical to a trainer built with those rates.
    tr.step(40)
    assert_run_equal(tr, 1, Trainer(c.replace(d_lr=1e-4, g_lr=3e-3)).step(40), 1, atol=0)


def test_set_mid_run_changes_only_what_follows(tiny):
    c = tiny(dtype="float64", rounds=40)
    a, b = Trainer(c).step(20), Trainer(c).step(20)
    b.set(d_lr=2e-2, d_steps=2)
    a.step(20)
    b.step(20)
    assert b.config.d_steps == 2
    np.testing.assert_array_equal(a.history.d_loss[:, :20], b.history.d_loss[:, :20])
    assert np.abs(a.history.d_loss[:, 20:] - b.history.d_loss[:, 20:]).min() > 0


@pytest.mark.parametrize(("changes", "text"), [
    (dict(seeds=2), "seeds cannot change"),
    (dict(features="sorted"), "features cannot change"),
    (dict(d_lr=0.001, batch_size=8), "batch_size cannot change"),
    (dict(d_lr=-1.0), "d_lr=-1.0"),
    (dict(g_lr=math.nan), "g_lr=nan"),
    (dict(d_steps=0), "d_steps=0"),
])
def test_set_rejects_non_live_fields_and_bad_values(changes, text, tiny):
    tr = Trainer(tiny())
    before = tr.config
    with pytest.raises(ValueError, match=text):
        tr.set(**changes)
    assert tr.config == before and tr.opt_d.lr == before.d_lr
    assert set(LIVE_FIELDS) >= {"d_lr", "g_lr"}


def test_a_nan_in_one_run_marks_only_that_run(tiny):
    c = tiny(dtype="float64", rounds=30, eval_every=10)
    tr = Trainer(c)
    clean = Trainer(c)
    with torch.no_grad():
        tr.D.params[0][0].fill_(float("nan"))
    tr.step(30)
    clean.step(30)
    assert tr.diverged_at[0] == 1 and isinstance(tr.diverged_at[0], int)
    assert "D loss" in tr.diverged_reason[0] and "round 1" in tr.diverged_reason[0]
    assert tr.diverged_at[1:] == [None, None] and not tr.stopped
    h = tr.history
    assert h.diverged_at == tr.diverged_at and h.diverged_reason == tr.diverged_reason
    assert np.isnan(h.d_loss[0]).all()
    # The other runs train on exactly as if run 0 were healthy.
    for k in (1, 2):
        assert_run_equal(tr, k, clean, k, atol=0)
    runs = tr.results(500)
    assert runs[0].label == "diverged" and not runs[0].success and runs[0].diverged_at == 1
    assert [r.label != "diverged" for r in runs[1:]] == [True, True]


# SGD at lr 10 on raw data of mean 1000 with linear nets: updates of order lr * data^2 overflow within a
# few rounds for every seed (measured: rounds 2 and 3 for seeds 5 to 8).
DIVERGING = dict(d_optimizer="sgd", g_optimizer="sgd", d_lr=10.0, g_lr=10.0, features="batch", normalize=False,
                 target_mean=1000.0, d_activations=("identity", "identity"), g_activations=("identity", "identity"),
                 lr_decay=1.0, seeds=4, rounds=50, eval_every=10)


def test_a_diverging_config_stops_without_raising(tiny):
    c = tiny(**DIVERGING)
    tr = Trainer(c).step(50)
    assert tr.stopped
    assert all(isinstance(d, int) and 1 <= d <= tr.round for d in tr.diverged_at)
    assert all(isinstance(r, str) and r for r in tr.diverged_reason)
    # It stops at the end of the chunk in which the last run diverged, and further steps do nothing.
    assert tr.round == 10
    tr.step(20)
    assert tr.round == 10 and tr.history.rounds == 10
    h = tr.history
    for k, d in enumerate(tr.diverged_at):
        ok = np.isfinite(h.d_loss[k]) & np.isfinite(h.g_loss[k])
        assert ok[: d - 1].all() and not ok[d - 1], "diverged_at is the first round with a non-finite loss"
    runs = tr.results(500)
    assert [r.label for r in runs] == ["diverged"] * 4 and not any(r.success for r in runs)
    result = train(c, n_final=500)
    assert result.success_rate == 0.0 and result.history.rounds == 10


def test_diverged_at_is_the_earliest_bad_loss_of_either_net(tiny):
    tr = Trainer(tiny())
    nan, inf = float("nan"), float("inf")
    d_loss = np.array([[1.0, 1.0, nan], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    g_loss = np.array([[1.0, inf, nan], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    tr._check_finite({"d_loss": d_loss, "g_loss": g_loss}, 3)
    assert tr.diverged_at == [2, None, None]


def test_generator_map_against_a_hand_forward_pass(tiny, numpy_mlp):
    c = tiny(dtype="float64", rounds=30)
    tr = Trainer(c).step(30)
    z = np.linspace(0, 1, 11)
    out = tr.generator_map(z)
    assert out.shape == (3, 11)
    for k in range(3):
        # G works in standardised units: user value = G(z) * std + mean.
        g = numpy_mlp(tr.G.params, c.g_activations, z[:, None], k)[:, 0]
        np.testing.assert_allclose(out[k], g * c.target_std + c.target_mean, rtol=1e-13)
    raw = Trainer(c.replace(normalize=False))
    np.testing.assert_allclose(raw.generator_map(z)[0], numpy_mlp(raw.G.params, c.g_activations, z[:, None], 0)[:, 0],
                               rtol=1e-13)


@pytest.mark.parametrize("changes", [dict(generator="whole_sample"), dict(noise_dim=2)])
def test_generator_map_needs_a_per_value_generator_of_one_noise(changes, tiny):
    with pytest.raises(ValueError, match="per-value generator with noise_dim=1"):
        Trainer(tiny(**changes)).generator_map([0.5])


@pytest.mark.parametrize("loss", ["bce", "wgan"])
def test_discriminator_curve_against_a_hand_forward_pass(loss, tiny, numpy_mlp):
    c = tiny(dtype="float64", rounds=20, loss=loss)
    tr = Trainer(c).step(20)
    x = np.linspace(0, 8, 9)
    out = tr.discriminator_curve(x)
    assert out.shape == (3, 9)
    for k in range(3):
        logit = numpy_mlp(tr.D.params, c.d_activations, ((x - c.target_mean) / c.target_std)[:, None], k)[:, 0]
        want = 1 / (1 + np.exp(-logit)) if loss == "bce" else logit
        np.testing.assert_allclose(out[k], want, rtol=1e-12)


def test_discriminator_curve_needs_a_per_value_critic(tiny):
    with pytest.raises(ValueError, match="D sees 'sorted', not single values"):
        Trainer(tiny(features="sorted")).discriminator_curve([1.0])


@pytest.mark.parametrize("generator", ["per_value", "whole_sample"])
def test_sample_shape_and_reproducibility(generator, tiny):
    c = tiny(generator=generator, noise_dim=1 if generator == "per_value" else 3, features="sorted", rounds=10)
    tr = Trainer(c).step(10)
    x = tr.sample(1000)
    assert x.shape == (3, 1000) and x.dtype == np.float64 and np.isfinite(x).all()
    np.testing.assert_array_equal(x, tr.sample(1000))
    np.testing.assert_array_equal(x, Trainer(c).step(10).sample(1000))
    assert tr.sample(7).shape == (3, 7)
    assert not np.array_equal(x[0], x[1])


def test_results_are_the_metrics_of_sample(tiny):
    c = tiny(rounds=30)
    tr = Trainer(c).step(30)
    runs = tr.results(2000)
    m = evaluate(torch.from_numpy(tr.sample(2000)), tr.target)
    assert [r.seed for r in runs] == [5, 6, 7]
    for k, r in enumerate(runs):
        assert isinstance(r, RunResult)
        for name in EVALS:
            assert getattr(r, name) == pytest.approx(float(m[name][k]), rel=1e-12), name
        assert r.success == is_success(r.w1, c.target_std)
        assert r.label == label_run(r.mean, r.std, r.w1, tr.target) and r.label in LABELS
        assert r.diverged_at is None and r.diverged_reason is None


def test_too_many_values_a_run_is_one_line_naming_n_before_any_allocation(tiny, monkeypatch):
    import tracemalloc

    tr = Trainer(tiny(rounds=1))
    # The metrics alone keep 12 float64 arrays of n values: 10**8 values of one run are 9.6 GB, so refusing is
    # right by hand, whatever G's width; the message names the call, not the config.
    for call, name in ((tr.results, "results"), (tr.sample, "sample")):
        tracemalloc.start()
        with pytest.raises(ValueError, match=rf"^{name}\(100000000\) needs about \d+\.\d GiB .*ask for fewer values$"):
            call(10**8)
        assert tracemalloc.get_traced_memory()[1] < 2**20
        tracemalloc.stop()
    # What fits is untouched: 200,000 values a run are 0.2 GB at most.
    assert tr.sample(200_000).shape == (3, 200_000)


def test_train_returns_everything(tiny):
    c = tiny(rounds=40, seeds=2)
    res = train(c, n_final=1000)
    assert isinstance(res, TrainResult) and isinstance(res.trainer, Trainer)
    assert res.history.rounds == 40 and res.history.seeds == [5, 6]
    assert len(res.runs) == 2 and all(r.label in LABELS for r in res.runs)
    assert res.seconds > 0
    assert res.success_rate == sum(r.success for r in res.runs) / 2
    again = Trainer(c).step(40)
    assert res.runs == again.results(1000)


def test_zero_rounds_measures_the_untrained_generator(tiny):
    res = train(tiny(rounds=0), n_final=500)
    assert res.history.rounds == 0 and res.history.d_loss.shape == (3, 0)
    np.testing.assert_array_equal(res.history.eval_round, [0])
    assert len(res.runs) == 3 and all(np.isfinite(r.w1) for r in res.runs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when no GPU is present")
def test_cuda_without_a_gpu_is_a_clear_error(tiny):
    with pytest.raises(ValueError, match="device='cuda' is not available"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="device='cuda:0' is not available"):
        Trainer(tiny(device="cuda:0"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("features", ["value", "sorted"])
def test_cuda_runs_equal_cpu_runs(features, tiny):
    # Same random streams (drawn on the CPU) and float64 arithmetic: GPU and CPU differ only in summation
    # order (~1e-16), which 50 rounds amplify to ~1e-15 in the CPU batched-vs-separate comparisons; 1e-8.
    c = tiny(dtype="float64", rounds=50, features=features)
    gpu = Trainer(c.replace(device="cuda")).step(50)
    cpu = Trainer(c).step(50)
    for k in range(c.seeds):
        ha, hb = gpu.history, cpu.history
        for name in PER_ROUND + EVALS:
            np.testing.assert_allclose(getattr(ha, name)[k], getattr(hb, name)[k], rtol=0, atol=1e-8, err_msg=name)
    np.testing.assert_allclose(gpu.sample(1000), cpu.sample(1000), rtol=0, atol=1e-8)


def test_training_reduces_w1():
    # D on the sorted batch, standardised data, constant Adam 2e-3, 4 runs. At round 0 W1 ~ sqrt(2/pi) std =
    # 0.8 std (G is nearly constant). Measured at round 300 over 6 seed sets: median W1 0.10-0.16 std, i.e.
    # 0.12-0.20 of its start; requiring below half leaves a factor 2.5 of margin.
    c = Config(features="sorted", batch_size=64, g_hidden=(50, 50), d_hidden=(50, 50), lr_decay=1.0,
               d_lr=2e-3, g_lr=2e-3, rounds=300, eval_every=300, eval_samples=1000, seeds=4, seed=0)
    h = Trainer(c).step(300).history
    assert (h.w1[:, 0] > 0.5 * c.target_std).all()
    assert np.median(h.w1[:, -1]) < 0.5 * np.median(h.w1[:, 0])


def test_gp_side_reaches_the_critic_loss(tiny):
    # Same seeds, same batches: the two penalties agree until a slope below 1 is charged, then differ.
    two = Trainer(tiny(loss="wgan-gp", rounds=30)).step(30)
    one = Trainer(tiny(loss="wgan-gp", gp_side="one-sided", rounds=30)).step(30)
    assert not np.allclose(two.history.d_loss, one.history.d_loss)
    # A freshly initialised per-value critic has slopes far below 1 (a few tenths): one-sided it pays
    # nothing, so its first loss is the plain Wasserstein gap, which is far smaller than the two-sided.
    assert np.all(one.history.d_loss[:, 0] < two.history.d_loss[:, 0])


# ----- memory: the estimate, the budget, blocks of runs, reused buffers -----

_PEAK_SCRIPT = r"""
import json, sys
import torch
torch.set_num_threads(1)
from ganlib import Config
from ganlib.train import N_FINAL, Trainer, estimate_memory, train

def status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

config = Config.from_dict(json.loads(sys.argv[1]))
# Warm up torch's kernels and the allocator on a small run of the same kind.
train(config.replace(seeds=1, rounds=min(config.rounds, 2), eval_samples=100), n_final=100)
if sys.argv[2] == "results":
    trainer = Trainer(config).step(config.rounds)
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # the peak (VmHWM) starts again from the current RSS
if sys.argv[2] == "results":
    trainer.results()
else:
    train(config).trainer.sample(N_FINAL)
print(json.dumps({"peak": status("VmHWM") - base, "estimate": estimate_memory(config).peak}))
"""


def measured_peak(config: Config, phase: str = "all") -> dict:
    """Peak resident memory (bytes) a fresh process adds for `train(config)` + `sample()`, or for `results()`."""
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak resident memory")
    proc = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, json.dumps(config.to_dict()), phase],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode != 0 and "clear_refs" in proc.stderr:
        pytest.skip("cannot reset the peak resident memory here")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# Configs where each part of the estimate dominates in turn (300-800 MB each); eval_every=1 keeps the
# chunk buffers to one round where they are not the part under test.
MEMORY_CASES = {
    "evaluation noise": dict(seeds=100, noise_dim=64, eval_samples=10_000, rounds=1, eval_every=1),
    "training batch": dict(seeds=4, features="value", sets=16, batch_size=4096, rounds=2, eval_every=1),
    "final samples": dict(seeds=1024, g_hidden=(8, 8), d_hidden=(8, 8), rounds=2, eval_samples=100, eval_every=1),
    "random numbers": dict(seeds=64, batch_size=200, g_hidden=(8, 8), d_hidden=(8, 8), rounds=200,
                           eval_every=200, eval_samples=100),
    "wgan-gp": dict(seeds=4, loss="wgan-gp", features="value", sets=8, batch_size=4096, rounds=2, eval_every=1),
    # Minibatch discrimination: the pairs of values in a batch (512^2 x B x C per run) dominate.
    "minibatch": dict(seeds=4, features="minibatch", batch_size=512, rounds=2, eval_every=1),
    # A critic warm-up of 500 D steps a round: its chunks' random numbers dominate although d_steps is 1 (measured
    # 311 MB; an estimate for d_steps alone says 258 MB).
    "critic warm-up": dict(seeds=32, batch_size=400, g_hidden=(8, 8), d_hidden=(8, 8), rounds=3, eval_every=3,
                           eval_samples=100, critic_warmup=(500, 2, 0)),
    # R1's graph of the gradient at the real inputs, and each pass's normalised copy of D's weights (issue 26).
    "r1-spectral-norm": dict(seeds=4, features="value", sets=8, batch_size=4096, rounds=2, eval_every=1,
                             d_penalty="r1", spectral_norm=True),
}
# The part that dominates in each case named after something else.
_LARGEST = {"wgan-gp": "training batch", "minibatch": "training batch", "critic warm-up": "random numbers",
            "r1-spectral-norm": "training batch"}


@pytest.mark.parametrize("case", sorted(MEMORY_CASES))
def test_memory_estimate_bounds_the_measured_peak(case):
    c = Config(**MEMORY_CASES[case])
    assert estimate_memory(c).largest == _LARGEST.get(case, case)
    got = measured_peak(c)
    # The estimate counts each phase's tensors as if all were alive at once, plus what the C allocator keeps
    # (_ALLOCATOR_SLACK). It must not fall below what the process takes: a config under the budget must really
    # fit. And the tensors it counts beside those alive at the peak (gradients, feature copies, temporaries)
    # are made from them and no larger, so the count is at most twice what is measured.
    tensors = got["estimate"] - train_module._ALLOCATOR_SLACK
    assert got["peak"] <= got["estimate"] and tensors <= 2 * got["peak"], got


def test_results_of_many_runs_stay_within_the_block_memory():
    # 1024 runs x 10,000 values: measured all at once this took over 1.5 GB (G's activations and a dozen float64
    # arrays of 10M values). By blocks of runs it takes one block's temporaries (at most _BLOCK_BYTES), what the
    # allocator keeps (_ALLOCATOR_SLACK) and the 1024 results (about 1 MB).
    c = Config(seeds=1024, g_hidden=(8, 8), d_hidden=(8, 8), rounds=1, eval_samples=100)
    got = measured_peak(c, "results")
    assert got["peak"] < train_module._BLOCK_BYTES + train_module._ALLOCATOR_SLACK, got


@pytest.mark.parametrize(("dtype", "atol"), [("float64", 1e-12), ("float32", 1e-5)])
def test_measuring_by_blocks_equals_measuring_all_runs_at_once(dtype, atol, tiny, monkeypatch):
    # Blocks of one run against one block of all runs. Each run's values are the same sums in another BLAS order
    # (see test_models): ~1e-16 relative in float64 and ~1e-7 in float32, which W1, moments and KS inherit.
    c = tiny(dtype=dtype, rounds=30, eval_every=10, seeds=5)
    whole = Trainer(c).step(30)
    assert len(whole._blocks(c.eval_samples)) == 1
    whole_history, whole_sample, whole_results = whole.history, whole.sample(3000), whole.results(3000)
    monkeypatch.setattr(train_module, "_BLOCK_BYTES", 1)
    blocks = Trainer(c).step(30)
    assert len(blocks._blocks(c.eval_samples)) == 5
    # Skew and kurtosis are third and fourth powers of standardised values: a value's rounding delta becomes
    # about k * E|z|^(k-1) * delta / std, and a narrow run (std well below its values' size, early in training)
    # magnifies it. Ten times the values' bound covers them (torch 2.4's float32 kurtosis: 1.2e-5 apart).
    tol = {name: atol * (10 if name in ("skew", "kurtosis") else 1) for name in EVALS}
    for name in EVALS:
        np.testing.assert_allclose(getattr(blocks.history, name), getattr(whole_history, name), rtol=0,
                                   atol=tol[name], err_msg=name)
    np.testing.assert_allclose(blocks.sample(3000), whole_sample, rtol=0, atol=atol)
    for a, b in zip(blocks.results(3000), whole_results):
        assert (a.seed, a.label, a.success) == (b.seed, b.label, b.success)
        for name in EVALS:
            assert getattr(a, name) == pytest.approx(getattr(b, name), abs=tol[name]), name


@pytest.mark.parametrize(("changes", "part", "reduce"), [
    # The config: 23.5 GB, killed by the OOM killer after 194 s.
    (dict(rounds=10, seeds=1, eval_samples=1_000_000, batch_size=100_000, sets=1024), "training batch", "sets"),
    (dict(seeds=4096, eval_samples=1_000_000), "evaluation noise", "eval_samples"),
    (dict(seeds=4096, rounds=100_000), "history", "rounds"),
    (dict(seeds=400, g_hidden=(1024,) * 4, g_activations=("elu",) * 4), "networks", "g_hidden"),
])
def test_configs_over_the_budget_are_refused_before_allocating(changes, part, reduce):
    c = Config(**changes)
    est = estimate_memory(c)
    assert est.peak > MEMORY_BUDGET and est.largest == part
    t0 = time.perf_counter()
    for make in (Trainer, train):
        with pytest.raises(ValueError) as exc:
            make(c)
        message = str(exc.value)
        assert "\n" not in message and part in message and reduce in message and "GiB" in message
    # Refused from arithmetic alone: nothing was allocated or trained (a training would take minutes).
    assert time.perf_counter() - t0 < 1.0


def test_every_accepted_default_run_count_fits_the_budget():
    # MAX_SEEDS runs of the recommended default (seeds=4096 trained, then results() asked for 8.2 GB at once).
    assert estimate_memory(Config(seeds=4096)).peak < MEMORY_BUDGET
    sizes = [estimate_memory(Config(seeds=k)).peak for k in (1, 10, 100, 1000, 4096)]
    assert sizes == sorted(sizes)


def test_random_numbers_are_drawn_into_the_same_buffers_every_chunk(tiny):
    c = tiny(rounds=100, eval_every=10, loss="wgan-gp")
    tr = Trainer(c).step(10)
    ptrs = {name: t.data_ptr() for name, t in tr._chunk.items()}
    assert set(ptrs) == {"u", "real", "z_d", "z_g", "eps"}
    tr.step(50)
    assert {name: t.data_ptr() for name, t in tr._chunk.items()} == ptrs
    # A live change of the layout (more D steps a round) makes new buffers once, and the streams go on unchanged.
    tr.set(d_steps=2)
    tr.step(20)
    again = Trainer(c).step(60)
    again.set(d_steps=2)
    again.step(20)
    assert_run_equal(tr, 1, again, 1, atol=0)


_GROWTH_SCRIPT = r"""
import torch
torch.set_num_threads(1)
from ganlib import Config, Trainer

def rss():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024

tr = Trainer(Config(seeds=10, rounds=2000, eval_every=10, g_hidden=(16, 16), d_hidden=(16, 16)))
tr.step(500)
before = rss()
tr.step(1500)
print(rss() - before)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_memory_does_not_grow_with_rounds():
    # Before the chunk buffers were reused and the history grew by doubling, each chunk's large temporaries
    # were allocated between small long-lived arrays and the heap fragmented: measured +125 MB over these
    # 1,500 rounds of 150 chunks (83 KB a round), and 249 -> 697 MB over 50,000 rounds of the default config.
    # Now the history itself grows by 10 runs x 4 numbers x 8 bytes a round (0.5 MB here); 24 MB allows for
    # the allocator's own bookkeeping.
    proc = subprocess.run([sys.executable, "-c", _GROWTH_SCRIPT], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) < 24 * 2**20


def test_an_allocation_failure_becomes_a_one_line_memory_error(tiny, monkeypatch):
    tr = Trainer(tiny())

    def fail(n):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                           "memory: you tried to allocate 1280000000 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(tr, "_run_chunk", fail)
    with pytest.raises(MemoryError) as exc:
        tr.step(5)
    message = str(exc.value)
    assert "\n" not in message and "out of memory while training" in message and "1.19 GiB" in message
    assert exc.value.__cause__ is None and exc.value.__suppress_context__

    def other(n):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(tr, "_run_chunk", other)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        tr.step(5)


# ----- divergence by scale -----

def test_a_run_that_runs_off_is_diverged_with_a_reason(tiny):
    from ganlib.widgets import divergence_message

    c = tiny(rounds=40, eval_every=10, seeds=3)
    tr = Trainer(c).step(10)
    clean = Trainer(c).step(10)
    with torch.no_grad():
        # G's output bias of run 1 at 500: its samples sit 500 target std above the target (G works in std units).
        tr.G.params[-1][1].fill_(500.0)
    tr.step(10)
    assert tr.diverged_at == [None, 20, None]
    reason = tr.diverged_reason[1]
    assert "ran off" in reason and "target std" in reason and "round 20" in reason and f"{DIVERGED_SCALE:g}" in reason
    runs = tr.results(500)
    assert [r.label for r in runs][1] == "diverged" and not runs[1].success and runs[1].diverged_at == 20
    assert runs[1].diverged_reason == reason
    assert "1 of 3 run(s) diverged (seed 6: G's samples ran off" in divergence_message(tr)
    # The other runs are untouched.
    clean.step(10)
    assert_run_equal(tr, 0, clean, 0, atol=0)


def test_results_mark_a_run_that_ran_off_after_the_last_evaluation(tiny):
    tr = Trainer(tiny(rounds=20, eval_every=10)).step(20)
    with torch.no_grad():
        tr.G.params[-1][2].fill_(-1e3)
    runs = tr.results(500)
    assert runs[2].label == "diverged" and runs[2].diverged_at == 20 and "ran off" in runs[2].diverged_reason
    assert tr.diverged_at[2] == 20 and train(tiny(rounds=20, eval_every=10), n_final=500).history.diverged_at[2] is None


def test_a_generator_that_starts_far_from_an_unscaled_target_has_not_diverged(tiny):
    # normalize=False and a target 10,000 std from 0: the untrained G (outputs near 0) starts beyond the bound;
    # not reaching the target is drifting, not diverging.
    res = train(tiny(normalize=False, target_mean=1e4, target_std=1.0, rounds=30, eval_every=10), n_final=500)
    assert all(d is None for d in res.history.diverged_at)
    assert all(r.label != "diverged" for r in res.runs)


def test_history_and_runs_agree_on_divergence(tiny):
    # train() measures the runs before taking the history, so a run marked at the end shows in both.
    res = train(tiny(rounds=20, eval_every=10), n_final=500)
    assert res.history.diverged_at == [r.diverged_at for r in res.runs]


def test_a_run_beside_127_others_agrees_with_the_run_alone_up_to_rounding(tiny):
    # The README's claim. float64: the batch of 128 and the single run differ only in BLAS summation order, ~1e-16
    # per product, amplified to ~5e-14 over 200 rounds (measured with the default nets); 1e-10 leaves room while a
    # shifted random stream or mixed runs would differ at the 1e-2 level. float32: G's weights after 50 rounds
    # differed by 1.2e-7 (measured), so 1e-5.
    for dtype, atol in (("float64", 1e-10), ("float32", 1e-5)):
        c = tiny(dtype=dtype, seeds=128, seed=0, rounds=200 if dtype == "float64" else 50)
        many = Trainer(c).step(c.rounds)
        for k in (0, 77):
            alone = Trainer(c.replace(seeds=1, seed=k)).step(c.rounds)
            assert_run_equal(many, k, alone, 0, atol=atol, shape_atol=100 * atol)


def test_a_live_change_over_the_memory_budget_is_refused(tiny):
    # 100 D steps a round need 100 times the random numbers: 3.4 M a round per run, 64 runs, beyond 4 GiB.
    tr = Trainer(tiny(seeds=64, sets=16, batch_size=1024, features="sorted", eval_samples=100))
    before = tr.config
    assert estimate_memory(before.replace(d_steps=100)).peak > MEMORY_BUDGET
    with pytest.raises(ValueError, match="more than the 4 GiB budget.*random numbers"):
        tr.set(d_steps=100)
    assert tr.config == before
    tr.set(d_steps=2)
    assert tr.config.d_steps == 2 and tr.memory.peak == estimate_memory(tr.config).peak


def test_history_since_returns_exactly_what_was_recorded_after_a_point(tiny) -> None:
    tr = Trainer(tiny(rounds=60, eval_every=20))
    tr.step(30)
    first = tr.history
    tr.step(30)
    per_round, eval_round, evals = tr.history_since(first.rounds, first.eval_round.size)
    whole = tr.history
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_array_equal(per_round[name], getattr(whole, name)[:, first.rounds:])
        assert not per_round[name].flags.writeable  # a view into the live buffers: read-only
    np.testing.assert_array_equal(eval_round, whole.eval_round[first.eval_round.size:])
    for name in ("mean", "std", "skew", "kurtosis", "w1", "ks"):
        np.testing.assert_array_equal(evals[name], getattr(whole, name)[:, first.eval_round.size:])
    empty, no_rounds, _ = tr.history_since(whole.rounds, whole.eval_round.size)
    assert empty["d_loss"].shape == (tr.k, 0) and no_rounds.size == 0


# ----- two modes and minibatch discrimination -----

def test_the_trainer_trains_on_the_configured_separation(tiny):
    tr = Trainer(tiny(target="mixture", mixture_separation=0.97, target_mean=-2.0, target_std=0.5))
    assert tr.target.separation == 0.97 and (tr.target.mean, tr.target.std) == (-2.0, 0.5)
    rnd = tr._draw_chunk(3)
    real = rnd["real"].double().flatten()
    # Standardised real data of s = 0.97: every value within 6 component std (0.24) of -0.97 or +0.97.
    near = ((real.abs() - 0.97).abs() < 6 * math.sqrt(1 - 0.97**2))
    assert near.all() and (real > 0).any() and (real < 0).any()


def test_history_and_results_carry_the_mass_near_each_mode(tiny):
    from ganlib.metrics import mode_masses

    tr = Trainer(tiny(target="mixture", mixture_separation=0.96, rounds=50, eval_every=25)).step(50)
    h = tr.history
    assert h.mass_low.shape == h.gap_mass.shape == (3, 3)
    assert np.all((h.mass_low >= 0) & (h.mass_low + h.mass_high + h.gap_mass <= 1 + 1e-12))
    runs = tr.results(2000)
    m = mode_masses(torch.from_numpy(tr.sample(2000)), tr.target)
    for k, r in enumerate(runs):
        assert (r.mass_low, r.mass_high, r.gap_mass) == pytest.approx(
            (m["mass_low"][k].item(), m["mass_high"][k].item(), m["gap_mass"][k].item()), abs=1e-12)
        assert r.label == label_run(r.mean, r.std, r.w1, tr.target, False, r.mass_low, r.mass_high)
    # A normal target has no modes to count.
    normal = Trainer(tiny(rounds=0)).results(200)
    assert all(math.isnan(r.mass_low) and math.isnan(r.gap_mass) for r in normal)


def test_a_generator_on_one_mode_is_labelled_mode_dropped(tiny):
    tr = Trainer(tiny(target="mixture", mixture_separation=0.96, rounds=0, seeds=2))
    # G set by hand (standardised units): hidden unit 0 carries z through elu, then sigmoid(4 z), which runs
    # from 0.5 to 0.982; the output 1.245 sigmoid(4 z) + 0.0375 covers [0.66, 1.26], inside the upper mode's
    # window 0.96 +- 2 x 0.28, with a spread of about a component's (std 0.17, above the collapse line 0.1).
    with torch.no_grad():
        for p in tr.G.params:
            p.zero_()
        tr.G.params[0][:, 0, 0] = 1.0
        tr.G.params[2][:, 0, 0] = 4.0
        tr.G.params[4][:, 0, 0] = 1.245
        tr.G.params[5].fill_(0.0375)
    runs = tr.results(4000)
    assert [r.label for r in runs] == ["mode dropped", "mode dropped"]
    assert all(r.mass_low == 0.0 and r.mass_high > 0.9 for r in runs)


def test_minibatch_discrimination_trains_and_draws_a_curve_in_a_batch_of_gs_values(tiny):
    from ganlib.models import MinibatchDiscriminator

    tr = Trainer(tiny(features="minibatch", rounds=20, eval_every=10, dtype="float64"))
    assert isinstance(tr.D, MinibatchDiscriminator) and tr.D.group == 16
    before = [p.detach().clone() for p in tr.D.params]
    tr.step(20)
    assert all(not torch.equal(a, b) for a, b in zip(before, tr.D.params))  # T trains too
    x = np.linspace(0, 8, 11)
    curve = tr.discriminator_curve(x)
    assert curve.shape == (3, 11) and np.all((curve > 0) & (curve < 1))
    # The curve is D's output at x joined with 15 of G's values from the evaluation noise.
    rest = tr.G(tr._z_eval[:, :15]).detach()
    xt = torch.from_numpy((x - 4.0) / 1.25).view(1, -1, 1).expand(3, -1, 1)
    for q in (0, 5):
        batch = torch.cat([xt[:, q : q + 1], rest], 1)
        want = torch.sigmoid(tr.D(batch)[:, 0, 0]).detach().numpy()
        np.testing.assert_allclose(curve[:, q], want, rtol=0, atol=1e-12)
    assert np.array_equal(curve, tr.discriminator_curve(x))  # the same batch every call


def test_the_memory_estimate_counts_minibatch_discrimination():
    base = Config(seeds=8, batch_size=256, rounds=2, eval_every=1)
    plain, mbd = estimate_memory(base.replace(features="value")), estimate_memory(base.replace(features="minibatch"))
    # The pairs: 8 runs x 256^2 values x 5 kernels x (2 x 3 + 2) numbers of 4 bytes, per D pass (at least two).
    pairs = 8 * 256 * 256 * 5 * 8 * 4
    assert mbd.parts["training batch"] - plain.parts["training batch"] >= 2 * pairs
    # T and the second layer's 5 extra inputs: (50 x 5 x 3 + 5 x 50) x 8 runs x 4 copies (Adam) x 4 bytes.
    assert mbd.parts["networks"] - plain.parts["networks"] == (50 * 15 + 5 * 50) * 8 * 4 * 4
    with pytest.raises(ValueError, match="training batch"):
        Trainer(Config(features="minibatch", batch_size=4096, seeds=8))


# ----- issue 31: counts refused in one line, numpy integers accepted -----

@pytest.mark.parametrize("call", ["sample", "results", "train"])
@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_a_measurement_of_fewer_than_one_value_is_one_line(call, n, tiny):
    config = tiny(rounds=2, seeds=2)
    # 2.5 and True are not whole numbers; 0 and -1 are, but too few.
    whole = "" if isinstance(n, int) and not isinstance(n, bool) else "whole "
    with pytest.raises(ValueError, match=rf"is not allowed: a {whole}number of values >= 1$") as exc:
        if call == "train":
            train(config, n_final=n)
        else:
            getattr(Trainer(config), call)(n)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(("call", "n", "text"), [
    ("step", 2.0, "n=2.0 is not allowed: a whole number of rounds >= 0"),
    ("step", -1, "n=-1 is not allowed: a number of rounds >= 0"),
    ("sample", 2.5, "n=2.5 is not allowed: a whole number of values >= 1"),
])
def test_a_count_that_is_no_whole_number_is_told_so(call, n, text, tiny):
    # `n=2.0 is not allowed: a number of rounds >= 0` did not say what was wrong with 2.0 (issue 31 QA).
    with pytest.raises(ValueError) as exc:
        getattr(Trainer(tiny(rounds=2, seeds=1)), call)(n)
    assert str(exc.value) == text


def test_numpy_integers_count_like_ints(tiny):
    a, b = Trainer(tiny(rounds=4, seeds=2)), Trainer(tiny(rounds=4, seeds=2))
    a.step(np.int64(2))
    b.step(2)
    assert a.round == b.round == 2
    np.testing.assert_array_equal(a.sample(np.int32(50)), b.sample(50))
    assert [r.w1 for r in a.results(np.int64(100))] == [r.w1 for r in b.results(100)]


def test_every_stream_of_every_run_of_a_sweep_draws_its_own_numbers() -> None:
    # torch's CPU generator keeps only the low 32 bits of a seed (seeds 5 and 5 + 2**40 draw alike), so the
    # stream seeds must differ there: over 4096 consecutive run seeds, even near the 32-bit wrap, all differ.
    from ganlib.config import MAX_STREAMS, stream_seed
    from ganlib.train import _STREAMS, _stream_generators

    g = lambda s: torch.rand(2, generator=torch.Generator().manual_seed(s), dtype=torch.float64)  # noqa: E731
    assert torch.equal(g(5), g(5 + 2**40))  # the behaviour the stream seeds work around
    for first in (0, 2**32 - 2048):
        seeds = {stream_seed(first + k, i) for k in range(4096) for i in range(MAX_STREAMS)}
        assert len(seeds) == 4096 * MAX_STREAMS and all(0 <= s < 2**32 for s in seeds)
    firsts = {torch.rand(1, generator=_stream_generators([5], s)[0], dtype=torch.float64).item() for s in _STREAMS}
    assert len(firsts) == len(_STREAMS)
    with pytest.raises(ValueError, match="index=8"):
        stream_seed(0, MAX_STREAMS)


# ----- issue 27: G's push on each of its values, -dL_G/dx -----

def _softplus(v: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, v)


def _g_loss_by_hand(out: np.ndarray, config: Config) -> np.ndarray:
    """G's loss on D's outputs, written out: -log D, log(1 - D) with D = sigmoid(out), or -f."""
    if config.loss != "bce":
        return -out
    return _softplus(-out) if config.g_objective == "non-saturating" else -_softplus(out)


def _moments_by_hand(batch: np.ndarray) -> np.ndarray:
    """Mean, std (with the feature map's 1e-8 under the root), skew and excess kurtosis of one batch."""
    m = batch.mean()
    sd = np.sqrt(((batch - m) ** 2).mean() + 1e-8)
    z = (batch - m) / sd
    return np.array([m, sd, (z**3).mean(), (z**4).mean() - 3.0])


# Central differences in float64 with h = 1e-5 target std when D judges each value: D's curve varies on
# the scale of the target's std (G and D work in standardised units), so the truncation error
# h^2 |L'''| / 6 is ~1e-10 of the slope and the rounding error 1e-16 |L| / h ~1e-11. 1e-6 of the
# largest push (plus 1e-7 relative) then separates a right derivative from any wrong factor, sign or term.
_FD_STEP = 1e-5


@pytest.mark.parametrize("changes", [dict(), dict(g_objective="minimax"), dict(loss="wgan"),
                                     dict(loss="wgan-gp", normalize=False)])
def test_generator_push_is_minus_the_derivative_of_each_values_own_loss(changes, tiny, numpy_mlp):
    c = tiny(dtype="float64", rounds=40, **changes)
    tr = Trainer(c).step(40)
    values, push = tr.generator_push(12)
    assert values.shape == push.shape == (3, 12)
    loc, scale = (c.target_mean, c.target_std) if c.normalize else (0.0, 1.0)
    h = _FD_STEP * c.target_std
    for k in range(3):
        # The values: G's output on the first 12 evaluation noise values, by hand.
        g = numpy_mlp(tr.G.params, c.g_activations, tr._z_eval[k, :12].numpy(), k)[:, 0]
        np.testing.assert_allclose(values[k], g * scale + loc, rtol=1e-12)

        def loss(x: np.ndarray, k: int = k) -> np.ndarray:
            return _g_loss_by_hand(numpy_mlp(tr.D.params, c.d_activations, ((x - loc) / scale)[:, None], k)[:, 0], c)

        fd = -(loss(values[k] + h) - loss(values[k] - h)) / (2 * h)
        np.testing.assert_allclose(push[k], fd, rtol=1e-7, atol=1e-6 * np.abs(fd).max())
    assert np.abs(push).max() > 0


@pytest.mark.parametrize("changes", [dict(features="moments"), dict(features="moments", loss="wgan")])
def test_generator_push_runs_through_a_batch_features(changes, tiny, numpy_mlp):
    # D sees each batch's four moments: moving one value changes its batch's moments, so its push is
    # the derivative of its batch's loss through them. Two whole batches of 16; the oracle moves one
    # value of each at a time.
    c = tiny(dtype="float64", rounds=40, **changes)
    tr = Trainer(c).step(40)
    values, push = tr.generator_push(2 * c.batch_size)
    loc, scale = c.target_mean, c.target_std
    for k in range(3):
        # The moments vary on the scale of the batch's own spread (a G that has collapsed to a
        # thousandth of the target's std varies them a thousand times faster): h is a fraction of it,
        # 1e-4 (truncation (h / spread)^2 ~ 1e-8 relative, rounding 1e-16 / 1e-4 = 1e-12).
        h = 1e-4 * values[k].reshape(-1, c.batch_size).std(1).min()
        def loss(batch: np.ndarray, k: int = k) -> float:
            feats = _moments_by_hand((batch - loc) / scale)[None, :]
            return float(_g_loss_by_hand(numpy_mlp(tr.D.params, c.d_activations, feats, k)[:, 0], c)[0])

        fd = np.empty(values.shape[1])
        for j in range(values.shape[1]):
            b = j // c.batch_size
            batch = values[k, b * c.batch_size:(b + 1) * c.batch_size].copy()
            i = j % c.batch_size
            batch[i] += h
            up = loss(batch)
            batch[i] -= 2 * h
            fd[j] = -(up - loss(batch)) / (2 * h)
        np.testing.assert_allclose(push[k], fd, rtol=1e-7, atol=1e-6 * np.abs(fd).max())
        # Moments couple a batch's values: the pushes are not one function of the value alone.
        assert np.abs(fd).max() > 0


def test_generator_push_is_reproducible_and_picks_runs(tiny):
    c = tiny(dtype="float64", rounds=30, features="sorted")
    a, b = Trainer(c).step(30), Trainer(c).step(30)
    va, pa = a.generator_push(32)
    vb, pb = b.generator_push(32)
    np.testing.assert_array_equal(va, vb)
    np.testing.assert_array_equal(pa, pb)
    again = a.generator_push(32)
    np.testing.assert_array_equal(again[1], pa)  # the same noise every call
    one = a.generator_push(32, runs=slice(1, 2))
    assert one[0].shape == (1, 32)
    np.testing.assert_allclose(one[1][0], pa[1], rtol=1e-12, atol=1e-15)
    # Training moves the values and changes the push.
    a.step(10)
    assert not np.array_equal(a.generator_push(32)[0], va)


@pytest.mark.parametrize("n, runs, text", [
    (0, None, "n=0 is not allowed: a number of values >= 1"),
    (2.5, None, "n=2.5 is not allowed"),
    (True, None, "n=True is not allowed"),
    (201, None, "n=201 is not allowed: at most 200 values"),
    (193, "sorted", "at most 192 values (the evaluation noise's in whole batches of 16)"),
    (10, slice(3, 5), "runs=slice(3, 5, None) is not allowed"),
    (10, 1, "runs=1 is not allowed"),
])
def test_generator_push_refuses_bad_counts_and_runs_in_one_line(n, runs, text, tiny):
    tr = Trainer(tiny(rounds=2, features="sorted" if runs == "sorted" else "value"))
    with pytest.raises(ValueError) as exc:
        tr.generator_push(n, runs=None if runs == "sorted" else runs)
    assert text in str(exc.value) and "\n" not in str(exc.value)


# ----- issue 26: the R1 penalty and spectral normalisation of D -----

def _hand_r1_grads(params: list[torch.Tensor], acts: tuple[str, ...], x: torch.Tensor, gamma: float) -> list:
    """d/dtheta of gamma/2 mean_i |grad_x D(x_i)|^2 for one run's D (params per layer (fan_in, fan_out), (1, fan_out)).

    grad_x D is written out by the chain rule (backward through each layer by hand: elu'(a) = 1 for a > 0 else
    exp(a)); autograd then differentiates that explicit expression once, with respect to the parameters.
    """
    theta = [p.detach().clone().requires_grad_(True) for p in params]
    n_layers = len(theta) // 2
    pre = []
    h = x
    for i in range(n_layers):
        a = h @ theta[2 * i] + theta[2 * i + 1]
        if i < n_layers - 1:
            assert acts[i] == "elu"
            pre.append(a)
            h = torch.nn.functional.elu(a)
    g = theta[-2][:, 0].expand(x.shape[0], -1)  # dD/d(last hidden) = the last weight column
    for i in reversed(range(n_layers - 1)):
        a = pre[i]
        g = (g * torch.where(a > 0, torch.ones_like(a), torch.exp(a))) @ theta[2 * i].T
    penalty = 0.5 * gamma * (g * g).sum(-1).mean()
    return list(torch.autograd.grad(penalty, theta, allow_unused=True, materialize_grads=True))


@pytest.mark.parametrize("gamma", [1e-6, 1.0])
@pytest.mark.parametrize(("features", "loss"), [("value", "bce"), ("sorted", "bce"), ("moments", "wgan-gp")])
def test_one_sgd_step_with_r1_differs_from_none_by_minus_lr_times_the_hand_r1_gradient(gamma, features, loss, tiny):
    # With plain SGD, D after one round is theta0 - lr (grad L + grad R1) with R1 and theta0 - lr grad L without:
    # the same start, batch and loss gradient (R1 draws no random numbers), so the difference is -lr grad R1 at the
    # first real batch, on D's input features (logits for bce, critic values for wgan-gp), whatever gamma.
    c = tiny(dtype="float64", rounds=1, features=features, loss=loss, d_optimizer="sgd", d_lr=0.05, seeds=2)
    plain = Trainer(c)
    d0 = [p.detach().clone() for p in plain.D.params]
    real = Trainer(c)._draw_chunk(1)["real"][:, 0, 0]  # the first D step's real batch (K, sets, batch_size)
    plain.step(1)
    r1 = Trainer(c.replace(d_penalty="r1", r1_gamma=gamma)).step(1)
    inputs = get_feature_map(features)(real)
    for k in range(c.seeds):
        want = _hand_r1_grads([p[k] for p in d0], c.d_activations, inputs[k], gamma)
        for p, q, g in zip(r1.D.params, plain.D.params, want):
            # float64: both runs round theta0 - lr g_L (|theta| < 1) alike, and lr g_R1 to 1 ulp of |theta|: 1e-15.
            np.testing.assert_allclose((p[k] - q[k]).detach().numpy(), -c.d_lr * g.detach().numpy(), rtol=0, atol=1e-15)
        # The change R1 makes is a thousand times the tolerance at least, even at gamma 1e-6: the check sees it.
        assert c.d_lr * max(float(g.abs().max()) for g in want) > 1e3 * 1e-15


def test_r1_and_spectral_norm_keep_gs_start_ds_weights_and_every_random_stream(tiny):
    # Common random numbers: R1 draws nothing, spectral norm draws its u from the D stream after D's weights.
    base = tiny(dtype="float64", features="sorted", rounds=30, eval_every=10)
    for changes in (dict(d_penalty="r1"), dict(spectral_norm=True), dict(d_penalty="r1", spectral_norm=True)):
        plain, other = Trainer(base), Trainer(base.replace(**changes))
        for p, q in zip(plain.G.params + plain.D.params, other.G.params + other.D.params):
            assert torch.equal(p, q), changes
        assert torch.equal(plain._z_eval, other._z_eval)
        ca, cb = plain._draw_chunk(3), other._draw_chunk(3)
        for name in ca:
            assert torch.equal(ca[name], cb[name]), (changes, name)
        other.step(7)
        a = Trainer(base)
        a._draw_chunk(3)  # as `other` did above
        a.step(7)
        for ga, gb in zip(a._data_gens, other._data_gens):
            assert torch.equal(ga.get_state(), gb.get_state()), changes
        assert other.D.spectral_norm == changes.get("spectral_norm", False)
    assert not plain.D.spectral_norm


def test_r1_and_spectral_norm_give_each_seed_the_same_numbers_in_any_batch(tiny):
    # Same K: a run's numbers are bit-identical whichever runs train beside it (seed 6 is run 1 from seed 5, and a
    # seed given twice trains twice alike). Alone against a batch, BLAS may sum in another order: F64_CASES.
    c = tiny(features="sorted", d_penalty="r1", r1_gamma=3.0, spectral_norm=True, rounds=40, eval_every=20)
    a, b = Trainer(c).step(40), Trainer(c.replace(seed=6)).step(40)
    assert_run_equal(a, 1, b, 0, atol=0)
    assert_run_equal(a, 2, b, 1, atol=0)
    for i in range(a.D.n_layers):
        assert torch.equal(a.D.sn_u[i][1:], b.D.sn_u[i][:2])
    twice = Trainer(c, run_seeds=[9, 9, 2]).step(40)
    assert_run_equal(twice, 0, twice, 1, atol=0)
    again = Trainer(c).step(40)
    assert_run_equal(a, 0, again, 0, atol=0)
    np.testing.assert_array_equal(a.sample(300), again.sample(300))


def test_evaluations_do_not_advance_spectral_norm(tiny):
    c = tiny(dtype="float64", spectral_norm=True, d_penalty="r1", rounds=40, eval_every=20)
    whole = Trainer(c).step(40)
    looked = Trainer(c).step(20)
    u = [v.clone() for v in looked.D.sn_u]
    looked.sample(200)
    looked.results(200)
    looked.discriminator_curve(np.linspace(0.0, 8.0, 9))
    looked.generator_push(16)
    _ = looked.history
    assert all(torch.equal(a, b) for a, b in zip(u, looked.D.sn_u))
    looked.step(20)
    for p, q in zip(params_of(whole), params_of(looked)):
        assert torch.equal(p, q)
    for a, b in zip(whole.D.sn_u, looked.D.sn_u):
        assert torch.equal(a, b)


def test_spectral_norm_keeps_every_layer_of_the_trained_d_at_spectral_norm_near_one(tiny):
    # One power iteration per D update tracks the largest singular value as the weights move: after 200 updates
    # the weights D uses have spectral norm near 1 (the estimate lags by one small Adam step, and a slow gap
    # between the top two singular values slows the iteration, so a loose 5% here; a hand check: 0.9999 to 1.01).
    c = tiny(dtype="float64", spectral_norm=True, features="sorted", rounds=200)
    tr = Trainer(c).step(200)
    used = tr.D._params_for(None)
    for i in range(tr.D.n_layers):
        norms = torch.linalg.matrix_norm(used[2 * i].detach(), 2).numpy()
        np.testing.assert_allclose(norms, 1.0, atol=0.05)
    # Without it, the same D's layers are not normalised.
    plain = Trainer(c.replace(spectral_norm=False)).step(200)
    assert any(abs(float(n) - 1) > 0.1 for w in plain.D.weights for n in torch.linalg.matrix_norm(w.detach(), 2))


def test_memory_estimate_counts_r1_and_spectral_norm(tiny):
    base = Config(seeds=4, features="value", sets=8, batch_size=4096, rounds=2, eval_every=1)
    plain = estimate_memory(base).parts["training batch"]
    assert estimate_memory(base.replace(d_penalty="r1")).parts["training batch"] > plain
    assert estimate_memory(base.replace(spectral_norm=True)).parts["training batch"] > plain
