"""The integrity check finds gaps, bad ids, unresolvable correlations, orphan fills and
ended runs whose rows differ from what their end record says they produced."""

from __future__ import annotations

import msgspec
import pytest

from polytraders.contracts import ids
from polytraders.contracts.decisions import APPROVE
from polytraders.contracts.envelope import Decision
from polytraders.model.orders import OrderStatus
from polytraders.store import EventStore, RunProduced, StoreWriteError
from tests.store import factories as f


def _recorded_run(store: EventStore, name: str, intents: int = 3) -> str:
    run: str = ids.run_id(name, 1)
    f.start(store, run)
    for item in f.timeline(run, intents):
        store.record(item)
    for n in range(intents):
        store.append_order(run, f.order(run, n))
        store.append_order(run, f.order(run, n, OrderStatus.ACCEPTED))
        store.append_fill(run, f.fill(run, n))
    return run


def test_a_sound_run_has_no_problems(store: EventStore) -> None:
    run = _recorded_run(store, "sound")
    assert store.check_integrity(run) == []


def test_a_gap_in_the_sequence_is_reported(store: EventStore) -> None:
    run = ids.run_id("gap", 1)
    f.start(store, run)
    recorded = f.timeline(run, 3)
    for item in recorded[:5] + recorded[7:]:  # sequences 5 and 6 are missing
        store.record(item)
    # 6 was the RESHAPE that created intent i1/r, so the ROUTE at 7 has lost its intent too
    assert store.check_integrity(run) == [
        "sequence gap: 7 follows 4 (missing 5..6)",
        f"sequence 7: correlation id '{run}/i1/r' resolves to no intent recorded in the run",
    ]


def test_a_sequence_not_starting_at_zero_is_reported(store: EventStore) -> None:
    run = ids.run_id("late-start", 1)
    f.start(store, run)
    for item in f.timeline(run, 2)[1:]:
        store.record(item)
    problems = store.check_integrity(run)
    assert problems[0] == "sequence gap: 1 follows -1 (missing 0..0)"
    # the first envelope was the proposal: the risk decisions on its intent cannot resolve
    assert "sequence 1: correlation id" in problems[1]


def test_an_unresolvable_correlation_is_reported(store: EventStore) -> None:
    run = _recorded_run(store, "orphan-decision")
    stray = f.envelope(run, 12, correlation_id=f"{run}/i999", output=APPROVE)
    store.record(stray)
    assert store.check_integrity(run) == [
        f"sequence 12: correlation id '{run}/i999' resolves to no intent recorded in the run"
    ]


def test_an_order_intent_resolves_a_correlation(store: EventStore) -> None:
    """An intent known only through a recorded order (e.g. one placed before a restart)
    resolves a correlation, as does a proposal's intent."""
    run = ids.run_id("order-intent", 1)
    f.start(store, run)
    store.append_order(run, f.order(run, 5))
    store.record(f.envelope(run, 0, correlation_id=ids.intent_id(run, 5)))
    store.record(f.envelope(run, 1, decision=Decision.REJECT, correlation_id="ghost"))
    assert store.check_integrity(run) == [
        "sequence 1: correlation id 'ghost' resolves to no intent recorded in the run"
    ]


def test_a_fill_of_an_unknown_order_is_reported(store: EventStore) -> None:
    run = _recorded_run(store, "orphan-fill")
    store.append_fill(run, f.fill(run, 7, client_order_id=f"{run}/o77"))
    assert store.check_integrity(run) == [f"fill '{run}/f7' refers to unknown order '{run}/o77'"]


def test_an_envelope_id_not_derived_from_run_and_sequence_is_reported(store: EventStore) -> None:
    run = ids.run_id("bad-id", 1)
    f.start(store, run)
    store.record(msgspec.structs.replace(f.envelope(run, 0), envelope_id="made-up"))
    assert store.check_integrity(run) == [
        f"envelope id 'made-up' at sequence 0 is not the derived id '{run}/e0'"
    ]


def test_an_unknown_run_is_reported(store: EventStore) -> None:
    assert store.check_integrity("run-nope") == ["run 'run-nope' is not recorded"]
    run = _recorded_run(store, "one-attempt")
    assert store.check_integrity(f"{run}@2") == [f"run '{run}@2' is not recorded"]


def test_problems_of_one_kind_are_capped_with_a_count(store: EventStore) -> None:
    run = ids.run_id("many", 1)
    f.start(store, run)
    for sequence in range(30):
        store.record(f.envelope(run, sequence, correlation_id=f"ghost-{sequence}"))
    problems = store.check_integrity(run)
    assert len(problems) == 21
    assert problems[-1] == "... and 10 more problems of kind 'unresolved correlation'"


def test_an_ended_run_with_fewer_rows_than_it_produced_is_incomplete(store: EventStore) -> None:
    """The end record says what the run produced; rows that never reached the store (a lost
    batch) make the evidence incomplete, however consistent the rows that are there."""
    run = _recorded_run(store, "lost-rows")  # 12 envelopes, 6 order states, 3 fills
    store.end_run(run, ended_ns=f.T0_NS, produced=RunProduced(envelopes=12, orders=8, fills=4))
    assert store.check_integrity(run) == [
        f"run '{run}@1' is incomplete: its end record says it produced 12 envelopes, "
        "8 order states and 4 fills; recorded are 12, 6 and 3"
    ]


def test_an_ended_run_with_rows_it_never_produced_is_reported(store: EventStore) -> None:
    run = _recorded_run(store, "extra-rows")
    store.end_run(run, ended_ns=f.T0_NS, produced=RunProduced(envelopes=11, orders=6, fills=3))
    assert store.check_integrity(run) == [
        f"run '{run}@1' holds rows it never produced: its end record says it produced "
        "11 envelopes, 6 order states and 3 fills; recorded are 12, 6 and 3"
    ]


def test_an_ended_run_with_every_row_it_produced_is_sound(store: EventStore) -> None:
    run = _recorded_run(store, "complete")
    store.end_run(run, ended_ns=f.T0_NS, produced=RunProduced(envelopes=12, orders=6, fills=3))
    assert store.check_integrity(run) == []


def test_negative_produced_counts_are_refused(store: EventStore) -> None:
    run = _recorded_run(store, "negative")
    with pytest.raises(StoreWriteError, match="produced counts must be ≥ 0"):
        store.end_run(run, ended_ns=f.T0_NS, produced=RunProduced(envelopes=-1, orders=0, fills=0))
