"""GANs in two dimensions: the ring of eight Gaussians and the 5x5 grid, K seeds trained in one pass.

In one dimension the course knows the target's quantile function and measures W1 exactly. In two
dimensions it still knows the target exactly: a mixture of M equal Gaussians with known centres and
one component std s. That is enough to count what a student sees in a scatter plot:

- a generated point is *high quality* when it lies within 3 s of some centre (`QUALITY_RADIUS`);
- a mode is *covered* when at least a quarter of its fair share of the points, 1 / (4 M), lie within
  3 s of its centre (`COVER_SHARE`): G has found that mode, not just passed by it;
- the sliced Wasserstein distance (`sliced_w1`) compares the whole sample with a fixed draw of the
  target without any mode structure: the exact 1-D W1 of the two samples' projections onto evenly
  spaced directions, averaged over the directions. It has a floor (two draws of the target differ),
  given by `sliced_w1_floor`.

`PlaneTrainer` mirrors `ganlib.train.Trainer`: the stacked networks (`StackedMLP`, one copy per seed),
the batched optimizer, per-run random streams, evaluation every `eval_every` rounds with the budget
record (`g_updates`, `d_updates`, `cpu_seconds`), and per-run results with a label. D sees one of
three inputs (`d_input`): each point alone, its batch through minibatch discrimination (Salimans et
al. 2016), or packs of m points (PacGAN, Lin et al. 2018). The losses are the cross-entropy GAN
(non-saturating G), WGAN with weight clipping and WGAN-GP, and D may carry the R1 penalty
(Mescheder et al. 2018). `push` gives each generated point the direction in which G's loss moves
it, for the dashboard's arrows.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ganlib.config import (
    ACTIVATIONS,
    DTYPES,
    MAX_ROUNDS,
    MAX_SEED,
    MAX_SEEDS,
    MAX_WARMUP_STEPS,
    MAX_WIDTH,
    OPTIMIZERS,
    _check_choice,
    _check_float,
    _check_int,
    _coerce_fields,
    _fail,
)
from ganlib.losses import bce_d_loss, bce_g_loss, clip_weights_, gradient_penalty, r1_penalty, wgan_critic_loss
from ganlib.models import MinibatchDiscriminator, StackedMLP
from ganlib.optim import BatchedOptimizer
from ganlib.threads import course_threads, on_own_threads, using_threads
from ganlib.train import _count, _stream_generators, resolve_device

PLANE_TARGETS = ("ring8", "grid25")
PLANE_LOSSES = ("bce", "wgan", "wgan-gp")
D_INPUTS = ("point", "minibatch", "pack")
D_PENALTIES = ("none", "r1")
# A point within this many component stds of a centre is high quality (VEEGAN, PacGAN: 3 std).
QUALITY_RADIUS = 3.0
# A mode is covered when this share of its fair share 1 / M of the points lies near it.
COVER_SHARE = 0.25
# Directions of the sliced distance: evenly spaced angles in [0, pi), so it is the same number every call.
SLICE_DIRECTIONS = 64
# Points per run measured at the end (`results`) and written by `--samples`.
N_FINAL_2D = 4000
# Random numbers drawn per chunk of rounds across runs stay below this, as in ganlib.train.
_MAX_CHUNK_NUMBERS = 8_000_000
_MAX_CHUNK_ROUNDS = 200
# Seed of the fixed target draw the sliced distance compares with (independent of every run's streams).
_REFERENCE_SEED = 2**31 - 7


# ----- targets -----

@dataclass(frozen=True)
class PlaneTarget:
    """A mixture of M equal isotropic Gaussians in the plane: `centres` (M, 2) and one component `std`."""

    name: str
    centres: np.ndarray
    std: float

    @property
    def modes(self) -> int:
        """Number of components M."""
        return int(len(self.centres))

    def sample(self, n: int, generator: torch.Generator) -> np.ndarray:
        """n points (n, 2) from the mixture, drawn with `generator` (a mode index, then a normal offset)."""
        n = _count("n", n, 0, "a number of points")
        return self._from_draws(torch.rand(n, generator=generator, dtype=torch.float64),
                                torch.randn(n, 2, generator=generator, dtype=torch.float64)).numpy()

    def _from_draws(self, u: torch.Tensor, normal: torch.Tensor) -> torch.Tensor:
        """Points from uniforms u (...) picking the mode and standard normals (..., 2) for the offset."""
        centres = torch.as_tensor(self.centres, dtype=torch.float64)
        idx = (u * self.modes).long().clamp_(max=self.modes - 1)
        return centres[idx] + self.std * normal

    def pdf(self, points: np.ndarray) -> np.ndarray:
        """The mixture's density at points (..., 2)."""
        p = np.asarray(points, dtype=np.float64)
        d2 = ((p[..., None, :] - self.centres) ** 2).sum(-1)
        return np.exp(-0.5 * d2 / self.std**2).mean(-1) / (2 * math.pi * self.std**2)

    @property
    def extent(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """A square box around every centre with room for the components: ((xmin, xmax), (ymin, ymax))."""
        reach = float(np.abs(self.centres).max()) + max(6 * self.std, 0.5)
        return (-reach, reach), (-reach, reach)


def ring8(radius: float = 2.0, std: float = 0.02) -> PlaneTarget:
    """Eight Gaussians evenly spaced on a circle (the WGAN-GP and GAN Lab toy target; their std is 0.02)."""
    angles = 2 * math.pi * np.arange(8) / 8
    return PlaneTarget("ring8", radius * np.stack([np.cos(angles), np.sin(angles)], 1), float(std))


def grid25(spacing: float = 1.0, std: float = 0.05) -> PlaneTarget:
    """25 Gaussians on a 5x5 grid centred on 0 (the PacGAN and VEEGAN toy target; their std is 0.05)."""
    ticks = spacing * np.arange(-2, 3, dtype=np.float64)
    xx, yy = np.meshgrid(ticks, ticks, indexing="ij")
    return PlaneTarget("grid25", np.stack([xx.ravel(), yy.ravel()], 1), float(std))


# ----- metrics -----

def mode_counts(points: np.ndarray, target: PlaneTarget) -> np.ndarray:
    """How many points lie within QUALITY_RADIUS stds of each centre: (..., M) for points (..., n, 2).

    The target's modes are at least 6 stds apart for the settings the course allows, so a point
    counts for at most one mode.
    """
    p = np.asarray(points, dtype=np.float64)
    d2 = ((p[..., :, None, :] - target.centres) ** 2).sum(-1)  # (..., n, M)
    near = d2 <= (QUALITY_RADIUS * target.std) ** 2
    # A non-finite point is near nothing (NaN compares False).
    return near.sum(-2)


def coverage(points: np.ndarray, target: PlaneTarget) -> dict[str, np.ndarray]:
    """Per sample (..., n, 2): `covered` (..., M) booleans, `modes_covered` (...) and `high_quality` (...)."""
    p = np.asarray(points, dtype=np.float64)
    n = p.shape[-2]
    if n == 0:
        raise ValueError("coverage needs at least one point")
    counts = mode_counts(p, target)
    covered = counts >= COVER_SHARE * n / target.modes
    return {"covered": covered, "modes_covered": covered.sum(-1), "high_quality": counts.sum(-1) / n}


def slice_directions(count: int = SLICE_DIRECTIONS) -> np.ndarray:
    """`count` unit vectors (count, 2) at angles pi (j + 1/2) / count: evenly spread over half a turn."""
    count = _count("count", count, 1, "a number of directions")
    a = math.pi * (np.arange(count) + 0.5) / count
    return np.stack([np.cos(a), np.sin(a)], 1)


def _directions(directions: np.ndarray | int, d: int) -> np.ndarray:
    u = slice_directions(directions) if isinstance(directions, (int, np.integer)) else np.asarray(directions, float)
    if u.ndim != 2 or u.shape[1] != d:
        raise ValueError(f"directions must have shape (L, {d}), got {u.shape}")
    return u


def sorted_projections(points: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Each set's projections onto each direction, sorted: (..., L, n) for points (..., n, d), directions (L, d)."""
    # numpy's sort along the last, contiguous axis: six times faster here than torch.sort on the same array.
    return np.sort(np.swapaxes(np.asarray(points, dtype=np.float64) @ directions.T, -1, -2), axis=-1)


def sliced_w1(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor,
              directions: np.ndarray | int = SLICE_DIRECTIONS) -> np.ndarray:
    """Sliced W1 between equal-size point sets a, b (..., n, d): the mean over directions of the 1-D W1.

    For each unit direction u, project both sets (x . u) and take the exact W1 between the two
    projected samples (sort both, mean absolute difference). `directions` is a (L, d) array of unit
    vectors or, in 2-D, a number L of evenly spaced ones. Never more than the exact W1 between the sets,
    since each projection is 1-Lipschitz.
    """
    pa, pb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if pa.shape != pb.shape or pa.ndim < 2:
        raise ValueError(f"sliced_w1 needs two point sets of equal shape (..., n, d), got {pa.shape} and {pb.shape}")
    if pa.shape[-2] == 0:
        raise ValueError("sliced_w1 needs at least one point in each set")
    u = _directions(directions, pa.shape[-1])
    return _sliced_sorted(sorted_projections(pa, u), sorted_projections(pb, u))


def _sliced_sorted(sa: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """Sliced W1 from sorted projections (..., L, n) of two sets."""
    return np.abs(sa - sb).mean(-1).mean(-1)


def reference_sample(target: PlaneTarget, n: int, seed: int = _REFERENCE_SEED) -> np.ndarray:
    """A fixed draw of n target points that every run's sliced distance is measured against."""
    return target.sample(n, torch.Generator().manual_seed(seed))


def sliced_w1_floor(target: PlaneTarget, n: int, draws: int = 20) -> float:
    """The mean sliced W1 between the reference sample and `draws` other target samples of the same size.

    A perfect generator's distance is about this number, not 0: two finite samples of one
    distribution differ. Compare a run's `sliced_w1` with it, as the digits compare Frechet distances
    with their floor.
    """
    ref = reference_sample(target, n)
    others = np.stack([reference_sample(target, n, seed=i) for i in range(draws)])
    return float(sliced_w1(others, np.broadcast_to(ref, others.shape)).mean())


# ----- the configuration -----

@dataclass(frozen=True)
class PlaneConfig:
    """Every hyperparameter of a batched 2-D GAN run; validated when built (one-line ValueError).

    Defaults: the ring of eight Gaussians at radius 2 with component std 0.05 (wider than the
    WGAN-GP toy code's 0.02, so a CPU learns it in seconds), G and D with two hidden layers of 64
    ReLU units, G fed 2-D normal noise, the cross-entropy GAN with Adam at 2e-3, beta1 0.5 (DCGAN's
    2e-4 needs ten times the rounds here) on batches of 128, one D and one G step a round, 2,000 rounds.
    """

    target: str = "ring8"
    scale: float = 2.0
    component_std: float = 0.05
    noise_dim: int = 2
    g_hidden: tuple[int, ...] = (64, 64)
    d_hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    loss: str = "bce"
    d_input: str = "point"
    pack: int = 2
    minibatch_kernels: int = 5
    minibatch_kernel_dims: int = 3
    d_penalty: str = "none"
    r1_gamma: float = 0.1
    gp_weight: float = 0.1
    clip: float = 0.01
    optimizer: str = "adam"
    d_lr: float = 2e-3
    g_lr: float = 2e-3
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int = 1
    critic_warmup: tuple[int, int, int] = (0, 0, 0)
    batch_size: int = 128
    rounds: int = 2000
    eval_every: int = 100
    eval_samples: int = 2000
    seed: int = 0
    seeds: int = 10
    device: str = "cpu"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        _coerce_fields(self)
        _check_choice("target", self.target, PLANE_TARGETS)
        _check_float("scale", self.scale, 0.0, 1e3, lo_open=True)
        # Modes 6 stds apart or more: a point is near at most one centre, and "covered" means one mode.
        gap = self.scale * (2 * math.sin(math.pi / 8) if self.target == "ring8" else 1.0)
        _check_float("component_std", self.component_std, 0.0, gap / 6, lo_open=True)
        _check_int("noise_dim", self.noise_dim, 1, MAX_WIDTH)
        for name in ("g_hidden", "d_hidden"):
            hidden = getattr(self, name)
            if not isinstance(hidden, tuple) or not hidden:
                _fail(name, hidden, "a non-empty tuple of layer widths, e.g. (64, 64)")
            for width in hidden:
                _check_int(name, width, 1, MAX_WIDTH)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("loss", self.loss, PLANE_LOSSES)
        _check_choice("d_input", self.d_input, D_INPUTS)
        _check_int("pack", self.pack, 1, 64)
        if self.d_input == "pack" and self.batch_size % self.pack:
            _fail("pack", self.pack, f"a divisor of batch_size={self.batch_size}: D sees whole packs")
        _check_int("minibatch_kernels", self.minibatch_kernels, 1, 1000)
        _check_int("minibatch_kernel_dims", self.minibatch_kernel_dims, 1, 1000)
        _check_choice("d_penalty", self.d_penalty, D_PENALTIES)
        _check_float("r1_gamma", self.r1_gamma, 0.0, 1e6, lo_open=True)
        _check_float("gp_weight", self.gp_weight, 0.0, 1e6, lo_open=True)
        _check_float("clip", self.clip, 0.0, 1e3, lo_open=True)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_float("d_lr", self.d_lr, 0.0, 10.0, lo_open=True)
        _check_float("g_lr", self.g_lr, 0.0, 10.0, lo_open=True)
        _check_float("beta1", self.beta1, 0.0, 1.0, lo_open=False, hi_open=True)
        _check_float("beta2", self.beta2, 0.0, 1.0, lo_open=False, hi_open=True)
        _check_int("d_steps", self.d_steps, 1, MAX_WARMUP_STEPS)
        warm = self.critic_warmup
        if not (isinstance(warm, tuple) and len(warm) == 3 and all(isinstance(v, int) for v in warm)
                and 0 <= warm[0] <= MAX_WARMUP_STEPS and all(0 <= v <= MAX_ROUNDS for v in warm[1:])):
            _fail("critic_warmup", warm, f"(steps, first_g, every): steps from 0 to {MAX_WARMUP_STEPS}, first_g "
                  f"and every from 0 to {MAX_ROUNDS}; (0, 0, 0) for none")
        _check_int("batch_size", self.batch_size, 2, 100_000)
        _check_int("rounds", self.rounds, 0, MAX_ROUNDS)
        _check_int("eval_every", self.eval_every, 1, MAX_ROUNDS)
        _check_int("eval_samples", self.eval_samples, 100, 1_000_000)
        _check_int("seed", self.seed, 0, MAX_SEED)
        _check_int("seeds", self.seeds, 1, MAX_SEEDS)
        if not isinstance(self.device, str) or self.device.split(":")[0] not in ("cpu", "cuda"):
            _fail("device", self.device, "'cpu', 'cuda' or 'cuda:N'")
        _check_choice("dtype", self.dtype, DTYPES)

    def d_steps_at(self, round_: int) -> int:
        """D steps in round `round_` (0-based): the warm-up's count in its rounds, else `d_steps`.

        `critic_warmup=(steps, first_g, every)` is the WGAN reference code's schedule: `steps` critic
        updates in each of the first `first_g` rounds and in every `every`-th round after.
        """
        steps, first, every = self.critic_warmup
        if steps and (round_ < first or (every and round_ % every == 0)):
            return steps
        return self.d_steps

    def replace(self, **changes: Any) -> PlaneConfig:
        """A copy with some fields changed, validated like a new PlaneConfig."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown plane config field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def plane_target(config: PlaneConfig) -> PlaneTarget:
    """The target a config describes (ring radius or grid spacing `scale`, component std)."""
    if config.target == "ring8":
        return ring8(config.scale, config.component_std)
    return grid25(config.scale / 2, config.component_std)


# The methods the 2-D notebook compares, each a set of changes to PlaneConfig's defaults. WGAN and
# WGAN-GP run with their authors' optimizers and schedules (Arjovsky et al.'s RMSProp at 5e-5, clip
# 0.01, five critic steps with the 100-step warm-up; Gulrajani et al.'s toy code: Adam 1e-4, betas
# (0.5, 0.9), five critic steps, penalty weight 0.1), on the course's smaller networks.
PLANE_METHODS: dict[str, dict[str, Any]] = {
    "gan": {},
    "minibatch": {"d_input": "minibatch"},
    "pack": {"d_input": "pack", "pack": 2},
    "r1": {"d_penalty": "r1", "r1_gamma": 0.1},
    "wgan": {"loss": "wgan", "optimizer": "rmsprop", "d_lr": 5e-5, "g_lr": 5e-5, "clip": 0.01, "d_steps": 5,
             "critic_warmup": (100, 25, 500)},
    "wgan-gp": {"loss": "wgan-gp", "d_lr": 1e-4, "g_lr": 1e-4, "beta1": 0.5, "beta2": 0.9, "d_steps": 5,
                "gp_weight": 0.1},
}


def plane_method(name: str, **overrides: Any) -> PlaneConfig:
    """The PlaneConfig of one of PLANE_METHODS, with `overrides` applied last."""
    if name not in PLANE_METHODS:
        raise ValueError(f"method={name!r} is not known: choose one of {', '.join(PLANE_METHODS)}")
    # PlaneConfig(**...) would raise a TypeError for an unknown keyword: say which field, in one line.
    known = [f.name for f in dataclasses.fields(PlaneConfig)]
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(f"unknown plane config field(s): {', '.join(unknown)}; the fields are {', '.join(known)}")
    return PlaneConfig(**{**PLANE_METHODS[name], **overrides})


PLANE_FIELD_HELP: dict[str, str] = {
    "target": f"the 2-D target: one of {', '.join(PLANE_TARGETS)}",
    "scale": "ring8: the ring's radius; grid25: the grid's width from centre to edge (spacing = scale / 2)",
    "component_std": "each Gaussian's std, above 0 and at most a sixth of the gap between neighbouring modes",
    "noise_dim": f"G's input size (standard normal noise), from 1 to {MAX_WIDTH}",
    "g_hidden": "G's hidden layer widths, comma-separated",
    "d_hidden": "D's hidden layer widths, comma-separated",
    "activation": f"the hidden layers' activation: one of {', '.join(ACTIVATIONS)}",
    "loss": f"the objective: one of {', '.join(PLANE_LOSSES)}",
    "d_input": f"what D sees: one of {', '.join(D_INPUTS)} (minibatch discrimination, PacGAN packs)",
    "pack": "points per pack D sees when d_input is pack (a divisor of batch_size)",
    "minibatch_kernels": "minibatch discrimination: number of kernels B",
    "minibatch_kernel_dims": "minibatch discrimination: dimensions C of each kernel",
    "d_penalty": f"a penalty on D: one of {', '.join(D_PENALTIES)} (R1: gamma/2 times |grad D|^2 on real data)",
    "r1_gamma": "the R1 penalty's gamma, above 0",
    "gp_weight": "WGAN-GP's penalty weight lambda, above 0",
    "clip": "WGAN: the critic's weights are clipped to [-clip, clip]",
    "optimizer": f"both networks' optimizer: one of {', '.join(OPTIMIZERS)}",
    "d_lr": "D's learning rate, in (0, 10]",
    "g_lr": "G's learning rate, in (0, 10]",
    "beta1": "Adam's beta1, in [0, 1)",
    "beta2": "Adam's beta2 or RMSProp's smoothing constant, in [0, 1)",
    "d_steps": "D updates a round",
    "critic_warmup": "STEPS,FIRST_G,EVERY: STEPS D updates in the first FIRST_G rounds and every EVERY-th round",
    "batch_size": "points per D and per G update",
    "rounds": "rounds of training (a round: d_steps D updates, then one G update)",
    "eval_every": "rounds between evaluations",
    "eval_samples": "points per run at each evaluation",
    "seed": "the first run's seed (run k uses seed + k)",
    "seeds": "runs trained together",
    "device": "where to train: cpu, cuda or cuda:N",
    "dtype": f"the floating-point type: one of {', '.join(DTYPES)}",
}


# ----- history and results -----

@dataclass
class PlaneHistory:
    """What happened during training, one row per run.

    Per round: `d_loss` and `g_loss` (the round's last D step and its G step). At each evaluation
    (`eval_round`): `modes_covered`, `high_quality` and `sliced_w1` per run, `covered` (K, evals, M),
    and the budget spent so far, shared by all runs: `g_updates`, `d_updates`, `cpu_seconds` (the
    whole batched pass's training CPU time, as in `ganlib.train.History`).
    """

    seeds: list[int]
    d_loss: np.ndarray
    g_loss: np.ndarray
    eval_round: np.ndarray
    modes_covered: np.ndarray
    high_quality: np.ndarray
    sliced_w1: np.ndarray
    covered: np.ndarray
    g_updates: np.ndarray
    d_updates: np.ndarray
    cpu_seconds: np.ndarray
    diverged_at: list[int | None]

    def budget(self, axis: str) -> np.ndarray:
        """The budget at each evaluation: "round", "g_updates", "d_updates" or "cpu_seconds"."""
        if axis not in ("round", "g_updates", "d_updates", "cpu_seconds"):
            raise ValueError(f"axis={axis!r} is not allowed: choose one of round, g_updates, d_updates, cpu_seconds")
        return self.eval_round if axis == "round" else getattr(self, axis)

    def last_hop(self) -> list[int | None]:
        """Per run, the last evaluation round at which the set of covered modes changed (None: never).

        A hop is G leaving a mode or finding a new one; the first evaluation (round 0) sets the
        starting set and is not a hop.
        """
        out: list[int | None] = []
        for k in range(self.covered.shape[0]):
            changed = np.flatnonzero((self.covered[k, 1:] != self.covered[k, :-1]).any(-1))
            out.append(int(self.eval_round[changed[-1] + 1]) if changed.size else None)
        return out


@dataclass(frozen=True)
class PlaneRunResult:
    """One run's final measurements on `N_FINAL_2D` points: the modes it covers and how close it is."""

    seed: int
    modes_covered: int
    modes: int
    high_quality: float
    sliced_w1: float
    covered: tuple[int, ...]
    last_hop: int | None
    label: str
    diverged_at: int | None
    diverged_reason: str | None = None


def plane_label(modes_covered: int, modes: int, high_quality: float, diverged: bool) -> str:
    """"diverged", "all modes" (every mode covered, at least half the points high quality), "blurred"
    (every mode covered but most points off the modes), "collapsed" (at most half the modes) or
    "missing modes"."""
    if diverged:
        return "diverged"
    if modes_covered == modes:
        return "all modes" if high_quality >= 0.5 else "blurred"
    return "collapsed" if modes_covered <= modes // 2 else "missing modes"


# ----- the trainer -----

class PlaneTrainer:
    """K GAN runs on one 2-D target, trained together; advance with `step(n)`.

    Run k (seed `seed + k`) draws G's and D's initial weights, its training data and noise, its
    evaluation noise and its samples from its own streams (as `ganlib.train.Trainer` does), so run k
    alone equals run k in a batch. `threads`: CPU threads (default GAN_COURSE_THREADS, else 1).
    """

    def __init__(self, config: PlaneConfig, *, threads: int | None = None) -> None:
        if not isinstance(config, PlaneConfig):
            raise ValueError(f"a PlaneTrainer needs a PlaneConfig, got {type(config).__name__}")
        self.config = config
        self.threads = course_threads(threads)
        with using_threads(self.threads):
            self._build()

    def _build(self) -> None:
        c = self.config
        self.device = resolve_device(c.device)
        self.dtype = torch.float64 if c.dtype == "float64" else torch.float32
        self.target = plane_target(c)
        self.seeds = [c.seed + i for i in range(c.seeds)]
        if self.seeds[-1] > MAX_SEED + MAX_SEEDS:
            raise ValueError(f"seed + seeds must stay below {MAX_SEED + MAX_SEEDS}")
        self.k = c.seeds
        typed = dict(dtype=self.dtype, device=self.device)
        self.G = StackedMLP([c.noise_dim, *c.g_hidden, 2], [c.activation] * len(c.g_hidden),
                            _stream_generators(self.seeds, "g_init"), **typed)
        d_gens = _stream_generators(self.seeds, "d_init")
        d_in = 2 * c.pack if c.d_input == "pack" else 2
        d_sizes, d_acts = [d_in, *c.d_hidden, 1], [c.activation] * len(c.d_hidden)
        if c.d_input == "minibatch":
            self.D: StackedMLP = MinibatchDiscriminator(d_sizes, d_acts, d_gens, c.minibatch_kernels,
                                                        c.minibatch_kernel_dims, c.batch_size, **typed)
        else:
            self.D = StackedMLP(d_sizes, d_acts, d_gens, **typed)
        self.opt_d = BatchedOptimizer(self.D.params, c.optimizer, c.d_lr, c.beta1, c.beta2)
        self.opt_g = BatchedOptimizer(self.G.params, c.optimizer, c.g_lr, c.beta1, c.beta2)
        self._data_gens = _stream_generators(self.seeds, "data")
        self.round = 0
        self.g_updates = 0
        self.d_updates = 0
        self.cpu_seconds = 0.0
        self.diverged_at: list[int | None] = [None] * self.k
        self.diverged_reason: list[str | None] = [None] * self.k
        self._losses: dict[str, list[np.ndarray]] = {"d_loss": [], "g_loss": []}
        self._evals: dict[str, list[np.ndarray]] = {n: [] for n in ("modes_covered", "high_quality", "sliced_w1",
                                                                     "covered")}
        self._eval_budget: dict[str, list[float]] = {n: [] for n in ("round", "g_updates", "d_updates",
                                                                     "cpu_seconds")}
        self._z_eval = self._noise(c.eval_samples, _stream_generators(self.seeds, "eval"))
        self._slices = slice_directions()
        self._reference = sorted_projections(reference_sample(self.target, c.eval_samples), self._slices)
        self._record_eval()

    # ----- randomness -----
    def _noise(self, n: int, gens: list[torch.Generator]) -> torch.Tensor:
        """G's input for len(gens) runs, (runs, n, noise_dim), each run's from its own generator."""
        z = torch.stack([torch.randn(n, self.config.noise_dim, generator=g, dtype=torch.float64) for g in gens])
        return z.to(self.device, self.dtype)

    def _draw_chunk(self, n: int, d_steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Real points (K, n, d, B, 2), D's noise (K, n, d, B, nz), G's noise (K, n, B, nz), eps (K, n, d, B, 1).

        One call to each run's generator, round by round: `step(a)` then `step(b)` draws the numbers
        `step(a + b)` does. Normals come from uniforms by the inverse normal CDF.
        """
        c = self.config
        b, nz = c.batch_size, c.noise_dim
        d_per = d_steps * b * (4 + nz)
        u = torch.empty(self.k, n, d_per + b * nz, dtype=torch.float64)
        for row, g in zip(u, self._data_gens):
            torch.rand(row.shape, generator=g, dtype=torch.float64, out=row)
        tiny = 2.0**-53
        d_part = u[..., :d_per].reshape(self.k, n, d_steps, b, 4 + nz)
        normal = torch.special.ndtri(d_part[..., 1:3 + nz].clamp(tiny, 1 - tiny))
        real = self.target._from_draws(d_part[..., 0], normal[..., :2])
        zg = torch.special.ndtri(u[..., d_per:].clamp(tiny, 1 - tiny)).reshape(self.k, n, b, nz)
        typed = dict(dtype=self.dtype, device=self.device)
        return (real.to(**typed), normal[..., 2:].to(**typed), zg.to(**typed), d_part[..., 3 + nz:].to(**typed))

    # ----- the networks -----
    def _d_view(self, points: torch.Tensor) -> torch.Tensor:
        """D's input for points (K, N, 2): packs of `pack` points side by side for PacGAN, else the points."""
        if self.config.d_input == "pack":
            k, n, _ = points.shape
            return points.reshape(k, n // self.config.pack, 2 * self.config.pack)
        return points

    def _d_loss(self, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        c = self.config
        x_real, x_fake = self._d_view(real), self._d_view(fake)
        if c.d_penalty == "r1":
            x_real = x_real.detach().requires_grad_(True)
        out_real, out_fake = self.D(x_real), self.D(x_fake)
        if c.loss == "bce":
            loss = bce_d_loss(out_real, out_fake)
        else:
            loss = wgan_critic_loss(out_real, out_fake)
            if c.loss == "wgan-gp":
                e = eps[:, : x_real.shape[1]]
                loss = loss + c.gp_weight * gradient_penalty(self.D, x_real, x_fake, e)
        if c.d_penalty == "r1":
            loss = loss + r1_penalty(out_real, x_real, c.r1_gamma)
        return loss

    def _g_loss(self, out_fake: torch.Tensor) -> torch.Tensor:
        return bce_g_loss(out_fake) if self.config.loss == "bce" else -out_fake.reshape(self.k, -1).mean(1)

    @property
    def stopped(self) -> bool:
        """True once every run has diverged."""
        return all(r is not None for r in self.diverged_at)

    @on_own_threads
    def step(self, n: int, callback: Callable[[PlaneTrainer], None] | None = None, *,
             evaluate_at_end: bool = True) -> PlaneTrainer:
        """Train n more rounds (in chunks that end at evaluation points and warm-up edges); returns self."""
        n = _count("n", n, 0, "a number of rounds")
        end = self.round + n
        c = self.config
        while self.round < end and not self.stopped:
            d_steps = c.d_steps_at(self.round)
            per_round = self.k * c.batch_size * (d_steps * (4 + c.noise_dim) + c.noise_dim)
            cap = max(1, min(_MAX_CHUNK_ROUNDS, _MAX_CHUNK_NUMBERS // per_round))
            chunk = min(end - self.round, c.eval_every - self.round % c.eval_every, cap)
            # A chunk's rounds take one number of D steps.
            same = 1
            while same < chunk and c.d_steps_at(self.round + same) == d_steps:
                same += 1
            chunk = same
            cpu0 = time.process_time()
            self._run_chunk(chunk, d_steps)
            self.cpu_seconds += time.process_time() - cpu0
            if self.round % c.eval_every == 0 or (evaluate_at_end and self.round == end):
                self._record_eval()
            if callback is not None:
                callback(self)
        return self

    def _run_chunk(self, n: int, d_steps: int) -> None:
        c = self.config
        real, zd, zg, eps = self._draw_chunk(n, d_steps)
        d_losses, g_losses = [], []
        for r in range(n):
            for s in range(d_steps):
                with torch.no_grad():
                    fake = self.G(zd[:, r, s])
                loss = self._d_loss(real[:, r, s], fake, eps[:, r, s])
                grads = torch.autograd.grad(loss.sum(), self.D.params)
                self.opt_d.step(grads)
                if c.loss == "wgan":
                    clip_weights_(self.D, c.clip)
            g_loss = self._g_loss(self.D(self._d_view(self.G(zg[:, r]))))
            self.opt_g.step(torch.autograd.grad(g_loss.sum(), self.G.params))
            d_losses.append(loss.detach())
            g_losses.append(g_loss.detach())
        d_arr = torch.stack(d_losses, 1).double().cpu().numpy()
        g_arr = torch.stack(g_losses, 1).double().cpu().numpy()
        self._losses["d_loss"].append(d_arr)
        self._losses["g_loss"].append(g_arr)
        self._check_finite(d_arr, g_arr)
        self.round += n
        self.g_updates += n
        self.d_updates += n * d_steps

    def _check_finite(self, d_arr: np.ndarray, g_arr: np.ndarray) -> None:
        ok = torch.ones(self.k, dtype=torch.bool, device=self.device)
        for p in self.G.params + self.D.params:
            ok &= torch.isfinite(p.detach()).flatten(1).all(1)
        ok_np = ok.cpu().numpy()
        for k in range(self.k):
            if self.diverged_at[k] is not None:
                continue
            bad = np.flatnonzero(~(np.isfinite(d_arr[k]) & np.isfinite(g_arr[k])))
            if bad.size:
                r = self.round + int(bad[0]) + 1
                self.diverged_at[k] = r
                self.diverged_reason[k] = f"a loss became NaN or inf at round {r}"
            elif not ok_np[k]:
                r = self.round + d_arr.shape[1]
                self.diverged_at[k] = r
                self.diverged_reason[k] = f"a parameter became NaN or inf by round {r}"

    # ----- measuring -----
    @torch.inference_mode()
    def _generate(self, z: torch.Tensor) -> np.ndarray:
        return self.G(z).double().cpu().numpy()

    def _metrics(self, points: np.ndarray, reference: np.ndarray) -> dict[str, np.ndarray]:
        """Coverage and the sliced W1 to `reference`, the target sample's sorted projections (L, n)."""
        cov = coverage(points, self.target)
        finite = np.isfinite(points).all((-1, -2))
        sw = _sliced_sorted(sorted_projections(np.nan_to_num(points), self._slices), reference)
        return {**cov, "sliced_w1": np.where(finite, sw, np.inf)}

    def _record_eval(self) -> None:
        m = self._metrics(self._generate(self._z_eval), self._reference)
        for name in self._evals:
            self._evals[name].append(np.asarray(m[name]))
        for name, value in (("round", self.round), ("g_updates", self.g_updates), ("d_updates", self.d_updates),
                            ("cpu_seconds", self.cpu_seconds)):
            self._eval_budget[name].append(value)

    def coverage(self) -> dict[str, np.ndarray]:
        """Per run, from the last evaluation: `modes_covered` (K,) and `high_quality` (K,)."""
        return {name: self._evals[name][-1].copy() for name in ("modes_covered", "high_quality")}

    @property
    def history(self) -> PlaneHistory:
        """The history so far (see PlaneHistory)."""
        def cols(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(parts, 1) if parts else np.zeros((self.k, 0))
        ev = {n: np.stack(v, 1) for n, v in self._evals.items()}
        return PlaneHistory(
            seeds=list(self.seeds), d_loss=cols(self._losses["d_loss"]), g_loss=cols(self._losses["g_loss"]),
            eval_round=np.array(self._eval_budget["round"], dtype=np.int64), **ev,
            g_updates=np.array(self._eval_budget["g_updates"], dtype=np.int64),
            d_updates=np.array(self._eval_budget["d_updates"], dtype=np.int64),
            cpu_seconds=np.array(self._eval_budget["cpu_seconds"]), diverged_at=list(self.diverged_at))

    @property
    def extent(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The square box to draw, target units (see PlaneTarget.extent)."""
        return self.target.extent

    def _check_points(self, what: str, n: int) -> int:
        n = _count("n", n, 1, "a number of points")
        if n > 1_000_000:
            raise ValueError(f"{what}(n={n}) is not allowed: at most 1,000,000 points a run")
        return n

    @on_own_threads
    def sample(self, n: int = N_FINAL_2D) -> np.ndarray:
        """n points from each run's G, (K, n, 2), from each run's sampling stream."""
        n = self._check_points("sample", n)
        return self._generate(self._noise(n, _stream_generators(self.seeds, "sample")))

    def _runs(self, runs: slice | None) -> tuple[StackedMLP, StackedMLP, list[int]]:
        """G, D and the run indices for `runs` (None: all): copies of just those runs' networks otherwise."""
        if runs is None:
            return self.G, self.D, list(range(self.k))
        if not isinstance(runs, slice):
            raise ValueError(f"runs={runs!r} is not allowed: a slice of the {self.k} runs, e.g. slice(0, 1)")
        idx = list(range(self.k))[runs]
        if not idx:
            raise ValueError(f"runs={runs!r} selects none of the {self.k} runs")
        return self.G.select(idx), self.D.select(idx), idx

    @on_own_threads
    def push(self, n: int = 256, runs: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
        """G's points from the first n evaluation noise vectors and the push of G's loss on each: -dL_G/dx.

        Returns (points, push), each (K, n, 2), or one row per run in `runs` (a slice; a dashboard
        drawing one run need not pay for the others). L_G is the loss G minimises (non-saturating
        -log D(x) for the cross-entropy GAN, -D(x) for the WGANs) summed over the points, so each
        point's arrow is its own term's gradient: where one gradient step on G would move that point
        if G could move it freely. With packs or minibatch discrimination a point's term also depends
        on the points it arrives with; they are the other evaluation points, in whole batches.
        """
        n = self._check_points("push", n)
        c = self.config
        g_net, d_net, idx = self._runs(runs)
        group = c.batch_size if c.d_input == "minibatch" else (c.pack if c.d_input == "pack" else 1)
        m = -(-n // group) * group
        z = self._z_eval if m <= c.eval_samples else self._noise(m, _stream_generators(self.seeds, "eval"))
        with torch.no_grad():
            x = g_net(z[idx, :m]).detach()
        x.requires_grad_(True)
        out = d_net(self._d_view(x))
        per_point = F.softplus(-out) if c.loss == "bce" else -out
        (grad,) = torch.autograd.grad(per_point.sum(), x)
        return x.detach()[:, :n].double().cpu().numpy(), (-grad[:, :n]).double().cpu().numpy()

    @on_own_threads
    @torch.inference_mode()
    def surface(self, xs: np.ndarray, ys: np.ndarray, runs: slice | None = None) -> np.ndarray:
        """D's output on the grid xs x ys, (K, len(ys), len(xs)): D(x) (cross-entropy) or the critic's value (WGANs).

        One row per run in `runs` (a slice) if given. With packs or minibatch discrimination D judges
        a point with others: each grid point is scored with G's first evaluation points as the rest
        of its pack or batch.
        """
        c = self.config
        g_net, d_net, idx = self._runs(runs)
        k = len(idx)
        gx, gy = np.meshgrid(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))
        q = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=self.dtype, device=self.device)
        q = q.unsqueeze(0).expand(k, -1, -1)
        if c.d_input == "point":
            out = d_net(q)
        else:
            rest = g_net(self._z_eval[idx, : (c.pack if c.d_input == "pack" else c.batch_size) - 1])
            if c.d_input == "pack":
                packs = torch.cat([q.unsqueeze(2), rest.unsqueeze(1).expand(-1, q.shape[1], -1, -1)], 2)
                out = d_net(packs.reshape(k, q.shape[1], 2 * c.pack))
            else:
                out = d_net.in_batch(q, rest)  # type: ignore[attr-defined]
        out = torch.sigmoid(out) if c.loss == "bce" else out
        return out.double().reshape(k, len(ys), len(xs)).cpu().numpy()

    @on_own_threads
    def results(self, n: int = N_FINAL_2D) -> list[PlaneRunResult]:
        """Every run's final measurements on `sample(n)`, with the last hop from the history."""
        n = self._check_points("results", n)
        points = self.sample(n)
        m = self._metrics(points, sorted_projections(reference_sample(self.target, n), self._slices))
        hops = self.history.last_hop()
        out = []
        for k, seed in enumerate(self.seeds):
            div = self.diverged_at[k] is not None
            covered = int(m["modes_covered"][k])
            hq = float(m["high_quality"][k])
            out.append(PlaneRunResult(
                seed=seed, modes_covered=covered, modes=self.target.modes, high_quality=hq,
                sliced_w1=float(m["sliced_w1"][k]), covered=tuple(int(i) for i in np.flatnonzero(m["covered"][k])),
                last_hop=hops[k], label=plane_label(covered, self.target.modes, hq, div),
                diverged_at=self.diverged_at[k], diverged_reason=self.diverged_reason[k]))
        return out


# ----- reading the arrows -----

def push_alignment(push: np.ndarray) -> np.ndarray:
    """How much the arrows agree in direction: the length of the mean unit arrow, (...) for push (..., n, 2).

    1 when every arrow points the same way (the points move as a lump), near 0 when they point
    every which way (for instance each toward its own mode). Zero and non-finite arrows are left out.
    """
    v = np.asarray(push, dtype=np.float64)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    ok = np.isfinite(norm) & (norm > 0)
    unit = np.where(ok, v / np.where(ok, norm, 1.0), 0.0)
    return np.linalg.norm(unit.sum(-2), axis=-1) / np.maximum(ok[..., 0].sum(-1), 1)


def toward_nearest_mode(points: np.ndarray, push: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The share of points whose arrow points toward their nearest centre (a positive dot product), (...).

    For points and push (..., n, 2) and centres (M, 2); over the points with a finite, non-zero
    arrow, NaN where there are none.
    """
    p, v = np.asarray(points, dtype=np.float64), np.asarray(push, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    d2 = ((p[..., :, None, :] - c) ** 2).sum(-1)
    nearest = c[np.argmin(np.nan_to_num(d2, nan=np.inf), -1)]
    ok = np.isfinite(p).all(-1) & np.isfinite(v).all(-1) & (np.abs(v).sum(-1) > 0)
    toward = (((nearest - p) * v).sum(-1) > 0) & ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return toward.sum(-1) / ok.sum(-1)


# ----- drawing -----

def draw_modes(ax: Any, target: PlaneTarget) -> None:
    """The target's centres with their circles of QUALITY_RADIUS stds (high quality inside) on `ax`, square box."""
    from matplotlib.patches import Circle

    from ganlib.palette import COLORS

    for c in target.centres:
        ax.add_patch(Circle(tuple(c), QUALITY_RADIUS * target.std, fill=False, color=COLORS["target"], lw=1.2))
    ax.plot(target.centres[:, 0], target.centres[:, 1], "+", color=COLORS["target"], ms=6, mew=1.5)
    (x0, x1), (y0, y1) = target.extent
    ax.set(xlim=(x0, x1), ylim=(y0, y1), aspect="equal", xticks=[], yticks=[])


def draw_snapshot(ax: Any, target: PlaneTarget, grid: np.ndarray, surface: np.ndarray, points: np.ndarray,
                  push: np.ndarray | None = None, arrow_share: float = 0.08,
                  limits: tuple[float, float] | None = None) -> Any:
    """D's `surface` on `grid` x `grid` as a heat map, the modes, G's `points` and each one's `push` arrow.

    Arrows (in D's colour, so they stand out from G's points) are scaled so that the longest is
    `arrow_share` of the box's side: the push of a cross-entropy D and of a WGAN critic differ by
    orders of magnitude, so only directions and relative lengths are comparable between pictures.
    `limits` fixes the heat map's range (D(x) in [0, 1] for the cross-entropy GAN), so that pictures
    side by side use one scale. Returns the heat map (for a colour bar).
    """
    from ganlib.palette import COLORS, SEQUENTIAL_CMAP

    lo, hi = limits if limits is not None else (None, None)
    image = ax.imshow(surface, origin="lower", extent=(grid[0], grid[-1], grid[0], grid[-1]), cmap=SEQUENTIAL_CMAP,
                      alpha=0.75, interpolation="bilinear", vmin=lo, vmax=hi)
    draw_modes(ax, target)
    ax.scatter(points[:, 0], points[:, 1], s=4, color=COLORS["G"], zorder=3)
    if push is not None:
        longest = float(np.nanmax(np.linalg.norm(push, axis=1))) if len(push) else 0.0
        if longest > 0:
            (x0, x1), _ = target.extent
            v = push * (arrow_share * (x1 - x0) / longest)
            ax.quiver(points[:, 0], points[:, 1], v[:, 0], v[:, 1], angles="xy", scale_units="xy", scale=1,
                      color=COLORS["D"], width=0.004, zorder=4)
    return image


@dataclass
class PlaneTrainResult:
    """A finished 2-D training call: the trainer, its history, each run's result and the wall seconds."""

    trainer: PlaneTrainer
    history: PlaneHistory
    runs: list[PlaneRunResult]
    seconds: float

    def share_all_modes(self) -> float:
        """The share of runs that cover every mode."""
        return float(np.mean([r.modes_covered == r.modes for r in self.runs]))


def train_plane(config: PlaneConfig, progress: Callable[[PlaneTrainer], None] | None = None, *,
                n_final: int = N_FINAL_2D, threads: int | None = None) -> PlaneTrainResult:
    """Train `config.seeds` runs for `config.rounds` rounds and measure each on n_final points."""
    n_final = _count("n_final", n_final, 1, "a number of points")
    t0 = time.perf_counter()
    trainer = PlaneTrainer(config, threads=threads)
    trainer.step(config.rounds, progress)
    seconds = time.perf_counter() - t0
    return PlaneTrainResult(trainer, trainer.history, trainer.results(n_final), seconds)


__all__ = ["PlaneConfig", "PlaneTrainer", "PlaneTarget", "PlaneHistory", "PlaneRunResult", "PlaneTrainResult",
           "train_plane", "plane_method", "plane_target", "ring8", "grid25", "mode_counts", "coverage",
           "sliced_w1", "sliced_w1_floor", "slice_directions", "sorted_projections", "reference_sample",
           "plane_label", "PLANE_METHODS", "PLANE_TARGETS", "PLANE_LOSSES", "D_INPUTS", "D_PENALTIES",
           "PLANE_FIELD_HELP", "QUALITY_RADIUS", "COVER_SHARE", "N_FINAL_2D", "draw_modes", "draw_snapshot",
           "push_alignment", "toward_nearest_mode"]
