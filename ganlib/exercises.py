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
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
                  reference: float | None = None, integer: bool = False) -> Exercise:
    """A predict-then-measure exercise whose right answers are the numbers in [lo, hi].

    [lo, hi] is the range that held on every seed block the course tried, so a prediction in it
    is right whatever the seed; `check(answer, measured=x)` also prints this run's number.
    """

    def judge(answer: Any, measured: float | None = None) -> str | None:
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return f"write a number{' (a whole one)' if integer else ''}, not {type(answer).__name__}"
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
# Notebook 06: from 1-D to images
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
    name="06.frechet",
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
    "06.copycat",
    ("A 'generator' that returns the training digits themselves, untouched, is no generator at all. Which "
     "measurement exposes it? Answer 'class shares', 'Frechet distance' or 'nearest neighbour'."),
    "nearest neighbour",
    options=("class shares", "Frechet distance", "nearest neighbour"),
    why=("Copies of the training digits have the real class shares and a Frechet distance to the training half of "
         "0, below even the floor that two real halves reach; only the distance to the nearest training digit, "
         "0 for every copy against about 17 grey levels between real digits, gives them away."),
    hints=("Ask what each measurement compares the generated digits with: the classes, the whole cloud of "
           "features, or each single training digit.",),
    wrong_reasons={
        "class shares": "copies of the training digits have exactly the training digits' class shares.",
        "Frechet distance": ("the training digits' features have exactly the training digits' mean and covariance: "
                             "their Frechet distance to them is 0, better than the real floor."),
    },
))


register(predict_range(
    "06.coverage",
    ("The article says WGAN 'basically solves mode collapse', which the vanilla GAN suffers from. How many of the "
     "ten digits will notebook 06's vanilla DCGAN (loss 'bce') cover, that is, draw as at least 4% of its digits?"),
    9, 10, unit="digits covered", integer=True, reference=10,
    why=("On these 8x8 digits, with the article's architecture and BatchNorm in both networks, the vanilla DCGAN "
         "covered nine or ten digits on every seed block we tried: it did not collapse, so WGAN had no digit to "
         "rescue."),
    hints=("Mode collapse needs a reason: a D that lets G win with a few digits. Look at the class shares figure "
           "after you have committed to a number.",),
    mistakes=(("the article's picture of a collapsed vanilla GAN: a few digits only", 3),
              ("most digits but a couple dropped", 7),
              ("a number that is not a count of digits out of ten", 11)),
))

__all__ = ["Exercise", "EXERCISES", "NOT_ATTEMPTED", "register", "call", "predict_range", "predict_choice"]
