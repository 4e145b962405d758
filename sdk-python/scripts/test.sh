#!/usr/bin/env bash
# Sets up sdk-python/.venv (pinned dev requirements, the SDK installed editable) if needed, then
# runs every check of the SDK: generated code current, mypy --strict, pytest.
# Usage: sdk-python/scripts/test.sh [pytest args...]      (from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
# One creator at a time (unit tests that need the venv may start this concurrently); .stamp marks
# a complete venv.
exec 9>.venv.lock
flock 9
if [ ! -f .venv/.stamp ] || [ requirements-dev.txt -nt .venv/.stamp ] || [ pyproject.toml -nt .venv/.stamp ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  touch .venv/.stamp
fi
flock -u 9
if [ "${1:-}" = "--venv-only" ]; then exit 0; fi
.venv/bin/python scripts/gen_proto.py --check
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
