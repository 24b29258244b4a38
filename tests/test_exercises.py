"""Every exercise: accepts its reference answer, says "not attempted" for None and for a stub, and
rejects each of its typical wrong answers with a line that says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from ganlib.exercises import EXERCISES, NOT_ATTEMPTED

NAMES = sorted(EXERCISES)


def test_every_notebook_from_01_on_has_at_least_two_exercises() -> None:
    import glob
    import os

    for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "0[1-9]_*.ipynb"))):
        number = os.path.basename(path)[:2]
        assert sum(n.startswith(number + ".") for n in NAMES) >= 2, f"notebook {number} has fewer than two exercises"


def test_notebooks_check_every_exercise_of_theirs() -> None:
    import glob
    import json
    import os

    for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "[0-9][0-9]_*.ipynb"))):
        number = os.path.basename(path)[:2]
        with open(path) as fh:
            code = "\n".join("".join(c["source"]) for c in json.load(fh)["cells"] if c["cell_type"] == "code")
        for name in (n for n in NAMES if n.startswith(number + ".")):
            assert f'EXERCISES["{name}"]' in code, f"{name} is registered but notebook {number} never checks it"


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_answer_is_accepted(name: str, capsys) -> None:
    ex = EXERCISES[name]
    assert ex.check(ex.reference()) is True
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "not yet" not in out


@pytest.mark.parametrize("name", NAMES)
def test_no_answer_and_a_stub_are_not_attempted(name: str, capsys) -> None:
    ex = EXERCISES[name]
    assert ex.check(None) is False
    assert NOT_ATTEMPTED in capsys.readouterr().out
    if ex.kind == "code" and callable(ex.reference()):
        def stub(*args, **kwargs):
            raise NotImplementedError
        assert ex.check(stub) is False
        assert NOT_ATTEMPTED in capsys.readouterr().out


@pytest.mark.parametrize("name", NAMES)
def test_typical_mistakes_are_rejected_with_a_useful_line(name: str, capsys) -> None:
    ex = EXERCISES[name]
    assert ex.mistakes, f"{name} lists no typical wrong answer"
    for what, make in ex.mistakes:
        assert ex.check(make()) is False, f"{name} accepted a wrong answer that {what}"
        line = capsys.readouterr().out.strip()
        # One line that says what is wrong, beyond the bare verdict.
        assert line.startswith(f"{name}: not yet: ") and len(line) > len(name) + 25 and "\n" not in line, line


@pytest.mark.parametrize("name", NAMES)
def test_hints_and_solution_print(name: str, capsys) -> None:
    ex = EXERCISES[name]
    assert ex.hints
    ex.hint()
    assert "hint 1 of" in capsys.readouterr().out
    ex.solution()
    out = capsys.readouterr().out
    assert "a reference answer" in out and "Why:" in out
    with pytest.raises(ValueError, match="hints 1 to"):
        ex.hint(len(ex.hints) + 1)


def test_a_buggy_answer_is_reported_in_one_line(capsys) -> None:
    ex = EXERCISES["00.laplace_map"]

    def crashes(z, mean, std):
        return z[10**9]

    assert ex.check(crashes) is False
    out = capsys.readouterr().out
    assert out.startswith("00.laplace_map: not yet: your answer raised IndexError") and out.count("\n") == 1


# ----- issue 31: a prediction that asks for a whole number gets one -----

@pytest.mark.parametrize(("name", "answer", "text"), [
    ("01.devnag_success", 1.5, "a whole number from 0 to 10"),
    ("01.devnag_success", -4.5, "a whole number from 0 to 10"),
    ("01.devnag_success", -1, "a whole number from 0 to 10"),
    ("01.devnag_success", 11, "a whole number from 0 to 10"),
    ("05.clip_scale", -4.5, "a whole number"),
    ("09.coverage", 9.5, "a whole number from 0 to 10"),
    ("09.coverage", float("nan"), "a whole number from 0 to 10"),
])
def test_a_whole_number_question_refuses_other_numbers(name, answer, text, capsys) -> None:
    # 1.5 lies inside 01's right range [0, 2] and -4.5 inside 04's [-5, -4]: both were "right" before.
    ex = EXERCISES[name]
    assert ex.check(answer) is False
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and text in out
    assert "too low" not in out and "too high" not in out  # the form is wrong; nothing said about the answer


@pytest.mark.parametrize("answer", [float("nan"), float("inf"), float("-inf")])
def test_a_prediction_is_a_finite_number(answer, capsys) -> None:
    # NaN compares False with both ends of the range, so it was "right: nan is in the range".
    from ganlib.exercises import predict_range

    ex = predict_range("t.ratio", "What ratio?", 0.1, 0.3, unit="", why="because", hints=("h",), mistakes=())
    assert ex.check(0.2) is True
    assert ex.check(answer) is False
    assert "a finite number" in capsys.readouterr().out


@pytest.mark.parametrize("answer", [True, False, np.True_])
def test_a_bool_is_not_a_whole_number(answer, capsys) -> None:
    # True was taken for 1: "right: 1 is in the range" (issue 31 QA).
    assert EXERCISES["01.devnag_success"].check(answer) is False
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "write a whole number from 0 to 10, not bool" in out
    assert EXERCISES["01.devnag_success"].check(1) is True
