"""Controls for Config fields: one slider or dropdown per field, applied on release."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ipywidgets as W

from ganlib.config import ACTIVATIONS, FEATURES, GP_SIDES, LOSSES, NOISES, OPTIMIZERS, TARGETS, Config
from ganlib.flows import SAMPLERS, FlowConfig
from ganlib.palette import COLORS
from ganlib.train import Trainer

# 300 px per control with a 100 px description: three fit side by side in a notebook at 1366 px
# with the file browser open, and the readout (".1e" of a log slider) is never cut off.
CONTROL_WIDTH = 300
_STYLE = {"description_width": "100px"}


def control_layout() -> W.Layout:
    """A fresh Layout for one control (a Layout shared between widgets would tie their sizes)."""
    return W.Layout(width=f"{CONTROL_WIDTH}px")


def control_grid(controls: list[W.Widget]) -> W.GridBox:
    """Controls in as many columns as the output area has room for."""
    return W.GridBox(controls, layout=W.Layout(grid_template_columns=f"repeat(auto-fill, {CONTROL_WIDTH + 8}px)",
                                               grid_gap="2px 0px"))


@dataclass(frozen=True)
class FieldSpec:
    """How a Config field appears as a control."""

    kind: str  # "float", "log", "int", "choice", "select"
    label: str
    lo: float = 0.0
    hi: float = 1.0
    step: float = 1.0
    options: tuple = ()


# "width" is not a Config field: it sets every hidden layer of G and D to one width.
FIELD_SPECS: dict[str, FieldSpec] = {
    "target": FieldSpec("choice", "target", options=TARGETS),
    "target_mean": FieldSpec("float", "target mean", -10.0, 10.0, 0.25),
    "target_std": FieldSpec("float", "target std", 0.2, 5.0, 0.05),
    "noise": FieldSpec("choice", "noise", options=NOISES),
    "features": FieldSpec("choice", "D sees", options=FEATURES),
    "loss": FieldSpec("choice", "loss", options=LOSSES),
    "d_optimizer": FieldSpec("choice", "D optimizer", options=OPTIMIZERS),
    "g_optimizer": FieldSpec("choice", "G optimizer", options=OPTIMIZERS),
    "d_lr": FieldSpec("log", "D learning rate", -5.0, -0.5, 0.1),
    "g_lr": FieldSpec("log", "G learning rate", -5.0, -0.5, 0.1),
    "d_steps": FieldSpec("int", "D steps/round", 1, 10, 1),
    "g_steps": FieldSpec("int", "G steps/round", 1, 10, 1),
    "batch_size": FieldSpec("select", "batch size", options=(8, 16, 32, 64, 100, 128, 256, 512)),
    "sets": FieldSpec("int", "samples/step", 1, 16, 1),
    "rounds": FieldSpec("select", "rounds", options=(100, 250, 500, 1000, 2000, 3000, 5000, 10000)),
    "seed": FieldSpec("int", "seed", 0, 99, 1),
    "seeds": FieldSpec("int", "seeds", 1, 32, 1),
    "width": FieldSpec("select", "hidden width", options=(2, 4, 8, 16, 32, 50, 64, 128)),
    "clip": FieldSpec("log", "clip c", -3.0, 0.0, 0.1),
    "gp_weight": FieldSpec("log", "GP weight", -1.0, 2.0, 0.1),
    "gp_side": FieldSpec("choice", "GP side", options=GP_SIDES),
    "lr_decay": FieldSpec("log", "final lr factor", -2.0, 0.0, 0.1),
    "g_activations": FieldSpec("choice", "G activation", options=ACTIVATIONS),
    "normalize": FieldSpec("choice", "standardise", options=(True, False)),
    # Flow matching (ganlib.flows.FlowConfig): one network, its rate, and the sampler's cost.
    "lr": FieldSpec("log", "learning rate", -5.0, -0.5, 0.1),
    "evaluations": FieldSpec("select", "evaluations/sample", options=(2, 4, 6, 8, 10, 16, 20, 32, 50, 100)),
    "sampler": FieldSpec("choice", "sampler", options=SAMPLERS),
}


def field_value(config: Config, name: str) -> Any:
    """The value a control for `name` shows for `config` (handles the pseudo-fields)."""
    if name == "width":
        return config.hidden[0] if isinstance(config, FlowConfig) else config.g_hidden[0]
    if name == "g_activations":
        return config.g_activations[0]
    return getattr(config, name)


def make_control(name: str, value: Any) -> W.Widget:
    """One control for field `name`, set to `value`; sliders apply on release."""
    if name not in FIELD_SPECS:
        raise ValueError(f"no control for field {name!r}; known: {', '.join(FIELD_SPECS)}")
    s = FIELD_SPECS[name]
    common = dict(description=s.label, style=_STYLE, layout=control_layout())
    # A slider would silently clamp a preset's value that lies outside its range: widen it instead.
    if s.kind == "float":
        return W.FloatSlider(value=value, min=min(s.lo, value), max=max(s.hi, value), step=s.step,
                             continuous_update=False, readout_format=".2f", **common)
    if s.kind == "log":
        exp = math.log10(value)
        return W.FloatLogSlider(value=value, base=10, min=min(s.lo, math.floor(exp)), max=max(s.hi, math.ceil(exp)),
                                step=s.step, continuous_update=False, readout_format=".1e", **common)
    if s.kind == "int":
        return W.IntSlider(value=value, min=min(int(s.lo), value), max=max(int(s.hi), value), step=int(s.step),
                           continuous_update=False, **common)
    options = tuple(s.options)
    if value not in options:
        options = tuple(sorted({*options, value}, key=str)) if s.kind == "choice" else tuple(sorted({*options, value}))
    if s.kind == "select":
        return W.SelectionSlider(options=options, value=value, continuous_update=False, **common)
    return W.Dropdown(options=options, value=value, **common)


def config_with(config: Config, values: dict[str, Any]) -> Config:
    """`config` with control values applied (handles the pseudo-fields width and g_activations)."""
    changes = dict(values)
    if "width" in changes:
        w = int(changes.pop("width"))
        if isinstance(config, FlowConfig):
            changes["hidden"] = (w,) * len(config.hidden)
        else:
            changes["g_hidden"] = (w,) * len(config.g_hidden)
            changes["d_hidden"] = (w,) * len(config.d_hidden)
    if "g_activations" in changes:
        changes["g_activations"] = (changes["g_activations"],) * len(config.g_hidden)
    return config.replace(**changes)


def divergence_message(trainer: Trainer) -> str | None:
    """A one-line note on runs that met NaN/inf, or None."""
    bad = [(s, r) for s, r in zip(trainer.seeds, trainer.diverged_reason) if r is not None]
    if not bad:
        return None
    seed, reason = bad[0]
    return (f"{len(bad)} of {trainer.k} run(s) diverged (seed {seed}: {reason}). "
            "Try smaller learning rates or fewer D steps.")


def message_html(text: str, level: str = "warning") -> str:
    """A coloured one-line message for an HTML widget ('' for no message)."""
    color = COLORS[level]  # the palette's warning, error and info colours
    return f'<span style="color:{color}">{text}</span>' if text else ""


__all__ = ["FieldSpec", "FIELD_SPECS", "CONTROL_WIDTH", "make_control", "config_with", "field_value",
           "divergence_message", "control_grid", "control_layout", "message_html"]
