"""The budget record (G updates, D updates, CPU seconds at each evaluation), the critic warm-up and plot_budget."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch

from ganlib.config import Config
from ganlib.plots import plot_budget
from ganlib.train import BUDGET_AXES, History, Trainer, estimate_memory, train

PER_ROUND = ("d_loss", "g_loss", "d_real", "d_fake")


def assert_same_training(a: Trainer, b: Trainer) -> None:
    """Bit for bit the same per-round history and parameters."""
    ha, hb = a.history, b.history
    for name in PER_ROUND:
        np.testing.assert_array_equal(getattr(ha, name), getattr(hb, name), err_msg=name)
    for p, q in zip(a.G.params + a.D.params, b.G.params + b.D.params):
        assert torch.equal(p, q)


# ----- the budget record -----

def test_budget_counts_match_a_hand_count_without_warm_up(tiny) -> None:
    c = tiny(d_steps=3, g_steps=2, eval_every=5, rounds=12)
    h = Trainer(c).step(12).history
    np.testing.assert_array_equal(h.eval_round, [0, 5, 10, 12])
    np.testing.assert_array_equal(h.d_updates, [0, 15, 30, 36])  # 3 D steps a round
    np.testing.assert_array_equal(h.g_updates, [0, 10, 20, 24])  # 2 G steps a round
    for axis in BUDGET_AXES:
        assert h.budget(axis).shape == h.eval_round.shape and h.w1.shape[1] == h.eval_round.size
    assert h.budget("round") is h.eval_round and h.budget("d_updates") is h.d_updates


def test_budget_counts_the_warm_up_rounds_by_hand(tiny) -> None:
    # critic_warmup=(7, 2, 5): rounds 0 and 1 (r < 2) and every 5th round (0, 5, 10) take 7 D steps, the rest 3.
    # Rounds 0-4: 7 + 7 + 3 + 3 + 3 = 23; rounds 5-9: 7 + 4 x 3 = 19 (42); rounds 10-11: 7 + 3 = 10 (52).
    c = tiny(d_steps=3, g_steps=2, eval_every=5, rounds=12, critic_warmup=(7, 2, 5))
    assert [c.d_steps_at(r) for r in range(12)] == [7, 7, 3, 3, 3, 7, 3, 3, 3, 3, 7, 3]
    h = Trainer(c).step(12).history
    np.testing.assert_array_equal(h.eval_round, [0, 5, 10, 12])
    np.testing.assert_array_equal(h.d_updates, [0, 23, 42, 52])
    np.testing.assert_array_equal(h.g_updates, [0, 10, 20, 24])
    # Stepped a round at a time, each step evaluated: the running count after every round.
    one = Trainer(c)
    for _ in range(12):
        one.step(1)
    np.testing.assert_array_equal(one.history.d_updates, [0, 7, 14, 17, 20, 23, 30, 33, 36, 39, 42, 49, 52])
    assert (one.d_updates, one.g_updates) == (52, 24)


def test_cpu_seconds_grow_from_zero_and_leave_out_the_callback(tiny) -> None:
    burnt = []

    def busy(_tr: Trainer) -> None:
        # 0.2 s of this process's CPU in the callback: not the run's cost.
        t0 = time.process_time()
        while time.process_time() - t0 < 0.2:
            pass
        burnt.append(time.process_time() - t0)

    tr = Trainer(tiny(rounds=40, eval_every=10)).step(40, busy)
    cpu = tr.history.cpu_seconds
    assert cpu.dtype == np.float64 and cpu.shape == tr.history.eval_round.shape
    assert cpu[0] == 0.0 and cpu[-1] > 0 and np.all(np.diff(cpu) >= 0)
    assert cpu[-1] == tr.cpu_seconds
    assert cpu[-1] < sum(burnt) / 2, (cpu, burnt)


def test_history_budget_rejects_an_unknown_axis_in_one_line(tiny) -> None:
    h = Trainer(tiny()).history
    with pytest.raises(ValueError, match=re.escape("axis='wall' is not allowed: choose one of round, g_upd")) as exc:
        h.budget("wall")
    assert "\n" not in str(exc.value)


def test_a_history_built_without_a_budget_still_builds() -> None:
    # Code that builds a History by hand (without the budget fields) keeps working; its budget is empty.
    empty = np.zeros((1, 0))
    h = History(seeds=[0], d_loss=empty, g_loss=empty, d_real=empty, d_fake=empty, eval_round=np.zeros(0, int),
                **{k: empty for k in ("mean", "std", "skew", "kurtosis", "w1", "ks", "mass_low", "mass_high",
                                      "gap_mass")})
    assert h.d_updates.size == h.g_updates.size == h.cpu_seconds.size == 0


# ----- the critic warm-up -----

def test_warm_up_off_changes_nothing(tiny) -> None:
    # n_steps 0 is off whatever the rest says, and a warm-up of as many D steps as d_steps changes no number: it
    # only ends chunks at the warm-up's rounds, which draw the same random numbers.
    c = tiny(dtype="float64", loss="wgan-gp", d_steps=3, rounds=30, eval_every=10)
    base = Trainer(c).step(30)
    for warm in ((0, 0, 0), (0, 7, 4), (3, 7, 4)):
        other = Trainer(c.replace(critic_warmup=warm)).step(30)
        assert_same_training(base, other)
        np.testing.assert_array_equal(other.history.w1, base.history.w1)
        np.testing.assert_array_equal(other.history.d_updates, base.history.d_updates)


def test_warm_up_equals_changing_d_steps_by_hand(tiny) -> None:
    # The warm-up's rounds are exactly rounds with more D steps: the same run as set(d_steps=...) at those rounds.
    c = tiny(dtype="float64", loss="wgan", d_steps=3, g_steps=2, rounds=12, eval_every=5, critic_warmup=(7, 2, 5))
    warm = Trainer(c).step(12)
    by_hand = Trainer(c.replace(critic_warmup=(0, 0, 0)))
    for d_steps, n in [(7, 2), (3, 3), (7, 1), (3, 4), (7, 1), (3, 1)]:
        by_hand.set(d_steps=d_steps)
        by_hand.step(n)
    assert_same_training(warm, by_hand)
    assert warm.d_updates == by_hand.d_updates == 52
    # ...and it does change the run.
    plain = Trainer(c.replace(critic_warmup=(0, 0, 0))).step(12)
    assert not np.array_equal(plain.history.d_loss, warm.history.d_loss)


def test_a_warm_up_run_is_reproducible_and_independent_of_chunking(tiny) -> None:
    c = tiny(loss="wgan-gp", features="sorted", d_steps=2, rounds=40, eval_every=10, critic_warmup=(5, 3, 7))
    a, b = Trainer(c).step(40), Trainer(c).step(40)
    assert_same_training(a, b)
    np.testing.assert_array_equal(a.history.w1, b.history.w1)
    np.testing.assert_array_equal(a.sample(300), b.sample(300))
    parts = Trainer(c).step(6).step(0).step(11).step(23)
    assert_same_training(a, parts)


def test_warm_up_rounds_share_the_ordinary_rounds_buffers(tiny) -> None:
    c = tiny(loss="wgan-gp", d_steps=2, rounds=40, eval_every=10, critic_warmup=(6, 3, 7))
    tr = Trainer(c).step(3)
    ptrs = {name: t.data_ptr() for name, t in tr._chunk.items()}
    tr.step(30)  # ordinary and periodic warm-up chunks alike
    assert {name: t.data_ptr() for name, t in tr._chunk.items()} == ptrs


def test_a_live_d_steps_change_keeps_the_warm_up(tiny) -> None:
    c = tiny(d_steps=3, rounds=12, eval_every=5, critic_warmup=(7, 2, 5))
    tr = Trainer(c).step(4)  # 7 + 7 + 3 + 3 = 20
    tr.set(d_steps=1)
    tr.step(8)  # rounds 4-11: 1 + 7 + 1 + 1 + 1 + 1 + 7 + 1 = 20
    assert tr.d_updates == 40 and tr.config.d_steps == 1 and tr.config.critic_warmup == (7, 2, 5)


def test_the_memory_estimate_counts_the_warm_up_rounds_d_steps(tiny) -> None:
    # Random numbers for 100 D steps a round: the warm-up's buffers dominate the chunk.
    c = tiny(seeds=64, batch_size=200, d_steps=1, rounds=20, eval_every=20)
    plain, warm = estimate_memory(c), estimate_memory(c.replace(critic_warmup=(100, 2, 0)))
    assert warm.parts["random numbers"] > 10 * plain.parts["random numbers"]
    assert warm.largest == "random numbers"
    # As if d_steps were the warm-up's: at least what 100 D steps every round would take.
    assert warm.parts["random numbers"] >= estimate_memory(c.replace(d_steps=100)).parts["random numbers"]


# ----- plot_budget -----

@pytest.fixture(scope="module")
def two_results():
    # Module scope (both tests draw the same two trainings), so not the function-scoped `tiny` fixture.
    base = Config(g_hidden=(8, 8), d_hidden=(8, 8), features="value", batch_size=16, rounds=30, eval_every=10,
                  eval_samples=200, seeds=3, seed=5)
    return {"one D step": train(base, n_final=200),
            "WGAN, warm-up": train(base.replace(loss="wgan", d_steps=2, critic_warmup=(4, 5, 0)), n_final=200)}


def test_plot_budget_draws_one_median_per_result_on_the_chosen_axis(two_results) -> None:
    fig = plot_budget(two_results, "d_updates")
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("success")]
    assert len(lines) == 2 and len(ax.collections) == 2  # a line and a 25-75% band per result
    assert ax.get_xlabel() == "D updates" and ax.get_yscale() == "log"
    warm = two_results["WGAN, warm-up"]
    # Rounds 0-4 take 4 D steps, the rest 2: 20 + 5 x 2 = 30 by round 10, then 20 more every 10 rounds.
    np.testing.assert_array_equal(lines[1].get_xdata(), [0, 30, 50, 70])
    np.testing.assert_allclose(lines[1].get_ydata(), np.median(warm.history.w1, 0) / warm.trainer.target.std)
    assert any(ln.get_label().startswith("success") for ln in ax.get_lines())
    assert plot_budget(two_results, "cpu_seconds").axes[0].get_xlabel() == "CPU seconds"


def test_plot_budget_takes_a_history_with_its_target_std(two_results) -> None:
    result = two_results["one D step"]
    fig = plot_budget({"h": result.history}, "g_updates", target_std=result.trainer.target.std)
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_xdata(), [0, 10, 20, 30])
    with pytest.raises(ValueError, match="give target_std"):
        plot_budget({"h": result.history})


@pytest.mark.parametrize(("kwargs", "text"), [
    (dict(axis="wall_seconds"), "axis='wall_seconds' is not allowed"),
    (dict(metric="frechet"), "metric='frechet' is not allowed"),
])
def test_plot_budget_rejects_an_unknown_axis_or_metric_in_one_line(kwargs, text, two_results) -> None:
    with pytest.raises(ValueError, match=re.escape(text)) as exc:
        plot_budget(two_results, **kwargs)
    assert "\n" not in str(exc.value)
