"""Record a run of a notebook's live dashboard, for the website's replay of it (no kernel there).

The website cannot train: it has no kernel. So `scripts/build_site.py` runs this file while Jupyter
Book builds (in parallel, in a process of its own), and the notebook's page plays the recording back
with the dashboard's own drawing code, `ganlib/widgets/live_plot.js`, fed by a stand-in for the
widget's model (`site/replay/replay.js`).

What is recorded is exactly what the kernel sends the browser: the dashboard is built with the
notebook's own call (`RECORDINGS`, checked against the notebook's source so that it cannot drift),
its `LivePlot.send` is replaced by a recorder, and the dashboard then sends a full snapshot (what a
freshly loaded page gets) and one frame per `Step` (`chunk` rounds of the course's `Trainer`). A
message is stored as its JSON content, and its float32 buffers are concatenated in one binary file:

    NAME.json   {"notebook", "call", "uid", "height", "spec", "rounds", "frame_rate",
                 "messages": [{"content": {...}, "buffers": [[offset, length], ...]}, ...]}
    NAME.bin    the buffers' bytes (little-endian float32, as numpy and the browser both lay them out)

81 frames of notebook 01's dashboard (1,600 rounds of three seeds) take about 4 s on one thread (2 s
of it importing PyTorch) and 0.73 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Recording:
    """One dashboard to record: its notebook, the call that builds it there, and how long to run it."""

    notebook: str  # the notebook's file stem, e.g. "01_vanilla_gan"
    call: str  # the expression the notebook builds its dashboard with, verbatim (SEED is course_seed())
    frames: int  # frames after the first: each one `Step` of the dashboard
    frame_rate: float  # frames a second the page plays back at

    def source_has_call(self, root: Path = ROOT) -> bool:
        """Whether the notebook still builds its dashboard with `call` (else the recording would show another run)."""
        nb = json.loads((root / "notebooks" / f"{self.notebook}.ipynb").read_text(encoding="utf-8"))
        return any(self.call in "".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] == "code")


RECORDINGS = [
    # 80 Steps of 20 rounds: G collapsed to a point (std ~0.02) chases the target's mean back and forth
    # (section 3's chase) until about round 1,000, then spreads to nearly the target's std (~1.2 by
    # round 1,600); at 10 frames a second the replay lasts 8 s.
    Recording("01_vanilla_gan", 'Dashboard(Config(features="value", seed=SEED, seeds=3))', frames=80,
              frame_rate=10.0),
]


def record(recording: Recording, frames: int | None = None) -> tuple[dict[str, Any], bytes]:
    """Build the notebook's dashboard, step it and return (the recording's JSON object, its buffers' bytes)."""
    from ganlib import Config, course_seed
    from ganlib.widgets import Dashboard

    # The notebook's own expression (source_has_call checks it is still there), with its names.
    dash = eval(recording.call, {"Dashboard": Dashboard, "Config": Config, "SEED": course_seed()})
    messages: list[dict[str, Any]] = []
    blob = bytearray()

    def send(content: dict, state: Any = None, buffers: list | None = None) -> None:
        # LivePlot.send_frame's message, as the comm would carry it to the browser.
        spans = []
        for buffer in buffers or []:
            raw = bytes(buffer)
            spans.append([len(blob), len(raw)])
            blob.extend(raw)
        messages.append({"content": content, "buffers": spans})

    dash.plot.send = send
    # What a page that opens the running notebook gets first ("hello"): the whole run so far, in full.
    dash.redraw(full=True)
    for _ in range(recording.frames if frames is None else frames):
        dash.step_frames(1)
    if dash.trainer is None or dash.trainer.stopped:
        raise RuntimeError(f"{recording.notebook}: the recorded run stopped early ({dash.message.value})")
    data = {
        "notebook": recording.notebook,
        "call": recording.call.replace("SEED", str(course_seed())),
        # The browser keeps a store per widget model, keyed by uid: one of its own for the replay.
        "uid": f"replay-{recording.notebook}",
        "height": dash.plot.height,
        "spec": dash.plot.spec,
        "rounds": dash.trainer.round,
        "frame_rate": recording.frame_rate,
        "messages": messages,
    }
    return data, bytes(blob)


def write(recording: Recording, folder: Path, frames: int | None = None) -> tuple[Path, Path]:
    """Record `recording` into folder/NOTEBOOK.json and folder/NOTEBOOK.bin; returns the two paths."""
    data, blob = record(recording, frames)
    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / f"{recording.notebook}.json"
    binary = folder / f"{recording.notebook}.bin"
    meta.write_text(json.dumps(data, separators=(",", ":"), allow_nan=False), encoding="utf-8")
    binary.write_bytes(blob)
    return meta, binary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder to write NOTEBOOK.json and NOTEBOOK.bin into")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    # The nets are tiny and the site's build runs beside this: one thread is faster and fairer.
    torch.set_num_threads(1)
    for recording in RECORDINGS:
        if not recording.source_has_call():
            print(f"record_replay: notebooks/{recording.notebook}.ipynb no longer builds its dashboard with "
                  f"{recording.call}: update RECORDINGS in scripts/record_replay.py", file=sys.stderr)
            return 1
        start = time.perf_counter()
        meta, binary = write(recording, args.out)
        size = meta.stat().st_size + binary.stat().st_size
        print(f"record_replay: {recording.notebook}: {size / 1e6:.2f} MB in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
