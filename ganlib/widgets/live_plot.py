"""A grid of line and bar charts drawn by the browser on a canvas, fed new data frame by frame.

`LivePlot` is an anywidget: its JavaScript (live_plot.js beside this file, no external imports)
ships inside ganlib and reaches JupyterLab as a widget trait, so nothing is fetched from the
network. What stays fixed for a run (titles, axis labels, the target's curves, reference lines)
is the `spec` trait, sent once per run. Each frame is one custom message: a small JSON header and
float32 buffers holding only what changed - curves that are replaced (a histogram, D(x)) and
points appended to histories (losses, moments, W1). A frame therefore costs the same at round
20,000 as at round 20.

The browser keeps the data per widget model, so a second view, or a view re-created by
JupyterLab, draws the whole run; a freshly loaded page asks for it again ("hello"), and the owner
answers with a full snapshot. The browser acknowledges the frames it has drawn ("drawn", at most
every 150 ms: each message to the kernel makes JupyterLab repaint its busy/idle indicators): while
a view is drawing, the owner sends at most `max_in_flight` frames ahead of it (12: 0.4 s at 30
frames a second, so the owner never waits for an acknowledgement that is merely throttled), and
the points in between are not lost but travel with the next frame.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

_HERE = Path(__file__).parent


class LivePlot(anywidget.AnyWidget):
    """A canvas of panels (`spec`) that draws the frames sent with `send_frame`."""

    _esm = _HERE / "live_plot.js"
    _css = _HERE / "live_plot.css"
    spec = traitlets.Dict().tag(sync=True)
    height = traitlets.Int(420).tag(sync=True)
    # Identifies this model's data store in the browser: every view of the widget shares it.
    uid = traitlets.Unicode().tag(sync=True)

    def __init__(self, *, height: int = 420, max_in_flight: int = 12, **kwargs: Any) -> None:
        super().__init__(height=height, uid=uuid.uuid4().hex, **kwargs)
        self.max_in_flight = max_in_flight
        self.sent = 0
        self.acked = 0
        self.bytes_sent = 0
        self._last_ack_time = 0.0
        self.on_snapshot_request: Callable[[], None] | None = None
        self.on_msg(self._handle_custom)

    def _handle_custom(self, _widget: Any, content: dict, _buffers: list) -> None:
        kind = content.get("type")
        if kind == "drawn":
            self.acked = max(self.acked, int(content.get("seq", 0)))
            self._last_ack_time = time.perf_counter()
        elif kind == "hello":
            # A new page: its store is empty. Let it draw everything, from a full snapshot.
            self.acked = self.sent
            if self.on_snapshot_request is not None:
                self.on_snapshot_request()

    def ready_for_frame(self) -> bool:
        """False while a drawing view is more than `max_in_flight` frames behind (then skip a frame).

        A widget no view has acknowledged (not displayed, or run headless) is always ready, and a
        view silent for a second (a closed tab) stops holding frames back.
        """
        if self.acked == 0 or time.perf_counter() - self._last_ack_time > 1.0:
            return True
        return self.sent - self.acked < self.max_in_flight

    def send_frame(self, header: dict, parts: list[tuple[dict, list[np.ndarray]]]) -> int:
        """Send one frame: `parts` pairs a description with its arrays (sent as float32 buffers).

        A part is {"id": series id, "mode": "replace" | "append" | "reset" | "clear"}; its arrays are
        y with shape (runs, n) and, for histories, x with shape (n,); "clear" (no arrays) removes the
        series from the browser's store (arrows switched off). The header's "titles" and "texts"
        change panels' titles and text boxes, and its "alt" is the frame's one-line description,
        the canvas's aria-label. Returns the frame's sequence number.
        """
        self.sent += 1
        buffers: list[memoryview] = []
        described = []
        for desc, arrays in parts:
            idx = []
            for a in arrays:
                arr = np.ascontiguousarray(a, dtype=np.float32)
                idx.append({"buffer": len(buffers), "shape": list(arr.shape)})
                buffers.append(memoryview(arr.reshape(-1).view(np.uint8)))
                self.bytes_sent += arr.nbytes
            described.append({**desc, "arrays": idx})
        self.send({"type": "frame", "seq": self.sent, **header, "parts": described}, buffers=buffers)
        return self.sent

    def clear(self) -> None:
        """Forget every series in the browser (a new run starts)."""
        self.send({"type": "clear"})


__all__ = ["LivePlot"]
