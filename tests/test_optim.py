"""ganlib.optim.BatchedOptimizer against torch.optim.Adam / RMSprop / SGD."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganlib.optim import BatchedOptimizer

K = 3
SHAPES = [(K, 4, 5), (K, 1, 5)]
STEPS = 20
# A float64 update differs from torch's by a few ulp per step: ~20 steps * 1e-16 relative; float32 by
# ~20 * 6e-8 of the (order 0.1) update size, so 1e-6 absolute.
TOL = {torch.float64: 1e-12, torch.float32: 1e-6}

CASES = {
    "adam": (dict(kind="adam", beta1=0.5, beta2=0.999),
             lambda ps, lr: torch.optim.Adam(ps, lr=lr, betas=(0.5, 0.999), eps=1e-8)),
    "rmsprop": (dict(kind="rmsprop", beta2=0.99),
                lambda ps, lr: torch.optim.RMSprop(ps, lr=lr, alpha=0.99, eps=1e-8)),
    "rmsprop-momentum": (dict(kind="rmsprop", beta2=0.9, momentum=0.7),
                         lambda ps, lr: torch.optim.RMSprop(ps, lr=lr, alpha=0.9, eps=1e-8, momentum=0.7)),
    "sgd": (dict(kind="sgd"), lambda ps, lr: torch.optim.SGD(ps, lr=lr)),
    "sgd-momentum": (dict(kind="sgd", momentum=0.9), lambda ps, lr: torch.optim.SGD(ps, lr=lr, momentum=0.9)),
}


def start(dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=dtype) for s in SHAPES]


def grad_sequence(dtype, n=STEPS, seed=1):
    # Gradients of varying size and sign, including exact zeros (Adam's and RMSProp's eps then matters).
    g = torch.Generator().manual_seed(seed)
    out = []
    for t in range(n):
        gs = [torch.randn(s, generator=g, dtype=dtype) * (1 + t % 4) for s in SHAPES]
        gs[0][0, 0, :2] = 0.0
        out.append(gs)
    return out


def run_torch(make, params, grads, lr, lr_at=None):
    ps = [p.clone().requires_grad_(True) for p in params]
    opt = make(ps, lr)
    for t, gs in enumerate(grads):
        if lr_at and t in lr_at:
            for group in opt.param_groups:
                group["lr"] = lr_at[t]
        for p, g in zip(ps, gs):
            p.grad = g.clone()
        opt.step()
    return [p.detach() for p in ps]


def run_ours(kwargs, params, grads, lr, lr_at=None):
    ps = [p.clone() for p in params]
    opt = BatchedOptimizer(ps, lr=lr, **kwargs)
    for t, gs in enumerate(grads):
        if lr_at and t in lr_at:
            opt.lr = lr_at[t]
        opt.step(gs)
    assert opt.t == len(grads)
    return ps


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_torch_optim(case, dtype):
    kwargs, make = CASES[case]
    params, grads = start(dtype), grad_sequence(dtype)
    ours = run_ours(kwargs, params, grads, 0.01)
    want = run_torch(make, params, grads, 0.01)
    for p, q, p0 in zip(ours, want, params):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=0, atol=TOL[dtype])
        assert (p - p0).abs().max() > 1e-3, "the parameters must actually move"


@pytest.mark.parametrize("case", sorted(CASES))
def test_per_run_lr_equals_separate_optimizers(case):
    kwargs, make = CASES[case]
    dtype = torch.float64
    lrs = [1e-3, 1e-2, 0.1]
    params, grads = start(dtype, 2), grad_sequence(dtype, seed=3)
    ours = run_ours(kwargs, params, grads, torch.tensor(lrs, dtype=dtype))
    for k, lr in enumerate(lrs):
        want = run_torch(make, [p[k : k + 1] for p in params], [[g[k : k + 1] for g in gs] for gs in grads], lr)
        for p, q in zip(ours, want):
            np.testing.assert_allclose(p[k : k + 1].numpy(), q.numpy(), rtol=0, atol=TOL[dtype])


@pytest.mark.parametrize("case", sorted(CASES))
def test_changing_lr_between_steps_takes_effect(case):
    kwargs, make = CASES[case]
    dtype = torch.float64
    params, grads = start(dtype, 4), grad_sequence(dtype, seed=5)
    schedule = {7: 0.05, 13: 0.002}
    ours = run_ours(kwargs, params, grads, 0.01, schedule)
    want = run_torch(make, params, grads, 0.01, schedule)
    constant = run_ours(kwargs, params, grads, 0.01)
    for p, q, c in zip(ours, want, constant):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=0, atol=TOL[dtype])
        assert (p - c).abs().max() > 1e-4


@pytest.mark.parametrize("case", sorted(CASES))
def test_per_run_lr_can_be_replaced_by_a_float_and_back(case):
    # The state (moments, momentum buffers, step count) carries over when the kind of lr changes.
    dtype = torch.float64
    kwargs, make = CASES[case]
    params, grads = start(dtype), grad_sequence(dtype)
    lrs = torch.tensor([0.01, 0.02, 0.03], dtype=dtype)
    ours = run_ours(kwargs, params, grads, lrs, {5: 0.01, 10: lrs})
    for k in range(K):
        sched = {5: 0.01, 10: float(lrs[k])}
        want = run_torch(make, [p[k : k + 1] for p in params], [[g[k : k + 1] for g in gs] for gs in grads],
                         float(lrs[k]), sched)
        for p, q in zip(ours, want):
            np.testing.assert_allclose(p[k : k + 1].numpy(), q.numpy(), rtol=0, atol=1e-12)


def test_scale_multiplies_every_step():
    # SGD moves by exactly lr * scale * g.
    p = torch.zeros(K, 2, dtype=torch.float64)
    opt = BatchedOptimizer([p], "sgd", 0.1)
    opt.scale = 0.25
    opt.step([torch.ones(K, 2, dtype=torch.float64)])
    np.testing.assert_allclose(p.numpy(), -0.025, rtol=1e-15)


@pytest.mark.parametrize("lr", [0.0, -0.01, math.nan, math.inf, "0.01", None])
def test_bad_float_lr_raises(lr):
    p = torch.zeros(K, 2)
    with pytest.raises(ValueError, match=r"lr=.* is not allowed"):
        BatchedOptimizer([p], "adam", lr)
    opt = BatchedOptimizer([p], "adam", 0.01)
    with pytest.raises(ValueError):
        opt.lr = lr
    assert opt.lr == 0.01


@pytest.mark.parametrize("lr", [
    torch.tensor([0.1, 0.1]),
    torch.tensor([0.1, 0.1, 0.1, 0.1]),
    torch.tensor([[0.1, 0.1, 0.1]]),
    torch.tensor(0.1),
])
def test_per_run_lr_of_wrong_shape_raises(lr):
    with pytest.raises(ValueError, match=rf"shape \({K},\)"):
        BatchedOptimizer([torch.zeros(K, 2)], "sgd", lr)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_per_run_lr_with_a_bad_entry_raises(bad):
    with pytest.raises(ValueError, match="finite number > 0"):
        BatchedOptimizer([torch.zeros(K, 2)], "sgd", torch.tensor([0.1, bad, 0.1]))


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="optimizer='adagrad'"):
        BatchedOptimizer([torch.zeros(K, 2)], "adagrad", 0.1)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_gradient_transposed_in_memory_is_applied_as_its_values(case):
    # A double backward (WGAN-GP's and R1's penalties) returns some weight gradients as transposed
    # views; the fused Adam kernel once read them in memory order and applied the transpose.
    kwargs, make = CASES[case]
    dtype = torch.float32
    shapes = [(K, 6, 6), (K, 4, 5)]
    g = torch.Generator().manual_seed(5)
    params = [torch.randn(s, generator=g, dtype=dtype) for s in shapes]
    grads = []
    for _ in range(STEPS):
        gs = [torch.randn(s[0], s[2], s[1], generator=g, dtype=dtype).transpose(1, 2) for s in shapes]
        assert not any(x.is_contiguous() for x in gs)
        grads.append(gs)
    ours = run_ours(kwargs, params, grads, 0.01)
    want = run_torch(make, params, [[x.contiguous() for x in gs] for gs in grads], 0.01)
    for p, q in zip(ours, want):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=0, atol=TOL[dtype])


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_parameter_stored_permuted_with_its_gradient_alike_is_updated_as_its_values(case):
    # Convolution weights (the digits' G and critic) and their gradients share a channels-last layout:
    # the update must not reorder them (it once made every gradient contiguous and scrambled these).
    kwargs, make = CASES[case]
    dtype = torch.float32
    g = torch.Generator().manual_seed(6)
    shape = (4, 3, 2, 2)
    params = [torch.randn(shape, generator=g, dtype=dtype).contiguous(memory_format=torch.channels_last)]
    grads = [[torch.randn(shape, generator=g, dtype=dtype).contiguous(memory_format=torch.channels_last)]
             for _ in range(STEPS)]
    assert not params[0].is_contiguous()
    ours = run_ours(kwargs, params, grads, 0.01)
    want = run_torch(make, [p.contiguous() for p in params], [[x.contiguous() for x in gs] for gs in grads], 0.01)
    np.testing.assert_allclose(ours[0].numpy(), want[0].numpy(), rtol=0, atol=TOL[dtype])
