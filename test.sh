#!/usr/bin/env bash
# Runs every test (lint, unit, widget, browser and notebook tests, the notebooks on two seed blocks),
# installing everything into .venv first if needed: a wrapper around `python3 test.py` (which
# Windows runs as `py test.py`). Runs under macOS's bash 3.2.
cd "$(dirname "$0")" || exit 1
. scripts/bootstrap_python.sh
exec "$PY" test.py "$@"
