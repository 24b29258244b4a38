#!/usr/bin/env bash
# Opens the course in JupyterLab, installing everything into .venv first if needed.
cd "$(dirname "$0")"
source scripts/ensure_env.sh
export IPYKERNEL_CELL_NAME='<IPY-INPUT>'
# These networks are tiny: one thread per process is as fast, and two pytest workers on two
# cores would otherwise oversubscribe them (measured 15x slower under load).
export OMP_NUM_THREADS=1
extra=()
[[ $(id -u) == 0 ]] && extra+=(--allow-root)
exec .venv/bin/jupyter lab --LabApp.news_url=None "${extra[@]}" "$@" notebooks/00_start_here.ipynb
