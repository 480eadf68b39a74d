"""Deterministic test timelines: what a desk records for a few intents."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from polytraders.contracts import ids
from polytraders.contracts.decisions import APPROVE, Proposal, RiskDecision, RoutePlan, Verdict
from polytraders.contracts.envelope import Decision, EnvelopeOutput, ReportEnvelope
from polytraders.contracts.modes import BotClass, Mode
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import OrderIntent, OrderStatus, Side, VenueOrder
from polytraders.store import (
    EventStore,
    ReconciliationKind,
    ReconciliationRow,
    RunProduced,
    RunRecord,
    RunRef,
)

TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
MARKET = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"
T0_NS = 1_763_700_000_000_000_000


class WallClock:
    """A wall clock the test sets: ns since the epoch, moved with :meth:`advance`."""

    def __init__(self, now_ns: int = T0_NS) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: int) -> None:
        self.now_ns += seconds * 1_000_000_000


NOTHING = RunProduced(envelopes=0, orders=0, fills=0)
"""The end-record counts of an attempt that produced nothing (or whose end is refused)."""


def produced(store: EventStore, run: str) -> RunProduced:
    """What the attempt ``store`` holds of ``run`` recorded so far, as its end record's
    counts (a complete run claims exactly what it recorded)."""
    counts = store.counts(RunRef(run, store.held[run]))
    return RunProduced(envelopes=counts.envelopes, orders=counts.orders, fills=counts.fills)


def start(store: EventStore, run: str, *, seed: int = 7) -> RunRecord:
    """Start the next attempt of ``run`` with a small config."""
    return store.start_run(
        run_id=run,
        started_ns=T0_NS,
        seed=seed,
        desk_config={"risk_chain": ["risk.a", "risk.b"], "order_latency_ms": 250},
        desk_config_version="cfg-1",
        data_source="tests/store factories",
        synthetic=True,
    )


def envelope(
    run: str,
    sequence: int,
    *,
    decision: Decision = Decision.APPROVE,
    bot_class: BotClass = BotClass.RISK,
    bot_id: str = "risk.a",
    correlation_id: str = "",
    output: EnvelopeOutput = None,
    reason_codes: tuple[str, ...] = (),
) -> ReportEnvelope:
    """One envelope with the derived id for (run, sequence)."""
    return ReportEnvelope(
        envelope_id=ids.envelope_id(run, sequence),
        run_id=run,
        sequence=sequence,
        ts_event_ns=T0_NS + sequence * 1_000,
        ts_decided_ns=T0_NS + sequence * 1_000 + 400,
        bot_id=bot_id,
        bot_class=bot_class,
        bot_version="1.2.0",
        config_version="cfg-bot",
        mode=Mode.ENFORCED,
        decision=decision,
        reason_codes=reason_codes,
        correlation_id=correlation_id,
        causation_id=f"evt-{sequence}",
        input_digest="00112233aabbccdd",
        output=output,
        latency_ns=400,
    )


def intent(run: str, n: int) -> OrderIntent:
    """The ``n``-th intent of ``run``: BUY 10 shares at 0.45 + n ticks."""
    return OrderIntent(
        intent_id=ids.intent_id(run, n),
        bot_id="strat.maker",
        token_id=TOKEN,
        market_id=MARKET,
        side=Side.BUY,
        price=450_000 + n * 10_000,
        size=10_000_000,
        ts_created_ns=T0_NS + n,
    )


def order(run: str, n: int, status: OrderStatus = OrderStatus.PENDING_NEW) -> VenueOrder:
    """The venue order routed for intent ``n``."""
    placed = intent(run, n)
    return VenueOrder(
        client_order_id=ids.client_order_id(placed.intent_id, 0),
        intent_id=placed.intent_id,
        bot_id=placed.bot_id,
        token_id=TOKEN,
        market_id=MARKET,
        side=placed.side,
        price=placed.price,
        size=placed.size,
        exchange="ctf",
        status=status,
        ts_created_ns=T0_NS + n,
        ts_updated_ns=T0_NS + n,
    )


def fill(run: str, n: int, *, client_order_id: str | None = None) -> Fill:
    """A 4-share taker fill of order ``n`` at its price with a fee of 0.0099 pUSD."""
    routed = order(run, n)
    return Fill(
        fill_id=ids.fill_id(run, n),
        client_order_id=client_order_id or routed.client_order_id,
        venue_order_id=f"0xv{n}",
        token_id=TOKEN,
        market_id=MARKET,
        side=Side.BUY,
        price=routed.price,
        size=4_000_000,
        fee=9_900,
        liquidity=LiquiditySide.TAKER,
        ts_event_ns=T0_NS + 250_000_000,
        ts_recv_ns=T0_NS + 250_000_500,
    )


def timeline(run: str, intents: int) -> list[ReportEnvelope]:
    """Per intent: a PROPOSE, two risk decisions (the second RESHAPEs to a smaller intent with
    a new id), and a ROUTE correlated to the reshaped intent."""
    envelopes: list[ReportEnvelope] = []
    for n in range(intents):
        proposed = intent(run, n)
        reshaped = OrderIntent(
            intent_id=proposed.intent_id + "/r",
            bot_id=proposed.bot_id,
            token_id=proposed.token_id,
            market_id=proposed.market_id,
            side=proposed.side,
            price=proposed.price,
            size=proposed.size // 2,
            post_only=True,
        )
        steps: list[dict[str, Any]] = [
            {
                "decision": Decision.PROPOSE,
                "bot_class": BotClass.STRATEGY,
                "bot_id": "strat.maker",
                "output": Proposal(intents=(proposed,), reason_codes=("STRAT_QUOTE",)),
            },
            {"correlation_id": proposed.intent_id, "output": APPROVE},
            {
                "decision": Decision.RESHAPE,
                "bot_id": "risk.b",
                "correlation_id": proposed.intent_id,
                "output": RiskDecision(
                    verdict=Verdict.RESHAPE, reason_codes=("RISK_SIZE",), reshaped=reshaped
                ),
                "reason_codes": ("RISK_SIZE",),
            },
            {
                "decision": Decision.ROUTE,
                "bot_class": BotClass.EXECUTION,
                "bot_id": "exec.router",
                "correlation_id": reshaped.intent_id,
                "output": RoutePlan(orders=(order(run, n),)),
            },
        ]
        for step in steps:
            envelopes.append(envelope(run, len(envelopes), **step))
    return envelopes


def reconciliation(
    store: EventStore,
    run: str,
    *,
    ts_ns: int = T0_NS,
    kind: ReconciliationKind = ReconciliationKind.PERIODIC,
    level: str = "ok",
    position_drift_micros: int = 0,
) -> ReconciliationRow:
    """Record one reconciliation of ``run`` (the held attempt): OK unless told otherwise."""
    codes = () if level == "ok" else (f"SYS_RECONCILE_DRIFT_{level.upper()}",)
    return store.append_reconciliation(
        run,
        ts_ns=ts_ns,
        kind=kind,
        level=level,
        order_drift_micros=0,
        position_drift_micros=position_drift_micros,
        reason_codes=codes,
        differences_json=b'{"positions":[]}',
    )


def placeholder_row(table: sa.Table) -> dict[str, object]:
    """A row of ``table`` with a placeholder in every column but an auto-incremented key (for
    tables whose content the test does not care about, e.g. the governance tables)."""
    row: dict[str, object] = {}
    for column in table.columns:
        if column.primary_key and column.autoincrement is True:
            continue
        python_type = column.type.python_type
        row[column.name] = {bool: False, int: 1}.get(python_type, "x")
    return row
