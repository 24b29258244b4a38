"""ganlib picks its own thread count: one unless asked for more, and gives the caller's back."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from ganlib import images as I
from ganlib import threads as T
from ganlib.cli import main
from ganlib.train import Trainer, train


@pytest.fixture(autouse=True)
def caller_threads(monkeypatch):
    """No GAN_COURSE_THREADS from the shell that runs the tests; the caller's own count is 2."""
    monkeypatch.delenv(T.ENV_VAR, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def test_default_is_one_thread_and_the_argument_beats_the_environment(monkeypatch):
    assert T.course_threads() == 1
    monkeypatch.setenv(T.ENV_VAR, " 3 ")
    assert T.course_threads() == 3
    assert T.course_threads(2) == 2
    monkeypatch.setenv(T.ENV_VAR, "")
    assert T.course_threads() == 1
    # OMP_NUM_THREADS sets torch's default, not the trainers' count.
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert T.course_threads() == 1


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "four", T.MAX_THREADS + 1])
def test_bad_counts_are_one_line_naming_where_they_came_from(value, monkeypatch):
    with pytest.raises(ValueError, match=r"^threads=.* is not allowed: a whole number of CPU threads from 1 to 1024$"):
        T.course_threads(value)
    monkeypatch.setenv(T.ENV_VAR, str(value))
    if value in (True, 2.5):
        return  # as text these are 'True' and '2.5': checked below with the others
    with pytest.raises(ValueError, match=rf"^{T.ENV_VAR}=.* is not allowed"):
        T.course_threads()


def test_bad_environment_text_is_refused(monkeypatch):
    for text in ("2.5", "True", "1e3", "-3"):
        monkeypatch.setenv(T.ENV_VAR, text)
        with pytest.raises(ValueError, match=rf"^{T.ENV_VAR}='{text}' is not allowed"):
            T.course_threads()


def test_using_threads_gives_the_callers_count_back_after_an_error_too(caller_threads):
    with T.using_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == caller_threads
    with pytest.raises(RuntimeError), T.using_threads(1):
        raise RuntimeError("a failing block")
    assert torch.get_num_threads() == caller_threads


def _seen_while_training(trainer: Trainer) -> list[int]:
    seen: list[int] = []
    trainer.step(4, lambda tr: seen.append(torch.get_num_threads()))
    return seen


def test_trainer_trains_on_one_thread_and_restores_the_callers(tiny, caller_threads):
    tr = Trainer(tiny(rounds=4, eval_every=2))
    assert tr.threads == 1
    assert set(_seen_while_training(tr)) == {1}
    assert torch.get_num_threads() == caller_threads
    tr.sample(10)
    tr.results(50)
    tr.generator_map(np.linspace(0, 1, 5))
    tr.discriminator_curve(np.linspace(0, 8, 5))
    assert torch.get_num_threads() == caller_threads


def test_more_threads_when_asked_for_by_argument_or_environment(tiny, monkeypatch):
    torch.set_num_threads(1)
    assert set(_seen_while_training(Trainer(tiny(rounds=4, eval_every=2), threads=2))) == {2}
    monkeypatch.setenv(T.ENV_VAR, "2")
    assert set(_seen_while_training(Trainer(tiny(rounds=4, eval_every=2)))) == {2}
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="^threads=0 is not allowed"):
        Trainer(tiny(), threads=0)


def test_a_worker_thread_trains_on_one_thread_too(tiny):
    # A slider panel runs its job in a worker thread, which starts with torch's default count.
    seen: list[int] = []

    def job() -> None:
        torch.set_num_threads(2)
        seen.extend(_seen_while_training(Trainer(tiny(rounds=4, eval_every=2))))
        seen.append(torch.get_num_threads())

    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    assert seen == [1, 1, 2]


def test_the_thread_count_changes_speed_not_results(tiny):
    # Float64 and short runs: the batched products of these small nets do not split across threads,
    # and any difference in summation order would stay far below 1e-12 over 60 rounds.
    cfg = tiny(rounds=60, eval_every=30, dtype="float64")
    one, two = train(cfg, threads=1, n_final=500), train(cfg, threads=2, n_final=500)
    assert np.allclose(one.trainer.sample(500), two.trainer.sample(500), rtol=0, atol=1e-12)


def test_digits_trainer_trains_on_its_own_threads(caller_threads):
    cfg = I.digits_config("bce", rounds=2, eval_every=1, batch_size=16, ngf=8, ndf=8, nz=8, grid=8)
    judge = I.default_judge()
    seen: list[int] = []
    tr = I.DigitsTrainer(cfg, judge)
    tr.step(2, lambda t: seen.append(torch.get_num_threads()))
    tr.sample(20)
    assert tr.threads == 1 and seen == [1, 1]
    assert torch.get_num_threads() == caller_threads
    assert I.DigitsTrainer(cfg, judge, threads=2).threads == 2


def test_cli_passes_threads_and_refuses_bad_ones(monkeypatch, capsys):
    asked: list[int | None] = []
    real_train = train

    def spy(config, progress=None, **kwargs):
        asked.append(kwargs.get("threads"))
        return real_train(config.replace(rounds=2, seeds=1, eval_every=1), progress, **kwargs)

    monkeypatch.setattr("ganlib.cli.train", spy)
    assert main(["train", "--rounds", "2", "--seeds", "1", "--threads", "2"]) == 0
    assert main(["train", "--rounds", "2", "--seeds", "1"]) == 0
    assert asked == [2, None]
    capsys.readouterr()
    for bad in ("0", "two"):
        with pytest.raises(SystemExit) as stop:
            main(["train", "--threads", bad])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"argument --threads: '{bad}' is not allowed" in err
    monkeypatch.setenv(T.ENV_VAR, "lots")
    assert main(["train", "--rounds", "2"]) == 2
    assert capsys.readouterr().err == (f"ganlib: error: {T.ENV_VAR}='lots' is not allowed: a whole number of CPU "
                                       "threads from 1 to 1024\n")
    assert asked == [2, None]  # nothing trained
