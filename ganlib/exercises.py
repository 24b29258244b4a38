"""The course's exercises, checked in place: predict, write, check.

Every notebook from 01 on asks at least two questions. Each is an `Exercise` in the registry
`EXERCISES`, named after its notebook (``"01.d_star"``), with four methods:

- `check(answer)` returns True or False and prints one line: what is right, or what is wrong
  (never the answer itself), or "not attempted" when the answer is None, `...` or a stub function
  that still raises NotImplementedError; so a notebook saved with its stubs runs top to bottom.
- `hint()` prints the next hint (there are one or more levels); `hint(level)` a given one.
- `solution()` prints the reference code or value, with a line on why it is right.
- `reference()` returns a correct answer (the tests check that `check` accepts it).

Two kinds. A *code* exercise asks for a function; `check` calls it on fixed inputs (random ones
from a fixed seed) and compares with an independent computation, with a tolerance derived from the
problem, so a correct answer is never rejected by chance. A *predict* exercise asks for a number or
a choice written down before a run; `check(answer, measured=...)` accepts any answer inside the
range that held on every seed block the course tried, and, when given the measured value, says how
the prediction compares with this run's number.
"""

from __future__ import annotations

import inspect
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

NOT_ATTEMPTED = "not attempted"


class _Stub(Exception):
    """Raised inside `check` when the answer is an untouched stub."""


def _is_unanswered(answer: Any) -> bool:
    return answer is None or answer is Ellipsis


def _call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call a student's function; a stub's NotImplementedError means "not attempted"."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as exc:
        raise _Stub() from exc


@dataclass
class Exercise:
    """One question with an automatic check.

    `judge(answer, **measured)` returns None when the answer is right, else one line saying what is
    wrong without giving the answer away; it may call the answer through `call` (which turns a
    stub's NotImplementedError into "not attempted"). `praise(answer, **measured)` is the line
    printed for a right answer (it may quote the measured value).
    """

    name: str
    question: str
    kind: str  # "code" or "predict"
    judge: Callable[..., str | None]
    make_reference: Callable[[], Any]
    hints: tuple[str, ...]
    explanation: str
    praise: Callable[..., str] | None = None
    # Typical wrong answers, each with the mistake it models (the tests check that `check` rejects
    # every one of them with a useful line): (description, a function returning the wrong answer).
    mistakes: tuple[tuple[str, Callable[[], Any]], ...] = ()
    _next_hint: int = field(default=0, repr=False)

    def check(self, answer: Any, **measured: Any) -> bool:
        """True if `answer` is right; prints one line either way (or "not attempted")."""
        if _is_unanswered(answer):
            print(f"{self.name}: {NOT_ATTEMPTED} (write your answer in the cell above, then run both cells)")
            return False
        try:
            problem = self.judge(answer, **measured)
        except _Stub:
            print(f"{self.name}: {NOT_ATTEMPTED} (the function still raises NotImplementedError)")
            return False
        except Exception as exc:  # noqa: BLE001 - a student's bug is reported, not raised
            print(f"{self.name}: not yet: your answer raised {type(exc).__name__}: {str(exc)[:160]}")
            return False
        if problem is None:
            line = self.praise(answer, **measured) if self.praise else "correct"
            print(f"{self.name}: {line}")
            return True
        print(f"{self.name}: not yet: {problem}")
        return False

    def hint(self, level: int | None = None) -> None:
        """Print the next hint, or hint number `level` (1 is the gentlest)."""
        if level is None:
            level = min(self._next_hint, len(self.hints) - 1) + 1
            self._next_hint = min(self._next_hint + 1, len(self.hints) - 1)
        if not 1 <= level <= len(self.hints):
            raise ValueError(f"level={level!r} is not allowed: this exercise has hints 1 to {len(self.hints)}")
        print(f"{self.name}, hint {level} of {len(self.hints)}: {self.hints[level - 1]}")

    def solution(self) -> None:
        """Print the reference answer (code or value) and why it is right."""
        ref = self.make_reference()
        if callable(ref):
            body = textwrap.dedent(inspect.getsource(ref))
        else:
            body = repr(ref)
        print(f"{self.name}, a reference answer:\n{body.rstrip()}\n\nWhy: {self.explanation}")

    def reference(self) -> Any:
        """A correct answer (what `solution` prints)."""
        return self.make_reference()


EXERCISES: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to `EXERCISES` (names are unique)."""
    if exercise.name in EXERCISES:
        raise ValueError(f"exercise {exercise.name!r} is registered twice")
    EXERCISES[exercise.name] = exercise
    return exercise


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """For judges: call the student's answer, which must be a function."""
    if not callable(fn):
        raise TypeError(f"expected a function, got {type(fn).__name__}")
    return _call(fn, *args, **kwargs)


def predict_range(name: str, question: str, lo: float, hi: float, *, unit: str, why: str,
                  hints: tuple[str, ...], mistakes: tuple[tuple[str, Any], ...],
                  reference: float | None = None, integer: bool = False,
                  allowed: tuple[int, int] | None = None) -> Exercise:
    """A predict-then-measure exercise whose right answers are the numbers in [lo, hi].

    [lo, hi] is the range that held on every seed block the course tried, so a prediction in it
    is right whatever the seed; `check(answer, measured=x)` also prints this run's number.
    `integer` asks for a whole number and `allowed` is the range the question itself states (a
    count of ten runs: 0 to 10): an answer of another form is told so without a word on whether
    it is near the right range, which would give the answer away.
    """
    form = "a whole number" if integer else "a finite number"
    if allowed is not None:
        form += f" from {allowed[0]} to {allowed[1]}"

    def judge(answer: Any, measured: float | None = None) -> str | None:
        if isinstance(answer, (bool, np.bool_)):
            return f"write {form}, not bool"  # True would count as 1
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return f"write {form}, not {type(answer).__name__}"
        # NaN compares False with both ends, so it would pass as "in the range".
        if (not math.isfinite(value) or (integer and not value.is_integer())
                or (allowed is not None and not allowed[0] <= value <= allowed[1])):
            return f"write {form}, not {answer!r}"
        seen = "" if measured is None else f" This run measured {measured:g} {unit}."
        if value < lo:
            return f"{value:g} is too low.{seen} {why}"
        if value > hi:
            return f"{value:g} is too high.{seen} {why}"
        return None

    def praise(answer: Any, measured: float | None = None) -> str:
        seen = "" if measured is None else f"; this run measured {measured:g} {unit}"
        return f"right: {float(answer):g} is in the range every seed block we tried gives{seen}. {why}"

    ref = reference if reference is not None else (lo + hi) / 2
    if integer:
        ref = int(round(ref))
    wrong = tuple((what, (lambda v=value: v)) for what, value in mistakes)
    return Exercise(name, question, "predict", judge, lambda: ref, hints, why, praise, wrong)


def numeric(name: str, question: str, value: float, tol: float, *, why: str, hints: tuple[str, ...],
            mistakes: tuple[tuple[str, float], ...], diagnose: dict[float, str] | None = None) -> Exercise:
    """An exercise whose answer is one number, right within `tol` of `value` (a hand calculation).

    `diagnose` maps the value a typical mistake produces to the line that names that mistake; an
    answer within `tol` of such a value gets that line instead of a generic one.
    """
    known = dict(diagnose or {})

    def judge(answer: Any) -> str | None:
        try:
            x = float(answer)
        except (TypeError, ValueError):
            return f"write a number, not {type(answer).__name__}"
        if abs(x - value) <= tol:
            return None
        for wrong, line in known.items():
            if abs(x - wrong) <= tol:
                return line
        return f"{x:g} is too {'low' if x < value else 'high'}; check your formula (hint() helps)"

    wrong = tuple((what, (lambda v=v: v)) for what, v in mistakes)
    return Exercise(name, question, "code", judge, lambda: value, hints, why, None, wrong)


def predict_choice(name: str, question: str, right: Any, *, options: tuple, why: str,
                   hints: tuple[str, ...], wrong_reasons: dict[Any, str]) -> Exercise:
    """A predict exercise with one right choice among `options` (a name, an ordering, True/False).

    `wrong_reasons` maps each tempting wrong choice to the line that explains why it is wrong.
    """
    reasons = dict(wrong_reasons)

    def norm(v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    def judge(answer: Any, measured: Any = None) -> str | None:
        answer = norm(answer)
        if answer not in [norm(o) for o in options]:
            return f"choose one of {', '.join(repr(o) for o in options)}"
        if answer == norm(right):
            return None
        seen = "" if measured is None else f" This run measured {measured!r}."
        return (reasons.get(answer, "that is not what the runs show.") + seen).strip()

    def praise(answer: Any, measured: Any = None) -> str:
        seen = "" if measured is None else f" (this run: {measured!r})"
        return f"right{seen}. {why}"

    wrong = tuple((f"the choice {v!r}: {r}", (lambda v=v: v)) for v, r in reasons.items())
    return Exercise(name, question, "predict", judge, lambda: right, hints, why, praise, wrong)


# ----------------------------------------------------------------------------------------------
# Notebook 00: the ideal generator
# ----------------------------------------------------------------------------------------------

def _laplace_reference() -> Callable:
    def laplace_map(z, mean, std):
        # Laplace with scale b = std / sqrt(2): F(x) = exp((x - mean) / b) / 2 left of the mean,
        # 1 - exp(-(x - mean) / b) / 2 right of it. Solving F(x) = z on each side:
        b = std / np.sqrt(2.0)
        return np.where(z < 0.5, mean + b * np.log(2 * z), mean - b * np.log(2 - 2 * z))

    return laplace_map


def _judge_laplace(answer: Any) -> str | None:
    from ganlib.distributions import ideal_generator, make_noise, make_target

    z = np.linspace(0.001, 0.999, 999)
    for mean, std in ((4.0, 1.25), (-2.0, 0.3)):
        want = ideal_generator(make_target("laplace", mean, std), make_noise("uniform"), z)
        got = np.asarray(call(answer, z.copy(), mean, std), dtype=np.float64)
        if got.shape != z.shape:
            return f"for {z.size} values of z your function returned shape {got.shape}"
        # Both sides are closed forms in float64: they agree to rounding, 1e-9 of the scale.
        tol = 1e-9 * (abs(mean) + std)
        if np.all(np.abs(got - want) <= tol):
            continue
        if np.all(np.abs(got - (mean + np.sqrt(2.0) * (want - mean))) <= 1e-6 * (abs(mean) + std)):
            return ("the shape is right but the spread is too wide by sqrt(2): a Laplace with std s "
                    "has scale s / sqrt(2)")
        if np.all(np.abs(got - (2 * mean - want)) <= 1e-6 * (abs(mean) + std)):
            return ("your map decreases: F^-1(1 - z) is also an ideal map, but this exercise asks for the "
                    "increasing one, F^-1(z)")
        low, high = z < 0.5, z > 0.5
        if np.all(np.abs(got[low] - want[low]) <= 1e-6 * (abs(mean) + std)):
            return ("right for z < 1/2 but not above it: the Laplace CDF has a different formula on each "
                    "side of the mean")
        if np.all(np.abs(got[high] - want[high]) <= 1e-6 * (abs(mean) + std)):
            return ("right for z > 1/2 but not below it: the Laplace CDF has a different formula on each "
                    "side of the mean")
        i = int(np.argmax(np.abs(got - want)))
        return f"for mean {mean}, std {std} your map is off by up to {abs(got[i] - want[i]):.3g} (near z = {z[i]:.3f})"
    return None


def _laplace_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    def scale_is_std():
        def laplace_map(z, mean, std):
            return np.where(z < 0.5, mean + std * np.log(2 * z), mean - std * np.log(2 - 2 * z))
        return laplace_map

    def one_branch():
        def laplace_map(z, mean, std):
            return mean + std / np.sqrt(2.0) * np.log(2 * z)
        return laplace_map

    return (("uses the std as the Laplace scale b (the variance of a Laplace is 2 b^2)", scale_is_std),
            ("inverts only the left half of the CDF", one_branch))


register(Exercise(
    name="00.laplace_map",
    question="Write G*(z) = F^-1(z) for the Laplace target with a given mean and std (uniform noise).",
    kind="code", judge=_judge_laplace, make_reference=_laplace_reference,
    hints=("The Laplace density with scale b is exp(-|x - mean| / b) / (2 b); its variance is 2 b^2, "
           "so b = std / sqrt(2).",
           "Its CDF is exp((x - mean) / b) / 2 for x < mean and 1 - exp(-(x - mean) / b) / 2 for x >= mean. "
           "Solve CDF(x) = z for x on each side; z = 1/2 is the mean.",
           "np.where(z < 0.5, left_formula, right_formula) evaluates both pieces and picks one per value."),
    explanation="F^-1 turns uniform numbers into target samples; for the Laplace each half of the CDF is an "
                "exponential, so each half of the map is a logarithm, and the two meet smoothly at z = 1/2.",
    mistakes=_laplace_mistakes(),
))

register(numeric(
    "00.slope_at_half",
    "What is the slope dG*/dz of the ideal map for N(4, 2^2) with uniform noise at z = 1/2?",
    value=2.0 * float(np.sqrt(2 * np.pi)), tol=0.005,
    why="dG*/dz = f_I(z) / f_R(G*(z)); with uniform noise f_I = 1, and G*(1/2) = 4, where the normal "
        "density is 1 / (2 sqrt(2 pi)).",
    hints=("Differentiate F_R(G*(z)) = F_I(z) with respect to z.",
           "f_R(G*(z)) G*'(z) = f_I(z); for z uniform on [0, 1], f_I(z) = 1.",
           "G*(1/2) is the target's median, 4; the normal density there is 1 / (std sqrt(2 pi))."),
    mistakes=(("gives the density f_R(4) instead of its reciprocal", 1 / (2.0 * float(np.sqrt(2 * np.pi)))),
              ("forgets the std: 1 / phi(0) = sqrt(2 pi)", float(np.sqrt(2 * np.pi))),
              ("uses the std of R, 1.25, instead of 2", 1.25 * float(np.sqrt(2 * np.pi)))),
    diagnose={1 / (2.0 * float(np.sqrt(2 * np.pi))): "that is the density f_R(4); the slope is its reciprocal",
              float(np.sqrt(2 * np.pi)): "that is the slope for a standard normal; this target's std is 2",
              1.25 * float(np.sqrt(2 * np.pi)): "that is the slope for R, whose std is 1.25; this target's is 2"},
))


# ----------------------------------------------------------------------------------------------
# Notebook 01: the vanilla GAN
# ----------------------------------------------------------------------------------------------

def _d_star_reference() -> Callable:
    def d_star(p_real, p_gen):
        total = p_real + p_gen
        # Where neither density has mass, nothing tells real from fake: D* = 1/2 there.
        return np.where(total > 0, p_real / np.where(total > 0, total, 1.0), 0.5)

    return d_star


def _judge_d_star(answer: Any) -> str | None:
    rng = np.random.default_rng(0)
    p_real = rng.exponential(1.0, 200)
    p_gen = rng.exponential(1.0, 200)
    p_real[:20] = 0.0  # G has mass where R has none ...
    p_gen[20:40] = 0.0  # ... and R where G has none
    p_real[40:50] = p_gen[40:50] = 0.0  # and neither has mass here
    want = _d_star_reference()(p_real, p_gen)
    with np.errstate(all="ignore"):
        got = np.asarray(call(answer, p_real.copy(), p_gen.copy()), dtype=np.float64)
    if got.shape != want.shape:
        return f"for {want.size} grid points your function returned shape {got.shape}"
    ok = np.abs(got - want) <= 1e-12
    if ok.all():
        return None
    if np.allclose(got[50:], 1 - want[50:]):
        return "that is the probability that x is fake; D* is the probability that x is real"
    if np.any(got[np.isfinite(got)] > 1) or np.any(np.isinf(got)):
        return "some values exceed 1: D* is a probability, p_real divided by the sum of both densities"
    if not np.isfinite(got[40:50]).all():
        return "where both densities are 0 your D* is not a number; nothing tells real from fake there, so use 1/2"
    if np.allclose(got[50:], want[50:]):
        return "right where either density has mass; where both are 0 nothing tells real from fake, so D* = 1/2"
    return "not p_real / (p_real + p_gen) at every grid point"


def _d_star_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    def swapped():
        def d_star(p_real, p_gen):
            return p_gen / (p_real + p_gen)
        return d_star

    def ratio():
        def d_star(p_real, p_gen):
            return p_real / p_gen
        return d_star

    def no_empty_case():
        def d_star(p_real, p_gen):
            return p_real / (p_real + p_gen)
        return d_star

    return (("gives the probability of 'fake' instead of 'real'", swapped),
            ("returns the density ratio p_real / p_gen, not a probability", ratio),
            ("divides 0 by 0 where neither density has mass", no_empty_case))


register(Exercise(
    name="01.d_star",
    question="Write the optimal discriminator D*(x) on a grid, from the two densities on that grid.",
    kind="code", judge=_judge_d_star, make_reference=_d_star_reference,
    hints=("For a fixed G, D* maximises p_R(x) log D + p_G(x) log(1 - D) at every x separately.",
           "Set the derivative p_R / D - p_G / (1 - D) to zero and solve for D.",
           "np.where(total > 0, ..., 0.5) handles the points where neither density has mass."),
    explanation="At each x the cross-entropy p_R log D + p_G log(1 - D) is largest at D = p_R / (p_R + p_G): "
                "D* is the probability that a value found at x came from the data.",
    mistakes=_d_star_mistakes(),
))


def _d_loss_reference() -> Callable:
    def d_loss(real_logits, fake_logits):
        # -log D(real) - log(1 - D(fake)) with D = sigmoid(logit): softplus is the stable form.
        return torch.nn.functional.softplus(-real_logits).mean() + torch.nn.functional.softplus(fake_logits).mean()

    return d_loss


def _judge_d_loss(answer: Any) -> str | None:
    import torch

    gen = torch.Generator().manual_seed(1)
    for scale in (1.0, 30.0):  # 30: logits large enough that log(sigmoid(.)) underflows in a naive version
        real = scale * torch.randn(64, 1, generator=gen, dtype=torch.float64)
        fake = scale * torch.randn(64, 1, generator=gen, dtype=torch.float64)
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        want = float(bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake)))
        got = call(answer, real.clone(), fake.clone())
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            return "return one number as a torch tensor (so that backward() can run through it)"
        got = float(got)
        # float64 throughout: a right answer agrees to rounding, far below 1e-9 relative.
        if abs(got - want) <= 1e-9 * max(1.0, abs(want)):
            continue
        swapped = float(bce(real, torch.zeros_like(real)) + bce(fake, torch.ones_like(fake)))
        if abs(got - swapped) <= 1e-6 * max(1.0, abs(swapped)):
            return "the labels are swapped: D should say 1 for real data and 0 for G's samples"
        if abs(got - float(bce(real, torch.ones_like(real)))) <= 1e-6 * max(1.0, want):
            return "only the real-data term: D's loss also charges it for calling G's samples real"
        if abs(got - float(bce(fake, torch.zeros_like(fake)))) <= 1e-6 * max(1.0, want):
            return "only the fake-data term: D's loss also charges it for calling real data fake"
        if not np.isfinite(got):
            return ("the loss is not finite for large logits: log(sigmoid(l)) underflows; use "
                    "torch.nn.functional.softplus or binary_cross_entropy_with_logits")
        return "not the cross-entropy of D's verdicts (1 for real, 0 for fake), averaged over each batch"
    return None


def _d_loss_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    def swapped():
        def d_loss(real_logits, fake_logits):
            f = torch.nn.functional.softplus
            return f(real_logits).mean() + f(-fake_logits).mean()
        return d_loss

    def naive_log():
        def d_loss(real_logits, fake_logits):
            return -(torch.log(torch.sigmoid(real_logits)).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean())
        return d_loss

    return (("swaps the labels (real 0, fake 1)", swapped),
            ("takes log(sigmoid(.)) directly, which gives inf for confident verdicts", naive_log))


register(Exercise(
    name="01.d_loss",
    question="Write D's loss from its logits on a real batch and on a generated batch.",
    kind="code", judge=_judge_d_loss, make_reference=_d_loss_reference,
    hints=("D's output is a logit l; D(x) = sigmoid(l) is the probability of 'real'.",
           "The loss is -mean log D(real) - mean log(1 - D(fake)).",
           "-log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l), exactly and without overflow."),
    explanation="Binary cross-entropy with label 1 for data and 0 for G's samples; written with softplus it "
                "never takes the log of 0, however confident D is.",
    mistakes=_d_loss_mistakes(),
))


register(predict_range(
    "01.devnag_success",
    "Of ten runs of Dev Nag's setting (3,000 rounds), how many reach W1 < 0.1 target std?",
    0, 2, unit="of 10 runs", integer=True, allowed=(0, 10), reference=0,
    why="Dev Nag's runs often get the mean and the std roughly right but stay lopsided, hard-edged and "
        "short-tailed; on every seed block the course tried at most two of ten got under the line. The "
        "article's eight of ten were judged by eye, by mean and std, and came from a later, much longer setting.",
    hints=("The course's success line is strict: 0.1 sd of W1 is below even the best straight map's 0.12 sd "
           "from notebook 00.",
           "Getting mean and std right is not enough: a histogram with the right mean and std but the wrong "
           "shape can still be 0.15 sd away."),
    mistakes=(("takes the article's 'eight of ten' at face value", 8), ("expects every run to succeed", 10)),
))


# ----------------------------------------------------------------------------------------------
# Notebook 03: sorted samples and moments
# ----------------------------------------------------------------------------------------------

def _w1_cdf_area(a: np.ndarray, b: np.ndarray) -> float:
    """W1 as the area between the two empirical CDFs (the oracle; independent of quantiles)."""
    pts = np.sort(np.concatenate([a, b]))
    fa = np.searchsorted(np.sort(a), pts[:-1], side="right") / a.size
    fb = np.searchsorted(np.sort(b), pts[:-1], side="right") / b.size
    return float(np.sum(np.abs(fa - fb) * np.diff(pts)))


def _w1_reference() -> Callable:
    def w1_between(a, b):
        # The quantile functions are step functions; on a common grid of levels u (every jump of
        # either one) both are constant between neighbours, so the integral is a finite sum.
        a, b = np.sort(a), np.sort(b)
        u = np.union1d(np.arange(1, a.size) / a.size, np.arange(1, b.size) / b.size)
        edges = np.concatenate([[0.0], u, [1.0]])
        mid = 0.5 * (edges[1:] + edges[:-1])
        qa = a[np.minimum((mid * a.size).astype(int), a.size - 1)]
        qb = b[np.minimum((mid * b.size).astype(int), b.size - 1)]
        return float(np.sum(np.abs(qa - qb) * np.diff(edges)))

    return w1_between


def _judge_w1(answer: Any) -> str | None:
    rng = np.random.default_rng(2)
    cases = [(rng.normal(0, 1, 7), rng.normal(0.5, 2, 13)), (rng.exponential(1, 100), rng.normal(1, 1, 40)),
             (np.array([0.0, 1.0]), np.array([0.0, 0.5, 1.0]))]
    for a, b in cases:
        want = _w1_cdf_area(a, b)
        got = float(call(answer, a.copy(), b.copy()))
        # Exact arithmetic on a few hundred numbers: a right answer agrees to 1e-9.
        if abs(got - want) <= 1e-9 * max(1.0, want):
            continue
        if a.size != b.size:
            n = min(a.size, b.size)
            if abs(got - float(np.mean(np.abs(np.sort(a)[:n] - np.sort(b)[:n])))) < 1e-9:
                return "you cut the longer sample to the shorter one's length: that drops its largest values"
        if abs(got - abs(float(a.mean()) - float(b.mean()))) < 1e-9:
            return "that is the distance between the means; W1 compares the whole distributions"
        return f"for samples of sizes {a.size} and {b.size} your W1 is off by {abs(got - want):.3g}"
    return None


def _w1_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    def truncate():
        def w1_between(a, b):
            n = min(len(a), len(b))
            return float(np.mean(np.abs(np.sort(a)[:n] - np.sort(b)[:n])))
        return w1_between

    def means():
        def w1_between(a, b):
            return abs(float(np.mean(a)) - float(np.mean(b)))
        return w1_between

    return (("cuts the longer sample to the shorter one's length", truncate),
            ("compares only the means", means))


register(Exercise(
    name="03.w1_unequal",
    question="Write W1 between two samples of any sizes.",
    kind="code", judge=_judge_w1, make_reference=_w1_reference,
    hints=("W1 is the integral over u in [0, 1] of |Q_a(u) - Q_b(u)|, Q the quantile functions.",
           "A sample's quantile function is a step function: Q_a(u) = a_(k) for u in [(k-1)/n, k/n).",
           "Put the jump points k/n of both samples on one sorted grid; between two grid points both "
           "quantiles are constant, so the integral is a sum of |difference| x width."),
    explanation="With unequal sizes the sorted values do not pair up one to one, but the quantile functions "
                "still do: integrate their distance over u, piece by piece.",
    mistakes=_w1_mistakes(),
))

register(predict_choice(
    "03.beta1",
    "With Adam beta1 = 0.9, which discriminator gets the moments right in most runs after 500 rounds?",
    "none", options=("sorted", "meanstd", "sorted_real", "all", "none"),
    why="With beta1 = 0.9 momentum keeps the runs chasing the target: at round 500 the median run's mean "
        "still misses 4 by more than 0.2 whatever D sees, and no input gets the moments in more than three "
        "runs of ten. In this setting (the course's preset, not the tutorial's) momentum, not the input, "
        "decided it.",
    hints=("Notebook 02's Dirac GAN: what does momentum do to the chase between G and D?",
           "Momentum keeps a step going in the direction of the last ones, past the point where it should turn."),
    wrong_reasons={"meanstd": "that is the tutorial's finding in its own setting; in this one (Adam, 500 rounds, "
                              "samples of 100) momentum 0.9 kept every input's mean off the target",
                   "sorted": "the sorted D wins with beta1 = 0.5; with 0.9 its runs are still swinging at round 500",
                   "all": "with momentum 0.9 the median run's mean misses 4 by more than 0.2 for every input at "
                          "this budget"},
))


# ----------------------------------------------------------------------------------------------
# Notebook 04: what the discriminator sees
# ----------------------------------------------------------------------------------------------

def _diffs_reference() -> Callable:
    def diffs(x):
        # the values, then each value's squared deviation from the mean of its own batch (last axis)
        return torch.cat([x, (x - x.mean(-1, keepdim=True)) ** 2], dim=-1)

    return diffs


def _judge_diffs(answer: Any) -> str | None:
    gen = torch.Generator().manual_seed(3)
    x = 4 + 1.25 * torch.randn(3, 2, 16, generator=gen, dtype=torch.float64)
    want = _diffs_reference()(x)
    got = call(answer, x.clone())
    if not isinstance(got, torch.Tensor):
        return "return a torch tensor, so that G's gradient can flow through it"
    if tuple(got.shape) != tuple(want.shape):
        return f"for x of shape {tuple(x.shape)} the result must have shape {tuple(want.shape)}, not {tuple(got.shape)}"
    if torch.allclose(got, want, rtol=0, atol=1e-12):
        x_req = x.clone().requires_grad_(True)
        out = call(answer, x_req)
        if not out.requires_grad:
            return "the values are right but the result is detached from x: G could not learn through it"
        return None
    global_mean = torch.cat([x, (x - x.mean()) ** 2], -1)
    if torch.allclose(got, global_mean, atol=1e-9):
        return "the deviations are from the mean of the whole tensor; each batch (last axis) needs its own mean"
    if torch.allclose(got[..., 16:], (x - x.mean(-1, keepdim=True)).abs(), atol=1e-9):
        return "those are absolute deviations; Dev Nag's map squares them"
    return "not the values followed by their squared deviations from their batch's mean"


def _diffs_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    def global_mean():
        def diffs(x):
            return torch.cat([x, (x - x.mean()) ** 2], dim=-1)
        return diffs

    def absolute():
        def diffs(x):
            return torch.cat([x, (x - x.mean(-1, keepdim=True)).abs()], dim=-1)
        return diffs

    return (("takes the deviations from the mean of all batches together", global_mean),
            ("uses absolute instead of squared deviations", absolute))


register(Exercise(
    name="04.diffs",
    question="Write Dev Nag's 'data and variances' feature map for batches of shape (K, M, S).",
    kind="code", judge=_judge_diffs, make_reference=_diffs_reference,
    hints=("Each batch is the last axis: its mean is x.mean(-1, keepdim=True), shape (K, M, 1).",
           "Subtract that mean (it broadcasts over the S values), square, and put the result after x "
           "with torch.cat(..., dim=-1)."),
    explanation="The squared deviations hand D the spread of each batch directly; computing them per batch "
                "(the last axis) keeps runs and batches apart, and staying in torch keeps G's gradient.",
    mistakes=_diffs_mistakes(),
))

register(predict_choice(
    "04.race_winner",
    "On the normal target, which D input has the lowest median W1 after 800 rounds?",
    "sorted", options=("value", "batch", "sorted", "diffs", "meanstd", "moments", "batch+moments"),
    why="The sorted batch puts the shape in a form D can read directly, all 64 quantiles in a fixed order "
        "(the raw batch holds the same values, but D would first have to learn that their order means "
        "nothing); on every seed block the course tried it had the lowest median W1 on the normal.",
    hints=("The normal differs from G's starting (uniform) shape in its tails: which input shows D the tails?",
           "A sorted batch is the sample's quantile function."),
    wrong_reasons={"diffs": "the squared deviations give D the spread, which diffs gets right, but not the shape",
                   "meanstd": "mean and std cannot see the shape; G keeps its starting uniform shape",
                   "batch+moments": "more inputs made D's signal worse here, not better"},
))


# ----------------------------------------------------------------------------------------------
# Notebooks 05 and 06: the Wasserstein GAN and gradient penalties
# ----------------------------------------------------------------------------------------------

register(predict_range(
    "05.clip_scale",
    "With weights clipped to [-0.01, 0.01], what power of ten is the clipped critic's gap / W1?",
    -5, -4, unit="(the log10 of gap / W1)", integer=True, reference=-5,
    why="The critic multiplies three layers of weights of size at most c = 0.01, so its slope bound is of "
        "the order of c^3 times a width factor, and paths of opposite signs cancel: the measured gap / W1 "
        "(a lower bound on the critic's slope) ended between 1e-5 and 1e-4 on every seed block the course "
        "tried, not near 1.",
    hints=("A chain of three linear maps with entries at most c has slope at most about (width x c)^2 x c.",
           "With c = 0.01 and 32 units, (32 x 0.01)^2 x 0.01 is about 1e-3, an upper bound; most weights "
           "are not at the wall."),
    mistakes=(("expects the gap to estimate W1 itself", 0), ("expects only a factor of ten", -1)),
))


def _max_slope_reference() -> Callable:
    def max_slope(widths, c):
        # Every weight at +c and every activation passing its input on (slope 1): each path from the
        # input through one unit per hidden layer to the output contributes c ** (layers of weights),
        # and there are prod(widths) such paths.
        return c ** (len(widths) + 1) * math.prod(widths)

    return max_slope


def _slope_of_walled_critic(widths: tuple[int, ...], c: float) -> float:
    """Autograd's slope at x = 1 of a leaky-ReLU critic whose weights and biases all equal c.

    With every weight and bias positive and a positive input, every unit is on its slope-1 side,
    so this critic attains the bound. No nn.Linear: its initialisation would draw from torch's
    global generator, and a check must not change the notebook's random numbers.
    """
    sizes = [1, *widths, 1]
    x = torch.ones(1, 1, dtype=torch.float64, requires_grad=True)
    h = x
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        h = h @ torch.full((a, b), float(c), dtype=torch.float64) + float(c)
        if i < len(sizes) - 2:
            h = torch.nn.functional.leaky_relu(h, 0.2)
    (grad,) = torch.autograd.grad(h.sum(), x)
    return float(grad)


_SLOPE_CASES = (((32, 32), 0.01), ((50, 50), 0.01), ((8,), 0.1), ((16, 4, 8), 0.5), ((3, 5), 2.0))


def _judge_max_slope(answer: Any) -> str | None:
    for widths, c in _SLOPE_CASES:
        want = _slope_of_walled_critic(widths, c)
        try:
            got = float(call(answer, tuple(widths), c))
        except (TypeError, ValueError):
            return "return one number: the bound on |f'(x)|"
        # Products of a few numbers in float64: a right formula agrees to rounding (1e-12 relative).
        if abs(got - want) <= 1e-9 * abs(want):
            continue
        layers, paths = len(widths) + 1, math.prod(widths)
        known = {c ** layers: "that is one path's product; the input reaches the output along every path "
                              "through one unit per hidden layer, and the paths add up",
                 c ** (layers - 1) * paths: "one layer of weights short: h hidden layers make h + 1 weight matrices",
                 c ** layers * paths * max(widths): "one width too many: the input and the output are single "
                                                    "numbers, so only the hidden widths count paths",
                 0.2 ** (layers - 1) * c ** layers * paths: "the largest slope has every activation on its "
                                                            "slope-1 side, not the leaky side"}
        for value, line in known.items():
            if abs(got - value) <= 1e-9 * abs(value):
                return f"for widths {widths} and c = {c}: {line}"
        return f"for widths {widths} and c = {c} the bound is not {got:g}; hint() helps"
    return None


def _max_slope_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    return (("forgets that the paths through the hidden units add up",
             lambda: (lambda widths, c: c ** (len(widths) + 1))),
            ("counts one weight layer too few", lambda: (lambda widths, c: c ** len(widths) * math.prod(widths))),
            ("uses the leaky side's slope 0.2",
             lambda: (lambda widths, c: 0.2 ** len(widths) * c ** (len(widths) + 1) * math.prod(widths))))


register(Exercise(
    name="05.max_slope",
    question="Write max_slope(widths, c): the largest slope |f'(x)| of a critic with one input, hidden layers "
             "of these widths, one output, every weight and bias in [-c, c], and activations of slope at most 1.",
    kind="code", judge=_judge_max_slope, make_reference=_max_slope_reference,
    hints=("f'(x) is a chain: the weight matrices multiplied together, with the activations' slopes (at most 1) "
           "in between.",
           "Make it as large as possible: every weight +c and every activation passing its input on. Each path "
           "from the input to the output then multiplies c once per layer of weights.",
           "How many paths are there? One for each choice of a unit in every hidden layer."),
    explanation="f'(x) sums, over every path from the input through one unit per hidden layer to the output, "
                "the product of the weights on the path and the activations' slopes: at most c ** (h + 1) a path "
                "for h hidden layers, and there are prod(widths) paths. Biases do not change the slope.",
    mistakes=_max_slope_mistakes(),
))


def _one_sided_reference() -> Callable:
    def one_sided_penalty(critic, real, fake, eps):
        x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        # Only slopes above 1 are charged: max(0, |grad| - 1)^2.
        return (torch.relu(grad.norm(dim=1) - 1) ** 2).mean()

    return one_sided_penalty


def _penalty_case(seed: int, width: int) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    critic = torch.nn.Sequential(torch.nn.Linear(width, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1))
    torch.random.set_rng_state(torch_state)
    with torch.no_grad():  # weights scaled so that about a quarter of the slopes exceed 1 (measured)
        for p in critic.parameters():
            p.mul_(2.0)
    real = torch.randn(64, width, generator=gen)
    fake = 2 + torch.randn(64, width, generator=gen)
    eps = torch.rand(64, 1, generator=gen)
    return critic, real, fake, eps


def _judge_one_sided(answer: Any) -> str | None:
    ref = _one_sided_reference()
    for seed, width in ((1, 4), (2, 4)):
        critic, real, fake, eps = _penalty_case(seed, width)
        want = ref(critic, real, fake, eps)
        # The output bias does not change the critic's slope: its gradient is None (zero).
        want_grads = torch.autograd.grad(want, list(critic.parameters()), allow_unused=True)
        got = call(answer, critic, real.clone(), fake.clone(), eps.clone())
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            return "return the penalty as one torch number"
        # float32 on 64 points: agreement to 1e-5 relative is rounding, a wrong formula is far off.
        value, want_value = float(got.detach()), float(want.detach())
        if abs(value - want_value) > 1e-5 * max(1.0, want_value):
            two = _two_sided(critic, real, fake, eps)
            if abs(value - two) <= 1e-4 * max(1.0, two):
                return "that is the two-sided penalty: slopes below 1 must cost nothing"
            return "the value differs from max(0, |grad f(x_hat)| - 1)^2 averaged over the points"
        if not got.requires_grad:
            return ("the penalty does not reach the critic's weights, so it cannot train the critic: "
                    "autograd.grad needs create_graph=True")
        got_grads = torch.autograd.grad(got, list(critic.parameters()), allow_unused=True)
        for g, w, p in zip(got_grads, want_grads, critic.parameters()):
            g = torch.zeros_like(p) if g is None else g
            w = torch.zeros_like(p) if w is None else w
            if not torch.allclose(g, w, rtol=1e-4, atol=1e-6):
                return "the value is right but its gradient with respect to the critic's weights is not"
    return None


def _two_sided(critic: Any, real: Any, fake: Any, eps: Any) -> float:
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    return float(((grad.norm(dim=1) - 1) ** 2).mean())


def _one_sided_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    def two_sided():
        def one_sided_penalty(critic, real, fake, eps):
            x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
            return ((grad.norm(dim=1) - 1) ** 2).mean()
        return one_sided_penalty

    def no_graph():
        def one_sided_penalty(critic, real, fake, eps):
            x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
            return (torch.relu(grad.norm(dim=1) - 1) ** 2).mean()
        return one_sided_penalty

    return (("charges slopes below 1 too (the two-sided penalty)", two_sided),
            ("forgets create_graph=True, so the penalty cannot train the critic", no_graph))


register(Exercise(
    name="06.one_sided_gp",
    question="Write the one-sided gradient penalty, mean of max(0, |grad f(x_hat)| - 1)^2.",
    kind="code", judge=_judge_one_sided, make_reference=_one_sided_reference,
    hints=("Start from gradient_penalty above: the points x_hat and the gradient are the same.",
           "max(0, v) is torch.relu(v) (or v.clamp(min=0)).",
           "Keep create_graph=True: the penalty is trained through, so its gradient must be differentiable."),
    explanation="The Lipschitz condition asks for slopes at most 1; charging only the excess leaves a flat "
                "critic free, and the graph of the gradient must be kept so that the penalty trains the critic.",
    mistakes=_one_sided_mistakes(),
))


def _gp_critic_loss_reference() -> Callable:
    def critic_loss(critic, real, fake, eps, lam):
        gap = critic(real).mean() - critic(fake).mean()
        x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
        # The critic maximises the gap and an optimizer minimises: the loss is minus the gap, plus the penalty.
        return -gap + lam * penalty

    return critic_loss


def _critic_by_hand(critic: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores and input gradients of `_penalty_case`'s critic (Linear, LeakyReLU(0.2), Linear), in
    float64 and without autograd: f(x) = w2 . lrelu(W1 x + b1) + b2, grad f(x) = W1^T (w2 * slope)."""
    first, last = critic[0], critic[2]
    w1, b1 = first.weight.detach().double(), first.bias.detach().double()
    w2, b2 = last.weight.detach().double()[0], last.bias.detach().double()[0]
    pre = x.double() @ w1.T + b1
    slope = torch.where(pre > 0, 1.0, 0.2).double()
    return (pre * slope) @ w2 + b2, (slope * w2) @ w1


def _judge_gp_critic_loss(answer: Any) -> str | None:
    ref = _gp_critic_loss_reference()
    for (seed, width), lam in (((3, 4), 10.0), ((4, 4), 3.0)):
        critic, real, fake, eps = _penalty_case(seed, width)
        score_real, _ = _critic_by_hand(critic, real)
        score_fake, _ = _critic_by_hand(critic, fake)
        _, grad = _critic_by_hand(critic, eps * real + (1 - eps) * fake)
        gap, norm = float(score_real.mean() - score_fake.mean()), grad.norm(dim=1)
        two, one = float(((norm - 1) ** 2).mean()), float((torch.relu(norm - 1) ** 2).mean())
        want = -gap + lam * two
        got = call(answer, critic, real.clone(), fake.clone(), eps.clone(), lam)
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            return "return the loss as one torch number (so that backward() can train the critic)"
        # float32 scores and gradients on 64 points against float64 by hand: a right answer agrees to
        # about 1e-7 relative; 1e-5 leaves room, and every typical mistake is off by far more.
        value = float(got.detach())

        def close(v: float, value: float = value) -> bool:
            return abs(value - v) <= 1e-5 * max(1.0, abs(v))

        if not close(want):
            for v, line in ((gap + lam * two, "the sign of the gap: the critic maximises the gap, and an optimizer "
                                              "minimises its loss, so the loss has minus the gap"),
                            (-gap - lam * two, "the penalty is added to the loss, not subtracted: it charges slopes "
                                               "away from 1"),
                            (-gap + two, "the penalty is weighted by lam"),
                            (-gap + lam * one, "that is the one-sided penalty: here the paper's two-sided one, "
                                               "(|grad| - 1)^2, charges slopes below 1 too")):
                if close(v):
                    return line
            return "the value differs from -(mean f(real) - mean f(fake)) + lam * penalty"
        want_grads = torch.autograd.grad(ref(critic, real, fake, eps, lam), list(critic.parameters()),
                                         allow_unused=True)
        got_grads = torch.autograd.grad(got, list(critic.parameters()), allow_unused=True)
        for g, w, p in zip(got_grads, want_grads, critic.parameters()):
            g = torch.zeros_like(p) if g is None else g
            w = torch.zeros_like(p) if w is None else w
            if not torch.allclose(g, w, rtol=1e-4, atol=1e-6):
                return ("the value is right but its gradient with respect to the critic's weights is not: "
                        "the penalty's gradient needs create_graph=True")
    return None


def _gp_critic_loss_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    def penalty(critic, real, fake, eps, graph=True):
        x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=graph)
        return ((grad.norm(dim=1) - 1) ** 2).mean()

    def gap(critic, real, fake):
        return critic(real).mean() - critic(fake).mean()

    return (("minimises the gap instead of maximising it",
             lambda: (lambda cr, r, f, e, lam: gap(cr, r, f) + lam * penalty(cr, r, f, e))),
            ("subtracts the penalty", lambda: (lambda cr, r, f, e, lam: -gap(cr, r, f) - lam * penalty(cr, r, f, e))),
            ("forgets the weight lam", lambda: (lambda cr, r, f, e, lam: -gap(cr, r, f) + penalty(cr, r, f, e))),
            ("forgets create_graph=True, so the penalty does not train the critic",
             lambda: (lambda cr, r, f, e, lam: -gap(cr, r, f) + lam * penalty(cr, r, f, e, graph=False))))


register(Exercise(
    name="06.gp_critic_loss",
    question="Write the WGAN-GP critic's loss: minus the gap (mean score on real minus mean score on fake) "
             "plus lam times the two-sided gradient penalty.",
    kind="code", judge=_judge_gp_critic_loss, make_reference=_gp_critic_loss_reference,
    hints=("The critic wants a large gap, and optimizers minimise: start from -(critic(real).mean() - "
           "critic(fake).mean()).",
           "Add lam * gradient_penalty(critic, real, fake, eps), the function written out above.",
           "The penalty must keep its graph (create_graph=True), or it cannot train the critic."),
    explanation="Gulrajani et al.'s critic minimises E f(fake) - E f(real) + lam E (|grad f(x_hat)| - 1)^2: "
                "the Wasserstein gap, maximised, with the slope pulled towards 1 at points between the batches.",
    mistakes=_gp_critic_loss_mistakes(),
))


# ----------------------------------------------------------------------------------------------
# Notebooks 07 and 02: two modes, and the Dirac GAN
# ----------------------------------------------------------------------------------------------

def _minibatch_reference() -> Callable:
    def minibatch_features(M):
        # M: (n, B, C). For each pair (i, j) and kernel b, the L1 distance over the C numbers, then
        # o[i, b] = sum over all j (i included) of exp(-distance).
        dist = (M[:, None, :, :] - M[None, :, :, :]).abs().sum(-1)  # (n_i, n_j, B)
        return torch.exp(-dist).sum(1)

    return minibatch_features


def _minibatch_by_loops(m: torch.Tensor) -> torch.Tensor:
    """The formula written as the paper's sums, one number at a time (the judge's oracle)."""
    n, b_count, c_count = m.shape
    out = torch.zeros(n, b_count, dtype=torch.float64)
    for i in range(n):
        for b in range(b_count):
            for j in range(n):
                out[i, b] += torch.exp(-sum(abs(m[i, b, c] - m[j, b, c]) for c in range(c_count)))
    return out


def _judge_minibatch(answer: Any) -> str | None:
    m = torch.randn(6, 4, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    want = _minibatch_by_loops(m)
    got = call(answer, m.clone())
    if not isinstance(got, torch.Tensor):
        return "return a torch tensor, so that D's gradient can flow through it"
    if tuple(got.shape) == (6, 3):
        return "for M of shape (6, 4, 3) the result has one number per value and kernel, (6, 4): the L1 distance " \
               "sums over each kernel's C numbers (the last axis), not over the kernels"
    if tuple(got.shape) != (6, 4):
        return f"for M of shape (6, 4, 3) the result must have shape (6, 4) (values x kernels), not {tuple(got.shape)}"
    got = got.double()
    # float64 sums of 6 terms of size <= 1: a right answer agrees with the loops to 1e-12.
    if torch.allclose(got, want, rtol=0, atol=1e-12):
        out = call(answer, m.clone().requires_grad_(True))
        if not (isinstance(out, torch.Tensor) and out.requires_grad):
            return "the values are right but the result is detached from M: D could not learn T through it"
        return None
    if torch.allclose(got, want - 1, rtol=0, atol=1e-12):
        return "every value is 1 short: the sum runs over the whole batch, j = i included (exp(0) = 1)"
    l2 = torch.exp(-(m[:, None] - m[None]).pow(2).sum(-1).sqrt()).sum(1)
    if torch.allclose(got, l2, rtol=0, atol=1e-9):
        return "that is the Euclidean (L2) distance; the paper's kernel uses the L1 norm, a sum of absolute differences"
    return "not sum_j exp(-||M_i,b - M_j,b||_1); check which axes you subtract, sum and exponentiate over"


def _minibatch_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    def without_self():
        def minibatch_features(M):
            dist = (M[:, None] - M[None]).abs().sum(-1)
            return torch.exp(-dist).sum(1) - 1
        return minibatch_features

    def euclidean():
        def minibatch_features(M):
            return torch.exp(-(M[:, None] - M[None]).pow(2).sum(-1).sqrt()).sum(1)
        return minibatch_features

    def over_kernels():
        def minibatch_features(M):
            return torch.exp(-(M[:, None] - M[None]).abs().sum(-2)).sum(1)
        return minibatch_features

    return (("leaves the j = i term out of the sum", without_self),
            ("uses the Euclidean distance instead of the L1 norm", euclidean),
            ("takes the distance over the kernels instead of over each kernel's C numbers", over_kernels))


register(Exercise(
    name="07.minibatch",
    question="Write the minibatch-discrimination features o[i, b] = sum_j exp(-||M_i,b - M_j,b||_1) "
             "for M of shape (n, B, C).",
    kind="code", judge=_judge_minibatch, make_reference=_minibatch_reference,
    hints=("Broadcasting makes all pairs at once: M[:, None] - M[None] has shape (n, n, B, C), entry [i, j] "
           "holding M_i - M_j.",
           "The L1 norm of each kernel's row: .abs().sum(-1) gives (n, n, B); then exp(-...) and sum over j, "
           "the second axis."),
    explanation="Each kernel b compares value i with every value j of its batch through a learned projection; "
                "exp(-L1 distance) is close to 1 for near neighbours and 0 for far ones, so o[i, b] counts how "
                "crowded x_i's neighbourhood is, which is what a collapsed batch gives away.",
    mistakes=_minibatch_mistakes(),
))

register(predict_choice(
    "02.alternating",
    "The Dirac GAN starts at (theta, psi) = (1, 0). With alternating steps (D, then G against the new D), "
    "plain gradient steps of 0.1 and no momentum, where is it after 2,000 steps: 'nearer' the equilibrium "
    "(0, 0), 'about as far' (within 10%) or 'farther'?",
    "about as far", options=("nearer", "about as far", "farther"),
    why="The continuous game circles round the equilibrium at a fixed distance; a simultaneous step moves "
        "along the tangent and so outwards every time, while alternating steps keep the distance to within a "
        "few percent (near the equilibrium each round is a linear map of determinant 1): G keeps chasing and "
        "never arrives.",
    hints=("Near (0, 0) the two updates are theta += h psi / 2 and psi -= h theta / 2: which way does that "
           "turn the point, and does it change its distance?",
           "Simultaneous steps use the old psi for G; alternating steps use the new one. Multiply the two "
           "2 x 2 update matrices and look at the determinant."),
    wrong_reasons={"farther": "that is what simultaneous steps do (each step along the tangent of a circle "
                              "moves outwards); alternating steps do not",
                   "nearer": "without a penalty on D (R1) or damping nothing pulls the point in: the game "
                             "only turns it round the equilibrium"},
))


def _dirac_field(theta: float, psi: float, gamma: float) -> np.ndarray:
    """The Dirac GAN's gradient vector field v = (-dL_G/dtheta, -dL_D/dpsi), R1 weight gamma."""
    s = 1.0 / (1.0 + np.exp(-theta * psi))
    return np.array([s * psi, -s * theta - gamma * psi])


def _dirac_jacobian_by_differences(theta: float, psi: float, gamma: float, eps: float = 1e-6) -> np.ndarray:
    """The judge's oracle: central differences of the field, one column per variable."""
    cols = [(_dirac_field(theta + eps, psi, gamma) - _dirac_field(theta - eps, psi, gamma)) / (2 * eps),
            (_dirac_field(theta, psi + eps, gamma) - _dirac_field(theta, psi - eps, gamma)) / (2 * eps)]
    return np.stack(cols, axis=1)


def _dirac_jacobian_reference() -> Callable:
    def jacobian(theta, psi, gamma):
        # v = (s psi, -s theta - gamma psi) with s = sigmoid(theta psi), whose derivative s(1 - s)
        # brings psi (d/dtheta) or theta (d/dpsi) down by the chain rule.
        s = 1 / (1 + np.exp(-theta * psi))
        ds = s * (1 - s)
        return np.array([[ds * psi**2, s + ds * theta * psi],
                         [-s - ds * theta * psi, -ds * theta**2 - gamma]])

    return jacobian


def _judge_dirac_jacobian(answer: Any) -> str | None:
    rng = np.random.default_rng(7)
    points = [(0.0, 0.0, 0.0)] + [(*rng.uniform(-2, 2, 2), g) for g in (0.0, 0.0, 1.0, 1.5)]
    for theta, psi, gamma in points:
        want = _dirac_jacobian_by_differences(theta, psi, gamma)
        got = np.asarray(call(answer, float(theta), float(psi), float(gamma)), dtype=np.float64)
        if got.shape != (2, 2):
            return f"return a 2 x 2 array (rows: the components of v, columns: theta and psi), not shape {got.shape}"
        # Central differences with eps = 1e-6 are exact to about 1e-10 here; a wrong formula is off by
        # at least 0.05 at these points, so 1e-6 separates the two with room on both sides.
        if np.allclose(got, want, rtol=0, atol=1e-6):
            continue
        if np.allclose(got.T, want, rtol=0, atol=1e-6):
            return "that is the transpose: row i holds the derivatives of component i of v, column j the variable j"
        if np.allclose(got, -want, rtol=0, atol=1e-6):
            return "every sign is flipped: v is minus the gradients (the direction the steps move), not the gradients"
        s = 1 / (1 + np.exp(-theta * psi))
        if np.allclose(got, [[0, s], [-s, -gamma]], rtol=0, atol=1e-6):
            return ("right at the equilibrium, not away from it: sigmoid(theta psi) depends on theta and psi "
                    "too (product and chain rule)")
        if gamma and np.allclose(got, want + [[0, 0], [0, gamma]], rtol=0, atol=1e-6):
            return "the R1 term is missing: it adds -gamma psi to v's second component"
        return f"at (theta, psi, gamma) = ({theta:.2f}, {psi:.2f}, {gamma:g}) your Jacobian differs from the field's"
    return None


def _dirac_jacobian_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    ref = _dirac_jacobian_reference()

    def transposed():
        return lambda theta, psi, gamma: ref(theta, psi, gamma).T

    def gradients():
        return lambda theta, psi, gamma: -ref(theta, psi, gamma)

    def no_chain_rule():
        def jacobian(theta, psi, gamma):
            s = 1 / (1 + np.exp(-theta * psi))
            return np.array([[0.0, s], [-s, -gamma]])
        return jacobian

    def no_r1():
        return lambda theta, psi, gamma: ref(theta, psi, 0.0)

    return (("returns the transpose", transposed), ("takes the Jacobian of the gradients, not of v", gradients),
            ("treats sigmoid(theta psi) as a constant", no_chain_rule), ("forgets the R1 term", no_r1))


register(Exercise(
    name="02.jacobian",
    question="Write the Jacobian of the Dirac GAN's vector field v = (s psi, -s theta - gamma psi), "
             "s = sigmoid(theta psi), at any point (theta, psi), as a 2 x 2 numpy array.",
    kind="code", judge=_judge_dirac_jacobian, make_reference=_dirac_jacobian_reference,
    hints=("Row 0 differentiates v's first component s psi by theta, then by psi; row 1 does the same for "
           "-s theta - gamma psi.",
           "d sigmoid(t)/dt = sigmoid(t)(1 - sigmoid(t)), and t = theta psi, so ds/dtheta = s(1 - s) psi.",
           "At (0, 0) your answer must give [[0, 1/2], [-1/2, -gamma]], the matrix of the notebook's eigenvalues."),
    explanation="Product and chain rule on each component; at the equilibrium every s(1 - s) term is "
                "multiplied by theta or psi and vanishes, leaving [[0, 1/2], [-1/2, -gamma]].",
    mistakes=_dirac_jacobian_mistakes(),
))


register(predict_choice(
    "07.cheap_drop",
    "Against the optimal D, the non-saturating G descends KL(P_G || P_R) - 2 JS(P_G || P_R). On the target "
    "with separation 0.96, which G does that divergence charge less: 'one mode' (one of the two modes, "
    "perfectly) or 'normal' (a normal with the target's mean and std)?",
    "one mode", options=("one mode", "normal", "about the same"),
    why="KL(P_G || P_R) weighs log(p_G / p_R) by G's own density: a missing mode counts only through p_R, "
        "which is half of p_G wherever a one-mode G puts its values (KL = log 2, however far off the other "
        "mode), while a normal puts its peak in the gap, where the data have almost no density, and pays "
        "log of a large ratio there; the JS term is at most log 2 and cannot make up for it. W1 and JS rank "
        "the two the other way round.",
    hints=("Where p_G = 0 (the dropped mode) KL(P_G || P_R) has no integrand at all; where G sits, p_R is "
           "half of p_G.",
           "The target's density in the gap is under 1% of its peak: what is log(p_G / p_R) there for a "
           "normal centred on the gap?"),
    wrong_reasons={"normal": "the normal is nearer in W1 and in JS, but KL(P_G || P_R) charges it for its "
                             "mass in the gap, where p_R is tiny",
                   "about the same": "the two differ by a factor of about four: KL(P_G || P_R) treats missing "
                                     "mass and misplaced mass very differently"},
))


# ----------------------------------------------------------------------------------------------
# Notebook 08: two dimensions
# ----------------------------------------------------------------------------------------------

register(numeric(
    "08.high_quality",
    ("A point is high quality when it lies within 3 component stds of a mode's centre. What share of an EXACT "
     "sample of the ring (each point drawn from its own 2-D normal of std s around its centre) is high quality? "
     "Give a number between 0 and 1 to three decimals."),
    1 - math.exp(-4.5), 0.001,
    why=("The squared distance to the centre, in units of s, is z1^2 + z2^2 for two independent standard normals: "
         "chi-square with 2 degrees of freedom, whose tail is P(R^2 > r^2) = exp(-r^2 / 2). At r = 3 that leaves "
         "exp(-4.5) = 1.1% outside and 98.9% inside, less than the 99.7% of the 1-D three-sigma rule."),
    hints=("The distance to the centre combines two independent normal offsets, one per coordinate.",
           "z1^2 + z2^2 has the chi-square distribution with 2 degrees of freedom: P(z1^2 + z2^2 > t) = exp(-t / 2).",
           "Put t = 3^2 = 9."),
    mistakes=(("the 1-D three-sigma rule", 0.9973), ("exp(-4.5), the share outside", math.exp(-4.5)),
              ("a radius of 3 in variance units, 1 - exp(-1.5)", 1 - math.exp(-1.5))),
    diagnose={0.9973: ("0.997 is the 1-D three-sigma rule; in the plane both coordinates must be near the centre, "
                       "and the squared distance is a chi-square with 2 degrees of freedom"),
              round(math.exp(-4.5), 4): "that is the share OUTSIDE the circle of 3 stds"},
))


def _sliced_reference() -> Callable:
    def sliced_w1(a, b, directions):
        # project each set on each direction: (n, L); sort each column; average |difference| over points,
        # then over directions
        pa = np.sort(a @ directions.T, axis=0)
        pb = np.sort(b @ directions.T, axis=0)
        return float(np.abs(pa - pb).mean())

    return sliced_w1


def _judge_sliced(answer: Any) -> str | None:
    from ganlib.plane import slice_directions
    from ganlib.plane import sliced_w1 as reference

    rng = np.random.default_rng(11)
    a = rng.normal(size=(200, 2))
    b = rng.normal(size=(200, 2)) * [2.0, 0.5] + [1.0, 0.0]
    u = slice_directions(16)
    got = call(answer, a, b, u)
    try:
        got = float(got)
    except (TypeError, ValueError):
        return f"return one number, not {type(got).__name__}"
    want = float(reference(a, b, u))
    if abs(got - want) <= 1e-9 * max(1.0, want):
        return None
    unsorted = float(np.abs(a @ u.T - b @ u.T).mean())
    if abs(got - unsorted) <= 1e-6:
        return ("you compare the i-th point of a with the i-th point of b: sort each set's projections first, so "
                "the smallest meets the smallest (the 1-D W1 of notebook 00)")
    coords = float(np.abs(np.sort(a, 0) - np.sort(b, 0)).mean())
    if abs(got - coords) <= 1e-6:
        return "that sorts the two coordinates: project onto each of the given directions instead (a @ directions.T)"
    return "not the mean over directions of the 1-D W1 between the two sets' projections"


def _sliced_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    def unsorted():
        def sliced_w1(a, b, directions):
            return float(np.abs(a @ directions.T - b @ directions.T).mean())
        return sliced_w1

    def coordinates():
        def sliced_w1(a, b, directions):
            return float(np.abs(np.sort(a, 0) - np.sort(b, 0)).mean())
        return sliced_w1

    return (("projections not sorted", unsorted), ("the coordinates sorted, no projection", coordinates))


register(Exercise(
    name="08.sliced_w1",
    question=("Write sliced_w1(a, b, directions): a and b are (n, 2) arrays of points, directions an (L, 2) array of "
              "unit vectors. Return the mean over the directions of the exact 1-D W1 between the two sets' "
              "projections."),
    kind="code", judge=_judge_sliced, make_reference=_sliced_reference,
    hints=("a @ directions.T holds every point's projection on every direction: shape (n, L).",
           "The 1-D W1 between two samples of equal size: sort both, then average the absolute differences.",
           "Sort along the points' axis (axis=0), take |pa - pb|, and average over everything."),
    explanation=("Each projection is a 1-D sample, and in 1-D the exact W1 between equal-size samples pairs them "
                 "in sorted order. Averaging over directions gives a distance that sees the whole 2-D shape "
                 "without any mode structure; the sort survives, on projections."),
    mistakes=_sliced_mistakes(),
))

# ----------------------------------------------------------------------------------------------
# Notebook 09: from 1-D to images
# ----------------------------------------------------------------------------------------------

def _frechet_oracle(mu1: Any, cov1: Any, mu2: Any, cov2: Any) -> float:
    """The squared Frechet distance from the eigenvalues of cov1 @ cov2 (a general, non-symmetric
    eigenproblem: independent of ganlib.images, which uses two symmetric ones). Those eigenvalues are
    real and non-negative (cov1 @ cov2 is similar to cov1^1/2 cov2 cov1^1/2), and the square roots of
    them are the eigenvalues of (cov1 cov2)^1/2, so their sum is its trace."""
    import numpy as np

    lam = np.linalg.eigvals(np.asarray(cov1, float) @ np.asarray(cov2, float))
    diff = np.asarray(mu1, float) - np.asarray(mu2, float)
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.sqrt(np.clip(lam.real, 0, None)).sum())


def _frechet_cases() -> list[tuple[str, tuple]]:
    """Fixed test cases: 1-D, identical Gaussians, and two 5-D ones whose covariances do not commute."""
    import numpy as np

    rng = np.random.default_rng(606)
    # the same elongated spectrum (condition number 90) turned two random ways: far from commuting
    q1, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    q2, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    spectrum = np.diag([9.0, 4.0, 1.0, 0.25, 0.1])
    c1, c2 = q1 @ spectrum @ q1.T, q2 @ spectrum @ q2.T
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    return [
        ("two one-dimensional Gaussians, N(1, 2^2) and N(3, 3^2)", (np.array([1.0]), np.array([[4.0]]),
                                                                    np.array([3.0]), np.array([[9.0]]))),
        ("two identical five-dimensional Gaussians", (m1, c1, m1, c1.copy())),
        ("two five-dimensional Gaussians whose covariances do not commute", (m1, c1, m2, c2)),
    ]


def _judge_frechet(answer: Any) -> str | None:
    import numpy as np

    for what, args in _frechet_cases():
        got = call(answer, *[x.copy() for x in args])
        try:
            got = float(got)
        except (TypeError, ValueError):
            return f"return one number, not {type(got).__name__}"
        want = _frechet_oracle(*args)
        # Round-off is relative to the size of the terms that cancel (the traces), not to the answer,
        # which is 0 for the identical pair. The float64 oracle is exact to ~1e-12 of that scale on
        # these well-conditioned matrices (condition number 90 at most); a float32 answer to ~1e-6. A
        # tolerance of 1e-4 of the scale accepts both and rejects every modelled mistake, each of
        # which is off by more than 1% of it on at least one case.
        scale = abs(want) + float(np.trace(args[1]) + np.trace(args[3]))
        if not abs(got - want) <= 1e-4 * scale:
            return f"wrong on {what}: check each of the three terms of the formula"
    return None


def _frechet_reference() -> Callable:
    def frechet(mu1, cov1, mu2, cov2):
        import numpy as np

        # tr (cov1 cov2)^1/2 = tr (cov1^1/2 cov2 cov1^1/2)^1/2, a symmetric matrix: use eigh twice
        w, v = np.linalg.eigh(cov1)
        root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ cov2 @ root1), 0, None)).sum()
        return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * cross)

    return frechet


def _matrix_root(c: Any) -> Any:
    import numpy as np

    w, v = np.linalg.eigh(c)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _frechet_mistakes() -> tuple[tuple[str, Callable], ...]:
    import numpy as np

    def no_two(mu1, cov1, mu2, cov2):
        root = _matrix_root(_matrix_root(cov1) @ cov2 @ _matrix_root(cov1))
        return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - root))

    def elementwise(mu1, cov1, mu2, cov2):
        return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - 2 * np.sqrt(np.abs(cov1 @ cov2))))

    def no_means(mu1, cov1, mu2, cov2):
        return _frechet_reference()(mu1 * 0, cov1, mu2 * 0, cov2)

    def not_squared(mu1, cov1, mu2, cov2):
        return float(np.sqrt(max(_frechet_reference()(mu1, cov1, mu2, cov2), 0.0)))

    def commuting(mu1, cov1, mu2, cov2):
        diff = _matrix_root(cov1) - _matrix_root(cov2)
        return float(np.sum((mu1 - mu2) ** 2) + np.sum(diff * diff))

    return (
        ("the cross term without its factor 2", lambda: no_two),
        ("an elementwise square root of cov1 @ cov2 instead of the matrix square root", lambda: elementwise),
        ("the means left out", lambda: no_means),
        ("the distance itself (a square root) instead of its square", lambda: not_squared),
        ("|cov1^1/2 - cov2^1/2|^2 (Frobenius), right only when the covariances commute", lambda: commuting),
    )


register(Exercise(
    name="09.frechet",
    question=("Write frechet(mu1, cov1, mu2, cov2): the squared Frechet distance between N(mu1, cov1) and "
              "N(mu2, cov2), |mu1 - mu2|^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^1/2), with numpy arrays in and one "
              "float out."),
    kind="code",
    judge=lambda answer: _judge_frechet(answer),
    make_reference=_frechet_reference,
    hints=(
        "Check it in one dimension first: there it is (m1 - m2)^2 + (s1 - s2)^2.",
        "(cov1 cov2)^1/2 is a matrix square root, not np.sqrt of each entry. Its trace is the trace of "
        "(cov1^1/2 cov2 cov1^1/2)^1/2, a symmetric matrix: np.linalg.eigh gives both roots.",
        "The square root of a symmetric positive semi-definite matrix C = V diag(w) V^T is V diag(sqrt w) V^T.",
    ),
    explanation=("The Frechet (2-Wasserstein) distance between two Gaussians has this closed form. "
                 "cov1 cov2 is not symmetric, but it is similar to cov1^1/2 cov2 cov1^1/2, which is, so two "
                 "symmetric eigendecompositions give the trace of its square root without a general sqrtm; "
                 "clipping tiny negative eigenvalues to 0 absorbs round-off."),
    mistakes=_frechet_mistakes(),
))

register(predict_choice(
    "09.copycat",
    ("A 'generator' that returns the training digits themselves, untouched, is no generator at all. Which "
     "measurement flags each copied digit? Answer 'class shares', 'Frechet distance' or 'nearest neighbour'."),
    "nearest neighbour",
    options=("class shares", "Frechet distance", "nearest neighbour"),
    why=("The distance to the nearest training digit is 0 for every copy, against about 17 grey levels from a "
         "held-out real digit to its nearest training digit: it flags each copy. The Frechet distance only hints "
         "at copying: the first 896 of the copies are 896 of the 901 training digits, so it comes out near 0, far "
         "below the floor that two real halves reach, and a value far below the floor is itself a warning; but it "
         "is one number for the whole set and names no copied digit. The class shares are the training digits' "
         "own and cannot see copying at all."),
    hints=("Ask what each measurement compares the generated digits with: the classes, the whole cloud of "
           "features, or each single training digit.",),
    wrong_reasons={
        "class shares": "copies of the training digits have exactly the training digits' class shares.",
        "Frechet distance": ("the copies' features have almost the training digits' mean and covariance, so their "
                             "Frechet distance is far below the real floor: a warning sign, but one number for the "
                             "whole set, which does not say which digits are copies."),
    },
))


register(predict_range(
    "09.coverage",
    ("The article says WGAN 'basically solves mode collapse', which the vanilla GAN suffers from. How many of the "
     "ten digits will notebook 09's vanilla DCGAN (loss 'bce') cover after its 2,000 G updates, that is, draw as at "
     "least 4% of its digits?"),
    9, 10, unit="digits covered", integer=True, allowed=(0, 10), reference=10,
    why=("On these 8x8 digits, with the article's architecture, the vanilla DCGAN covers nine or ten digits after "
         "its 2,000 G updates (it did so for all twelve seeds the course checked): it does not collapse, so there "
         "is at most one digit for WGAN to rescue."),
    hints=("Mode collapse needs a reason: a D that lets G win with a few digits. Look at the class shares figure "
           "after you have committed to a number.",),
    mistakes=(("the article's picture of a collapsed vanilla GAN: a few digits only", 3),
              ("most digits but a couple dropped", 7),
              ("a number that is not a count of digits out of ten", 11)),
))


# ----------------------------------------------------------------------------------------------
# Notebook 10: what carries over to images
# ----------------------------------------------------------------------------------------------

def _recall_reference() -> Callable:
    def recall(real, fake, k=3):
        # each fake point's ball reaches its k-th nearest other fake point
        d_ff = np.linalg.norm(fake[:, None, :] - fake[None, :, :], axis=2)
        np.fill_diagonal(d_ff, np.inf)
        radius = np.sort(d_ff, axis=1)[:, k - 1]
        # a real point counts when it lies inside at least one fake point's ball
        d_fr = np.linalg.norm(fake[:, None, :] - real[None, :, :], axis=2)
        return float(np.mean((d_fr <= radius[:, None]).any(axis=0)))

    return recall


def _recall_cases() -> list[tuple[np.ndarray, np.ndarray, int, float]]:
    """(real, fake, k, right recall): sets where the usual mistakes give other numbers."""
    from ganlib.images import precision_recall

    rng = np.random.default_rng(10)
    cases = []
    for k, (n_real, n_fake, shift) in zip((1, 3, 3), ((30, 20, 0.0), (40, 25, 1.0), (25, 40, 2.0))):
        real = rng.normal(size=(n_real, 2))
        fake = rng.normal(shift, 0.5, size=(n_fake, 2))
        cases.append((real, fake, k, precision_recall(real, fake, k)[1]))
    return cases


def _judge_recall(answer: Any) -> str | None:
    from ganlib.images import precision_recall

    for real, fake, k, want in _recall_cases():
        got = call(answer, real.copy(), fake.copy(), k)
        try:
            got = float(got)
        except (TypeError, ValueError):
            return f"return one number (a share from 0 to 1), not {type(got).__name__}"
        if got == want:
            continue
        if got == precision_recall(real, fake, k)[0]:
            return "that is precision: recall asks which REAL points fall inside the generated points' balls"
        return (f"{got:g} where {want:g} was expected (k = {k}, {len(real)} real and {len(fake)} generated points); "
                "check that each ball's radius is the k-th nearest OTHER generated point, not the point itself")
    return None


def _recall_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    def precision_instead():
        def recall(real, fake, k=3):
            from ganlib.images import precision_recall
            return precision_recall(real, fake, k)[0]
        return recall

    def self_included():
        def recall(real, fake, k=3):
            d_ff = np.linalg.norm(fake[:, None, :] - fake[None, :, :], axis=2)
            radius = np.sort(d_ff, axis=1)[:, k - 1]  # the point itself counts as its own first neighbour
            d_fr = np.linalg.norm(fake[:, None, :] - real[None, :, :], axis=2)
            return float(np.mean((d_fr <= radius[:, None]).any(axis=0)))
        return recall

    def real_radii():
        def recall(real, fake, k=3):
            d_rr = np.linalg.norm(real[:, None, :] - real[None, :, :], axis=2)
            np.fill_diagonal(d_rr, np.inf)
            radius = np.sort(d_rr, axis=1)[:, k - 1]
            d_fr = np.linalg.norm(fake[:, None, :] - real[None, :, :], axis=2)
            return float(np.mean((d_fr <= radius[None, :]).any(axis=0)))
        return recall

    return (("precision computed instead of recall", precision_instead),
            ("each point counted as its own nearest neighbour", self_included),
            ("balls drawn around the real points instead of the generated ones", real_radii))


register(Exercise(
    name="10.recall",
    question=("Write recall(real, fake, k): the share of the real points (rows of `real`) that lie inside at least "
              "one generated point's ball, where each generated point's ball reaches its k-th nearest other "
              "generated point (distances are Euclidean; numpy arrays of shape (N, d) in, one float out)."),
    kind="code", judge=_judge_recall, make_reference=_recall_reference,
    hints=("Start with the (n_fake, n_fake) table of distances between generated points; a point is not its own "
           "neighbour, so put infinity on the diagonal.",
           "Sorting each row and taking column k - 1 gives each generated point's radius.",
           "Then the (n_fake, n_real) distances: a real point is covered when some row has distance <= that row's "
           "radius (np.any over axis 0)."),
    explanation=("Recall swaps precision's roles: the generated points' balls estimate where G draws, and recall "
                 "is the share of the real data inside them. A G that leaves classes out has no balls there, so "
                 "recall falls; blurry or blended images do not lower it."),
    mistakes=_recall_mistakes(),
))


register(predict_choice(
    "10.one_class",
    ("A 'generator' draws real digits, but only 3s. Which of the two falls far below its real-against-real floor: "
     "'precision' or 'recall'?"),
    "recall",
    options=("precision", "recall"),
    why=("Every 3 is a real digit, inside the real digits' balls, so precision stays near its floor; but the 3s' "
         "balls cover only the real 3s and a few neighbours, about a tenth of the data, so recall collapses. "
         "Recall measures missing variety; precision measures unrealistic images."),
    hints=("Precision asks: does each generated digit look like some real one? Recall asks: does each real digit "
           "look like some generated one?",),
    wrong_reasons={"precision": ("each generated 3 is a real digit, so it lies inside the real digits' balls: "
                                 "precision stays near its floor.")},
))


# ----------------------------------------------------------------------------------------------
# Notebook 11: flow matching
# ----------------------------------------------------------------------------------------------

def _fm_loss_reference() -> Callable:
    def fm_loss(v, x0, x1, t):
        # the point on the straight line at time t, and the line's velocity x1 - x0 as the regression target
        xt = (1 - t) * x0 + t * x1
        return ((v(torch.cat([xt, t], 1)) - (x1 - x0)) ** 2).mean()

    return fm_loss


def _judge_fm_loss(answer: Any) -> str | None:
    import torch

    gen = torch.Generator().manual_seed(3)
    x0 = torch.randn(50, 1, generator=gen, dtype=torch.float64)
    x1 = 4.0 + 1.25 * torch.randn(50, 1, generator=gen, dtype=torch.float64)
    t = torch.rand(50, 1, generator=gen, dtype=torch.float64)
    # A velocity "network" whose output depends on x and t in different ways, so that a swapped or a
    # wrong input changes the loss: v(x, t) = 0.7 x - 2 t + 0.3 x t.
    w = torch.tensor([0.7, -2.0, 0.3], dtype=torch.float64, requires_grad=True)

    def v(inp: torch.Tensor) -> torch.Tensor:
        x, tt = inp[:, :1], inp[:, 1:]
        return w[0] * x + w[1] * tt + w[2] * x * tt

    got = call(answer, v, x0, x1, t)
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        return "return one number as a torch tensor (so that backward() can run through it)"
    has_graph = got.requires_grad
    got = got.detach()
    xt = (1 - t) * x0 + t * x1
    want = ((v(torch.cat([xt, t], 1)) - (x1 - x0)) ** 2).mean().detach()
    # float64 throughout: a right answer agrees to rounding, far below 1e-9 relative.
    if abs(float(got) - float(want)) <= 1e-9 * max(1.0, abs(float(want))):
        if not has_graph:
            return "the loss has no graph back to v's weights: compute it with torch operations, no .item() or numpy"
        return None
    wrong_point = ((v(torch.cat([t * x0 + (1 - t) * x1, t], 1)) - (x1 - x0)) ** 2).mean().detach()
    if abs(float(got) - float(wrong_point)) <= 1e-6 * max(1.0, float(wrong_point)):
        return "x_t is at the wrong end of the line: at t = 0 it must be the noise x0, at t = 1 the data x1"
    wrong_target = ((v(torch.cat([xt, t], 1)) - (x0 - x1)) ** 2).mean().detach()
    if abs(float(got) - float(wrong_target)) <= 1e-6 * max(1.0, float(wrong_target)):
        return "the target velocity points backwards: moving from x0 to x1 in unit time takes velocity x1 - x0"
    return "not the mean squared difference between v(x_t, t) and x1 - x0"


def _fm_loss_mistakes() -> tuple[tuple[str, Callable[[], Any]], ...]:
    def backwards():
        def fm_loss(v, x0, x1, t):
            xt = (1 - t) * x0 + t * x1
            return ((v(torch.cat([xt, t], 1)) - (x0 - x1)) ** 2).mean()
        return fm_loss

    def swapped_ends():
        def fm_loss(v, x0, x1, t):
            xt = t * x0 + (1 - t) * x1
            return ((v(torch.cat([xt, t], 1)) - (x1 - x0)) ** 2).mean()
        return fm_loss

    return (("the velocity x0 - x1, backwards", backwards), ("x_t with the ends swapped", swapped_ends))


register(Exercise(
    name="11.fm_loss",
    question="Write the flow-matching loss fm_loss(v, x0, x1, t): v takes (N, 2) inputs [x, t]; x0, x1, t are (N, 1).",
    kind="code", judge=_judge_fm_loss, make_reference=_fm_loss_reference,
    hints=("Put x_t on the straight line from x0 (at t = 0) to x1 (at t = 1).",
           "Along that line the position changes at the constant rate x1 - x0: that is what v should predict.",
           "Concatenate x_t and t along dimension 1 for v's input, and average the squared error over the batch."),
    explanation="A straight path x_t = (1 - t) x0 + t x1 has velocity x1 - x0; regressing v(x_t, t) onto it "
                "makes v the average velocity through each (x, t), whose flow carries the noise onto the data.",
    mistakes=_fm_loss_mistakes(),
))


register(numeric(
    "11.one_step",
    ("A flow with the exact velocity u, sampled with ONE Euler step: x = x0 + u(x0, 0). The target is N(4, 1.25^2) "
     "and the noise N(0, 1), both in their own units (no standardising). Where does the noise value x0 = -1 land?"),
    4.0, 0.01,
    why=("At t = 0 the point x_t is the noise itself, so u(x0, 0) = E[x1 - x0 | x0] = E[x1] - x0: one Euler step "
         "sends every noise value to the target's mean, 4. All the samples land on one point: the flow needs "
         "several steps to spread them out again."),
    hints=("At t = 0, x_t = x0: knowing x_t tells you x0 exactly and nothing about x1.",
           "u(x0, 0) = E[x1 - x0 | x0] = E[x1] - x0, since x1 is drawn independently of x0."),
    mistakes=(("x0 itself: no motion at all", -1.0), ("x0 moved by the target's std", 0.25),
              ("the ideal map F^-1(Phi(x0)) = 4 - 1.25", 2.75)),
    diagnose={-1.0: "that is where x0 starts; one Euler step moves it by u(x0, 0) = E[x1 - x0 | x0]",
              2.75: ("that is where the exact flow, integrated fully, sends -1 (the ideal map); a single step of "
                     "length 1 uses only the velocity at t = 0")},
))


__all__ = ["Exercise", "EXERCISES", "NOT_ATTEMPTED", "register", "call", "numeric", "predict_range",
           "predict_choice"]
