"""What the course's two installs download from PyPI, and how long they take in a fresh venv.

    python benchmarks/install_size.py                  # sizes only (downloads the wheels to a temp folder)
    python benchmarks/install_size.py --time           # also time both installs into a fresh venv
    python benchmarks/install_size.py --torch-wheel /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl

Asks pip, with no configuration file (so only PyPI, as for a student), what `python lab.py` (the
runtime: ganlib and its dependencies) and then `python test.py` (the dev extra on top) would install
into a venv that already holds torch, held to constraints/known-good.txt (`pip install --dry-run
--report`), downloads exactly those wheels (`pip download --no-deps`) and adds up their sizes. torch
itself is reported apart: its CPU build (the wheel given with --torch-wheel, the file PyTorch's CPU
index serves) and PyPI's Linux build, which brings the CUDA libraries (its size is what
`--cuda` downloads: 2.7 GB, so off by default).

With --time, a fresh venv gets torch from the given wheel (no download, as the set-up's CPU path
would after a download), then the runtime install and the dev install are timed as the set-up runs
them (pip's cache off, so every wheel is fetched).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pip_env() -> dict[str, str]:
    """pip as a student's: no configuration files, no local indexes or wheel folders, no cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _venv(path: Path, torch_wheel: str | None) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    py = path / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True, env=_pip_env())
    if torch_wheel:
        # The wheel alone: torch's own dependencies (sympy, networkx, ...) then count in the runtime install.
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", torch_wheel], check=True, env=_pip_env())
    return py


def _constraints(tmp: Path) -> Path:
    lines = [ln for ln in (ROOT / "constraints" / "known-good.txt").read_text().splitlines()
             if not ln.replace(" ", "").startswith("torch==")]
    out = tmp / "known-good-without-torch.txt"
    out.write_text("\n".join(lines) + "\n")
    return out


def _planned(py: Path, target: str, constraints: Path, report: Path) -> list[str]:
    """name==version of every distribution pip would install for `target` (ganlib itself left out)."""
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--dry-run", "--report", str(report), "-c",
                    str(constraints), "-e", target], check=True, env=_pip_env(), cwd=ROOT)
    items = json.loads(report.read_text())["install"]
    return sorted(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in items
                  if i["metadata"]["name"].lower() != "ganlib")


def _download_mb(py: Path, pins: list[str], folder: Path) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    if pins:
        subprocess.run([str(py), "-m", "pip", "download", "-q", "--no-deps", "-d", str(folder), *pins], check=True,
                       env=_pip_env())
    return sum(f.stat().st_size for f in folder.iterdir()) / 1e6


def _timed_install(py: Path, target: str, constraints: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(py), "-m", "pip", "install", "-q", "-c", str(constraints), "-e", target], check=True,
                   env=_pip_env(), cwd=ROOT)
    return time.perf_counter() - t0


def _du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def main(argv: list[str] | None = None) -> int:
    """Print the download sizes (and times) of the runtime and test installs."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--torch-wheel", help="a torch wheel on disk (the CPU build) to put in the venv first")
    p.add_argument("--time", action="store_true", help="also time both installs into a fresh venv")
    p.add_argument("--cuda", action="store_true", help="also download PyPI's torch 2.13.0 with its CUDA libraries")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        py = _venv(tmp / "plan", args.torch_wheel)
        constraints = _constraints(tmp)
        runtime = _planned(py, ".", constraints, tmp / "runtime.json")
        both = _planned(py, ".[dev]", constraints, tmp / "dev.json")
        dev = sorted(set(both) - set(runtime))
        rt_mb = _download_mb(py, runtime, tmp / "runtime")
        dev_mb = _download_mb(py, dev, tmp / "dev")
        print(f"Python {sys.version.split()[0]}, {sys.platform}; torch already in the venv: "
              f"{'yes' if args.torch_wheel else 'no (then torch is in the lists)'}")
        print(f"runtime (python lab.py): {len(runtime)} wheels, {rt_mb:.1f} MB to download")
        print(f"dev extra on top (python test.py): {len(dev)} more wheels, {dev_mb:.1f} MB")
        if args.torch_wheel:
            wheel = Path(args.torch_wheel)
            print(f"torch CPU build ({wheel.name}): {wheel.stat().st_size / 1e6:.1f} MB")
        if args.cuda:
            cuda = _planned(_venv(tmp / "cuda", None), ".", constraints, tmp / "cuda.json")
            cuda = [c for c in cuda if c.lower().startswith(("torch==", "nvidia", "triton", "cuda"))]
            print(f"PyPI's torch for Linux with its CUDA libraries: {len(cuda)} wheels, "
                  f"{_download_mb(py, cuda, tmp / 'cuda-wheels'):.1f} MB")
        if args.time:
            fresh = _venv(tmp / "fresh", args.torch_wheel)
            t_rt = _timed_install(fresh, ".", constraints)
            size_rt = _du_mb(tmp / "fresh")
            t_dev = _timed_install(fresh, ".[dev]", constraints)
            size_dev = _du_mb(tmp / "fresh")
            print(f"fresh venv (torch already in it): runtime install {t_rt:.0f} s ({size_rt:.0f} MB on disk); "
                  f"dev extra {t_dev:.0f} s more ({size_dev:.0f} MB on disk); load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
