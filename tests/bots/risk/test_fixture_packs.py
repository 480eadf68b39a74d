"""Every risk bot's four fixture cases, run through the desk's real risk chain."""

from __future__ import annotations

import pytest

from polytraders.contracts.decisions import Verdict
from polytraders.contracts.envelope import encode_envelope
from polytraders.contracts.modes import Mode
from polytraders.contracts.reasons import Severity, load_registry
from polytraders.readiness.packs import CASES, RISK_BOTS, load_pack, pack_path, run_pack

PACKS = [(bot_id, case) for bot_id in RISK_BOTS for case in CASES]


@pytest.mark.parametrize(("bot_id", "case"), PACKS)
def test_pack_through_the_desk(bot_id: str, case: str) -> None:
    pack = load_pack(pack_path(bot_id, case))
    assert (pack.bot_id, pack.case) == (bot_id, case)
    run, state = run_pack(pack)
    expected = pack.expected
    outcome = run.outcome
    assert outcome.verdict.value == expected["verdict"]
    assert list(outcome.reason_codes) == expected["reason_codes"]
    assert outcome.decided_by == expected["decided_by"]
    assert state.trading_state.value == expected["trading_state"]
    assert state.kill_switch_tripped is expected["kill_switch_tripped"]
    mine = [e for e in run.envelopes if e.bot_id == bot_id]
    assert len(mine) == 1, "the bot decided exactly once"
    assert mine[0].decision.value == expected["decision"]
    assert mine[0].mode is Mode.ENFORCED
    assert not run.slot.quarantine_reason, "the bot must not be quarantined by the desk"
    if "reshaped" in expected:
        assert outcome.reshaped
        for field, value in expected["reshaped"].items():
            assert getattr(outcome.intent, field) == value


@pytest.mark.parametrize("bot_id", list(RISK_BOTS))
def test_failure_injection_never_approves(bot_id: str) -> None:
    """Corrupt or missing input: REJECT or HALT, in every mode that runs the bot."""
    pack = load_pack(pack_path(bot_id, "failure"))
    for mode in (Mode.ENFORCED, Mode.SHADOW, Mode.ADVISORY):
        run, _ = run_pack(pack, mode)
        mine = [e for e in run.envelopes if e.bot_id == bot_id]
        assert mine[0].decision.value in ("REJECT", "HALT")
        if mode is Mode.ENFORCED:
            assert run.outcome.verdict in (Verdict.REJECT, Verdict.HALT)
            assert not run.outcome.approved


@pytest.mark.parametrize("bot_id", list(RISK_BOTS))
def test_warning_and_hard_cases_carry_their_severity(bot_id: str) -> None:
    registry = load_registry()
    warning = load_pack(pack_path(bot_id, "warning"))
    run, _ = run_pack(warning)
    bot_codes = next(e for e in run.envelopes if e.bot_id == bot_id).reason_codes
    assert any(registry[c].severity is Severity.WARNING for c in bot_codes)
    hard = load_pack(pack_path(bot_id, "hard"))
    run, _ = run_pack(hard)
    envelope = next(e for e in run.envelopes if e.bot_id == bot_id)
    # the safe fallback: a stop with a hard code, or a reshape that keeps within the limit.
    if envelope.decision.value == "RESHAPE":
        assert run.outcome.reshaped
    else:
        assert envelope.decision.value in ("REJECT", "HALT")
        assert any(registry[c].severity is Severity.HARD for c in envelope.reason_codes)


@pytest.mark.parametrize(("bot_id", "case"), PACKS)
def test_pack_runs_are_byte_identical(bot_id: str, case: str) -> None:
    pack = load_pack(pack_path(bot_id, case))
    first, _ = run_pack(pack)
    second, _ = run_pack(pack)
    assert b"".join(map(encode_envelope, first.envelopes)) == b"".join(
        map(encode_envelope, second.envelopes)
    )


def test_packs_use_the_real_sample() -> None:
    import json

    for bot_id, case in PACKS:
        data = json.loads(pack_path(bot_id, case).read_text())
        if data["state"].get("instruments"):  # the crypto guards: the Binance USD-M sample
            assert data["source"]["dataset"] == "data/samples/binance/usdm_btcusdt_20240808.gz"
            continue
        assert data["source"]["dataset"] == "data/samples/polymarket/resolvedkit_btc15m"
        assert data["state"]["markets"], f"{bot_id}/{case} has no market"


@pytest.mark.parametrize("bot_id", list(RISK_BOTS))
def test_every_declared_mode_runs_in_the_desk(bot_id: str) -> None:
    """STUB: not run; SHADOW/ADVISORY: recorded, not applied; ENFORCED: applied; QUARANTINE:
    the desk rejects without calling the bot (fail closed)."""
    pack = load_pack(pack_path(bot_id, "hard"))
    assert set(RISK_BOTS[bot_id].mode_support) == set(Mode)
    for mode in Mode:
        run, state = run_pack(pack, mode)
        mine = [e for e in run.envelopes if e.bot_id == bot_id]
        if mode is Mode.STUB:
            assert mine == [] and run.outcome.approved
        elif mode is Mode.QUARANTINE:
            assert [e.decision.value for e in mine] == ["QUARANTINE"]
            assert run.outcome.reason_codes == ("SYS_BOT_QUARANTINED",)
            assert not run.outcome.approved
        elif mode is Mode.ENFORCED:
            assert mine[0].decision.value == pack.expected["decision"]
        else:  # recorded, never applied
            assert mine[0].decision.value == pack.expected["decision"]
            assert run.outcome.approved
            assert state.trading_state.value == "ACTIVE"
            assert not state.kill_switch_tripped
