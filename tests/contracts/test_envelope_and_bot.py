"""ReportEnvelope JSON-lines round trip, deterministic ids, and bot contract verification."""

from __future__ import annotations

import io
from typing import ClassVar

from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field

from polytraders.contracts import ids
from polytraders.contracts.authority import Capability
from polytraders.contracts.bot import BotBase, MonitorConfig, bot_problems, monitor_interval_ns
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import (
    APPROVE,
    MonitorAction,
    MonitorDecision,
    Proposal,
    RiskDecision,
    RoutePlan,
    Verdict,
)
from polytraders.contracts.envelope import (
    Decision,
    ReportEnvelope,
    decode_envelope,
    encode_envelope,
    input_digest,
    read_jsonl,
    timeline_sha256,
    write_jsonl,
)
from polytraders.contracts.modes import BotClass, Mode
from polytraders.contracts.reasons import load_registry
from polytraders.contracts.search_space import IntParam, SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.model.orders import OrderIntent, Side, VenueOrder

intents = st.builds(
    OrderIntent,
    intent_id=st.text(min_size=1, max_size=12),
    bot_id=st.just("strat.x"),
    token_id=st.text(min_size=1, max_size=80),
    side=st.sampled_from(list(Side)),
    price=st.integers(1, 999_999),
    size=st.integers(0, 10**15),
    post_only=st.booleans(),
)
outputs = st.one_of(
    st.none(),
    intents,
    st.builds(Proposal, intents=st.lists(intents, max_size=3).map(tuple)),
    st.builds(
        RiskDecision,
        verdict=st.sampled_from(list(Verdict)),
        reason_codes=st.lists(st.sampled_from(["RISK_A", "SYS_B"]), max_size=2).map(tuple),
        reshaped=st.none() | intents,
    ),
    st.builds(
        RoutePlan,
        orders=st.lists(
            st.builds(
                VenueOrder,
                client_order_id=st.text(min_size=1, max_size=8),
                intent_id=st.text(max_size=8),
                token_id=st.text(max_size=8),
                side=st.sampled_from(list(Side)),
                price=st.integers(0, 10**6),
                size=st.integers(0, 10**12),
            ),
            max_size=2,
        ).map(tuple),
    ),
)


@given(
    st.integers(0, 10**9),
    st.integers(0, 2**62),
    st.sampled_from(list(Mode)),
    st.sampled_from(list(Decision)),
    outputs,
    st.text(max_size=30),
)
def test_envelope_json_lines_round_trip_exactly(
    sequence: int, ts: int, mode: Mode, decision: Decision, output: object, text: str
) -> None:
    envelope = ReportEnvelope(
        envelope_id=ids.envelope_id("run-1", sequence),
        run_id="run-1",
        sequence=sequence,
        ts_event_ns=ts,
        ts_decided_ns=ts + 1,
        bot_id="risk.x",
        bot_class=BotClass.RISK,
        bot_version="0.1.0",
        config_version="0123456789abcdef",
        mode=mode,
        decision=decision,
        reason_codes=("RISK_A",),
        correlation_id=text,
        causation_id="evt",
        input_digest=input_digest(text),
        output=output,  # type: ignore[arg-type]
        latency_ns=5,
    )
    line = encode_envelope(envelope)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    decoded = decode_envelope(line)
    assert decoded == envelope
    assert encode_envelope(decoded) == line


def test_jsonl_stream_and_timeline_hash() -> None:
    envelopes = [
        ReportEnvelope(
            envelope_id=ids.envelope_id("r", i),
            run_id="r",
            sequence=i,
            ts_event_ns=i,
            ts_decided_ns=i,
            bot_id="risk.x",
            bot_class=BotClass.RISK,
            bot_version="1",
            config_version="c",
            mode=Mode.ENFORCED,
            decision=Decision.APPROVE,
            output=APPROVE,
        )
        for i in range(3)
    ]
    buffer = io.BytesIO()
    assert write_jsonl(envelopes, buffer) == 3
    buffer.seek(0)
    assert list(read_jsonl(buffer)) == envelopes
    assert timeline_sha256(envelopes) == timeline_sha256(list(envelopes))
    assert timeline_sha256(envelopes) != timeline_sha256(envelopes[:2])


def test_ids_are_deterministic() -> None:
    assert ids.run_id("cfg", 7) == ids.run_id("cfg", 7) != ids.run_id("cfg", 8)
    assert ids.envelope_id("r", 3) == "r/e3"
    assert len({ids.envelope_id("r", 3), ids.intent_id("r", 3), ids.fill_id("r", 3)}) == 3
    # an order's id derives from its intent's and its position in the route plan
    assert ids.client_order_id(ids.intent_id("r", 3), 1) == "r/i3/o1"
    assert input_digest({"a": 1}) == input_digest({"a": 1}) != input_digest({"a": 2})


class EchoConfig(BotConfig):
    max_age_ms: int = Field(1_000, ge=1, le=60_000)
    """Oldest acceptable book."""


class EchoGuard(BotBase[EchoConfig]):
    bot_id = "risk.echo"
    bot_class = BotClass.RISK
    Config = EchoConfig
    SEARCH_SPACE = SearchSpace(EchoConfig, IntParam(name="max_age_ms", low=100, high=5_000))
    RUNTIME_BUDGET = RuntimeBudget(
        decision_p95_us=100, decision_p99_us=500, calibration="a test double"
    )
    reason_codes: ClassVar[frozenset[str]] = frozenset({"SYS_FEED_STALE"})

    def decide(self, intent: OrderIntent, view: DeskView) -> RiskDecision:
        return APPROVE


def test_conforming_bot_has_no_problems() -> None:
    assert bot_problems(EchoGuard, load_registry()) == []
    bot = EchoGuard()
    assert bot.config.max_age_ms == 1_000
    bot.reset()


def test_bot_problems_catch_contract_breaches() -> None:
    class Rogue(EchoGuard):
        bot_id = "strat.rogue"
        capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.KILL_SWITCH})
        reason_codes: ClassVar[frozenset[str]] = frozenset({"RISK_NOT_REGISTERED"})
        mode_support: ClassVar[frozenset[Mode]] = frozenset({Mode.ENFORCED})

    problems = bot_problems(Rogue, load_registry())
    assert any("id prefix does not match" in p for p in problems)
    assert any("RISK_NOT_REGISTERED is not registered" in p for p in problems)
    assert any("STUB and QUARANTINE" in p for p in problems)
    assert any("KILL_SWITCH needs HALT" in p for p in problems)

    class Unbudgeted(EchoGuard):
        RUNTIME_BUDGET = RuntimeBudget(decision_p95_us=900, decision_p99_us=800)

    assert bot_problems(Unbudgeted, load_registry()) == [
        "risk.echo: runtime budget: latency budget needs 0 < p95 ≤ p99 ≤ 5,000 µs "
        "(the desk's budget)",
        "risk.echo: runtime budget: say where the figures were calibrated",
    ]

    class OldStyle(EchoGuard):
        can_halt = True

    assert bot_problems(OldStyle, load_registry()) == [
        "risk.echo: can_halt is gone; declare capabilities (Capability.HALT, …)"
    ]
    assert bot_problems(type("NoClass", (), {"bot_id": "risk.x"}), load_registry())


class WatchConfig(MonitorConfig):
    max_age_ms: int = Field(1_000, ge=1, le=60_000)
    """Oldest acceptable book."""


def test_monitor_step_needs_a_monitor_config_and_a_risk_class() -> None:
    class Watcher(EchoGuard):
        bot_id = "risk.watcher"
        Config = WatchConfig
        SEARCH_SPACE = SearchSpace(WatchConfig, IntParam(name="max_age_ms", low=100, high=5_000))
        capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.HALT})

        def monitor(self, view: DeskView, /) -> MonitorDecision | None:
            return None

    class Forgetful(EchoGuard):
        bot_id = "risk.forgetful"

        def monitor(self, view: DeskView, /) -> MonitorDecision | None:
            return None

    class Idle(EchoGuard):
        bot_id = "risk.idle"
        Config = WatchConfig
        SEARCH_SPACE = Watcher.SEARCH_SPACE

    class Meddler(Watcher):
        bot_id = "strat.meddler"
        bot_class = BotClass.STRATEGY

    registry = load_registry()
    assert bot_problems(Watcher, registry) == []
    assert monitor_interval_ns(Watcher()) == 0  # off by default
    assert monitor_interval_ns(Watcher(WatchConfig(monitor_interval_ms=250))) == 250_000_000
    assert monitor_interval_ns(EchoGuard()) == 0
    needs = "a monitor step needs a MonitorConfig, and vice versa"
    assert bot_problems(Forgetful, registry) == [f"risk.forgetful: {needs}"]
    assert bot_problems(Idle, registry) == [f"risk.idle: {needs}"]
    meddler = bot_problems(Meddler, registry)
    assert "strat.meddler: a strategy bot cannot hold HALT" in meddler
    assert "strat.meddler: only risk bots may have a monitor step" in meddler


def test_monitor_envelope_round_trips() -> None:
    finding = MonitorDecision(action=MonitorAction.REDUCE, reason_codes=("RISK_DRAWDOWN_REDUCING",))
    envelope = ReportEnvelope(
        envelope_id="r/e0",
        run_id="r",
        sequence=0,
        ts_event_ns=1,
        ts_decided_ns=1,
        bot_id="risk.drawdownguard",
        bot_class=BotClass.RISK,
        bot_version="0.1.0",
        config_version="c",
        mode=Mode.ENFORCED,
        decision=Decision.REDUCE,
        reason_codes=finding.reason_codes,
        output=finding,
    )
    line = encode_envelope(envelope)
    assert b'"type":"monitor_decision"' in line
    assert decode_envelope(line) == envelope
