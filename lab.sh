#!/usr/bin/env bash
# Opens the course in JupyterLab, installing everything into .venv first if needed: a wrapper around
# `python3 lab.py` (which Windows runs as `py lab.py`). Runs under macOS's bash 3.2.
cd "$(dirname "$0")" || exit 1
. scripts/bootstrap_python.sh
exec "$PY" lab.py "$@"
