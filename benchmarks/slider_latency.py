"""Benchmark 2: slider latency, cancel latency and the dashboard's kernel-side frame cost, per notebook.

Executes each notebook (without saving it) and then, in the same kernel, for every slider panel it
built: releases one control as the browser does (through the widget's `set_state`, so the run goes
to the background exactly as a reader's release does) and times the panel's first redraw and the
end of its run; then starts a long run (the largest `rounds`, where the panel has that control)
and presses Cancel after its first redraw, timing how long the run takes to stop. For each
dashboard: times Step (chunk rounds + a frame) and the kernel's cost of one frame (sample G,
evaluate D, D* and the maps, send the new data) early in a run and up to 5,000 rounds later.
Prints a table and writes JSON:

    python benchmarks/slider_latency.py --json artifacts/slider_latency.json
    python benchmarks/slider_latency.py notebooks/01_vanilla_gan.ipynb --repeat 5

The browser's side (redraws per second while playing, counted in Chromium) is measured by
tests/test_browser.py, which writes artifacts/browser_NN_dashboard_rate.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics

import nbformat
from nbclient import NotebookClient

MEASURE = r'''
import asyncio, gc, json, time
LONG_RUN_S = 20.0
from ganlib.widgets import Dashboard, Panel

def _other_value(ctrl):
    opts = getattr(ctrl, "options", None)
    if opts:
        values = [o[1] if isinstance(o, tuple) else o for o in opts]
        i = values.index(ctrl.value)
        return values[(i + 1) % len(values)]
    if isinstance(ctrl.value, bool):
        return not ctrl.value
    if isinstance(ctrl.value, int):
        return ctrl.value + 1 if ctrl.value < ctrl.max else ctrl.value - 1
    return ctrl.value * 1.25 if ctrl.value * 1.25 <= ctrl.max else ctrl.value * 0.8

def _release(ctrl, value):
    # What ipywidgets does with a release from the browser.
    if hasattr(ctrl, "index") and getattr(ctrl, "options", None):
        values = [o[1] if isinstance(o, tuple) else o for o in ctrl.options]
        ctrl.set_state({"index": values.index(value)})
    else:
        ctrl.set_state({"value": value})

_rows = []
for _obj in [o for o in gc.get_objects() if isinstance(o, (Panel, Dashboard))]:
    if isinstance(_obj, Panel) and _obj.controls:
        _name = "seed" if "seed" in _obj.controls else next(iter(_obj.controls))
        for _ in range(REPEAT):
            _t0 = time.perf_counter()
            _release(_obj.controls[_name], _other_value(_obj.controls[_name]))
            # A panel whose run takes minutes (01's Dev Nag repository setting) is cancelled after
            # LONG_RUN_S: its first redraw is what a reader waits for; its end is not.
            while not _obj.task.done() and time.perf_counter() - _t0 < LONG_RUN_S:
                await asyncio.sleep(0.01)
            _final = time.perf_counter() - _t0 if _obj.task.done() else None
            if _final is None:
                _obj.cancel_button.click()
            await _obj.task
            _rows.append({"kind": "panel", "control": _name, "first_redraw_s": _obj.first_draw_seconds,
                          "final_s": _final, "error": _obj.last_error})
        # The longest run the panel offers: its largest `rounds`, else another value of the control.
        _long = _obj.controls.get("rounds", _obj.controls[_name])
        _start = _long.value
        _target = max(_long.options) if _long is _obj.controls.get("rounds") else _other_value(_long)
        for _ in range(REPEAT):
            _before = _obj.redraws
            _release(_long, _target)
            while _obj.redraws == _before and not _obj.task.done():
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.3)  # into the training
            _running = _obj.running
            _t0 = time.perf_counter()
            _obj.cancel_button.click()
            await _obj.task
            _rows.append({"kind": "panel", "control": "Cancel", "first_redraw_s": None,
                          "final_s": time.perf_counter() - _t0 if _running else None, "error": _obj.last_error})
            _release(_long, _start)
            _t1 = time.perf_counter()
            while not _obj.task.done() and time.perf_counter() - _t1 < LONG_RUN_S:
                await asyncio.sleep(0.01)
            if not _obj.task.done():
                _obj.cancel_button.click()
            await _obj.task
    elif isinstance(_obj, Dashboard) and _obj.trainer is not None:
        for _ in range(REPEAT):
            _t0 = time.perf_counter()
            _obj.step_frames(1)
            _rows.append({"kind": "dashboard", "control": "Step", "first_redraw_s": time.perf_counter() - _t0,
                          "final_s": time.perf_counter() - _t0, "error": None})
        for _when in ("early", "late"):
            if _when == "late":
                # As far into the run as max_rounds leaves room for (5,000 rounds at most).
                _obj.trainer.step(max(0, min(5000, _obj.max_rounds - _obj.trainer.round - 12 * _obj.chunk)))
                _obj.step_frames(1)  # carries those rounds once
            _obj.frame_seconds.clear()
            _obj.step_frames(10)
            _rows.append({"kind": "dashboard", "control": f"frame@{_obj.trainer.round}",
                          "first_redraw_s": _obj.frame_cost, "final_s": _obj.frame_cost, "error": None})
print("LATENCY" + json.dumps(_rows))
'''


def measure(path: str, repeat: int) -> list[dict]:
    """Execute the notebook plus the measuring cell; return one row per control change."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(MEASURE.replace("REPEAT", str(repeat))))
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    client.execute()
    for out in nb.cells[-1].outputs:
        text = out.get("text", "")
        if "LATENCY" in text:
            return json.loads(text.split("LATENCY", 1)[1])
    raise RuntimeError(f"{path}: the measuring cell printed nothing")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json")
    args = p.parse_args()
    os.environ["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"
    os.environ["OMP_NUM_THREADS"] = "1"  # as lab.sh runs the course
    paths = args.paths or sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "[0-9]*.ipynb")))
    report = {}
    print(f"{'notebook':34} {'widget':9} {'control':12} {'n':>3} {'first redraw s (median)':>24} "
          f"{'final s (median)':>17}")
    for path in paths:
        rows = measure(path, args.repeat)
        report[os.path.basename(path)] = rows
        groups: dict[tuple, list[dict]] = {}
        for r in rows:
            groups.setdefault((r["kind"], r["control"]), []).append(r)
        for (kind, control), rs in groups.items():
            first = statistics.median(float("nan") if r["first_redraw_s"] is None else r["first_redraw_s"]
                                      for r in rs)
            final = statistics.median(float("nan") if r["final_s"] is None else r["final_s"] for r in rs)
            digits = 4 if control.startswith("frame@") else 2
            print(f"{os.path.basename(path):34} {kind:9} {control:12} {len(rs):>3} {first:>24.{digits}f} "
                  f"{final:>17.{digits}f}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
