# Sourced by lab.sh, test.sh and ensure_env.sh: sets PY to a Python 3 that can run lab.py and test.py,
# which then find a Python the course supports. Plain bash 3.2 (macOS's): no arrays, no ${x,,}.
PY=${GAN_COURSE_PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3 python; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 7))' 2>/dev/null; then
      PY=$cand
      break
    fi
  done
fi
if [ -z "$PY" ]; then
  echo "gan-course needs Python 3.10 to 3.13 (python3 on PATH, or GAN_COURSE_PYTHON=/path/to/python3)" >&2
  exit 1
fi
