"""Integrity check of one recorded run attempt (DESIGN.md "Evidence").

An attempt's evidence is sound when:

1. the attempt is recorded;
2. its envelope sequence starts at 0 and has no gaps;
3. envelope ids are unique and each is the id derived from (run id, sequence)
   (:func:`polytraders.contracts.ids.envelope_id`);
4. every stored JSON line decodes and agrees with its row (run id, sequence, envelope id,
   correlation id): the columns and the exported timeline tell the same story;
5. every non-empty correlation id resolves to an intent recorded in the run: an intent of a
   strategy's :class:`~polytraders.contracts.decisions.Proposal`, the reshaped intent of a
   RESHAPE :class:`~polytraders.contracts.decisions.RiskDecision`, or the ``intent_id`` of an
   order recorded in the run;
6. every fill refers to an order (client order id) recorded in the run;
7. an ended attempt holds exactly the envelopes, order-state rows and fill rows its end record
   says it produced: fewer rows means the evidence is **incomplete** (rows were lost), more
   means rows the run never produced were added.

Problems are reported as plain sentences; at most :data:`MAX_PER_KIND` of each kind are
listed, followed by a count of the rest.
"""

from __future__ import annotations

from collections import Counter

import msgspec
import sqlalchemy as sa

from polytraders.contracts.decisions import Proposal, RiskDecision
from polytraders.contracts.envelope import decode_envelope
from polytraders.contracts.id_set import IdSet, OrderIdSet
from polytraders.contracts.ids import envelope_id
from polytraders.store import schema

MAX_PER_KIND = 20
"""Problems listed per kind before the rest are summarised as a count."""

_STREAM_ROWS = 5_000
"""Rows fetched per batch from each streamed query."""


class _Problems:
    def __init__(self) -> None:
        self.listed: list[str] = []
        self.counts: Counter[str] = Counter()

    def add(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= MAX_PER_KIND:
            self.listed.append(message)

    def result(self) -> list[str]:
        extra = [
            f"... and {count - MAX_PER_KIND} more problems of kind {kind!r}"
            for kind, count in sorted(self.counts.items())
            if count > MAX_PER_KIND
        ]
        return self.listed + extra


def check_run_integrity(connection: sa.Connection, run_id: str, attempt: int) -> list[str]:
    """Problems found in attempt ``attempt`` of run ``run_id`` (empty list when the evidence
    is sound). Whether a RUNNING attempt is abandoned is judged by the store, not here.

    Streams the attempt's order states, envelopes (in sequence order) and fills in batches of
    :data:`_STREAM_ROWS` rows, then reads its end record. The ids it must remember (client
    order ids, intent ids, envelope ids) are kept in exact compact sets
    (:mod:`polytraders.contracts.id_set`), so its memory is O(id ranges + ids not numbered in
    sequence + correlations not yet resolved when read), not O(rows).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database could not be read.
    """
    problems = _Problems()
    r = schema.runs.c
    known = connection.execute(
        sa.select(r.run_id).where(r.run_id == run_id, r.attempt == attempt)
    ).first()
    if known is None:
        return [f"run '{run_id}@{attempt}' is not recorded"]

    streamed = connection.execution_options(yield_per=_STREAM_ROWS)
    client_order_ids = OrderIdSet()
    intents = IdSet()
    order_rows = 0
    o = schema.orders.c
    for order in streamed.execute(
        sa.select(o.client_order_id, o.intent_id).where(o.run_id == run_id, o.attempt == attempt)
    ):
        order_rows += 1
        client_order_ids.add(order.client_order_id)
        intents.add(order.intent_id)

    envelope_rows, unresolved = _check_envelopes(streamed, run_id, attempt, intents, problems)
    for sequence, correlation in unresolved:
        if correlation not in intents:
            problems.add(
                "unresolved correlation",
                f"sequence {sequence}: correlation id {correlation!r} resolves to no intent "
                "recorded in the run",
            )

    fill_rows = 0
    fl = schema.fills.c
    for fill in streamed.execute(
        sa.select(fl.fill_id, fl.client_order_id)
        .where(fl.run_id == run_id, fl.attempt == attempt)
        .order_by(fl.row_id)
    ):
        fill_rows += 1
        if fill.client_order_id not in client_order_ids:
            problems.add(
                "orphan fill",
                f"fill {fill.fill_id!r} refers to unknown order {fill.client_order_id!r}",
            )
    _check_produced(connection, run_id, attempt, (envelope_rows, order_rows, fill_rows), problems)
    return problems.result()


def _check_envelopes(
    streamed: sa.Connection, run_id: str, attempt: int, intents: IdSet, problems: _Problems
) -> tuple[int, list[tuple[int, str]]]:
    """Rules 2-4 over the attempt's envelopes in sequence order; adds the intents they record
    (proposals, reshaped intents) to ``intents``. Returns the number of envelope rows and the
    (sequence, correlation id) pairs whose intent was not known when read (rule 5 is judged
    on them once every intent is known)."""
    unresolved: list[tuple[int, str]] = []
    seen_ids = IdSet()
    expected = 0
    envelope_rows = 0
    env = schema.envelopes.c
    rows = streamed.execute(
        sa.select(env.sequence, env.envelope_id, env.run_id, env.correlation_id, env.line)
        .where(env.run_id == run_id, env.attempt == attempt)
        .order_by(env.sequence)
    )
    for row in rows:
        envelope_rows += 1
        sequence = row.sequence
        if sequence != expected:
            if sequence > expected:
                problems.add(
                    "gap",
                    f"sequence gap: {sequence} follows {expected - 1} "
                    f"(missing {expected}..{sequence - 1})",
                )
            else:
                problems.add("duplicate sequence", f"sequence {sequence} is recorded twice")
        expected = max(expected, sequence + 1)
        if row.envelope_id in seen_ids:
            problems.add("duplicate id", f"envelope id {row.envelope_id!r} is recorded twice")
        seen_ids.add(row.envelope_id)
        derived = envelope_id(run_id, sequence)
        if row.envelope_id != derived:
            problems.add(
                "id derivation",
                f"envelope id {row.envelope_id!r} at sequence {sequence} is not the derived "
                f"id {derived!r}",
            )
        try:
            envelope = decode_envelope(row.line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            problems.add("bad line", f"sequence {sequence}: stored line does not decode: {exc}")
            continue
        if (envelope.run_id, envelope.sequence, envelope.envelope_id, envelope.correlation_id) != (
            row.run_id,
            sequence,
            row.envelope_id,
            row.correlation_id,
        ):
            problems.add(
                "line mismatch",
                f"sequence {sequence}: stored JSON line disagrees with the row's columns",
            )
        output = envelope.output
        if isinstance(output, Proposal):
            intents.update(intent.intent_id for intent in output.intents)
        elif isinstance(output, RiskDecision) and output.reshaped is not None:
            intents.add(output.reshaped.intent_id)
        correlation = row.correlation_id
        if correlation and correlation not in intents:
            unresolved.append((sequence, correlation))
    return envelope_rows, unresolved


def _check_produced(
    connection: sa.Connection,
    run_id: str,
    attempt: int,
    recorded: tuple[int, int, int],
    problems: _Problems,
) -> None:
    """Compare the rows recorded (envelopes, order states, fills) with what the attempt's end
    record says it produced (nothing to compare while it has no end)."""
    e = schema.run_ends.c
    end = connection.execute(
        sa.select(e.produced_envelopes, e.produced_orders, e.produced_fills).where(
            e.run_id == run_id, e.attempt == attempt
        )
    ).first()
    if end is None:
        return
    claimed = (int(end.produced_envelopes), int(end.produced_orders), int(end.produced_fills))
    if recorded == claimed:
        return
    says = (
        f"its end record says it produced {claimed[0]} envelopes, {claimed[1]} order states "
        f"and {claimed[2]} fills; recorded are {recorded[0]}, {recorded[1]} and {recorded[2]}"
    )
    pairs = list(zip(recorded, claimed, strict=True))
    if any(have < want for have, want in pairs):
        problems.add("incomplete", f"run '{run_id}@{attempt}' is incomplete: {says}")
    if any(have > want for have, want in pairs):
        problems.add("extra rows", f"run '{run_id}@{attempt}' holds rows it never produced: {says}")
