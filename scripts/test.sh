#!/usr/bin/env bash
# The test command of the README: set up .venv, then lint, type-check and run every test.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k book`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff check"; .venv/bin/ruff check src tests bench
echo "== ruff format --check"; .venv/bin/ruff format --check src tests bench
echo "== mypy"; .venv/bin/mypy
echo "== reasons --check"; .venv/bin/polytraders reasons --check
echo "== pytest"; .venv/bin/python -m pytest "$@"
