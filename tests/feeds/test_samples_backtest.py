"""Every data file shipped in ``data/samples`` replays through ``polytraders backtest`` (issue 10,
"All shipped data replays"): a non-empty, sound run.

Polymarket data runs the default desk; crypto data (Binance recordings) runs
``examples/desk_binance.toml`` with the example strategy ``examples/strategies/touch_quoter.py``
(docs/feeds.md, "Crypto data on the desk"). Sound: exit 0, events replayed, ``envelopes.jsonl``
hashes to ``result.json``'s ``envelopes_sha256`` and holds ``envelopes`` lines, no feed
problems; Polymarket runs place orders; the crypto runs' strategy decided on every event (the
desk cannot trade a crypto instrument yet, so it places none).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.feeds import open_source
from polytraders.feeds.parquet import is_parquet_layout
from tests.conftest import REPO, SAMPLES

CRYPTO_DESK = REPO / "examples" / "desk_binance.toml"
CRYPTO_STRATEGY = f"{REPO / 'examples' / 'strategies' / 'touch_quoter.py'}:TouchQuoter"


def _sample_locations() -> list[Path]:
    """Every replayable location under data/samples: Parquet directories and line recordings
    (licences, READMEs and sidecars are not data)."""
    return [
        path
        for path in sorted(SAMPLES.rglob("*"))
        if is_parquet_layout(path)
        or (path.is_file() and path.name.endswith((".gz", ".jsonl", ".txt")))
    ]


LOCATIONS = _sample_locations()


def test_every_shipped_sample_is_covered() -> None:
    names = [str(p.relative_to(SAMPLES)) for p in LOCATIONS]
    assert names == [
        "binance/spot_btcusdt_20240808.gz",
        "binance/usdm_btcusdt_20240808.gz",
        "binance/usdm_ethusdt_20240808.gz",
        "polymarket/resolvedkit_btc15m",
    ]


@pytest.mark.parametrize(
    "location",
    [
        # the default Polymarket run takes longer and is also run by the backtest tests
        pytest.param(p, marks=pytest.mark.slow) if is_parquet_layout(p) else p
        for p in LOCATIONS
    ],
    ids=lambda p: p.name,
)
def test_backtest_replays_the_sample(location: Path, tmp_path: Path) -> None:
    crypto = bool(open_source(location).instruments)
    out = tmp_path / "out"
    args = ["backtest", "--data", str(location), "--out", str(out)]
    if crypto:
        args += ["--desk", str(CRYPTO_DESK), "--strategy", CRYPTO_STRATEGY]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "result.json").read_text())
    envelopes = (out / "envelopes.jsonl").read_bytes()
    assert summary["events"] > 0
    assert summary["feed_problems"] == {}
    assert hashlib.sha256(envelopes).hexdigest() == summary["envelopes_sha256"]
    assert envelopes.count(b"\n") == summary["envelopes"] > 0
    if crypto:
        bots = [json.loads(line)["bot_id"] for line in envelopes.splitlines()]
        assert bots.count("strat.touch_quoter") == summary["events"]
    else:
        assert summary["orders"] > 0
        assert summary["fills"] > 0
