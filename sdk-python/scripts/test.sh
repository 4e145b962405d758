#!/usr/bin/env bash
# Sets up sdk-python/.venv (pinned dev requirements, the SDK installed editable) if needed, then
# runs every check of the SDK: generated code current, mypy --strict, pytest.
# Usage: sdk-python/scripts/test.sh [pytest args...]      (from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ] || [ requirements-dev.txt -nt .venv/.stamp ] || [ pyproject.toml -nt .venv/.stamp ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  touch .venv/.stamp
fi
.venv/bin/python scripts/gen_proto.py --check
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
