"""`python -m ganlib train|sweep|flow|digits|presets`: train or sweep from the shell, print a table, write JSON.

Every Config field is a flag (`d_lr` is `--d-lr`; tuples are comma-separated, `--g-hidden 50,50`),
with `--mean`, `--std` and `--seeds` as the short names of the target and run count, and `--lr` setting
`--d-lr` and `--g-lr` together. Flags are never abbreviated (`--lr` is not `--lr-decay`) nor given twice
(`--lr 1e-3 --lr 2e-3` is refused, not read as 2e-3; `--grid` repeats, one axis each). Flags start
from a preset (`--preset devnag`), default `recommended`. A bad flag or value, an output path
that cannot be written, a config over the memory budget or an allocation failure exits with
status 2 and one line saying what is wrong; all that can be checked is checked before training.

`train --json` writes the config, the final per-run results and the budget record: at each
evaluation the round, G and D updates (a critic warm-up's included) and CPU seconds of the whole
pass (`"budget"`), with each run's W1 there (`"w1_at_evals"`, `"w1_sigma_at_evals"`), so runs of
different settings can be compared at equal cost.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ganlib import images
from ganlib.config import FIELD_HELP, PRESETS, Config, preset
from ganlib.flows import FLOW_FIELD_HELP, FlowConfig, FlowTrainer, train_flow
from ganlib.flows import check_memory as flow_check_memory
from ganlib.metrics import CLOSE_LABELS, SUCCESS_W1_FRACTION, RunResult
from ganlib.outputs import StdoutClosed, atomic_write, check_outputs, npy_path, printing
from ganlib.plane import (
    N_FINAL_2D,
    PLANE_FIELD_HELP,
    PLANE_METHODS,
    PLANE_TARGETS,
    PlaneConfig,
    PlaneRunResult,
    PlaneTrainer,
    plane_method,
    sliced_w1_floor,
    train_plane,
)
from ganlib.sweep import check_devices, parse_grid, plan_sweep, sweep
from ganlib.threads import add_threads_flag, course_threads
from ganlib.train import BUDGET_AXES, MEMORY_BUDGET, N_FINAL, History, Trainer, check_memory, train

ALIASES = {"target_mean": ["--mean"], "target_std": ["--std"]}


# What argparse should take for a negative number rather than an option: -7, -2.5, -.5e-3, -1E+4,
# -inf, -nan (its own pattern stops at -2.5, so `--mean -1e4` was "expected one argument").
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)


# Options whose repeats add up rather than replace each other: --grid (append), --help.
_MAY_REPEAT = (argparse._AppendAction, argparse._AppendConstAction, argparse._CountAction, argparse._HelpAction,
               argparse._VersionAction)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No abbreviations: `--lr` was taken for `--lr-decay`, so a typo or a missing flag trained silently with
        # another setting. Subparsers are built by this class too (parser_class), so every command refuses them.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        # argparse reads this attribute to tell a negative number from an option.
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"ganlib: error: {message}\n")

    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        """argparse's parse, after refusing an option given twice (see `_refuse_repeats`)."""
        tokens = list(sys.argv[1:] if args is None else args)
        self._refuse_repeats(tokens)
        return super().parse_known_args(tokens, namespace)

    def _refuse_repeats(self, tokens: Sequence[str]) -> None:
        """One line and exit 2 when one of this parser's options appears twice among `tokens`.

        argparse keeps the last of `--lr 1e-3 --lr 2e-3` without a word, so a script that appends a
        flag to a command line trained with another value than the one it reads first. Options that
        collect their repeats (`--grid`, `--help`) may repeat; two spellings of one option (`--std`
        and `--target-std`, `--spectral-norm` and `--no-spectral-norm`) count as one. A token that is
        one of this parser's option strings is an option wherever it stands (argparse never takes it
        for a value), so the tokens can be read without parsing; each subcommand's parser reads its own.
        """
        seen: dict[argparse.Action, str] = {}
        for token in tokens:
            if token == "--":
                break  # what follows is positional
            name = token.partition("=")[0] if token.startswith("--") else token
            action = self._option_string_actions.get(name)
            if action is None or isinstance(action, _MAY_REPEAT):
                continue
            if action in seen:
                first = seen[action]
                said = f"{name} is given twice" if first == name else f"{first} and {name} set the same option"
                self.error(f"{said}: give it once (the last one would silently win)")
            seen[action] = name


def _tuple_of(kind: type) -> Any:
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(v) for v in text.split(",") if v.strip())
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__} values, got {text!r}") from exc
    return parse


def _flag_value(value: Any) -> str:
    """A Config default as it is typed on the command line: tuples comma-separated."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default=None, choices=list(PRESETS),
                   help="start from this preset (the defaults below are recommended's; `python -m ganlib presets` "
                        "lists what the others change); default recommended")
    p.add_argument("--lr", type=float, default=None, metavar="FLOAT",
                   help="the learning rate of both networks: sets --d-lr and --g-lr together (not with either)")
    for f in dataclasses.fields(Config):
        names = [f"--{f.name.replace('_', '-')}"] + ALIASES.get(f.name, [])
        if f.name == "seeds":
            names = ["--seeds"]
        default = f.default
        # The Config default; a --preset may start from another value (`presets` lists them). argparse
        # %-formats help, so a literal percent sign is doubled.
        text = f"{FIELD_HELP[f.name]}; default {_flag_value(default)}".replace("%", "%%")
        if isinstance(default, bool):
            p.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif isinstance(default, tuple):
            kind = int if all(isinstance(v, int) for v in default) else str
            p.add_argument(*names, dest=f.name, type=_tuple_of(kind), default=None, metavar="A,B", help=text)
        else:
            kind = type(default)
            p.add_argument(*names, dest=f.name, type=kind, default=None, metavar=kind.__name__.upper(), help=text)


# Flags that only act under another setting: (field, the field that decides, does it act?, what to say).
# A flag given where it cannot act is accepted (a script may set it for every run) but named on stderr.
_Conditional = tuple[tuple[str, str, Callable[[Any], bool], str], ...]

# What each optimizer reads (ganlib.optim.BatchedOptimizer): beta1 Adam's, beta2 Adam's and RMSProp's, momentum
# SGD's and RMSProp's.
_BETA1_ACTS, _BETA2_ACTS, _MOMENTUM_ACTS = ("adam",), ("adam", "rmsprop"), ("sgd", "rmsprop")
_BETA1_WHY = "has no effect: only Adam has a beta1"
_BETA2_WHY = "has no effect: only Adam and RMSProp have a beta2"
_MOMENTUM_WHY = "has no effect: only SGD and RMSProp have a momentum"

# Rows both tables share (the 1-D and the 2-D configs name these fields alike).
_CLIP = ("clip", "loss", lambda c: c.loss == "wgan", "has no effect: only --loss wgan clips the critic's weights")
_GP_WEIGHT = ("gp_weight", "loss", lambda c: c.loss == "wgan-gp",
              "has no effect: only --loss wgan-gp has a gradient penalty")
_R1_GAMMA = ("r1_gamma", "d_penalty", lambda c: c.d_penalty == "r1", "has no effect: only --d-penalty r1 has a gamma")

_CONDITIONAL_FLAGS: _Conditional = (
    _CLIP,
    _GP_WEIGHT,
    ("gp_side", "loss", lambda c: c.loss == "wgan-gp", "has no effect: only --loss wgan-gp has a gradient penalty"),
    ("minibatch_kernels", "features", lambda c: c.features == "minibatch",
     "has no effect: only --features minibatch has kernels"),
    ("minibatch_dims", "features", lambda c: c.features == "minibatch",
     "has no effect: only --features minibatch has kernels"),
    ("g_objective", "loss", lambda c: c.loss == "bce", "has no effect: only --loss bce has a choice of G objective"),
    _R1_GAMMA,
    ("mixture_separation", "target", lambda c: c.target == "mixture",
     "has no effect: only --target mixture has modes to separate"),
    ("critic_warmup", "loss", lambda c: c.loss != "bce" or c.critic_warmup[0] == 0,
     "is the WGAN critic's schedule: with --loss bce it only adds D steps the recipe was not tuned for"),
    ("d_beta1", "d_optimizer", lambda c: c.d_optimizer in _BETA1_ACTS, _BETA1_WHY),
    ("d_beta2", "d_optimizer", lambda c: c.d_optimizer in _BETA2_ACTS, _BETA2_WHY),
    ("d_momentum", "d_optimizer", lambda c: c.d_optimizer in _MOMENTUM_ACTS, _MOMENTUM_WHY),
    ("g_beta1", "g_optimizer", lambda c: c.g_optimizer in _BETA1_ACTS, _BETA1_WHY),
    ("g_beta2", "g_optimizer", lambda c: c.g_optimizer in _BETA2_ACTS, _BETA2_WHY),
    ("g_momentum", "g_optimizer", lambda c: c.g_optimizer in _MOMENTUM_ACTS, _MOMENTUM_WHY),
)

# The same for `train --target ring8|grid25` (ganlib.plane.PlaneConfig: one optimizer for both nets).
_PLANE_CONDITIONAL_FLAGS: _Conditional = (
    _CLIP,
    _GP_WEIGHT,
    _R1_GAMMA,
    ("pack", "d_input", lambda c: c.d_input == "pack", "has no effect: only --d-input pack packs points"),
    ("minibatch_kernels", "d_input", lambda c: c.d_input == "minibatch",
     "has no effect: only --d-input minibatch has kernels"),
    ("minibatch_kernel_dims", "d_input", lambda c: c.d_input == "minibatch",
     "has no effect: only --d-input minibatch has kernels"),
    ("beta1", "optimizer", lambda c: c.optimizer in _BETA1_ACTS, _BETA1_WHY),
    ("beta2", "optimizer", lambda c: c.optimizer in _BETA2_ACTS, _BETA2_WHY),
)

# The same for `flow` (ganlib.flows.FlowConfig).
_FLOW_CONDITIONAL_FLAGS: _Conditional = (
    ("mixture_separation", "target", lambda c: c.target == "mixture",
     "has no effect: only --target mixture has modes to separate"),
    ("beta1", "optimizer", lambda c: c.optimizer in _BETA1_ACTS, _BETA1_WHY),
    ("beta2", "optimizer", lambda c: c.optimizer in _BETA2_ACTS, _BETA2_WHY),
)


def _warn_without_effect(args: argparse.Namespace, config: Any, table: _Conditional = _CONDITIONAL_FLAGS) -> None:
    """One warning line on stderr per flag of `table` given that cannot act in `config`; the run goes on.

    Only flags typed on the command line count (a preset's values are its own business), and in a
    sweep a deciding field that is a grid axis silences the warning: some cells use the flag.
    """
    axes = {item.partition("=")[0].strip().replace("-", "_") for item in getattr(args, "grid", None) or ()}
    for field, decider, acts, why in table:
        if getattr(args, field, None) is not None and decider not in axes and not acts(config):
            print(f"ganlib: warning: --{field.replace('_', '-')} {why} (here --{decider.replace('_', '-')} "
                  f"{getattr(config, decider)})", file=sys.stderr)


def _config_from(args: argparse.Namespace) -> Config:
    """The Config the flags ask for: the preset, `--lr` for both rates, then every field flag given."""
    if args.lr is not None:
        given = [flag for flag, name in (("--d-lr", "d_lr"), ("--g-lr", "g_lr")) if getattr(args, name) is not None]
        if given:
            raise ValueError(f"--lr sets both learning rates: give --lr or {' and '.join(given)}, not both")
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if getattr(args, f.name) is not None}
    if args.lr is not None:
        overrides["d_lr"] = overrides["g_lr"] = args.lr
    config = preset(args.preset or "recommended", **overrides)
    _warn_without_effect(args, config)
    return config


# ----- 2-D targets: `train --target ring8|grid25` trains ganlib.plane's GAN -----

# PlaneConfig fields that Config lacks get their own flags in `train`, in a group of their own.
_PLANE_ONLY = [f.name for f in dataclasses.fields(PlaneConfig)
               if f.name not in {g.name for g in dataclasses.fields(Config)}]


def _add_plane_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("2-D targets (--target ring8 or grid25)",
                             "These flags and the shared ones (--loss, --d-lr, --g-lr, --lr, --beta1, --beta2, "
                             "--d-steps, --critic-warmup, --clip, --gp-weight, --d-penalty, --r1-gamma, --g-hidden, "
                             "--d-hidden, --noise-dim, --minibatch-kernels, --batch-size, --rounds, --eval-every, "
                             "--eval-samples, --seed, --seeds, --device, --dtype) set ganlib.plane.PlaneConfig; the "
                             "rest are 1-D only.")
    g.add_argument("--method", choices=list(PLANE_METHODS), default=None,
                   help="start from one of the 2-D notebook's methods (ganlib.plane.PLANE_METHODS); default gan")
    for name in _PLANE_ONLY:
        default = getattr(PlaneConfig, name)
        text = f"{PLANE_FIELD_HELP[name]}; default {_flag_value(default)}".replace("%", "%%")
        kind = type(default)
        g.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None,
                       metavar=kind.__name__.upper(), help=text)


def _plane_config_from(args: argparse.Namespace) -> PlaneConfig:
    """The PlaneConfig `train --target ring8|grid25` asks for; a 1-D-only flag is refused in one line."""
    if args.preset is not None:
        raise ValueError("--preset is for 1-D targets: with --target ring8 or grid25 use --method "
                         f"({', '.join(PLANE_METHODS)})")
    plane_fields = {f.name for f in dataclasses.fields(PlaneConfig)}
    one_d = [f.name for f in dataclasses.fields(Config)
             if f.name not in plane_fields and getattr(args, f.name) is not None]
    if one_d:
        flags = ", ".join(f"--{n.replace('_', '-')}" for n in one_d)
        raise ValueError(f"{flags} {'has' if len(one_d) == 1 else 'have'} no meaning for the 2-D target "
                         f"{args.target}: see `train --help`, group 2-D targets")
    if args.lr is not None and (args.d_lr is not None or args.g_lr is not None):
        raise ValueError("--lr sets both learning rates: give --lr or --d-lr/--g-lr, not both")
    overrides = {n: getattr(args, n) for n in plane_fields if getattr(args, n, None) is not None}
    if args.lr is not None:
        overrides["d_lr"] = overrides["g_lr"] = args.lr
    config = plane_method(args.method or "gan", **overrides)
    _warn_without_effect(args, config, _PLANE_CONDITIONAL_FLAGS)
    return config


def format_plane_table(runs: Sequence[PlaneRunResult]) -> str:
    """A fixed-width table of per-seed 2-D results: modes covered, high-quality share, sliced W1, last hop."""
    head = f"{'seed':>6} {'modes':>7} {'quality':>8} {'sliced W1':>10} {'last hop':>9}  label"
    lines = [head, "-" * len(head)]
    for r in runs:
        hop = "-" if r.last_hop is None else str(r.last_hop)
        lines.append(f"{r.seed:>6} {f'{r.modes_covered}/{r.modes}':>7} {r.high_quality:>8.3f} {_fmt(r.sliced_w1):>10} "
                     f"{hop:>9}  {r.label}" + (f" (round {r.diverged_at})" if r.diverged_at is not None else ""))
    return "\n".join(lines)


def _cmd_train_plane(args: argparse.Namespace) -> int:
    config = _plane_config_from(args)
    check_outputs([("--json", args.json, ""), ("--samples", args.samples, ".npy")])
    stderr_tty = sys.stderr.isatty()

    def progress(tr: PlaneTrainer) -> None:
        if stderr_tty:
            print(f"\rround {tr.round}/{config.rounds}", end="", file=sys.stderr, flush=True)

    result = train_plane(config, progress, threads=args.threads)
    if stderr_tty:
        print(file=sys.stderr)
    floor = sliced_w1_floor(result.trainer.target, N_FINAL_2D)
    n_all = sum(r.modes_covered == r.modes for r in result.runs)
    h = result.history
    if args.json:
        payload = {
            "config": config.to_dict(),
            "train_seconds": round(result.seconds, 3),
            "share_all_modes": n_all / len(result.runs),
            "criterion": "a mode is covered when a quarter of its fair share of the points lie within 3 component "
                         "std of its centre; a point is high quality within 3 std of some centre",
            "points_per_run": N_FINAL_2D,
            "mode_centres": result.trainer.target.centres.tolist(),
            "sliced_w1_floor": floor,
            "budget": {axis: ([round(float(v), 3) for v in h.budget(axis)] if axis == "cpu_seconds"
                              else [int(v) for v in h.budget(axis)]) for axis in BUDGET_AXES},
            "runs": [{**dataclasses.asdict(r), "covered": list(r.covered), "sliced_w1": _clean(r.sliced_w1),
                      "modes_covered_at_evals": [int(v) for v in h.modes_covered[k]],
                      "high_quality_at_evals": [float(v) for v in h.high_quality[k]],
                      "sliced_w1_at_evals": [_clean(float(v)) for v in h.sliced_w1[k]]}
                     for k, r in enumerate(result.runs)],
        }
        atomic_write(args.json, lambda fh: json.dump(payload, fh, indent=2), text=True)
    if args.samples:
        samples = result.trainer.sample(N_FINAL_2D)
        atomic_write(npy_path(args.samples), lambda fh: np.save(fh, samples))
    with printing():
        print(format_plane_table(result.runs))
        print(f"all {result.trainer.target.modes} modes covered: {n_all}/{len(result.runs)} runs; sliced W1 floor "
              f"(exact samples) {floor:.3f}; {config.rounds} rounds in {result.seconds:.1f} s")
    return 0


def _fmt(v: float, digits: int = 3) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.{digits}f}"


def format_table(runs: Sequence[RunResult], target_std: float | None = None) -> str:
    """A fixed-width table of per-seed results; W1 in target std units (the column W1/std).

    Mean and std are in target units with enough decimals to show a thousandth of `target_std`
    (three decimals when it is not given).
    """
    decimals = 3 if target_std is None else max(0, 3 - math.floor(math.log10(target_std)))
    wm, ws = 5 + decimals, 4 + decimals
    head = f"{'seed':>6} {'mean':>{wm}} {'std':>{ws}} {'skew':>7} {'kurt':>7} {'W1/std':>7} {'KS':>6}  label"
    lines = [head, "-" * len(head)]
    for r in runs:
        lines.append(
            f"{r.seed:>6} {_fmt(r.mean, decimals):>{wm}} {_fmt(r.std, decimals):>{ws}} {_fmt(r.skew, 2):>7} "
            f"{_fmt(r.kurtosis, 2):>7} {_fmt(r.w1_sigma):>7} {_fmt(r.ks):>6}  {r.label}"
            + (f" (round {r.diverged_at})" if r.diverged_at is not None else "")
        )
    return "\n".join(lines)


def _clean(v: Any) -> Any:
    """JSON has no NaN: write null instead."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def budget_record(history: History) -> dict[str, list]:
    """The budget spent by each evaluation as JSON lists: round, G updates, D updates, CPU seconds.

    CPU seconds are the process CPU time of the training rounds of the whole batched pass (every
    run of it together), rounded to milliseconds; see `ganlib.train.History`.
    """
    out: dict[str, list] = {}
    for axis in BUDGET_AXES:
        values = history.budget(axis)
        out[axis] = [round(float(v), 3) for v in values] if axis == "cpu_seconds" else [int(v) for v in values]
    return out


def _cmd_train(args: argparse.Namespace) -> int:
    if args.target in PLANE_TARGETS:
        return _cmd_train_plane(args)
    plane_only = [n for n in ["method", *_PLANE_ONLY] if getattr(args, n, None) is not None]
    if plane_only:
        flags = ", ".join(f"--{n.replace('_', '-')}" for n in plane_only)
        raise ValueError(f"{flags} {'is' if len(plane_only) == 1 else 'are'} for the 2-D targets (--target ring8 or "
                         f"grid25), not --target {args.target or 'normal'}")
    config = _config_from(args)
    check_memory(config, MEMORY_BUDGET)
    # np.save adds .npy to a name without it.
    check_outputs([("--json", args.json, ""), ("--samples", args.samples, ".npy")])
    stderr_tty = sys.stderr.isatty()

    def progress(tr: Trainer) -> None:
        if stderr_tty:
            print(f"\rround {tr.round}/{config.rounds}", end="", file=sys.stderr, flush=True)

    result = train(config, progress, threads=args.threads)
    if stderr_tty:
        print(file=sys.stderr)
    _report(args, config.to_dict(), config.rounds, config.target_std, result)
    return 0


def _runs_payload(result: Any, target_std: float) -> list[dict[str, Any]]:
    """Each run's final results and its W1 at every evaluation, as `train --json` and `flow --json` write them."""
    w1_evals = result.history.w1
    return [
        {"seed": r.seed, "mean": _clean(r.mean), "std": _clean(r.std), "skew": _clean(r.skew),
         "kurtosis": _clean(r.kurtosis), "w1": _clean(r.w1), "w1_sigma": _clean(r.w1_sigma),
         "ks": _clean(r.ks), "success": r.success,
         "label": r.label, "diverged_at": r.diverged_at, "diverged_reason": r.diverged_reason,
         # W1 at each evaluation of training (eval_samples values, aligned with "budget"), in
         # target units and in target std; "w1" and "w1_sigma" above are the final 10,000 values'.
         "w1_at_evals": [_clean(float(v)) for v in w1_evals[k]],
         "w1_sigma_at_evals": [_clean(float(v) / target_std) for v in w1_evals[k]]}
        for k, r in enumerate(result.runs)
    ]


def _report(args: argparse.Namespace, config_dict: dict[str, Any], rounds: int, target_std: float, result: Any,
            extra: dict[str, Any] | None = None) -> None:
    """Write --json and --samples, then print the table: what `train` and `flow` report alike."""
    n_ok = sum(r.success for r in result.runs)
    # The files first, then the table: a reader that stops early (`| head`) must not cost the results.
    if args.json:
        payload = {
            "config": config_dict,
            "train_seconds": round(result.seconds, 3),
            "success_rate": n_ok / len(result.runs),
            "criterion": f"W1 < {SUCCESS_W1_FRACTION:g} * target_std",
            **(extra or {}),
            "budget": budget_record(result.history),
            "runs": _runs_payload(result, target_std),
        }
        atomic_write(args.json, lambda fh: json.dump(payload, fh, indent=2), text=True)
    if args.samples:
        samples = result.trainer.sample(N_FINAL)
        atomic_write(npy_path(args.samples), lambda fh: np.save(fh, samples))
    n_close = sum(r.label in CLOSE_LABELS for r in result.runs)
    with printing():
        print(format_table(result.runs, target_std))
        print(f"success: {n_ok}/{len(result.runs)} runs with W1 < {SUCCESS_W1_FRACTION:g} x target std "
              f"({SUCCESS_W1_FRACTION * target_std:.3g}); {rounds} rounds in {result.seconds:.1f} s")
        print(f"mean and std close: {n_close}/{len(result.runs)} runs (labels good or wrong shape)")


def _add_flow_flags(p: argparse.ArgumentParser) -> None:
    for f in dataclasses.fields(FlowConfig):
        names = [f"--{f.name.replace('_', '-')}"] + ALIASES.get(f.name, [])
        default = f.default
        text = f"{FLOW_FIELD_HELP[f.name]}; default {_flag_value(default)}".replace("%", "%%")
        if isinstance(default, bool):
            p.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif isinstance(default, tuple):
            kind = int if all(isinstance(v, int) for v in default) else str
            p.add_argument(*names, dest=f.name, type=_tuple_of(kind), default=None, metavar="A,B", help=text)
        else:
            kind = type(default)
            p.add_argument(*names, dest=f.name, type=kind, default=None, metavar=kind.__name__.upper(), help=text)


def _flow_config_from(args: argparse.Namespace) -> FlowConfig:
    """The FlowConfig the flags of `flow` ask for; a flag that cannot act in it is one warning line."""
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(FlowConfig)
                 if getattr(args, f.name) is not None}
    config = FlowConfig(**overrides)
    _warn_without_effect(args, config, _FLOW_CONDITIONAL_FLAGS)
    return config


def _cmd_flow(args: argparse.Namespace) -> int:
    config = _flow_config_from(args)
    flow_check_memory(config)
    check_outputs([("--json", args.json, ""), ("--samples", args.samples, ".npy")])
    stderr_tty = sys.stderr.isatty()

    def progress(tr: FlowTrainer) -> None:
        if stderr_tty:
            print(f"\rround {tr.round}/{config.rounds}", end="", file=sys.stderr, flush=True)

    result = train_flow(config, progress, threads=args.threads)
    if stderr_tty:
        print(file=sys.stderr)
    _report(args, config.to_dict(), config.rounds, config.target_std, result,
            {"method": "flow matching", "sampler": config.sampler, "evaluations_per_sample": config.evaluations})
    return 0


def _resumed_cells(path: str | None, config: Config, grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The cells an earlier sweep saved in `path`, checked to be of this config and grid.

    No file yet gives none (the sweep starts from the beginning), so that a script may always pass
    --resume. A file of another config or grid, or not a sweep's JSON, is a one-line ValueError:
    its cells are not this sweep's.
    """
    if path is None:
        raise ValueError("--resume needs --json: the sweep's cells are read from and saved to that file")
    try:
        with open(path) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise ValueError(f"--resume {path}: cannot read a sweep's JSON there ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list) or "grid" not in data:
        raise ValueError(f"--resume {path}: not a sweep's JSON (no grid and cells)")
    # JSON turns tuples into lists: compare in that form.
    ours = json.loads(json.dumps({"config": config.to_dict(), "grid": grid}))
    if data.get("config") != ours["config"]:
        theirs = data.get("config") if isinstance(data.get("config"), dict) else {}
        fields = sorted(k for k in ours["config"] if theirs.get(k, object()) != ours["config"][k])
        raise ValueError(f"--resume {path}: saved by a sweep of another config (differs in "
                         f"{', '.join(fields) or 'its fields'}); give the same flags or another --json")
    saved_grid = data["grid"]
    if not isinstance(saved_grid, dict) or list(saved_grid.items()) != list(ours["grid"].items()):
        raise ValueError(f"--resume {path}: saved by a sweep of another grid ({data['grid']}); give the same "
                         f"--grid flags, in the same order, or another --json")
    if not all(isinstance(c, dict) and all(k in c for k in grid) for c in data["cells"]):
        raise ValueError(f"--resume {path}: a cell without its grid values; not a sweep's JSON")
    return data["cells"]


# The grid axes a sweep map draws (ganlib.plots.plot_sweep_map: across, down, one panel per value).
MAP_AXES = (1, 3)


def _refuse_flags_under_the_grid(args: argparse.Namespace, grid: dict[str, list[Any]]) -> None:
    """A one-line ValueError for a flag whose field a grid axis sets in every cell: the flag would do nothing.

    `--grid lr` sets both rates, so `--lr`, `--d-lr` and `--g-lr` go with it (as `train` refuses
    `--lr` with `--d-lr`); any other axis, its own flag (`--d-steps 2 --grid d_steps=1,3`).
    """
    for axis in grid:
        fields = ("lr", "d_lr", "g_lr") if axis == "lr" else (axis,)
        given = [f"--{f.replace('_', '-')}" for f in fields if getattr(args, f, None) is not None]
        if given:
            what = "both learning rates" if axis == "lr" else axis
            raise ValueError(f"--grid {axis} sets {what} in every cell: give {' and '.join(given)} or --grid "
                             f"{axis}, not both")


def _cmd_sweep(args: argparse.Namespace) -> int:
    config = _config_from(args)
    grid = parse_grid(args.grid)
    _refuse_flags_under_the_grid(args, grid)
    if args.plot is not None and not MAP_AXES[0] <= len(grid) <= MAP_AXES[1]:
        # Found after the whole sweep had trained, before: the map is checked with everything else.
        raise ValueError(f"--plot draws a map of {MAP_AXES[0]} to {MAP_AXES[1]} grid axes; this sweep has "
                         f"{len(grid)}: {', '.join(grid)} (drop --plot, or sweep fewer axes)")
    plan = plan_sweep(config, grid)  # every cell and pass checked before the output paths and the training
    if args.scheduler is None:
        # A cluster elsewhere may have the GPU this machine lacks; a local sweep's cells must find theirs here.
        check_devices(plan)
    check_outputs([("--json", args.json, ""), ("--plot", args.plot, "")])
    if args.plot is not None:
        # matplotlib only when a map is asked for: importing it takes 0.6 s (measured on this machine).
        from matplotlib.figure import Figure

        kind = Path(args.plot).suffix.lstrip(".").lower()
        formats = Figure().canvas.get_supported_filetypes()
        if kind not in formats:
            raise ValueError(f"--plot {args.plot}: give a file name ending in one of "
                             f"{', '.join('.' + f for f in sorted(formats))}")
    done = _resumed_cells(args.json, config, grid) if args.resume else []
    if args.json:
        args.kept = (f"{args.json} still holds the {len(done)} cells saved before; --resume goes on" if done else
                     f"no pass had finished, nothing was written to {args.json}")
    stderr_tty = sys.stderr.isatty()

    def save_cells(cells: list[dict[str, Any]], unfinished: int) -> None:
        # Each finished pass's cells at once, so that an interrupted sweep keeps them (`--resume` goes on).
        if args.json:
            partial = {"config": config.to_dict(), "grid": grid, "cells": cells, "unfinished": unfinished}
            atomic_write(args.json, lambda fh: json.dump(partial, fh, indent=2), text=True)
            args.kept = (f"kept the {len(cells)} finished of {len(cells) + unfinished} cells in {args.json}; "
                         f"--resume finishes the sweep")

    def progress(done: int, total: int) -> None:
        # A terminal sees one line that counts up; a log gets a line per finished pass. A log reader that
        # went away (`2>&1 | head -1`) must not stop the sweep: then progress goes unreported.
        with contextlib.suppress(BrokenPipeError):
            print(f"\rcells {done}/{total}" if stderr_tty else f"cells {done}/{total}",
                  end="" if stderr_tty else "\n", file=sys.stderr, flush=True)

    try:
        out = sweep(config, grid, workers=args.workers, scheduler=args.scheduler, progress=progress, done=done,
                    on_cells=save_cells, threads=args.threads)
    except ImportError as exc:
        # The dask extra missing here, or ganlib missing on a cluster's worker: one line either way.
        print(f"ganlib: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if stderr_tty:
            print(file=sys.stderr)
    # The files first, then the table: a reader that stops early (`| head`) must not cost the results.
    if args.json:
        atomic_write(args.json, lambda fh: json.dump(out, fh, indent=2), text=True)
    if args.plot:
        from ganlib.plots import plot_sweep_map

        fig = plot_sweep_map(out)
        # To a file object savefig cannot tell the format from the name: give it.
        atomic_write(args.plot, lambda fh: fig.savefig(fh, dpi=100, format=kind))
    keys = list(grid)
    with printing():
        print("  ".join(f"{k:>10}" for k in keys) + f"  {'success':>8}  {'median W1/std':>13}")
        for cell in out["cells"]:
            mw = cell["median_w1_sigma"]
            print("  ".join(f"{cell[k]:>10g}" if isinstance(cell[k], (int, float)) else f"{cell[k]:>10}"
                            for k in keys)
                  + f"  {cell['success_rate']:>8.2f}  {(_fmt(mw) if mw is not None else 'nan'):>13}")
        print(f"{out['runs_x_rounds_per_second']:.0f} runs x rounds per second ({out['seconds']:.1f} s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (exposed for tests and documentation)."""
    p = _Parser(prog="python -m ganlib", description="Train GANs on 1-D (and 2-D) targets from the shell.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train config.seeds runs and report each (1-D targets, or ring8 and grid25)")
    _add_config_flags(t)
    _add_plane_flags(t)
    t.add_argument("--json", metavar="PATH", help="write config, time and per-run results as JSON")
    t.add_argument("--samples", metavar="PATH", help="write a (seeds, 10000) .npy of generated values; for a 2-D "
                                                     f"target (seeds, {N_FINAL_2D}, 2) points")
    add_threads_flag(t)
    s = sub.add_parser("sweep", help="train a grid of settings, many seeds per cell, batched")
    _add_config_flags(s)
    s.add_argument("--grid", action="append", required=True, metavar="FIELD=V1,V2",
                   help="a field and its values; repeat for more axes (lr sets d_lr and g_lr together)")
    s.add_argument("--json", metavar="PATH", help="write the cells as JSON")
    s.add_argument("--plot", metavar="PATH", help="draw the map of success rates (map.png) and save it")
    s.add_argument("--resume", action="store_true",
                   help="skip the cells already in --json (saved as each pass finishes, e.g. by an interrupted sweep "
                        "of the same flags) and train the rest; default off")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="train the passes on a local Dask cluster of N single-threaded processes")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="train the passes on the Dask cluster at ADDRESS (tcp://host:8786)")
    add_threads_flag(s)
    sub.add_parser("presets", help="list the presets")
    f = sub.add_parser("flow", help="train --seeds flow-matching runs (ganlib.flows) and report each as train does")
    _add_flow_flags(f)
    f.add_argument("--json", metavar="PATH", help="write config, time and per-run results as JSON (train's fields, "
                                                  "plus method, sampler and evaluations_per_sample)")
    f.add_argument("--samples", metavar="PATH", help="write a (seeds, 10000) .npy of generated values")
    add_threads_flag(f)
    images.add_digits_parser(sub)
    return p


def _stdout_to_devnull() -> None:
    """Point file descriptor 1 at os.devnull (where stdout is a real file descriptor)."""
    with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, as Ctrl-C raises KeyboardInterrupt, so it unwinds the same way."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m ganlib`; returns the exit status.

    Ctrl-C and SIGTERM end a command with one line saying what was kept and the shell's statuses
    for them, 130 and 143 (128 + the signal's number); a sweep with --json keeps its finished cells.
    """
    args = build_parser().parse_args(argv)
    # Commands say here what an interrupt would leave behind, as they write it.
    args.kept = {"train": "nothing was kept (train writes --json and --samples when it finishes)",
                 "digits": "nothing was kept (digits writes --json and --samples when it finishes)",
                 "flow": "nothing was kept (flow writes --json and --samples when it finishes)",
                 "sweep": "nothing was kept (with --json a sweep keeps each pass's cells as it finishes)",
                 }.get(args.command, "nothing was written")
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return _run(args)
    except KeyboardInterrupt as exc:
        term = isinstance(exc, _Terminated)
        # On a terminal, after the progress line that \r rewrites.
        start = "\n" if sys.stderr.isatty() else ""
        with contextlib.suppress(OSError):
            print(f"{start}ganlib: interrupted by {'SIGTERM' if term else 'Ctrl-C'}: {args.kept}", file=sys.stderr)
        return 128 + int(signal.SIGTERM if term else signal.SIGINT)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    """Run the command `args` asks for; a bad value, path or allocation is one line and status 2."""
    try:
        if args.command == "presets":
            with printing():
                for name, fields in PRESETS.items():
                    print(f"{name}: {', '.join(f'{k}={v}' for k, v in fields.items()) or 'the Config defaults'}")
            return 0
        # A bad GAN_COURSE_THREADS is one line before anything is read or trained.
        course_threads(getattr(args, "threads", None))
        if args.command == "train":
            return _cmd_train(args)
        if args.command == "digits":
            return images.run_digits(args)
        if args.command == "flow":
            return _cmd_flow(args)
        return _cmd_sweep(args)
    except StdoutClosed:
        # The reader of stdout stopped early (`| head`): the files were written before the report, so the
        # command did its work and exits 0, not 141 (SIGPIPE's): a `set -o pipefail` script would otherwise
        # take a complete, saved run for a failure. Stdout goes to devnull so that the interpreter's own
        # flush at exit does not print "Exception ignored ... BrokenPipeError".
        _stdout_to_devnull()
        return 0
    except (ValueError, OSError, MemoryError) as exc:
        print(f"ganlib: error: {exc}", file=sys.stderr)
        return 2


__all__ = ["main", "build_parser", "format_table", "budget_record", "sweep"]
