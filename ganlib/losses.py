"""GAN objectives, one loss value per run.

D's outputs arrive as (K, N, 1) tensors and every loss returns shape (K,): the mean over run k's
N inputs. Summing those K numbers before `backward` gives each run exactly its own gradient,
because no run's loss depends on another run's parameters.

BCE losses take logits l, with D(x) = sigmoid(l); log D = -softplus(-l) and
log(1 - D) = -softplus(l) are exact and never take the log of 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganlib.models import StackedMLP


def _mean(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).mean(1)


def bce_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's cross-entropy: -log D(real) - log(1 - D(fake)), averaged per run. log 4 at D = 1/2."""
    return _mean(F.softplus(-real_logits)) + _mean(F.softplus(fake_logits))


def bce_g_loss(fake_logits: torch.Tensor, objective: str = "non-saturating") -> torch.Tensor:
    """G's loss: 'non-saturating' -log D(G(z)) (log 2 at D = 1/2) or 'minimax' log(1 - D(G(z)))."""
    if objective == "non-saturating":
        return _mean(F.softplus(-fake_logits))
    if objective == "minimax":
        return -_mean(F.softplus(fake_logits))
    raise ValueError(f"g_objective={objective!r} is not allowed: choose non-saturating or minimax")


def wgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The critic minimises mean f(fake) - mean f(real): no sigmoid, no log."""
    return _mean(fake_scores) - _mean(real_scores)


def wgan_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """G minimises -mean f(G(z))."""
    return -_mean(fake_scores)


def clip_weights_(critic: StackedMLP, c: float) -> None:
    """Clip every critic parameter to [-c, c] in place (WGAN's crude Lipschitz constraint)."""
    with torch.no_grad():
        for p in critic.params:
            p.clamp_(-c, c)


def gradient_penalty(
    critic: StackedMLP,
    real_inputs: torch.Tensor,
    fake_inputs: torch.Tensor,
    eps: torch.Tensor,
    one_sided: bool = False,
) -> torch.Tensor:
    """WGAN-GP: mean (||grad f(x_hat)|| - 1)^2 at x_hat = eps real + (1 - eps) fake, per run.

    Inputs are D's input vectors (K, N, F); eps has shape (K, N, 1) and is drawn by the caller so
    that it comes from each run's own random stream. The graph is kept so the penalty trains D.
    `one_sided` charges only norms above 1, max(0, ||grad|| - 1)^2 (Petzka et al., 2018): the
    Lipschitz constraint itself, without pushing flat regions of the critic to slope 1. In 1-D
    that matters, because a slope that must change sign has to pass through 0.
    """
    x_hat = (eps * real_inputs + (1 - eps) * fake_inputs).detach().requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norm = torch.sqrt((grad * grad).sum(-1) + 1e-12)
    excess = torch.relu(norm - 1.0) if one_sided else norm - 1.0
    return _mean(excess**2)


def r1_penalty(real_outputs: torch.Tensor, real_inputs: torch.Tensor, gamma: float) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): gamma/2 times the mean squared norm of grad D at the real inputs, per run.

    `real_outputs` = D(real_inputs) with `real_inputs` (K, N, F) requiring grad. D's gradient on real
    data is pushed to zero, so D cannot keep a steep wall where G has to land; the graph is kept so
    the penalty trains D. For the cross-entropy GAN D's output is its logit, as in the paper.
    """
    (grad,) = torch.autograd.grad(real_outputs.sum(), real_inputs, create_graph=True)
    return 0.5 * gamma * _mean((grad * grad).sum(-1))


__all__ = ["bce_d_loss", "bce_g_loss", "wgan_critic_loss", "wgan_g_loss", "clip_weights_", "gradient_penalty",
           "r1_penalty"]
