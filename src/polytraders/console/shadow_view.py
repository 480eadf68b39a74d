"""The Shadow mode page's reads: the recorded shadow comparisons
(:mod:`polytraders.store.shadow_comparisons`, ``docs/shadow.md``) per bot — confusion table,
verdict agreement, Cohen's κ, unsafe divergences — and one comparison's divergences with both
envelopes and their reviewers' current verdicts. Verdicts are recorded by
:func:`~polytraders.store.shadow_comparisons.record_divergence_verdict`, the path of
``polytraders shadow review``.

Every figure carries the comparison's source (:func:`~polytraders.console.sources.
comparison_source`); comparisons are never pooled here.
"""

from __future__ import annotations

from pydantic import BaseModel

from polytraders.console.queries import MAX_PAGE, NotFoundError
from polytraders.console.sources import Source, comparison_source
from polytraders.model.agreement import LABELS, percent_text
from polytraders.store import EventStore
from polytraders.store.shadow_comparisons import (
    ShadowComparisonRow,
    comparisons,
    divergence_verdicts,
)


class ComparisonRow(BaseModel):
    """One bot's result in one comparison: the confusion ``matrix`` (baseline rows ×
    candidate columns over ``labels``), agreement on the verdict (``agree_verdict`` of
    ``compared``, ``agreement_pct`` text), ``kappa`` (decimal text, ``""`` when nothing was
    compared), ``agree_strict`` (verdict and codes), divergences, unsafe ones and those with
    a current verdict; window in event time (ns), recorded by ``actor`` at ``recorded_ns``."""

    comparison_id: str
    bot_id: str
    source: Source
    data_source: str
    window_start_ns: int
    window_end_ns: int
    baseline_config_version: str
    candidate_config_version: str
    labels: list[str]
    matrix: list[list[int]]
    compared: int
    agree_verdict: int
    agreement_pct: str
    kappa: str
    agree_strict: int
    divergences: int
    unsafe_divergences: int
    reviewed: int
    actor: str
    recorded_ns: int


class VerdictView(BaseModel):
    """A reviewer's current verdict on a divergence (``correct`` / ``incorrect``)."""

    reviewer: str
    verdict: str
    note: str
    ts_ns: int


class EnvelopeSide(BaseModel):
    """One side of a divergence: its run and envelope ids, verdict, codes and the envelope's
    exact JSON line."""

    run_id: str
    envelope_id: str
    verdict: str
    reason_codes: list[str]
    envelope: str


class DivergenceView(BaseModel):
    """A divergence (``kind`` verdict / codes / reshape; ``unsafe``: the candidate more
    permissive) of ``bot_id`` on intent ``correlation_id`` at event time ``ts_event_ns``,
    with both envelopes and the current verdicts (one per reviewer)."""

    comparison_id: str
    bot_id: str
    correlation_id: str
    ts_event_ns: int
    kind: str
    unsafe: bool
    baseline: EnvelopeSide
    candidate: EnvelopeSide
    verdicts: list[VerdictView]


class ShadowView(BaseModel):
    """Every recorded row (newest first, of ``bot`` when given) and the divergences of
    ``comparison_id`` (default the newest listed), ``offset`` on, at most ``limit``, of
    ``total``."""

    bot: str | None
    rows: list[ComparisonRow]
    comparison_id: str | None
    source: Source | None
    offset: int
    limit: int
    total: int
    divergences: list[DivergenceView]


def _row(r: ShadowComparisonRow, reviewed: int) -> ComparisonRow:
    return ComparisonRow(
        comparison_id=r.comparison_id,
        bot_id=r.bot_id,
        source=comparison_source(r.data_source),
        data_source=r.data_source,
        window_start_ns=r.window_start_ns,
        window_end_ns=r.window_end_ns,
        baseline_config_version=r.baseline_config_version,
        candidate_config_version=r.candidate_config_version,
        labels=list(LABELS),
        matrix=[list(line) for line in r.confusion.matrix],
        compared=r.compared,
        agree_verdict=r.agree_verdict,
        agreement_pct=percent_text(r.confusion.agreement()),
        kappa=r.kappa,
        agree_strict=r.agree_strict,
        divergences=len(r.divergences),
        unsafe_divergences=r.unsafe_divergences,
        reviewed=reviewed,
        actor=r.actor,
        recorded_ns=r.ts_ns,
    )


def shadow_view(
    store: EventStore,
    *,
    bot: str | None = None,
    comparison_id: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> ShadowView:
    """The page's content (class docstring).

    Raises:
        ValueError: ``offset`` < 0 or ``limit`` outside 1..:data:`MAX_PAGE`.
        NotFoundError: ``comparison_id`` has no recorded row (of ``bot``).
        StoreError: a read failed.
    """
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"offset must be ≥ 0 and limit in 1..{MAX_PAGE}")
    rows = list(reversed(comparisons(store, bot_id=bot)))
    verdicts = divergence_verdicts(store, [r.comparison_id for r in rows])
    listed = [
        _row(r, sum(1 for d in r.divergences if verdicts.get((r.comparison_id, *d.key))))
        for r in rows
    ]
    chosen = comparison_id or (rows[0].comparison_id if rows else None)
    shown = [r for r in rows if r.comparison_id == chosen]
    if comparison_id and not shown:
        raise NotFoundError(
            f"no shadow comparison {comparison_id!r} recorded" + (f" for {bot}" if bot else "")
        )
    everything = [(r, d) for r in reversed(shown) for d in r.divergences]
    divergences = []
    for r, d in everything[offset : offset + limit]:
        current = verdicts.get((r.comparison_id, *d.key), {})
        divergences.append(
            DivergenceView(
                comparison_id=r.comparison_id,
                bot_id=d.bot_id,
                correlation_id=d.correlation_id,
                ts_event_ns=d.ts_event_ns,
                kind=d.kind,
                unsafe=d.unsafe,
                baseline=EnvelopeSide(
                    run_id=d.baseline_run_id,
                    envelope_id=d.baseline_envelope_id,
                    verdict=d.baseline_verdict,
                    reason_codes=list(d.baseline_codes),
                    envelope=d.baseline_line,
                ),
                candidate=EnvelopeSide(
                    run_id=d.run_id,
                    envelope_id=d.envelope_id,
                    verdict=d.candidate_verdict,
                    reason_codes=list(d.candidate_codes),
                    envelope=d.candidate_line,
                ),
                verdicts=[
                    VerdictView(reviewer=who, verdict=v.verdict.value, note=v.note, ts_ns=v.ts_ns)
                    for who, v in sorted(current.items())
                ],
            )
        )
    return ShadowView(
        bot=bot,
        rows=listed,
        comparison_id=chosen,
        source=comparison_source(shown[0].data_source) if shown else None,
        offset=offset,
        limit=limit,
        total=len(everything),
        divergences=divergences,
    )
