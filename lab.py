"""Open gan-course in JupyterLab, on Linux, macOS or Windows: `python lab.py` (Windows: `py lab.py`).

The first run finds a Python 3.10 to 3.13, makes .venv in this folder and installs the course's
runtime dependencies into it (scripts/course_env.py says how); later runs start at once. Arguments
are passed on to `jupyter lab` (e.g. `python lab.py --port 8890`).
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
    sys.exit(_course_env().main("lab", sys.argv[1:]))
