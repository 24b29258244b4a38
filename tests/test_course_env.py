"""The set-up entry point (scripts/course_env.py) on Linux, macOS and Windows, simulated by its platform argument.

No Windows or macOS machine is available here: the code paths that differ (venv layout, interpreter
discovery, where torch comes from, the commands run) take the platform as an argument, and these
tests give each one. The wrappers are checked under bash's POSIX rules that macOS's bash 3.2 shares.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the dev extra installs tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("course_env", ROOT / "scripts" / "course_env.py")
ce = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ce)

PLATFORMS = ["linux", "darwin", "win32"]


@pytest.mark.parametrize(("platform", "python", "jupyter", "activate"), [
    ("linux", ".venv/bin/python", ".venv/bin/jupyter", "source .venv/bin/activate"),
    ("darwin", ".venv/bin/python", ".venv/bin/jupyter", "source .venv/bin/activate"),
    ("win32", ".venv/Scripts/python.exe", ".venv/Scripts/jupyter.exe", ".venv/Scripts/Activate.ps1"),
    ("cygwin", ".venv/Scripts/python.exe", ".venv/Scripts/jupyter.exe", ".venv/Scripts/Activate.ps1"),
])
def test_venv_paths(platform, python, jupyter, activate):
    venv = Path(".venv")
    assert ce.venv_executable(venv, "python", platform).as_posix() == python
    assert ce.venv_executable(venv, "jupyter", platform).as_posix() == jupyter
    assert ce.activate_command(venv, platform).replace("\\", "/") == activate
    if platform == "win32":
        assert ce.activate_command(venv, platform, shell="cmd").replace("\\", "/") == ".venv/Scripts/activate.bat"


def test_this_systems_venv_layout_is_what_venv_makes(tmp_path):
    # The one system at hand: the venv module puts python where venv_executable says.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "v")], check=True)
    assert ce.venv_executable(tmp_path / "v", "python").exists()


def test_supported_versions_match_pyproject():
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    (lo_major, lo_minor), (hi_major, hi_minor) = ce.SUPPORTED
    assert spec == f">={lo_major}.{lo_minor},<{hi_major}.{hi_minor + 1}"
    assert [ce.supported(v) for v in [(3, 9), (3, 10), (3, 13), (3, 14), (2, 7), None]] == [
        False, True, True, False, False, False]


class FakeSystem:
    """PATH holds `on_path` (command name -> its Python version, None for one that does not start)."""

    def __init__(self, on_path: dict[str, tuple[int, int] | None]) -> None:
        self.on_path = on_path
        self.probed: list[list[str]] = []

    def which(self, name: str) -> str | None:
        return f"/usr/bin/{name}" if name in self.on_path else None

    def version_of(self, command) -> tuple[int, int] | None:
        self.probed.append(list(command))
        key = " ".join(command)
        return self.on_path.get(key, self.on_path.get(command[0]))


def _find(platform, on_path, current=("/usr/bin/python3", (3, 9)), env=None):
    fake = FakeSystem(on_path)
    return ce.find_python(platform, current, env or {}, fake.which, fake.version_of), fake


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_running_python_is_used_when_supported(platform):
    (command, version), fake = _find(platform, {"python3.13": (3, 13)}, current=("/opt/py/python", (3, 12)))
    assert (command, version) == (["/opt/py/python"], (3, 12)) and fake.probed == []


@pytest.mark.parametrize(("platform", "on_path", "expected"), [
    # Ubuntu 24.04: python3 is 3.12
    ("linux", {"python3": (3, 12), "python": None}, ["python3"]),
    # Debian with an old default and a newer python3.11 beside it
    ("linux", {"python3": (3, 9), "python3.11": (3, 11)}, ["python3.11"]),
    # macOS: Apple's python3 is 3.9, Homebrew's python3.13 is on PATH
    ("darwin", {"python3": (3, 9), "python3.13": (3, 13), "python3.12": (3, 12)}, ["python3.13"]),
    # Windows: the py launcher knows 3.12 and 3.14; `python` is the Microsoft Store stub that does not start
    ("win32", {"py -3.12": (3, 12), "py": None, "python": None}, ["py", "-3.12"]),
    # Windows without the launcher: python.org's python.exe on PATH
    ("win32", {"python": (3, 11)}, ["python"]),
])
def test_the_newest_supported_python_on_path_is_found(platform, on_path, expected):
    (command, version), _ = _find(platform, on_path)
    assert command == expected and ce.supported(version)


def test_candidates_are_newest_first_and_use_the_launcher_on_windows():
    assert ce.candidates("linux")[:4] == [["python3.13"], ["python3.12"], ["python3.11"], ["python3.10"]]
    assert ce.candidates("darwin") == ce.candidates("linux")
    win = ce.candidates("win32")
    assert win[:4] == [["py", "-3.13"], ["py", "-3.12"], ["py", "-3.11"], ["py", "-3.10"]]
    assert ["python"] in win and ["python3.13"] in win


@pytest.mark.parametrize("platform", PLATFORMS)
def test_no_supported_python_is_one_line_saying_what_to_install(platform):
    with pytest.raises(RuntimeError) as err:
        _find(platform, {"python3": (3, 9), "python": (3, 14), "py -3.13": None})
    text = str(err.value)
    assert "\n" not in text and "needs Python 3.10 to 3.13 and found none" in text
    assert {"win32": "python.org", "darwin": "brew install", "linux": "apt install"}[platform] in text


def test_gan_course_python_wins_and_is_checked():
    (command, _), _ = _find("linux", {"/opt/py3.10/bin/python": (3, 10)}, current=("/usr/bin/python3", (3, 12)),
                            env={ce.ENV_PYTHON: "/opt/py3.10/bin/python"})
    assert command == ["/opt/py3.10/bin/python"]
    with pytest.raises(RuntimeError, match=r"^GAN_COURSE_PYTHON=/old/python is Python 3\.8; gan-course needs"):
        _find("linux", {"/old/python": (3, 8)}, env={ce.ENV_PYTHON: "/old/python"})
    with pytest.raises(RuntimeError, match="does not start"):
        _find("linux", {}, env={ce.ENV_PYTHON: "/missing/python"})


def test_probe_reads_a_real_interpreter():
    assert ce.probe([sys.executable]) == tuple(sys.version_info[:2])
    assert ce.probe(["/no/such/python"]) is None


@pytest.mark.parametrize(("platform", "nvidia", "reachable", "uses_cpu_index", "says"), [
    ("linux", False, True, True, "CPU build"),
    ("linux", False, False, False, "cannot be reached"),
    ("linux", True, True, False, "CUDA build"),
    ("darwin", False, True, False, "CPU build on this system"),
    ("win32", False, True, False, "CPU build on this system"),
])
def test_where_torch_comes_from(platform, nvidia, reachable, uses_cpu_index, says):
    asked = []

    def probe_index() -> bool:
        asked.append(True)
        return reachable

    options, what = ce.torch_source(platform, nvidia, probe_index)
    assert (ce.CPU_INDEX in options) == uses_cpu_index and says in what
    # the index is probed only where it would be used
    assert bool(asked) == (platform == "linux" and not nvidia)


def test_an_unreachable_index_is_reported_quickly():
    # A port nothing listens on: refused at once, not after a long timeout.
    assert ce.reachable("https://127.0.0.1:9/", timeout=2) is False


def test_known_good_pins_torch_separately_and_everything_else_for_python_311_only():
    torch_pin, others = ce.read_known_good()
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert torch_pin == "torch==2.13.0" and any(d.startswith("torch>=") for d in deps)
    assert others and all(line.split(";")[0].count("==") == 1 and 'python_version == "3.11"' in line for line in others)
    names = {line.split("==")[0].lower() for line in others}
    assert {"numpy", "matplotlib", "ipywidgets", "jupyterlab", "scikit-learn", "pytest", "colorspacious"} <= names
    assert "torch" not in names and "ganlib" not in names


def test_install_stamp_keeps_extras_and_follows_the_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("1")
    b.write_text("2")
    digest = ce.install_digest([a, b])
    assert ce.extras_to_install({}, digest, []) == []
    assert ce.extras_to_install({"digest": digest, "extras": []}, digest, []) is None
    assert ce.extras_to_install({"digest": digest, "extras": []}, digest, ["dev"]) == ["dev"]
    assert ce.extras_to_install({"digest": digest, "extras": ["dev"]}, digest, []) is None  # lab after test
    b.write_text("3")
    assert ce.extras_to_install({"digest": digest, "extras": ["dev"]}, ce.install_digest([a, b]), []) == []
    stamp = tmp_path / "stamp"
    stamp.write_text(json.dumps({"digest": digest, "extras": ["dev"]}))
    assert ce.read_stamp(stamp) == {"digest": digest, "extras": ["dev"]}
    stamp.write_text("not json")
    assert ce.read_stamp(stamp) == {}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_lab_and_test_commands(platform):
    venv = Path(".venv")
    lab = ce.lab_command(venv, ["--port", "8890"], platform, root=platform == "linux")
    assert Path(lab[0]) == ce.venv_executable(venv, "jupyter", platform)
    assert lab[1:3] == ["lab", "--LabApp.news_url=None"]
    assert lab[-1].replace("\\", "/") == "notebooks/00_start_here.ipynb"
    assert ("--allow-root" in lab) == (platform == "linux") and "--port" in lab
    py = ce.venv_executable(venv, "python", platform)
    steps = ce.test_steps(py, ["-x"])
    assert [s[0].split()[0] for s in steps] == ["lint", "unit,", "the", "the"]
    assert all(step[1][0] == str(py) for step in steps)
    assert steps[2][2] == {"GAN_COURSE_SEED": "1000"} and "--nbval" in steps[1][1] and steps[1][1][-1] == "-x"
    env = ce.test_environment({"GAN_COURSE_SEED": "5", "PATH": "x"})
    assert "GAN_COURSE_SEED" not in env and env["IPYKERNEL_CELL_NAME"] == "<IPY-INPUT>" and env["PATH"] == "x"


def test_the_test_steps_are_the_ones_ci_runs():
    # .ci/run runs ./test.sh, which runs test.py: the same steps as the README says.
    assert "./test.sh" in (ROOT / ".ci" / "run").read_text()
    assert 'exec "$PY" test.py "$@"' in (ROOT / "test.sh").read_text()
    assert 'exec "$PY" lab.py "$@"' in (ROOT / "lab.sh").read_text()
    assert 'exec "$PY" site.py "$@"' in (ROOT / "site.sh").read_text()
    assert (ROOT / "site.sh").stat().st_mode & 0o111, "site.sh is not executable"


def test_the_site_and_present_tests_run_once_beside_the_browser_test_and_site_py_is_linted():
    # The site and presentation tests drive Chromium: not in the xdist workers, where they would share
    # two cores with the notebooks, but alone in the browser step.
    lint, unit, seeds, browser = ce.test_steps(Path("python"), [])
    assert "site.py" in lint[1] and "site" in lint[1]
    browser_tests = ["tests/test_browser.py", "tests/test_site.py", "tests/test_present.py"]
    for name in browser_tests:
        assert f"--ignore={name}" in unit[1] and name not in unit[1] and name not in seeds[1]
    assert browser[1][-3:] == browser_tests


@pytest.mark.parametrize("script", ["lab.sh", "test.sh", "site.sh", "scripts/ensure_env.sh",
                                    "scripts/bootstrap_python.sh"])
def test_wrappers_use_no_bash_4_features_and_parse_in_posix_mode(script):
    text = "\n".join(line for line in (ROOT / script).read_text().splitlines() if not line.lstrip().startswith("#"))
    # macOS's bash 3.2: an empty array under set -u is an error there, and ${x,,}, mapfile, declare -A and
    # |& do not exist; a wrapper needs none of them.
    for feature in ("=()", "[@]", "${!", ",,}", "^^}", "mapfile", "readarray", "declare -A", "|&", "set -u"):
        assert feature not in text, f"{script} uses {feature}"
    done = subprocess.run(["bash", "--posix", "-n", str(ROOT / script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_bootstrap_finds_a_python_and_says_what_is_missing(tmp_path):
    ok = subprocess.run(["bash", "-c", ". scripts/bootstrap_python.sh && echo $PY"], cwd=ROOT, capture_output=True,
                        text=True)
    assert ok.returncode == 0 and ok.stdout.strip() in ("python3", "python")
    # A PATH with no Python at all: one line naming what to install.
    bare = {k: v for k, v in os.environ.items() if k != "GAN_COURSE_PYTHON"}
    bare["PATH"] = str(tmp_path)
    missing = subprocess.run(["/bin/bash", "-c", ". scripts/bootstrap_python.sh"], cwd=ROOT, capture_output=True,
                             text=True, env=bare)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "Python 3.10 to 3.13" in missing.stderr


def test_a_venv_of_an_unsupported_python_is_named_not_deleted(tmp_path, monkeypatch):
    venv = tmp_path / ".venv"
    py = ce.venv_executable(venv, "python")
    py.parent.mkdir(parents=True)
    py.write_text("#!/bin/sh\necho 3 9\n")
    py.chmod(0o755)
    with pytest.raises(RuntimeError, match=r"is Python 3\.9; delete the folder .*\.venv and run this again"):
        ce.ensure_venv(venv, [sys.executable])
    assert py.exists()
