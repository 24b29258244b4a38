#!/usr/bin/env bash
# Builds the course's website into _build/html (Jupyter Book 2, from the saved notebooks), installing
# the site extra into .venv first if needed: a wrapper around `python3 site.py` (which Windows runs as
# `py site.py`). Runs under macOS's bash 3.2.
cd "$(dirname "$0")" || exit 1
. scripts/bootstrap_python.sh
exec "$PY" site.py "$@"
