"""Slider panels and the dashboard, driven headless: set values, press buttons, check what changed."""

from __future__ import annotations

import asyncio

import ipywidgets as W
import pytest

from ganlib import Config
from ganlib import widgets as gw

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Small enough to train in a fraction of a second: the tests check wiring, not GAN quality.
TINY = Config(seeds=2, rounds=60, eval_every=20, eval_samples=500, batch_size=16, g_hidden=(8, 8), d_hidden=(8, 8))
DIVERGING = dict(d_optimizer="sgd", g_optimizer="sgd", d_lr=10.0, g_lr=10.0, normalize=False,
                 target_mean=1000.0, features="batch", lr_decay=1.0)


def test_controls_have_the_right_kind_range_and_apply_on_release() -> None:
    lr = gw.make_control("d_lr", 2e-3)
    assert isinstance(lr, W.FloatLogSlider)
    assert lr.base == 10 and lr.min == -5.0 and lr.value == pytest.approx(2e-3)
    assert lr.continuous_update is False
    assert isinstance(gw.make_control("target", "normal"), W.Dropdown)
    assert isinstance(gw.make_control("d_steps", 1), W.IntSlider)
    rounds = gw.make_control("rounds", 4000)
    assert isinstance(rounds, W.SelectionSlider) and 4000 in rounds.options  # an off-grid value is added
    # A value outside the usual range widens the slider instead of being clamped.
    big = gw.make_control("d_lr", 10.0)
    assert big.value == pytest.approx(10.0) and big.max >= 1.0
    assert gw.make_control("seed", 500).value == 500
    with pytest.raises(ValueError, match="no control for field"):
        gw.make_control("nonsense", 1)


def test_config_with_applies_pseudo_fields() -> None:
    cfg = gw.config_with(TINY, {"width": 32, "g_activations": "tanh", "d_lr": 1e-3})
    assert cfg.g_hidden == (32, 32) and cfg.d_hidden == (32, 32)
    assert cfg.g_activations == ("tanh", "tanh") and cfg.d_lr == 1e-3


def test_training_panel_trains_draws_and_retrains_when_a_slider_moves() -> None:
    panel = gw.training_panel(TINY, ["d_lr", "seed", "target"], gw.dashboard_figure)
    assert panel.last_error is None and panel.runs == 1
    assert bytes(panel.image.value).startswith(PNG_MAGIC)
    assert panel.trainer.round == TINY.rounds
    assert panel.first_draw_seconds is not None
    first_png, first_redraws = panel.image.value, panel.redraws
    panel.controls["seed"].value = 7
    assert panel.runs == 2 and panel.trainer.seeds == [7, 8]
    assert panel.redraws > first_redraws and panel.image.value != first_png
    panel.controls["d_lr"].value = 1e-4
    assert panel.trainer.opt_d.lr == pytest.approx(1e-4)
    assert panel.progress.value == 1.0


def test_a_failing_job_shows_a_message_and_the_panel_stays_usable() -> None:
    calls = []

    def job(cfg: Config, panel: gw.Panel) -> None:
        calls.append(cfg.seed)
        if cfg.seed == 3:
            raise ValueError("seed 3 is cursed")

    panel = gw.Panel(TINY, ["seed"], job)
    panel.controls["seed"].value = 3
    assert "seed 3 is cursed" in panel.message.value and panel.status.value == "failed"
    panel.controls["seed"].value = 4
    assert panel.message.value == "" and panel.last_error is None
    assert calls == [3, 4]


def test_an_invalid_combination_is_reported_not_raised() -> None:
    # batch 8 is fine, but 'meanstd' with a batch of 2 is not: the check lives in Config.
    panel = gw.Panel(TINY.replace(batch_size=2, features="batch"), ["features"], lambda c, p: None)
    panel.controls["features"].value = "meanstd"
    assert "batch_size=2 is not allowed" in panel.message.value


def test_divergence_is_shown_in_the_panel() -> None:
    panel = gw.training_panel(TINY.replace(**DIVERGING), ["seed"], gw.dashboard_figure)
    assert panel.last_error is None
    assert "diverged" in panel.message.value and "loss became" in panel.message.value


def test_dashboard_steps_changes_live_fields_and_resets_on_shape_changes() -> None:
    dash = gw.Dashboard(TINY, chunk=10)
    assert dash.trainer.round == 0 and dash.frames == 1  # the initial state is drawn
    dash.step_button.click()
    assert dash.trainer.round == 10 and dash.frames == 2
    dash.step_frames(2)
    assert dash.trainer.round == 30 and dash.trainer.history.rounds == 30
    trainer = dash.trainer
    dash.live["d_lr"].value = 1e-4
    assert dash.trainer is trainer and trainer.opt_d.lr == pytest.approx(1e-4)
    assert "the next rounds use it" in dash.message.value
    dash.live["d_steps"].value = 3
    dash.step_frames(1)
    assert trainer.config.d_steps == 3 and trainer.round == 40
    dash.shape["target"].value = "mixture"
    assert dash.trainer is not trainer and dash.trainer.round == 0
    assert dash.trainer.target.name == "mixture" and "target changed" in dash.message.value
    dash.reset_button.click()
    assert dash.trainer.round == 0
    assert bytes(dash.image.value).startswith(PNG_MAGIC) and dash.fps > 0


def test_dashboard_rejects_a_shape_field_as_live() -> None:
    with pytest.raises(ValueError, match="cannot change during a run"):
        gw.Dashboard(TINY, live_fields=("target",))


def test_dashboard_stops_and_says_so_when_every_run_diverges() -> None:
    # Seed 0 of this setting overflows by round 5 (SGD at lr 10 on unscaled data near 1000).
    dash = gw.Dashboard(TINY.replace(**DIVERGING, seeds=1), chunk=10)
    dash.step_frames(3)
    assert dash.trainer.stopped and not dash.playing
    assert "diverged" in dash.message.value


def test_play_trains_in_the_background_until_pause() -> None:
    async def scenario() -> tuple[int, int]:
        dash = gw.Dashboard(TINY, chunk=5)
        dash.play_button.click()
        assert dash.playing
        # Give the event loop time for a few chunks; each yields between chunks.
        for _ in range(200):
            await asyncio.sleep(0.02)
            if dash.trainer.round >= 15:
                break
        dash.pause_button.click()
        await asyncio.sleep(0.05)
        stopped_at = dash.trainer.round
        await asyncio.sleep(0.1)
        return stopped_at, dash.trainer.round

    stopped_at, later = asyncio.run(scenario())
    assert stopped_at >= 15
    assert later == stopped_at  # paused: no more rounds
