#!/usr/bin/env bash
# Runs every test: lint, ganlib's unit tests, widget tests, the browser test and every notebook
# under nbval (strict), installing everything into .venv first if needed. The notebooks run twice:
# on their own seed (GAN_COURSE_SEED unset, i.e. 0) and on another seed block (GAN_COURSE_SEED=1000)
# against the same saved outputs, which proves that what nbval compares does not depend on the seed,
# and so not on the CPU that computes it.
cd "$(dirname "$0")"
source scripts/ensure_env.sh
# nbval compares saved outputs; warnings must name the cell the same way they did when saved.
export IPYKERNEL_CELL_NAME='<IPY-INPUT>'
# These networks are tiny: one thread per process is as fast, and two pytest workers on two
# cores would otherwise oversubscribe them (measured 15x slower under load).
export OMP_NUM_THREADS=1
unset GAN_COURSE_SEED
nbval=(--nbval --nbval-sanitize-with tests/nbval_sanitize.cfg)
.venv/bin/python -m ruff check ganlib tests benchmarks notebooks scripts || exit 1
status=0
.venv/bin/python -m pytest -n 2 --dist loadfile "${nbval[@]}" tests notebooks --ignore=tests/test_browser.py "$@" \
  || status=1
echo "== the notebooks again, on seed block GAN_COURSE_SEED=1000, against the same saved outputs =="
GAN_COURSE_SEED=1000 .venv/bin/python -m pytest -n 2 --dist loadfile "${nbval[@]}" notebooks "$@" || status=1
# Alone, because it measures how many times a second the dashboard redraws in the browser.
echo "== the browser test (JupyterLab and Chromium) =="
.venv/bin/python -m pytest tests/test_browser.py "$@" || status=1
exit $status
