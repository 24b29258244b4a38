"""Benchmark 2: time from a slider change to the first and the final redraw, per notebook panel.

Executes each notebook (without saving it) and then, in the same kernel, moves one control of
every slider panel it built (the seed where there is one) and times the panel's first redraw and
the end of its job; for each dashboard, times Step frames. Prints a table and writes JSON:

    python benchmarks/slider_latency.py --json artifacts/slider_latency.json
    python benchmarks/slider_latency.py notebooks/01_vanilla_gan.ipynb --repeat 5
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
import gc, json, time
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

_rows = []
for _obj in gc.get_objects():
    if isinstance(_obj, Panel) and _obj.controls:
        _name = "seed" if "seed" in _obj.controls else next(iter(_obj.controls))
        for _ in range(REPEAT):
            _t0 = time.perf_counter()
            _obj.controls[_name].value = _other_value(_obj.controls[_name])
            _rows.append({"kind": "panel", "control": _name, "first_redraw_s": _obj.first_draw_seconds,
                          "final_s": time.perf_counter() - _t0, "error": _obj.last_error})
    elif isinstance(_obj, Dashboard):
        for _ in range(REPEAT):
            _t0 = time.perf_counter()
            _obj.step_frames(1)
            _rows.append({"kind": "dashboard", "control": "Step", "first_redraw_s": time.perf_counter() - _t0,
                          "final_s": time.perf_counter() - _t0, "error": None})
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
    print(f"{'notebook':34} {'widget':9} {'control':9} {'n':>3} {'first redraw s (median)':>24} "
          f"{'final s (median)':>17}")
    for path in paths:
        rows = measure(path, args.repeat)
        report[os.path.basename(path)] = rows
        groups: dict[tuple, list[dict]] = {}
        for r in rows:
            groups.setdefault((r["kind"], r["control"]), []).append(r)
        for (kind, control), rs in groups.items():
            first = statistics.median(r["first_redraw_s"] or float("nan") for r in rs)
            final = statistics.median(r["final_s"] for r in rs)
            print(f"{os.path.basename(path):34} {kind:9} {control:9} {len(rs):>3} {first:>24.2f} {final:>17.2f}",
                  flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
