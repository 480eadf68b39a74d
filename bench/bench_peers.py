"""Peer engines measured side by side on the same real data, in the same run.

Runs the shared peer scripts (``../shared/bench-peers``) with the interpreters installed by
``bash scripts/install-peers.sh`` (NautilusTrader 1.221.0 and hftbacktest 2.4.4, each in its own
virtual environment) on the Polymarket sample this repository ships, and reports their level
updates per second. Peers that are not installed are reported as such, never estimated.
A figure of ours counts as a ratio against a peer measured in the same run.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from bench.data import BINANCE_SAMPLES, POLYMARKET_SAMPLE, REPO

DESCRIPTION = "peer engines (NautilusTrader, hftbacktest) on the same Polymarket sample"

PEERS_DIR = REPO.parent / "shared" / "bench-peers"
NAUTILUS_PYTHON = REPO / ".venv-peers" / "nautilus" / "bin" / "python"
HFT_PYTHON = REPO / ".venv-peers" / "hft" / "bin" / "python"


def _run(command: list[str], timeout_s: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        completed = subprocess.run(
            [*command, "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if completed.returncode != 0 or not out.exists():
            tail = (completed.stdout + completed.stderr)[-400:]
            return {"error": f"exit {completed.returncode}: {tail}"}
        data: dict[str, object] = json.loads(out.read_text())
        return data


def nautilus(repeats: int) -> dict[str, float | int | str]:
    """NautilusTrader L2 replay of the sample: data only, and with a simple market maker."""
    script = PEERS_DIR / "nautilus_polymarket.py"
    if not NAUTILUS_PYTHON.exists() or not script.exists():
        return {"nautilus": "not installed (bash scripts/install-peers.sh)"}
    data = _run(
        [
            str(NAUTILUS_PYTHON),
            str(script),
            "--data-dir",
            str(POLYMARKET_SAMPLE),
            "--repeats",
            str(repeats),
        ],
        timeout_s=1800,
    )
    if "error" in data:
        return {"nautilus_error": str(data["error"])}
    figures: dict[str, float | int | str] = {}
    for row in data["summary"]:  # type: ignore[attr-defined]
        prefix = f"nautilus_{row['config']}"
        figures[f"{prefix}_level_updates_per_s"] = row["deltas_per_s_median"]
        figures[f"{prefix}_wall_median_s"] = row["wall_median_s"]
        figures[f"{prefix}_level_updates"] = row["deltas"]
    return figures


def hftbacktest(repeats: int) -> dict[str, float | int | str]:
    """hftbacktest on the same Polymarket deltas (``--polymarket``)."""
    script = PEERS_DIR / "hftbacktest_binance.py"
    if not HFT_PYTHON.exists() or not script.exists():
        return {"hftbacktest": "not installed (bash scripts/install-peers.sh)"}
    data = _run(
        [
            str(HFT_PYTHON),
            str(script),
            "--polymarket",
            "--input",
            str(BINANCE_SAMPLES / "usdm_btcusdt_20240808.gz"),
            "--pm-dir",
            str(POLYMARKET_SAMPLE),
            "--repeats",
            str(repeats),
        ],
        timeout_s=1800,
    )
    if "error" in data:
        return {"hftbacktest_error": str(data["error"])}
    figures: dict[str, float | int | str] = {}
    for row in data["summary"]:  # type: ignore[attr-defined]
        figures[f"hft_{row['config']}_rows_per_s"] = row["rows_per_s_median"]
        figures[f"hft_{row['config']}_wall_median_s"] = row["wall_median_s"]
    return figures


def run(quick: bool = False) -> dict[str, float | int | str]:
    repeats = 1 if quick else 3
    return {**nautilus(repeats), **hftbacktest(repeats)}
