"""Run every gan-course test, on Linux, macOS or Windows: `python test.py` (Windows: `py test.py`).

Sets up .venv as `python lab.py` does, adding the test tooling (the dev extra), then runs ruff,
the unit, widget and notebook tests (nbval, strict, two workers), the notebooks again on another
seed block, and the browser test. Arguments are passed on to each pytest run (e.g. `-x`).
"""

import importlib.util
import sys
from pathlib import Path


def _course_env():
    """scripts/course_env.py, loaded by its path (a package named 'scripts' elsewhere cannot shadow it)."""
    path = Path(__file__).resolve().parent / "scripts" / "course_env.py"
    spec = importlib.util.spec_from_file_location("course_env", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    sys.exit(_course_env().main("test", sys.argv[1:]))
