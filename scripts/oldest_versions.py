"""The oldest-versions job: ganlib's unit and widget tests on the oldest versions pyproject.toml admits.

    python scripts/oldest_versions.py            # make .venv-oldest if needed, then run the unit tests
    python scripts/oldest_versions.py -x -k threads

Installs into `.venv-oldest` (beside `.venv`, made with the Python that runs this script) the set of
constraints/oldest.txt, pyproject.toml's lower bounds: torch first, then ganlib held to that set,
exactly as the course's set-up does with the known-good set, then the test tools the unit tests need
(the dev extra without the linter, the browser driver and the website's builder; the tools
themselves are not held back). Checks that pip installed those versions, then runs the unit and
widget tests (tests/, not the notebooks, the browser or the website) with two workers; arguments go
to pytest. On Linux without an NVIDIA GPU the old torch comes from PyTorch's CPU index where it can
be reached; where not (as on the project's CI machine), from PyPI: a CUDA build, about 2.5 GB.

Part of .ci/run, after ./test.sh (the README gives its time).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLDEST = ROOT / "constraints" / "oldest.txt"
# Dev tools the unit tests do not use: the linter, the browser driver, the website's builder (their
# tests, tests/test_browser.py, test_present.py and test_site.py, run on the known-good set).
NOT_FOR_UNIT_TESTS = {"ruff", "playwright", "jupyter-book"}
IGNORED_TESTS = ["tests/test_browser.py", "tests/test_present.py", "tests/test_site.py"]
_spec = importlib.util.spec_from_file_location("course_env", ROOT / "scripts" / "course_env.py")
ce = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ce)  # type: ignore[union-attr]


def pinned(path: Path = OLDEST) -> dict[str, str]:
    """name -> version of every pin in the oldest set."""
    torch_pin, others = ce.read_known_good(path)
    pins = dict(line.split(";")[0].replace(" ", "").split("==") for line in [torch_pin, *others])
    return {name.lower(): version for name, version in pins.items()}


def unit_test_tools(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The dev extra's requirements that the unit and widget tests need (pyproject.toml's own strings)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    dev = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["dev"]
    return [r for r in dev if re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() not in NOT_FOR_UNIT_TESTS]


def installed_versions(py: Path, names: list[str]) -> dict[str, str]:
    """name -> version installed in the venv of `py` ('' for one that is missing)."""
    code = ("import importlib.metadata as m, json, sys\n"
            "def v(n):\n"
            "    try:\n        return m.version(n)\n"
            "    except m.PackageNotFoundError:\n        return ''\n"
            "print(json.dumps({n: v(n) for n in sys.argv[1:]}))")
    out = subprocess.run([str(py), "-c", code, *names], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(args: list[str]) -> int:
    """Set up .venv-oldest as needed, check its versions, run the unit tests; returns the exit status."""
    os.chdir(ROOT)
    venv = ROOT / ".venv-oldest"
    try:
        py = ce.ensure_venv(venv, [sys.executable])
        stamp = venv / ".ganlib-installed"
        digest = ce.install_digest([ROOT / "pyproject.toml", OLDEST])
        if ce.extras_to_install(ce.read_stamp(stamp), digest, ["unit"]) is not None:
            ce.install(py, [], venv, known_good=OLDEST)
            tools = unit_test_tools()
            print(f"Installing the unit tests' tools: {', '.join(tools)} ...", flush=True)
            # Held to the oldest set where it pins them (scipy); the tools themselves are not held back.
            ce.run([str(py), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                    "-c", str(venv / "constraints-without-torch.txt"), *tools])
            stamp.write_text(json.dumps({"digest": digest, "extras": ["unit"]}))
    except RuntimeError as exc:
        print(f"oldest versions: {exc}", file=sys.stderr)
        return 1
    want = pinned()
    have = installed_versions(py, sorted(want))
    # torch's local version label (+cpu) is the build, not another release.
    wrong = {n: (v, have[n]) for n, v in want.items() if have[n].split("+")[0] != v}
    if wrong:
        print("oldest versions: pip installed other versions than constraints/oldest.txt asks for: "
              + ", ".join(f"{n} {h or 'missing'} (want {v})" for n, (v, h) in wrong.items()), file=sys.stderr)
        return 1
    print("oldest versions: " + ", ".join(f"{n} {have[n]}" for n in sorted(want)), flush=True)
    env = ce.test_environment(dict(os.environ))
    # Left out: the test of a Dask worker killed for memory gives its worker 0.45 GB, whose pause threshold
    # (0.36 GB) PyPI's CUDA build of torch 2.4 passes at import (0.40 GB measured): the worker pauses before
    # the pass instead of dying during it, and the sweep waits. It tests the sweep, not a version.
    ignored = [f"--ignore={t}" for t in IGNORED_TESTS]
    return subprocess.call([str(py), "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-rf", "tests",
                            *ignored, "--deselect",
                            "tests/test_sweep.py::test_a_worker_killed_for_memory_is_one_line", *args], env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

