"""Build the course's website into _build/html, on Linux, macOS or Windows: `python site.py` (Windows: `py site.py`).

Sets up .venv as `python lab.py` does, adding the site extra (Jupyter Book 2), then builds a static site of
the whole course from the saved, executed notebooks (scripts/build_site.py says how; no notebook is executed,
and scripts/record_replay.py records one short run for the dashboard's replay).
Needs Node.js 18 or newer with npm on PATH. Open it through any static web server, e.g.
`python -m http.server --directory _build/html`, then http://127.0.0.1:8000/.
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
    sys.exit(_course_env().main("site", sys.argv[1:]))
