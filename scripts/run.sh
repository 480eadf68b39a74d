#!/usr/bin/env bash
# The main job of the README: set up .venv, then run the default job on the shipped real data.
# Extra arguments are passed to the command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m bench book "$@"
