"""From 1-D to images: the WGAN article's DCGAN-style generator and critic on scikit-learn's 8x8 digits.

The article's networks make 32x32 images: G projects the noise to 4x4 and doubles the size three
times with ConvTranspose2d / BatchNorm2d / ReLU stages, ending in Tanh; D mirrors it with Conv2d /
BatchNorm2d / LeakyReLU(0.2) stages and a last convolution to one raw score (no sigmoid). Digits are
8x8, so here G projects to 2x2 and doubles twice, and D halves twice, then a 2x2 convolution gives
the score; every layer type, the stride-2 kernels of 4 and the initialisation (conv weights
N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0) are the article's.

There is no exact W1 in image space, so the measurements use an independent judge: a small
scikit-learn classifier trained on real digits. It assigns each generated digit a class (class
shares show mode collapse you can count), gives a feature space in which the Frechet distance
between real and generated images is computed (an FID analogue, with its floor: real against real,
same sizes), and the pixels give a nearest-neighbour check that G does not copy training images.

The data set is split once, the same way for every seed (every other image of each class): G and
the classifier learn from the training half; the held-out half is the real-against-real reference.
The losses, the clipping and the gradient penalty are ganlib.losses' (one run, K = 1), and the
optimizers are ganlib.optim's. Everything random comes from torch Generators seeded from the run's
seed, so the same seed gives the same numbers on the same machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import numbers
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn

from ganlib.config import GP_SIDES, _coerce_fields, stream_seed
from ganlib.losses import (
    bce_d_loss,
    bce_g_loss,
    clip_weights_,
    gradient_penalty,
    r1_penalty,
    wgan_critic_loss,
    wgan_g_loss,
)
from ganlib.optim import BatchedOptimizer
from ganlib.outputs import atomic_write, check_outputs, npy_path, printing
from ganlib.palette import COLORS, IMAGE_CMAP
from ganlib.threads import add_threads_flag, course_threads, on_own_threads, using_threads

SIDE = 8  # digits are SIDE x SIDE pixels
PIXEL_MAX = 16.0  # load_digits' grey levels run from 0 to 16
N_CLASSES = 10
# A class "is covered" when at least this share of generated digits is assigned to it (real: ~10%).
COVERAGE_SHARE = 0.04
IMAGE_LOSSES = ("bce", "wgan", "wgan-gp", "sliced")
# Losses that train a D (or critic); "sliced" trains G alone against the sliced Wasserstein distance.
D_LOSSES = ("bce", "wgan", "wgan-gp")
D_PENALTIES = ("none", "r1")
# The k of the k-nearest-neighbour balls of precision and recall (Kynkaanniemi et al. 2019 use 3).
PR_NEIGHBOURS = 3
IMAGE_OPTIMIZERS = ("adam", "rmsprop")
# The critic's normalisation after its second convolution (see Critic).
CRITIC_NORMS = ("batch", "layer", "none")
# Streams of a run, as in ganlib.train: G's and D's initial weights, training batches (real images,
# noise, penalty mixing weights), the evaluation noise (fixed for the whole run), the sampling noise.
_STREAMS = ("g_init", "d_init", "data", "eval", "sample")
# Stream index of spectral normalisation's starting vectors (after the five streams above).
_SN_STREAM = len(_STREAMS)
MAX_SEED = 2**32 - 1
MAX_ROUNDS = 1_000_000
MAX_SAMPLES = 1_000_000
# The most critic steps a warm-up round may take (the WGAN code's is 100).
MAX_WARMUP_STEPS = 1000
# Runs draw at least this many digits: class shares to a percent or so, and more than the held-out
# half's 896 that the Frechet distance compares against.
MIN_SAMPLES = 1000


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Digits:
    """scikit-learn's 1,797 digits on the 0-16 scale, split into a training and a held-out half.

    The split is fixed (every other image of each class in the data set's order), so every seed and
    every loss sees the same training images and is judged against the same held-out ones.
    """

    train: np.ndarray  # (n_train, 8, 8) float64, 0-16
    train_labels: np.ndarray  # (n_train,) int
    held_out: np.ndarray
    held_out_labels: np.ndarray


@lru_cache(maxsize=1)
def load_digits_split() -> Digits:
    """The digits (shipped inside scikit-learn: nothing is downloaded), split in two halves by class."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x.reshape(-1, SIDE, SIDE).astype(np.float64)
    first = np.zeros(len(y), dtype=bool)
    for c in range(N_CLASSES):
        first[np.flatnonzero(y == c)[::2]] = True
    out = Digits(x[first], y[first], x[~first], y[~first])
    for f in dataclasses.fields(out):  # cached and shared: nobody may change it in place
        getattr(out, f.name).setflags(write=False)
    return out


def to_unit(images: np.ndarray | torch.Tensor) -> Any:
    """0-16 grey levels -> [-1, 1], the range of G's Tanh."""
    return images / (PIXEL_MAX / 2) - 1.0


def from_unit(images: np.ndarray | torch.Tensor) -> Any:
    """[-1, 1] -> 0-16 grey levels (the data set's scale)."""
    return (images + 1.0) * (PIXEL_MAX / 2)


# ----------------------------------------------------------------------------------------------
# The article's networks, sized for 8x8
# ----------------------------------------------------------------------------------------------

def weights_init_(module: nn.Module, generator: torch.Generator) -> None:
    """The article's initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0.

    It draws from `generator`, not from torch's global random state, so a run's weights depend on
    its seed only. The convolutions have no bias (the normalisation after them has one). The
    WGAN-GP critic's layer norm (GroupNorm) starts as the WGAN-GP code starts it: scales 1, shifts 0.
    """
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.weight.normal_(0.0, 0.02, generator=generator)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.normal_(1.0, 0.02, generator=generator)
                m.bias.zero_()
            elif isinstance(m, nn.GroupNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()


def _whole(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """`value` as an int if it is a whole number (numpy integers too) in [lo, hi]; else a one-line ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lo or (hi is not None
                                                                                          and value > hi):
        allowed = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name}={value!r} is not allowed: a whole number {allowed}")
    return int(value)


def one_hot(labels: torch.Tensor, n_classes: int = N_CLASSES) -> torch.Tensor:
    """(N,) integer labels -> (N, n_classes) float one-hot rows."""
    return torch.nn.functional.one_hot(labels.long(), n_classes).float()


class Generator(nn.Module):
    """z (N, nz) -> images (N, 1, 8, 8) in [-1, 1]: 1x1 -> 2x2 -> 4x4 -> 8x8.

    With `n_classes` > 0 it is conditional (Mirza and Osindero 2014, as DCGANs do it): the label's
    one-hot code is appended to z, so the first layer sees nz + n_classes input channels.
    """

    def __init__(self, nz: int = 32, ngf: int = 32, n_classes: int = 0) -> None:
        super().__init__()
        self.nz = nz
        self.n_classes = n_classes
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz + n_classes, ngf * 2, 2, 1, 0, bias=False),  # project: (ngf*2) x 2 x 2
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),  # up: ngf x 4 x 4
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False),  # up: 1 x 8 x 8
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images for noise `z` of shape (N, nz) (and, if conditional, `labels` of shape (N,))."""
        if self.n_classes:
            if labels is None:
                raise ValueError("a conditional generator needs the labels of the digits to draw")
            z = torch.cat([z, one_hot(labels, self.n_classes)], 1)
        return self.main(z.view(-1, self.nz + self.n_classes, 1, 1))


class Critic(nn.Module):
    """images (N, 1, 8, 8) -> raw scores (N,): 8x8 -> 4x4 -> 2x2 -> 1, no sigmoid.

    `norm` is the normalisation after the second convolution: "batch" is the article's BatchNorm2d
    (statistics over the batch, so one image's score depends on the others beside it); "layer" is
    the WGAN-GP code's layer norm, statistics over each image's own channels and pixels with one
    scale and shift per channel (GroupNorm with a single group is exactly that); "none" leaves it out.
    A gradient penalty needs the gradient of each image's own score, so WGAN-GP takes "layer".
    With `n_classes` > 0 it is conditional: the label's one-hot code enters as n_classes constant
    8x8 channels beside the image, so the first convolution sees 1 + n_classes channels.
    """

    def __init__(self, ndf: int = 32, norm: str = "batch", n_classes: int = 0) -> None:
        super().__init__()
        if norm not in CRITIC_NORMS:
            raise ValueError(f"norm={norm!r} is not allowed: choose one of {', '.join(CRITIC_NORMS)}")
        self.norm = norm
        self.n_classes = n_classes
        middle: list[nn.Module] = {"batch": [nn.BatchNorm2d(ndf * 2)], "layer": [nn.GroupNorm(1, ndf * 2)],
                                   "none": []}[norm]
        self.main = nn.Sequential(
            nn.Conv2d(1 + n_classes, ndf, 4, 2, 1, bias=False),  # down: ndf x 4 x 4 (no normalisation, as the article)
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),  # down: (ndf*2) x 2 x 2
            *middle,
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 2, 1, 0, bias=False),  # score: 1 x 1 x 1
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """One raw score per image (of the class `labels` says, if conditional)."""
        x = x.reshape(-1, 1, SIDE, SIDE)
        if self.n_classes:
            if labels is None:
                raise ValueError("a conditional critic needs the labels of the digits it scores")
            maps = one_hot(labels, self.n_classes)[:, :, None, None].expand(-1, -1, SIDE, SIDE)
            x = torch.cat([x, maps], 1).contiguous(memory_format=torch.channels_last)
        return self.main(x).view(-1)

    @property
    def params(self) -> list[torch.Tensor]:
        """Every parameter (BatchNorm's too), the list ganlib.losses.clip_weights_ clips."""
        return list(self.parameters())


def spectral_normalise_(critic: Critic, seed: int) -> Critic:
    """Spectral normalisation (Miyato et al. 2018) of every convolution of `critic`, in place.

    Each layer's weight W (as an out x (in*k*k) matrix) is used as W / sigma(W), sigma its largest
    singular value, estimated by one power iteration per forward pass in training mode, as in the
    paper (torch.nn.utils.parametrizations.spectral_norm). The power iteration's starting vectors are
    drawn from the run's own stream (`seed`), not from torch's global random state, and that state is
    left as it was. Returns `critic`.
    """
    from torch.nn.utils.parametrizations import spectral_norm

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, _SN_STREAM))
        for i, m in enumerate(critic.main):
            if isinstance(m, nn.Conv2d):
                critic.main[i] = spectral_norm(m)
    return critic


def sliced_wasserstein(x: torch.Tensor, y: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Sliced W1 between two equal-size samples: the exact 1-D W1 of their projections, averaged.

    x, y: (N, D) samples; directions: (L, D) unit vectors. Each projection is sorted, and the mean
    absolute difference of the sorted values is the exact W1 of the two 1-D samples (the course's
    sorted-sample trick, once per direction). Differentiable in x and y (sorting passes gradients to
    the values that landed in each place).
    """
    x, y, directions = (torch.as_tensor(v) for v in (x, y, directions))
    if (x.shape != y.shape or x.ndim != 2 or directions.ndim != 2 or directions.shape[1] != x.shape[1]
            or x.shape[0] == 0 or directions.shape[0] == 0):
        raise ValueError(f"need x, y of one shape (N, D) and directions (L, D), N and L at least 1; got "
                         f"{tuple(x.shape)}, {tuple(y.shape)}, {tuple(directions.shape)}")
    # one floating type for all three (float64 if any is), as numpy would promote them
    dtype = torch.promote_types(torch.promote_types(x.dtype, y.dtype), directions.dtype)
    dtype = dtype if dtype.is_floating_point else torch.get_default_dtype()
    x, y, directions = x.to(dtype), y.to(dtype), directions.to(dtype)
    px = torch.sort(x @ directions.T, dim=0).values
    py = torch.sort(y @ directions.T, dim=0).values
    return (px - py).abs().mean()


def random_directions(n: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """n directions drawn uniformly on the unit sphere of R^dim (normalised Gaussian vectors)."""
    n, dim = _whole("n", n, 1), _whole("dim", dim, 1)
    d = torch.randn(n, dim, generator=generator)
    return d / d.norm(dim=1, keepdim=True)


# ----------------------------------------------------------------------------------------------
# The judge: an independent classifier, class shares, Frechet distance, nearest neighbours
# ----------------------------------------------------------------------------------------------

def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Squared Frechet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2).

    |mu1 - mu2|^2 + tr(cov1 + cov2 - 2 (cov1^1/2 cov2 cov1^1/2)^1/2). The trace of the matrix square
    root of cov1 cov2 equals that of the symmetric cov1^1/2 cov2 cov1^1/2, whose eigenvalues are real
    and non-negative, so two symmetric eigendecompositions replace a general sqrtm (no scipy).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != mu1.shape * 2:
        raise ValueError(f"shapes do not match: means {mu1.shape}, {mu2.shape}; covariances {cov1.shape}, "
                         f"{cov2.shape}")
    w, v = np.linalg.eigh((cov1 + cov1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = root1 @ cov2 @ root1
    lam = np.linalg.eigvalsh((middle + middle.T) / 2)
    cross = float(np.sqrt(np.clip(lam, 0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * cross)


def gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (divisor n - 1) of rows of `features`."""
    f = np.asarray(features, np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def nearest_distances(queries: np.ndarray, references: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    """Euclidean distance from each query image to its nearest reference image (pixels as a vector).

    With `exclude_self` (queries are the references), each image's distance to itself is skipped.
    """
    q = np.asarray(queries, np.float64).reshape(len(queries), -1)
    r = np.asarray(references, np.float64).reshape(len(references), -1)
    out = np.empty(len(q))
    rr = (r * r).sum(1)
    for start in range(0, len(q), 1024):  # chunks keep the distance matrix at a few MB
        qq = q[start:start + 1024]
        d2 = (qq * qq).sum(1)[:, None] + rr[None, :] - 2 * qq @ r.T
        if exclude_self:
            d2[np.arange(len(qq)), np.arange(start, start + len(qq))] = np.inf
        out[start:start + 1024] = np.sqrt(np.clip(d2.min(1), 0, None))
    return out


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of a and of b, (len(a), len(b))."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(d2, 0.0, None))


def knn_radii(features: np.ndarray, k: int = PR_NEIGHBOURS) -> np.ndarray:
    """Each point's distance to its k-th nearest other point of the same set."""
    if len(features) < 2:
        raise ValueError(f"a set of {len(features)} point(s) has no nearest other point: give at least 2")
    k = _whole("k", k, 1, len(features) - 1)
    d = _pairwise(features, features)
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = PR_NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of `fake` against `real` features.

    Around every real point draw the ball that reaches its k-th nearest real neighbour: the union
    of those balls estimates where the real data live. Precision is the share of fake points inside
    that union (are the generated images realistic?). Recall swaps the roles: the share of real
    points inside the union of the fake points' balls (is the data's variety covered?). Blends
    between classes lower precision; a generator that leaves out classes lowers recall.
    """
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake must be (N, d) and (M, d) feature arrays; got shapes {real.shape} and "
                         f"{fake.shape}")
    if not (np.isfinite(real).all() and np.isfinite(fake).all()):
        raise ValueError("real and fake features must be finite (no NaN or inf)")
    real_r, fake_r = knn_radii(real, k), knn_radii(fake, k)
    d = _pairwise(fake, real)  # (fake, real)
    precision = float(np.mean((d <= real_r[None, :]).any(1)))
    recall = float(np.mean((d <= fake_r[:, None]).any(0)))
    return precision, recall


class Judge:
    """An independent classifier of real digits and the measurements made with it.

    A one-hidden-layer MLP (scikit-learn, 64 ReLU units, L-BFGS) learns the training half; its
    accuracy on the held-out half is `accuracy`. Its hidden layer is the feature space of the
    Frechet distance. Build it once (under a second) and `measure` any number of image sets.
    """

    def __init__(self, digits: Digits | None = None) -> None:
        from sklearn.neural_network import MLPClassifier

        self.digits = digits if digits is not None else load_digits_split()
        d = self.digits
        with warnings.catch_warnings():
            # A ConvergenceWarning would name a file path in a notebook's output; accuracy is what counts.
            warnings.simplefilter("ignore")
            self.model = MLPClassifier((64,), solver="lbfgs", alpha=0.1, max_iter=1000, random_state=0)
            self.model.fit(self._flat(d.train), d.train_labels)
        self.accuracy = float(self.model.score(self._flat(d.held_out), d.held_out_labels))
        self.train_features = self.features(d.train)
        self.train_fit = gaussian_fit(self.train_features)
        self.n_ref = len(d.held_out)
        # The floor: the held-out half against the training half, the same sizes the generated
        # images are compared at (an FD between two samples is positive even for one distribution).
        self.frechet_floor = frechet_distance(*gaussian_fit(self.features(d.held_out)), *self.train_fit)
        # Precision and recall at the sizes generated images are measured at, real against real: what a
        # perfect generator would score (below 1, since balls around a finite sample miss some points).
        self.precision_floor, self.recall_floor = precision_recall(self.train_features, self.features(d.held_out))
        self.real_nn = nearest_distances(d.held_out, d.train)
        self.real_shares = np.bincount(d.held_out_labels, minlength=N_CLASSES) / len(d.held_out_labels)

    @staticmethod
    def _flat(images: np.ndarray) -> np.ndarray:
        return np.asarray(images, np.float64).reshape(len(images), -1) / PIXEL_MAX

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The classifier's digit for each image (0-16 scale)."""
        return self.model.predict(self._flat(images))

    def features(self, images: np.ndarray) -> np.ndarray:
        """The classifier's hidden-layer activations (N, 64) for images on the 0-16 scale."""
        h = self._flat(images) @ self.model.coefs_[0] + self.model.intercepts_[0]
        return np.maximum(h, 0.0)

    def frechet(self, images: np.ndarray) -> float:
        """Frechet distance of (the first n_ref of) `images` to the training half, in feature space."""
        images = np.asarray(images)
        if len(images) < self.n_ref:
            raise ValueError(f"the Frechet distance needs at least {self.n_ref} images (the held-out size), "
                             f"got {len(images)}")
        return frechet_distance(*gaussian_fit(self.features(images[:self.n_ref])), *self.train_fit)

    def precision_recall(self, images: np.ndarray) -> tuple[float, float]:
        """Precision and recall of (the first n_ref of) `images` against the training half, in feature space."""
        images = np.asarray(images)
        if len(images) < self.n_ref:
            raise ValueError(f"precision and recall need at least {self.n_ref} images (the held-out size), "
                             f"got {len(images)}")
        return precision_recall(self.train_features, self.features(images[:self.n_ref]))

    def class_accuracy(self, images: np.ndarray, labels: np.ndarray) -> list[float]:
        """For each class, the share of the digits asked for as that class that the classifier reads as it.

        `labels` are the classes a conditional G was asked for; a class never asked for gets NaN.
        """
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(f"need one label per image: {len(images)} images, labels of shape {labels.shape}")
        right = self.predict(np.asarray(images)) == labels
        return [float(right[labels == c].mean()) if (labels == c).any() else math.nan for c in range(N_CLASSES)]

    def measure(self, images: np.ndarray) -> dict[str, Any]:
        """Class shares and coverage, Frechet distance and floor, nearest-neighbour distances.

        `images` (N, 8, 8) on the 0-16 scale, N >= the held-out size. nn_ratio is the median distance
        from a generated digit to its nearest training digit over the same median for held-out real
        digits: about 1 for new digits as varied as real ones, well below 1 for copies, above 1 for
        images unlike any digit. `copies` is the share of generated digits closer to a training digit
        than the 1st percentile of the real distances.
        """
        images = np.asarray(images, np.float64)
        if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
            raise ValueError(f"images must have shape (N, {SIDE}, {SIDE}), got {images.shape}")
        if not np.isfinite(images).all():
            raise ValueError("images contain NaN or inf")
        shares = np.bincount(self.predict(images), minlength=N_CLASSES) / len(images)
        nn_gen = nearest_distances(images, self.digits.train)
        real_median = float(np.median(self.real_nn))
        return {
            "n": int(len(images)),
            "class_shares": [round(float(s), 4) for s in shares],
            "classes_covered": int((shares >= COVERAGE_SHARE).sum()),
            "frechet": self.frechet(images),
            "frechet_floor": self.frechet_floor,
            **dict(zip(("precision", "recall"), self.precision_recall(images))),
            "precision_floor": self.precision_floor,
            "recall_floor": self.recall_floor,
            "nn_median": float(np.median(nn_gen)),
            "nn_real_median": real_median,
            "nn_ratio": float(np.median(nn_gen)) / real_median,
            "copies": float(np.mean(nn_gen < np.percentile(self.real_nn, 1))),
            "classifier_accuracy": self.accuracy,
        }


@lru_cache(maxsize=1)
def default_judge() -> Judge:
    """The Judge on the default split (built once per process)."""
    return Judge()


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DigitsConfig:
    """Every setting of one digits run. Build it with `digits_config(loss, **changes)`.

    A round is `d_steps` critic (or D) updates on fresh batches, then one G update; both networks use
    `optimizer` with their own learning rate. `critic_warmup` = (n_steps, first_g, every) is the WGAN
    authors' critic schedule (their main.py: `Diters = 100 if gen_iterations < 25 or gen_iterations %
    500 == 0`): round r (0-based, so r G updates are done before it) takes n_steps critic steps
    instead of `d_steps` when r < first_g or (every > 0 and r % every == 0) (the authors' reason: G
    should learn from a critic near its optimum, at the start and now and then). n_steps 0 turns it
    off, every 0 leaves out the periodic warm-ups; (0, 0, 0), the default, is none. See
    `d_steps_at`. `beta1` and `beta2` are Adam's; with RMSProp `beta2` is its smoothing constant
    (torch's alpha) and `beta1` is unused. Both learning rates fall geometrically to `lr_decay` times
    their value by the last round. `clip` applies to loss 'wgan' only, `gp_weight` and `gp_side` to
    'wgan-gp' only. `critic_norm` is the critic's normalisation (see Critic): the article's "batch"
    for bce and wgan, a per-image "layer" norm for wgan-gp. The defaults are digits_config('wgan-gp').

    Stabilisers and variants: `d_penalty` "r1" adds R1 (Mescheder et al. 2018, weight `r1_gamma`) to
    D's loss, which needs each image's own gradient (no "batch" norm); `spectral_norm` normalises the
    critic's convolutions (Miyato et al. 2018; see spectral_normalise_); `conditional` gives G and D
    the class label. Loss "sliced" has no D at all: each round is one G update that lowers the sliced
    W1 (`directions` random directions) between a batch of generated and a batch of real digits, so
    the D settings are unused and no D update is counted.
    """

    loss: str = "wgan-gp"
    seed: int = 0
    rounds: int = 800
    d_steps: int = 5
    critic_warmup: tuple[int, int, int] = (0, 0, 0)  # (n_steps, first_g, every); see the docstring
    batch_size: int = 64
    nz: int = 32
    ngf: int = 32
    ndf: int = 32
    critic_norm: str = "layer"
    optimizer: str = "adam"
    d_lr: float = 3e-4
    g_lr: float = 3e-4
    beta1: float = 0.5
    beta2: float = 0.9
    clip: float = 0.01
    gp_weight: float = 10.0
    gp_side: str = "two-sided"
    lr_decay: float = 0.1  # both learning rates fall geometrically to this factor by the last round
    eval_every: int = 40
    grid: int = 64  # digits kept at every evaluation (same noise each time), for figures
    d_penalty: str = "none"  # "r1": gamma/2 times the squared gradient norm of D at real digits
    r1_gamma: float = 1.0
    spectral_norm: bool = False  # divide each critic convolution by its largest singular value
    conditional: bool = False  # G and D are given the class label (a conditional GAN)
    directions: int = 256  # loss "sliced": random directions per G update

    def __post_init__(self) -> None:
        def bad(name: str, allowed: str) -> None:
            raise ValueError(f"{name}={getattr(self, name)!r} is not allowed: {allowed}")

        _coerce_fields(self)  # numpy scalars (from sliders, arrays, JSON) as the Python values they hold

        if self.loss not in IMAGE_LOSSES:
            bad("loss", "choose one of " + ", ".join(IMAGE_LOSSES))
        if self.optimizer not in IMAGE_OPTIMIZERS:
            bad("optimizer", "choose one of " + ", ".join(IMAGE_OPTIMIZERS))
        if self.gp_side not in GP_SIDES:
            bad("gp_side", "choose one of " + ", ".join(GP_SIDES))
        if self.critic_norm not in CRITIC_NORMS:
            bad("critic_norm", "choose one of " + ", ".join(CRITIC_NORMS))
        if self.d_penalty not in D_PENALTIES:
            bad("d_penalty", "choose one of " + ", ".join(D_PENALTIES))
        for name in ("spectral_norm", "conditional"):
            if not isinstance(getattr(self, name), bool):
                bad(name, "True or False")
        if self.loss == "sliced":
            for name, off in (("d_penalty", "none"), ("spectral_norm", False), ("conditional", False)):
                if getattr(self, name) != off:
                    bad(name, "loss 'sliced' trains no D (or critic) to penalise, normalise or condition; "
                        "use bce, wgan or wgan-gp")
        if self.d_penalty == "r1" and self.critic_norm == "batch":
            bad("critic_norm", "R1 needs each image's own gradient, which a batch-normalised score does not have: "
                "use 'layer' or 'none'")
        for name, lo, hi in (("seed", 0, MAX_SEED), ("rounds", 1, MAX_ROUNDS), ("d_steps", 1, 100),
                             ("batch_size", 2, 4096), ("nz", 1, 1024), ("ngf", 1, 1024), ("ndf", 1, 1024),
                             ("eval_every", 1, MAX_ROUNDS), ("grid", 1, 1024), ("directions", 1, 4096)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                bad(name, f"an integer from {lo} to {hi}")
        warm = self.critic_warmup
        if isinstance(warm, list):  # a config read back from JSON has a list here
            warm = tuple(warm)
            object.__setattr__(self, "critic_warmup", warm)  # frozen: the one way to normalise a field
        if (not isinstance(warm, tuple) or len(warm) != 3
                or any(isinstance(v, bool) or not isinstance(v, int) for v in warm)
                or not (0 <= warm[0] <= MAX_WARMUP_STEPS and all(0 <= v <= MAX_ROUNDS for v in warm[1:]))):
            bad("critic_warmup", f"three integers (n_steps, first_g, every), n_steps from 0 to {MAX_WARMUP_STEPS}, "
                f"first_g and every from 0 to {MAX_ROUNDS}; (0, 0, 0) for none")
        for name, lo, hi in (("d_lr", 0, 1), ("g_lr", 0, 1), ("clip", 0, 100), ("gp_weight", 0, 1e4),
                             ("lr_decay", 0, 1), ("r1_gamma", 0, 1e4)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and lo < v <= hi):
                bad(name, f"a finite number in ({lo:g}, {hi:g}]")
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                bad(name, "a number in [0, 1)")

    def d_steps_at(self, round_: int) -> int:
        """Critic (or D) steps of round `round_` (0-based): `d_steps`, or the warm-up's n_steps."""
        n_steps, first_g, every = self.critic_warmup
        if n_steps and (round_ < first_g or (every and round_ % every == 0)):
            return n_steps
        return self.d_steps

    def replace(self, **changes: Any) -> DigitsConfig:
        """A copy with some fields changed (validated again)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"{', '.join(unknown)} is not a DigitsConfig field (see help(ganlib.images.DigitsConfig))")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON)."""
        return dataclasses.asdict(self)


# The three losses' defaults. bce and wgan-gp get 4,000 updates of D (or the critic) on batches of 64
# real digits; wgan's critic schedule adds 95 steps in each of its 26 warm-up rounds (rounds 0-24 and
# 500), 6,470 in all. A run's real counts and CPU time are in its history (g_updates, d_updates,
# cpu_seconds), so verdicts can compare the losses at equal cost.
# bce: the vanilla DCGAN (Adam 2e-4, beta1 0.5, one D step per G step, the non-saturating G loss).
# wgan: the article's setting (RMSProp 5e-5, every critic parameter clipped to 0.01, 5 critic steps)
# with its authors' critic schedule: 100 critic steps in each of the first 25 rounds and every 500th.
# Without the schedule (critic_warmup=(0, 0, 0)) it is not the article's setting: the critic then
# starts far from its optimum and its estimate is a poorer W1 estimate early on.
# wgan-gp: Gulrajani et al.'s recipe (penalty 10, Adam with betas (0.5, 0.9), 5 critic steps, and a
# critic with layer normalisation in place of BatchNorm, their section 4: the penalty needs each
# image's own gradient, which a batch-normalised score does not have) with the learning rate raised
# from 1e-4 to 3e-4 and decayed to a tenth by the last round: at 1e-4 the Frechet distance was still
# 11 (of 30 at the start) after 300 rounds, at 3e-4 it is below 1 by round 800.
LOSS_DEFAULTS: dict[str, dict[str, Any]] = {
    "bce": dict(rounds=4000, d_steps=1, critic_warmup=(0, 0, 0), optimizer="adam", d_lr=2e-4, g_lr=2e-4,
                beta1=0.5, beta2=0.999, lr_decay=1.0, eval_every=200, critic_norm="batch"),
    "wgan": dict(rounds=800, d_steps=5, critic_warmup=(100, 25, 500), optimizer="rmsprop", d_lr=5e-5, g_lr=5e-5,
                 beta1=0.0, beta2=0.99, clip=0.01, lr_decay=1.0, eval_every=40, critic_norm="batch"),
    "wgan-gp": dict(rounds=800, d_steps=5, critic_warmup=(0, 0, 0), optimizer="adam", d_lr=3e-4, g_lr=3e-4,
                    beta1=0.5, beta2=0.9, gp_weight=10.0, lr_decay=0.1, eval_every=40, critic_norm="layer"),
    "sliced": dict(rounds=4000, d_steps=1, critic_warmup=(0, 0, 0), optimizer="adam", d_lr=1e-3, g_lr=1e-3,
                   beta1=0.5, beta2=0.999, lr_decay=0.1, eval_every=200, critic_norm="none", batch_size=256,
                   directions=256),
}


def digits_config(loss: str = "wgan-gp", **changes: Any) -> DigitsConfig:
    """The default config of `loss` (see LOSS_DEFAULTS), with `changes` applied.

    Unless `changes` names a critic_norm, spectral normalisation takes the critic without one ("none",
    as Miyato et al.'s critics have no other normalisation) and R1 a per-image "layer" norm in place of
    BatchNorm (R1 needs each image's own gradient).
    """
    if loss not in LOSS_DEFAULTS:
        raise ValueError(f"loss={loss!r} is not allowed: choose one of {', '.join(IMAGE_LOSSES)}")
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(DigitsConfig)})
    if unknown:
        raise ValueError(f"{', '.join(unknown)} is not a DigitsConfig field (see help(ganlib.images.DigitsConfig))")
    settings = {**LOSS_DEFAULTS[loss], **changes}
    if "critic_norm" not in changes:
        if changes.get("spectral_norm"):
            settings["critic_norm"] = "none"
        elif changes.get("d_penalty") == "r1" and settings["critic_norm"] == "batch":
            settings["critic_norm"] = "layer"
    return DigitsConfig(loss=loss, **settings)


@dataclass
class DigitsHistory:
    """Per round: D's loss, G's loss and the critic's estimate (mean score on real minus on
    generated digits for WGAN; log 4 minus D's loss for BCE, a Jensen-Shannon estimate), each
    averaged over the round's critic steps (a warm-up round's 100 as well as an ordinary round's 5).
    Every `eval_every` rounds, at `eval_round`: the Frechet distance, classes covered and the `grid`
    digits drawn from fixed noise (`snapshots`, 0-16 scale), and the budget spent so far: G updates,
    D (critic) optimizer steps, warm-up steps included, and the process CPU seconds of the training
    rounds (evaluations and the progress callback left out, so a run that is measured or drawn more
    often does not look dearer).
    """

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    estimate: list[float] = field(default_factory=list)
    eval_round: list[int] = field(default_factory=list)
    frechet: list[float] = field(default_factory=list)
    covered: list[int] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)
    g_updates: list[int] = field(default_factory=list)  # at each evaluation, like eval_round
    d_updates: list[int] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)

    def budget(self, axis: str | None = None) -> Any:
        """The budget record at each evaluation, as `ganlib.train.History.budget` gives it for 1-D runs.

        With an axis ("round", "g_updates", "d_updates" or "cpu_seconds") its values as a numpy array;
        without one, all four as lists (the command line's JSON record, CPU seconds to the millisecond).
        """
        record = {"round": list(self.eval_round), "g_updates": list(self.g_updates),
                  "d_updates": list(self.d_updates), "cpu_seconds": list(self.cpu_seconds)}
        if axis is None:
            return {**record, "cpu_seconds": [round(v, 3) for v in self.cpu_seconds]}
        if axis not in record:
            raise ValueError(f"axis={axis!r} is not allowed: choose one of {', '.join(record)}")
        return np.asarray(record[axis])

    def estimate_at_evals(self, window: int) -> np.ndarray:
        """The critic's estimate averaged over the `window` rounds before each evaluation (NaN at 0).

        Each round counts once, whatever its number of critic steps: a warm-up round's value is
        already the mean of its own (say 100) steps' estimates, as an ordinary round's is of its 5.
        """
        est = np.asarray(self.estimate, np.float64)
        out = []
        for r in self.eval_round:
            out.append(float(est[max(0, r - window):r].mean()) if r > 0 else math.nan)
        return np.asarray(out)


def cycle_labels(n: int) -> torch.Tensor:
    """Class labels 0, 1, ..., 9, 0, 1, ... for n digits: every class equally often."""
    return torch.arange(n) % N_CLASSES


def _generators(seed: int) -> dict[str, torch.Generator]:
    # stream_seed: torch keeps only 32 bits of a seed, so the streams must differ in those (see ganlib.config).
    return {s: torch.Generator().manual_seed(stream_seed(seed, i)) for i, s in enumerate(_STREAMS)}


class DigitsTrainer:
    """One run of the article's G and critic on the training half of the digits.

    `step(n)` advances n rounds (so a notebook can draw between chunks), evaluating every
    `eval_every` rounds; `sample(n)` draws n digits on the 0-16 scale. A NaN or inf loss stops the
    run with `diverged` set to a one-line reason. `d_updates` counts the critic's optimizer steps so
    far (the warm-up's included) and `cpu_seconds` the process CPU time of the training rounds.
    `threads`: the CPU threads it trains on (default GAN_COURSE_THREADS, else 1; see ganlib.threads).
    """

    def __init__(self, config: DigitsConfig, judge: Judge | None = None, threads: int | None = None) -> None:
        self.threads = course_threads(threads)
        with using_threads(self.threads):
            self._build(config, judge)

    def _build(self, config: DigitsConfig, judge: Judge | None) -> None:
        self.config = c = config
        self.judge = judge if judge is not None else default_judge()
        self.rng = _generators(c.seed)
        n_classes = N_CLASSES if c.conditional else 0
        self.G = Generator(c.nz, c.ngf, n_classes)
        self.D = Critic(c.ndf, c.critic_norm, n_classes)
        weights_init_(self.G, self.rng["g_init"])
        weights_init_(self.D, self.rng["d_init"])
        if c.spectral_norm:
            spectral_normalise_(self.D, c.seed)
        self.real = torch.tensor(to_unit(self.judge.digits.train), dtype=torch.float32).unsqueeze(1)
        self.labels = torch.tensor(np.array(self.judge.digits.train_labels), dtype=torch.long)
        # Channels-last tensors let oneDNN skip a layout reorder of every convolution's input and weights:
        # a critic step costs about a fifth less on one CPU thread (same maths, other rounding).
        self.G.to(memory_format=torch.channels_last)
        self.D.to(memory_format=torch.channels_last)
        self.real = self.real.contiguous(memory_format=torch.channels_last)
        g_params, d_params = list(self.G.parameters()), list(self.D.parameters())
        self.opt_g = BatchedOptimizer(g_params, c.optimizer, c.g_lr, c.beta1, c.beta2)
        self.opt_d = BatchedOptimizer(d_params, c.optimizer, c.d_lr, c.beta1, c.beta2)
        self.eval_z = torch.randn(self.judge.n_ref, c.nz, generator=self.rng["eval"])
        # A conditional G is evaluated on the classes in turn (0, 1, ..., 9, 0, ...), as real digits come.
        self.eval_labels = cycle_labels(self.judge.n_ref) if c.conditional else None
        self.round = 0
        self.d_updates = 0
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.diverged: str | None = None
        self.history = DigitsHistory()
        self._evaluate()

    # --- one round ---
    def _noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.nz, generator=self.rng["data"])

    def _critic_step(self) -> tuple[float, float]:
        c = self.config
        index = torch.randint(len(self.real), (c.batch_size,), generator=self.rng["data"])
        real = self.real[index]
        # A conditional G draws the same classes as the real batch, so D cannot tell them apart by class shares.
        labels = self.labels[index] if c.conditional else None
        with torch.no_grad():  # G's output is detached: this step trains the critic only
            fake = self.G(self._noise(c.batch_size), labels)
        # The losses of ganlib.losses take (runs, N, 1) scores: here one run.
        if c.d_penalty == "r1":
            # R1 differentiates D's score with respect to each real image: the flattened (1, N, 64) input.
            real_in = real.reshape(1, -1, SIDE * SIDE).detach().requires_grad_(True)
            s_real = self.D(real_in, labels).view(1, -1, 1)
        else:
            s_real = self.D(real, labels).view(1, -1, 1)
        s_fake = self.D(fake, labels).view(1, -1, 1)
        if c.loss == "bce":
            loss = bce_d_loss(s_real, s_fake)
            estimate = math.log(4.0) - float(loss.detach())
        else:
            loss = wgan_critic_loss(s_real, s_fake)
            estimate = -float(loss.detach())
            if c.loss == "wgan-gp":
                eps = torch.rand(1, c.batch_size, 1, generator=self.rng["data"])
                # The penalty of ganlib.losses works on (runs, N, features) inputs: one run of
                # N flattened images, whose gradient norm is then taken over all 64 pixels.
                loss = loss + c.gp_weight * gradient_penalty(
                    lambda x: self._flat_critic(x, labels), real.reshape(1, -1, SIDE * SIDE),
                    fake.reshape(1, -1, SIDE * SIDE), eps, one_sided=c.gp_side == "one-sided")
        if c.d_penalty == "r1":
            loss = loss + r1_penalty(s_real, real_in, c.r1_gamma)
        params = self.opt_d.params
        grads = torch.autograd.grad(loss.sum(), params)
        self.opt_d.step(grads)
        if c.loss == "wgan":
            clip_weights_(self.D, c.clip)
        return float(loss.detach()), estimate

    def _flat_critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        # (1, N, 64) flattened images -> (1, N, 1) scores, the shapes ganlib.losses works with
        return self.D(x, labels).view(1, -1, 1)

    def _g_step(self) -> float:
        c = self.config
        noise = self._noise(c.batch_size)
        # Classes in the training data's proportions: labels of random training digits.
        labels = (self.labels[torch.randint(len(self.labels), (c.batch_size,), generator=self.rng["data"])]
                  if c.conditional else None)
        scores = self.D(self.G(noise, labels), labels).view(1, -1, 1)
        loss = bce_g_loss(scores) if c.loss == "bce" else wgan_g_loss(scores)
        grads = torch.autograd.grad(loss.sum(), self.opt_g.params)  # only G's parameters move
        self.opt_g.step(grads)
        return float(loss.detach())

    def _sliced_step(self) -> float:
        # No D: G lowers the sliced W1 between its batch and a real batch along fresh random directions.
        c = self.config
        fake = self.G(self._noise(c.batch_size)).reshape(c.batch_size, -1)
        real = self.real[torch.randint(len(self.real), (c.batch_size,), generator=self.rng["data"])]
        directions = random_directions(c.directions, SIDE * SIDE, self.rng["data"])
        loss = sliced_wasserstein(fake, real.reshape(c.batch_size, -1), directions)
        grads = torch.autograd.grad(loss, self.opt_g.params)
        self.opt_g.step(grads)
        return float(loss.detach())

    @on_own_threads
    def step(self, rounds: int, progress: Callable[[DigitsTrainer], None] | None = None) -> None:
        """Advance `rounds` rounds (fewer if the run diverges), calling `progress` after each evaluation."""
        rounds = _whole("rounds", rounds, 0, MAX_ROUNDS)
        t0 = time.perf_counter()
        for _ in range(rounds):
            if self.diverged is not None:
                break
            cpu0 = time.process_time()
            if self.config.lr_decay != 1.0:
                scale = self.config.lr_decay ** (self.round / max(1, self.config.rounds - 1))
                self.opt_d.scale = self.opt_g.scale = scale
            if self.config.loss == "sliced":
                # No D: its loss, the estimate and G's loss are all the batch's sliced distance.
                g_loss = self._sliced_step()
                n_critic, d_losses, estimates = 0, (g_loss,), (g_loss,)
            else:
                n_critic = self.config.d_steps_at(self.round)  # the round's index = G updates done so far
                d_losses, estimates = zip(*(self._critic_step() for _ in range(n_critic)))
                g_loss = self._g_step()
            self.d_updates += n_critic
            self.round += 1
            h = self.history
            h.d_loss.append(float(np.mean(d_losses)))
            h.estimate.append(float(np.mean(estimates)))
            h.g_loss.append(g_loss)
            self.cpu_seconds += time.process_time() - cpu0
            if not all(math.isfinite(v) for v in (h.d_loss[-1], g_loss)):
                self.diverged = f"a loss became NaN or inf at round {self.round}"
                break
            if self.round % self.config.eval_every == 0:
                self._evaluate()
                if progress is not None:
                    progress(self)
        self.seconds += time.perf_counter() - t0

    @torch.no_grad()
    def _generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> np.ndarray:
        # Train-mode BatchNorm, in batches of the training size: the statistics G was trained with.
        # Chunks of equal size (at least the batch size, unless z is smaller), so no chunk's statistics are
        # taken over a handful of images.
        chunks = max(1, len(z) // self.config.batch_size)
        if labels is None:
            out = [self.G(part) for part in torch.tensor_split(z, chunks)]
        else:
            out = [self.G(part, lab) for part, lab in zip(torch.tensor_split(z, chunks),
                                                          torch.tensor_split(labels, chunks))]
        return from_unit(torch.cat(out).squeeze(1).double().numpy())

    def _evaluate(self) -> None:
        images = self._generate(self.eval_z, self.eval_labels)
        h = self.history
        h.eval_round.append(self.round)
        h.g_updates.append(self.round)  # one G update per round
        h.d_updates.append(self.d_updates)
        h.cpu_seconds.append(self.cpu_seconds)
        if np.isfinite(images).all():
            h.frechet.append(self.judge.frechet(images))
            shares = np.bincount(self.judge.predict(images), minlength=N_CLASSES) / len(images)
            h.covered.append(int((shares >= COVERAGE_SHARE).sum()))
        else:
            h.frechet.append(math.nan)
            h.covered.append(0)
        h.snapshots.append(images[:self.config.grid].astype(np.float32))

    def _labels_for(self, n: int, labels: Any) -> torch.Tensor | None:
        if not self.config.conditional:
            if labels is not None:
                raise ValueError("labels are for a conditional run (conditional=True); this G draws digits unasked")
            return None
        if labels is None:
            return cycle_labels(n)
        wanted = np.asarray(labels)
        if wanted.dtype.kind not in "iu" or wanted.ndim > 1 or not ((wanted >= 0) & (wanted < N_CLASSES)).all():
            raise ValueError(f"labels must be whole numbers from 0 to {N_CLASSES - 1}: one for every digit, or a "
                             f"list of {n}")
        if wanted.ndim == 1 and len(wanted) != n:
            raise ValueError(f"labels must be one whole number, or a list of {n} (one per digit); got {len(wanted)}")
        return torch.as_tensor(np.broadcast_to(wanted, (n,)).copy()).long()

    @on_own_threads
    def sample(self, n: int, labels: Any = None) -> np.ndarray:
        """n generated digits (n, 8, 8) on the 0-16 scale, from the run's sampling stream.

        A conditional run draws the classes `labels` asks for (one class for all, or one per digit),
        by default 0, 1, ..., 9, 0, ... in turn (see cycle_labels).
        """
        n = _whole("n", n, 1, MAX_SAMPLES)
        wanted = self._labels_for(n, labels)
        return self._generate(torch.randn(n, self.config.nz, generator=self.rng["sample"]), wanted)

    @on_own_threads
    def interpolate(self, steps: int = 8, label: int | None = None) -> np.ndarray:
        """Digits along the straight line between two noise codes z0 and z1: (steps, 8, 8), 0-16 scale.

        z0 and z1 come from the sampling stream; a conditional run keeps one `label` (default 0) along
        the line. G's BatchNorm normalises with the statistics of its batch, so the strip is drawn
        inside a batch of the training size filled with other codes (a batch of the strip alone would
        shift every digit by its own statistics).
        """
        steps = _whole("steps", steps, 2, 64)
        if label is not None and (isinstance(label, bool) or not isinstance(label, numbers.Integral)):
            raise ValueError(f"label={label!r} is not allowed: one whole number from 0 to {N_CLASSES - 1}")
        c = self.config
        z0, z1 = torch.randn(2, c.nz, generator=self.rng["sample"])
        t = torch.linspace(0.0, 1.0, steps)[:, None]
        strip = z0 + t * (z1 - z0)
        filler = torch.randn(max(c.batch_size, steps) - steps, c.nz, generator=self.rng["sample"])
        z = torch.cat([strip, filler])
        labels = None
        if c.conditional:
            labels = cycle_labels(len(z))
            labels[:steps] = 0 if label is None else self._labels_for(1, label)[0]
        elif label is not None:
            self._labels_for(1, label)  # raises the one-line error
        return self._generate(z, labels)[:steps]


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------

def tile_digits(images: np.ndarray, cols: int = 8) -> np.ndarray:
    """One 2-D mosaic of digits (0-16 scale), `cols` per row, one blank pixel between them."""
    images = np.asarray(images, np.float64).reshape(-1, SIDE, SIDE)
    rows = -(-len(images) // cols)
    canvas = np.zeros((rows * (SIDE + 1) + 1, cols * (SIDE + 1) + 1))
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[1 + r * (SIDE + 1):(r + 1) * (SIDE + 1), 1 + c * (SIDE + 1):(c + 1) * (SIDE + 1)] = img
    return canvas


def plot_digits(images: np.ndarray, ax: Any, cols: int = 8, title: str | None = None) -> None:
    """Draw digits as a mosaic on `ax`, dark ink on white, on the data set's fixed 0-16 scale."""
    ax.imshow(tile_digits(images, cols), cmap=IMAGE_CMAP, vmin=0, vmax=PIXEL_MAX, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def plot_critic_and_frechet(history: DigitsHistory, window: int, ax: Any, title: str | None = None,
                            label: str = "critic's estimate", mark: int | None = None,
                            floor: float | None = None, d_steps: int | None = None) -> Any:
    """The Frechet distance (log scale, left) and the critic's estimate (right) over one run.

    Returns the right-hand axis. `mark` draws a vertical line at that evaluation ("checkpoint"),
    `floor` a dashed line at the real-against-real Frechet floor. With `d_steps` the x-axis counts D
    updates, so runs with different critic steps line up; without it, rounds. The D updates are the
    history's recorded counts (which include a critic warm-up's extra steps) where it has them, and
    `eval_round * d_steps` only for a history without the record. A small legend names every line.
    """
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    if d_steps is None:
        x = np.asarray(history.eval_round)
    elif len(history.d_updates) == len(history.eval_round):
        x = np.asarray(history.d_updates)
    else:
        x = np.asarray(history.eval_round) * d_steps
    ax.plot(x, history.frechet, color=COLORS["target"], lw=2, label="Frechet distance")
    if floor is not None:
        ax.axhline(floor, color=COLORS["target"], ls="--", lw=1, label="Frechet floor (real vs real)")
    ax.set_yscale("log")
    # ticks at 1, 2, 5 x 10^k written plainly (0.5, 1, 2, 5, 10, 20) rather than as powers of ten
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("round" if d_steps is None else "D updates")
    ax.set_ylabel("Frechet distance", color=COLORS["target"])
    if mark is not None:
        ax.axvline(x[mark], color=COLORS["reference"], ls=":", lw=1, label="checkpoint")
    twin = ax.twinx()
    twin.plot(x[1:], history.estimate_at_evals(window)[1:], color=COLORS["D"], lw=1.5, label=label)
    twin.set_ylabel(label, color=COLORS["D"])
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    twin.legend(handles=handles, fontsize=7, loc="upper right", framealpha=0.8)
    if title:
        ax.set_title(title, fontsize=10)
    return twin


# ----------------------------------------------------------------------------------------------
# Whole runs, the critic against quality, and the command line
# ----------------------------------------------------------------------------------------------

def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Linear correlation of two equal-length arrays (NaN if either is constant or too short)."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1, tied values sharing their average rank."""
    x = np.ravel(x).astype(np.float64)
    r = np.empty(len(x))
    r[np.argsort(x, kind="stable")] = np.arange(len(x), dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return np.bincount(inverse, weights=r)[inverse] / counts[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation: the linear correlation of the ranks."""
    return pearson(_ranks(a), _ranks(b))


@dataclass
class DigitsResult:
    """A finished run: its trainer (G, critic, history), `n` generated digits and their measurements."""

    trainer: DigitsTrainer
    images: np.ndarray  # (n, 8, 8) on the 0-16 scale
    metrics: dict[str, Any]
    critic_vs_frechet: dict[str, float]

    @property
    def config(self) -> DigitsConfig:
        """The run's config."""
        return self.trainer.config


def critic_vs_frechet(history: DigitsHistory, window: int) -> dict[str, float]:
    """How the critic's estimate moves with the Frechet distance over one run's evaluations.

    The estimate is averaged over the `window` rounds before each evaluation (one batch is noisy),
    each round counting once: a critic warm-up round enters as the mean over its own (100) critic
    steps, like any round (see DigitsHistory.estimate_at_evals). Round 0 has no estimate and is left
    out. Positive correlations mean the article's claim holds: the estimate falls as the images get closer to the data.
    """
    est = history.estimate_at_evals(window)[1:]
    fd = np.asarray(history.frechet[1:], np.float64)
    ok = np.isfinite(est) & np.isfinite(fd)
    est, fd, rounds = est[ok], fd[ok], np.asarray(history.eval_round[1:])[ok]
    # From the estimate's highest point on: early on the critic is still learning to tell the two
    # apart, and its estimate rises while G already improves.
    peak = int(np.argmax(est)) if len(est) else 0
    return {"pearson": pearson(est, fd), "spearman": spearman(est, fd), "points": int(len(est)),
            "peak_round": int(rounds[peak]) if len(est) else 0,
            "spearman_after_peak": spearman(est[peak:], fd[peak:])}


def train_digits(config: DigitsConfig, n: int = 2000, progress: Callable[[DigitsTrainer], None] | None = None,
                 judge: Judge | None = None, rounds: int | None = None, threads: int | None = None) -> DigitsResult:
    """Train `config`, draw `n` digits and measure them.

    `rounds` stops the run early: the first `rounds` of `config.rounds`, with the learning-rate
    schedule of the whole run, so the numbers are those of the full run at that round. `threads`:
    the CPU threads it trains on (default GAN_COURSE_THREADS, else 1; see ganlib.threads).
    """
    judge = judge if judge is not None else default_judge()
    rounds = config.rounds if rounds is None else rounds
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= config.rounds:
        raise ValueError(f"rounds={rounds!r} is not allowed: a whole number from 1 to config.rounds ({config.rounds})")
    least = max(MIN_SAMPLES, judge.n_ref)
    if isinstance(n, bool) or not isinstance(n, int) or not least <= n <= MAX_SAMPLES:
        raise ValueError(f"n={n!r} is not allowed: a whole number from {least} to {MAX_SAMPLES}")
    trainer = DigitsTrainer(config, judge, threads=threads)
    trainer.step(rounds, progress)
    if trainer.diverged is not None:
        raise ValueError(f"the run diverged ({trainer.diverged}); try smaller learning rates")
    images = trainer.sample(n)
    metrics = judge.measure(images)
    if config.conditional:
        # sample() asked for the classes in turn (see cycle_labels)
        metrics["class_accuracy"] = judge.class_accuracy(images, cycle_labels(n).numpy())
    return DigitsResult(trainer, images, metrics, critic_vs_frechet(trainer.history, config.eval_every))


def _warmup_flag(text: str) -> tuple[int, ...]:
    """`--critic-warmup N,FIRST,EVERY` as a tuple of three ints (the ranges are DigitsConfig's to check)."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three comma-separated integers N,FIRST,EVERY, got {text!r}")
    return values


def add_digits_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `digits` on the subparsers `sub` of `python -m ganlib`; returns its parser."""
    p = sub.add_parser("digits", help="train the WGAN article's DCGAN-style G and critic on 8x8 digits",
                       description="Train the article's convolutional G and critic on scikit-learn's 8x8 digits "
                                   "and measure the result with an independent classifier.")
    p.add_argument("--loss", choices=IMAGE_LOSSES, default="wgan-gp", help="bce (vanilla DCGAN), wgan (clipping + "
                   "RMSProp, the article), wgan-gp (gradient penalty), sliced (no D: G lowers the sliced "
                   "Wasserstein distance to the real digits); default wgan-gp")
    p.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    p.add_argument("--rounds", type=int, default=None, help="G updates (default: the loss's budget)")
    p.add_argument("--d-steps", type=int, default=None, help="critic (D) updates per round")
    p.add_argument("--critic-warmup", type=_warmup_flag, default=None, metavar="N,FIRST,EVERY",
                   help="N critic steps instead of --d-steps in rounds before FIRST and every EVERY-th round "
                        "(the WGAN code's schedule, default 100,25,500 for wgan and 0,0,0, none, for the others; "
                        "0,0,0 turns it off)")
    p.add_argument("--lr", type=float, default=None, help="the learning rate of both networks")
    p.add_argument("--clip", type=float, default=None, help="wgan: clip critic weights to [-c, c]")
    p.add_argument("--gp-weight", type=float, default=None, help="wgan-gp: the penalty's weight")
    p.add_argument("--critic-norm", choices=CRITIC_NORMS, default=None, help="the critic's normalisation (default: "
                   "batch for bce and wgan, layer for wgan-gp)")
    p.add_argument("--d-penalty", choices=D_PENALTIES, default=None,
                   help="r1: add R1, gamma/2 times D's squared gradient norm at real digits (default none)")
    p.add_argument("--r1-gamma", type=float, default=None, help="R1's weight gamma, in (0, 1e4] (default 1)")
    p.add_argument("--spectral-norm", action="store_true", default=None,
                   help="spectrally normalise the critic's convolutions (its norm then defaults to none)")
    p.add_argument("--conditional", action="store_true", default=None,
                   help="give G and D the class label; reports the classifier's accuracy on each requested class")
    p.add_argument("--directions", type=int, default=None,
                   help="sliced: random directions per G update, 1 to 4096 (default 256)")
    p.add_argument("--n", type=int, default=2000, help="digits to generate and measure (default 2000)")
    p.add_argument("--samples", metavar="PATH", help="write the generated digits as an (n, 8, 8) .npy, 0-16 scale")
    p.add_argument("--json", metavar="PATH", help="write the config, the measurements and the history as JSON")
    add_threads_flag(p)
    return p


def _json_number(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _write_digits_outputs(args: argparse.Namespace, config: DigitsConfig, result: DigitsResult, cpu: float) -> None:
    """Write the digits command's --json and --samples, each atomically (see ganlib.outputs)."""
    m, corr, tr = result.metrics, result.critic_vs_frechet, result.trainer
    if args.json:
        h = tr.history
        payload = {
            "config": config.to_dict(),
            "train_seconds": round(tr.seconds, 3),
            "cpu_seconds": round(cpu, 3),
            "metrics": {k: _json_number(v) for k, v in m.items()},
            "critic_vs_frechet": {k: _json_number(v) for k, v in corr.items()},
            "history": {
                "eval_round": h.eval_round,
                "frechet": [_json_number(v) for v in h.frechet],
                "classes_covered": h.covered,
                "critic_estimate": [_json_number(float(v)) for v in h.estimate_at_evals(config.eval_every)],
            },
            # the same evaluations again, beside what was spent to reach each of them
            "frechet_at_evals": [_json_number(v) for v in h.frechet],
            "covered_at_evals": h.covered,
            "budget": h.budget(),
        }
        atomic_write(args.json, lambda fh: json.dump(payload, fh, indent=2), text=True)
    if args.samples:
        images = result.images.astype(np.float32)
        atomic_write(npy_path(args.samples), lambda fh: np.save(fh, images))


def _warn_unused_digits_flags(args: argparse.Namespace, config: DigitsConfig) -> None:
    """One line on stderr for each flag given that this run's loss or settings ignore."""
    unused = [("directions", config.loss != "sliced", "only --loss sliced draws directions"),
              ("r1_gamma", config.d_penalty != "r1", "it weighs R1, which needs --d-penalty r1"),
              ("clip", config.loss != "wgan", "only --loss wgan clips the critic"),
              ("gp_weight", config.loss != "wgan-gp", "only --loss wgan-gp has a gradient penalty")]
    unused += [(name, config.loss == "sliced", "--loss sliced trains no D")
               for name in ("d_steps", "critic_warmup", "critic_norm")]
    for name, ignored, why in unused:
        if ignored and getattr(args, name, None) is not None:
            print(f"ganlib: warning: --{name.replace('_', '-')} has no effect here: {why}", file=sys.stderr)


def run_digits(args: argparse.Namespace) -> int:
    """`python -m ganlib digits`: train, print the measurements, write .npy and JSON. Returns 0.

    A bad value raises ValueError with one line (the caller prints it and exits with status 2).
    """
    changes: dict[str, Any] = {"seed": args.seed}
    for name in ("rounds", "d_steps", "critic_warmup", "clip", "gp_weight", "critic_norm", "d_penalty", "r1_gamma",
                 "spectral_norm", "conditional", "directions"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.lr is not None:
        changes["d_lr"] = changes["g_lr"] = args.lr
    config = digits_config(args.loss, **changes)
    _warn_unused_digits_flags(args, config)
    # Before the judge is fitted and anything trains: a typo in a path must not cost the run.
    check_outputs([("--json", args.json, ""), ("--samples", args.samples, ".npy")])
    judge = default_judge()
    tty = sys.stderr.isatty()

    def progress(tr: DigitsTrainer) -> None:
        if tty:
            print(f"\rround {tr.round}/{config.rounds}, {tr.d_updates} D updates", end="", file=sys.stderr,
                  flush=True)

    cpu0 = time.process_time()
    result = train_digits(config, args.n, progress, judge, threads=getattr(args, "threads", None))
    cpu = time.process_time() - cpu0
    if tty:
        print(file=sys.stderr)
    m, corr, tr = result.metrics, result.critic_vs_frechet, result.trainer
    # The files first, then the report: a reader that stops early (`| head`) must not cost the results.
    _write_digits_outputs(args, config, result, cpu)
    d_name = "D" if config.loss == "bce" else "critic"
    steps = f"{config.d_steps} {d_name} step{'s' if config.d_steps > 1 else ''}"
    if config.loss == "sliced":
        steps = f"no D: {config.directions} random directions per G step"
    n_steps, first_g, every = config.critic_warmup
    if n_steps:
        when = " and ".join(w for w in (f"rounds < {first_g}" if first_g else "",
                                         f"every {every}th round" if every else "") if w)
        if when:
            steps += f", {n_steps} in {when}"
    # the real counts, from the trainer: with a warm-up, rounds x d_steps is not the number of D updates
    with printing():
        extras = "".join(f", {w}" for w, on in ((f"R1 gamma {config.r1_gamma:g}", config.d_penalty == "r1"),
                                                ("spectral norm", config.spectral_norm),
                                                ("conditional", config.conditional)) if on)
        print(f"loss {config.loss}, seed {config.seed}, critic norm {config.critic_norm}{extras}: "
              f"{tr.round} rounds ({steps}, "
              f"and 1 G step each): {tr.d_updates} {d_name} updates, {tr.round} G updates in {tr.seconds:.1f} s "
              f"({tr.cpu_seconds:.1f} CPU s)")
        print(f"classifier (held-out accuracy {judge.accuracy:.3f}) assigns the {m['n']} digits: "
              + " ".join(f"{c}:{s:.0%}" for c, s in enumerate(m["class_shares"])))
        print(f"classes with >= {COVERAGE_SHARE:.0%}: {m['classes_covered']}/{N_CLASSES}")
        print(f"Frechet distance {m['frechet']:.2f} (floor, held-out real against training: {m['frechet_floor']:.2f})")
        print(f"precision {m['precision']:.3f}, recall {m['recall']:.3f} (held-out real digits: "
              f"{m['precision_floor']:.3f}, {m['recall_floor']:.3f})")
        if "class_accuracy" in m:
            print("classifier agrees with the requested class: "
                  + " ".join(f"{c}:{a:.0%}" for c, a in enumerate(m["class_accuracy"])))
        print(f"nearest training digit: median {m['nn_median']:.1f} (held-out real digits: {m['nn_real_median']:.1f}), "
              f"ratio {m['nn_ratio']:.2f}; closer than 99% of real digits: {m['copies']:.1%}")
        estimate = "the batches' sliced distance" if config.loss == "sliced" else "critic's estimate"
        if corr["points"] < 3:  # a correlation needs three points; say so rather than print nan
            print(f"{estimate} against the Frechet distance: {corr['points']} evaluation(s) after round 0, too few "
                  f"to correlate (one every {config.eval_every} rounds)")
        else:
            print(f"{estimate} against the Frechet distance over {corr['points']} evaluations: "
                  f"Pearson {corr['pearson']:.2f}, Spearman {corr['spearman']:.2f}; from the estimate's peak "
                  f"(round {corr['peak_round']}) on: Spearman {corr['spearman_after_peak']:.2f}")
    return 0


__all__ = ["Digits", "load_digits_split", "to_unit", "from_unit", "weights_init_", "Generator", "Critic",
           "frechet_distance", "gaussian_fit", "nearest_distances", "Judge", "default_judge", "DigitsConfig",
           "LOSS_DEFAULTS", "digits_config", "DigitsHistory", "DigitsTrainer", "DigitsResult", "train_digits",
           "critic_vs_frechet", "pearson", "spearman", "tile_digits", "plot_digits", "plot_critic_and_frechet",
           "add_digits_parser", "run_digits", "IMAGE_LOSSES", "COVERAGE_SHARE", "PIXEL_MAX", "MIN_SAMPLES",
           "D_LOSSES", "D_PENALTIES", "one_hot", "spectral_normalise_", "sliced_wasserstein", "random_directions",
           "knn_radii", "precision_recall", "cycle_labels"]
