"""Run a notebook on several seed blocks and report its asserts and chosen numbers on each.

    python scripts/seed_blocks.py notebooks/01_vanilla_gan.ipynb --seeds 0 1000 2000 3000 4000 \
        --expr "devnag_ok=sum(r.success for r in runs)" --expr "median_w1=float(np.median(w1s))"

Each seed block S runs the whole notebook on a fresh kernel with GAN_COURSE_SEED=S (one thread, as
test.sh runs it), carrying on past failing cells, and then evaluates the expressions in that
kernel. The table shows every expression on every block with its range, and every cell that
raised (a failed assert names the claim that did not hold). This is how the margins of the
notebooks' asserts are derived: from the spread over blocks, never from one run. `--expr-file F`
reads NAME=EXPR lines from a file (# comments allowed). Nothing is saved.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import nbformat
from nbclient import NotebookClient

MARK = "@@SEED_BLOCK_VALUES@@"


def run_block(path: str, seed: int, exprs: dict[str, str], timeout: int) -> dict:
    """Execute the notebook with GAN_COURSE_SEED=seed; return values, errors and seconds."""
    os.environ.update(GAN_COURSE_SEED=str(seed), OMP_NUM_THREADS="1", IPYKERNEL_CELL_NAME="<IPY-INPUT>")
    nb = nbformat.read(path, as_version=4)
    probe = ["import json as _json", "_vals = {}"]
    for name, expr in exprs.items():
        probe.append(f"try:\n    _vals[{name!r}] = ({expr})\nexcept Exception as _e:\n"
                     f"    _vals[{name!r}] = 'ERROR ' + type(_e).__name__ + ': ' + str(_e)[:80]")
    # JSON wants string keys: dicts keyed by tuples (say, (beta1, input)) are printed with repr'd keys.
    probe.append("def _plain(v):\n"
                 "    if isinstance(v, dict):\n        return {str(k): _plain(x) for k, x in v.items()}\n"
                 "    if isinstance(v, (list, tuple)):\n        return [_plain(x) for x in v]\n    return v")
    probe.append(f"print({MARK!r} + _json.dumps(_plain(_vals), default=lambda v: repr(v)))")
    nb.cells.append(nbformat.v4.new_code_cell("\n".join(probe)))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    errors, values = [], {}
    code_index = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                errors.append(f"code cell {code_index} ({first[:60]}): {out.ename}: {out.evalue[:200]}")
            elif out.output_type == "stream" and MARK in out.text:
                values = json.loads(out.text.split(MARK, 1)[1])
    return {"seed": seed, "values": values, "errors": errors, "seconds": round(seconds, 1)}


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebook")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1000, 2000])
    p.add_argument("--expr", action="append", default=[], metavar="NAME=EXPR")
    p.add_argument("--expr-file")
    p.add_argument("--jobs", type=int, default=1, help="seed blocks run at once (one core each)")
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument("--json", help="write all results here")
    args = p.parse_args()
    lines = list(args.expr)
    if args.expr_file:
        with open(args.expr_file) as fh:
            lines += [ln.strip() for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
    exprs = {}
    for item in lines:
        name, sep, expr = item.partition("=")
        if not sep:
            p.error(f"--expr {item!r}: write NAME=EXPR")
        exprs[name.strip()] = expr.strip()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_block, args.notebook, s, exprs, args.timeout) for s in args.seeds]
        results = [f.result() for f in futures]
    width = max([len(n) for n in exprs] + [10])
    print(f"{os.path.basename(args.notebook)}: seed blocks {', '.join(str(s) for s in args.seeds)}")
    print(f"{'':{width}s} " + " ".join(f"{r['seed']:>10d}" for r in results) + "   range")
    for name in exprs:
        vals = [r["values"].get(name, "-") for r in results]
        nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        rng = f"{_fmt(min(nums))} .. {_fmt(max(nums))}" if nums else ""
        print(f"{name:{width}s} " + " ".join(f"{_fmt(v):>10s}" for v in vals) + f"   {rng}")
    print(f"{'seconds':{width}s} " + " ".join(f"{r['seconds']:>10.1f}" for r in results))
    failed = False
    for r in results:
        for e in r["errors"]:
            failed = True
            print(f"seed {r['seed']}: {e}")
    if not failed:
        print("no cell raised on any seed block")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2, default=repr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
