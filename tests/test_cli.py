"""ganlib.cli: `python -m ganlib train|sweep|presets`, its JSON and .npy output, and one-line errors."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from ganlib.cli import build_parser, format_table, main
from ganlib.config import PRESETS, Config
from ganlib.metrics import RunResult
from ganlib.sweep import sweep
from ganlib.train import Trainer, train

RUN_KEYS = {"seed", "mean", "std", "skew", "kurtosis", "w1", "w1_sigma", "ks", "success", "label", "diverged_at"}
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
    assert lines[0].split() == ["seed", "mean", "std", "skew", "kurt", "W1/std", "KS", "label"]
    assert set(lines[1]) == {"-"}
    assert [ln.split()[0] for ln in lines[2:4]] == ["0", "1"]
    assert lines[4].startswith("success: ") and "/2 runs" in lines[4]
    close = sum(ln.endswith(("good", "wrong shape")) for ln in lines[2:4])
    assert lines[5] == f"mean and std close: {close}/2 runs (labels good or wrong shape)"

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


def test_train_counts_close_runs_from_the_labels(monkeypatch, capsys):
    # The count under the success line, on known labels (a short real run is rarely close, so it would print 0
    # whatever the arithmetic): 1 success, and 3 runs close in mean and std (good, wrong shape twice).
    from types import SimpleNamespace

    import ganlib.cli as cli
    from ganlib.metrics import LABELS

    labels = [*LABELS, "wrong shape"]
    runs = [SimpleNamespace(label=lab, success=lab == "good") for lab in labels]
    monkeypatch.setattr(cli, "train", lambda config, progress, **kw: SimpleNamespace(runs=runs, seconds=1.0))
    monkeypatch.setattr(cli, "format_table", lambda runs, std: "")
    assert main(["train", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert f"success: 1/{len(labels)} runs" in out
    assert f"mean and std close: 3/{len(labels)} runs (labels good or wrong shape)" in out


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
    (["--target", "mixture", "--mixture-separation", "1"],
     "mixture_separation=1.0 is not allowed: a finite number in [0, 1)"),
    (["--features", "minibatch", "--minibatch-kernels", "0"], "minibatch_kernels=0"),
    (["--d-penalty", "r1", "--r1-gamma", "0"], "r1_gamma=0.0 is not allowed: a finite number in (0, 10000]"),
    (["--d-penalty", "r1", "--r1-gamma", "-1"], "r1_gamma=-1.0 is not allowed"),
    (["--d-penalty", "r1", "--r1-gamma", "nan"], "r1_gamma=nan is not allowed"),
    (["--d-penalty", "r2"], "d_penalty='r2' is not allowed: choose one of none, r1"),
    (["--target", "ring8", "--spectral-norm"], "--spectral-norm has no meaning for the 2-D target ring8"),
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
    # W1/std is the run's w1_sigma (0.04), not its W1 in target units (0.05).
    assert lines[2].split() == ["3", "4.012", "1.200", "0.01", "-0.50", "0.040", "0.020", "good"]
    assert lines[3].split() == ["4", "nan", "nan", "nan", "nan", "nan", "nan", "diverged", "(round", "7)"]


# ----- reliability: values, paths and memory checked before any training -----

@pytest.fixture
def no_training(monkeypatch):
    """Make any training fail the test: errors must come before a Trainer is built."""

    def refuse(*args, **kwargs):
        pytest.fail("a Trainer was built although the command should have stopped before training")

    monkeypatch.setattr("ganlib.cli.Trainer", refuse)
    monkeypatch.setattr("ganlib.cli.train", refuse)


@pytest.mark.parametrize(("text", "value"), [("-1e4", -1e4), ("-1E+4", -1e4), ("-.5e-3", -5e-4), ("-2.5", -2.5),
                                             ("-7", -7.0), ("1e-3", 1e-3)])
def test_negative_numbers_in_scientific_notation_are_values(text, value):
    args = build_parser().parse_args(["train", "--mean", text])
    assert args.target_mean == value
    args = build_parser().parse_args(["sweep", "--target-mean", text, "--grid", "lr=1e-3"])
    assert args.target_mean == value


def test_negative_non_finite_values_reach_the_config_check(capsys, no_training):
    assert main(["train", "--mean", "-inf"]) == 2
    assert "target_mean=-inf is not allowed" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("flag", ["--json", "--samples"])
@pytest.mark.parametrize("where", ["missing_dir", "is_dir", "parent_is_file"])
def test_train_output_paths_are_checked_before_training(flag, where, tmp_path, capsys, no_training):
    (tmp_path / "afile").write_text("x")
    path = {"missing_dir": tmp_path / "nope" / "r.out", "is_dir": tmp_path,
            "parent_is_file": tmp_path / "afile" / "r.out"}[where]
    assert main(["train", "--rounds", "1", "--seeds", "1", flag, str(path)]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert flag in err and str(path) in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_directory_is_refused(tmp_path, capsys, no_training):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["train", "--rounds", "1", "--json", str(locked / "r.json")]) == 2
        assert "not writable" in one_error_line(capsys.readouterr().err)
    finally:
        locked.chmod(0o700)


def test_config_over_the_memory_budget_exits_2_with_what_to_reduce(capsys, no_training):
    # The case: 23.5 GB and the OOM killer after 194 s. Now refused up front.
    argv = ["train", "--rounds", "10", "--seeds", "1", "--eval-samples", "1000000", "--batch-size", "100000",
            "--sets", "1024"]
    assert main(argv) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "GiB" in err and "reduce" in err and "sets" in err


def test_an_allocation_failure_is_one_line(monkeypatch, capsys):
    # What torch raises when malloc fails (copied from a run under `ulimit -d`).
    def fail(self, n):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                           "memory: you tried to allocate 1280000000 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(Trainer, "_run_chunk", fail)
    assert main(["train", "--rounds", "2", "--seeds", "1", *TINY_FLAGS]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "out of memory while training" in err and "1.19 GiB" in err and "reduce" in err


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_DATA limits malloc on Linux")
def test_running_out_of_memory_for_real_is_one_line():
    # 1.1 GiB by the estimate, under a 1 GB data limit: torch's allocation fails mid-training.
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_DATA, (10**9, 10**9))

    proc = subprocess.run([sys.executable, "-m", "ganlib", "train", "--seeds", "16", "--features", "value",
                           "--sets", "8", "--batch-size", "4096", "--rounds", "3"], capture_output=True, text=True,
                          timeout=300, preexec_fn=limit, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2, proc.stderr
    assert "out of memory" in one_error_line(proc.stderr)


def test_table_prints_w1_in_target_std_and_enough_digits(capsys):
    # W1 = 4e-5 at a target std of 1e-3 printed as 0.000 before; in std units it is 0.040.
    runs = [RunResult(seed=0, mean=1e6 + 2e-5, std=1.01e-3, skew=0.01, kurtosis=-0.1, w1=4e-5, w1_sigma=0.04, ks=0.01,
                      success=True, label="good", diverged_at=None)]
    lines = format_table(runs, target_std=1e-3).splitlines()
    assert lines[0].split() == ["seed", "mean", "std", "skew", "kurt", "W1/std", "KS", "label"]
    assert lines[2].split() == ["0", "1000000.000020", "0.001010", "0.01", "-0.10", "0.040", "0.010", "good"]


def test_mixture_separation_and_minibatch_flags_reach_the_run(tmp_path, capsys):
    js = tmp_path / "r.json"
    argv = ["train", "--target", "mixture", "--mixture-separation", "0.96", "--features", "minibatch",
            "--minibatch-kernels", "2", "--minibatch-dims", "1", "--rounds", "20", "--seeds", "2", "--json", str(js),
            *TINY_FLAGS]
    assert main(argv) == 0
    payload = json.loads(js.read_text())
    c = payload["config"]
    assert (c["mixture_separation"], c["features"], c["minibatch_kernels"], c["minibatch_dims"]) == (0.96, "minibatch",
                                                                                                       2, 1)
    # The runs are measured against the separated mixture: the same numbers as training the config directly.
    direct = train(Config.from_dict(c)).runs
    assert [r["w1"] for r in payload["runs"]] == pytest.approx([r.w1 for r in direct], rel=1e-12)
    assert [r["label"] for r in payload["runs"]] == [r.label for r in direct]


def test_sweep_trains_on_the_configured_separation(capsys):
    base = Config(target="mixture", mixture_separation=0.96, rounds=10, seeds=2, g_hidden=(8, 8), d_hidden=(8, 8),
                  eval_samples=200, batch_size=16)
    got = sweep(base, {"lr": [1e-3]})["cells"][0]["median_w1_sigma"]

    def median_w1(config):
        runs = Trainer(config.replace(d_lr=1e-3, g_lr=1e-3)).step(10).results(4000)
        return float(np.median([r.w1_sigma for r in runs]))

    assert got == pytest.approx(median_w1(base), rel=1e-9)
    assert abs(got - median_w1(base.replace(mixture_separation=0.8))) > 1e-3


def test_train_json_has_the_budget_record_and_w1_at_each_evaluation(tmp_path, capsys):
    # The WGAN preset as its authors ran it: 100 critic steps in rounds 0-24 (and every 500th), 5 after.
    js = tmp_path / "r.json"
    assert main(["train", "--preset", "wgan", "--rounds", "30", "--eval-every", "10", "--seeds", "2",
                 "--json", str(js)]) == 0
    capsys.readouterr()
    data = json.loads(js.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert data["config"]["critic_warmup"] == [100, 25, 500]
    assert Config.from_dict(data["config"]).critic_warmup == (100, 25, 500)
    budget = data["budget"]
    assert set(budget) == {"round", "g_updates", "d_updates", "cpu_seconds"}
    assert budget["round"] == [0, 10, 20, 30]
    assert budget["g_updates"] == [0, 10, 20, 30]
    # By hand: 10 x 100, 20 x 100, then 25 x 100 + 5 x 5.
    assert budget["d_updates"] == [0, 1000, 2000, 2525]
    cpu = budget["cpu_seconds"]
    assert cpu[0] == 0 and cpu[-1] > 0 and cpu == sorted(cpu)
    assert {"config", "train_seconds", "success_rate", "criterion", "runs"} <= set(data)  # what it wrote before
    for run in data["runs"]:
        assert RUN_KEYS <= set(run)
        assert len(run["w1_at_evals"]) == len(run["w1_sigma_at_evals"]) == 4
        np.testing.assert_allclose(run["w1_sigma_at_evals"], np.array(run["w1_at_evals"]) / 1.25, rtol=1e-12)
        # The last evaluation (4,000 values) and the final measurement (10,000 others) agree roughly.
        assert run["w1_sigma_at_evals"][-1] == pytest.approx(run["w1_sigma"], rel=0.2)


def test_critic_warmup_flag_reaches_the_config_and_a_bad_one_is_one_line(capsys, no_training):
    args = build_parser().parse_args(["train", "--critic-warmup", "100,25,500"])
    assert args.critic_warmup == (100, 25, 500)
    assert main(["train", "--critic-warmup", "100,25"]) == 2
    out, err = capsys.readouterr()
    assert "critic_warmup=(100, 25) is not allowed" in one_error_line(err) and out == ""


# ----- issue 31: abbreviations, --lr -----

@pytest.mark.parametrize("command", [["train"], ["sweep", "--grid", "d_steps=1"], ["digits"]])
def test_abbreviated_flags_are_refused(command, capsys):
    # `--lr-dec` used to be taken for --lr-decay (and `--lr` too, before --lr existed): a typo trained silently.
    flag = "--see" if command[0] == "digits" else "--lr-dec"
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*command, flag, "0.5"])
    assert exc.value.code == 2
    assert f"unrecognized arguments: {flag}" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", [["train"], ["sweep", "--grid", "d_steps=1"]])
def test_lr_sets_both_learning_rates_and_leaves_the_decay_alone(command):
    from ganlib.cli import _config_from

    config = _config_from(build_parser().parse_args([*command, "--lr", "1e-3"]))
    assert (config.d_lr, config.g_lr, config.lr_decay) == (1e-3, 1e-3, Config().lr_decay)


@pytest.mark.parametrize("other", ["--d-lr", "--g-lr"])
def test_lr_with_d_lr_or_g_lr_is_one_line(other, capsys, no_training):
    assert main(["train", "--lr", "1e-3", other, "2e-3", "--rounds", "1"]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "--lr" in err and other in err


# ----- issue 31: --help describes every flag -----

def _flag_default(value):
    """A Config default as it is typed on the command line (tuples comma-separated)."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_every_config_flag_has_help_with_its_default(command):
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    by_dest = {a.dest: a for a in sub._actions}
    for f in dataclasses.fields(Config):
        text = by_dest[f.name].help
        assert text and text.strip(), f.name
        assert "\n" not in text, f.name
        assert f"default {_flag_default(f.default)}" in text, (f.name, text)


def test_train_help_prints_a_line_per_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "the learning rate of D" in out and "default 0.002" in out and "default 50,50" in out


# ----- issue 31: output paths checked first, written atomically, one output per path -----

@pytest.fixture
def no_digits_training(monkeypatch):
    """Make the digits command fail the test if it trains or fits its judge: errors must come first."""

    def refuse(*args, **kwargs):
        pytest.fail("digits trained although the command should have stopped before")

    monkeypatch.setattr("ganlib.images.train_digits", refuse)
    monkeypatch.setattr("ganlib.images.default_judge", refuse)


@pytest.mark.parametrize("flag", ["--json", "--samples"])
@pytest.mark.parametrize("where", ["missing_dir", "is_dir"])
def test_digits_output_paths_are_checked_before_training(flag, where, tmp_path, capsys, no_digits_training):
    path = {"missing_dir": tmp_path / "nope" / "d.out", "is_dir": tmp_path}[where]
    assert main(["digits", "--rounds", "20", flag, str(path)]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert flag in err and str(path) in err


@pytest.mark.parametrize(("command", "flags"), [
    (["train"], ("--json", "--samples")),
    (["digits"], ("--json", "--samples")),
    (["sweep", "--grid", "lr=1e-3"], ("--json", "--plot")),
])
@pytest.mark.parametrize(("first", "second"), [("out.png", "out.png"), ("out", "out"), ("out.npy", "out"),
                                               ("sub/../out.png", "out.png")])
def test_two_outputs_on_one_path_are_refused(command, flags, first, second, tmp_path, capsys, no_training,
                                             no_digits_training, monkeypatch):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    if flags[1] == "--plot" and first == "out.npy":
        second = "out.npy"  # a plot needs a known suffix; the same file as --json out.npy
    runs = [] if command[0] == "digits" else ["--seeds", "1"]
    argv = [*command, "--rounds", "1", *runs, flags[0], first, flags[1], second]
    assert main(argv) == 2
    err = one_error_line(capsys.readouterr().err)
    assert flags[0] in err and flags[1] in err and "own file" in err


def _fail_midway():
    """A stand-in for json.dump or np.save that writes a few bytes to its file, then fails as a full disk would."""

    def write(*args, **kwargs):
        fh = next(a for a in args if hasattr(a, "write"))  # json.dump(obj, fh), np.save(fh, arr)
        fh.write("{\"half" if isinstance(fh, io.TextIOBase) else b"\x93NUMPY")
        raise OSError(28, "No space left on device")

    return write


@pytest.mark.parametrize("what", ["json", "npy"])
def test_a_write_failing_midway_leaves_the_old_file(what, tmp_path, monkeypatch):
    from ganlib.outputs import atomic_write

    path = tmp_path / f"r.{what}"
    path.write_text("the earlier result")
    path.chmod(0o640)
    monkeypatch.setattr(json if what == "json" else np, "dump" if what == "json" else "save", _fail_midway())
    with pytest.raises(OSError, match="No space left"):
        if what == "json":
            atomic_write(str(path), lambda fh: json.dump({"a": 1}, fh), text=True)
        else:
            atomic_write(str(path), lambda fh: np.save(fh, np.zeros(3)))
    assert path.read_text() == "the earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left behind
    monkeypatch.undo()
    atomic_write(str(path), lambda fh: json.dump({"a": 1}, fh), text=True)
    assert json.loads(path.read_text()) == {"a": 1}
    assert path.stat().st_mode & 0o777 == 0o640  # the replaced file's permissions kept


def test_train_whose_json_write_fails_keeps_the_old_json_and_says_one_line(tmp_path, monkeypatch, capsys):
    js = tmp_path / "r.json"
    js.write_text("{\"old\": true}")
    monkeypatch.setattr(json, "dump", _fail_midway())
    assert main(["train", "--rounds", "2", "--seeds", "1", *TINY_FLAGS, "--json", str(js)]) == 2
    assert "No space left on device" in one_error_line(capsys.readouterr().err)
    assert json.loads(js.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_new_outputs_get_the_usual_permissions(tmp_path, capsys):
    js, npy = tmp_path / "r.json", tmp_path / "s"
    assert main(["train", "--rounds", "2", "--seeds", "1", *TINY_FLAGS, "--json", str(js), "--samples", str(npy)]) == 0
    mask = os.umask(0)
    os.umask(mask)
    for p in (js, tmp_path / "s.npy"):
        assert p.stat().st_mode & 0o777 == 0o666 & ~mask
    assert np.load(tmp_path / "s.npy").shape == (1, 10_000)


# ----- issue 31: a closed stdout (| head) costs neither the files nor a traceback -----

def test_piping_into_head_keeps_the_files_and_exits_quietly(tmp_path):
    # 2,000 rows of table (about 140 kB) overflow the 64 kB pipe: python writes on after head has exited.
    js, npy = tmp_path / "r.json", tmp_path / "s.npy"
    cmd = (f"{sys.executable} -m ganlib train --seeds 2000 --rounds 1 {' '.join(TINY_FLAGS)} --json {js} "
           f"--samples {npy} | head -1; echo \"status ${{PIPESTATUS[0]}}\"")
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.stderr == ""
    head, status = proc.stdout.splitlines()
    assert head.split() == ["seed", "mean", "std", "skew", "kurt", "W1/std", "KS", "label"] and status == "status 0"
    assert len(json.loads(js.read_text())["runs"]) == 2000
    assert np.load(npy).shape == (2000, 10_000)


# ----- issue 31: a flag that has no effect is named on stderr, and the run goes on -----

@pytest.mark.parametrize(("argv", "flag"), [
    (["--loss", "bce", "--clip", "0.5"], "--clip"),
    (["--minibatch-kernels", "3"], "--minibatch-kernels"),
    (["--loss", "wgan", "--gp-side", "one-sided"], "--gp-side"),
    (["--gp-weight", "5"], "--gp-weight"),
    (["--loss", "bce", "--critic-warmup", "100,25,500"], "--critic-warmup"),
    (["--preset", "wgan", "--g-objective", "minimax"], "--g-objective"),
    (["--mixture-separation", "0.9"], "--mixture-separation"),
    (["--r1-gamma", "2"], "--r1-gamma"),
])
@pytest.mark.parametrize("command", [["train"], ["sweep", "--grid", "d_steps=1"]])
def test_a_flag_without_effect_is_one_warning_line(command, argv, flag, capsys):
    from ganlib.cli import _config_from

    config = _config_from(build_parser().parse_args([*command, *argv]))
    err = capsys.readouterr().err
    assert err.startswith(f"ganlib: warning: {flag} ") and err.count("\n") == 1, err
    assert isinstance(config, Config)


@pytest.mark.parametrize("argv", [
    ["--preset", "wgan"], ["--preset", "wgan", "--clip", "0.02"], ["--loss", "wgan-gp", "--gp-side", "one-sided"],
    ["--features", "minibatch", "--minibatch-kernels", "3"], ["--target", "mixture", "--mixture-separation", "0.9"],
    ["--loss", "wgan", "--critic-warmup", "100,25,500"], ["--loss", "bce", "--critic-warmup", "0,0,0"],
    ["--d-penalty", "r1", "--r1-gamma", "2"], ["--spectral-norm"], ["--loss", "wgan-gp", "--d-penalty", "r1"],
])
def test_flags_that_take_effect_give_no_warning(argv, capsys):
    from ganlib.cli import _config_from

    _config_from(build_parser().parse_args(["train", *argv]))
    assert capsys.readouterr().err == ""


def test_a_grid_axis_that_gives_the_flag_its_effect_silences_the_warning(capsys):
    from ganlib.cli import _config_from

    _config_from(build_parser().parse_args(["sweep", "--grid", "loss=bce,wgan", "--clip", "0.02"]))
    assert capsys.readouterr().err == ""


# ----- issue 26: R1 and spectral normalisation from the shell -----

def test_r1_and_spectral_norm_flags_reach_the_run_and_its_json(tmp_path, capsys):
    js = tmp_path / "r.json"
    argv = ["train", "--features", "value", "--d-penalty", "r1", "--r1-gamma", "0.5", "--spectral-norm",
            "--rounds", "20", "--seeds", "2", "--json", str(js), *TINY_FLAGS]
    assert main(argv) == 0
    capsys.readouterr()
    c = json.loads(js.read_text())["config"]
    assert (c["d_penalty"], c["r1_gamma"], c["spectral_norm"]) == ("r1", 0.5, True)
    # The JSON's config trains the same runs as the config built directly, and differs from a run without them.
    config = Config.from_dict(c)
    assert (config.d_penalty, config.r1_gamma, config.spectral_norm) == ("r1", 0.5, True)
    payload = json.loads(js.read_text())
    direct = train(config).runs
    assert [r["w1"] for r in payload["runs"]] == pytest.approx([r.w1 for r in direct], rel=1e-12)
    without = train(config.replace(d_penalty="none", spectral_norm=False)).runs
    assert [r.w1 for r in without] != pytest.approx([r.w1 for r in direct], rel=1e-6)
    # The defaults are written too, and --no-spectral-norm is the default.
    assert build_parser().parse_args(["train", "--no-spectral-norm"]).spectral_norm is False
    assert Config().to_dict()["d_penalty"] == "none" and Config().to_dict()["spectral_norm"] is False


def test_d_penalty_and_r1_gamma_still_reach_the_2d_trainer(tmp_path, capsys):
    # Config now has d_penalty and r1_gamma too: the shared flags keep setting ganlib.plane.PlaneConfig's.
    from ganlib.cli import _PLANE_ONLY, _plane_config_from

    assert "d_penalty" not in _PLANE_ONLY and "r1_gamma" not in _PLANE_ONLY
    plane = _plane_config_from(build_parser().parse_args(["train", "--target", "ring8", "--d-penalty", "r1",
                                                          "--r1-gamma", "0.25"]))
    assert (plane.d_penalty, plane.r1_gamma) == ("r1", 0.25)
    # Without the flags the 2-D default (0.1) stands, not the 1-D Config's 1.0.
    assert _plane_config_from(build_parser().parse_args(["train", "--target", "ring8"])).r1_gamma == 0.1


def test_train_help_shows_the_r1_and_spectral_norm_flags(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in ("--d-penalty STR", "--r1-gamma FLOAT", "--spectral-norm, --no-spectral-norm",
                 "one of none, r1", "default 1.0", "largest singular value"):
        assert text in out, text


# ----- issue 31, QA: a repeated option, and more flags that have no effect -----

@pytest.mark.parametrize(("argv", "text"), [
    (["train", "--lr", "1e-3", "--lr", "2e-3"], "--lr is given twice"),
    (["train", "--lr=1e-3", "--lr", "2e-3"], "--lr is given twice"),
    (["train", "--std", "1", "--target-std", "2"], "--std and --target-std set the same option"),
    (["train", "--spectral-norm", "--no-spectral-norm"], "--spectral-norm and --no-spectral-norm"),
    (["train", "--target", "ring8", "--pack", "2", "--pack", "4"], "--pack is given twice"),
    (["sweep", "--grid", "lr=1e-3", "--rounds", "2", "--rounds", "3"], "--rounds is given twice"),
    (["sweep", "--grid", "lr=1e-3", "--resume", "--resume"], "--resume is given twice"),
    (["flow", "--lr", "1e-3", "--lr", "2e-3"], "--lr is given twice"),
    (["digits", "--rounds", "2", "--rounds", "3"], "--rounds is given twice"),
])
def test_a_repeated_option_is_refused_in_one_line(argv, text, capsys):
    # argparse kept the last one without a word: `--lr 1e-3 --lr 2e-3` trained at 2e-3.
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert text in one_error_line(capsys.readouterr().err)


def test_options_that_collect_their_repeats_may_repeat():
    args = build_parser().parse_args(["sweep", "--grid", "lr=1e-3", "--grid", "d_steps=1,2", "--rounds", "2"])
    assert args.grid == ["lr=1e-3", "d_steps=1,2"] and args.rounds == 2


@pytest.mark.parametrize(("argv", "line"), [
    (["--loss", "wgan", "--d-optimizer", "sgd", "--d-beta1", "0.9"],
     "--d-beta1 has no effect: only Adam has a beta1 (here --d-optimizer sgd)"),
    (["--d-momentum", "0.5"],
     "--d-momentum has no effect: only SGD and RMSProp have a momentum (here --d-optimizer adam)"),
    (["--g-optimizer", "sgd", "--g-beta2", "0.9"],
     "--g-beta2 has no effect: only Adam and RMSProp have a beta2 (here --g-optimizer sgd)"),
    (["--r1-gamma", "5"], "--r1-gamma has no effect: only --d-penalty r1 has a gamma (here --d-penalty none)"),
])
def test_an_optimizer_flag_without_effect_is_one_warning_line(argv, line, capsys):
    from ganlib.cli import _config_from

    _config_from(build_parser().parse_args(["train", *argv]))
    assert capsys.readouterr().err == f"ganlib: warning: {line}\n"


@pytest.mark.parametrize(("argv", "line"), [
    (["--target", "ring8", "--r1-gamma", "2"],
     "--r1-gamma has no effect: only --d-penalty r1 has a gamma (here --d-penalty none)"),
    (["--target", "grid25", "--pack", "2", "--d-input", "point"],
     "--pack has no effect: only --d-input pack packs points (here --d-input point)"),
    (["--target", "ring8", "--optimizer", "sgd", "--beta1", "0.9"],
     "--beta1 has no effect: only Adam has a beta1 (here --optimizer sgd)"),
    (["--target", "ring8", "--clip", "0.1"],
     "--clip has no effect: only --loss wgan clips the critic's weights (here --loss bce)"),
])
def test_a_2d_flag_without_effect_is_one_warning_line(argv, line, capsys):
    from ganlib.cli import _plane_config_from

    _plane_config_from(build_parser().parse_args(["train", *argv]))
    assert capsys.readouterr().err == f"ganlib: warning: {line}\n"


@pytest.mark.parametrize("argv", [
    ["--d-optimizer", "sgd", "--d-momentum", "0.9"], ["--d-optimizer", "rmsprop", "--d-beta2", "0.9"],
    ["--g-beta1", "0.9"], ["--target", "ring8", "--d-penalty", "r1", "--r1-gamma", "2"],
    ["--target", "grid25", "--d-input", "pack", "--pack", "4"], ["--target", "ring8", "--beta1", "0.9"],
    ["--target", "ring8", "--method", "wgan", "--clip", "0.02"], ["--target", "ring8", "--optimizer", "rmsprop",
                                                                   "--beta2", "0.9"],
])
def test_optimizer_and_2d_flags_that_take_effect_give_no_warning(argv, capsys):
    from ganlib.cli import _config_from, _plane_config_from

    args = build_parser().parse_args(["train", *argv])
    (_plane_config_from if args.target in ("ring8", "grid25") else _config_from)(args)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("argv", "line"), [
    (["--optimizer", "sgd", "--beta1", "0.5"], "--beta1 has no effect: only Adam has a beta1 (here --optimizer sgd)"),
    (["--mixture-separation", "0.9"],
     "--mixture-separation has no effect: only --target mixture has modes to separate (here --target normal)"),
])
def test_a_flow_flag_without_effect_is_one_warning_line(argv, line, capsys):
    from ganlib.cli import _flow_config_from

    _flow_config_from(build_parser().parse_args(["flow", *argv]))
    assert capsys.readouterr().err == f"ganlib: warning: {line}\n"
    _flow_config_from(build_parser().parse_args(["flow", "--optimizer", "adam", "--beta1", "0.5"]))
    assert capsys.readouterr().err == ""


def test_an_output_link_is_written_through_and_an_empty_name_refused(tmp_path) -> None:
    from ganlib.outputs import atomic_write, check_output

    real = tmp_path / "real.json"
    real.write_text('{"old": 1}')
    link = tmp_path / "link.json"
    link.symlink_to(real)
    atomic_write(str(link), lambda fh: fh.write('{"new": 2}'), text=True)
    # the link stays a link and the file it points to holds the new content
    assert link.is_symlink() and json.loads(real.read_text()) == {"new": 2}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError, match="^--json needs a file name"):
        check_output("--json", "")
    with pytest.raises(ValueError, match="^--json needs a file name"):
        check_output("--json", "  ")
