"""Reviews of sampled decisions: a seeded random sample of a bot's reviewable decisions drawn
from the store's recorded runs, reviewers' verdicts on them, and the false-positive rate with
its exact upper bound (seed 001, Limited live → General live: "False-positive rate (Risk bots) —
Manual review of 100 random REJECT/RESHAPE — ≤ 5 % incorrect"; the 95 % upper bound is
reported beside the point estimate, ``../shared/research/governance.md`` §3).

**What is reviewable** (by the envelope's recorded ``bot_class``, :data:`REVIEWABLE`): a risk
bot's REJECT and RESHAPE (seed 001); an execution bot's REFUSE (its way of saying no to an
approved intent); a strategy's PROPOSE (an order it wanted). Decisions in every mode count (a
SHADOW bot's REJECT is exactly what a review before promotion judges); ERROR and QUARANTINE
envelopes are failures, not decisions, and are never drawn.

**The draw.** Candidates are the bot's reviewable envelopes in the store's live-clock runs
(:mod:`polytraders.store.sessions`; ``live_only=False`` adds backtests), sorted by (run id,
attempt, sequence); ``random.Random(seed).sample(candidates, min(n, len(candidates)))`` picks
them, so the same seed over the same store content draws the same sample. The sample id is
``rs-`` + 16 hex digits of the SHA-256 of the canonical JSON of (bot, n, seed, scope, the
picks' run, attempt and envelope id): drawing the same sample again returns the one on record
(nothing is appended). Each pick is stored with the envelope's exact JSON line.

**Verdicts** are append-only rows: a reviewer's later verdict on the same decision supersedes
their earlier one (the latest row wins; every row stays). With several reviewers a decision
counts as incorrect when any reviewer's current verdict says so (a disputed decision counts
against the bot: fail closed), and as reviewed when at least one reviewer judged it.

Audit actions: ``GOV_REVIEW_SAMPLED`` (actor the operator, detail bot, n, seed, scope, candidates,
drawn, sample id) and ``GOV_REVIEW_RECORDED`` (actor the reviewer). Refusals raise
:class:`~polytraders.store.errors.EvidenceInputError` with one line.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from enum import StrEnum

import msgspec
import sqlalchemy as sa

from polytraders.contracts.canonical import canonical_sha256
from polytraders.contracts.envelope import Decision
from polytraders.contracts.modes import BotClass
from polytraders.model.binomial import clopper_pearson_upper
from polytraders.store import schema
from polytraders.store.errors import EvidenceInputError
from polytraders.store.event_store import EventStore
from polytraders.store.sessions import envelopes_of_runs

ACTION_SAMPLE = "GOV_REVIEW_SAMPLED"
ACTION_VERDICT = "GOV_REVIEW_RECORDED"

REVIEWABLE: Mapping[BotClass, tuple[Decision, ...]] = {
    BotClass.RISK: (Decision.REJECT, Decision.RESHAPE),
    BotClass.EXECUTION: (Decision.REFUSE,),
    BotClass.STRATEGY: (Decision.PROPOSE,),
}
"""The decisions a review samples, by the class recorded in the envelope."""

MAX_SAMPLE = 10_000
"""The largest sample drawn at once."""

_INT64_MAX = 2**63 - 1


class ReviewVerdict(StrEnum):
    """A reviewer's judgement of one sampled decision."""

    CORRECT = "correct"
    INCORRECT = "incorrect"


class SampledDecision(msgspec.Struct, frozen=True, kw_only=True):
    """One pick of a sample: the envelope (``run_id``, ``attempt``, ``envelope_id``), its
    ``decision`` and ``reason_codes``, and its exact JSON ``line``."""

    run_id: str
    attempt: int
    envelope_id: str
    decision: str
    reason_codes: tuple[str, ...]
    line: str

    @property
    def key(self) -> tuple[str, int, str]:
        """(run id, attempt, envelope id): the decision's identity in the store."""
        return (self.run_id, self.attempt, self.envelope_id)


class ReviewSample(msgspec.Struct, frozen=True, kw_only=True):
    """A drawn sample: ``sample_id``, ``bot_id``, ``seed``, when and by whom it was drawn
    (``drawn_ns``, ``drawn_by``), the ``picks`` in draw order, and ``created`` (False when the
    same sample was already on record and is returned as it was)."""

    sample_id: str
    bot_id: str
    seed: int
    drawn_ns: int
    drawn_by: str
    picks: tuple[SampledDecision, ...]
    created: bool = True


class VerdictRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One verdict row."""

    sample_id: str
    run_id: str
    attempt: int
    envelope_id: str
    verdict: ReviewVerdict
    reviewer: str
    note: str
    ts_ns: int


class ReviewSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Where a sample's review stands.

    Fields: ``drawn`` (picks), ``reviewed`` (picks with a current verdict), ``incorrect``
    (picks judged incorrect); ``fp_rate`` = incorrect / reviewed and ``fp_upper_95`` its
    one-sided 95 % Clopper–Pearson upper bound (both None before any verdict); ``verdicts``:
    per pick key the current verdict of each reviewer.
    """

    sample_id: str
    bot_id: str
    drawn: int
    reviewed: int
    incorrect: int
    fp_rate: float | None
    fp_upper_95: float | None
    verdicts: dict[tuple[str, int, str], dict[str, VerdictRecord]]


def _candidates(store: EventStore, bot_id: str, *, live_only: bool) -> list[tuple[str, int, int]]:
    """(run id, attempt, sequence) of the bot's reviewable envelopes, sorted."""
    e = schema.envelopes.c
    joined, condition = envelopes_of_runs(live_only=live_only)
    reviewable = sa.or_(
        *(
            sa.and_(e.bot_class == cls.value, e.decision.in_([d.value for d in decisions]))
            for cls, decisions in REVIEWABLE.items()
        )
    )
    query = (
        sa.select(e.run_id, e.attempt, e.sequence)
        .select_from(joined)
        .where(e.bot_id == bot_id, reviewable, condition)
        .order_by(e.run_id, e.attempt, e.sequence)
    )
    rows = [(r.run_id, int(r.attempt), int(r.sequence)) for r in store.select(query)]
    return sorted(rows)  # the database's collation must not decide the order


def draw_sample(
    store: EventStore,
    bot_id: str,
    *,
    n: int,
    seed: int,
    operator: str,
    live_only: bool = True,
    ts_ns: int | None = None,
) -> ReviewSample:
    """Draw (or find on record) a seeded sample of ``n`` reviewable decisions of ``bot_id``.

    Args:
        store: the event store.
        bot_id: the bot whose decisions are reviewed.
        n: how many to draw (1..:data:`MAX_SAMPLE`); fewer when fewer exist.
        seed: the draw's seed (0 ≤ seed < 2**63).
        operator: who draws it.
        live_only: draw from live-clock runs only (default); False: every recorded run.
        ts_ns: when (ns since the epoch); default the store's wall clock.

    Raises:
        EvidenceInputError: ``n`` or ``seed`` out of range, empty operator, or no reviewable
            decision of the bot in scope.
        StoreError: a read or write failed.
    """
    if not 1 <= n <= MAX_SAMPLE:
        raise EvidenceInputError(f"a sample draws 1..{MAX_SAMPLE} decisions, got {n}")
    if not 0 <= seed <= _INT64_MAX:
        raise EvidenceInputError(f"the seed must lie in [0, 2**63), got {seed}")
    operator = operator.strip()
    if not operator:
        raise EvidenceInputError("a sample needs a non-empty operator")
    scope = "live" if live_only else "all"
    candidates = _candidates(store, bot_id, live_only=live_only)
    if not candidates:
        where = "live-clock runs" if live_only else "recorded runs"
        raise EvidenceInputError(f"no reviewable decision of {bot_id!r} in the store's {where}")
    chosen = random.Random(seed).sample(candidates, min(n, len(candidates)))
    picks = _fetch(store, chosen)
    sample_id = (
        "rs-"
        + canonical_sha256(
            {
                "bot_id": bot_id,
                "n": n,
                "seed": seed,
                "scope": scope,
                "picks": [list(p.key) for p in picks],
            }
        )[:16]
    )
    existing = load_sample(store, sample_id)
    if existing is not None:
        return msgspec.structs.replace(existing, created=False)
    when = store.wall_clock_ns() if ts_ns is None else ts_ns
    store.append_rows(
        schema.review_samples,
        [
            {
                "sample_id": sample_id,
                "bot_id": bot_id,
                "run_id": p.run_id,
                "attempt": p.attempt,
                "envelope_id": p.envelope_id,
                "decision": p.decision,
                "reason_codes_json": json.dumps(list(p.reason_codes)),
                "line": p.line,
                "seed": seed,
                "ts_ns": when,
                "actor": operator,
            }
            for p in picks
        ],
        what=f"review sample {sample_id}",
    )
    store.audit(
        actor=operator,
        action=ACTION_SAMPLE,
        ts_ns=when,
        detail={
            "sample_id": sample_id,
            "bot_id": bot_id,
            "n": n,
            "seed": seed,
            "scope": scope,
            "candidates": len(candidates),
            "drawn": len(picks),
        },
    )
    return ReviewSample(
        sample_id=sample_id,
        bot_id=bot_id,
        seed=seed,
        drawn_ns=when,
        drawn_by=operator,
        picks=tuple(picks),
    )


def _fetch(store: EventStore, chosen: list[tuple[str, int, int]]) -> list[SampledDecision]:
    """The chosen envelopes' ids, decisions, codes and lines, in the order chosen."""
    e = schema.envelopes.c
    found: dict[tuple[str, int, int], SampledDecision] = {}
    chunk = 200
    for start in range(0, len(chosen), chunk):
        part = chosen[start : start + chunk]
        query = sa.select(
            e.run_id, e.attempt, e.sequence, e.envelope_id, e.decision, e.reason_codes_json, e.line
        ).where(sa.tuple_(e.run_id, e.attempt, e.sequence).in_(part))
        for r in store.select(query):
            found[(r.run_id, int(r.attempt), int(r.sequence))] = SampledDecision(
                run_id=r.run_id,
                attempt=int(r.attempt),
                envelope_id=r.envelope_id,
                decision=r.decision,
                reason_codes=tuple(json.loads(r.reason_codes_json)),
                line=r.line,
            )
    return [found[key] for key in chosen]


def load_sample(store: EventStore, sample_id: str) -> ReviewSample | None:
    """A sample on record (picks in draw order), or None.

    Raises:
        StoreError: the read failed.
    """
    s = schema.review_samples.c
    rows = store.select(
        sa.select(schema.review_samples).where(s.sample_id == sample_id).order_by(s.row_id)
    )
    if not rows:
        return None
    first = rows[0]
    return ReviewSample(
        sample_id=sample_id,
        bot_id=first.bot_id,
        seed=int(first.seed),
        drawn_ns=int(first.ts_ns),
        drawn_by=first.actor,
        picks=tuple(
            SampledDecision(
                run_id=r.run_id,
                attempt=int(r.attempt),
                envelope_id=r.envelope_id,
                decision=r.decision,
                reason_codes=tuple(json.loads(r.reason_codes_json)),
                line=r.line,
            )
            for r in rows
        ),
    )


def sample_ids(store: EventStore, bot_id: str) -> list[str]:
    """The ids of the bot's samples, oldest first.

    Raises:
        StoreError: the read failed.
    """
    s = schema.review_samples.c
    query = (
        sa.select(s.sample_id, sa.func.min(s.row_id).label("first"))
        .where(s.bot_id == bot_id)
        .group_by(s.sample_id)
        .order_by("first")
    )
    return [r.sample_id for r in store.select(query)]


def record_verdict(
    store: EventStore,
    sample_id: str,
    envelope_id: str,
    *,
    verdict: str,
    reviewer: str,
    note: str = "",
    attempt: int | None = None,
    ts_ns: int | None = None,
) -> VerdictRecord:
    """Record a reviewer's verdict on one decision of a sample (a ``review_verdicts`` row and
    a ``GOV_REVIEW_RECORDED`` audit entry); it supersedes the same reviewer's earlier verdict on it.

    Args:
        sample_id: the sample.
        envelope_id: the sampled envelope's id.
        verdict: ``correct`` or ``incorrect``.
        reviewer: who judged it.
        note: why (optional).
        attempt: the envelope's run attempt, needed only when the sample holds the same
            envelope id from two attempts of its run.
        ts_ns: when (ns since the epoch); default the store's wall clock.

    Raises:
        EvidenceInputError: unknown sample; an envelope not in the sample (or ambiguous
            without ``attempt``); a verdict other than correct/incorrect; empty reviewer.
        StoreError: a read or write failed.
    """
    judged = parse_verdict(verdict)
    reviewer = reviewer.strip()
    if not reviewer:
        raise EvidenceInputError("a verdict needs a non-empty reviewer")
    sample = load_sample(store, sample_id)
    if sample is None:
        raise EvidenceInputError(f"no review sample {sample_id!r} in the store")
    matches = [
        p
        for p in sample.picks
        if p.envelope_id == envelope_id and (attempt is None or p.attempt == attempt)
    ]
    if not matches:
        raise EvidenceInputError(f"envelope {envelope_id!r} is not in sample {sample_id}")
    if len(matches) > 1:
        attempts = ", ".join(str(a) for a in sorted(p.attempt for p in matches))
        raise EvidenceInputError(
            f"envelope {envelope_id!r} is in sample {sample_id} from attempts {attempts}: "
            "say which attempt"
        )
    pick = matches[0]
    when = store.wall_clock_ns() if ts_ns is None else ts_ns
    record = VerdictRecord(
        sample_id=sample_id,
        run_id=pick.run_id,
        attempt=pick.attempt,
        envelope_id=pick.envelope_id,
        verdict=judged,
        reviewer=reviewer,
        note=note,
        ts_ns=when,
    )
    append_verdict(store, record, bot_id=sample.bot_id, action=ACTION_VERDICT)
    return record


def parse_verdict(verdict: str) -> ReviewVerdict:
    """``correct`` or ``incorrect`` as a :class:`ReviewVerdict`.

    Raises:
        EvidenceInputError: anything else.
    """
    try:
        return ReviewVerdict(verdict)
    except ValueError:
        raise EvidenceInputError(f"a verdict is correct or incorrect, got {verdict!r}") from None


def append_verdict(store: EventStore, record: VerdictRecord, *, bot_id: str, action: str) -> None:
    """Append one ``review_verdicts`` row and its audit entry (``action``, actor the reviewer;
    detail the sample, bot, decision's run, attempt and envelope, verdict and note). The caller
    has checked that the decision belongs to ``record.sample_id``.

    Raises:
        StoreWriteError: the write failed.
    """
    store.append_rows(
        schema.review_verdicts,
        [msgspec.to_builtins(record)],
        what=f"verdict on {record.envelope_id} of {record.sample_id}",
    )
    store.audit(
        actor=record.reviewer,
        action=action,
        ts_ns=record.ts_ns,
        detail={
            "sample_id": record.sample_id,
            "bot_id": bot_id,
            "run_id": record.run_id,
            "attempt": record.attempt,
            "envelope_id": record.envelope_id,
            "verdict": record.verdict.value,
            "note": record.note,
        },
    )


def current_verdicts(
    store: EventStore, sample_ids: Sequence[str]
) -> dict[tuple[str, str, int, str], dict[str, VerdictRecord]]:
    """Each reviewer's current (latest) verdict on each decision of the given samples:
    (sample id, run id, attempt, envelope id) → reviewer → verdict.

    Raises:
        StoreError: the read failed.
    """
    v = schema.review_verdicts.c
    current: dict[tuple[str, str, int, str], dict[str, VerdictRecord]] = {}
    chunk = 200
    for start in range(0, len(sample_ids), chunk):
        part = list(sample_ids[start : start + chunk])
        rows = store.select(
            sa.select(schema.review_verdicts).where(v.sample_id.in_(part)).order_by(v.row_id)
        )
        for r in rows:
            key = (r.sample_id, r.run_id, int(r.attempt), r.envelope_id)
            current.setdefault(key, {})[r.reviewer] = VerdictRecord(
                sample_id=r.sample_id,
                run_id=r.run_id,
                attempt=int(r.attempt),
                envelope_id=r.envelope_id,
                verdict=ReviewVerdict(r.verdict),
                reviewer=r.reviewer,
                note=r.note,
                ts_ns=int(r.ts_ns),
            )
    return current


def summarize(store: EventStore, sample_id: str) -> ReviewSummary:
    """The sample's review: drawn, reviewed, incorrect, the false-positive rate and its
    one-sided 95 % Clopper–Pearson upper bound (rules in the module docstring).

    Raises:
        EvidenceInputError: unknown sample.
        StoreError: the read failed.
    """
    sample = load_sample(store, sample_id)
    if sample is None:
        raise EvidenceInputError(f"no review sample {sample_id!r} in the store")
    keys = {p.key for p in sample.picks}
    current = {
        key[1:]: by_reviewer
        for key, by_reviewer in current_verdicts(store, [sample_id]).items()
        if key[1:] in keys
    }
    reviewed = len(current)
    incorrect = sum(
        1
        for by_reviewer in current.values()
        if any(x.verdict is ReviewVerdict.INCORRECT for x in by_reviewer.values())
    )
    return ReviewSummary(
        sample_id=sample_id,
        bot_id=sample.bot_id,
        drawn=len(sample.picks),
        reviewed=reviewed,
        incorrect=incorrect,
        fp_rate=incorrect / reviewed if reviewed else None,
        fp_upper_95=clopper_pearson_upper(incorrect, reviewed) if reviewed else None,
        verdicts=current,
    )
