"""What the discriminator sees: feature maps from samples to D's input vectors.

Every map takes samples of shape (K, M, S) (K runs, M samples per step, S values per sample) and
returns D's inputs of shape (K, N, F): N inputs of F numbers each. All are differentiable, so the
generator's gradient flows through them; `feature_size(name, S)` gives F.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

# Keeps sqrt differentiable when a generator collapses to one value (its gradient at 0 is inf).
_VAR_EPS = 1e-8


def moments(x: torch.Tensor, k: int = 4) -> torch.Tensor:
    """The first k (<= 4) moments of each sample along the last axis: mean, std, skew, excess kurtosis.

    Population (biased) moments, as numpy's std and scipy's skew/kurtosis defaults compute them.
    Returns shape (..., k).
    """
    if not 1 <= k <= 4:
        raise ValueError(f"k={k!r} is not allowed: 1 to 4 moments")
    mean = x.mean(-1, keepdim=True)
    out = [mean]
    if k >= 2:
        dev = x - mean
        var = (dev * dev).mean(-1, keepdim=True)
        std = torch.sqrt(var + _VAR_EPS)
        out.append(std)
        if k >= 3:
            z = dev / std
            z2 = z * z
            out.append((z2 * z).mean(-1, keepdim=True))
            if k >= 4:
                out.append((z2 * z2).mean(-1, keepdim=True) - 3.0)
    return torch.cat(out, -1)


def _value(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1, 1)


def _batch(x: torch.Tensor) -> torch.Tensor:
    return x


def _sorted(x: torch.Tensor) -> torch.Tensor:
    return torch.sort(x, dim=-1).values


def _diffs(x: torch.Tensor) -> torch.Tensor:
    dev = x - x.mean(-1, keepdim=True)
    return torch.cat([x, dev * dev], -1)


def _meanstd(x: torch.Tensor) -> torch.Tensor:
    return moments(x, 2)


def _moments4(x: torch.Tensor) -> torch.Tensor:
    return moments(x, 4)


def _batch_moments(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, moments(x, 4)], -1)


def _sorted_meanstd(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.sort(x, dim=-1).values, moments(x, 2)], -1)


@dataclass(frozen=True)
class FeatureMap:
    """One way of showing samples to D."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    size: Callable[[int], int]  # F as a function of the sample length S
    per_value: bool  # True when D judges each value on its own
    code: str  # the one line a notebook shows
    description: str
    # What D sees of G's samples, when it differs from what it sees of real ones (None: the same).
    fake_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    # True when D judges each value but inside D each value's score also depends on the other values
    # of its batch (minibatch discrimination): D is then built with a cross-sample layer.
    cross_sample: bool = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def fake(self, x: torch.Tensor) -> torch.Tensor:
        """D's inputs for generated samples (the same map as for real ones unless `fake_fn` is set)."""
        return self.fn(x) if self.fake_fn is None else self.fake_fn(x)


FEATURE_MAPS: dict[str, FeatureMap] = {
    m.name: m
    for m in [
        FeatureMap("value", _value, lambda s: 1, True, "x.reshape(K, -1, 1)",
                   "one value at a time (the classic GAN)"),
        FeatureMap("batch", _batch, lambda s: s, False, "x",
                   "the whole batch as one vector (Dev Nag's 'raw data')"),
        FeatureMap("sorted", _sorted, lambda s: s, False, "x.sort(-1).values",
                   "the sorted batch (learn-GAN's real samples)"),
        FeatureMap("diffs", _diffs, lambda s: 2 * s, False, "cat([x, (x - x.mean(-1))**2])",
                   "the batch with its squared deviations (Dev Nag's 'data and variances')"),
        FeatureMap("meanstd", _meanstd, lambda s: 2, False, "cat([x.mean(-1), x.std(-1, correction=0)])",
                   "the batch's mean and std only (learn-GAN)"),
        FeatureMap("moments", _moments4, lambda s: 4, False, "moments(x, 4)",
                   "the batch's mean, std, skew and excess kurtosis"),
        FeatureMap("batch+moments", _batch_moments, lambda s: s + 4, False, "cat([x, moments(x, 4)])",
                   "the raw batch plus its first four moments"),
        FeatureMap("sorted+meanstd", _sorted_meanstd, lambda s: s + 2, False,
                   "cat([x.sort(-1).values, x.mean(-1), x.std(-1, correction=0)])",
                   "the sorted batch plus its mean and std"),
        # learn-GAN's first try: its real samples are sorted when they are made, and G's output goes
        # to D as it comes out of G. D can then tell them apart by order alone until G sorts its output.
        FeatureMap("sorted_real", _sorted, lambda s: s, False, "real: x.sort(-1).values; G's: x",
                   "real samples sorted, G's output as it is (learn-GAN's first try)", fake_fn=_batch),
        # Salimans et al. (2016): D sees one value per input, and its first hidden layer is joined by
        # features that compare each value with the rest of its batch (ganlib.models.MinibatchDiscriminator).
        FeatureMap("minibatch", _value, lambda s: 1, True, "x.reshape(K, -1, 1), then minibatch features in D",
                   "one value at a time, D's hidden layer joined by minibatch discrimination (Salimans et al.)",
                   cross_sample=True),
    ]
}


def get_feature_map(name: str) -> FeatureMap:
    """The feature map called `name` (see FEATURE_MAPS)."""
    if name not in FEATURE_MAPS:
        raise ValueError(f"features={name!r} is not allowed: choose one of {', '.join(FEATURE_MAPS)}")
    return FEATURE_MAPS[name]


def feature_size(name: str, sample_size: int) -> int:
    """Length F of D's input vector for feature map `name` and samples of `sample_size` values."""
    return get_feature_map(name).size(sample_size)


__all__ = ["FeatureMap", "FEATURE_MAPS", "get_feature_map", "feature_size", "moments"]
