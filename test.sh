#!/usr/bin/env bash
# Runs every test: lint, ganlib's unit tests, widget tests, the browser test and every notebook
# under nbval (strict), installing everything into .venv first if needed.
cd "$(dirname "$0")"
source scripts/ensure_env.sh
# nbval compares saved outputs; warnings must name the cell the same way they did when saved.
export IPYKERNEL_CELL_NAME='<IPY-INPUT>'
# These networks are tiny: one thread per process is as fast, and two pytest workers on two
# cores would otherwise oversubscribe them (measured 15x slower under load).
export OMP_NUM_THREADS=1
.venv/bin/python -m ruff check ganlib tests benchmarks notebooks
.venv/bin/python -m pytest -n 2 --dist loadfile --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
  tests notebooks "$@"
