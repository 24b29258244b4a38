"""Slider panels, the live training dashboard and progress bars for the notebooks.

Builders return objects that hold their controls, so code and tests can set values, press
buttons and read what was drawn: `panel.controls["d_lr"].value = 1e-3` retrains exactly as a
student's slider release does (in the browser the release runs in the background and can be
cancelled). Every callback catches its errors: a bad value or a diverging run puts a short
message in the widget and the widget stays usable.

- `controls`: one control per Config field (`FIELD_SPECS`, `make_control`, `config_with`).
- `panel`: `Panel`, `training_panel`, `train_progressively` (matplotlib figures as PNG).
- `dashboard`: `Dashboard`, Play/Pause/Step/Reset, drawn in the browser by `live_plot.LivePlot`.
- `plane_dashboard`: `PlaneDashboard`, the same for the 2-D targets (D's surface, G's points and their push).
- `progress`: `progress(total, description)` for slow cells.
- `names`: `ControlNames`, which names sliders, value boxes and panel figures for screen readers.
"""

from ganlib.widgets.controls import FIELD_SPECS, FieldSpec, config_with, divergence_message, make_control
from ganlib.widgets.dashboard import ALL_DIVERGED, N_ARROWS, Dashboard, DashboardFrames, describe_frame, push_summary
from ganlib.widgets.live_plot import LivePlot
from ganlib.widgets.names import ControlNames
from ganlib.widgets.panel import (
    Panel,
    RunCancelled,
    dashboard_figure,
    flow_figure,
    readable_png,
    summary_html,
    train_progressively,
    training_panel,
)
from ganlib.widgets.plane_dashboard import PlaneDashboard, PlaneFrames, describe_plane_frame
from ganlib.widgets.progress import Progress, progress

__all__ = ["FieldSpec", "FIELD_SPECS", "make_control", "config_with", "Panel", "RunCancelled", "training_panel",
           "train_progressively", "flow_figure", "summary_html", "divergence_message", "Dashboard", "DashboardFrames",
           "dashboard_figure", "LivePlot", "readable_png", "Progress", "progress", "ALL_DIVERGED", "N_ARROWS",
           "describe_frame", "push_summary", "PlaneDashboard", "PlaneFrames", "describe_plane_frame", "ControlNames"]
