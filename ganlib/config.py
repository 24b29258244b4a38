"""Every hyperparameter of a run in one frozen, validated dataclass, plus the named presets.

A `Config` is checked when it is built: a bad value raises `ValueError` naming the field, the
value and what is allowed, so a slider or a command-line flag can show that one line instead of
a traceback from inside torch.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

TARGETS = ("normal", "uniform", "laplace", "mixture")
NOISES = ("uniform", "normal")
GENERATORS = ("per_value", "whole_sample")
FEATURES = ("value", "batch", "sorted", "diffs", "meanstd", "moments", "batch+moments", "sorted+meanstd",
            "sorted_real", "minibatch")
LOSSES = ("bce", "wgan", "wgan-gp")
G_OBJECTIVES = ("non-saturating", "minimax")
# WGAN-GP charges (|slope| - 1)^2 on both sides (Gulrajani et al.) or only slopes above 1 (Petzka et al.).
GP_SIDES = ("two-sided", "one-sided")
# A penalty on D besides its loss: R1 charges gamma/2 |grad D|^2 at real data (Mescheder et al. 2018).
D_PENALTIES = ("none", "r1")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
ACTIVATIONS = ("elu", "relu", "leaky_relu", "sigmoid", "tanh", "identity")
DTYPES = ("float32", "float64")

# Upper bounds keep a slider or a typo from asking for hours of training or gigabytes of memory.
MAX_SEEDS = 4096
# Largest first seed: 32 bits, as numpy and most tools accept.
MAX_SEED = 2**32 - 1
MAX_WIDTH = 4096
MAX_BATCH = 100_000
MAX_ROUNDS = 10_000_000
# Minibatch discrimination compares every pair of values of a batch in each of B x C dimensions.
MAX_MINIBATCH = 256
# The most critic steps a warm-up round may take (the WGAN reference code's is 100).
MAX_WARMUP_STEPS = 1000
# Largest R1 gamma: at 1e4 the penalty outweighs the loss by four orders of magnitude, D goes flat on the data.
MAX_R1_GAMMA = 1e4


# Random streams a run draws from (ganlib.train, ganlib.flows and ganlib.images name theirs; at most this many).
MAX_STREAMS = 8


def stream_seed(seed: int, index: int) -> int:
    """The 32-bit seed of stream `index` (0 to MAX_STREAMS - 1) of the run with seed `seed`.

    torch's CPU generator (a Mersenne Twister) keeps only the low 32 bits of its seed, so seeds that
    differ by a multiple of 2**32 give the same numbers: a run's streams must differ in those bits.
    `(seed * MAX_STREAMS + index) mod 2**32` gives every stream of every run among any 2**29
    consecutive seeds a seed of its own, whatever the first seed (a sweep uses at most MAX_SEEDS).
    """
    if not 0 <= index < MAX_STREAMS:
        raise ValueError(f"index={index!r} is not allowed: a stream number from 0 to {MAX_STREAMS - 1}")
    return (int(seed) * MAX_STREAMS + index) % 2**32


def _fail(name: str, value: Any, allowed: str) -> None:
    shown = repr(value)
    if len(shown) > 40:
        # A 400-digit integer would swamp the one line: show its start and its length.
        shown = f"{shown[:12]}...({len(shown)} characters)"
    raise ValueError(f"{name}={shown} is not allowed: {allowed}")


def _python(value: Any) -> Any:
    """numpy scalars (np.int64, np.float32, np.bool_, np.str_) as the Python int, float, bool or str they hold.

    Values from numpy arrays and sliders arrive as numpy scalars; stored as Python types, a Config
    compares, hashes and writes to JSON like one built from literals.
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return tuple(_python(v) for v in value)
    return value


def _coerce_fields(config: Any) -> None:
    """Turn numpy scalars in a frozen config's fields (tuples included) into Python values, in place.

    Shared by Config, FlowConfig and PlaneConfig, so that a value from numpy or JSON compares, hashes
    and prints like the literal a user would type.
    """
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        converted = _python(value)
        if converted is not value:
            object.__setattr__(config, f.name, converted)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        _fail(name, value, "choose one of " + ", ".join(choices))


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        _fail(name, value, f"an integer from {lo} to {hi}")


def _check_float(name: str, value: Any, lo: float, hi: float, *, lo_open: bool, hi_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        try:
            ok = math.isfinite(value)
        except OverflowError:  # an int beyond float range, e.g. 10**400
            ok = False
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        _fail(name, value, f"a finite number in {left}{lo:g}, {hi:g}{right}")


# A std must span this many float64 spacings at its mean (see _check_std_resolved).
MIN_STD_SPACINGS = 1e6


def _check_std_resolved(mean: float, std: float) -> None:
    """A one-line ValueError when float64 cannot hold a spread of `std` around `mean`.

    Values mean + std * z are rounded to the float64 grid near |mean|, whose spacing is about
    |mean| * 2.2e-16 (np.spacing). At std near the spacing every value rounds to one of a few
    numbers (at mean 1e6 and std 1e-12, to one), and the metrics measure the rounding. A rounding
    error of half a spacing per value is below 1e-6 std when std >= 1e6 spacings, so a sample of
    10,000 values keeps its mean, std and shape to 1e-6 relative. Below the smallest normal float
    (2.2e-308) the division by std loses digits of its own, so that is refused too.
    """
    bound = max(MIN_STD_SPACINGS * float(np.spacing(abs(mean))), float(np.finfo(np.float64).tiny))
    if std < bound:
        _fail("target_std", std, f"at least {bound:.3g} at target_mean={mean!r}: float64 values near the mean are "
              f"{float(np.spacing(abs(mean))):.2g} apart, and a std of {MIN_STD_SPACINGS:.0e} spacings keeps a "
              f"sample's shape to 1e-6 (nor below the smallest normal float, 2.2e-308)")


def _check_layers(prefix: str, hidden: Any, activations: Any) -> None:
    if not isinstance(hidden, tuple) or not hidden:
        _fail(f"{prefix}_hidden", hidden, "a non-empty tuple of layer widths, e.g. (50, 50)")
    for width in hidden:
        _check_int(f"{prefix}_hidden", width, 1, MAX_WIDTH)
    if not isinstance(activations, tuple) or len(activations) != len(hidden):
        _fail(f"{prefix}_activations", activations, f"a tuple with one activation per hidden layer ({len(hidden)})")
    for act in activations:
        _check_choice(f"{prefix}_activations", act, ACTIVATIONS)


def _check_warmup(warm: Any) -> None:
    """critic_warmup: a tuple of three integers (n_steps, first_g, every) within their ranges."""
    ok = (isinstance(warm, tuple) and len(warm) == 3
          and all(isinstance(v, int) and not isinstance(v, bool) for v in warm)
          and 0 <= warm[0] <= MAX_WARMUP_STEPS and all(0 <= v <= MAX_ROUNDS for v in warm[1:]))
    if not ok:
        _fail("critic_warmup", warm, f"a tuple of three integers (n_steps, first_g, every), n_steps from 0 to "
              f"{MAX_WARMUP_STEPS}, first_g and every from 0 to {MAX_ROUNDS}; (0, 0, 0) for none")


@dataclass(frozen=True)
class Config:
    """All hyperparameters of one (batched, multi-seed) GAN training run on 1-D data.

    Targets and noise are parametrised by mean and standard deviation so that one slider moves
    any of them. `seeds` runs train together in one batched pass; run k uses seed `seed + k`.
    For the Wasserstein losses `d_steps` is the number of critic steps per round (`critic_warmup`
    raises it in some rounds).
    """

    # The data: the target distribution R and the noise I fed to G.
    target: str = "normal"
    target_mean: float = 4.0
    target_std: float = 1.25
    # The mixture's shape: components N(mean -/+ s std, (1 - s^2) std^2), equal weights, 0 <= s < 1.
    # Mean and std stay target_mean and target_std for every s; 0.8 is the course's first mixture,
    # 0.95 to 0.98 put the modes 6 to 10 component std apart (notebook 07). Other targets ignore it.
    mixture_separation: float = 0.8
    noise: str = "uniform"
    noise_dim: int = 1
    # Standardise real data by the target's mean and std and let G work in those units, so that
    # the same network and learning rate fit N(400, 1) and N(0.1, 0.2) alike.
    normalize: bool = True
    # G: "per_value" maps noise_dim numbers to one value; "whole_sample" maps a noise vector of
    # length noise_dim to a whole sample of batch_size values (learn-GAN).
    generator: str = "per_value"
    g_hidden: tuple[int, ...] = (50, 50)
    g_activations: tuple[str, ...] = ("elu", "sigmoid")
    # D: what it sees (see ganlib.features) and its hidden layers; its output is a logit.
    features: str = "sorted"
    d_hidden: tuple[int, ...] = (50, 50)
    d_activations: tuple[str, ...] = ("elu", "elu")
    # Minibatch discrimination (features="minibatch", Salimans et al. 2016): D's first hidden layer
    # (A units) is joined by B cross-sample features o_b(x_i) = sum_j exp(-|M_i,b - M_j,b|_1) over
    # the batch, M_i = h(x_i) T with a learned tensor T of shape A x B x C (B kernels of C dims).
    # Every pair of values of a batch is compared in B x C numbers, so the cost grows with B x C. On the
    # mixture of separation 0.96 at 4,000 rounds, 5 x 3 succeeded in 20 of 20 seeds, 3 x 2 in 14 of 20
    # (and 5 x 1, 4 x 2, 5 x 2 in 9 of 10 each), at about half the cost.
    minibatch_kernels: int = 5
    minibatch_dims: int = 3
    # Objective.
    loss: str = "bce"
    g_objective: str = "non-saturating"
    clip: float = 0.01
    gp_weight: float = 10.0
    gp_side: str = "two-sided"
    # A penalty on D added to its loss with any loss: "r1" charges gamma/2 times the squared norm of the
    # gradient of D's output (its logit for bce) with respect to D's input features at the real batch
    # (Mescheder et al. 2018), so D keeps no steep wall on the data for G to bounce off. With minibatch
    # discrimination a value's score depends on its batch: its gradient is that of the batch's summed
    # outputs, as WGAN-GP's penalty takes it. The recorded d_loss includes the penalty.
    d_penalty: str = "none"
    r1_gamma: float = 1.0
    # Spectral normalisation (Miyato et al. 2018): each of D's linear layers' weights divided by its largest
    # singular value, estimated by one power iteration per D update (see ganlib.models.StackedMLP).
    spectral_norm: bool = False
    # Optimizers; beta2 is RMSProp's smoothing constant (torch's alpha) when it is RMSProp.
    d_optimizer: str = "adam"
    d_lr: float = 2e-3
    d_beta1: float = 0.5
    d_beta2: float = 0.999
    d_momentum: float = 0.0
    g_optimizer: str = "adam"
    g_lr: float = 2e-3
    g_beta1: float = 0.5
    g_beta2: float = 0.999
    g_momentum: float = 0.0
    # Both learning rates decay geometrically to lr_decay times their start value at `rounds`
    # (1.0: constant). A falling rate shrinks the oscillation around the equilibrium.
    lr_decay: float = 0.05
    # The loop: per round, d_steps updates of D then g_steps updates of G, each on a fresh batch
    # of `sets` samples of batch_size values.
    d_steps: int = 1
    g_steps: int = 1
    # The WGAN authors' critic schedule (Arjovsky et al.'s main.py: `Diters = 100 if gen_iterations
    # < 25 or gen_iterations % 500 == 0 else 5`), as (n_steps, first_g, every): round r (0-based, so
    # r rounds of G updates are done before it) takes n_steps D steps instead of d_steps when
    # r < first_g or (every > 0 and r % every == 0), so that G learns from a critic near its optimum
    # at the start and now and then. n_steps 0 turns it off; (0, 0, 0), the default, is none. It
    # applies to every loss (it is only D steps per round) but is meant for WGAN. See `d_steps_at`.
    critic_warmup: tuple[int, int, int] = (0, 0, 0)
    batch_size: int = 64
    sets: int = 1
    rounds: int = 4000
    # Evaluation: every eval_every rounds, eval_samples values per run are compared with the target.
    eval_every: int = 200
    eval_samples: int = 4000
    # Runs.
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
        _check_int("noise_dim", self.noise_dim, 1, MAX_WIDTH)
        if not isinstance(self.normalize, bool):
            _fail("normalize", self.normalize, "True or False")
        _check_choice("generator", self.generator, GENERATORS)
        _check_layers("g", self.g_hidden, self.g_activations)
        _check_choice("features", self.features, FEATURES)
        _check_layers("d", self.d_hidden, self.d_activations)
        _check_int("minibatch_kernels", self.minibatch_kernels, 1, MAX_MINIBATCH)
        _check_int("minibatch_dims", self.minibatch_dims, 1, MAX_MINIBATCH)
        _check_choice("loss", self.loss, LOSSES)
        _check_choice("g_objective", self.g_objective, G_OBJECTIVES)
        _check_float("clip", self.clip, 0.0, 100.0, lo_open=True)
        _check_float("gp_weight", self.gp_weight, 0.0, 1e4, lo_open=True)
        _check_choice("gp_side", self.gp_side, GP_SIDES)
        _check_choice("d_penalty", self.d_penalty, D_PENALTIES)
        _check_float("r1_gamma", self.r1_gamma, 0.0, MAX_R1_GAMMA, lo_open=True)
        if not isinstance(self.spectral_norm, bool):
            _fail("spectral_norm", self.spectral_norm, "True or False")
        for net in ("d", "g"):
            _check_choice(f"{net}_optimizer", getattr(self, f"{net}_optimizer"), OPTIMIZERS)
            _check_float(f"{net}_lr", getattr(self, f"{net}_lr"), 0.0, 10.0, lo_open=True)
            for beta in ("beta1", "beta2", "momentum"):
                _check_float(f"{net}_{beta}", getattr(self, f"{net}_{beta}"), 0.0, 1.0, lo_open=False, hi_open=True)
        _check_float("lr_decay", self.lr_decay, 0.0, 1.0, lo_open=True)
        _check_int("d_steps", self.d_steps, 1, 100)
        _check_int("g_steps", self.g_steps, 1, 100)
        _check_warmup(self.critic_warmup)
        _check_int("batch_size", self.batch_size, 2, MAX_BATCH)
        _check_int("sets", self.sets, 1, 1024)
        _check_int("rounds", self.rounds, 0, MAX_ROUNDS)
        _check_int("eval_every", self.eval_every, 1, MAX_ROUNDS)
        _check_int("eval_samples", self.eval_samples, 100, 1_000_000)
        _check_int("seed", self.seed, 0, MAX_SEED)
        _check_int("seeds", self.seeds, 1, MAX_SEEDS)
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            _fail("device", self.device, "'cpu', 'cuda' or 'cuda:N'")
        _check_choice("dtype", self.dtype, DTYPES)
        if self.features not in ("value", "batch", "sorted", "sorted_real", "minibatch") and self.batch_size < 3:
            _fail("batch_size", self.batch_size, f"at least 3 when D sees '{self.features}' (moments need a spread)")

    def d_steps_at(self, round_: int) -> int:
        """D (critic) steps of round `round_` (0-based): `d_steps`, or the warm-up's n_steps (see critic_warmup)."""
        n_steps, first_g, every = self.critic_warmup
        if n_steps and (round_ < first_g or (every and round_ % every == 0)):
            return n_steps
        return self.d_steps

    def replace(self, **changes: Any) -> Config:
        """Return a copy with some fields changed, validated like a new Config."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Inverse of `to_dict`; unknown keys raise ValueError."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _one_of(choices: tuple[str, ...]) -> str:
    return "one of " + ", ".join(choices)


# One line per Config field, in field order: what it is and its allowed values (the ranges __post_init__
# checks). The command line's --help is built from it and adds each default; test_config checks that every
# field has a line, so a new field cannot reach the command line undocumented.
FIELD_HELP: dict[str, str] = {
    "target": f"the target distribution: {_one_of(TARGETS)}",
    "target_mean": "the target's mean, from -1e6 to 1e6",
    "target_std": "the target's standard deviation, above 0 and up to 1e6 (and not too small for its mean)",
    "mixture_separation": "mixture only: modes at mean -/+ s std, each of std sqrt(1 - s^2) std; s in [0, 1)",
    "noise": f"the noise fed to G: {_one_of(NOISES)}",
    "noise_dim": f"numbers of noise per G input, from 1 to {MAX_WIDTH}",
    "normalize": "standardise data by the target's mean and std (--normalize / --no-normalize)",
    "generator": f"G's kind: {_one_of(GENERATORS)} (whole_sample maps a noise vector to a batch)",
    "g_hidden": f"G's hidden layer widths, comma-separated, each from 1 to {MAX_WIDTH}",
    "g_activations": f"G's activation per hidden layer, comma-separated, each {_one_of(ACTIVATIONS)}",
    "features": f"what D sees of a batch: {_one_of(FEATURES)}",
    "d_hidden": f"D's hidden layer widths, comma-separated, each from 1 to {MAX_WIDTH}",
    "d_activations": f"D's activation per hidden layer, comma-separated, each {_one_of(ACTIVATIONS)}",
    "minibatch_kernels": f"features minibatch only: cross-sample kernels B, from 1 to {MAX_MINIBATCH}",
    "minibatch_dims": f"features minibatch only: dimensions C per kernel, from 1 to {MAX_MINIBATCH}",
    "loss": f"the objective: {_one_of(LOSSES)}",
    "g_objective": f"bce only: G's loss, {_one_of(G_OBJECTIVES)}",
    "clip": "wgan only: clip critic weights to [-c, c], c in (0, 100]",
    "gp_weight": "wgan-gp only: the gradient penalty's weight, in (0, 1e4]",
    "gp_side": "wgan-gp only: two-sided penalises slopes away from 1 either way, one-sided only above 1",
    "d_penalty": f"a penalty on D with any loss: {_one_of(D_PENALTIES)} (r1: gamma/2 |grad D|^2 on the real batch)",
    "r1_gamma": f"d-penalty r1 only: the R1 penalty's gamma, in (0, {MAX_R1_GAMMA:g}] (2-D targets: default 0.1)",
    "spectral_norm": "divide each of D's weight matrices by its largest singular value, one power iteration per D "
                     "update (--spectral-norm / --no-spectral-norm)",
    "d_optimizer": f"D's optimizer: {_one_of(OPTIMIZERS)}",
    "d_lr": "the learning rate of D, in (0, 10]",
    "d_beta1": "D's Adam beta1, in [0, 1)",
    "d_beta2": "D's Adam beta2 or RMSProp smoothing constant, in [0, 1)",
    "d_momentum": "D's SGD or RMSProp momentum, in [0, 1)",
    "g_optimizer": f"G's optimizer: {_one_of(OPTIMIZERS)}",
    "g_lr": "the learning rate of G, in (0, 10]",
    "g_beta1": "G's Adam beta1, in [0, 1)",
    "g_beta2": "G's Adam beta2 or RMSProp smoothing constant, in [0, 1)",
    "g_momentum": "G's SGD or RMSProp momentum, in [0, 1)",
    "lr_decay": "both rates fall geometrically to this fraction of their start at the last round, in (0, 1]",
    "d_steps": "D (critic) updates per round, from 1 to 100",
    "g_steps": "G updates per round, from 1 to 100",
    "critic_warmup": f"N,FIRST,EVERY: N D steps (0 to {MAX_WARMUP_STEPS}) in rounds before FIRST and every "
                     "EVERY-th round; 0,0,0 for none",
    "batch_size": f"values per sample, from 2 to {MAX_BATCH} (3 or more when D sees moments)",
    "sets": "samples of batch_size values per update, from 1 to 1024",
    "rounds": f"training rounds, from 0 to {MAX_ROUNDS}",
    "eval_every": f"rounds between evaluations, from 1 to {MAX_ROUNDS}",
    "eval_samples": "values per run at each evaluation, from 100 to 1000000",
    "seed": f"the first run's seed (run k uses seed + k), from 0 to {MAX_SEED}",
    "seeds": f"runs trained together, from 1 to {MAX_SEEDS}",
    "device": "where to train: cpu, cuda or cuda:N",
    "dtype": f"the floating-point type: {_one_of(DTYPES)}",
}


# Dev Nag's article as printed ("GANs in 50 lines"; the Chinese translation carries the script):
# batch of 100 as one D input decorated with squared deviations, Adam 2e-4 with betas
# (0.9, 0.999), one D and one G step a round, nothing standardised, 30,000 rounds.
_DEVNAG = dict(
    target="normal", target_mean=4.0, target_std=1.25, noise="uniform", normalize=False,
    g_hidden=(50, 50), g_activations=("elu", "sigmoid"),
    features="diffs", d_hidden=(50, 50), d_activations=("elu", "elu"),
    loss="bce", g_objective="non-saturating",
    d_optimizer="adam", d_lr=2e-4, d_beta1=0.9, d_beta2=0.999,
    g_optimizer="adam", g_lr=2e-4, g_beta1=0.9, g_beta2=0.999,
    d_steps=1, g_steps=1, batch_size=100, rounds=30000, eval_every=500, lr_decay=1.0,
)

PRESETS: dict[str, dict[str, Any]] = {
    # The recommended default, the dataclass defaults: D sees the sorted batch of 64 standardised
    # values; Adam 2e-3 with beta1 0.5 for both nets, decaying to 1e-4 over 4,000 rounds.
    "recommended": {},
    "devnag": _DEVNAG,
    # The same script with its other input line uncommented: the raw batch of 100.
    "devnag_raw": {**_DEVNAG, "features": "batch"},
    # The later repository version: D on the first four moments of a batch of 500, tiny nets
    # (G tanh, D sigmoid), SGD with momentum, 20 D then 20 G steps a round, 5,000 rounds.
    "devnag_repo": {
        **_DEVNAG, "features": "moments", "batch_size": 500,
        "g_hidden": (5, 5), "g_activations": ("tanh", "tanh"),
        "d_hidden": (10, 10), "d_activations": ("sigmoid", "sigmoid"),
        "d_optimizer": "sgd", "d_lr": 1e-3, "d_momentum": 0.9,
        "g_optimizer": "sgd", "g_lr": 1e-3, "g_momentum": 0.9,
        "d_steps": 20, "g_steps": 20, "rounds": 5000, "eval_every": 250,
    },
    # learn-GAN: N(4, 1.5); G maps a 100-vector of uniform noise to a 100-value sample
    # (relu, sigmoid, linear); D sees the sorted sample (relu, sigmoid, then a sigmoid output).
    "learngan": dict(
        target="normal", target_mean=4.0, target_std=1.5, noise="uniform", noise_dim=100,
        normalize=False, generator="whole_sample",
        g_hidden=(64, 64), g_activations=("relu", "sigmoid"),
        features="sorted", d_hidden=(64, 64), d_activations=("relu", "sigmoid"),
        loss="bce", d_optimizer="adam", d_lr=1e-3, d_beta1=0.9, g_optimizer="adam", g_lr=1e-3,
        g_beta1=0.9, batch_size=100, sets=8, rounds=2000, eval_every=100, lr_decay=1.0,
    ),
    # WGAN as its authors ran it (Arjovsky et al. 2017, Algorithm 1 and their main.py): the four
    # changes (no sigmoid, no log, weights clipped to 0.01, RMSProp 5e-5), 5 critic steps a round and
    # the reference code's critic schedule, 100 critic steps in each of the first 25 rounds and in
    # every 500th (critic_warmup).
    "wgan": dict(
        loss="wgan", clip=0.01, d_steps=5, critic_warmup=(100, 25, 500), d_optimizer="rmsprop", d_lr=5e-5,
        d_beta2=0.99, g_optimizer="rmsprop", g_lr=5e-5, g_beta2=0.99, rounds=2000, features="value",
        batch_size=64, lr_decay=1.0,
    ),
    # WGAN-GP as its authors ran it (Gulrajani et al. 2017, Algorithm 1: alpha=1e-4, beta1=0,
    # beta2=0.9, lambda=10, n_critic=5): gradient penalty 10, Adam 1e-4 with betas (0, 0.9) for both
    # nets, 5 critic steps a round, no critic warm-up.
    "wgan_gp": dict(
        loss="wgan-gp", gp_weight=10.0, d_steps=5, d_optimizer="adam", d_lr=1e-4, d_beta1=0.0,
        d_beta2=0.9, g_optimizer="adam", g_lr=1e-4, g_beta1=0.0, g_beta2=0.9, rounds=2000, features="value",
        batch_size=64, lr_decay=1.0,
    ),
}


# The environment variable every notebook reads its seed from (see `course_seed`).
SEED_VARIABLE = "GAN_COURSE_SEED"
# Course seeds leave room above them for the runs of a notebook (seed + k for k < MAX_SEEDS).
MAX_COURSE_SEED = MAX_SEED - MAX_SEEDS


def course_seed(default: int = 0) -> int:
    """The notebooks' seed: the integer in the environment variable GAN_COURSE_SEED, else `default`.

    Every random thing in a notebook derives from it, so `GAN_COURSE_SEED=1000 jupyter lab` shows
    other runs of the same experiments (the course checks its claims on several such seed blocks).
    A value that is not a whole number from 0 to MAX_COURSE_SEED raises a one-line ValueError.
    """
    text = os.environ.get(SEED_VARIABLE, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_COURSE_SEED:
        raise ValueError(f"{SEED_VARIABLE}={text!r} is not allowed: a whole number from 0 to {MAX_COURSE_SEED}")
    return value


def preset(name: str, **overrides: Any) -> Config:
    """The named preset (see `PRESETS`) with any fields overridden."""
    if name not in PRESETS:
        raise ValueError(f"preset={name!r} is not allowed: choose one of {', '.join(PRESETS)}")
    # Config(**...) would raise a TypeError for an unknown keyword: say which field, in one line.
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(Config)})
    if unknown:
        raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
    return Config(**{**PRESETS[name], **overrides})


__all__ = ["stream_seed", "MAX_STREAMS",
           "Config", "FIELD_HELP", "PRESETS", "preset", "course_seed", "SEED_VARIABLE", "MAX_WARMUP_STEPS", "TARGETS",
           "NOISES", "FEATURES", "LOSSES", "OPTIMIZERS", "ACTIVATIONS", "GENERATORS", "G_OBJECTIVES", "GP_SIDES",
           "D_PENALTIES", "MAX_R1_GAMMA", "DTYPES"]
