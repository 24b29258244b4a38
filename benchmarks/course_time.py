"""Benchmark 3: execute every notebook top to bottom on a fresh kernel (without saving), timed.

    python benchmarks/course_time.py --json artifacts/course_time.json

Target: the whole course under 3 minutes on a 2-core CPU, each notebook well under one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    cmd = [sys.executable, str(ROOT / "scripts" / "execute_notebooks.py"), "--no-save", *sys.argv[1:]]
    sys.exit(subprocess.call(cmd))
