"""Shadow comparisons in the event store, on SQLite and PostgreSQL: a real comparison (the
stale-book guard loosened on three markets of the shipped sample) recorded per bot and read
back by bot and window, idempotently, with an audit entry; each divergence reviewable through
the decision-review verdicts, without touching the false-positive gate's samples."""

from __future__ import annotations

import msgspec
import pytest
import sqlalchemy as sa

from polytraders.backtest.shadow_compare import record, store_rows
from polytraders.contracts.reasons import load_registry
from polytraders.store import EventStore, schema
from polytraders.store.errors import EvidenceInputError
from polytraders.store.reviews import ReviewVerdict, sample_ids
from polytraders.store.shadow_comparisons import (
    ACTION_COMPARED,
    ACTION_REVIEWED,
    comparisons,
    divergence_verdicts,
    record_comparison,
    record_divergence_verdict,
    unreviewed,
)
from tests.backtest.shadow_data import STALE, loosened, subset

RECORDED_NS = 1_800_000_000_000_000_000


def _comparison():  # type: ignore[no-untyped-def]
    return loosened(str(subset()))


def test_a_comparison_is_recorded_per_bot_and_read_back(store: EventStore) -> None:
    comparison = _comparison()
    assert record(comparison, store, actor="ana", ts_ns=RECORDED_NS) is True
    rows = comparisons(store, comparison_id=comparison.comparison_id)
    assert [r.bot_id for r in rows] == [b.bot_id for b in comparison.bots]
    for row, bot in zip(rows, comparison.bots, strict=True):
        assert row.confusion == bot.confusion
        assert (row.compared, row.agree_verdict, row.agree_strict) == (
            bot.compared,
            bot.agree_verdict,
            bot.agree_codes,
        )
        assert (row.both_reshape, row.agree_reshape) == (bot.both_reshape, bot.agree_reshape)
        assert row.one_sided == bot.one_sided
        assert row.unsafe_divergences == bot.unsafe
        assert row.kappa == bot.kappa_text
        assert (row.window_start_ns, row.window_end_ns) == (
            comparison.window_start_ns,
            comparison.window_end_ns,
        )
        assert row.baseline_config_version == bot.baseline_config_version
        assert (row.actor, row.ts_ns) == ("ana", RECORDED_NS)
    stale = next(r for r in rows if r.bot_id == STALE)
    expected = comparison.bot(STALE).divergences
    assert len(stale.divergences) == len(expected) > 0
    for stored, divergence in zip(stale.divergences, expected, strict=True):
        assert stored.baseline_line == divergence.baseline.line
        assert stored.candidate_line == divergence.candidate.line
        assert stored.envelope_id == divergence.candidate.envelope_id
        assert stored.unsafe is divergence.unsafe is True
    # the table's own columns hold the counts (what SQL readers see)
    c = schema.shadow_comparisons.c
    (raw,) = store.select(
        sa.select(c.compared, c.agree_verdict, c.unsafe_divergences, c.kappa).where(
            c.comparison_id == comparison.comparison_id, c.bot_id == STALE
        )
    )
    assert tuple(raw) == (
        stale.compared,
        stale.agree_verdict,
        stale.unsafe_divergences,
        stale.kappa,
    )


def test_recording_again_appends_nothing_and_every_write_is_audited(store: EventStore) -> None:
    comparison = _comparison()
    assert record(comparison, store, actor="ana", ts_ns=RECORDED_NS)
    assert record(comparison, store, actor="bob", ts_ns=RECORDED_NS + 1) is False
    assert len(comparisons(store, comparison_id=comparison.comparison_id)) == len(comparison.bots)
    divergence = comparison.bot(STALE).divergences[0]
    record_divergence_verdict(
        store,
        comparison.comparison_id,
        divergence.candidate.envelope_id,
        verdict="correct",
        reviewer="cyd",
        ts_ns=RECORDED_NS + 2,
    )
    actions = [(a.action, a.actor) for a in store.audit_log()]
    assert actions == [(ACTION_COMPARED, "ana"), (ACTION_REVIEWED, "cyd")]
    registry = load_registry()
    assert {ACTION_COMPARED, ACTION_REVIEWED} <= set(registry)


def test_rows_are_read_back_by_bot_and_window(store: EventStore) -> None:
    comparison = _comparison()
    record(comparison, store, actor="ana", ts_ns=RECORDED_NS)
    start, end = comparison.window_start_ns, comparison.window_end_ns
    assert [r.bot_id for r in comparisons(store, bot_id=STALE)] == [STALE]
    assert comparisons(store, bot_id="risk.nosuchguard") == []
    assert len(comparisons(store, bot_id=STALE, window_since_ns=end, window_until_ns=end)) == 1
    assert comparisons(store, bot_id=STALE, window_since_ns=end + 1) == []
    assert comparisons(store, bot_id=STALE, window_until_ns=start - 1) == []


def test_a_divergence_is_reviewed_and_the_latest_verdict_of_a_reviewer_wins(
    store: EventStore,
) -> None:
    comparison = _comparison()
    record(comparison, store, actor="ana", ts_ns=RECORDED_NS)
    rows = comparisons(store, bot_id=STALE)
    divergences = comparison.bot(STALE).divergences
    assert len(unreviewed(store, rows)) == len(divergences)
    first, second = divergences[0], divergences[1]
    record_divergence_verdict(
        store,
        comparison.comparison_id,
        first.candidate.envelope_id,
        verdict="incorrect",
        reviewer="cyd",
        note="book too old for this market",
        ts_ns=RECORDED_NS + 1,
    )
    record_divergence_verdict(  # the same reviewer changes their mind
        store,
        comparison.comparison_id,
        first.candidate.envelope_id,
        verdict="correct",
        reviewer="cyd",
        ts_ns=RECORDED_NS + 2,
    )
    saved = record_divergence_verdict(  # by the baseline's envelope id: the same divergence
        store,
        comparison.comparison_id,
        second.baseline.envelope_id,
        verdict="correct",
        reviewer="dee",
        ts_ns=RECORDED_NS + 3,
    )
    assert saved.envelope_id == second.candidate.envelope_id
    verdicts = divergence_verdicts(store, [comparison.comparison_id])
    key = (comparison.comparison_id, first.candidate.run_id, 1, first.candidate.envelope_id)
    assert verdicts[key]["cyd"].verdict is ReviewVerdict.CORRECT
    assert len(unreviewed(store, rows)) == len(divergences) - 2
    # divergence reviews are not review samples: the false-positive gate's input is unchanged
    assert sample_ids(store, STALE) == []


@pytest.mark.parametrize(
    ("comparison_id", "envelope", "verdict", "reviewer", "message"),
    [
        ("sc-0000000000000000", None, "correct", "cyd", "no shadow comparison"),
        (None, "run-x/e1", "correct", "cyd", "is not a divergence"),
        (None, None, "maybe", "cyd", "correct or incorrect"),
        (None, None, "correct", "  ", "non-empty reviewer"),
    ],
)
def test_bad_reviews_are_refused(
    store: EventStore,
    comparison_id: str | None,
    envelope: str | None,
    verdict: str,
    reviewer: str,
    message: str,
) -> None:
    comparison = _comparison()
    record(comparison, store, actor="ana", ts_ns=RECORDED_NS)
    divergence = comparison.bot(STALE).divergences[0]
    with pytest.raises(EvidenceInputError, match=message):
        record_divergence_verdict(
            store,
            comparison_id or comparison.comparison_id,
            envelope or divergence.candidate.envelope_id,
            verdict=verdict,
            reviewer=reviewer,
        )
    assert [a.action for a in store.audit_log()] == [ACTION_COMPARED]


def test_bad_comparisons_are_refused(store: EventStore) -> None:
    rows = store_rows(_comparison())
    with pytest.raises(EvidenceInputError, match="actor"):
        record_comparison(store, rows, actor=" ")
    with pytest.raises(EvidenceInputError, match="at least one"):
        record_comparison(store, [], actor="ana")
    with pytest.raises(EvidenceInputError, match="twice"):
        record_comparison(store, [rows[0], rows[0]], actor="ana")
    with pytest.raises(EvidenceInputError, match="several comparisons"):
        record_comparison(
            store,
            [rows[0], msgspec.structs.replace(rows[1], comparison_id="sc-other")],
            actor="ana",
        )
    with pytest.raises(EvidenceInputError, match="ends before it starts"):
        record_comparison(
            store,
            [msgspec.structs.replace(rows[0], window_end_ns=rows[0].window_start_ns - 1)],
            actor="ana",
        )
    assert comparisons(store) == []
    assert store.audit_log() == []
