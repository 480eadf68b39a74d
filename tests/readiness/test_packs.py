"""readiness.packs: every bot's four fixture cases run through the desk's harness in every
declared mode and match the case; a broken case (another expected code or output) fails with
a problem that names what differs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polytraders.bots.execution.smartrouter import SmartRouter
from polytraders.bots.registry import BOTS
from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.modes import Mode
from polytraders.contracts.view import DeskView
from polytraders.model.orders import OrderIntent
from polytraders.readiness.packs import (
    CASES,
    PackFormat,
    load_pack,
    pack_path,
    run_case,
    translate_tokens,
)

PACKS = [(bot_id, case) for bot_id in BOTS for case in CASES]


@pytest.mark.parametrize(("bot_id", "case"), PACKS)
def test_every_case_passes_through_the_desk(bot_id: str, case: str) -> None:
    pack = load_pack(pack_path(bot_id, case))
    assert (pack.bot_id, pack.case) == (bot_id, case)
    run = run_case(pack)
    assert run.problems == ()
    assert run.passed and not run.quarantined
    assert [e.mode for e in run.bot_envelopes] == [Mode.ENFORCED]
    assert list(run.reason_codes) == pack.expected["reason_codes"]


@pytest.mark.parametrize("bot_id", list(BOTS))
def test_every_declared_mode_runs_as_the_desk_documents(bot_id: str) -> None:
    pack = load_pack(pack_path(bot_id, "normal"))
    for mode in BOTS[bot_id].mode_support:
        run = run_case(pack, mode)
        assert run.problems == (), (mode, run.problems)
        recorded = {e.mode for e in run.bot_envelopes}
        if mode is Mode.STUB or (mode is Mode.QUARANTINE and bot_id.startswith("strat.")):
            assert recorded == set()
        else:
            assert recorded == {mode}


def _edited(tmp_path: Path, bot_id: str, case: str, edit: Any) -> Path:
    data = json.loads(pack_path(bot_id, case).read_text())
    edit(data)
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(data))
    return path


def test_a_risk_case_expecting_another_code_fails_with_the_difference(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["expected"]["reason_codes"] = ["RISK_KILLSWITCH_HEARTBEAT_LOST"]

    run = run_case(load_pack(_edited(tmp_path, "risk.killswitch", "hard", edit)))
    assert not run.passed
    assert run.problems == (
        "reason codes: got ['RISK_KILLSWITCH_DAILY_LOSS'], "
        "expected ['RISK_KILLSWITCH_HEARTBEAT_LOST']",
    )


def test_a_strategy_case_expecting_another_output_fails(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["expected"]["reason_codes"] = ["STRAT_QUOTES_PLACED"]
        data["expected"]["output"]["intents"][0]["price"] = 81_000

    run = run_case(load_pack(_edited(tmp_path, "strat.maker_tight", "warning", edit)))
    assert any(p.startswith("reason codes: got ['STRAT_INVENTORY_LIMIT'") for p in run.problems)
    assert any(p.startswith("output: got") for p in run.problems)
    assert any(p.startswith("intents: got") for p in run.problems)


class _RaisingRouter(SmartRouter):
    """The router, but ``decide`` raises: the desk quarantines it."""

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RoutePlan:
        raise RuntimeError("boom")


def test_a_quarantine_is_a_problem_outside_quarantine_mode() -> None:
    pack = load_pack(pack_path("exec.smartrouter", "normal"))
    run = run_case(pack, Mode.ENFORCED, bot=_RaisingRouter())
    assert run.quarantined and run.quarantine_reason == "SYS_BOT_EXCEPTION"
    assert "the desk quarantined the bot: SYS_BOT_EXCEPTION" in run.problems
    assert run.plan is None  # failed closed: nothing to send


def test_both_formats_load_with_their_inputs() -> None:
    risk = load_pack(pack_path("risk.stalebookguard", "hard"))
    assert risk.format is PackFormat.RISK and risk.intent.side.value == "BUY"
    strategy = load_pack(pack_path("strat.maker_tight", "normal"))
    assert strategy.format is PackFormat.DECISION
    with pytest.raises(TypeError):
        _ = strategy.intent
    router = load_pack(pack_path("exec.smartrouter", "failure"))
    assert router.intent.token_id.endswith(":SIDEWAYS")


def test_translate_tokens_renames_values_and_keys_only() -> None:
    data = {"books": {"a:UP": [1]}, "token_id": "a:UP", "other": "a:UPX", "n": 3}
    renamed = translate_tokens(data, {"a:UP": "777"}.get)
    assert renamed == {"books": {"777": [1]}, "token_id": "777", "other": "a:UPX", "n": 3}
    assert data["token_id"] == "a:UP"  # the input is not changed
