# Make .venv with ganlib and the test tooling, as `python3 test.py` does before testing: for scripts
# that need the environment without running anything (`bash scripts/ensure_env.sh`). The work is
# scripts/course_env.py's: it finds a Python 3.10 to 3.13, installs torch first at the known-good
# version (constraints/known-good.txt) where the venv has none, then ganlib held to that set.
cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." || exit 1
. scripts/bootstrap_python.sh
"$PY" scripts/course_env.py setup ${GAN_COURSE_EXTRAS:-dev}
