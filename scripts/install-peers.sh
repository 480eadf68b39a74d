#!/usr/bin/env bash
# Install the peer engines measured side by side by `python -m bench peers`, each in its own
# virtual environment under .venv-peers/ (outside the project's own environment), exactly as
# the shared bench-peers README specifies.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
mkdir -p .venv-peers
[ -x .venv-peers/nautilus/bin/python ] || "$python" -m venv .venv-peers/nautilus
.venv-peers/nautilus/bin/pip install --quiet "nautilus_trader==1.221.0" pyarrow
[ -x .venv-peers/hft/bin/python ] || "$python" -m venv .venv-peers/hft
.venv-peers/hft/bin/pip install --quiet "hftbacktest==2.4.4" pyarrow
echo "peers installed in .venv-peers/"
