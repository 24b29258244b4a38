"""ganlib.features: shapes, values against numpy/scipy, gradients, name lookup."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from ganlib.features import FEATURE_MAPS, feature_size, get_feature_map, moments

K, M, S = 2, 3, 7
# (N, F) of D's inputs for samples of shape (K, M, S), worked out from each map's definition.
EXPECTED = {
    "value": (M * S, 1),
    "batch": (M, S),
    "sorted": (M, S),
    "diffs": (M, 2 * S),
    "meanstd": (M, 2),
    "moments": (M, 4),
    "batch+moments": (M, S + 4),
    "sorted+meanstd": (M, S + 2),
    "sorted_real": (M, S),
    "minibatch": (M * S, 1),  # one value per input; the cross-sample features are computed inside D
}


@pytest.fixture
def x():
    # Spread-out values (variance ~ 4): the 1e-8 variance epsilon is negligible next to them.
    g = torch.Generator().manual_seed(0)
    return (torch.randn(K, M, S, generator=g, dtype=torch.float64) * 2 + 3) ** 2 / 4


def test_every_map_is_listed():
    assert set(FEATURE_MAPS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shape_and_size(name, x):
    fm = get_feature_map(name)
    out = fm(x)
    assert out.shape == (K, *EXPECTED[name])
    assert fm.size(S) == EXPECTED[name][1] == feature_size(name, S)
    assert fm.per_value == (name in ("value", "minibatch"))
    assert fm.cross_sample == (name == "minibatch")
    assert out.dtype == x.dtype


def test_raw_maps_against_numpy(x):
    a = x.numpy()
    np.testing.assert_array_equal(get_feature_map("value")(x).numpy()[..., 0], a.reshape(K, M * S))
    np.testing.assert_array_equal(get_feature_map("batch")(x).numpy(), a)
    np.testing.assert_array_equal(get_feature_map("sorted")(x).numpy(), np.sort(a, -1))
    dev = a - a.mean(-1, keepdims=True)
    np.testing.assert_allclose(get_feature_map("diffs")(x).numpy(), np.concatenate([a, dev**2], -1), rtol=1e-14)


def numpy_moments(a):
    return np.stack([a.mean(-1), a.std(-1), stats.skew(a, -1, bias=True), stats.kurtosis(a, -1, bias=True)], -1)


def test_moment_maps_against_numpy_and_scipy(x):
    a = x.numpy()
    want = numpy_moments(a)
    assert np.all(a.var(-1) > 0.1)
    # With var >= 0.1 the epsilon 1e-8 changes std by <= 1e-8/(2 sqrt(0.1)) < 2e-8, the skew by a factor
    # (1 + 1e-7)^-1.5 and the kurtosis by (1 + 1e-7)^-2: all below 1e-5 for |skew|, kurtosis + 3 < 10.
    np.testing.assert_allclose(get_feature_map("meanstd")(x).numpy(), want[..., :2], rtol=0, atol=1e-5)
    np.testing.assert_allclose(get_feature_map("moments")(x).numpy(), want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(get_feature_map("batch+moments")(x).numpy(), np.concatenate([a, want], -1),
                               rtol=0, atol=1e-5)
    np.testing.assert_allclose(get_feature_map("sorted+meanstd")(x).numpy(),
                               np.concatenate([np.sort(a, -1), want[..., :2]], -1), rtol=0, atol=1e-5)
    for k in (1, 2, 3, 4):
        np.testing.assert_allclose(moments(x, k).numpy(), want[..., :k], rtol=0, atol=1e-5)


def test_moments_of_a_constant_sample_stay_finite():
    # A collapsed generator must still give D finite inputs and G finite gradients.
    c = torch.full((1, 1, 5), 2.5, dtype=torch.float64, requires_grad=True)
    out = moments(c, 4)
    assert torch.isfinite(out).all()
    assert out[0, 0, 1].item() == pytest.approx(1e-4, rel=1e-12)  # sqrt(0 + 1e-8)
    (g,) = torch.autograd.grad(out[..., :2].sum(), c)
    assert torch.isfinite(g).all()


@pytest.mark.parametrize("k", [0, 5, -1])
def test_moments_rejects_bad_k(k, x):
    with pytest.raises(ValueError, match=f"k={k}"):
        moments(x, k)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gradients_flow(name, x):
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(get_feature_map(name)(xr).sum(), xr)
    assert torch.isfinite(g).all()
    assert (g != 0).any(dim=-1).all(), "every sample must receive gradient"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gradients_match_finite_differences(name, x):
    # gradcheck compares autograd with central differences; the values are distinct so sorting is smooth.
    xr = x[:, :2, :5].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(get_feature_map(name), (xr,), eps=1e-6, atol=1e-6)


def test_unknown_name_raises():
    with pytest.raises(ValueError, match="features='histogram'"):
        get_feature_map("histogram")
    with pytest.raises(ValueError, match="features='nope'"):
        feature_size("nope", 10)


def test_each_map_sees_each_run_alone(x):
    # Changing run 0's samples must not change run 1's features (runs train side by side).
    y = x.clone()
    y[0] = y[0] * 3 + 1
    for name, fm in FEATURE_MAPS.items():
        assert torch.equal(fm(x)[1], fm(y)[1]), name
        assert not torch.equal(fm(x)[0], fm(y)[0]), name


def test_sorted_real_sorts_real_samples_only_and_trains() -> None:
    from ganlib import Config, Trainer
    from ganlib.features import get_feature_map

    fm = get_feature_map("sorted_real")
    x = torch.tensor([[[3.0, 1.0, 2.0]]])
    assert torch.equal(fm(x), torch.tensor([[[1.0, 2.0, 3.0]]])) and torch.equal(fm.fake(x), x)
    # Every other map shows real and generated samples the same way.
    assert all(torch.equal(m.fake(x), m(x)) for name, m in FEATURE_MAPS.items() if name != "sorted_real")
    # In training, G's gradient reaches its raw (unsorted) output: one step changes G.
    tr = Trainer(Config(features="sorted_real", seeds=2, rounds=5, eval_every=5, eval_samples=100, batch_size=8,
                        g_hidden=(8, 8), d_hidden=(8, 8)))
    before = [p.detach().clone() for p in tr.G.params]
    tr.step(5)
    assert all(not torch.equal(a, b) for a, b in zip(before, tr.G.params))
    assert tr.diverged_at == [None, None]
