"""Shadow comparisons in the event store (table ``shadow_comparisons``) and the review of their
divergences: the evidence of the shadow-agreement gate (seed 001, Shadow → Limited live:
"≥ 99 % identical decision; divergences manually reviewed").

**Rows.** One row per bot per comparison (:class:`ShadowComparisonRow`): the bot's config
version on each side, the data and its event-time window, the counts (``compared``,
``agree_verdict``, ``agree_strict`` = verdict and codes, ``unsafe_divergences``), Cohen's κ as
decimal text (``""`` when nothing was compared), ``confusion_json`` (the 5 × 5 table of
:class:`~polytraders.model.agreement.Confusion` with its labels, the reshape agreement and the
one-sided counts by reason) and ``divergences_json`` (every divergence of the bot with both
envelopes' exact JSON lines). Rules of the comparison itself:
:mod:`polytraders.backtest.shadow_decisions`.

Recording a comparison is idempotent: its id derives from what was compared, so recording the
same id again appends nothing and returns False. One ``GOV_SHADOW_COMPARED`` audit entry per
comparison recorded (actor the operator; detail the id, the data, the window and per bot the
compared, agreeing and unsafe counts).

**Reviews of divergences** reuse the decision-review verdicts (:mod:`polytraders.store.reviews`:
the ``review_verdicts`` table, correct / incorrect, a reviewer's later verdict superseding
theirs, every row kept) with the comparison id in the ``sample_id`` column and the divergence's
candidate envelope (run id, attempt 1, envelope id) as the decision. A divergence is a decision
pair already on record in the comparison row, so no ``review_samples`` row is drawn for it:
the false-positive gate, which reads the bot's latest review *sample*, is not affected. The
verdict judges the candidate's decision: ``correct`` (the divergence is acceptable) or
``incorrect`` (the candidate decided wrongly). Audit: ``GOV_SHADOW_DIVERGENCE_REVIEWED``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa

from polytraders.model.agreement import LABELS, Confusion, decimal_text
from polytraders.store import schema
from polytraders.store.errors import EvidenceInputError, StoreWriteError
from polytraders.store.event_store import EventStore
from polytraders.store.reviews import (
    VerdictRecord,
    append_verdict,
    current_verdicts,
    parse_verdict,
)

ACTION_COMPARED = "GOV_SHADOW_COMPARED"
ACTION_REVIEWED = "GOV_SHADOW_DIVERGENCE_REVIEWED"

SHADOW_ATTEMPT = 1
"""The attempt recorded for a divergence's envelope: a shadow chain's envelopes are not a run
of the store (they live in the comparison row), so they have one attempt."""


class StoredDivergence(msgspec.Struct, frozen=True, kw_only=True):
    """A divergence as recorded: the candidate's envelope (``run_id``, ``envelope_id``) is its
    identity for reviews; ``bot_id``, ``correlation_id`` (the intent), ``ts_event_ns``,
    ``kind`` (verdict / codes / reshape), ``unsafe``; each side's verdict and codes; the
    baseline's envelope id; both envelopes' exact JSON lines."""

    run_id: str
    envelope_id: str
    bot_id: str
    correlation_id: str
    ts_event_ns: int
    kind: str
    unsafe: bool
    baseline_verdict: str
    candidate_verdict: str
    baseline_codes: tuple[str, ...]
    candidate_codes: tuple[str, ...]
    baseline_run_id: str
    baseline_envelope_id: str
    baseline_line: str
    candidate_line: str

    @property
    def key(self) -> tuple[str, int, str]:
        """(run id, attempt, envelope id) of the candidate's decision."""
        return (self.run_id, SHADOW_ATTEMPT, self.envelope_id)


class ShadowComparisonRow(msgspec.Struct, frozen=True, kw_only=True):
    """One bot's result in one comparison (a ``shadow_comparisons`` row).

    Fields:
        comparison_id: the comparison (``sc-…``).
        bot_id: the bot (or ``desk``).
        baseline_config_version, candidate_config_version: the bot's config on each side.
        data_source: the data compared on.
        window_start_ns, window_end_ns: its event-time span.
        confusion: baseline × candidate labels (:data:`~polytraders.model.agreement.LABELS`).
        agree_strict: items with the same verdict, codes and requested state.
        both_reshape, agree_reshape: items both RESHAPEd (same codes), those reshaped alike.
        one_sided: ``baseline`` / ``candidate`` → reason → count.
        divergences: every divergence, in time order.
        actor: who recorded it.
        ts_ns: when (ns since the epoch).
        row_id: the store's row id (0 before recording).
    """

    comparison_id: str
    bot_id: str
    baseline_config_version: str
    candidate_config_version: str
    data_source: str
    window_start_ns: int
    window_end_ns: int
    confusion: Confusion
    agree_strict: int
    both_reshape: int
    agree_reshape: int
    one_sided: dict[str, dict[str, int]]
    divergences: tuple[StoredDivergence, ...]
    actor: str = ""
    ts_ns: int = 0
    row_id: int = 0

    @property
    def compared(self) -> int:
        """Items decided on both sides."""
        return self.confusion.compared

    @property
    def agree_verdict(self) -> int:
        """Items with the same verdict."""
        return self.confusion.agreed

    @property
    def unsafe_divergences(self) -> int:
        """Divergences where the candidate was more permissive."""
        return sum(1 for d in self.divergences if d.unsafe)

    @property
    def kappa(self) -> str:
        """Cohen's κ as decimal text (6 places), ``""`` when nothing was compared."""
        return decimal_text(self.confusion.kappa())


def _confusion_json(row: ShadowComparisonRow) -> str:
    return json.dumps(
        {
            "labels": list(LABELS),
            "matrix": [list(r) for r in row.confusion.matrix],
            "reshape": {"both": row.both_reshape, "equal": row.agree_reshape},
            "one_sided": row.one_sided,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def _stored(row: ShadowComparisonRow, actor: str, ts_ns: int) -> dict[str, Any]:
    return {
        "comparison_id": row.comparison_id,
        "bot_id": row.bot_id,
        "baseline_config_version": row.baseline_config_version,
        "candidate_config_version": row.candidate_config_version,
        "data_source": row.data_source,
        "window_start_ns": row.window_start_ns,
        "window_end_ns": row.window_end_ns,
        "compared": row.compared,
        "agree_verdict": row.agree_verdict,
        "agree_strict": row.agree_strict,
        "unsafe_divergences": row.unsafe_divergences,
        "kappa": row.kappa,
        "confusion_json": _confusion_json(row),
        "divergences_json": msgspec.json.encode(list(row.divergences)).decode(),
        "actor": actor,
        "ts_ns": ts_ns,
    }


def record_comparison(
    store: EventStore,
    rows: Sequence[ShadowComparisonRow],
    *,
    actor: str,
    ts_ns: int | None = None,
) -> bool:
    """Record one comparison's per-bot rows at once, with a ``GOV_SHADOW_COMPARED`` audit
    entry; returns False (nothing written) when the comparison id is already on record.

    Args:
        store: the event store.
        rows: the comparison's rows (one per bot, one comparison id, at least one row).
        actor: who ran it (audited).
        ts_ns: when (ns since the epoch); default the store's wall clock.

    Raises:
        EvidenceInputError: no rows, rows of several comparisons, a bot twice, an empty actor,
            or a window that ends before it starts.
        StoreError: a read or write failed.
    """
    actor = actor.strip()
    if not actor:
        raise EvidenceInputError("a shadow comparison needs a non-empty actor")
    if not rows:
        raise EvidenceInputError("a shadow comparison needs at least one bot's row")
    ids = {r.comparison_id for r in rows}
    if len(ids) != 1:
        raise EvidenceInputError(f"rows of several comparisons: {sorted(ids)}")
    bots = [r.bot_id for r in rows]
    if len(set(bots)) != len(bots):
        raise EvidenceInputError(f"a bot appears twice in comparison {rows[0].comparison_id}")
    if any(r.window_end_ns < r.window_start_ns for r in rows):
        raise EvidenceInputError("a comparison window ends before it starts")
    comparison = rows[0].comparison_id
    if comparisons(store, comparison_id=comparison):
        return False
    when = store.wall_clock_ns() if ts_ns is None else ts_ns
    try:
        store.append_rows(
            schema.shadow_comparisons,
            [_stored(r, actor, when) for r in rows],
            what=f"shadow comparison {comparison}",
        )
    except StoreWriteError:
        if comparisons(store, comparison_id=comparison):  # recorded meanwhile by another writer
            return False
        raise
    first = rows[0]
    store.audit(
        actor=actor,
        action=ACTION_COMPARED,
        ts_ns=when,
        detail={
            "comparison_id": comparison,
            "data_source": first.data_source,
            "window_start_ns": first.window_start_ns,
            "window_end_ns": first.window_end_ns,
            "bots": {
                r.bot_id: {
                    "compared": r.compared,
                    "agree_verdict": r.agree_verdict,
                    "divergences": len(r.divergences),
                    "unsafe": r.unsafe_divergences,
                }
                for r in rows
            },
        },
    )
    return True


def _row(r: sa.Row[Any]) -> ShadowComparisonRow:
    confusion = json.loads(r.confusion_json)
    labels = confusion["labels"]
    matrix = confusion["matrix"]
    counts = {
        base: {cand: int(matrix[i][j]) for j, cand in enumerate(labels)}
        for i, base in enumerate(labels)
    }
    return ShadowComparisonRow(
        comparison_id=r.comparison_id,
        bot_id=r.bot_id,
        baseline_config_version=r.baseline_config_version,
        candidate_config_version=r.candidate_config_version,
        data_source=r.data_source,
        window_start_ns=int(r.window_start_ns),
        window_end_ns=int(r.window_end_ns),
        confusion=Confusion.of(counts),
        agree_strict=int(r.agree_strict),
        both_reshape=int(confusion["reshape"]["both"]),
        agree_reshape=int(confusion["reshape"]["equal"]),
        one_sided=confusion["one_sided"],
        divergences=tuple(
            msgspec.json.decode(r.divergences_json.encode(), type=list[StoredDivergence])
        ),
        actor=r.actor,
        ts_ns=int(r.ts_ns),
        row_id=int(r.row_id),
    )


def comparisons(
    store: EventStore,
    *,
    bot_id: str | None = None,
    comparison_id: str | None = None,
    window_since_ns: int | None = None,
    window_until_ns: int | None = None,
) -> list[ShadowComparisonRow]:
    """Recorded rows in the order recorded, optionally of one bot, one comparison, and whose
    event-time window overlaps ``[window_since_ns, window_until_ns]`` (either end open).

    Raises:
        StoreError: the read failed (or a row's JSON is not what this module writes).
    """
    c = schema.shadow_comparisons.c
    query = sa.select(schema.shadow_comparisons).order_by(c.row_id)
    if bot_id is not None:
        query = query.where(c.bot_id == bot_id)
    if comparison_id is not None:
        query = query.where(c.comparison_id == comparison_id)
    if window_since_ns is not None:
        query = query.where(c.window_end_ns >= window_since_ns)
    if window_until_ns is not None:
        query = query.where(c.window_start_ns <= window_until_ns)
    return [_row(r) for r in store.select(query)]


def _find(store: EventStore, comparison_id: str, envelope_id: str) -> StoredDivergence:
    rows = comparisons(store, comparison_id=comparison_id)
    if not rows:
        raise EvidenceInputError(f"no shadow comparison {comparison_id!r} in the store")
    for row in rows:
        for divergence in row.divergences:
            if envelope_id in (divergence.envelope_id, divergence.baseline_envelope_id):
                return divergence
    raise EvidenceInputError(
        f"envelope {envelope_id!r} is not a divergence of comparison {comparison_id}"
    )


def record_divergence_verdict(
    store: EventStore,
    comparison_id: str,
    envelope_id: str,
    *,
    verdict: str,
    reviewer: str,
    note: str = "",
    ts_ns: int | None = None,
) -> VerdictRecord:
    """Record a reviewer's verdict on one divergence (a ``review_verdicts`` row keyed by the
    comparison and the candidate's envelope, and a ``GOV_SHADOW_DIVERGENCE_REVIEWED`` audit
    entry); it supersedes the same reviewer's earlier verdict on it.

    Args:
        comparison_id: the comparison (``sc-…``).
        envelope_id: the divergence's candidate or baseline envelope id.
        verdict: ``correct`` (the candidate's decision is acceptable) or ``incorrect``.
        reviewer: who judged it.
        note: why (optional).
        ts_ns: when (ns since the epoch); default the store's wall clock.

    Raises:
        EvidenceInputError: unknown comparison, an envelope that is not one of its
            divergences, a verdict other than correct/incorrect, an empty reviewer.
        StoreError: a read or write failed.
    """
    judged = parse_verdict(verdict)
    reviewer = reviewer.strip()
    if not reviewer:
        raise EvidenceInputError("a verdict needs a non-empty reviewer")
    divergence = _find(store, comparison_id, envelope_id)
    record = VerdictRecord(
        sample_id=comparison_id,
        run_id=divergence.run_id,
        attempt=SHADOW_ATTEMPT,
        envelope_id=divergence.envelope_id,
        verdict=judged,
        reviewer=reviewer,
        note=note,
        ts_ns=store.wall_clock_ns() if ts_ns is None else ts_ns,
    )
    append_verdict(store, record, bot_id=divergence.bot_id, action=ACTION_REVIEWED)
    return record


def divergence_verdicts(
    store: EventStore, comparison_ids: Sequence[str]
) -> dict[tuple[str, str, int, str], dict[str, VerdictRecord]]:
    """The current verdicts on the divergences of the given comparisons: (comparison id, run
    id, attempt, envelope id) → reviewer → latest verdict.

    Raises:
        StoreError: the read failed.
    """
    return current_verdicts(store, sorted(set(comparison_ids)))


def unreviewed(
    store: EventStore, rows: Sequence[ShadowComparisonRow]
) -> list[tuple[str, StoredDivergence]]:
    """The divergences of ``rows`` without any current verdict, as (comparison id,
    divergence), in row order.

    Raises:
        StoreError: the read failed.
    """
    verdicts = divergence_verdicts(store, [r.comparison_id for r in rows])
    return [
        (r.comparison_id, d)
        for r in rows
        for d in r.divergences
        if not verdicts.get((r.comparison_id, *d.key))
    ]
