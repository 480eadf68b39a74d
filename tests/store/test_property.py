"""Hypothesis: any well-typed envelope survives the store byte for byte (SQLite and
PostgreSQL)."""

from __future__ import annotations

import io
import itertools
from typing import Any

import msgspec
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polytraders.contracts.decisions import Proposal, RiskDecision, RoutePlan, Verdict
from polytraders.contracts.envelope import Decision, ReportEnvelope, encode_envelope
from polytraders.contracts.modes import BotClass, Mode
from polytraders.model.events import TradingState
from polytraders.model.orders import (
    IntentAction,
    OrderIntent,
    OrderStatus,
    Side,
    TimeInForce,
    VenueOrder,
)
from polytraders.store import EventStore, schema
from tests.store import factories as f

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Any Unicode text but lone surrogates (not encodable as UTF-8 JSON) and NUL (refused by the
# store on every backend, tested separately).
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)

INTENTS = st.builds(
    OrderIntent,
    intent_id=TEXT,
    bot_id=TEXT,
    action=st.sampled_from(IntentAction),
    token_id=TEXT,
    market_id=TEXT,
    side=st.sampled_from(Side),
    price=INT64,
    size=INT64,
    notional=INT64,
    time_in_force=st.sampled_from(TimeInForce),
    expire_at_ns=INT64,
    post_only=st.booleans(),
    reduce_only=st.booleans(),
    target_intent_id=TEXT,
    builder_code=TEXT,
    ts_created_ns=INT64,
)
ORDERS = st.builds(
    VenueOrder,
    client_order_id=TEXT,
    intent_id=TEXT,
    bot_id=TEXT,
    token_id=TEXT,
    market_id=TEXT,
    side=st.sampled_from(Side),
    price=INT64,
    size=INT64,
    notional=INT64,
    time_in_force=st.sampled_from(TimeInForce),
    status=st.sampled_from(OrderStatus),
    filled_size=INT64,
    exchange=TEXT,
    venue_order_id=TEXT,
    ts_created_ns=INT64,
    ts_updated_ns=INT64,
)
CODES = st.lists(TEXT, max_size=3).map(tuple)
OUTPUTS = st.one_of(
    st.none(),
    INTENTS,
    st.builds(Proposal, intents=st.lists(INTENTS, max_size=3).map(tuple), reason_codes=CODES),
    st.builds(
        RiskDecision,
        verdict=st.sampled_from(Verdict),
        reason_codes=CODES,
        reshaped=st.none() | INTENTS,
        set_state=st.none() | st.sampled_from(TradingState),
    ),
    st.builds(
        RoutePlan,
        orders=st.lists(ORDERS, max_size=2).map(tuple),
        cancel_client_order_ids=CODES,
        reason_codes=CODES,
    ),
)

_runs = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fields=st.fixed_dictionaries(
        {
            "ts_event_ns": INT64,
            "ts_decided_ns": INT64,
            "bot_id": TEXT,
            "bot_class": st.sampled_from(BotClass),
            "bot_version": TEXT,
            "config_version": TEXT,
            "mode": st.sampled_from(Mode),
            "decision": st.sampled_from(Decision),
            "reason_codes": CODES,
            "correlation_id": TEXT,
            "causation_id": TEXT,
            "input_digest": TEXT,
            "output": OUTPUTS,
            "latency_ns": INT64,
        }
    ),
    envelope_id=TEXT,
    sequence=st.integers(min_value=0, max_value=2**63 - 1),
)
def test_any_envelope_round_trips_exactly(
    store: EventStore, fields: dict[str, Any], envelope_id: str, sequence: int
) -> None:
    run = f"run-prop-{next(_runs)}"
    f.start(store, run)
    original = ReportEnvelope(
        envelope_id=f"{run}/{envelope_id}",
        run_id=run,
        sequence=sequence,
        **fields,
    )
    store.record(original)
    assert store.envelopes(run) == [original]
    exported = io.BytesIO()
    store.export_jsonl(run, exported)
    assert exported.getvalue() == encode_envelope(original)
    with store._engine.connect() as connection:
        row = connection.execute(
            sa.select(schema.envelopes).where(schema.envelopes.c.run_id == run)
        ).one()
    assert row.attempt == 1
    output = original.output
    assert row.line.encode() + b"\n" == encode_envelope(original)
    assert row.output_json == msgspec.json.encode(output).decode()  # the output as JSON
    assert row.output_type == ("" if output is None else type(output).__struct_config__.tag)
    assert tuple(msgspec.json.decode(row.reason_codes_json)) == original.reason_codes
    assert (row.sequence, row.envelope_id, row.bot_class, row.mode, row.decision) == (
        sequence,
        original.envelope_id,
        original.bot_class.value,
        original.mode.value,
        original.decision.value,
    )
    assert (row.ts_event_ns, row.ts_decided_ns, row.latency_ns) == (
        original.ts_event_ns,
        original.ts_decided_ns,
        original.latency_ns,
    )
