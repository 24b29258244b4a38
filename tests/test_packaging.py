"""The set-up files agree with each other and with the README."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement string ('ipywidgets>=8.1,<9' -> 'ipywidgets')."""
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_names() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]
    return {_name(r) for r in reqs}


def _environment_names() -> set[str]:
    names = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"^\s*-\s+(.+?)\s*$", line)
        if not m or m.group(1).endswith(":"):
            continue
        entry = m.group(1)
        if entry.startswith("-e ") or entry in ("pip", "conda-forge") or entry.startswith("python="):
            continue
        names.add(_name(entry))
    return names


def test_environment_yml_lists_the_same_packages_as_pyproject() -> None:
    assert _environment_names() == _pyproject_names()


def test_environment_yml_installs_ganlib_and_the_pinned_torch() -> None:
    text = (ROOT / "environment.yml").read_text()
    assert "- -e ." in text
    assert "torch==2.13.0" in text
    assert "python=3.11" in text


def test_torch_is_pinned_exactly() -> None:
    # A looser pin pulls a multi-GB CUDA build.
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.13.0" in deps


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    block = "\n".join(lines[:6])
    assert "./lab.sh" in block and "./test.sh" in block
    assert "./test.sh" in (ROOT / ".ci" / "run").read_text()
    for script in ("lab.sh", "test.sh", ".ci/run"):
        assert (ROOT / script).stat().st_mode & 0o111, f"{script} is not executable"


# What notebook and ganlib code may import: the standard library, the runtime dependencies (by their
# import names), and what ships with them (IPython and traitlets come with ipywidgets). anywidget is
# imported by ganlib.widgets only: notebooks reach it through ganlib; sklearn is scikit-learn.
RUNTIME_IMPORTS = {"torch", "numpy", "matplotlib", "ipywidgets", "IPython", "traitlets", "ganlib", "anywidget",
                   "sklearn"}


def _top_level_imports(source: str) -> set[str]:
    import ast

    # Notebook magics (%matplotlib inline) are not Python; drop them before parsing.
    tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_notebooks_and_ganlib_import_only_runtime_dependencies() -> None:
    # A student who installs ganlib without the dev extra must be able to run every notebook:
    # scipy, pytest and friends are test-only.
    import json
    import sys

    sources = {str(p.relative_to(ROOT)): p.read_text() for p in (ROOT / "ganlib").rglob("*.py")}
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        sources[nb.name] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert len(sources) > 10
    for name, source in sources.items():
        extra = _top_level_imports(source) - RUNTIME_IMPORTS - set(sys.stdlib_module_names) - {"__future__"}
        assert not extra, f"{name} imports {sorted(extra)}, which is not a runtime dependency"
