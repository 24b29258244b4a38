#!/usr/bin/env bash
# Runs every test: lint, ganlib's unit tests, widget tests, the browser test and every notebook
# under nbval (strict), installing everything into .venv first if needed.
cd "$(dirname "$0")"
source scripts/ensure_env.sh
# nbval compares saved outputs; warnings must name the cell the same way they did when saved.
export IPYKERNEL_CELL_NAME='<IPY-INPUT>'
.venv/bin/python -m ruff check ganlib tests benchmarks notebooks
.venv/bin/python -m pytest -n 2 --dist loadfile --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
  tests notebooks "$@"
