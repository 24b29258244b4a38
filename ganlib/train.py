"""Training: a `Trainer` that advances K seeds together by n rounds at a time, and `train(config)`.

One round is `d_steps` updates of D (on fresh real data and on G's output, detached so that D's
loss does not train G; a critic warm-up round, see `Config.critic_warmup`, takes more) followed
by `g_steps` updates of G through D (only G's parameters are stepped, so D does not learn from
G's "real" labels). Run k (seed `seed + k`) draws from five
streams of its own: G's initial weights, D's initial weights, the training batches (real data and
noise), the evaluation noise and the sampling noise. So the numbers of a run do not depend on how
many runs train beside it, nor on how rounds are split into calls; and two configs that differ
only in what D sees (or D's widths) give G the same start and the same batches on the same seed,
which makes comparisons between them fair (common random numbers).

Randomness is drawn once per chunk of rounds (one call per run), losses stay on the device until
the chunk ends, and NaN/inf is checked once per chunk: a run that meets it is marked diverged
with the round and the reason, and the others train on.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ganlib.config import MAX_SEED, MAX_SEEDS, Config, stream_seed
from ganlib.distributions import Distribution, make_noise, make_target
from ganlib.features import FeatureMap, get_feature_map
from ganlib.losses import (
    bce_d_loss,
    bce_g_loss,
    clip_weights_,
    gradient_penalty,
    r1_penalty,
    wgan_critic_loss,
    wgan_g_loss,
)
from ganlib.metrics import RunResult, evaluate, is_success, label_run, ran_off, ran_off_reason
from ganlib.models import MinibatchDiscriminator, StackedMLP
from ganlib.optim import BatchedOptimizer
from ganlib.threads import course_threads, on_own_threads, using_threads

# Fields that may change while a run is in progress (the next chunk uses them).
LIVE_FIELDS = ("d_lr", "g_lr", "d_steps", "g_steps", "clip", "gp_weight")
# The axes a training budget is counted on (see History.budget).
BUDGET_AXES = ("round", "g_updates", "d_updates", "cpu_seconds")
# Upper bound on uniforms drawn per chunk across runs (64 MB in float64).
_MAX_CHUNK_NUMBERS = 8_000_000
_MAX_CHUNK_ROUNDS = 200
# Each run's random streams, seeded `stream_seed(seed, index)` (see ganlib.config): no two streams of
# any two runs of a sweep share a seed.
_STREAMS = ("g_init", "d_init", "data", "eval", "sample")

# The most memory (bytes) a config may need at its peak, by `estimate_memory`. A student laptop
# has 8 GB, of which the system, a browser and JupyterLab take about half: 4 GiB is what one
# training can count on. Configs above it are refused before anything is allocated.
MEMORY_BUDGET = 4 * 2**30
# Evaluation, sampling and results work on blocks of runs whose temporaries (G's activations on
# the block's noise and the metrics' float64 arrays) stay below this, so any number of seeds fits.
_BLOCK_BYTES = 64 * 2**20
# Values per run that `train` measures at the end, and `--samples` writes.
N_FINAL = 10_000
# float64 arrays of one row's length alive at once while `evaluate` runs: the standardised copy,
# sorted values and their int64 indices, and the closed form's terms (see ganlib.metrics).
_METRIC_ARRAYS = 12
# Memory the process holds beyond its live tensors: glibc keeps up to twice its mmap threshold
# (which grows to at most 32 MiB) free at the top of its heap (mallopt(3), M_TRIM_THRESHOLD), and
# more in holes between live blocks. Measured over twelve configs, the peak resident memory
# exceeded the tensors counted here by up to 121 MB.
_ALLOCATOR_SLACK = 192 * 2**20


def _stream_generators(seeds: list[int], stream: str) -> list[torch.Generator]:
    """One CPU generator per run for the named stream."""
    index = _STREAMS.index(stream)
    return [torch.Generator().manual_seed(stream_seed(s, index)) for s in seeds]


def make_config_target(config: Config) -> Distribution:
    """The target a config describes: its family, mean, std and (for the mixture) separation."""
    return make_target(config.target, config.target_mean, config.target_std, config.mixture_separation)


def resolve_device(name: str) -> torch.device:
    """The torch device for a config's `device`, or a clear ValueError if it is not available."""
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} is not available: torch.cuda.is_available() is False; use 'cpu'")
    return torch.device(name)


# ----- shapes shared by the Trainer and the memory estimate -----

def _n_uniforms(config: Config) -> tuple[int, int]:
    """Uniform numbers one target value and one noise number consume."""
    return make_target(config.target, 0.0, 1.0).n_uniforms, make_noise(config.noise).n_uniforms


def _n_vectors(config: Config, n_values: int) -> int:
    """How many noise vectors make n_values generated values."""
    per = 1 if config.generator == "per_value" else config.batch_size
    return math.ceil(n_values / per)


def _layout(config: Config, d_steps: int | None = None) -> dict[str, int]:
    """Uniforms per round and their split into real data, G's noise and WGAN-GP's mixing weights.

    `d_steps` is the round's number of D steps: `config.d_steps` unless given (a critic warm-up
    round takes more, see `Config.critic_warmup`).
    """
    c = config
    d = c.d_steps if d_steps is None else d_steps
    nt, nz = _n_uniforms(c)
    m, s = c.sets, c.batch_size
    n_inputs = m * s if get_feature_map(c.features).per_value else m
    z_vectors = m * s if c.generator == "per_value" else m
    lay = {
        "real": m * s * nt,
        "z": z_vectors * c.noise_dim * nz,
        "eps": n_inputs if c.loss == "wgan-gp" else 0,
        # The same, counted in values (what the typed buffers hold).
        "real_values": m * s,
        "z_values": z_vectors * c.noise_dim,
    }
    lay["d_block"] = lay["real"] + lay["z"] + lay["eps"]
    lay["per_round"] = d * lay["d_block"] + c.g_steps * lay["z"]
    lay["values_per_round"] = d * (lay["real_values"] + lay["z_values"] + lay["eps"]) + c.g_steps * lay["z_values"]
    return lay


def _chunk_cap(k: int, per_round: int) -> int:
    """Rounds per chunk of randomness: at most _MAX_CHUNK_ROUNDS and _MAX_CHUNK_NUMBERS uniforms."""
    return max(1, min(_MAX_CHUNK_ROUNDS, _MAX_CHUNK_NUMBERS // (k * per_round)))


def _d_step_counts(config: Config) -> tuple[int, ...]:
    """The numbers of D steps the config's rounds take: d_steps, and a warm-up's n_steps if it has any rounds."""
    n_steps, first_g, every = config.critic_warmup
    warm = n_steps > 0 and (first_g > 0 or every > 0)
    return tuple(sorted({config.d_steps, n_steps} if warm else {config.d_steps}))


def _chunk_sizes(config: Config, k: int, d_steps: int, n: int = 0) -> dict[str, int]:
    """Per run, the elements each chunk buffer holds for a chunk of rounds of `d_steps` D steps.

    The chunk is the longest the trainer makes of such rounds (at most eval_every, _MAX_CHUNK_ROUNDS
    and _MAX_CHUNK_NUMBERS uniforms), or n rounds if more.
    """
    c = config
    lay = _layout(c, d_steps)
    cap = max(n, min(_chunk_cap(k, lay["per_round"]), c.eval_every))
    return {"u": cap * lay["per_round"], "real": cap * d_steps * lay["real_values"],
            "z_d": cap * d_steps * lay["z_values"], "z_g": cap * c.g_steps * lay["z_values"],
            "eps": cap * d_steps * lay["eps"]}


def _chunk_plan(config: Config, k: int) -> dict[str, int]:
    """Per run, the elements of each chunk buffer a Trainer allocates: enough for every kind of round.

    Ordinary rounds and critic warm-up rounds (more D steps, fewer rounds a chunk) draw into the
    same buffers, each buffer as large as the larger of the two needs, so switching between them
    allocates nothing (fresh allocations between the history's arrays fragment the heap).
    """
    plans = [_chunk_sizes(config, k, d) for d in _d_step_counts(config)]
    return {name: max(p[name] for p in plans) for name in plans[0]}


def _same_d_steps_run(config: Config, round_: int) -> int | None:
    """Rounds from `round_` on that take as many D steps as it does (None: all the rest).

    The trainer ends its chunks there, as at evaluation points: a chunk's random numbers are laid
    out for one number of D steps a round.
    """
    n_steps, first_g, every = config.critic_warmup
    if not n_steps:
        return None
    if round_ < first_g:
        return first_g - round_
    if every and round_ % every == 0:
        return 1
    return (round_ // every + 1) * every - round_ if every else None


def _net_sizes(config: Config) -> tuple[list[int], list[int]]:
    """Layer sizes of G and of D."""
    c = config
    g_out = 1 if c.generator == "per_value" else c.batch_size
    g = [c.noise_dim, *c.g_hidden, g_out]
    d = [get_feature_map(c.features).size(c.batch_size), *c.d_hidden, 1]
    return g, d


def _param_count(sizes: list[int]) -> int:
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def _d_param_count(config: Config) -> int:
    """D's parameters; minibatch discrimination adds T (A x B x C) and B inputs to the second layer."""
    _, d = _net_sizes(config)
    n = _param_count(d)
    if get_feature_map(config.features).cross_sample:
        b = config.minibatch_kernels
        n += d[1] * b * config.minibatch_dims + b * d[2]
    return n


def _forward_elements(sizes: list[int], rows: int) -> int:
    """Elements alive at the peak of an inference pass over `rows` inputs: a layer's input and output."""
    return rows * max(a + b for a, b in zip(sizes[:-1], sizes[1:]))


def _eval_row_bytes(config: Config, n_values: int) -> int:
    """Temporaries of one run's evaluation of n_values values: G's activations, then the metrics."""
    itemsize = 8 if config.dtype == "float64" else 4
    g, _ = _net_sizes(config)
    rows = _n_vectors(config, n_values)
    return _forward_elements(g, rows) * itemsize + _METRIC_ARRAYS * 8 * n_values


def _runs_per_block(config: Config, k: int, n_values: int) -> int:
    return max(1, min(k, _BLOCK_BYTES // _eval_row_bytes(config, n_values)))


@dataclass(frozen=True)
class MemoryEstimate:
    """What a config needs at its peak, in bytes, by what holds it (see `estimate_memory`)."""

    parts: dict[str, int]
    peak: int

    @property
    def largest(self) -> str:
        """The part that holds the most."""
        return max(self.parts, key=self.parts.__getitem__)


# What to reduce when a part is too big, for the one-line error.
_REDUCE = {
    "networks": "seeds or the layer widths (g_hidden, d_hidden; batch_size when D sees the whole batch)",
    "evaluation noise": "seeds or eval_samples",
    "history": "seeds or rounds (or raise eval_every)",
    "random numbers": "seeds, sets or batch_size",
    "training batch": "seeds, sets, batch_size or the layer widths",
    "evaluation": "eval_samples or G's layer widths",
    "final samples": "seeds",
    "initialisation": "seeds or the layer widths",
}


# Activations whose backward pass needs their input: a layer using one keeps its values before
# and after the activation. The others (relu, sigmoid, tanh, identity) keep only their output,
# which the next layer keeps anyway as its input.
_KEEPS_INPUT = ("elu", "leaky_relu")


def _saved_elements(sizes: list[int], activations: tuple[str, ...], rows: int) -> int:
    """Elements autograd keeps for the backward pass of one MLP applied to `rows` inputs."""
    hidden = sum(w * (2 if a in _KEEPS_INPUT else 1) for w, a in zip(sizes[1:-1], activations))
    return rows * (sizes[0] + hidden + sizes[-1])


def estimate_memory(config: Config) -> MemoryEstimate:
    """The peak memory a Trainer of this config needs, in bytes, and which parts hold it.

    Held throughout: the two networks with their gradients and optimizer state, the evaluation
    noise (seeds x eval_samples values), the history (four numbers per run and round, kept and
    copied once by `history`) and the reused buffers of a chunk of random numbers (large enough
    for the D steps of a critic warm-up round too: max(d_steps, n_steps)). On top, the
    largest of: one training step (what autograd keeps of both nets' activations on a batch,
    the features D is shown and two layers of gradients flowing back); making a chunk's batches
    from its uniforms; one block of evaluation; the final samples (seeds x N_FINAL float64
    values, what `sample` returns). Before all that, the initialisation: the parameters and a
    net's largest weight matrix drawn in float64 run by run, stacked and transposed. Tensors of
    a phase count as if all alive at once, so the estimate errs high; plus the memory the C
    allocator keeps after freeing it. `tests/test_train.py` checks the estimate against the
    memory a process really takes.
    """
    c = config
    k = c.seeds
    f = 8 if c.dtype == "float64" else 4
    g, d = _net_sizes(c)
    state = {"adam": 2, "rmsprop": 1, "sgd": 0}
    # Parameters, their gradients, the optimizer's state (plus a momentum buffer where used).
    copies_d = 2 + state[c.d_optimizer] + (c.d_optimizer != "adam" and c.d_momentum > 0)
    copies_g = 2 + state[c.g_optimizer] + (c.g_optimizer != "adam" and c.g_momentum > 0)
    networks = k * f * (_param_count(g) * copies_g + _d_param_count(c) * copies_d)
    eval_noise = k * _n_vectors(c, c.eval_samples) * c.noise_dim * f
    n_evals = c.rounds // c.eval_every + 2
    # Per run and round the four losses; per evaluation the metrics, and once for all runs the
    # round and the budget (G updates, D updates, CPU seconds).
    history = 2 * 8 * (k * (4 * c.rounds + len(_HistoryBuffer.KEYS) * n_evals) + 4 * n_evals)

    # The chunk's uniforms (float64) and the batches made from them in the training dtype, sized
    # for the larger of an ordinary round and a critic warm-up round (see `_chunk_plan`); while a
    # part is made, its float64 values and up to three temporaries (the mixture's centres).
    plan = _chunk_plan(c, k)
    random_numbers = k * (8 * plan["u"] + f * (plan["real"] + plan["z_d"] + plan["z_g"] + plan["eps"]))
    drawing = 0
    for n_d in _d_step_counts(c):
        lay = _layout(c, n_d)
        cap = min(_chunk_cap(k, lay["per_round"]), c.eval_every)
        largest_part = max(n_d * lay["real_values"], max(n_d, c.g_steps) * lay["z_values"])
        drawing = max(drawing, 4 * 8 * k * cap * largest_part)

    fm = get_feature_map(c.features)
    m, s = c.sets, c.batch_size
    d_rows = m * s if fm.per_value else m
    g_rows = m * s if c.generator == "per_value" else m
    saved_d = _saved_elements(d, c.d_activations, d_rows)
    saved_g = _saved_elements(g, c.g_activations, g_rows)
    # Gradients flowing back: a layer's output gradient and its input gradient at a time.
    grads_d, grads_g = 2 * d_rows * max(d), 2 * g_rows * max(g)
    if fm.cross_sample:
        # Minibatch discrimination: per value M (B x C numbers), o (B) and the wider input [h, o] of the
        # second layer; per pair of values in a batch, the differences M_i - M_j (kept by abs for its
        # backward pass, plus their absolute values while they are summed) and exp(-distance) (kept by exp).
        b, cc = c.minibatch_kernels, c.minibatch_dims
        pairs = d_rows * s * b
        saved_d += d_rows * (b * cc + 2 * b) + pairs * (2 * cc + 2)
        grads_d = max(grads_d, pairs * (cc + 1))
    # D's inputs made from m x s values (per branch): none for values and the raw batch (views);
    # sorting keeps int64 indices; deviations and moments take a few sample-sized copies.
    features = 0 if c.features in ("value", "batch") else m * s * (5 * f + (8 if "sorted" in c.features else 0))
    # D runs on real and on fake inputs. WGAN-GP adds a pass at the mixed inputs, the graph of its
    # gradient kept for the penalty's own backward pass (each layer's backward keeps the incoming
    # gradient and its input: one and a half passes) and gradients flowing back through both.
    # R1 keeps the graph of the gradient at the real inputs the same way, without a pass of its own.
    d_passes = 2 + (4 if c.loss == "wgan-gp" else 0) + (4 if c.d_penalty == "r1" else 0)
    d_step = f * max(_forward_elements(g, g_rows), d_passes * saved_d + grads_d) + 2 * features
    g_step = f * (saved_g + saved_d + max(grads_g, grads_d)) + features
    if c.spectral_norm:
        # Each D pass keeps its own normalised copy of D's weights (w / sigma) for the backward pass.
        d_step += f * (d_passes + 1) * _d_param_count(c)
        g_step += f * 2 * _d_param_count(c)
    training = k * max(d_step, g_step)

    evaluation = _runs_per_block(c, k, c.eval_samples) * _eval_row_bytes(c, c.eval_samples)
    final = k * N_FINAL * 8 + _runs_per_block(c, k, N_FINAL) * _eval_row_bytes(c, N_FINAL)
    init = 3 * 8 * k * max([a * b for sizes in (g, d) for a, b in zip(sizes[:-1], sizes[1:])]
                           + [d[1] * c.minibatch_kernels * c.minibatch_dims if fm.cross_sample else 0])
    parts = {"networks": networks, "evaluation noise": eval_noise, "history": history,
             "random numbers": random_numbers + drawing, "training batch": training, "evaluation": evaluation,
             "final samples": final, "initialisation": init}
    held = networks + eval_noise + history + random_numbers
    params = k * f * (_param_count(g) + _d_param_count(c))
    peak = _ALLOCATOR_SLACK + max(params + init, held + max(training, drawing, evaluation, final))
    return MemoryEstimate(parts, peak)


def check_memory(config: Config, budget: int = MEMORY_BUDGET) -> MemoryEstimate:
    """`estimate_memory(config)`, or a one-line ValueError saying what to reduce when it exceeds `budget`."""
    est = estimate_memory(config)
    if est.peak > budget:
        part = est.largest
        raise ValueError(
            f"this config needs about {est.peak / 2**30:.1f} GiB of memory, more than the {budget / 2**30:g} GiB "
            f"budget (ganlib.train.MEMORY_BUDGET): {part} alone takes {est.parts[part] / 2**30:.1f} GiB; "
            f"reduce {_REDUCE[part]}")
    return est


def _allocation_failure(exc: BaseException) -> bool:
    """True for torch's and numpy's errors that mean memory ran out."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        key in text for key in ("DefaultCPUAllocator", "not enough memory", "can't allocate memory",
                                "out of memory"))


def _guard_memory(what: str) -> Callable:
    """Turn an allocation failure inside the decorated Trainer method into a one-line MemoryError."""

    def wrap(method: Callable) -> Callable:
        @functools.wraps(method)
        def guarded(self: Trainer, *args: object, **kwargs: object) -> object:
            try:
                return method(self, *args, **kwargs)
            except (RuntimeError, MemoryError) as exc:
                if not _allocation_failure(exc):
                    raise
                asked = re.search(r"allocate (\d+) bytes", str(exc))
                detail = f" (torch asked for {int(asked.group(1)) / 2**30:.2f} GiB more)" if asked else ""
                est = estimate_memory(self.config)
                raise MemoryError(
                    f"out of memory while {what}{detail}; this config needs about {est.peak / 2**30:.2f} GiB by "
                    f"ganlib's estimate, more than this machine has free: reduce {_REDUCE[est.largest]}") from None
        return guarded

    return wrap


@dataclass
class History:
    """What happened during training, as numpy arrays with one row per run.

    Per round: `d_loss`, `g_loss` (the last step's loss of the round) and D's mean output on
    real and on generated data (`d_real`, `d_fake`: probabilities for BCE, critic values for
    WGAN, whose difference is the critic's estimate of W1). Every `eval_every` rounds, at
    `eval_round`: the generated `mean`, `std`, `skew`, `kurtosis`, `w1` and `ks` to the target, and
    on a two-mode target the fractions of G's values near each mode and in the gap between them
    (`mass_low`, `mass_high`, `gap_mass`; NaN for other targets, see `ganlib.metrics.mode_masses`).

    The budget spent by each evaluation, one value per entry of `eval_round` (all runs of a Trainer
    train in lockstep, so they share it): `g_updates` and `d_updates`, the G and D optimizer steps
    so far (a critic warm-up's extra D steps included), and `cpu_seconds`, the process CPU time
    (`time.process_time()`, every thread of the process) of the training rounds so far, for the
    whole batched pass of K runs: runs trained in one pass share it, so divide by K for a run's
    share. Evaluations and `step`'s callback are left out, so a run that is measured or drawn more
    often does not look dearer. See `budget`.
    """

    seeds: list[int]
    d_loss: np.ndarray
    g_loss: np.ndarray
    d_real: np.ndarray
    d_fake: np.ndarray
    eval_round: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    skew: np.ndarray
    kurtosis: np.ndarray
    w1: np.ndarray
    ks: np.ndarray
    mass_low: np.ndarray
    mass_high: np.ndarray
    gap_mass: np.ndarray
    diverged_at: list[int | None] = field(default_factory=list)
    diverged_reason: list[str | None] = field(default_factory=list)
    g_updates: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    d_updates: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cpu_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def budget(self, axis: str) -> np.ndarray:
        """The budget spent by each evaluation on one axis: "round", "g_updates", "d_updates" or "cpu_seconds".

        "round" is `eval_round`; the others are the fields of the same names. Each is aligned with
        the per-evaluation metrics (`w1[:, i]` was measured after `budget(axis)[i]`).
        """
        if axis not in BUDGET_AXES:
            raise ValueError(f"axis={axis!r} is not allowed: choose one of {', '.join(BUDGET_AXES)}")
        return self.eval_round if axis == "round" else getattr(self, axis)

    @property
    def rounds(self) -> int:
        """Number of rounds trained."""
        return int(self.d_loss.shape[1])

    @property
    def w1_estimate(self) -> np.ndarray:
        """mean D(real) - mean D(fake) per round: for WGAN, the critic's estimate of W1.

        D works in standardised units when the config has `normalize=True`: multiply by the
        target's std to compare with W1 in target units (and with clipping the critic is only
        K-Lipschitz for an unknown K, so the estimate is proportional to W1 at best).
        """
        return self.d_real - self.d_fake


class _Columns:
    """A (rows, n) float64 array that grows by appending columns, doubling its capacity when full.

    Chunks append a few columns each; one array reallocated a logarithmic number of times keeps
    small long-lived allocations from interleaving with each chunk's large temporary ones, which
    fragmented the heap and grew the process by about 9 KB a round.
    """

    def __init__(self, rows: int, dtype: type = np.float64) -> None:
        self.data = np.empty((rows, 16), dtype=dtype)
        self.n = 0

    def append(self, cols: np.ndarray) -> None:
        cols = cols.reshape(self.data.shape[0], -1)
        need = self.n + cols.shape[1]
        if need > self.data.shape[1]:
            grown = np.empty((self.data.shape[0], max(need, 2 * self.data.shape[1])), dtype=self.data.dtype)
            grown[:, : self.n] = self.data[:, : self.n]
            self.data = grown
        self.data[:, self.n:need] = cols
        self.n = need

    def view(self) -> np.ndarray:
        return self.data[:, : self.n]


class _HistoryBuffer:
    """Collects per-chunk arrays and turns them into a History on demand."""

    KEYS = ("mean", "std", "skew", "kurtosis", "w1", "ks", "mass_low", "mass_high", "gap_mass")
    PER_ROUND = ("d_loss", "g_loss", "d_real", "d_fake")
    # One value per evaluation, shared by all runs.
    BUDGET = {"g_updates": np.int64, "d_updates": np.int64, "cpu_seconds": np.float64}

    def __init__(self, k: int) -> None:
        self.k = k
        self.per_round = {n: _Columns(k) for n in self.PER_ROUND}
        self.eval_round = _Columns(1, np.int64)
        self.evals = {n: _Columns(k) for n in self.KEYS}
        self.budget = {n: _Columns(1, t) for n, t in self.BUDGET.items()}

    def build(self, seeds: list[int], diverged_at: list[int | None], reasons: list[str | None]) -> History:
        return History(
            seeds=list(seeds),
            **{n: v.view().copy() for n, v in self.per_round.items()},
            eval_round=self.eval_round.view()[0].copy(),
            **{n: v.view().copy() for n, v in self.evals.items()},
            diverged_at=list(diverged_at),
            diverged_reason=list(reasons),
            **{n: v.view()[0].copy() for n, v in self.budget.items()},
        )


class Trainer:
    """K GAN runs on one 1-D target, trained together; advance with `step(n)`.

    `g_updates`, `d_updates` and `cpu_seconds` count the budget spent so far (see History).
    `d_lr` / `g_lr` may be given as (K,) tensors to give each run its own learning rate, and
    `run_seeds` lists each run's seed (default `seed + k`): a sweep trains one grid cell per block
    of runs, all blocks on the same seeds. A config whose peak memory `estimate_memory` puts above
    MEMORY_BUDGET is refused with a one-line ValueError (`memory` holds the estimate of one that
    is not); if the machine runs out of memory anyway, the method raises a one-line MemoryError.

    `threads` is the number of CPU threads its methods train and measure on (default: the
    environment variable GAN_COURSE_THREADS, else 1; see ganlib.threads); each method gives the
    caller's torch thread count back when it returns.
    """

    def __init__(
        self,
        config: Config,
        *,
        d_lr: torch.Tensor | None = None,
        g_lr: torch.Tensor | None = None,
        run_seeds: list[int] | None = None,
        threads: int | None = None,
    ) -> None:
        self.config = config
        self.threads = course_threads(threads)
        self.memory = check_memory(config)
        with using_threads(self.threads):
            self._build(d_lr, g_lr, run_seeds)

    @_guard_memory("setting up the networks")
    def _build(self, d_lr: torch.Tensor | None, g_lr: torch.Tensor | None, run_seeds: list[int] | None) -> None:
        c = self.config
        self.device = resolve_device(c.device)
        self.dtype = torch.float64 if c.dtype == "float64" else torch.float32
        self.target: Distribution = make_config_target(c)
        self.noise: Distribution = make_noise(c.noise)
        # G and D work in standardised units when `normalize`; samples shown to the user are not.
        self.loc, self.scale = (self.target.mean, self.target.std) if c.normalize else (0.0, 1.0)
        self.seeds = [c.seed + i for i in range(c.seeds)] if run_seeds is None else [int(s) for s in run_seeds]
        if len(self.seeds) != c.seeds or any(not 0 <= s <= MAX_SEED + MAX_SEEDS for s in self.seeds):
            raise ValueError(f"run_seeds needs {c.seeds} seeds in [0, {MAX_SEED + MAX_SEEDS}], got {run_seeds!r}")
        self.k = c.seeds
        self._data_gens = _stream_generators(self.seeds, "data")
        self.features: FeatureMap = get_feature_map(c.features)
        g_sizes, d_sizes = _net_sizes(c)
        self.G = StackedMLP(g_sizes, c.g_activations, _stream_generators(self.seeds, "g_init"), self.dtype,
                            self.device)
        d_gens = _stream_generators(self.seeds, "d_init")
        if self.features.cross_sample:
            self.D: StackedMLP = MinibatchDiscriminator(d_sizes, c.d_activations, d_gens, c.minibatch_kernels,
                                                        c.minibatch_dims, c.batch_size, self.dtype, self.device)
        else:
            self.D = StackedMLP(d_sizes, c.d_activations, d_gens, self.dtype, self.device)
        if c.spectral_norm:
            # u drawn from each run's D stream after D's weights: the weights are those of the run without
            # spectral norm (common random numbers), and a run's u does not depend on the runs beside it.
            self.D.use_spectral_norm(d_gens)
        self.opt_d = BatchedOptimizer(self.D.params, c.d_optimizer, c.d_lr if d_lr is None else d_lr,
                                      c.d_beta1, c.d_beta2, c.d_momentum)
        self.opt_g = BatchedOptimizer(self.G.params, c.g_optimizer, c.g_lr if g_lr is None else g_lr,
                                      c.g_beta1, c.g_beta2, c.g_momentum)
        self.round = 0
        # The budget spent so far (see History): optimizer steps of each net, and the process CPU
        # seconds of the training rounds of all K runs together.
        self.g_updates = 0
        self.d_updates = 0
        self.cpu_seconds = 0.0
        self.diverged_at: list[int | None] = [None] * self.k
        self.diverged_reason: list[str | None] = [None] * self.k
        # Whether the untrained generator's samples were within DIVERGED_SCALE target std (set at round 0).
        self._started_within = [True] * self.k
        self._buf = _HistoryBuffer(self.k)
        self._chunk_key: tuple[int, ...] | None = None
        self._chunk: dict[str, torch.Tensor] = {}
        self._z_eval = self._draw_noise(self._n_vectors(c.eval_samples), _stream_generators(self.seeds, "eval"))
        self._record_eval()

    # ----- shapes and randomness -----
    def _n_vectors(self, n_values: int) -> int:
        """How many noise vectors make n_values generated values."""
        return _n_vectors(self.config, n_values)

    def _draw_noise(self, n_vectors: int, gens: list[torch.Generator]) -> torch.Tensor:
        """Noise for len(gens) runs, (runs, n_vectors, noise_dim), each run's from its own generator.

        Drawn run by run into the result, so the float64 temporaries are one run's size.
        """
        d = self.config.noise_dim
        out = torch.empty(len(gens), n_vectors, d, dtype=self.dtype, device=self.device)
        # One run's uniforms at a time, in one reused buffer: allocating them anew for each run left
        # tens of MB of freed memory with the allocator.
        u = torch.empty(n_vectors * d, self.noise.n_uniforms, dtype=torch.float64)
        for row, g in zip(out, gens):
            torch.rand(u.shape, generator=g, dtype=torch.float64, out=u)
            row.copy_(self.noise.from_uniform(u).view(n_vectors, d))
        return out

    def _layout(self, d_steps: int | None = None) -> dict[str, int]:
        return _layout(self.config, d_steps)

    def _chunk_buffers(self, d_steps: int, n: int) -> dict[str, torch.Tensor]:
        """Flat (K, elements) buffers for the random inputs of a chunk, allocated once per config and reused.

        Every chunk draws into the same memory: allocating these anew each chunk, between the
        history's small long-lived arrays, fragmented the heap (the process grew ~9 KB a round).
        They are sized by `_chunk_plan`, for ordinary and critic warm-up rounds alike; a chunk
        takes views of their first elements shaped for its own number of rounds and D steps.
        """
        c = self.config
        plan = _chunk_plan(c, self.k)
        this = _chunk_sizes(c, self.k, d_steps, n)
        key = tuple(max(plan[name], this[name]) for name in plan)
        if key != self._chunk_key:
            self._chunk = {}  # release the old buffers before allocating the new ones
            sizes = dict(zip(plan, key))
            typed = dict(dtype=self.dtype, device=self.device)
            self._chunk = {"u": torch.empty(self.k, sizes["u"], dtype=torch.float64)}
            for name in ("real", "z_d", "z_g", "eps"):
                if sizes[name]:  # eps: WGAN-GP's mixing weights only
                    self._chunk[name] = torch.empty(self.k, sizes[name], **typed)
            self._chunk_key = key
        return self._chunk

    def _draw_chunk(self, n: int) -> dict[str, torch.Tensor]:
        """All random inputs of the next n rounds (views of reused buffers), one generator call per run.

        The rounds take as many D steps as the next one does (`Config.d_steps_at`); `step` ends a
        chunk where that changes.
        """
        c = self.config
        d = c.d_steps_at(self.round)
        lay = self._layout(d)
        k, m, s = self.k, c.sets, c.batch_size
        zshape = (m * s, c.noise_dim) if c.generator == "per_value" else (m, c.noise_dim)
        buf = self._chunk_buffers(d, n)

        def view(name: str, *shape: int) -> torch.Tensor:
            # The first elements of each run's row, shaped (K, n, *shape): splits its contiguous row.
            return buf[name][:, : n * math.prod(shape)].view(k, n, *shape)

        u = view("u", lay["per_round"])
        for row, g in zip(u, self._data_gens):
            torch.rand(n * lay["per_round"], generator=g, dtype=torch.float64, out=row.view(-1))
        d_part = u[..., : d * lay["d_block"]].reshape(k, n, d, lay["d_block"])
        g_part = u[..., d * lay["d_block"]:].reshape(k, n, c.g_steps, lay["z"])
        a, b = lay["real"], lay["real"] + lay["z"]
        nt, nz = self.target.n_uniforms, self.noise.n_uniforms
        out = {"real": view("real", d, m, s), "z_d": view("z_d", d, *zshape), "z_g": view("z_g", c.g_steps, *zshape)}
        real = self.target.from_uniform(d_part[..., :a].reshape(k, n, d, m, s, nt))
        out["real"].copy_(real.sub_(self.loc).div_(self.scale))
        del real
        out["z_d"].copy_(self.noise.from_uniform(d_part[..., a:b].reshape(k, n, d, *zshape, nz)))
        out["z_g"].copy_(self.noise.from_uniform(g_part.reshape(k, n, c.g_steps, *zshape, nz)))
        if lay["eps"]:
            out["eps"] = view("eps", d, lay["eps"], 1)
            out["eps"].copy_(d_part[..., b:].reshape(k, n, d, lay["eps"], 1))
        return out

    # ----- the two networks in use -----
    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        """G's samples in training units, shaped (K, sets, batch_size)."""
        c = self.config
        return self.G(z).view(self.k, c.sets, c.batch_size)

    def _d_step(self, real: torch.Tensor, z: torch.Tensor, eps: torch.Tensor | None) -> tuple:
        """One update of D; returns its loss (penalties included), and D's mean output on real and on fake."""
        c = self.config
        with torch.no_grad():
            # Detached: D's loss must not reach G's parameters.
            fake = self._generate(z)
        if c.spectral_norm:
            # One power iteration per D update (Miyato et al., Algorithm 1), before the update's passes, as
            # torch's spectral_norm iterates before it normalises; evaluations and G's steps do not iterate.
            self.D.power_iteration_()
        f_real, f_fake = self.features(real), self.features.fake(fake)
        if c.d_penalty == "r1":
            # R1 differentiates D's output with respect to what D sees of the real batch (its input features).
            f_real = f_real.detach().requires_grad_(True)
        out_real, out_fake = self.D(f_real), self.D(f_fake)
        if c.loss == "bce":
            loss = bce_d_loss(out_real, out_fake)
            shown_real = torch.sigmoid(out_real).mean((1, 2))
            shown_fake = torch.sigmoid(out_fake).mean((1, 2))
        else:
            loss = wgan_critic_loss(out_real, out_fake)
            if c.loss == "wgan-gp":
                loss = loss + c.gp_weight * gradient_penalty(self.D, f_real, f_fake, eps, c.gp_side == "one-sided")
            shown_real, shown_fake = out_real.mean((1, 2)), out_fake.mean((1, 2))
        if c.d_penalty == "r1":
            # On D's logit for bce (as Mescheder et al.), on the critic value for the Wasserstein losses.
            loss = loss + r1_penalty(out_real, f_real, c.r1_gamma)
        grads = torch.autograd.grad(loss.sum(), self.D.params)
        self.opt_d.step(grads)
        if c.loss == "wgan":
            clip_weights_(self.D, c.clip)
        return loss.detach(), shown_real.detach(), shown_fake.detach()

    def _g_step(self, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        out_fake = self.D(self.features.fake(self._generate(z)))
        loss = bce_g_loss(out_fake, c.g_objective) if c.loss == "bce" else wgan_g_loss(out_fake)
        # Only G's parameters are differentiated and stepped: D is left as it is.
        grads = torch.autograd.grad(loss.sum(), self.G.params)
        self.opt_g.step(grads)
        return loss.detach()

    # ----- public API -----
    @property
    def stopped(self) -> bool:
        """True once every run has diverged: further steps do nothing."""
        return all(r is not None for r in self.diverged_at)

    def set(self, **changes: object) -> None:
        """Change live hyperparameters (see LIVE_FIELDS) for the rounds still to come.

        More D or G steps a round need larger buffers of random numbers: the changed config must
        fit the memory budget too.
        """
        bad = sorted(set(changes) - set(LIVE_FIELDS))
        if bad:
            raise ValueError(f"{', '.join(bad)} cannot change during a run; live fields: {', '.join(LIVE_FIELDS)}")
        changed = self.config.replace(**changes)
        self.memory = check_memory(changed)
        self.config = changed
        if "d_lr" in changes:
            self.opt_d.lr = self.config.d_lr
        if "g_lr" in changes:
            self.opt_g.lr = self.config.g_lr

    @on_own_threads
    @_guard_memory("training")
    def step(self, n: int, callback: Callable[[Trainer], None] | None = None, *,
             evaluate_at_end: bool = True) -> Trainer:
        """Train n more rounds (in chunks that end at evaluation points); returns self.

        Chunks also end where a critic warm-up starts or ends (`Config.critic_warmup`), so each
        chunk's rounds take one number of D steps. The budget (`g_updates`, `d_updates`,
        `cpu_seconds`) grows with each chunk; the CPU time of evaluations and `callback` is left out.

        The last round is evaluated too unless `evaluate_at_end` is False: a caller that steps a
        few rounds at a time (the dashboard, 20 or more times a second) then pays for evaluations
        only every `eval_every` rounds, as a whole run does.
        """
        n = _count("n", n, 0, "a number of rounds")
        end = self.round + n
        while self.round < end and not self.stopped:
            c = self.config  # a callback may have changed live fields (`set`)
            to_eval = c.eval_every - self.round % c.eval_every
            # A chunk's rounds take one number of D steps: it ends where a critic warm-up starts or ends.
            same = _same_d_steps_run(c, self.round)
            per_round = self._layout(c.d_steps_at(self.round))["per_round"]
            chunk = min(end - self.round, to_eval, _chunk_cap(self.k, per_round), end if same is None else same)
            cpu0 = time.process_time()
            self._run_chunk(chunk)
            # Training only: the evaluation and the callback below are not the run's cost.
            self.cpu_seconds += time.process_time() - cpu0
            if self.round % c.eval_every == 0 or (evaluate_at_end and self.round == end):
                self._record_eval()
            if callback is not None:
                callback(self)
        return self

    def _run_chunk(self, n: int) -> None:
        c = self.config
        d = c.d_steps_at(self.round)  # every round of the chunk takes as many (see `step`)
        rnd = self._draw_chunk(n)
        eps = rnd.get("eps")
        d_losses, g_losses, d_reals, d_fakes = [], [], [], []
        for r in range(n):
            if c.lr_decay != 1.0:
                done = min(self.round + r, c.rounds) / max(c.rounds, 1)
                self.opt_d.scale = self.opt_g.scale = c.lr_decay**done
            for j in range(d):
                dl, dr, df = self._d_step(rnd["real"][:, r, j], rnd["z_d"][:, r, j],
                                          None if eps is None else eps[:, r, j])
            for j in range(c.g_steps):
                gl = self._g_step(rnd["z_g"][:, r, j])
            d_losses.append(dl)
            g_losses.append(gl)
            d_reals.append(dr)
            d_fakes.append(df)
        per_round = {"d_loss": d_losses, "g_loss": g_losses, "d_real": d_reals, "d_fake": d_fakes}
        arrays = {name: torch.stack(v, 1).double().cpu().numpy() for name, v in per_round.items()}
        for name, a in arrays.items():
            self._buf.per_round[name].append(a)
        self._check_finite(arrays, n)
        self.round += n
        self.d_updates += n * d
        self.g_updates += n * c.g_steps

    def _check_finite(self, arrays: dict[str, np.ndarray], n: int) -> None:
        params_ok = torch.ones(self.k, dtype=torch.bool, device=self.device)
        for p in self.G.params + self.D.params:
            params_ok &= torch.isfinite(p.detach()).flatten(1).all(1)
        params_ok_np = params_ok.cpu().numpy()
        for k in range(self.k):
            if self.diverged_at[k] is not None:
                continue
            # The earliest non-finite loss of either net names the round and the culprit.
            first = None
            for name in ("d_loss", "g_loss"):
                bad = np.flatnonzero(~np.isfinite(arrays[name][k]))
                if bad.size and (first is None or bad[0] < first[1]):
                    first = (name, int(bad[0]))
            if first is not None:
                name, i = first
                r = self.round + i + 1
                what = "D" if name == "d_loss" else "G"
                self.diverged_at[k] = r
                self.diverged_reason[k] = f"{what} loss became {arrays[name][k, i]} at round {r}"
            if self.diverged_at[k] is None and not params_ok_np[k]:
                r = self.round + n
                self.diverged_at[k] = r
                self.diverged_reason[k] = f"a parameter became NaN or inf by round {r}"

    def _blocks(self, n_values: int) -> list[slice]:
        """Consecutive blocks of runs whose evaluation of n_values values fits _BLOCK_BYTES."""
        size = _runs_per_block(self.config, self.k, n_values)
        return [slice(a, min(a + size, self.k)) for a in range(0, self.k, size)]

    def _generate_many(self, z: torch.Tensor, n_values: int, runs: slice) -> torch.Tensor:
        """G's first n_values values for the runs in `runs`, from their noise z, in training units."""
        return self.G(z, runs).reshape(z.shape[0], -1)[:, :n_values]

    def _measure(self, n_values: int, noise: Callable[[slice], torch.Tensor]) -> dict[str, np.ndarray]:
        """`evaluate` of every run on n_values of G's values, a block of runs at a time.

        `noise(block)` gives the block's noise. Each block's numbers go straight into arrays made
        before the loop: small results kept from block to block would sit between the blocks'
        large temporaries and fragment the heap (measured: +1.6 GB over 400 blocks).
        """
        out = {name: np.empty(self.k) for name in _HistoryBuffer.KEYS}
        for b in self._blocks(n_values):
            w = self._generate_many(noise(b), n_values, b).double()
            # With `normalize` G works in standardised units: its values are the z evaluate wants.
            m = evaluate(w, self.target, standardised=self.config.normalize)
            for name in _HistoryBuffer.KEYS:
                out[name][b] = m[name].cpu().numpy()
        return out

    @torch.inference_mode()
    def _record_eval(self) -> None:
        metrics = self._measure(self.config.eval_samples, self._z_eval.__getitem__)
        self._buf.eval_round.append(np.array([self.round]))
        for name, value in (("g_updates", self.g_updates), ("d_updates", self.d_updates),
                            ("cpu_seconds", self.cpu_seconds)):
            self._buf.budget[name].append(np.array([value]))
        for name in _HistoryBuffer.KEYS:
            self._buf.evals[name].append(metrics[name])
        if self.round == 0:
            self._started_within = [not ran_off(m, s, self.target) for m, s in zip(metrics["mean"], metrics["std"])]
        else:
            self._check_scale(metrics["mean"], metrics["std"])

    def _check_scale(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Mark runs whose samples ran off beyond DIVERGED_SCALE target std (see ganlib.metrics.ran_off).

        Only runs whose untrained generator was within it: a generator that starts far from a
        target it was never scaled to (normalize=False) has not diverged, it has not arrived yet.
        """
        for k in range(self.k):
            if self.diverged_at[k] is None and self._started_within[k] and ran_off(mean[k], std[k], self.target):
                self.diverged_at[k] = self.round
                self.diverged_reason[k] = ran_off_reason(float(mean[k]), float(std[k]), self.target, self.round)

    def _to_user(self, x: torch.Tensor) -> torch.Tensor:
        return x.double() * self.scale + self.loc

    def history_since(self, rounds_seen: int, evals_seen: int) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                                         dict[str, np.ndarray]]:
        """What was recorded after the first `rounds_seen` rounds and `evals_seen` evaluations.

        Returns the per-round arrays (d_loss, g_loss, d_real, d_fake: (K, new rounds)), the new
        evaluation rounds (new evaluations,) and the per-evaluation arrays (mean, std, skew,
        kurtosis, w1, ks, mass_low, mass_high, gap_mass: (K, new evaluations)). They are read-only
        views, not copies: a live view can send only what is new at a cost that does not grow with
        the run (`history` copies all).
        """
        buf = self._buf
        per_round = {n: c.view()[:, rounds_seen:] for n, c in buf.per_round.items()}
        evals = {n: c.view()[:, evals_seen:] for n, c in buf.evals.items()}
        for a in (*per_round.values(), *evals.values()):
            a.flags.writeable = False
        return per_round, buf.eval_round.view()[0, evals_seen:], evals

    @property
    @_guard_memory("building the history")
    def history(self) -> History:
        """The history so far (a new snapshot on each access)."""
        return self._buf.build(self.seeds, self.diverged_at, self.diverged_reason)

    def _check_values_memory(self, what: str, n: int, per_run_output: int) -> None:
        """A one-line ValueError naming n, not the config, when n values a run cannot be measured in MEMORY_BUDGET.

        A block holds at least one run, so n values of one run must fit: the metrics' float64 arrays
        and G's activations in float64 (the widest layer, twice: its input and output), plus the
        `per_run_output` bytes a run's result keeps, for every run.
        """
        widest = max((*self.config.g_hidden, 1))
        need = n * 8 * (_METRIC_ARRAYS + 2 * widest) + self.k * per_run_output
        if need > MEMORY_BUDGET:
            raise ValueError(f"{what}({n}) needs about {need / 2**30:.1f} GiB for {n:,} values a run, more than the "
                             f"{MEMORY_BUDGET / 2**30:g} GiB budget (ganlib.train.MEMORY_BUDGET); ask for fewer values")

    @on_own_threads
    @torch.inference_mode()
    @_guard_memory("sampling")
    def sample(self, n: int = N_FINAL) -> np.ndarray:
        """n fresh values from each run's generator, shape (K, n), in target units.

        The noise comes from each run's own sampling stream, so the same trained runs always give
        the same samples. Made a block of runs at a time, so only the result grows with K.
        """
        n = _count("n", n, 1, "a number of values")
        self._check_values_memory("sample", n, per_run_output=8 * n)
        gens = _stream_generators(self.seeds, "sample")
        out = np.empty((self.k, n))
        for b in self._blocks(n):
            z = self._draw_noise(self._n_vectors(n), gens[b])
            out[b] = self._to_user(self._generate_many(z, n, b)).cpu().numpy()
        return out

    @on_own_threads
    @torch.inference_mode()
    def generator_map(self, z: np.ndarray | torch.Tensor) -> np.ndarray:
        """G(z) for each run at the given noise values (per-value G with one noise input): (K, len(z))."""
        if self.config.generator != "per_value" or self.config.noise_dim != 1:
            raise ValueError("generator_map needs a per-value generator with noise_dim=1")
        zt = torch.as_tensor(np.asarray(z, dtype=np.float64)).to(self.device, self.dtype)
        out = self.G(zt.view(1, -1, 1).expand(self.k, -1, 1))
        return self._to_user(out.reshape(self.k, -1)).cpu().numpy()

    @on_own_threads
    @torch.inference_mode()
    def discriminator_curve(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """D at each value x (D must see one value at a time): (K, len(x)).

        Probabilities D(x) for BCE, critic values for the Wasserstein losses. With minibatch
        discrimination a value's score depends on its batch: each x is scored as one value of a batch
        whose other batch_size - 1 values are G's, made from the first of the run's evaluation noise
        (the same every call), which is how D meets G's values in training.
        """
        if not self.features.per_value:
            raise ValueError(f"D sees '{self.config.features}', not single values: it has no curve D(x)")
        xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
        xt = ((xt - self.loc) / self.scale).to(self.device, self.dtype).view(1, -1, 1).expand(self.k, -1, 1)
        if self.features.cross_sample:
            n_rest = self.config.batch_size - 1
            rest = self._generate_many(self._z_eval[:, : self._n_vectors(n_rest)], n_rest, slice(None))
            out = self.D.in_batch(xt, rest.unsqueeze(-1)).reshape(self.k, -1)
        else:
            out = self.D(xt).reshape(self.k, -1)
        if self.config.loss == "bce":
            out = torch.sigmoid(out)
        return out.double().cpu().numpy()

    @on_own_threads
    def generator_push(self, n: int = 200, runs: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
        """G's first n values from the evaluation noise and the push of G's loss on each: two (runs, n) arrays.

        push = -dL_G/dx, in target units: the direction in which G's loss moves the value x, and
        how strongly (what a gradient step on the value itself would do). L_G is the loss G trains
        with, summed over D's inputs: for the non-saturating loss -log D(x), for the minimax loss
        log(1 - D(x)), for WGAN and WGAN-GP -f(x). When D judges each value on its own, a value's
        push is the derivative of that value's own loss. When D sees whole batches (sorted
        batches, moments, minibatch discrimination), G's values are made and scored in whole
        batches of `config.batch_size`, as in training, and a value's push is the derivative of the
        loss of everything it is part of: the gradient runs through the sort, the moments or the
        minibatch features to every value of the batch.

        The values come from the first values of each run's evaluation noise, the same on every
        call: successive calls show the same values moving as G trains. `runs` (a slice, default
        all) picks the runs; the dashboard asks for one. n is at most the evaluation's values, in
        whole batches when D sees batches; anything else is a one-line ValueError.
        """
        n = _count("n", n, 1, "a number of values")
        c = self.config
        batched = not self.features.per_value or self.features.cross_sample
        per = c.batch_size if batched else 1
        available = self._z_eval.shape[1] * (1 if c.generator == "per_value" else c.batch_size)
        limit = available // per * per
        if n > limit:
            whole = f" in whole batches of {per}" if batched else ""
            raise ValueError(f"n={n!r} is not allowed: at most {limit} values (the evaluation noise's{whole})")
        if runs is None:
            runs = slice(None)
        if not isinstance(runs, slice) or not range(self.k)[runs]:
            raise ValueError(f"runs={runs!r} is not allowed: a slice that selects some of the {self.k} runs")
        made = math.ceil(n / per) * per
        with torch.no_grad():
            u = self._generate_many(self._z_eval[runs, : self._n_vectors(made)], made, runs)
        u = u.detach().requires_grad_(True)
        k = u.shape[0]
        with torch.enable_grad():
            inputs = self.features.fake(u.reshape(k, made // per, per) if batched else u.reshape(k, 1, made))
            out = self.D(inputs, runs)
            loss = bce_g_loss(out, c.g_objective) if c.loss == "bce" else wgan_g_loss(out)
            # The losses are means over each run's D inputs: times their number, the sum over inputs.
            (grad,) = torch.autograd.grad(loss.sum() * out.shape[1], u)
        # G works in standardised units u = (x - loc) / scale: dL/dx = dL/du / scale.
        push = -grad[:, :n].double() / self.scale
        return self._to_user(u.detach()[:, :n]).cpu().numpy(), push.cpu().numpy()

    @on_own_threads
    @torch.inference_mode()
    @_guard_memory("measuring the results")
    def results(self, n: int = N_FINAL) -> list[RunResult]:
        """Final measurements of every run on the n values `sample(n)` gives, with success and label.

        Measured a block of runs at a time: memory does not grow with K beyond the K results. A
        run whose samples ran off beyond DIVERGED_SCALE target std is marked diverged here too.
        """
        n = _count("n", n, 1, "a number of values")
        self._check_values_memory("results", n, per_run_output=0)
        gens = _stream_generators(self.seeds, "sample")
        m = self._measure(n, lambda b: self._draw_noise(self._n_vectors(n), gens[b]))
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


def _count(name: str, n: object, lo: int, what: str) -> int:
    """n as a Python int >= lo, numpy integers included (np.int64 from arrays, sliders); else a one-line ValueError."""
    if isinstance(n, np.integer):
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, int):
        # 2.0 is >= 0 too: say what is wrong with it. `what` is "a number of ...".
        raise ValueError(f"{name}={n!r} is not allowed: {what.replace('a number', 'a whole number', 1)} >= {lo}")
    if n < lo:
        raise ValueError(f"{name}={n!r} is not allowed: {what} >= {lo}")
    return n


@dataclass
class TrainResult:
    """What `train` returns: the trainer (to sample or draw from), its history and final results."""

    trainer: Trainer
    history: History
    runs: list[RunResult]
    seconds: float

    @property
    def success_rate(self) -> float:
        """Fraction of runs that meet the success criterion."""
        return sum(r.success for r in self.runs) / len(self.runs)


def train(
    config: Config,
    progress: Callable[[Trainer], None] | None = None,
    *,
    n_final: int = N_FINAL,
    threads: int | None = None,
) -> TrainResult:
    """Train `config.seeds` runs for `config.rounds` rounds and measure them on n_final samples each.

    A config over the memory budget raises a one-line ValueError before anything is allocated
    (see `check_memory`); running out of memory anyway raises a one-line MemoryError. `threads`:
    CPU threads (default GAN_COURSE_THREADS, else 1; see `Trainer`).
    """
    # Before training: a bad n_final must not cost the run.
    n_final = _count("n_final", n_final, 1, "a number of values")
    t0 = time.perf_counter()
    trainer = Trainer(config, threads=threads)
    trainer.step(config.rounds, progress)
    seconds = time.perf_counter() - t0
    # Results first: they may mark a run that ran off at the end, which the history then shows.
    runs = trainer.results(n_final)
    return TrainResult(trainer, trainer.history, runs, seconds)


__all__ = ["Trainer", "History", "TrainResult", "train", "LIVE_FIELDS", "BUDGET_AXES", "resolve_device",
           "estimate_memory", "check_memory", "MemoryEstimate", "MEMORY_BUDGET", "N_FINAL", "make_config_target"]
