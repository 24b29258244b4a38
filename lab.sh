#!/usr/bin/env bash
# Opens the course in JupyterLab, installing everything into .venv first if needed.
cd "$(dirname "$0")"
source scripts/ensure_env.sh
export IPYKERNEL_CELL_NAME='<IPY-INPUT>'
extra=()
[[ $(id -u) == 0 ]] && extra+=(--allow-root)
exec .venv/bin/jupyter lab --LabApp.news_url=None "${extra[@]}" "$@" notebooks/00_start_here.ipynb
