"""Intents are validated where they enter the desk: a malformed intent quarantines the strategy
that proposed it, with the field named, and never reaches a shared bot; a strategy that raises
is quarantined with the exception and the file:line of its own code. On the default desk
(seven guards, exec.smartrouter, paper venue) over the real sample."""

from __future__ import annotations

import importlib.util
import json
import sys
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import (
    BotFailure,
    Decision,
    decode_envelope,
    encode_envelope,
)
from polytraders.contracts.modes import Mode
from polytraders.contracts.view import DeskView
from polytraders.desk.desk import Desk, DeskResult
from polytraders.model.events import AnyEvent
from polytraders.model.orders import INT64_MAX, IntentAction, OrderIntent, Side
from tests.desk.corrupting import OneQuote
from tests.desk.sample_desk import default_desk, sample_head

STRATEGY = OneQuote.bot_id


def run_until_quarantined(desk: Desk) -> DeskResult:
    """Feed the sample's head until the strategy is quarantined (or the head ends)."""
    _, events = sample_head()
    for event in events:
        desk.process(event)
        if desk.strategies.slots[0].mode is Mode.QUARANTINE:
            break
    return desk.result()


def desk_for(strategy: object) -> Desk:
    return default_desk(strategy)


def assert_only_the_strategy_paid(desk: Desk, result: DeskResult, failure: BotFailure) -> None:
    """The strategy is quarantined with ``failure`` in its ERROR envelope; no risk, execution
    or desk envelope exists (no shared bot saw the intent); nothing reached the venue."""
    assert set(result.quarantined) == {STRATEGY}
    quarantine = result.quarantined[STRATEGY]
    assert quarantine.from_mode is Mode.ENFORCED and quarantine.failure == failure
    assert {e.bot_id for e in desk.envelopes} == {STRATEGY}
    error = desk.envelopes[-1]
    assert error.decision is Decision.ERROR
    assert error.reason_codes == (failure.code, "SYS_BOT_QUARANTINED")
    assert error.output == failure
    assert decode_envelope(encode_envelope(error)) == error  # the record stays decodable
    assert result.orders_submitted == 0 and desk.state.orders == {}
    assert all(s.mode is not Mode.QUARANTINE for s in (*desk.risk.slots, *desk.execution.slots))


def test_a_well_formed_quote_goes_through_the_guards_and_the_router() -> None:
    strategy = OneQuote()
    desk = desk_for(strategy)
    result = run_until_quarantined(desk)
    assert result.quarantined == {}
    assert strategy.proposed is not None
    seen = {e.bot_id for e in desk.envelopes if e.correlation_id == strategy.proposed.intent_id}
    assert "exec.smartrouter" in seen and "risk.exposureguard" in seen


def test_time_in_force_fak_as_a_string_quarantines_the_strategy_not_the_router() -> None:
    desk = desk_for(OneQuote({"time_in_force": "FAK", "post_only": False}))
    result = run_until_quarantined(desk)
    assert_only_the_strategy_paid(
        desk,
        result,
        BotFailure(
            code="SYS_INTENT_FIELD_INVALID",
            message=(
                "intent #0 ('strat.onequote/1'): time_in_force: expected TimeInForce, got str 'FAK'"
            ),
            field="time_in_force",
        ),
    )


class _Other(StrEnum):
    OTHER = "OTHER"


def _wrong_values(declared: type) -> st.SearchStrategy[Any]:
    """Values that are not exactly of type ``declared`` or fall outside its range."""
    common = st.one_of(st.none(), st.floats(), st.binary(max_size=4), st.just(_Other.OTHER))
    if declared is int:
        return st.one_of(
            common,
            st.booleans(),
            st.text(max_size=6),
            st.integers(max_value=-1),
            st.integers(min_value=INT64_MAX + 1),
        )
    if declared is bool:
        return st.one_of(common, st.integers(0, 1), st.sampled_from(["true", "false", ""]))
    if declared is str:
        return st.one_of(
            common,
            st.integers(),
            st.sampled_from(list(Side)),  # a str subclass is not a str
            st.text(min_size=257, max_size=300),
            st.text(max_size=8).map(lambda t: t + "\x00"),
        )
    assert issubclass(declared, Enum)
    return st.one_of(
        common,
        st.sampled_from([member.value for member in declared]),  # "FAK" for TimeInForce.FAK
        st.text(max_size=8),
        st.integers(),
    )


FIELDS = [(f.name, f.type) for f in msgspec.structs.fields(OrderIntent)]


@st.composite
def corruption(draw: st.DrawFn) -> tuple[str, Any]:
    name, declared = draw(st.sampled_from(FIELDS))
    return name, draw(_wrong_values(declared))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corruption())
def test_a_corrupted_field_quarantines_only_the_strategy(bad: tuple[str, Any]) -> None:
    name, value = bad
    desk = desk_for(OneQuote({name: value}))
    result = run_until_quarantined(desk)
    assert set(result.quarantined) == {STRATEGY}
    failure = result.quarantined[STRATEGY].failure
    assert failure.code == "SYS_INTENT_FIELD_INVALID"
    assert failure.field == name
    assert f"{name}: " in failure.message
    assert_only_the_strategy_paid(desk, result, failure)


@pytest.mark.parametrize(
    ("corrupt", "code", "field", "needle"),
    [
        ({"token_id": "no-such-token"}, "SYS_INTENT_FIELD_INVALID", "token_id", "unknown token"),
        ({"market_id": "0xother"}, "SYS_INTENT_FIELD_INVALID", "market_id", "not the token's"),
        ({"price": 1_000_001}, "SYS_INTENT_FIELD_INVALID", "price", "above 1 pUSD"),
        ({"intent_id": "q1"}, "SYS_INTENT_FIELD_INVALID", "intent_id", "must start with"),
        ({"size": 0}, "SYS_INTENT_FIELD_INVALID", "size", "exactly one of size"),
        ({"bot_id": "strat.other"}, "SYS_AUTHORITY_VIOLATION", "", "claims bot strat.other"),
        (
            {"action": IntentAction.REPLACE, "target_intent_id": "strat.maker_tight/s1/i0"},
            "SYS_AUTHORITY_VIOLATION",
            "",
            "not an intent of strat.onequote",
        ),
    ],
)
def test_intents_the_desk_cannot_honour_quarantine_the_strategy(
    corrupt: dict[str, Any], code: str, field: str, needle: str
) -> None:
    desk = desk_for(OneQuote(corrupt))
    result = run_until_quarantined(desk)
    failure = result.quarantined[STRATEGY].failure
    assert (failure.code, failure.field) == (code, field)
    assert needle in failure.message
    assert_only_the_strategy_paid(desk, result, failure)


def test_a_reused_intent_id_quarantines_the_strategy() -> None:
    strategy = OneQuote(times=2)
    desk = desk_for(strategy)
    result = run_until_quarantined(desk)
    failure = result.quarantined[STRATEGY].failure
    assert (failure.code, failure.field) == ("SYS_INTENT_FIELD_INVALID", "intent_id")
    assert "already used in this run" in failure.message
    # the first quote went through; only the second was stopped at the intake
    assert desk.state.intent_outcome(f"{STRATEGY}/1") is not None
    assert all(s.mode is not Mode.QUARANTINE for s in (*desk.risk.slots, *desk.execution.slots))


def test_a_proposal_of_the_wrong_shape_is_invalid_output() -> None:
    class ListOfDicts(OneQuote):
        def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
            return Proposal(intents=[{"side": "BUY"}])  # type: ignore[arg-type]

    desk = desk_for(ListOfDicts())
    result = run_until_quarantined(desk)
    assert_only_the_strategy_paid(
        desk,
        result,
        BotFailure(
            code="SYS_INVALID_OUTPUT", message="Proposal.intents must be a tuple of OrderIntent"
        ),
    )


# ---------------------------------------------------------------- strategies that raise
def _marked_line(path: Path, marker: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if marker in line)


class ParsesBadJson(OneQuote):
    """Raises from inside a library (json) called by the strategy's own code."""

    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        return Proposal(reason_codes=tuple(self._parse("{")))

    def _parse(self, text: str) -> list[str]:
        return list(json.loads(text))  # MARK-JSON


def test_an_exception_records_type_message_and_the_strategys_own_line() -> None:
    desk = desk_for(ParsesBadJson())
    result = run_until_quarantined(desk)
    line = _marked_line(Path(__file__), "MARK-JSON")
    assert_only_the_strategy_paid(
        desk,
        result,
        BotFailure(
            code="SYS_BOT_EXCEPTION",
            message="Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
            error_type="json.decoder.JSONDecodeError",
            location=f"tests/desk/test_intake.py:{line}",
        ),
    )
    assert result.quarantined[STRATEGY].ts_ns == sample_head()[1][0].ts_event_ns


USER_STRATEGY = '''
from polytraders.contracts.bot import BotBase
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import SearchSpace


class Config(BotConfig):
    """Nothing to set."""


class Crashes(BotBase[Config]):
    bot_id = "strat.crashes"
    bot_class = BotClass.STRATEGY
    Config = Config
    SEARCH_SPACE = SearchSpace(Config)

    def decide(self, event, view):
        quotes = {}
        return Proposal(reason_codes=(quotes[event.ts_event_ns],))  # MARK-KEY
'''


def test_a_strategy_loaded_from_a_file_is_located_in_that_file(tmp_path: Path) -> None:
    path = tmp_path / "my_strategy.py"
    path.write_text(USER_STRATEGY)
    spec = importlib.util.spec_from_file_location("user_strategy_my_strategy", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        desk = desk_for(module.Crashes())
        result = run_until_quarantined(desk)
    finally:
        del sys.modules[spec.name]
    first = sample_head()[1][0]
    failure = result.quarantined["strat.crashes"].failure
    assert failure == BotFailure(
        code="SYS_BOT_EXCEPTION",
        message=str(first.ts_event_ns),
        error_type="KeyError",
        location=f"my_strategy.py:{_marked_line(path, 'MARK-KEY')}",
    )
    assert desk.envelopes[-1].output == failure
