"""ganlib.losses against torch.nn.functional and hand calculations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganlib.losses import (
    bce_d_loss,
    bce_g_loss,
    clip_weights_,
    gradient_penalty,
    r1_penalty,
    wgan_critic_loss,
    wgan_g_loss,
)
from ganlib.models import StackedMLP


def logits(k=3, n=50, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(k, n, 1, generator=g, dtype=torch.float64) * scale


def test_bce_d_loss_against_binary_cross_entropy():
    real, fake = logits(seed=1), logits(seed=2)
    got = bce_d_loss(real, fake)
    assert got.shape == (3,)
    for k in range(3):
        want = (F.binary_cross_entropy(torch.sigmoid(real[k]), torch.ones_like(real[k]))
                + F.binary_cross_entropy(torch.sigmoid(fake[k]), torch.zeros_like(fake[k])))
        assert got[k].item() == pytest.approx(want.item(), rel=1e-12)


def test_bce_g_losses_against_binary_cross_entropy():
    fake = logits(seed=3)
    ns, mm = bce_g_loss(fake, "non-saturating"), bce_g_loss(fake, "minimax")
    assert bce_g_loss(fake).shape == (3,) and torch.equal(bce_g_loss(fake), ns)
    for k in range(3):
        d = torch.sigmoid(fake[k])
        # non-saturating: -log D(G(z)); minimax: log(1 - D(G(z))) = -BCE(D, 0).
        assert ns[k].item() == pytest.approx(F.binary_cross_entropy(d, torch.ones_like(d)).item(), rel=1e-12)
        assert mm[k].item() == pytest.approx(-F.binary_cross_entropy(d, torch.zeros_like(d)).item(), rel=1e-12)


def test_bce_values_at_logit_zero():
    z = torch.zeros(2, 10, 1, dtype=torch.float64)
    # D = 1/2 everywhere: -log(1/2) - log(1/2) = log 4; -log(1/2) = log 2; log(1 - 1/2) = -log 2.
    np.testing.assert_allclose(bce_d_loss(z, z).numpy(), [math.log(4)] * 2, rtol=1e-15)
    np.testing.assert_allclose(bce_g_loss(z).numpy(), [math.log(2)] * 2, rtol=1e-15)
    np.testing.assert_allclose(bce_g_loss(z, "minimax").numpy(), [-math.log(2)] * 2, rtol=1e-15)


def test_bce_is_finite_for_extreme_logits():
    big = torch.tensor([[[-200.0], [200.0]]], dtype=torch.float64)
    # softplus(200) = 200 exactly in float64; a log(sigmoid) would give log(0) = -inf.
    assert bce_d_loss(big, big).item() == pytest.approx((200 + 0) / 2 + (0 + 200) / 2, rel=1e-12)
    assert torch.isfinite(bce_g_loss(big)).all() and torch.isfinite(bce_g_loss(big, "minimax")).all()


def test_minimax_saturates_where_non_saturating_does_not():
    # When D confidently rejects fakes (logit l = -10), d/dl of -log sigmoid(l) is -(1 - sigmoid(l)) ~ -1,
    # while d/dl of log(1 - sigmoid(l)) is -sigmoid(l) = -4.54e-5: the minimax G barely learns.
    n = 4
    fake = torch.full((1, n, 1), -10.0, dtype=torch.float64, requires_grad=True)
    (g_ns,) = torch.autograd.grad(bce_g_loss(fake, "non-saturating").sum(), fake)
    (g_mm,) = torch.autograd.grad(bce_g_loss(fake, "minimax").sum(), fake)
    s = 1 / (1 + math.exp(10.0))
    np.testing.assert_allclose(g_ns.numpy(), -(1 - s) / n, rtol=1e-12)
    np.testing.assert_allclose(g_mm.numpy(), -s / n, rtol=1e-12)


def test_bce_g_loss_rejects_unknown_objective():
    with pytest.raises(ValueError, match="g_objective='maximin'"):
        bce_g_loss(logits(), "maximin")


def test_wgan_losses_by_hand():
    real = torch.tensor([[[1.0], [2.0], [3.0]], [[0.0], [0.0], [-3.0]]], dtype=torch.float64)
    fake = torch.tensor([[[0.5], [0.5], [2.0]], [[4.0], [-1.0], [0.0]]], dtype=torch.float64)
    # run 0: mean fake 1, mean real 2; run 1: mean fake 1, mean real -1.
    np.testing.assert_allclose(wgan_critic_loss(real, fake).numpy(), [1 - 2, 1 - (-1)], rtol=1e-15)
    np.testing.assert_allclose(wgan_g_loss(fake).numpy(), [-1.0, -1.0], rtol=1e-15)


def test_losses_average_over_every_axis_but_the_run():
    x = torch.arange(24, dtype=torch.float64).view(2, 4, 3)
    np.testing.assert_allclose(wgan_g_loss(x).numpy(), [-5.5, -17.5])


def test_clip_weights_bounds_and_keeps_small_values():
    net = StackedMLP([2, 30, 1], ["elu"], [torch.Generator().manual_seed(0)])
    before = [p.detach().clone() for p in net.params]
    c = 0.05
    clip_weights_(net, c)
    for p, b in zip(net.params, before):
        assert p.abs().max() <= c
        inside = b.abs() <= c
        assert torch.equal(p[inside], b[inside])
        assert torch.equal(p[~inside], torch.sign(b[~inside]) * c)
        assert p.requires_grad
    assert any((b.abs() > c).any() for b in before), "the test needs weights to clip"


def linear_critic(weights: list[list[float]], bias: float = 0.3) -> StackedMLP:
    """f_k(x) = w_k . x + b: a one-layer StackedMLP with chosen weights, one run per row."""
    k, f = len(weights), len(weights[0])
    net = StackedMLP([f, 1], [], [torch.Generator().manual_seed(i) for i in range(k)], torch.float64)
    with torch.no_grad():
        net.params[0].copy_(torch.tensor(weights, dtype=torch.float64).view(k, f, 1))
        net.params[1].fill_(bias)
    return net


def test_gradient_penalty_of_a_linear_critic_is_norm_minus_one_squared():
    # grad f = w everywhere, so the penalty is (||w|| - 1)^2 at every interpolate.
    w = [[0.6, 0.8, 0.0], [3.0, 0.0, 4.0], [0.1, 0.2, 0.2]]
    critic = linear_critic(w)
    g = torch.Generator().manual_seed(0)
    real = torch.randn(3, 20, 3, generator=g, dtype=torch.float64)
    fake = torch.randn(3, 20, 3, generator=g, dtype=torch.float64)
    eps = torch.rand(3, 20, 1, generator=g, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, eps)
    # The 1e-12 under the square root shifts the norm by <= 5e-13.
    np.testing.assert_allclose(gp.detach().numpy(), [0.0, (5 - 1) ** 2, (0.3 - 1) ** 2], rtol=1e-11, atol=1e-20)


def test_one_sided_gradient_penalty_charges_only_slopes_above_one():
    # Same linear critics: norms 1, 5 and 0.3. Only the 5 is charged, (5 - 1)^2.
    critic = linear_critic([[0.6, 0.8, 0.0], [3.0, 0.0, 4.0], [0.1, 0.2, 0.2]])
    g = torch.Generator().manual_seed(0)
    real, fake = (torch.randn(3, 20, 3, generator=g, dtype=torch.float64) for _ in range(2))
    eps = torch.rand(3, 20, 1, generator=g, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, eps, one_sided=True)
    np.testing.assert_allclose(gp.detach().numpy(), [0.0, (5 - 1) ** 2, 0.0], rtol=1e-11, atol=1e-11)
    # A flat critic costs nothing one-sided, 1 two-sided: the penalty that traps a 1-D critic.
    flat = linear_critic([[0.0, 0.0, 0.0]] * 3)
    one, two = (gradient_penalty(flat, real, fake, eps, one_sided=side).detach().numpy() for side in (True, False))
    np.testing.assert_allclose(one, 0.0, atol=1e-11)
    np.testing.assert_allclose(two, 1.0, rtol=1e-5)


def test_gradient_penalty_trains_the_critic():
    critic = linear_critic([[3.0, 4.0]])
    real, fake = torch.ones(1, 4, 2, dtype=torch.float64), torch.zeros(1, 4, 2, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, torch.full((1, 4, 1), 0.5, dtype=torch.float64))
    (gw, gb) = torch.autograd.grad(gp.sum(), critic.params, allow_unused=True, materialize_grads=True)
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 4 * (3, 4) / 5; the bias does not enter.
    np.testing.assert_allclose(gw.view(-1).numpy(), [4.8, 6.4], rtol=1e-11)
    assert gb.abs().max() == 0


def test_gradient_penalty_of_a_nonlinear_critic_against_per_sample_gradients():
    k, n, f = 2, 6, 3
    critic = StackedMLP([f, 8, 1], ["tanh"], [torch.Generator().manual_seed(i) for i in range(k)], torch.float64)
    g = torch.Generator().manual_seed(1)
    real = torch.randn(k, n, f, generator=g, dtype=torch.float64)
    fake = torch.randn(k, n, f, generator=g, dtype=torch.float64)
    eps = torch.rand(k, n, 1, generator=g, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, eps).detach().numpy()
    w1, b1, w2, b2 = (p.detach() for p in critic.params)
    for r in range(k):
        total = 0.0
        for i in range(n):
            x_hat = eps[r, i] * real[r, i] + (1 - eps[r, i]) * fake[r, i]
            # f(x) = tanh(x W1 + b1) W2 + b2, so grad f = W1 diag(1 - tanh^2) W2.
            h = torch.tanh(x_hat @ w1[r] + b1[r, 0])
            grad = w1[r] @ ((1 - h * h) * w2[r, :, 0])
            total += (grad.norm().item() - 1) ** 2
        assert gp[r] == pytest.approx(total / n, rel=1e-10)
        assert gp[r] > 0
    one = gradient_penalty(critic, real, fake, eps, one_sided=True).detach().numpy()
    assert np.all(one <= gp + 1e-15)


# ----- R1 (issue 26): gamma/2 times the mean squared norm of grad_x D at the real inputs -----

def _hand_input_gradient(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """grad_x of D(x) = tanh(elu(x W1 + b1) W2 + b2) W3 + b3 for one run, written out by the chain rule.

    x (N, F) -> (N, F). elu'(a) = 1 for a > 0 else exp(a); tanh'(a) = 1 - tanh(a)^2. Differentiable in the
    parameters with ordinary (first-order) autograd, so it is an oracle for R1's double backward.
    """
    w1, b1, w2, b2, w3, _ = params
    a1 = x @ w1 + b1
    h1 = F.elu(a1)
    a2 = h1 @ w2 + b2
    h2 = torch.tanh(a2)
    g2 = (1 - h2 * h2) * w3[:, 0]  # dD/da2 (N, H2)
    g1 = (g2 @ w2.T) * torch.where(a1 > 0, torch.ones_like(a1), torch.exp(a1))  # dD/da1 (N, H1)
    return g1 @ w1.T


@pytest.mark.parametrize("gamma", [1e-3, 0.3, 10.0])
def test_r1_penalty_against_a_hand_written_gradient_and_its_parameter_gradient_by_autograd(gamma):
    k, n, f = 3, 9, 4
    net = StackedMLP([f, 6, 5, 1], ["elu", "tanh"], [torch.Generator().manual_seed(10 + i) for i in range(k)],
                     torch.float64)
    x = torch.randn(k, n, f, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 1.5
    xr = x.clone().requires_grad_(True)
    got = r1_penalty(net(xr), xr, gamma)
    # D's last bias does not reach grad_x D: its gradient is zero (materialised as such).
    got_grads = torch.autograd.grad(got.sum(), net.params, allow_unused=True, materialize_grads=True)
    for r in range(k):
        run_params = [p[r].detach().clone().requires_grad_(True) for p in net.params]
        # b has shape (1, fan_out) per run: broadcasting over the N inputs as in the net.
        grad_x = _hand_input_gradient(run_params, x[r])
        want = 0.5 * gamma * (grad_x * grad_x).sum(-1).mean()
        # float64: both sum a few dozen products of O(1) numbers, ~1e-15 relative apart; 1e-12 is far below any
        # slip (a missing factor 1/2 or gamma, a sum instead of a mean, a wrong derivative) and above the rounding.
        assert got[r].item() == pytest.approx(want.item(), rel=1e-12)
        want_grads = torch.autograd.grad(want, run_params, allow_unused=True, materialize_grads=True)
        for g_got, g_want in zip(got_grads, want_grads):
            # detach: torch 2.4's materialised zero gradients require grad.
            np.testing.assert_allclose(g_got[r].detach().numpy(), g_want.detach().numpy(), rtol=1e-10,
                                       atol=1e-13 * gamma)
    assert all(g.abs().sum() > 0 for g in got_grads[:-1]) and got_grads[-1].abs().sum() == 0


def test_r1_penalty_of_a_linear_d_is_half_gamma_times_the_squared_weight_norm():
    # D(x) = x w + b has grad w everywhere: R1 = gamma/2 |w|^2 = 0.25 * 25 = 6.25, whatever the inputs.
    critic = linear_critic([[3.0, 4.0]])
    x = torch.randn(1, 5, 2, dtype=torch.float64).requires_grad_(True)
    got = r1_penalty(critic(x), x, 0.5)
    assert got.item() == pytest.approx(6.25, rel=1e-15)
    (gw,) = torch.autograd.grad(got.sum(), critic.params[0])
    np.testing.assert_allclose(gw.view(-1).numpy(), [1.5, 2.0], rtol=1e-15)  # d/dw gamma/2 |w|^2 = gamma w
