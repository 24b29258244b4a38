"""The set-up files agree with each other and with the README."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the dev extra installs tomli
    import tomli as tomllib

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
        if entry.startswith("-e ") or entry in ("pip", "conda-forge") or _name(entry) == "python":
            continue
        names.add(_name(entry))
    return names


def test_environment_yml_lists_the_same_packages_as_pyproject() -> None:
    assert _environment_names() == _pyproject_names()


def _pins(path: Path) -> dict[str, str]:
    """name -> version of each 'name==version' line of a constraints file (markers ignored)."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==")
            out[_name(name)] = version.strip()
    return out


def _lower_bounds() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = {}
    for req in data["dependencies"] + data["optional-dependencies"]["dev"]:
        m = re.search(r">=\s*([0-9][^,; ]*)", req)
        if m:
            out[_name(req)] = m.group(1)
    return out


def _same_version(a: str, b: str) -> bool:
    """'2.4' and '2.4.0' are the same release."""
    pad = lambda v: [int(x) for x in v.split(".")] + [0] * (3 - len(v.split(".")))
    return pad(a) == pad(b)


def test_environment_yml_installs_ganlib_and_the_known_good_torch() -> None:
    text = (ROOT / "environment.yml").read_text()
    assert "- -e ." in text
    assert f"torch=={_pins(ROOT / 'constraints' / 'known-good.txt')['torch']}" in text
    assert "python>=3.10,<3.14" in text


def test_pyproject_states_ranges_and_the_lower_bounds_are_the_oldest_set_ci_tests() -> None:
    # No exact pin in the package: a torch already in range (Colab, a lab machine) must be kept.
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert data["requires-python"] == ">=3.10,<3.14"
    assert not [d for d in data["dependencies"] if "==" in d or "<" in d]
    bounds, oldest = _lower_bounds(), _pins(ROOT / "constraints" / "oldest.txt")
    assert {"torch", "numpy", "matplotlib", "ipywidgets", "scikit-learn", "anywidget"} <= set(oldest)
    for name, version in oldest.items():
        assert _same_version(bounds[name], version), f"{name}: pyproject says >={bounds[name]}, CI tests {version}"


def test_ci_runs_the_oldest_versions_job_with_the_tools_the_unit_tests_need() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("./test.sh") < ci.index("scripts/oldest_versions.py")
    spec = importlib.util.spec_from_file_location("oldest_versions", ROOT / "scripts" / "oldest_versions.py")
    oldest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oldest)
    tools = [_name(r) for r in oldest.unit_test_tools()]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    dev = [_name(r) for r in extras["dev"]]
    # Every dev tool but the linter, the browser driver and the site builder, whose tests the job leaves out.
    assert sorted(set(dev) - set(tools)) == ["jupyter-book", "playwright", "ruff"]
    assert {"pytest", "pytest-xdist", "scipy", "colorspacious", "dask", "distributed"} <= set(tools)
    for left_out in oldest.IGNORED_TESTS:
        assert (ROOT / left_out).exists(), left_out


def test_the_known_good_set_lies_in_the_ranges() -> None:
    from packaging.specifiers import SpecifierSet

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    good = _pins(ROOT / "constraints" / "known-good.txt")
    for req in data["dependencies"] + data["optional-dependencies"]["dev"]:
        name, spec = _name(req), req.split(";")[0][len(_name(req)):]
        if name in good:
            assert good[name] in SpecifierSet(spec), f"{name}=={good[name]} is outside {req}"
    assert good["torch"] == "2.13.0"


def test_licences() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert data["license"] == "MIT" and data["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    content = (ROOT / "LICENSE-CONTENT").read_text()
    assert "CC BY 4.0" in content and "Creative Commons Attribution 4.0 International Public License" in content
    assert "Section 8 -- Interpretation." in content  # the whole legal code, to its last section
    readme = (ROOT / "README.md").read_text()
    assert "LICENSE" in readme and "CC BY 4.0" in readme and "MIT" in readme


def test_readme_opens_with_the_two_commands_for_each_system_and_ci_runs_the_test_one() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    block = "\n".join(lines[:16])
    for command in ("./lab.sh", "./test.sh", "py lab.py", "py test.py", "python3 lab.py"):
        assert command in block, command
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
