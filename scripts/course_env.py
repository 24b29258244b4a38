"""Set up gan-course on Linux, macOS or Windows: find a suitable Python, make .venv, install, run.

`python lab.py` and `python test.py` (or `./lab.sh` and `./test.sh`, thin wrappers around them) call
`main("lab")` and `main("test")` here. Only the standard library is used, so this runs on whatever
Python the student typed (3.7 or newer), before anything is installed.

1. Find a Python the course supports (SUPPORTED): $GAN_COURSE_PYTHON if set, else the Python running
   this file if it is supported, else the newest supported one found: `py -3.X` (the Windows launcher),
   then `python3.X`, `python3` and `python` on PATH.
2. Make `.venv` with it (`bin/` on Linux and macOS, `Scripts\\` on Windows).
3. Install, only when pyproject.toml or the known-good set changed (or more extras are asked for):
   torch first, at the known-good version, if the venv has none (on Linux without an NVIDIA GPU from
   PyTorch's CPU wheel index when it can be reached, else from PyPI, as pip finds it); then ganlib,
   editable, with the extras the command needs (`lab`: none, the runtime only; `test`: dev), every
   other package held to the known-good set (constraints/known-good.txt) where it applies to this
   Python. A torch already in the venv is kept.
4. Run: JupyterLab on notebooks/00_start_here.ipynb, or every test, or (`site`, with the site extra) the build
   of the course's website into _build/html (scripts/build_site.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Python versions the course supports, oldest and newest (inclusive); pyproject.toml's requires-python.
SUPPORTED = ((3, 10), (3, 13))
KNOWN_GOOD = ROOT / "constraints" / "known-good.txt"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
ENV_PYTHON = "GAN_COURSE_PYTHON"



def supported(version: tuple[int, int] | None) -> bool:
    """Whether a Python of this (major, minor) version can run the course."""
    return version is not None and SUPPORTED[0] <= tuple(version) <= SUPPORTED[1]


def versions_text() -> str:
    """'3.10 to 3.13'."""
    return f"{SUPPORTED[0][0]}.{SUPPORTED[0][1]} to {SUPPORTED[1][0]}.{SUPPORTED[1][1]}"


# ----------------------------------------------------------------------------------------------
# Paths inside a venv: bin/ on Linux and macOS, Scripts\ on Windows
# ----------------------------------------------------------------------------------------------

def is_windows(platform: str) -> bool:
    """`platform` is a sys.platform value: 'win32' (also on 64-bit Windows), 'linux', 'darwin', ..."""
    return platform.startswith("win") or platform == "cygwin"


def venv_bin(venv: Path, platform: str = sys.platform) -> Path:
    """The folder of a venv's executables."""
    return venv / ("Scripts" if is_windows(platform) else "bin")


def venv_executable(venv: Path, name: str, platform: str = sys.platform) -> Path:
    """A venv's program `name` ('python', 'jupyter', 'pip'): Scripts\\NAME.exe on Windows, bin/NAME elsewhere."""
    return venv_bin(venv, platform) / (name + ".exe" if is_windows(platform) else name)


def activate_command(venv: Path, platform: str = sys.platform, shell: str = "") -> str:
    """What a student types to activate the venv in a new terminal (PowerShell or cmd on Windows)."""
    if is_windows(platform):
        script = "Activate.ps1" if shell != "cmd" else "activate.bat"
        return str(venv_bin(venv, platform) / script)
    return f"source {venv_bin(venv, platform) / 'activate'}"


# ----------------------------------------------------------------------------------------------
# Finding a Python
# ----------------------------------------------------------------------------------------------

def candidates(platform: str) -> list[list[str]]:
    """Commands that may start a Python, newest first; `py -3.X` is the Windows launcher."""
    newest_first = [(3, m) for m in range(SUPPORTED[1][1], SUPPORTED[0][1] - 1, -1)]
    named = [[f"python{a}.{b}"] for a, b in newest_first]
    if is_windows(platform):
        return [["py", f"-{a}.{b}"] for a, b in newest_first] + [["python"], ["python3"]] + named
    return named + [["python3"], ["python"]]


def probe(command: Sequence[str]) -> tuple[int, int] | None:
    """The (major, minor) version of the Python that `command` starts, or None if it does not start."""
    try:
        out = subprocess.run([*command, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 2:
        return None
    return int(parts[0]), int(parts[1])


def find_python(
    platform: str = sys.platform,
    current: tuple[str, tuple[int, int]] = (sys.executable, (sys.version_info[0], sys.version_info[1])),
    env: dict[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    version_of: Callable[[Sequence[str]], tuple[int, int] | None] = probe,
) -> tuple[list[str], tuple[int, int]]:
    """The command of a supported Python and its version, or a one-line RuntimeError saying what to install.

    $GAN_COURSE_PYTHON (a path or command) wins and must be supported; then the Python running this
    file; then the newest supported of `candidates(platform)` that `which` finds on PATH.
    """
    env = os.environ if env is None else env
    chosen = env.get(ENV_PYTHON, "").strip()
    if chosen:
        version = version_of([chosen])
        if not supported(version):
            found = "does not start" if version is None else f"is Python {version[0]}.{version[1]}"
            raise RuntimeError(f"{ENV_PYTHON}={chosen} {found}; gan-course needs Python {versions_text()}")
        return [chosen], version  # type: ignore[return-value]
    exe, version = current
    if exe and supported(version):
        return [exe], version
    for command in candidates(platform):
        if which(command[0]) is None:
            continue
        version = version_of(command)
        if supported(version):
            return command, version  # type: ignore[return-value]
    if is_windows(platform):
        how = "install Python 3.12 or 3.13 from python.org (tick 'Add python.exe to PATH')"
    elif platform == "darwin":
        how = "install Python 3.12 or 3.13 from python.org or with Homebrew (brew install python@3.13)"
    else:
        how = "install python3.12 (or 3.10 to 3.13) with your package manager, e.g. sudo apt install python3.12-venv"
    raise RuntimeError(f"gan-course needs Python {versions_text()} and found none: {how}, or set {ENV_PYTHON} "
                       f"to one")


# ----------------------------------------------------------------------------------------------
# Where torch comes from
# ----------------------------------------------------------------------------------------------

def has_nvidia_gpu(which: Callable[[str], str | None] = shutil.which) -> bool:
    """Whether this Linux machine has an NVIDIA driver (so PyPI's CUDA build of torch is of use)."""
    return which("nvidia-smi") is not None or Path("/proc/driver/nvidia/version").exists()


def reachable(url: str, timeout: float = 5.0) -> bool:
    """Whether an HTTPS index answers at all (a closed network fails at once or within `timeout`)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except Exception:  # any failure (DNS, refused, TLS, HTTP error) means: do not use it
        return False


def torch_source(platform: str, nvidia: bool, cpu_index_reachable: Callable[[], bool]) -> tuple[list[str], str]:
    """The pip options that choose where torch comes from, and a line saying what that means.

    PyPI's Linux torch is the CUDA build with its libraries (measured: 2,740 MB to download for
    torch 2.13.0), of no use without an NVIDIA GPU; PyTorch's CPU index has the CPU build. macOS and
    Windows wheels on PyPI are CPU builds already.
    """
    if not platform.startswith("linux"):
        return [], "PyPI's torch (a CPU build on this system)"
    if nvidia:
        return [], "PyPI's torch (the CUDA build: an NVIDIA GPU is present)"
    if cpu_index_reachable():
        return (["--index-url", CPU_INDEX, "--extra-index-url", "https://pypi.org/simple"],
                "PyTorch's CPU build, from its CPU wheel index")
    return [], (f"torch as pip finds it: PyTorch's CPU index ({CPU_INDEX}) cannot be reached from here, and on "
                "Linux PyPI's torch is the CUDA build (about 2.7 GB to download)")


# ----------------------------------------------------------------------------------------------
# The known-good set
# ----------------------------------------------------------------------------------------------

def read_known_good(path: Path = KNOWN_GOOD) -> tuple[str, list[str]]:
    """The torch pin ('torch==2.13.0') and every other constraint line of the known-good file."""
    torch_pin, others = "", []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.split(";")[0].replace(" ", "").lower().startswith("torch=="):
            torch_pin = line.split(";")[0].replace(" ", "")
        else:
            others.append(line)
    if not torch_pin:
        raise RuntimeError(f"{path} pins no torch (a line torch==X.Y.Z)")
    return torch_pin, others


def install_digest(files: Sequence[Path] = (ROOT / "pyproject.toml", KNOWN_GOOD)) -> str:
    """A digest of what decides the install: pyproject.toml and the known-good set."""
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()


def read_stamp(stamp: Path) -> dict:
    """What the last install recorded ({'digest': ..., 'extras': [...]}), or {} if nothing readable."""
    try:
        done = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return {}
    return done if isinstance(done, dict) else {}


def extras_to_install(done: dict, digest: str, extras: Sequence[str]) -> list[str] | None:
    """The extras to install now, or None when the venv already has these files' install with `extras`.

    Extras installed before from the same files are kept: `lab` after `test` installs nothing, and
    `test` after `lab` adds the dev extra.
    """
    same = done.get("digest") == digest
    before = set(done.get("extras", [])) if same else set()
    if same and set(extras) <= before:
        return None
    return sorted(before | set(extras))


# ----------------------------------------------------------------------------------------------
# Making and filling the venv
# ----------------------------------------------------------------------------------------------

def run(command: Sequence[str], **kwargs: object) -> None:
    """Run a command, echoing it; a failure is a one-line RuntimeError naming it."""
    print("+ " + " ".join(str(c) for c in command), flush=True)
    done = subprocess.run([str(c) for c in command], **kwargs)  # type: ignore[arg-type]
    if done.returncode != 0:
        raise RuntimeError(f"this step failed (exit status {done.returncode}): {' '.join(str(c) for c in command)}")


def ensure_venv(venv: Path, python: Sequence[str]) -> Path:
    """Make `venv` with `python` unless it holds a supported Python already; returns the venv's python."""
    py = venv_executable(venv, "python")
    if py.exists():
        version = probe([str(py)])
        if supported(version):
            return py
        what = "does not start" if version is None else f"is Python {version[0]}.{version[1]}"
        raise RuntimeError(f"{py} {what}; delete the folder {venv} and run this again to make it anew")
    print(f"Creating {venv.name} with {' '.join(python)} ...", flush=True)
    done = subprocess.run([*python, "-m", "venv", str(venv)])
    if done.returncode != 0 or not py.exists():
        shutil.rmtree(venv, ignore_errors=True)
        raise RuntimeError("could not create the venv; on Debian or Ubuntu install the venv module first "
                           "(sudo apt install python3-venv, or python3.12-venv for python3.12)")
    return py


def torch_in(py: Path) -> str | None:
    """The torch version installed in the venv of `py`, or None."""
    out = subprocess.run([str(py), "-c", "import importlib.metadata as m; print(m.version('torch'))"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def install(py: Path, extras: Sequence[str], venv: Path, known_good: Path = KNOWN_GOOD) -> None:
    """Install torch (if the venv has none) and ganlib with `extras`, held to the known-good set."""
    torch_pin, others = read_known_good(known_good)
    # Every pin but torch's: a torch already present stays as long as pyproject.toml's range admits it,
    # and torch's own dependencies (sympy, networkx, ...) are held to the set like the rest.
    held = venv / "constraints-without-torch.txt"
    held.write_text("\n".join(others) + "\n")
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check"]
    run([*pip, "--quiet", "--upgrade", "pip"])
    present = torch_in(py)
    if present is None:
        options, what = torch_source(sys.platform, has_nvidia_gpu(), lambda: reachable(CPU_INDEX + "/torch/"))
        print(f"Installing {torch_pin}: {what} ...", flush=True)
        try:
            run([*pip, *options, "-c", str(held), torch_pin])
        except RuntimeError:
            if not options:
                raise
            print("PyTorch's CPU index failed: installing torch from PyPI instead ...", flush=True)
            run([*pip, "-c", str(held), torch_pin])
    else:
        print(f"Keeping the torch {present} already in {venv.name} (pyproject.toml's range decides whether it fits)")
    target = "." + (f"[{','.join(extras)}]" if extras else "")
    print(f"Installing ganlib ({'runtime and ' + ', '.join(extras) if extras else 'runtime only'}) ...", flush=True)
    run([*pip, "--quiet", "-c", str(held), "-e", target], cwd=str(ROOT))


def ensure(extras: Sequence[str], venv: Path = ROOT / ".venv") -> Path:
    """Make and fill the venv as needed for `extras`; returns the venv's python."""
    command, _ = find_python()
    py = ensure_venv(venv, command)
    stamp = venv / ".ganlib-installed"
    digest = install_digest()
    wanted = extras_to_install(read_stamp(stamp), digest, extras)
    if wanted is not None:
        install(py, wanted, venv)
        stamp.write_text(json.dumps({"digest": digest, "extras": wanted}))
    return py


# ----------------------------------------------------------------------------------------------
# The two commands
# ----------------------------------------------------------------------------------------------

def is_root() -> bool:
    """Whether this process runs as root (JupyterLab then needs --allow-root)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


# Status messages whose parent is one of these do not set JupyterLab's kernel status. jupyter_server's
# defaults (the first list) leave out the kernel-subshell requests that JupyterLab >= 4.4 sends on the
# control channel when a widget's comm opens, and the comm messages that then run on that subshell beside
# a running cell: each answers with its own busy and idle, so the status bar read "Idle" while a training
# cell ran (tests/test_browser.py records it).
_SERVER_UNTRACKED = ["comm_info_request", "comm_info_reply", "kernel_info_request", "kernel_info_reply",
                     "shutdown_request", "shutdown_reply", "interrupt_request", "interrupt_reply", "debug_request",
                     "debug_reply", "stream", "display_data", "update_display_data", "execute_input",
                     "execute_result", "error", "status", "clear_output", "debug_event", "input_request",
                     "input_reply"]
_SUBSHELL_AND_COMM = ["create_subshell_request", "create_subshell_reply", "delete_subshell_request",
                      "delete_subshell_reply", "list_subshell_request", "list_subshell_reply", "comm_open",
                      "comm_msg", "comm_close"]
KEEP_BUSY_FLAGS = [f"--MappingKernelManager.untracked_message_types={t}"
                   for t in _SERVER_UNTRACKED + _SUBSHELL_AND_COMM]


def lab_command(venv: Path, args: Sequence[str], platform: str = sys.platform, root: bool = False) -> list[str]:
    """The JupyterLab command that opens the course (with KEEP_BUSY_FLAGS: "Busy" while a cell runs)."""
    command = [str(venv_executable(venv, "jupyter", platform)), "lab", "--LabApp.news_url=None", *KEEP_BUSY_FLAGS]
    if root:
        command.append("--allow-root")
    return [*command, *args, str(Path("notebooks") / "00_start_here.ipynb")]


def test_steps(py: Path, args: Sequence[str]) -> list[tuple[str, list[str], dict[str, str]]]:
    """The test command's steps: (title, command, extra environment), each run whatever the others did."""
    nbval = ["--nbval", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg"]
    pytest = [str(py), "-m", "pytest"]
    return [
        ("lint", [str(py), "-m", "ruff", "check", "ganlib", "tests", "benchmarks", "notebooks", "scripts", "site",
                  "lab.py", "test.py", "site.py"], {}),
        ("unit, widget and notebook tests", [*pytest, "-n", "2", "--dist", "loadfile", *nbval, "tests", "notebooks",
                                             "--ignore=tests/test_browser.py", "--ignore=tests/test_site.py",
                                             "--ignore=tests/test_present.py", *args],
         {}),
        ("the notebooks again, on seed block GAN_COURSE_SEED=1000, against the same saved outputs",
         [*pytest, "-n", "2", "--dist", "loadfile", *nbval, "notebooks", *args], {"GAN_COURSE_SEED": "1000"}),
        # Alone, because the first measures how many times a second the dashboard redraws in the browser, the
        # second builds the website (Jupyter Book 2) and opens every page of it, and the third drives a panel
        # in JupyterLab's presentation mode.
        ("the browser tests (JupyterLab, the website, presenting, Chromium)",
         [*pytest, "tests/test_browser.py", "tests/test_site.py", "tests/test_present.py", *args], {}),
    ]


def test_environment(base: dict[str, str]) -> dict[str, str]:
    """The environment of the test steps."""
    env = {k: v for k, v in base.items() if k != "GAN_COURSE_SEED"}
    # nbval compares saved outputs; warnings must name the cell the same way they did when saved.
    env["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"
    # Two pytest workers share two cores: code the notebooks write out inline (plain torch, not ganlib's
    # trainers, which choose one thread themselves) would otherwise start two threads each.
    env["OMP_NUM_THREADS"] = "1"
    return env


def main(command: str, args: Sequence[str] = ()) -> int:
    """`lab`, `test` or `site`: set up as needed, then open the course, run every test or build the website
    (into _build/html); returns the exit status.

    `setup EXTRA...` only makes and fills the venv (with those extras).
    """
    os.chdir(ROOT)
    venv = ROOT / ".venv"
    try:
        if command == "setup":  # scripts/ensure_env.sh: the venv with the extras given, nothing run
            ensure(list(args), venv)
            return 0
        py = ensure({"test": ["dev"], "site": ["site"]}.get(command, []), venv)
    except RuntimeError as exc:
        print(f"gan-course: {exc}", file=sys.stderr)
        return 1
    if command == "lab":
        env = dict(os.environ, IPYKERNEL_CELL_NAME="<IPY-INPUT>")
        lab = lab_command(venv, args, root=is_root())
        print(f"In a new terminal, {activate_command(venv)} first; then python, jupyter lab and "
              "python -m ganlib are the course's.", flush=True)
        if is_windows(sys.platform):
            return subprocess.call(lab, env=env)
        os.execve(lab[0], lab, env)
    if command == "site":
        return subprocess.call([str(py), str(ROOT / "scripts" / "build_site.py"), *args])
    status = 0
    env = test_environment(dict(os.environ))
    for title, step, extra in test_steps(py, args):
        print(f"== {title} ==", flush=True)
        if subprocess.call(step, env={**env, **extra}) != 0:
            status = 1
            if title == "lint":
                return status
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "lab", sys.argv[2:]))
