"""Training: a `Trainer` that advances K seeds together by n rounds at a time, and `train(config)`.

One round is `d_steps` updates of D (on fresh real data and on G's output, detached so that D's
loss does not train G) followed by `g_steps` updates of G through D (only G's parameters are
stepped, so D does not learn from G's "real" labels). Run k (seed `seed + k`) draws from five
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

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ganlib.config import MAX_SEED, MAX_SEEDS, Config
from ganlib.distributions import Distribution, make_noise, make_target
from ganlib.features import FeatureMap, get_feature_map
from ganlib.losses import (
    bce_d_loss,
    bce_g_loss,
    clip_weights_,
    gradient_penalty,
    wgan_critic_loss,
    wgan_g_loss,
)
from ganlib.metrics import RunResult, evaluate, is_success, label_run
from ganlib.models import StackedMLP
from ganlib.optim import BatchedOptimizer

# Fields that may change while a run is in progress (the next chunk uses them).
LIVE_FIELDS = ("d_lr", "g_lr", "d_steps", "g_steps", "clip", "gp_weight")
# Upper bound on uniforms drawn per chunk across runs (about 64 MB in float64).
_MAX_CHUNK_NUMBERS = 8_000_000
_MAX_CHUNK_ROUNDS = 200
# Each run's random streams, seeded `seed + index * _STREAM_STRIDE`; the stride exceeds any run
# seed (at most MAX_SEED + MAX_SEEDS), so no two streams of any two runs share a seed.
_STREAMS = ("g_init", "d_init", "data", "eval", "sample")
_STREAM_STRIDE = 2**40


def _stream_generators(seeds: list[int], stream: str) -> list[torch.Generator]:
    """One CPU generator per run for the named stream."""
    offset = _STREAMS.index(stream) * _STREAM_STRIDE
    return [torch.Generator().manual_seed(s + offset) for s in seeds]


def resolve_device(name: str) -> torch.device:
    """The torch device for a config's `device`, or a clear ValueError if it is not available."""
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} is not available: torch.cuda.is_available() is False; use 'cpu'")
    return torch.device(name)


@dataclass
class History:
    """What happened during training, as numpy arrays with one row per run.

    Per round: `d_loss`, `g_loss` (the last step's loss of the round) and D's mean output on
    real and on generated data (`d_real`, `d_fake`: probabilities for BCE, critic values for
    WGAN, whose difference is the critic's estimate of W1). Every `eval_every` rounds, at
    `eval_round`: the generated `mean`, `std`, `skew`, `kurtosis`, `w1` and `ks` to the target.
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
    diverged_at: list[int | None] = field(default_factory=list)
    diverged_reason: list[str | None] = field(default_factory=list)

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


class _HistoryBuffer:
    """Collects per-chunk tensors and turns them into a History on demand."""

    KEYS = ("mean", "std", "skew", "kurtosis", "w1", "ks")

    def __init__(self, k: int) -> None:
        self.k = k
        self.per_round: dict[str, list[np.ndarray]] = {n: [] for n in ("d_loss", "g_loss", "d_real", "d_fake")}
        self.eval_round: list[int] = []
        self.evals: dict[str, list[np.ndarray]] = {n: [] for n in self.KEYS}

    def build(self, seeds: list[int], diverged_at: list[int | None], reasons: list[str | None]) -> History:
        def cat(chunks: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(chunks, 1) if chunks else np.zeros((self.k, 0))

        def stack(rows: list[np.ndarray]) -> np.ndarray:
            return np.stack(rows, 1) if rows else np.zeros((self.k, 0))

        return History(
            seeds=list(seeds),
            **{n: cat(v) for n, v in self.per_round.items()},
            eval_round=np.asarray(self.eval_round, dtype=np.int64),
            **{n: stack(v) for n, v in self.evals.items()},
            diverged_at=list(diverged_at),
            diverged_reason=list(reasons),
        )


class Trainer:
    """K GAN runs on one 1-D target, trained together; advance with `step(n)`.

    `d_lr` / `g_lr` may be given as (K,) tensors to give each run its own learning rate, and
    `run_seeds` lists each run's seed (default `seed + k`): a sweep trains one grid cell per block
    of runs, all blocks on the same seeds.
    """

    def __init__(
        self,
        config: Config,
        *,
        d_lr: torch.Tensor | None = None,
        g_lr: torch.Tensor | None = None,
        run_seeds: list[int] | None = None,
    ) -> None:
        self.config = config
        c = config
        self.device = resolve_device(c.device)
        self.dtype = torch.float64 if c.dtype == "float64" else torch.float32
        self.target: Distribution = make_target(c.target, c.target_mean, c.target_std)
        self.noise: Distribution = make_noise(c.noise)
        # G and D work in standardised units when `normalize`; samples shown to the user are not.
        self.loc, self.scale = (self.target.mean, self.target.std) if c.normalize else (0.0, 1.0)
        self.seeds = [c.seed + i for i in range(c.seeds)] if run_seeds is None else [int(s) for s in run_seeds]
        if len(self.seeds) != c.seeds or any(not 0 <= s <= MAX_SEED + MAX_SEEDS for s in self.seeds):
            raise ValueError(f"run_seeds needs {c.seeds} seeds in [0, {MAX_SEED + MAX_SEEDS}], got {run_seeds!r}")
        self.k = c.seeds
        self._data_gens = _stream_generators(self.seeds, "data")
        self.features: FeatureMap = get_feature_map(c.features)
        s = c.batch_size
        g_out = 1 if c.generator == "per_value" else s
        self.G = StackedMLP([c.noise_dim, *c.g_hidden, g_out], c.g_activations,
                            _stream_generators(self.seeds, "g_init"), self.dtype, self.device)
        self.D = StackedMLP([self.features.size(s), *c.d_hidden, 1], c.d_activations,
                            _stream_generators(self.seeds, "d_init"),
                            self.dtype, self.device)
        self.opt_d = BatchedOptimizer(self.D.params, c.d_optimizer, c.d_lr if d_lr is None else d_lr,
                                      c.d_beta1, c.d_beta2, c.d_momentum)
        self.opt_g = BatchedOptimizer(self.G.params, c.g_optimizer, c.g_lr if g_lr is None else g_lr,
                                      c.g_beta1, c.g_beta2, c.g_momentum)
        self.round = 0
        self.diverged_at: list[int | None] = [None] * self.k
        self.diverged_reason: list[str | None] = [None] * self.k
        self._buf = _HistoryBuffer(self.k)
        eval_gens = _stream_generators(self.seeds, "eval")
        self._z_eval = self._draw_noise(self._n_vectors(c.eval_samples), eval_gens)
        self._record_eval()

    # ----- shapes and randomness -----
    def _n_vectors(self, n_values: int) -> int:
        """How many noise vectors make n_values generated values."""
        per = 1 if self.config.generator == "per_value" else self.config.batch_size
        return math.ceil(n_values / per)

    def _draw_noise(self, n_vectors: int, gens: list[torch.Generator]) -> torch.Tensor:
        d = self.config.noise_dim
        u = torch.stack([torch.rand(n_vectors * d, self.noise.n_uniforms, generator=g, dtype=torch.float64)
                         for g in gens])
        z = self.noise.from_uniform(u).view(len(gens), n_vectors, d)
        return z.to(device=self.device, dtype=self.dtype)

    def _layout(self) -> dict[str, int]:
        c = self.config
        m, s = c.sets, c.batch_size
        n_inputs = m * s if self.features.per_value else m
        lay = {
            "real": m * s * self.target.n_uniforms,
            "z": (m * s if c.generator == "per_value" else m) * c.noise_dim * self.noise.n_uniforms,
            "eps": n_inputs if c.loss == "wgan-gp" else 0,
        }
        lay["d_block"] = lay["real"] + lay["z"] + lay["eps"]
        lay["per_round"] = c.d_steps * lay["d_block"] + c.g_steps * lay["z"]
        return lay

    def _draw_chunk(self, n: int) -> dict[str, torch.Tensor]:
        """All random inputs of the next n rounds, one generator call per run."""
        c, lay = self.config, self._layout()
        k, m, s = self.k, c.sets, c.batch_size
        u = torch.stack([torch.rand(n * lay["per_round"], generator=g, dtype=torch.float64) for g in self._data_gens])
        u = u.view(k, n, lay["per_round"])
        d_part = u[:, :, : c.d_steps * lay["d_block"]].reshape(k, n, c.d_steps, lay["d_block"])
        g_part = u[:, :, c.d_steps * lay["d_block"]:].reshape(k, n, c.g_steps, lay["z"])
        a, b = lay["real"], lay["real"] + lay["z"]
        real = self.target.from_uniform(d_part[..., :a].reshape(k, n, c.d_steps, m, s, self.target.n_uniforms))
        real = (real - self.loc) / self.scale
        nz = self.noise.n_uniforms
        zdim = c.noise_dim
        zshape = (m * s, zdim) if c.generator == "per_value" else (m, zdim)
        z_d = self.noise.from_uniform(d_part[..., a:b].reshape(k, n, c.d_steps, *zshape, nz))
        z_g = self.noise.from_uniform(g_part.reshape(k, n, c.g_steps, *zshape, nz))
        out = {
            "real": real.to(self.device, self.dtype),
            "z_d": z_d.to(self.device, self.dtype),
            "z_g": z_g.to(self.device, self.dtype),
        }
        if lay["eps"]:
            out["eps"] = d_part[..., b:].reshape(k, n, c.d_steps, lay["eps"], 1).to(self.device, self.dtype)
        return out

    # ----- the two networks in use -----
    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        """G's samples in training units, shaped (K, sets, batch_size)."""
        c = self.config
        return self.G(z).view(self.k, c.sets, c.batch_size)

    def _d_step(self, real: torch.Tensor, z: torch.Tensor, eps: torch.Tensor | None) -> tuple:
        c = self.config
        with torch.no_grad():
            # Detached: D's loss must not reach G's parameters.
            fake = self._generate(z)
        f_real, f_fake = self.features(real), self.features(fake)
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
        grads = torch.autograd.grad(loss.sum(), self.D.params)
        self.opt_d.step(grads)
        if c.loss == "wgan":
            clip_weights_(self.D, c.clip)
        return loss.detach(), shown_real.detach(), shown_fake.detach()

    def _g_step(self, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        out_fake = self.D(self.features(self._generate(z)))
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
        """Change live hyperparameters (see LIVE_FIELDS) for the rounds still to come."""
        bad = sorted(set(changes) - set(LIVE_FIELDS))
        if bad:
            raise ValueError(f"{', '.join(bad)} cannot change during a run; live fields: {', '.join(LIVE_FIELDS)}")
        self.config = self.config.replace(**changes)
        if "d_lr" in changes:
            self.opt_d.lr = self.config.d_lr
        if "g_lr" in changes:
            self.opt_g.lr = self.config.g_lr

    def step(self, n: int, callback: Callable[[Trainer], None] | None = None) -> Trainer:
        """Train n more rounds (in chunks that end at evaluation points); returns self."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n={n!r} is not allowed: a number of rounds >= 0")
        c = self.config
        end = self.round + n
        while self.round < end and not self.stopped:
            to_eval = c.eval_every - self.round % c.eval_every
            cap = max(1, min(_MAX_CHUNK_ROUNDS, _MAX_CHUNK_NUMBERS // (self.k * self._layout()["per_round"])))
            chunk = min(end - self.round, to_eval, cap)
            self._run_chunk(chunk)
            if self.round % c.eval_every == 0 or self.round == end:
                self._record_eval()
            if callback is not None:
                callback(self)
        return self

    def _run_chunk(self, n: int) -> None:
        c = self.config
        rnd = self._draw_chunk(n)
        eps = rnd.get("eps")
        d_losses, g_losses, d_reals, d_fakes = [], [], [], []
        for r in range(n):
            if c.lr_decay != 1.0:
                done = min(self.round + r, c.rounds) / max(c.rounds, 1)
                self.opt_d.scale = self.opt_g.scale = c.lr_decay**done
            for j in range(c.d_steps):
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

    @torch.inference_mode()
    def _record_eval(self) -> None:
        x = self._to_user(self._generate_many(self._z_eval, self.config.eval_samples))
        metrics = evaluate(x, self.target)
        self._buf.eval_round.append(self.round)
        for name in _HistoryBuffer.KEYS:
            self._buf.evals[name].append(metrics[name].cpu().numpy())

    def _generate_many(self, z: torch.Tensor, n_values: int) -> torch.Tensor:
        return self.G(z).reshape(self.k, -1)[:, :n_values]

    def _to_user(self, x: torch.Tensor) -> torch.Tensor:
        return x.double() * self.scale + self.loc

    @property
    def history(self) -> History:
        """The history so far (a new snapshot on each access)."""
        return self._buf.build(self.seeds, self.diverged_at, self.diverged_reason)

    @torch.inference_mode()
    def sample(self, n: int = 10_000) -> np.ndarray:
        """n fresh values from each run's generator, shape (K, n), in target units.

        The noise comes from each run's own sampling stream, so the same trained runs always give
        the same samples.
        """
        gens = _stream_generators(self.seeds, "sample")
        z = self._draw_noise(self._n_vectors(n), gens)
        return self._to_user(self._generate_many(z, n)).cpu().numpy()

    @torch.inference_mode()
    def generator_map(self, z: np.ndarray | torch.Tensor) -> np.ndarray:
        """G(z) for each run at the given noise values (per-value G with one noise input): (K, len(z))."""
        if self.config.generator != "per_value" or self.config.noise_dim != 1:
            raise ValueError("generator_map needs a per-value generator with noise_dim=1")
        zt = torch.as_tensor(np.asarray(z, dtype=np.float64)).to(self.device, self.dtype)
        out = self.G(zt.view(1, -1, 1).expand(self.k, -1, 1))
        return self._to_user(out.reshape(self.k, -1)).cpu().numpy()

    @torch.inference_mode()
    def discriminator_curve(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """D at each value x (D must see one value at a time): (K, len(x)).

        Probabilities D(x) for BCE, critic values for the Wasserstein losses.
        """
        if not self.features.per_value:
            raise ValueError(f"D sees '{self.config.features}', not single values: it has no curve D(x)")
        xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
        xt = ((xt - self.loc) / self.scale).to(self.device, self.dtype)
        out = self.D(xt.view(1, -1, 1).expand(self.k, -1, 1)).reshape(self.k, -1)
        if self.config.loss == "bce":
            out = torch.sigmoid(out)
        return out.double().cpu().numpy()

    def results(self, n: int = 10_000) -> list[RunResult]:
        """Final measurements of every run on n fresh samples, with success and label."""
        x = self.sample(n)
        m = evaluate(torch.from_numpy(x), self.target)
        out = []
        for k, seed in enumerate(self.seeds):
            vals = {name: float(m[name][k]) for name in ("mean", "std", "skew", "kurtosis", "w1", "ks")}
            div = self.diverged_at[k] is not None
            out.append(RunResult(
                seed=seed, **vals, w1_sigma=vals["w1"] / self.target.std,
                success=(not div) and is_success(vals["w1"], self.target.std),
                label=label_run(vals["mean"], vals["std"], vals["w1"], self.target, div),
                diverged_at=self.diverged_at[k], diverged_reason=self.diverged_reason[k],
            ))
        return out


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
    n_final: int = 10_000,
) -> TrainResult:
    """Train `config.seeds` runs for `config.rounds` rounds and measure them on n_final samples each."""
    t0 = time.perf_counter()
    trainer = Trainer(config)
    trainer.step(config.rounds, progress)
    seconds = time.perf_counter() - t0
    return TrainResult(trainer, trainer.history, trainer.results(n_final), seconds)


__all__ = ["Trainer", "History", "TrainResult", "train", "LIVE_FIELDS", "resolve_device"]
