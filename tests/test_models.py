"""ganlib.models.StackedMLP: shapes, run independence, equality with torch.nn, initialisation, select()."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from ganlib.models import ACTIVATION_FNS, SN_START_ITERATIONS, StackedMLP


def gens(*seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def test_shapes():
    net = StackedMLP([3, 5, 4, 2], ["elu", "tanh"], gens(1, 2, 3, 4))
    assert net.k == 4 and net.sizes == (3, 5, 4, 2)
    assert [tuple(p.shape) for p in net.params] == [(4, 3, 5), (4, 1, 5), (4, 5, 4), (4, 1, 4), (4, 4, 2),
                                                    (4, 1, 2)]
    assert [tuple(w.shape) for w in net.weights] == [(4, 3, 5), (4, 5, 4), (4, 4, 2)]
    assert all(p.requires_grad and p.dtype == torch.float32 for p in net.params)
    out = net(torch.randn(4, 7, 3))
    assert out.shape == (4, 7, 2)


def test_run_k_equals_a_stack_of_only_its_seed():
    seeds = (11, 12, 13)
    stack = StackedMLP([2, 6, 6, 1], ["elu", "sigmoid"], gens(*seeds), torch.float64)
    x = torch.randn(3, 9, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = stack(x)
    for k, s in enumerate(seeds):
        alone = StackedMLP([2, 6, 6, 1], ["elu", "sigmoid"], gens(s), torch.float64)
        for p, q in zip(stack.params, alone.params):
            assert torch.equal(p[k], q[0])
        np.testing.assert_allclose(out[k].detach().numpy(), alone(x[k : k + 1])[0].detach().numpy(), rtol=0,
                                   atol=1e-12)


def test_runs_do_not_mix_in_forward_or_backward():
    net = StackedMLP([2, 6, 1], ["tanh"], gens(1, 2, 3), torch.float64)
    x = torch.randn(3, 5, 2, dtype=torch.float64)
    y = x.clone()
    y[0] += 10.0
    out_x, out_y = net(x), net(y)
    assert torch.equal(out_x[1:], out_y[1:]) and not torch.equal(out_x[0], out_y[0])
    # A loss of run 1 only gives gradients to run 1 only.
    grads = torch.autograd.grad(out_x[1].sum(), net.params)
    for g in grads:
        assert torch.all(g[0] == 0) and torch.all(g[2] == 0) and torch.any(g[1] != 0)


ACT_MODULES = {
    "elu": torch.nn.ELU,
    "relu": torch.nn.ReLU,
    "leaky_relu": lambda: torch.nn.LeakyReLU(0.2),
    "sigmoid": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "identity": torch.nn.Identity,
}


def sequential_of(net: StackedMLP, k: int) -> torch.nn.Sequential:
    """Run k of `net` as torch.nn layers (nn.Linear stores weight as (out, in): transposed)."""
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(net.sizes[:-1], net.sizes[1:])):
        lin = torch.nn.Linear(fan_in, fan_out, dtype=net.params[0].dtype)
        with torch.no_grad():
            lin.weight.copy_(net.params[2 * i][k].T)
            lin.bias.copy_(net.params[2 * i + 1][k, 0])
        layers.append(lin)
        if i < len(net.sizes) - 2:
            layers.append(ACT_MODULES[net.activation_names[i]]())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-6), (torch.float64, 1e-12)])
@pytest.mark.parametrize("act", sorted(ACT_MODULES))
def test_equals_torch_nn_sequential(act, dtype, tol):
    assert set(ACT_MODULES) == set(ACTIVATION_FNS)
    net = StackedMLP([3, 10, 10, 2], [act, act], gens(4, 5), dtype)
    x = torch.randn(2, 20, 3, dtype=dtype, generator=torch.Generator().manual_seed(1))
    out = net(x)
    for k in range(2):
        want = sequential_of(net, k)(x[k])
        np.testing.assert_allclose(out[k].detach().numpy(), want.detach().numpy(), rtol=0, atol=tol)


def test_equals_a_hand_forward_pass(numpy_mlp):
    net = StackedMLP([2, 7, 5, 3], ["leaky_relu", "elu"], gens(8, 9), torch.float64)
    x = np.random.default_rng(0).normal(size=(2, 11, 2))
    out = net(torch.from_numpy(x)).detach().numpy()
    for k in range(2):
        np.testing.assert_allclose(out[k], numpy_mlp(net.params, net.activation_names, x[k], k), rtol=1e-13,
                                   atol=1e-13)


def test_init_within_nn_linear_bounds():
    net = StackedMLP([3, 50, 20, 1], ["elu", "elu"], gens(*range(4)))
    for w, b in zip(net.params[0::2], net.params[1::2]):
        bound = 1 / math.sqrt(w.shape[1])
        assert w.abs().max() <= bound and b.abs().max() <= bound
        # Nor squeezed into part of the range: each layer has >= 80 draws, all below 0.9 bound w.p. 0.9**80 = 2e-4.
        assert w.abs().max() > 0.9 * bound


def test_init_is_uniform_over_the_bound():
    net = StackedMLP([100, 400, 1], ["relu"], gens(3))
    w = net.params[0].detach().double().numpy().ravel()
    bound = 1 / math.sqrt(100)
    # KS of n = 40000 draws: 99.9% quantile ~1.95/sqrt(n) = 0.00975.
    assert stats.kstest(w, stats.uniform(-bound, 2 * bound).cdf).statistic < 1.95 / math.sqrt(w.size)


def test_init_is_reproducible_and_dtype_independent():
    a = StackedMLP([2, 8, 1], ["elu"], gens(7, 8), torch.float32)
    b = StackedMLP([2, 8, 1], ["elu"], gens(7, 8), torch.float64)
    c = StackedMLP([2, 8, 1], ["elu"], gens(7, 9), torch.float32)
    for p, q, r in zip(a.params, b.params, c.params):
        assert torch.equal(p, q.to(torch.float32))
        assert torch.equal(p[0], r[0]) and not torch.equal(p[1], r[1])


def test_state_is_a_detached_copy():
    net = StackedMLP([1, 4, 1], ["elu"], gens(0))
    st = net.state()
    assert all(not s.requires_grad for s in st)
    with torch.no_grad():
        net.params[0].add_(1.0)
    assert not torch.equal(st[0], net.params[0])


def test_select():
    net = StackedMLP([2, 6, 1], ["tanh"], gens(10, 11, 12), torch.float64)
    x = torch.randn(3, 4, 2, dtype=torch.float64)
    sub = net.select([2, 0])
    assert sub.k == 2 and sub.sizes == net.sizes and sub.activation_names == net.activation_names
    for p, q in zip(net.params, sub.params):
        assert torch.equal(q, p.detach()[[2, 0]])
    assert torch.equal(sub(x[[2, 0]]), net(x)[[2, 0]].detach())
    with torch.no_grad():
        sub.params[0].fill_(0.0)
    assert net.params[0].abs().sum() > 0
    same = net.select(torch.tensor([1]))
    assert torch.equal(same.params[0][0], net.params[0][1].detach())


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="2 hidden layers need as many activations, got 1"):
        StackedMLP([1, 4, 4, 1], ["elu"], gens(0))
    with pytest.raises(ValueError, match="activation='swish'"):
        StackedMLP([1, 4, 1], ["swish"], gens(0))


@pytest.mark.parametrize(("dtype", "atol"), [(torch.float32, 1e-6), (torch.float64, 1e-13)])
def test_a_slice_of_runs_computes_what_all_runs_compute(dtype, atol):
    # Evaluation applies G to a few runs at a time to bound memory. Each run's products are the same sums, but
    # BLAS may order them differently for another batch count (a batch of one takes another path): a dot product
    # of 16 terms of size ~1 differs by at most ~16 eps, 1e-6 in float32 and 2e-15 in float64, before the next
    # layers (Lipschitz ~1 here) carry it on.
    net = StackedMLP([1, 16, 16, 1], ["elu", "sigmoid"], gens(*range(7)), dtype)
    x = torch.rand(7, 300, 1, generator=torch.Generator().manual_seed(1), dtype=dtype)
    with torch.no_grad():
        full = net(x)
        for a, b in [(0, 3), (3, 4), (4, 7)]:
            part = net(x[a:b], slice(a, b))
            assert part.shape == (b - a, 300, 1)
            np.testing.assert_allclose(part.numpy(), full[a:b].numpy(), rtol=0, atol=atol)
        # The slice picks the weights: the same input through run 2's weights gives other numbers.
        assert (net(x[3:4], slice(3, 4)) - net(x[3:4], slice(2, 3))).abs().max() > 1e-3


# ----- minibatch discrimination -----

def minibatch_features_by_loops(m: np.ndarray) -> np.ndarray:
    """o[i, b] = sum over j of exp(-sum over c of |m[i, b, c] - m[j, b, c]|), written as the paper's loops."""
    s, b_count, c_count = m.shape
    out = np.zeros((s, b_count))
    for i in range(s):
        for b in range(b_count):
            for j in range(s):
                out[i, b] += math.exp(-sum(abs(m[i, b, c] - m[j, b, c]) for c in range(c_count)))
    return out


def test_minibatch_features_against_loops():
    from ganlib.models import minibatch_features

    m = torch.randn(2, 3, 6, 4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = minibatch_features(m)
    assert got.shape == (2, 3, 6, 4)
    for k in range(2):
        for g in range(3):
            np.testing.assert_allclose(got[k, g].numpy(), minibatch_features_by_loops(m[k, g].numpy()), rtol=1e-14)
    # Every value is its own neighbour (exp(0) = 1); a batch of equal values gives o = S everywhere.
    assert (got >= 1).all()
    assert torch.equal(minibatch_features(torch.zeros(1, 5, 2, 3)), torch.full((1, 5, 2), 5.0))


def mbd(seeds=(1, 2, 3), sizes=(1, 6, 5, 1), kernels=4, dims=3, group=8, dtype=torch.float64):
    from ganlib.models import MinibatchDiscriminator

    return MinibatchDiscriminator(list(sizes), ["elu", "elu"], gens(*seeds), kernels, dims, group, dtype)


def test_minibatch_discriminator_shapes_and_parameters():
    net = mbd()
    # Layer 2 sees the 6 hidden units and the 4 minibatch features; T maps 6 units to 4 x 3.
    assert [tuple(p.shape) for p in net.params] == [(3, 1, 6), (3, 1, 6), (3, 10, 5), (3, 1, 5), (3, 5, 1),
                                                    (3, 1, 1), (3, 6, 12)]
    assert [tuple(w.shape) for w in net.weights] == [(3, 1, 6), (3, 10, 5), (3, 5, 1)]
    assert net.tensor is net.params[-1]
    # T is initialised like a bias-free nn.Linear from 6 inputs: uniform in +-1/sqrt(6).
    assert net.tensor.abs().max() <= 1 / math.sqrt(6) and net.tensor.abs().max() > 0.5 / math.sqrt(6)
    assert net(torch.randn(3, 16, 1, dtype=torch.float64)).shape == (3, 16, 1)
    with pytest.raises(ValueError, match="whole batches of 8 values, got 12"):
        net(torch.randn(3, 12, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least one hidden layer"):
        mbd(sizes=(1, 1))


def test_minibatch_discriminator_equals_a_hand_forward_pass(numpy_mlp):
    net = mbd()
    x = torch.randn(3, 16, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    out = net(x).detach().numpy()
    p = [q.detach().numpy() for q in net.params]
    elu = lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0)))  # noqa: E731
    for k in range(3):
        for batch in (slice(0, 8), slice(8, 16)):
            h = elu(x[k, batch].numpy() @ p[0][k] + p[1][k])  # (8, 6)
            o = minibatch_features_by_loops((h @ p[6][k]).reshape(8, 4, 3))  # (8, 4)
            h2 = elu(np.concatenate([h, o], 1) @ p[2][k] + p[3][k])
            np.testing.assert_allclose(out[k, batch], h2 @ p[4][k] + p[5][k], rtol=1e-12, atol=1e-12)


def test_minibatch_features_compare_values_within_their_own_batch_and_run_only():
    net = mbd()
    x = torch.randn(3, 16, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    y = x.clone()
    y[1, 3] += 2.0  # one value of run 1's first batch
    a, b = net(x).detach(), net(y).detach()
    # Its whole batch sees the change (the cross-sample features), the other batch and the other runs do not.
    assert (a[1, :8] != b[1, :8]).all()
    assert torch.equal(a[1, 8:], b[1, 8:]) and torch.equal(a[0], b[0]) and torch.equal(a[2], b[2])
    # A loss of run 0 gives gradients to run 0's parameters only, T included.
    grads = torch.autograd.grad(net(x)[0].sum(), net.params)
    for g in grads:
        assert torch.all(g[1:] == 0) and torch.any(g[0] != 0)


def test_minibatch_discriminator_gradients_match_finite_differences():
    net = mbd(seeds=(7,), group=4)
    x = torch.randn(1, 8, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(6)).requires_grad_(True)
    # Distinct values: |.| is smooth away from equal projections, where the paper's kernel has its kink.
    assert torch.autograd.gradcheck(lambda v: net(v), (x,), eps=1e-6, atol=1e-6)
    t = net.tensor.detach().clone().requires_grad_(True)

    def through_t(tt):
        params = net.params[:-1] + [tt]
        h, m = net._first(x.detach(), params)
        from ganlib.models import minibatch_features

        o = minibatch_features(m.view(1, 2, 4, net.kernels, net.kernel_dims)).view(1, 8, net.kernels)
        return net._rest(h, o, params)

    assert torch.autograd.gradcheck(through_t, (t,), eps=1e-6, atol=1e-6)


def test_a_value_scored_in_a_batch_equals_the_first_value_of_that_batch():
    net = mbd(group=8)
    g = torch.Generator().manual_seed(8)
    rest = torch.randn(3, 7, 1, dtype=torch.float64, generator=g)
    xq = torch.linspace(-2, 2, 5, dtype=torch.float64).view(1, 5, 1).expand(3, 5, 1)
    got = net.in_batch(xq, rest).detach()
    for q in range(5):
        batch = torch.cat([xq[:, q : q + 1], rest], 1)
        np.testing.assert_allclose(got[:, q].numpy(), net(batch)[:, 0].detach().numpy(), rtol=1e-13, atol=1e-13)


def test_select_keeps_the_minibatch_layer():
    net = mbd()
    sub = net.select([2, 0])
    x = torch.randn(2, 8, 1, dtype=torch.float64)
    assert type(sub) is type(net) and sub.kernels == 4 and len(sub.params) == len(net.params)
    full = net(torch.stack([x[1], x[0], x[0]]))
    assert torch.allclose(sub(x), torch.stack([full[2], full[0]]).detach(), rtol=0, atol=1e-13)


def test_scoring_values_in_a_batch_by_blocks_of_queries_changes_nothing(monkeypatch):
    import ganlib.models as models

    net = mbd(group=8)
    rest = torch.randn(3, 7, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    xq = torch.linspace(-2, 2, 11, dtype=torch.float64).view(1, 11, 1).expand(3, 11, 1)
    whole = net.in_batch(xq, rest).detach()
    # One block holds 3 runs x 7 values x 4 x 3 numbers per query: a limit of 300 makes blocks of 1 query.
    monkeypatch.setattr(models, "_PAIR_BLOCK", 300)
    # The layers then multiply 1 row instead of 11, which BLAS may sum in another order: a few ulp in float64.
    np.testing.assert_allclose(net.in_batch(xq, rest).detach().numpy(), whole.numpy(), rtol=0, atol=1e-13)


# ----- spectral normalisation (issue 26; Miyato et al. 2018) -----

EPS64 = float(np.finfo(np.float64).eps)


def sn_net(seeds=(1, 2, 3), sizes=(5, 7, 3, 1), iterations=SN_START_ITERATIONS) -> StackedMLP:
    net = StackedMLP(list(sizes), ["elu"] * (len(sizes) - 2), gens(*seeds), torch.float64)
    net.use_spectral_norm(gens(*(100 + s for s in seeds)), iterations)
    return net


def _svd(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Singular values (descending) and right singular vectors (rows, in R^fan_out) of one run's weight."""
    _, s, vh = torch.linalg.svd(w, full_matrices=False)
    return s, vh


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_power_iteration_gives_the_closed_form_estimate_after_n_iterations(n):
    # With u_0 = sum_i c_i r_i (r_i the right singular vectors of W, singular values s_i), n iterations of
    # v = W u / |W u|, u = W^T v / |W^T v| and sigma = v^T W u give exactly
    # sigma_n^2 = sum_i c_i^2 s_i^(4n) / sum_i c_i^2 s_i^(4n - 2) (u_(n-1) is proportional to (W^T W)^(n-1) u_0).
    net = sn_net()
    g = torch.Generator().manual_seed(7)
    starts = []
    for i, w in enumerate(net.weights):
        u0 = torch.nn.functional.normalize(torch.randn(net.k, w.shape[2], generator=g, dtype=torch.float64), dim=-1)
        net.sn_u[i] = u0
        starts.append(u0)
    for _ in range(n):
        net.power_iteration_()
    sigmas = net.sigmas()
    for i, w in enumerate(net.weights):
        for k in range(net.k):
            s, vh = _svd(w[k].detach())
            c = vh @ starts[i][k]
            want = torch.sqrt((c**2 * s ** (4 * n)).sum() / (c**2 * s ** (4 * n - 2)).sum())
            # Rounding: n iterations of products of (fan_in + fan_out) terms, each a few eps relative.
            tol = 4 * n * (w.shape[1] + w.shape[2]) * EPS64
            assert sigmas[i][k].item() == pytest.approx(want.item(), rel=tol), (i, k)
            assert sigmas[i][k] <= s[0] * (1 + tol)  # the estimate never exceeds the largest singular value


def test_normalised_weights_have_spectral_norm_one_after_the_power_iterations_converge():
    net = sn_net(sizes=(6, 9, 4, 1), iterations=1)
    # The error 1 - sigma_n^2 / s_1^2 is at most tan^2(theta_0) rho^(4n - 2), rho = s_2 / s_1 and theta_0 the angle
    # of u_0 (here the vector after the first iteration) to r_1. Iterate until that bound is below 1e-15 per run
    # and layer, then compare the normalised weight's spectral norm from torch.linalg with 1.
    n_needed = 0
    for i, w in enumerate(net.weights):
        for k in range(net.k):
            s, vh = _svd(w[k].detach())
            if len(s) == 1:
                continue  # a single output (D's last layer): one singular value, exact after any iteration
            c = vh @ net.sn_u[i][k]
            tan2 = ((c[1:] ** 2).sum() / c[0] ** 2).item()
            rho = (s[1] / s[0]).item()
            assert rho < 0.99, rho  # a gap between the two largest singular values, so the iteration converges
            n_needed = max(n_needed, math.ceil((math.log(1e-15 / tan2) / math.log(rho) + 2) / 4))
    for _ in range(n_needed):
        net.power_iteration_()
    used = net._params_for(None)  # the weights a forward pass uses
    for i, w in enumerate(net.weights):
        norms = torch.linalg.matrix_norm(used[2 * i].detach(), 2)  # per run
        direct = torch.linalg.matrix_norm(w.detach(), 2)
        # |s_1 / sigma_n - 1| <= bound (<= 1e-15) plus rounding: sigma from a sum of fan_in products, the SVD's
        # own backward-stable error, a few (fan_in + fan_out) eps.
        tol = 1e-15 + 4 * (w.shape[1] + w.shape[2]) * EPS64
        np.testing.assert_allclose(norms.numpy(), 1.0, rtol=0, atol=tol)
        np.testing.assert_allclose(net.sigmas()[i].numpy(), direct.numpy(), rtol=tol)


def test_spectral_norm_forward_and_gradients_equal_torchs_spectral_norm():
    # torch.nn.utils.parametrizations.spectral_norm in eval mode uses its stored u and v without iterating:
    # given ours, its W / sigma and the gradient through sigma must be ours (its weight is our w transposed).
    net = sn_net(seeds=(4, 5), sizes=(3, 6, 4, 2), iterations=3)
    x = torch.randn(2, 11, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    out = net(x)
    grads = torch.autograd.grad((out**2).sum(), net.params)
    for k in range(net.k):
        layers = []
        for i in range(net.n_layers):
            lin = torch.nn.Linear(net.sizes[i], net.sizes[i + 1], dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(net.weights[i][k].T)
                lin.bias.copy_(net.params[2 * i + 1][k, 0])
            lin = torch.nn.utils.parametrizations.spectral_norm(lin)
            sn = lin.parametrizations.weight[0]
            with torch.no_grad():
                sn._u.copy_(net.sn_u[i][k])  # torch's u lives in R^out, its v in R^in: ours
                sn._v.copy_(net.sn_v[i][k])
            layers += [lin, torch.nn.ELU()] if i < net.n_layers - 1 else [lin]
        seq = torch.nn.Sequential(*layers).eval()
        want = seq(x[k])
        np.testing.assert_allclose(out[k].detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-14)
        want_grads = torch.autograd.grad((want**2).sum(), [p for lin in seq[::2] for p in
                                                         (lin.parametrizations.weight.original, lin.bias)])
        for i in range(net.n_layers):
            np.testing.assert_allclose(grads[2 * i][k].numpy(), want_grads[2 * i].T.numpy(), rtol=1e-10, atol=1e-13)
            np.testing.assert_allclose(grads[2 * i + 1][k, 0].numpy(), want_grads[2 * i + 1].numpy(), rtol=1e-10,
                                       atol=1e-13)


def test_spectral_norm_vectors_come_from_each_runs_own_generator():
    many = sn_net(seeds=(1, 2, 3))
    x = torch.randn(3, 5, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = many(x)
    for k, s in enumerate((1, 2, 3)):
        alone = sn_net(seeds=(s,))
        for i in range(many.n_layers):
            assert torch.equal(many.sn_u[i][k], alone.sn_u[i][0]) and torch.equal(many.sn_v[i][k], alone.sn_v[i][0])
        np.testing.assert_allclose(out[k].detach().numpy(), alone(x[k:k + 1])[0].detach().numpy(), rtol=0, atol=1e-14)
    # A forward pass does not iterate: only power_iteration_ moves u and v.
    before = [u.clone() for u in many.sn_u]
    many(x)
    assert all(torch.equal(a, b) for a, b in zip(before, many.sn_u))
    many.power_iteration_()
    assert not all(torch.equal(a, b) for a, b in zip(before, many.sn_u))


def test_spectral_norm_with_a_slice_of_runs_and_select():
    net = sn_net(seeds=(1, 2, 3, 4))
    x = torch.randn(4, 6, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = net(x)
    np.testing.assert_allclose(net(x[1:3], runs=slice(1, 3)).detach().numpy(), out[1:3].detach().numpy(), rtol=0,
                               atol=1e-14)
    sub = net.select([3, 0])
    assert sub.spectral_norm and [tuple(u.shape) for u in sub.sn_u] == [(2, 7), (2, 3), (2, 1)]
    np.testing.assert_allclose(sub(x[[3, 0]]).detach().numpy(), out[[3, 0]].detach().numpy(), rtol=0, atol=1e-14)
    plain = StackedMLP([5, 7, 3, 1], ["elu", "elu"], gens(1, 2, 3, 4), torch.float64)
    assert not plain.spectral_norm and not plain.select([0]).spectral_norm
    with pytest.raises(ValueError, match="one generator per run"):
        plain.use_spectral_norm(gens(1))
    with pytest.raises(ValueError, match="call use_spectral_norm first"):
        plain.sigmas()


def test_spectral_norm_of_minibatch_discrimination_normalises_the_layers_and_leaves_t():
    net = mbd()
    net.use_spectral_norm(gens(7, 8, 9))
    x = torch.randn(3, 16, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    # The same network without spectral norm, its linear weights replaced by w / sigma and T kept as it is.
    by_hand = mbd()
    with torch.no_grad():
        for i, (w, sigma) in enumerate(zip(net.weights, net.sigmas())):
            by_hand.params[2 * i].copy_(w / sigma.view(-1, 1, 1))
        assert torch.equal(by_hand.tensor, net.tensor)
    np.testing.assert_allclose(net(x).detach().numpy(), by_hand(x).detach().numpy(), rtol=1e-13, atol=1e-14)
    q, rest = x[:, :5], x[:, 5:12]
    np.testing.assert_allclose(net.in_batch(q, rest).detach().numpy(), by_hand.in_batch(q, rest).detach().numpy(),
                               rtol=1e-13, atol=1e-14)
