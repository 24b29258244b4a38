"""Controls for Config fields: one slider or dropdown per field, applied on release."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as W

from ganlib.config import ACTIVATIONS, FEATURES, GP_SIDES, LOSSES, NOISES, OPTIMIZERS, TARGETS, Config
from ganlib.flows import SAMPLERS, FlowConfig
from ganlib.palette import COLORS
from ganlib.train import Trainer
from ganlib.widgets.names import ControlNames

# 300 px per control with a 100 px description: three fit side by side in a notebook at 1366 px
# with the file browser open, and the readout (".1e" of a log slider) is never cut off.
CONTROL_WIDTH = 300
_STYLE = {"description_width": "100px"}


def control_layout() -> W.Layout:
    """A fresh Layout for one control (a Layout shared between widgets would tie their sizes)."""
    return W.Layout(width=f"{CONTROL_WIDTH}px")


# Width of the box beside a slider where a value is typed: "1.0e-03" at the notebook's font size.
ENTRY_WIDTH = 76
# Sliders that get a typed-value box (a SelectionSlider's readout cannot be typed into).
TYPED_SLIDERS = (W.IntSlider, W.FloatSlider, W.FloatLogSlider)


def _px(layout: W.Layout, default: int) -> int:
    """A layout's width in px ('300px' -> 300), or `default` when it is not given in px."""
    width = str(layout.width or "")
    return int(float(width[:-2])) if width.endswith("px") else default


class SliderEntry:
    """A slider without its own readout and a text box beside it, where a value can be typed.

    A slider's editable readout clamps what is typed in the browser, before the kernel sees it (seed
    -5 arrives as 0, a learning rate of 0 as 1e-5), so the kernel cannot tell a typo from a choice
    and each clamped value would retrain. The box sends the text as typed: a number within the
    slider's range moves the slider (which retrains, as a release does); anything else is refused
    with one line, "seed must be from 0 to 99; kept 0", given to `on_refused`, and the slider keeps
    its value, so no run starts. Where no one listens (`on_refused` None), the line is shown in
    `message`, an HTML widget the caller may place.
    """

    def __init__(self, slider: W.Widget, on_refused: Callable[[str], None] | None = None) -> None:
        self.slider = slider
        self.on_refused = on_refused
        self.refused: str | None = None
        self.message = W.HTML(value="", layout=W.Layout(display="none"))
        label = slider.description or "the value"
        self.label = label
        width = _px(slider.layout, CONTROL_WIDTH)
        slider.readout = False
        slider.layout.width = f"{width - ENTRY_WIDTH - 4}px"
        self.text = W.Text(value=self.format(slider.value), continuous_update=False,
                           layout=W.Layout(width=f"{ENTRY_WIDTH}px"), tooltip=f"type a {label}")
        self.text.add_class("ganlib-entry")
        self.widget = W.HBox([slider, self.text], layout=W.Layout(width=f"{width}px"))
        self.widget.add_class("ganlib-typed")
        self._syncing = False
        slider.observe(self._on_slider, names="value")
        self.text.observe(self._on_text, names="value")
        # Found again by `entry_of` (a caller that has only the slider routes its messages).
        slider._ganlib_entry = self

    def format(self, value: float) -> str:
        """The value as the slider's readout would show it."""
        try:
            return format(value, self.slider.readout_format)
        except (ValueError, TypeError):
            return str(value)

    def bounds(self) -> tuple[float, float]:
        """The slider's range in values (a log slider's min and max are exponents)."""
        s = self.slider
        if isinstance(s, W.FloatLogSlider):
            return s.base ** s.min, s.base ** s.max
        return s.min, s.max

    def check(self, text: str) -> float | int:
        """`text` as a value of the slider, or a one-line ValueError that says what is allowed."""
        lo, hi = self.bounds()
        whole = isinstance(self.slider, W.IntSlider)
        span = f"from {lo} to {hi}" if whole else f"from {lo:.3g} to {hi:.3g}"
        kept = f"kept {self.slider.value}" if whole else f"kept {self.slider.value:.3g}"
        try:
            # A comma is refused, not dropped as a thousands separator: "1,5e-3" (a decimal comma) would be
            # 0.015 and "2,5" seed 25, each a run of another value than the one meant.
            value = float(text.strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (whole and not value.is_integer()):
            raise ValueError(f"{self.label} must be {'a whole number' if whole else 'a number'} {span}; {kept}")
        if not lo <= value <= hi:
            raise ValueError(f"{self.label} must be {span}; {kept}")
        return int(value) if whole else value

    def _refuse(self, text: str) -> None:
        self.refused = text
        if self.on_refused is not None:
            self.on_refused(text)
        else:
            self.message.value = message_html(text, "error")
            self.message.layout.display = None

    def _show(self, value: float) -> None:
        self._syncing = True
        try:
            self.text.value = self.format(value)
        finally:
            self._syncing = False

    def _on_slider(self, change: dict) -> None:
        self._show(change["new"])

    def _on_text(self, change: dict) -> None:
        if self._syncing:
            return
        try:
            value = self.check(change["new"])
        except ValueError as exc:
            self._refuse(str(exc))
            self._show(self.slider.value)
            return
        self.refused = None
        if self.message.value:
            self.message.value, self.message.layout.display = "", "none"
        if value == self.slider.value:
            self._show(value)  # the same value, maybe typed differently: no new run
            return
        # Typed in the browser: the slider's change counts as the reader's, as a release does.
        self.slider._ganlib_typed = bool(getattr(self.text, "_property_lock", None))
        try:
            self.slider.value = value
        finally:
            self.slider._ganlib_typed = False


def entry_of(control: W.Widget) -> SliderEntry | None:
    """The typed-value box that `control_grid` gave a slider, or None."""
    return getattr(control, "_ganlib_entry", None)


def from_browser(control: W.Widget) -> bool:
    """Whether the control's value change under way came from the reader (a release or a typed value).

    A value set by the browser arrives through set_state, which locks the synced properties while
    observers run; a value typed into a slider's box is marked by its `SliderEntry`; a value set by
    code is neither.
    """
    return bool(getattr(control, "_property_lock", None)) or bool(getattr(control, "_ganlib_typed", False))


def on_refused(controls: list[W.Widget], callback: Callable[[str], None]) -> None:
    """Send the refusals of these controls' typed-value boxes to `callback` (a widget's message line)."""
    for c in controls:
        entry = entry_of(c)
        if entry is not None:
            entry.on_refused = callback


def control_grid(controls: list[W.Widget], on_refused: Callable[[str], None] | None = None) -> W.GridBox:
    """Controls in as many columns as the output area has room for; each slider with a typed-value box.

    A refused typed value goes to `on_refused` (the owner's message line); without one, to a line
    under the grid, shown only while it has something to say.
    """
    items, messages = [], []
    for c in controls:
        if isinstance(c, TYPED_SLIDERS):
            entry = entry_of(c) or SliderEntry(c, on_refused)
            items.append(entry.widget)
            messages.append(entry.message)
        else:
            items.append(c)
    for m in messages:
        m.layout.grid_column = "1 / -1"  # a whole row of the grid
    # Invisible: names the sliders and value boxes for screen readers (ipywidgets leaves them unnamed).
    return W.GridBox(items + (messages if on_refused is None else []) + [ControlNames()],
                     layout=W.Layout(grid_template_columns=f"repeat(auto-fill, {CONTROL_WIDTH + 8}px)",
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
           "divergence_message", "control_grid", "control_layout", "message_html", "SliderEntry", "entry_of",
           "from_browser", "on_refused"]
