#!/usr/bin/env bash
# Create .venv in the repository and install the project with everything it needs.
# Re-installs only when pyproject.toml changed since the last install. Sourced or run.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Polytraders needs Python >= 3.11 as '$python' (set PYTHON=...)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat .venv/.install-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "setup: installing polytraders and its dependencies into .venv ..."
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[all,dev]"
  echo "$stamp" > .venv/.install-stamp
fi
