"""ganlib.cli: `python -m ganlib train|sweep|presets`, its JSON and .npy output, and one-line errors."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from ganlib.cli import build_parser, format_table, main, sweep
from ganlib.config import PRESETS, Config
from ganlib.metrics import RunResult
from ganlib.train import Trainer, train

RUN_KEYS = {"seed", "mean", "std", "skew", "kurtosis", "w1", "ks", "success", "label", "diverged_at"}
# Small nets and evaluations: the flags under test do not depend on the network size.
TINY_FLAGS = ["--g-hidden", "8,8", "--d-hidden", "8,8", "--eval-samples", "200", "--batch-size", "16"]


def one_error_line(err: str) -> str:
    assert err.startswith("ganlib: error:"), err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err


def test_train_subprocess_writes_table_json_and_samples(tmp_path):
    js, npy = tmp_path / "out.json", tmp_path / "samples.npy"
    proc = subprocess.run([sys.executable, "-m", "ganlib", "train", "--rounds", "50", "--seeds", "2",
                           "--json", str(js), "--samples", str(npy)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["seed", "mean", "std", "skew", "kurt", "W1", "KS", "label"]
    assert set(lines[1]) == {"-"}
    assert [ln.split()[0] for ln in lines[2:4]] == ["0", "1"]
    assert lines[4].startswith("success: ") and "/2 runs" in lines[4]

    data = json.loads(js.read_text())
    assert {"config", "train_seconds", "runs"} <= set(data)
    assert data["train_seconds"] > 0
    config = Config.from_dict(data["config"])
    assert (config.rounds, config.seeds) == (50, 2) and config.replace(rounds=50, seeds=2) == config
    assert config == Config(rounds=50, seeds=2)
    assert len(data["runs"]) == 2
    for run in data["runs"]:
        assert RUN_KEYS <= set(run)
        assert run["diverged_at"] is None and isinstance(run["success"], bool)
    samples = np.load(npy)
    assert samples.shape == (2, 10_000) and np.isfinite(samples).all()

    # The same config in this process gives the same runs: float32 ulps amplified over 50 rounds stay
    # below 1e-6 (measured 0 on one machine), whereas a wrong seed or config moves W1 by ~1e-2.
    again = train(config)
    for run, r in zip(data["runs"], again.runs):
        assert run["seed"] == r.seed and run["label"] == r.label
        for key in ("mean", "std", "w1", "ks"):
            assert run[key] == pytest.approx(getattr(r, key), abs=1e-4), key
    np.testing.assert_allclose(samples, again.trainer.sample(10_000), rtol=0, atol=1e-4)


def test_bad_flag_subprocess_exits_2_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "ganlib", "train", "--rounds", "abc"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stdout == ""
    err = one_error_line(proc.stderr)
    assert "--rounds" in err and "'abc'" in err


def test_diverged_runs_give_strict_json(tmp_path, capsys):
    # The diverging set-up of test_train (SGD at lr 10, linear nets, raw data at 1000): NaN metrics must be
    # written as null, since JSON has no NaN.
    js = tmp_path / "div.json"
    argv = ["train", *TINY_FLAGS, "--d-optimizer", "sgd", "--g-optimizer", "sgd", "--d-lr", "10", "--g-lr", "10",
            "--features", "batch", "--no-normalize", "--mean", "1000", "--d-activations", "identity,identity",
            "--g-activations", "identity,identity", "--seeds", "2", "--seed", "5", "--lr-decay", "1", "--rounds", "20",
            "--eval-every", "10", "--json", str(js)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    data = json.loads(js.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert [r["label"] for r in data["runs"]] == ["diverged", "diverged"]
    for run in data["runs"]:
        assert isinstance(run["diverged_at"], int) and run["success"] is False
        assert run["w1"] is None and run["mean"] is None
        assert f"(round {run['diverged_at']})" in out


@pytest.mark.parametrize(("argv", "text"), [
    (["--std", "-1"], "target_std=-1.0"),
    (["--mean", "nan"], "target_mean=nan"),
    (["--loss", "foo"], "loss='foo'"),
    (["--d-lr", "0"], "d_lr=0.0"),
    (["--seeds", "0"], "seeds=0"),
    (["--g-hidden", "50", "--g-activations", "elu,elu"], "g_activations=('elu', 'elu')"),
])
def test_bad_values_exit_2_with_one_line(argv, text, capsys):
    assert main(["train", *argv]) == 2
    out, err = capsys.readouterr()
    assert text in one_error_line(err)
    assert out == ""


@pytest.mark.parametrize(("argv", "text"), [
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--rounds", "abc"], "argument --rounds: invalid int value: 'abc'"),
    (["train", "--d-lr", "fast"], "argument --d-lr: invalid float value: 'fast'"),
    (["train", "--g-hidden", "5,x"], "argument --g-hidden"),
    (["train", "--preset", "nope"], "argument --preset: invalid choice: 'nope'"),
    (["train", "--normalize", "yes"], "unrecognized arguments: yes"),
    (["sweep", "--rounds", "5"], "the following arguments are required: --grid"),
    (["fly"], "invalid choice: 'fly'"),
    ([], "the following arguments are required: command"),
])
def test_bad_flags_exit_2_with_one_line(argv, text, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert text in one_error_line(err)
    assert out == ""


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when no GPU is present")
def test_cuda_without_a_gpu_exits_2(capsys):
    assert main(["train", "--device", "cuda", "--rounds", "1", "--seeds", "1"]) == 2
    assert "device='cuda' is not available" in one_error_line(capsys.readouterr().err)


def test_every_config_field_has_a_flag():
    # Spell out every field of the defaults as flags; the parser must give back exactly those values.
    defaults = Config()
    argv = ["train"]
    for f in dataclasses.fields(Config):
        value = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + f.name.replace("_", "-"))
        elif isinstance(value, tuple):
            argv += [flag, ",".join(map(str, value))]
        else:
            argv += [flag, repr(value) if isinstance(value, float) else str(value)]
    args = build_parser().parse_args(argv)
    assert Config(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Config)}) == defaults
    short = build_parser().parse_args(["train", "--mean", "-2.5", "--std", "0.5", "--no-normalize"])
    assert (short.target_mean, short.target_std, short.normalize) == (-2.5, 0.5, False)


def test_presets_lists_every_preset(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(":")[0] for ln in lines] == list(PRESETS)
    assert "the Config defaults" in lines[list(PRESETS).index("recommended")]
    assert "d_lr=0.0002" in lines[list(PRESETS).index("devnag")]


def test_sweep_gives_one_cell_per_combination(tmp_path, capsys):
    js = tmp_path / "sweep.json"
    argv = ["sweep", "--grid", "lr=1e-3,1e-2", "--grid", "d_steps=1,2", "--rounds", "20", "--seeds", "2",
            "--dtype", "float64", *TINY_FLAGS, "--json", str(js)]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["lr", "d_steps", "success", "median", "W1"]
    assert len(out) == 1 + 4 + 1 and "runs x rounds per second" in out[-1]
    data = json.loads(js.read_text())
    cells = data["cells"]
    assert sorted((c["lr"], c["d_steps"]) for c in cells) == [(1e-3, 1), (1e-3, 2), (1e-2, 1), (1e-2, 2)]
    base = Config.from_dict(data["config"])
    for cell in cells:
        assert sum(cell["labels"].values()) == 2 and 0 <= cell["success_rate"] <= 1
        # A cell is exactly the runs a plain Trainer with that setting gives (batched lr in float64).
        runs = Trainer(base.replace(d_lr=cell["lr"], g_lr=cell["lr"], d_steps=cell["d_steps"])).step(20).results(4000)
        assert cell["median_w1"] == pytest.approx(float(np.median([r.w1 for r in runs])), rel=1e-9)
        assert cell["success_rate"] == sum(r.success for r in runs) / 2


@pytest.mark.parametrize(("grid", "text"), [
    ("foo=1,2", "unknown field 'foo'"),
    ("g_hidden=5,6", "g_hidden cannot be swept"),
    ("normalize=1", "normalize cannot be swept"),
    ("d_lr=a,b", "values must be float"),
    ("d_steps=1.5", "values must be int"),
    ("d_lr=", "give NAME=V1,V2"),
])
def test_bad_grids_exit_2(grid, text, capsys):
    assert main(["sweep", "--grid", grid, "--rounds", "1", "--seeds", "1"]) == 2
    assert text in one_error_line(capsys.readouterr().err)


def test_sweep_over_a_string_field_prints_its_table(capsys):
    argv = ["sweep", "--grid", "features=value,sorted", "--rounds", "2", "--seeds", "1", *TINY_FLAGS]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in out[1:3]] == ["value", "sorted"]


def test_sweep_over_seeds_is_rejected_or_honoured():
    c = Config(rounds=2, seeds=2, g_hidden=(4,), g_activations=("elu",), d_hidden=(4,), d_activations=("elu",),
               eval_samples=100)
    try:
        out = sweep(c, {"seeds": [1, 3]})
    except ValueError:
        return
    assert [sum(cell["labels"].values()) for cell in out["cells"]] == [1, 3]


def test_format_table_by_hand():
    runs = [
        RunResult(seed=3, mean=4.01234, std=1.2, skew=0.015, kurtosis=-0.5, w1=0.05, w1_sigma=0.04, ks=0.02,
                  success=True, label="good", diverged_at=None),
        RunResult(seed=4, mean=math.nan, std=math.nan, skew=math.nan, kurtosis=math.nan, w1=math.nan,
                  w1_sigma=math.nan, ks=math.nan, success=False, label="diverged", diverged_at=7,
                  diverged_reason="D loss became nan at round 7"),
    ]
    lines = format_table(runs).splitlines()
    assert len(lines) == 4
    assert lines[2].split() == ["3", "4.012", "1.200", "0.01", "-0.50", "0.050", "0.020", "good"]
    assert lines[3].split() == ["4", "nan", "nan", "nan", "nan", "nan", "nan", "diverged", "(round", "7)"]
