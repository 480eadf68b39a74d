#!/usr/bin/env bash
# The main job of the README: set up .venv, then run the default desk (strat.maker_tight, the
# seven risk guards, exec.smartrouter) on the paper venue over the real Polymarket sample shipped
# in data/samples, recording to runs/desk.sqlite and writing runs/latest/.
# Extra arguments go to `polytraders run` (e.g. --desk examples/desk.toml, --metrics-port 9100).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/polytraders run "$@"
