#!/usr/bin/env bash
# The test command of the README: set up .venv, then lint, type-check and run every test.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k book`). pytest's JUnit report goes
# to runs/ci/junit.xml (removed first, so a report is always this run's).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -f runs/ci/junit.xml
echo "== ruff check"; .venv/bin/ruff check src tests bench
echo "== ruff format --check"; .venv/bin/ruff format --check src tests bench
echo "== mypy"; .venv/bin/mypy
echo "== reasons --check"; .venv/bin/polytraders reasons --check
echo "== pytest"; mkdir -p runs/ci; .venv/bin/python -m pytest --junitxml=runs/ci/junit.xml "$@"
