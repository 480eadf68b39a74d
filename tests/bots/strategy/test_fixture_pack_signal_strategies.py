"""strat.ema_cross and strat.mean_reversion: the indicators' invariants (hypothesis), the
fixture packs through the desk harness in every mode, and each strategy's example desk over
the shipped Polymarket sample: it trades, every order it proposes is post-only on the tick,
and a second run is byte-identical."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.bots.strategy.indicators import Ema, RollingBands, WilderRsi, cross_sign
from polytraders.contracts.envelope import Decision
from polytraders.contracts.modes import Mode
from polytraders.contracts.reasons import Severity, load_registry
from polytraders.readiness.packs import CASES, load_pack, pack_path, run_case
from tests.conftest import POLYMARKET_SAMPLE, REPO

SIGNAL_BOTS = ("strat.ema_cross", "strat.mean_reversion")
closes = st.lists(st.integers(min_value=1_000, max_value=999_000), min_size=1, max_size=200)


@given(closes, st.integers(min_value=1, max_value=50))
def test_ema_stays_between_the_lowest_and_highest_close(values: list[int], span: int) -> None:
    ema = Ema(span)
    for i, close in enumerate(values):
        value = ema.update(close)
        assert min(values[: i + 1]) - 1e-6 <= value <= max(values[: i + 1]) + 1e-6


@given(closes, st.integers(min_value=2, max_value=30), st.floats(min_value=0.5, max_value=5.0))
def test_bands_are_ordered_and_centred_on_the_window_mean(
    values: list[int], window: int, k: float
) -> None:
    bands = RollingBands(window, k)
    for i, close in enumerate(values):
        got = bands.update(close)
        if i + 1 < window:
            assert got is None
            continue
        assert got is not None
        last = values[i + 1 - window : i + 1]
        assert got.lower <= got.mean <= got.upper
        assert got.mean == pytest.approx(sum(last) / window)
        assert min(last) - 1e-6 <= got.mean <= max(last) + 1e-6


@given(closes, st.integers(min_value=1, max_value=30))
def test_rsi_lies_in_0_100_and_is_100_on_rises_only(values: list[int], period: int) -> None:
    rsi = WilderRsi(period)
    readings = [rsi.update(c) for c in values]
    assert all(r is None for r in readings[:period])
    assert all(r is not None and 0.0 <= r <= 100.0 for r in readings[period:])
    rising = WilderRsi(period)
    last = None
    for c in range(1, period + 3):
        last = rising.update(c * 1_000)
    assert last == 100.0


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=2, max_size=100))
def test_a_cross_fires_exactly_when_the_sign_of_fast_minus_slow_turns(diffs: list[float]) -> None:
    for before, now in pairwise(diffs):
        cross = cross_sign(before, now)
        assert cross == (1 if before <= 0 < now else -1 if before >= 0 > now else 0)
    assert cross_sign(None, diffs[0]) == 0


def test_same_closes_give_identical_readings() -> None:
    values = [500_000 + (i * 7919) % 40_000 for i in range(300)]
    runs = []
    for _ in range(2):
        ema, bands, rsi = Ema(12), RollingBands(20, 2.0), WilderRsi(14)
        runs.append([(ema.update(c), bands.update(c), rsi.update(c)) for c in values])
    assert repr(runs[0]) == repr(runs[1])


@pytest.mark.parametrize("bot_id", SIGNAL_BOTS)
@pytest.mark.parametrize("case", CASES)
def test_fixture_case_through_the_desk(bot_id: str, case: str) -> None:
    run = run_case(load_pack(pack_path(bot_id, case)))
    assert run.problems == () and not run.quarantined
    severities = {load_registry()[c].severity for c in run.reason_codes}
    if case == "warning":
        assert Severity.WARNING in severities
    if case in ("normal", "warning", "hard"):
        assert run.forwarded and all(i.reduce_only and i.post_only for i in run.forwarded)
    if case == "failure":
        assert run.forwarded == () and Severity.HARD in severities
        assert run.bot_envelopes[0].decision is Decision.IDLE


@pytest.mark.parametrize("bot_id", SIGNAL_BOTS)
@pytest.mark.parametrize("mode", [Mode.SHADOW, Mode.ADVISORY])
def test_shadow_and_advisory_record_but_apply_nothing(bot_id: str, mode: Mode) -> None:
    run = run_case(load_pack(pack_path(bot_id, "normal")), mode)
    assert run.problems == () and run.forwarded == ()
    assert [e.mode for e in run.bot_envelopes] == [mode]


@pytest.mark.parametrize(
    ("bot_id", "desk"),
    [
        ("strat.ema_cross", "examples/desk_ema_cross.toml"),
        ("strat.mean_reversion", "examples/desk_mean_reversion.toml"),
    ],
)
def test_example_desk_trades_the_sample_reproducibly(
    bot_id: str, desk: str, tmp_path: Path
) -> None:
    desk_file = DeskFile.load(REPO / desk)
    results = []
    for name in ("a", "b"):
        run_desk(data=POLYMARKET_SAMPLE, desk_file=desk_file, out_dir=tmp_path / name)
        results.append(json.loads((tmp_path / name / "result.json").read_text()))
    first, second = results
    assert (first["run_id"], first["envelopes_sha256"]) == (
        second["run_id"],
        second["envelopes_sha256"],
    )
    assert (tmp_path / "a" / "envelopes.jsonl").read_bytes() == (
        tmp_path / "b" / "envelopes.jsonl"
    ).read_bytes()
    assert first["fills"] > 0
    prefix = "STRAT_EMA_" if bot_id == "strat.ema_cross" else "STRAT_MR_"
    assert first["reason_codes"].get(prefix + "ENTRY", 0) > 0
    assert first["reason_codes"].get(prefix + "EXIT", 0) > 0
    tick = 1_000
    for line in (tmp_path / "a" / "envelopes.jsonl").read_text().splitlines():
        envelope = json.loads(line)
        if envelope["bot_id"] != bot_id or envelope["output"] is None:
            continue
        for intent in envelope["output"].get("intents", []):
            if intent["action"] != "CANCEL":
                assert intent["post_only"] and intent["price"] % tick == 0
