"""Flow matching on the course's 1-D targets: K seeds trained in one batched pass, scored like the GANs.

A flow moves noise x0 to data x1 along a time t from 0 to 1 by following a velocity field v(x, t):
dx/dt = v(x, t). Conditional flow matching with straight paths (Lipman et al. 2023; rectified flow,
Liu et al. 2023) learns v by regression. Draw x0 from the noise and x1 from the data (independently),
t uniform in [0, 1], put x_t = (1 - t) x0 + t x1 on the straight line between them, and fit

    L(v) = E |v(x_t, t) - (x1 - x0)|^2.

The minimiser is the marginal velocity u(x, t) = E[x1 - x0 | x_t = x], whose flow carries the noise
exactly onto the data; `L(v) = L* + E |v(x_t, t) - u(x_t, t)|^2`, so the loss falls to a floor L* as v
approaches u. For normal noise and a normal or two-mode target both u and L* are known in closed form
(`exact_velocity`, `loss_floor`).

`FlowTrainer` mirrors `ganlib.train.Trainer`: the same stacked layers (`StackedMLP`), batched
optimizer, per-run random streams (`seed + k`; the velocity net's init uses G's stream), evaluation
every `eval_every` rounds, budget record (updates as `g_updates`, CPU seconds) and `RunResult`s with
labels, so the course's plots and tables work on it. One round is one update of the velocity net on
`batch_size` fresh (x0, x1, t) triples. Sampling integrates the ODE from t = 0 to 1 with a fixed
number of network evaluations (`evaluations`): Euler takes that many steps, the midpoint rule half as
many steps of two evaluations each.
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

from ganlib.config import (
    ACTIVATIONS,
    DTYPES,
    MAX_ROUNDS,
    MAX_SEED,
    MAX_SEEDS,
    MAX_WIDTH,
    NOISES,
    OPTIMIZERS,
    TARGETS,
    _check_choice,
    _check_float,
    _check_int,
    _check_std_resolved,
    _coerce_fields,
    _fail,
)
from ganlib.distributions import Distribution, Mixture, Normal, make_noise, make_target
from ganlib.metrics import RunResult, evaluate, is_success, label_run, ran_off, ran_off_reason
from ganlib.models import StackedMLP
from ganlib.optim import BatchedOptimizer
from ganlib.threads import course_threads, on_own_threads, using_threads
from ganlib.train import (
    MEMORY_BUDGET,
    N_FINAL,
    History,
    TrainResult,
    _Columns,
    _count,
    _HistoryBuffer,
    _stream_generators,
    resolve_device,
)

SAMPLERS = ("euler", "midpoint")
# Network evaluations per ODE step of each sampler.
EVALS_PER_STEP = {"euler": 1, "midpoint": 2}
# The most network evaluations a sample may take (a slider or a typo must not ask for minutes).
MAX_EVALUATIONS = 1000
# Random numbers drawn per chunk of rounds across runs stay below this (64 MB in float64), as in train.
_MAX_CHUNK_NUMBERS = 8_000_000
_MAX_CHUNK_ROUNDS = 200
# Evaluation and sampling work on blocks of runs whose activations stay below this.
_BLOCK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class FlowConfig:
    """Every hyperparameter of a batched flow-matching run on a 1-D target; validated when built.

    The defaults mirror the course's recommended GAN where a field means the same thing: target
    N(4, 1.25) in standardised units, a velocity network as wide as G (two hidden layers of 50),
    Adam at 2e-3 decaying to 5% over 4,000 rounds of batches of 64 values. The velocity net sees
    (x, t) and returns one number. The noise is N(0, 1), flow matching's usual source.
    """

    target: str = "normal"
    target_mean: float = 4.0
    target_std: float = 1.25
    mixture_separation: float = 0.8
    noise: str = "normal"
    normalize: bool = True
    hidden: tuple[int, ...] = (50, 50)
    activations: tuple[str, ...] = ("elu", "elu")
    optimizer: str = "adam"
    lr: float = 2e-3
    beta1: float = 0.9
    beta2: float = 0.999
    lr_decay: float = 0.05
    batch_size: int = 64
    rounds: int = 4000
    sampler: str = "midpoint"
    evaluations: int = 20
    eval_every: int = 200
    eval_samples: int = 4000
    seed: int = 0
    seeds: int = 10
    device: str = "cpu"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        _coerce_fields(self)
        _check_choice("target", self.target, TARGETS)
        _check_float("target_mean", self.target_mean, -1e6, 1e6, lo_open=False)
        _check_float("target_std", self.target_std, 0.0, 1e6, lo_open=True)
        _check_std_resolved(self.target_mean, self.target_std)
        _check_float("mixture_separation", self.mixture_separation, 0.0, 1.0, lo_open=False, hi_open=True)
        _check_choice("noise", self.noise, NOISES)
        if not isinstance(self.normalize, bool):
            _fail("normalize", self.normalize, "True or False")
        if not isinstance(self.hidden, tuple) or not self.hidden:
            _fail("hidden", self.hidden, "a non-empty tuple of layer widths, e.g. (50, 50)")
        for width in self.hidden:
            _check_int("hidden", width, 1, MAX_WIDTH)
        if not isinstance(self.activations, tuple) or len(self.activations) != len(self.hidden):
            _fail("activations", self.activations, f"a tuple with one activation per hidden layer ({len(self.hidden)})")
        for act in self.activations:
            _check_choice("activations", act, ACTIVATIONS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_float("lr", self.lr, 0.0, 10.0, lo_open=True)
        _check_float("beta1", self.beta1, 0.0, 1.0, lo_open=False, hi_open=True)
        _check_float("beta2", self.beta2, 0.0, 1.0, lo_open=False, hi_open=True)
        _check_float("lr_decay", self.lr_decay, 0.0, 1.0, lo_open=True)
        _check_int("batch_size", self.batch_size, 1, 100_000)
        _check_int("rounds", self.rounds, 0, MAX_ROUNDS)
        _check_choice("sampler", self.sampler, SAMPLERS)
        _check_int("evaluations", self.evaluations, 1, MAX_EVALUATIONS)
        per = EVALS_PER_STEP[self.sampler]
        if self.evaluations % per:
            _fail("evaluations", self.evaluations, f"a multiple of {per}: the {self.sampler} rule takes {per} "
                  f"network evaluations a step")
        _check_int("eval_every", self.eval_every, 1, MAX_ROUNDS)
        _check_int("eval_samples", self.eval_samples, 100, 1_000_000)
        _check_int("seed", self.seed, 0, MAX_SEED)
        _check_int("seeds", self.seeds, 1, MAX_SEEDS)
        if not isinstance(self.device, str) or self.device.split(":")[0] not in ("cpu", "cuda"):
            _fail("device", self.device, "'cpu', 'cuda' or 'cuda:N'")
        _check_choice("dtype", self.dtype, DTYPES)

    @property
    def steps(self) -> int:
        """ODE steps a sample takes: `evaluations` divided by the sampler's evaluations a step."""
        return self.evaluations // EVALS_PER_STEP[self.sampler]

    def replace(self, **changes: Any) -> FlowConfig:
        """A copy with some fields changed, validated like a new FlowConfig."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown flow config field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


FLOW_FIELD_HELP: dict[str, str] = {
    "target": f"the target distribution: one of {', '.join(TARGETS)}",
    "target_mean": "the target's mean, from -1e6 to 1e6",
    "target_std": "the target's standard deviation, above 0 and up to 1e6",
    "mixture_separation": "mixture only: modes at mean -/+ s std, each of std sqrt(1 - s^2) std; s in [0, 1)",
    "noise": f"the source x0 at t = 0: one of {', '.join(NOISES)}",
    "normalize": "standardise data by the target's mean and std (--normalize / --no-normalize)",
    "hidden": f"the velocity network's hidden layer widths, comma-separated, each from 1 to {MAX_WIDTH}",
    "activations": f"its activation per hidden layer, comma-separated, each one of {', '.join(ACTIVATIONS)}",
    "optimizer": f"the optimizer: one of {', '.join(OPTIMIZERS)}",
    "lr": "the learning rate, in (0, 10]",
    "beta1": "Adam's beta1, in [0, 1)",
    "beta2": "Adam's beta2 or RMSProp's smoothing constant, in [0, 1)",
    "lr_decay": "the rate falls geometrically to this fraction of its start at the last round, in (0, 1]",
    "batch_size": "(x0, x1, t) triples per update, from 1 to 100000",
    "rounds": f"updates of the velocity network, from 0 to {MAX_ROUNDS}",
    "sampler": f"the ODE rule for sampling: one of {', '.join(SAMPLERS)}",
    "evaluations": f"network evaluations per sample, from 1 to {MAX_EVALUATIONS} (midpoint: even)",
    "eval_every": f"rounds between evaluations, from 1 to {MAX_ROUNDS}",
    "eval_samples": "values per run at each evaluation, from 100 to 1000000",
    "seed": f"the first run's seed (run k uses seed + k), from 0 to {MAX_SEED}",
    "seeds": f"runs trained together, from 1 to {MAX_SEEDS}",
    "device": "where to train: cpu, cuda or cuda:N",
    "dtype": f"the floating-point type: one of {', '.join(DTYPES)}",
}


def flow_target(config: FlowConfig) -> Distribution:
    """The target a flow config describes."""
    return make_target(config.target, config.target_mean, config.target_std, config.mixture_separation)


# ----- the exact answer, where it has a closed form -----

def _gaussian_parts(target: Distribution) -> list[tuple[float, float, float]]:
    """(weight, mean, std) of the target's normal components in standardised units; ValueError otherwise."""
    if isinstance(target, Mixture):
        s, w = target.separation, target.width
        return [(0.5, -s, w), (0.5, s, w)]
    if isinstance(target, Normal):
        return [(1.0, 0.0, 1.0)]
    raise ValueError(f"the exact velocity has a closed form for normal and mixture targets, not {target.name}")


def exact_velocity(x: torch.Tensor, t: torch.Tensor | float, target: Distribution) -> torch.Tensor:
    """u(x, t) = E[x1 - x0 | x_t = x] for x0 ~ N(0, 1) and x1 the standardised target, x_t = (1 - t) x0 + t x1.

    For one normal component N(m, s^2), x_t is N(t m, (1 - t)^2 + t^2 s^2) and jointly normal with
    x1 - x0, so E[x1 - x0 | x_t = x] = m + (t s^2 - (1 - t)) / ((1 - t)^2 + t^2 s^2) (x - t m). A
    mixture weighs each component's velocity by the component's posterior probability given x_t = x.
    x and t broadcast; in standardised units (what a normalised flow works in).
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    t = torch.as_tensor(t, dtype=torch.float64)
    log_w, vel = [], []
    for weight, m, s in _gaussian_parts(target):
        var = (1 - t) ** 2 + t**2 * s**2
        d = x - t * m
        log_w.append(math.log(weight) - 0.5 * d * d / var - 0.5 * torch.log(var))
        vel.append(m + (t * s**2 - (1 - t)) / var * d)
    post = torch.softmax(torch.stack(torch.broadcast_tensors(*log_w)), 0)
    return (post * torch.stack(torch.broadcast_tensors(*vel))).sum(0)


def loss_floor(target: Distribution, n: int = 1_000_000, seed: int = 0) -> float:
    """L* = E|x1 - x0|^2 - E|u(x_t, t)|^2, the lowest flow-matching loss any v reaches (standardised units).

    Monte Carlo over n draws of (x0, x1, t), normal noise; E|x1 - x0|^2 = 2 exactly for a standardised
    target and N(0, 1) noise. For a normal target the integral has a closed form, pi / 2 (see the tests).
    """
    n = _count("n", n, 1, "a number of draws")
    g = torch.Generator().manual_seed(seed)
    standard = target.rescaled(0.0, 1.0)
    x0 = torch.randn(n, generator=g, dtype=torch.float64)
    x1 = standard.from_uniform(torch.rand(n, standard.n_uniforms, generator=g, dtype=torch.float64))
    t = torch.rand(n, generator=g, dtype=torch.float64)
    u = exact_velocity((1 - t) * x0 + t * x1, t, target)
    return float(2.0 - (u * u).mean())


# Draws of (x_t, t) on which each evaluation measures E|v - u|^2 (`FlowTrainer.excess_loss`).
EXCESS_DRAWS = 4000


def _exact_draws(target: Distribution, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n draws of x_t and t (normal noise, the standardised target) and the exact velocity u there."""
    g = torch.Generator().manual_seed(seed)
    standard = target.rescaled(0.0, 1.0)
    x0 = torch.randn(n, generator=g, dtype=torch.float64)
    x1 = standard.from_uniform(torch.rand(n, standard.n_uniforms, generator=g, dtype=torch.float64))
    t = torch.rand(n, generator=g, dtype=torch.float64)
    xt = (1 - t) * x0 + t * x1
    return xt, t, exact_velocity(xt, t, target)


def integrate(velocity: Callable[[torch.Tensor, float], torch.Tensor], x0: torch.Tensor, steps: int,
              sampler: str = "midpoint") -> torch.Tensor:
    """x(1) from x(0) = x0 under dx/dt = velocity(x, t), in `steps` equal steps of the Euler or midpoint rule.

    Euler: x += h v(x, t). Midpoint: x += h v(x + h/2 v(x, t), t + h/2), two evaluations a step and an
    error that falls as h^2 rather than h.
    """
    _check_choice("sampler", sampler, SAMPLERS)
    steps = _count("steps", steps, 1, "a number of ODE steps")
    h = 1.0 / steps
    x = x0
    for i in range(steps):
        t = i * h
        v = velocity(x, t)
        if sampler == "midpoint":
            v = velocity(x + 0.5 * h * v, t + 0.5 * h)
        x = x + h * v
    return x


# ----- memory -----

def estimate_memory(config: FlowConfig) -> int:
    """Peak bytes a FlowTrainer of this config needs, roughly: parameters with their optimizer state,
    a chunk of random numbers, one update's activations, and one block of evaluation activations."""
    sizes = [2, *config.hidden, 1]
    params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    item = 8 if config.dtype == "float64" else 4
    k = config.seeds
    per_round = config.batch_size * _uniforms_per_value(config)
    chunk = min(_MAX_CHUNK_ROUNDS, max(1, _MAX_CHUNK_NUMBERS // (k * per_round))) * k * per_round * 8
    acts = k * config.batch_size * sum(sizes) * item * 3
    return params * k * item * 5 + chunk + acts + _BLOCK_BYTES


def _uniforms_per_value(config: FlowConfig) -> int:
    nt = make_target(config.target, 0.0, 1.0).n_uniforms
    return nt + make_noise(config.noise).n_uniforms + 1


def check_memory(config: FlowConfig, budget: int = MEMORY_BUDGET) -> int:
    """The estimate, or a one-line ValueError when it exceeds `budget` (the course's 4 GiB)."""
    need = estimate_memory(config)
    if need > budget:
        raise ValueError(f"this flow config needs about {need / 2**30:.1f} GiB, more than the {budget / 2**30:g} GiB "
                         f"budget (ganlib.train.MEMORY_BUDGET); use fewer seeds or a smaller batch_size")
    return need


# ----- the trainer -----

class FlowTrainer:
    """K flow-matching runs on one 1-D target, trained together; advance with `step(n)`.

    Run k (seed `seed + k`) draws its velocity net's initial weights from G's stream, its training
    triples from the data stream, its evaluation noise from the eval stream and its samples from the
    sample stream, as a GAN run of the same seed does. `history` has the flow loss as `g_loss` and
    NaN for D's columns; `g_updates` counts the velocity net's updates and `d_updates` stays 0.
    `threads`: CPU threads (default GAN_COURSE_THREADS, else 1).
    """

    def __init__(self, config: FlowConfig, *, threads: int | None = None) -> None:
        if not isinstance(config, FlowConfig):
            raise ValueError(f"a FlowTrainer needs a FlowConfig, got {type(config).__name__}")
        self.config = config
        self.threads = course_threads(threads)
        self.memory = check_memory(config)
        with using_threads(self.threads):
            self._build()

    def _build(self) -> None:
        c = self.config
        self.device = resolve_device(c.device)
        self.dtype = torch.float64 if c.dtype == "float64" else torch.float32
        self.target = flow_target(c)
        self.noise = make_noise(c.noise)
        self.loc, self.scale = (self.target.mean, self.target.std) if c.normalize else (0.0, 1.0)
        self.seeds = [c.seed + i for i in range(c.seeds)]
        if self.seeds[-1] > MAX_SEED + MAX_SEEDS:
            raise ValueError(f"seed + seeds must stay below {MAX_SEED + MAX_SEEDS}")
        self.k = c.seeds
        self._data_gens = _stream_generators(self.seeds, "data")
        self.net = StackedMLP([2, *c.hidden, 1], c.activations, _stream_generators(self.seeds, "g_init"),
                              self.dtype, self.device)
        self.opt = BatchedOptimizer(self.net.params, c.optimizer, c.lr, c.beta1, c.beta2)
        self.round = 0
        self.g_updates = 0
        self.d_updates = 0
        self.cpu_seconds = 0.0
        self.diverged_at: list[int | None] = [None] * self.k
        self.diverged_reason: list[str | None] = [None] * self.k
        self._buf = _HistoryBuffer(self.k)
        # With a closed-form velocity (normal noise, a normal or mixture target, normalised units), each
        # evaluation also records E|v - u|^2, the loss above its floor, on fixed draws (`excess_loss`).
        self.has_exact = c.noise == "normal" and c.normalize and c.target in ("normal", "mixture")
        self._excess = _Columns(self.k)
        if self.has_exact:
            self._excess_draws = _exact_draws(self.target, EXCESS_DRAWS, seed=0)
        self._x0_eval = self._draw_noise(c.eval_samples, _stream_generators(self.seeds, "eval"))
        self._record_eval()

    # ----- randomness -----
    def _draw_noise(self, n: int, gens: list[torch.Generator]) -> torch.Tensor:
        """x0 for len(gens) runs, (runs, n, 1), each run's from its own generator."""
        out = torch.empty(len(gens), n, 1, dtype=self.dtype, device=self.device)
        for row, g in zip(out, gens):
            u = torch.rand(n, self.noise.n_uniforms, generator=g, dtype=torch.float64)
            row.copy_(self.noise.from_uniform(u).view(n, 1))
        return out

    def _draw_chunk(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x0, x1, t) for n rounds, each (K, n, batch_size, 1); one generator call per run."""
        c = self.config
        nt, nz = self.target.n_uniforms, self.noise.n_uniforms
        per = nt + nz + 1
        u = torch.empty(self.k, n * c.batch_size * per, dtype=torch.float64)
        for row, g in zip(u, self._data_gens):
            torch.rand(row.shape, generator=g, dtype=torch.float64, out=row)
        u = u.view(self.k, n, c.batch_size, per)
        x1 = (self.target.from_uniform(u[..., :nt]) - self.loc) / self.scale
        x0 = self.noise.from_uniform(u[..., nt:nt + nz])
        t = u[..., -1]
        typed = dict(dtype=self.dtype, device=self.device)
        return x0.unsqueeze(-1).to(**typed), x1.unsqueeze(-1).to(**typed), t.unsqueeze(-1).to(**typed)

    # ----- the network -----
    def velocity(self, x: torch.Tensor, t: torch.Tensor | float, runs: slice | None = None) -> torch.Tensor:
        """v(x, t) of every run (or the runs in `runs`): x (K, N, 1), t a number or (K, N, 1); training units."""
        if not isinstance(t, torch.Tensor):
            t = torch.full_like(x, float(t))
        return self.net(torch.cat([x, t.expand_as(x)], -1), runs)

    # ----- training -----
    @property
    def stopped(self) -> bool:
        """True once every run has diverged."""
        return all(r is not None for r in self.diverged_at)

    @on_own_threads
    def step(self, n: int, callback: Callable[[FlowTrainer], None] | None = None, *,
             evaluate_at_end: bool = True) -> FlowTrainer:
        """Train n more rounds (one update each), in chunks that end at evaluation points; returns self."""
        n = _count("n", n, 0, "a number of rounds")
        end = self.round + n
        c = self.config
        per_round = self.k * c.batch_size * (self.target.n_uniforms + self.noise.n_uniforms + 1)
        cap = max(1, min(_MAX_CHUNK_ROUNDS, _MAX_CHUNK_NUMBERS // per_round))
        while self.round < end and not self.stopped:
            to_eval = c.eval_every - self.round % c.eval_every
            chunk = min(end - self.round, to_eval, cap)
            cpu0 = time.process_time()
            self._run_chunk(chunk)
            self.cpu_seconds += time.process_time() - cpu0
            if self.round % c.eval_every == 0 or (evaluate_at_end and self.round == end):
                self._record_eval()
            if callback is not None:
                callback(self)
        return self

    def _run_chunk(self, n: int) -> None:
        c = self.config
        x0, x1, t = self._draw_chunk(n)
        losses = []
        for r in range(n):
            if c.lr_decay != 1.0:
                self.opt.scale = c.lr_decay ** (min(self.round + r, c.rounds) / max(c.rounds, 1))
            a, b, tt = x0[:, r], x1[:, r], t[:, r]
            xt = (1 - tt) * a + tt * b
            loss = ((self.velocity(xt, tt) - (b - a)) ** 2).mean((1, 2))
            grads = torch.autograd.grad(loss.sum(), self.net.params)
            self.opt.step(grads)
            losses.append(loss.detach())
        g_loss = torch.stack(losses, 1).double().cpu().numpy()
        nan = np.full_like(g_loss, np.nan)
        for name, a in (("d_loss", nan), ("g_loss", g_loss), ("d_real", nan), ("d_fake", nan)):
            self._buf.per_round[name].append(a)
        self._check_finite(g_loss, n)
        self.round += n
        self.g_updates += n

    def _check_finite(self, g_loss: np.ndarray, n: int) -> None:
        ok = torch.ones(self.k, dtype=torch.bool, device=self.device)
        for p in self.net.params:
            ok &= torch.isfinite(p.detach()).flatten(1).all(1)
        ok_np = ok.cpu().numpy()
        for k in range(self.k):
            if self.diverged_at[k] is not None:
                continue
            bad = np.flatnonzero(~np.isfinite(g_loss[k]))
            if bad.size:
                r = self.round + int(bad[0]) + 1
                self.diverged_at[k] = r
                self.diverged_reason[k] = f"the flow loss became {g_loss[k, bad[0]]} at round {r}"
            elif not ok_np[k]:
                r = self.round + n
                self.diverged_at[k] = r
                self.diverged_reason[k] = f"a parameter became NaN or inf by round {r}"

    # ----- sampling and measuring -----
    def _blocks(self, n: int) -> list[slice]:
        item = 8 if self.dtype == torch.float64 else 4
        per_run = n * (sum(self.config.hidden) + 4) * item * 3 + n * 8 * 12
        size = max(1, min(self.k, _BLOCK_BYTES // max(per_run, 1)))
        return [slice(a, min(a + size, self.k)) for a in range(0, self.k, size)]

    def _flow(self, x0: torch.Tensor, runs: slice, evaluations: int | None, sampler: str | None) -> torch.Tensor:
        """x(1) of the runs in `runs` from their x0 (runs, n, 1), in training units."""
        sampler = self.config.sampler if sampler is None else sampler
        _check_choice("sampler", sampler, SAMPLERS)
        evaluations = self.config.evaluations if evaluations is None else evaluations
        evaluations = _count("evaluations", evaluations, 1, "a number of network evaluations")
        if evaluations > MAX_EVALUATIONS:
            raise ValueError(f"evaluations={evaluations} is not allowed: at most {MAX_EVALUATIONS} network evaluations "
                             f"a sample")
        per = EVALS_PER_STEP[sampler]
        if evaluations % per:
            raise ValueError(f"evaluations={evaluations} is not allowed: the {sampler} rule takes {per} a step")
        return integrate(lambda x, t: self.velocity(x, t, runs), x0, evaluations // per, sampler)

    def _measure(self, n: int, x0_of: Callable[[slice], torch.Tensor], evaluations: int | None = None,
                 sampler: str | None = None) -> dict[str, np.ndarray]:
        out = {name: np.empty(self.k) for name in _HistoryBuffer.KEYS}
        for b in self._blocks(n):
            x = self._flow(x0_of(b), b, evaluations, sampler).reshape(b.stop - b.start, -1).double()
            m = evaluate(x, self.target, standardised=self.config.normalize)
            for name in _HistoryBuffer.KEYS:
                out[name][b] = m[name].cpu().numpy()
        return out

    @torch.inference_mode()
    def _record_eval(self) -> None:
        m = self._measure(self.config.eval_samples, self._x0_eval.__getitem__)
        self._buf.eval_round.append(np.array([self.round]))
        for name, value in (("g_updates", self.g_updates), ("d_updates", self.d_updates),
                            ("cpu_seconds", self.cpu_seconds)):
            self._buf.budget[name].append(np.array([value]))
        for name in _HistoryBuffer.KEYS:
            self._buf.evals[name].append(m[name])
        if self.has_exact:
            self._excess.append(self._velocity_error(*self._excess_draws))
        if self.round > 0:
            self._check_scale(m["mean"], m["std"])

    @property
    def excess_loss(self) -> np.ndarray:
        """E|v - u|^2 of each run at each evaluation, (K, evaluations): the flow loss above its floor L*.

        Measured on EXCESS_DRAWS fixed (x_t, t) draws against `exact_velocity`; only with a closed form
        (normal noise, a normal or mixture target, normalize=True), else a ValueError.
        """
        if not self.has_exact:
            raise ValueError("excess_loss needs noise='normal', normalize=True and a normal or mixture target "
                             "(where the exact velocity has a closed form)")
        return self._excess.view().copy()

    def _check_scale(self, mean: np.ndarray, std: np.ndarray) -> None:
        for k in range(self.k):
            if self.diverged_at[k] is None and ran_off(mean[k], std[k], self.target):
                self.diverged_at[k] = self.round
                self.diverged_reason[k] = ran_off_reason(float(mean[k]), float(std[k]), self.target, self.round)

    @property
    def history(self) -> History:
        """The history so far: the flow loss as g_loss, W1 and moments at each evaluation, the budget."""
        return self._buf.build(self.seeds, self.diverged_at, self.diverged_reason)

    def _check_values(self, what: str, n: int) -> None:
        need = n * 8 * (12 + 3 * max(self.config.hidden)) + self.k * n * 8
        if need > MEMORY_BUDGET:
            raise ValueError(f"{what}({n}) needs about {need / 2**30:.1f} GiB for {n:,} values a run, more than the "
                             f"{MEMORY_BUDGET / 2**30:g} GiB budget (ganlib.train.MEMORY_BUDGET); ask for fewer values")

    @on_own_threads
    @torch.inference_mode()
    def sample(self, n: int = N_FINAL, evaluations: int | None = None, sampler: str | None = None) -> np.ndarray:
        """n values from each run's flow, (K, n) in target units, from each run's sampling stream.

        `evaluations` (network evaluations per sample) and `sampler` default to the config's; the
        same noise is used whatever they are, so two calls differ only by the integration.
        """
        n = _count("n", n, 1, "a number of values")
        self._check_values("sample", n)
        gens = _stream_generators(self.seeds, "sample")
        out = np.empty((self.k, n))
        for b in self._blocks(n):
            x = self._flow(self._draw_noise(n, gens[b]), b, evaluations, sampler)
            out[b] = self._to_user(x.reshape(b.stop - b.start, -1)).cpu().numpy()
        return out

    def _to_user(self, x: torch.Tensor) -> torch.Tensor:
        return x.double() * self.scale + self.loc

    @on_own_threads
    @torch.inference_mode()
    def transport_map(self, z: np.ndarray | torch.Tensor, evaluations: int | None = None,
                      sampler: str | None = None) -> np.ndarray:
        """Where each run's flow carries the noise values z: (K, len(z)) in target units.

        The flow's counterpart of `Trainer.generator_map`: in 1-D an ODE's trajectories cannot cross,
        so the map is increasing whatever v is (up to the integration error).
        """
        zt = torch.as_tensor(np.asarray(z, dtype=np.float64)).to(self.device, self.dtype)
        x0 = zt.view(1, -1, 1).expand(self.k, -1, 1).contiguous()
        return self._to_user(self._flow(x0, slice(None), evaluations, sampler).reshape(self.k, -1)).cpu().numpy()

    @on_own_threads
    @torch.inference_mode()
    def velocity_error(self, n: int = 20_000, seed: int = 0) -> np.ndarray:
        """E|v(x_t, t) - u(x_t, t)|^2 per run, (K,): the loss above its floor, against `exact_velocity`.

        Monte Carlo over n (x0, x1, t) draws shared by all runs; normal noise and a normal or mixture
        target (the closed forms), normalised units.
        """
        if not self.has_exact:
            raise ValueError("velocity_error needs noise='normal', normalize=True and a normal or mixture target "
                             "(where the exact velocity has a closed form)")
        n = _count("n", n, 1, "a number of draws")
        return self._velocity_error(*_exact_draws(self.target, n, seed))

    def _velocity_error(self, xt: torch.Tensor, t: torch.Tensor, u: torch.Tensor) -> np.ndarray:
        out = np.empty(self.k)
        for b in self._blocks(len(xt)):
            rows = b.stop - b.start
            x = xt.view(1, -1, 1).expand(rows, -1, 1).to(self.device, self.dtype)
            tt = t.view(1, -1, 1).expand(rows, -1, 1).to(self.device, self.dtype)
            v = self.velocity(x, tt, b).double().reshape(rows, -1)
            out[b] = ((v - u) ** 2).mean(1).cpu().numpy()
        return out

    @on_own_threads
    @torch.inference_mode()
    def results(self, n: int = N_FINAL, evaluations: int | None = None, sampler: str | None = None) -> list[RunResult]:
        """Final measurements of every run on the n values `sample(n, evaluations, sampler)` gives."""
        n = _count("n", n, 1, "a number of values")
        self._check_values("results", n)
        gens = _stream_generators(self.seeds, "sample")
        m = self._measure(n, lambda b: self._draw_noise(n, gens[b]), evaluations, sampler)
        if self.round > 0:
            self._check_scale(m["mean"], m["std"])
        out = []
        for k, seed in enumerate(self.seeds):
            vals = {name: float(m[name][k]) for name in _HistoryBuffer.KEYS}
            div = self.diverged_at[k] is not None
            out.append(RunResult(
                seed=seed, **vals, w1_sigma=vals["w1"] / self.target.std,
                success=(not div) and is_success(vals["w1"], self.target.std),
                label=label_run(vals["mean"], vals["std"], vals["w1"], self.target, div, vals["mass_low"],
                                vals["mass_high"]),
                diverged_at=self.diverged_at[k], diverged_reason=self.diverged_reason[k],
            ))
        return out


def train_flow(config: FlowConfig, progress: Callable[[FlowTrainer], None] | None = None, *,
               n_final: int = N_FINAL, threads: int | None = None) -> TrainResult:
    """Train `config.seeds` flow runs for `config.rounds` rounds and measure them on n_final samples each.

    Returns a `TrainResult` (its `trainer` is the FlowTrainer), as `ganlib.train.train` does.
    """
    n_final = _count("n_final", n_final, 1, "a number of values")
    t0 = time.perf_counter()
    trainer = FlowTrainer(config, threads=threads)
    trainer.step(config.rounds, progress)
    seconds = time.perf_counter() - t0
    runs = trainer.results(n_final)
    return TrainResult(trainer, trainer.history, runs, seconds)  # type: ignore[arg-type]


__all__ = ["FlowConfig", "FlowTrainer", "train_flow", "exact_velocity", "loss_floor", "integrate", "SAMPLERS",
           "EVALS_PER_STEP", "EXCESS_DRAWS", "FLOW_FIELD_HELP", "flow_target", "estimate_memory", "check_memory"]
