# Sourced by lab.sh and test.sh: make .venv (Python 3.11) with ganlib and everything it needs.
# Reinstalls only when pyproject.toml changed since the last install, so later runs start at once.
set -euo pipefail
PY=${PYTHON:-}
if [[ -z "$PY" ]]; then
  for cand in python3.11 python3 python; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$cand; break
    fi
  done
fi
if [[ -z "$PY" ]]; then
  echo "gan-course needs Python 3.11 (python3.11 on PATH, or set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  echo "Creating .venv with $($PY --version) ..."
  "$PY" -m venv .venv
fi
stamp=.venv/.ganlib-installed
want=$(cat pyproject.toml | "$PY" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [[ ! -f $stamp || "$(cat $stamp)" != "$want" ]]; then
  echo "Installing ganlib and its dependencies into .venv (first time: about a minute) ..."
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  echo "$want" > $stamp
fi
