"""Execute notebooks top to bottom on a fresh kernel and save them with outputs and widget state.

    python scripts/execute_notebooks.py notebooks/01_vanilla_gan.ipynb      # one
    python scripts/execute_notebooks.py                                      # all, in order
    python scripts/execute_notebooks.py --no-save --json times.json          # time them only

This is how the saved outputs that `pytest --nbval` compares are made: the same kernel name
(python3), IPYKERNEL_CELL_NAME as in test.sh, widget state stored so static viewers show the
controls, and the kernelspec saved so JupyterLab opens the notebook without asking for a kernel.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def execute(path: str, save: bool = True, timeout: int = 600) -> float:
    """Run one notebook in its own folder; return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata.setdefault("language_info", {"name": "python"})
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    # Keep language_info minimal and machine-independent.
    nb.metadata["language_info"] = {"name": "python", "version": "3.11", "mimetype": "text/x-python",
                                    "file_extension": ".py"}
    if save:
        nbformat.write(nb, path)
    return seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*")
    p.add_argument("--no-save", action="store_true", help="execute and time only")
    p.add_argument("--json", help="write {notebook: seconds} here")
    args = p.parse_args()
    os.environ["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"
    os.environ["OMP_NUM_THREADS"] = "1"  # as test.py does for its two workers: the kernel inherits it
    paths = args.paths or sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "[0-9]*.ipynb")))
    times = {}
    for path in paths:
        sec = execute(path, save=not args.no_save)
        times[os.path.basename(path)] = round(sec, 2)
        print(f"{os.path.basename(path):40s} {sec:6.1f} s", flush=True)
    print(f"{'total':40s} {sum(times.values()):6.1f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(times, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
