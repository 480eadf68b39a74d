"""The shadow-agreement gate on a real store and a controlled clock: real comparisons (three
markets of the shipped sample: the default desk against itself, and against the stale-book
guard loosened to 30 s) recorded on chosen days of the 30 before the evaluation; every phase:
no data, too few days, unreviewed divergences, Successful, Failed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec
import pytest

from polytraders.backtest.shadow_compare import ShadowComparison, store_rows
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import Phase
from polytraders.readiness.measures import MEASURES
from polytraders.readiness.shadow_gate import shadow_agreement
from polytraders.readiness.store_evidence import DAY_NS
from polytraders.store import EventStore
from polytraders.store.shadow_comparisons import (
    comparisons,
    record_comparison,
    record_divergence_verdict,
)
from tests.backtest.shadow_data import STALE, aa, loosened, subset
from tests.conftest import REPO

NOW_NS = 1_801_483_200_000_000_000  # 2027-02-01T12:00:00Z
QUALITY = "risk.marketqualityguard"


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    with EventStore.open(store_url) as opened:
        yield opened


def _ctx(store: EventStore | None, now_ns: int = NOW_NS) -> ReadinessContext:
    return ReadinessContext(repo=REPO, store=store, now_ns=now_ns, commit="")


def _record_on_days(store: EventStore, comparison: ShadowComparison, days: Sequence[int]) -> None:
    """Record ``comparison`` once per day k (its window 10:00–11:00 UTC, k days before the
    clock's day), each as a comparison of its own."""
    for k in days:
        start = NOW_NS - k * DAY_NS - 2 * 3_600_000_000_000
        rows = [
            msgspec.structs.replace(
                row,
                comparison_id=f"{row.comparison_id[:10]}-d{k:02d}",
                window_start_ns=start,
                window_end_ns=start + 3_600_000_000_000,
            )
            for row in store_rows(comparison)
        ]
        assert record_comparison(store, rows, actor="ana", ts_ns=NOW_NS)


def _aa() -> ShadowComparison:
    return aa(str(subset()))


def _loose() -> ShadowComparison:
    return loosened(str(subset()))


def test_no_store_and_no_comparison_are_inconclusive(store: EventStore) -> None:
    assert shadow_agreement(STALE, _ctx(None)).phase is Phase.INCONCLUSIVE
    assert shadow_agreement(STALE, _ctx(None)).detail == "no event store"
    empty = shadow_agreement(STALE, _ctx(store))
    assert (empty.phase, empty.value) == (Phase.INCONCLUSIVE, "no decision compared")
    assert MEASURES["shadow_agreement"] is shadow_agreement


def test_full_agreement_on_too_few_days_is_inconclusive(store: EventStore) -> None:
    _record_on_days(store, _aa(), range(29))
    found = shadow_agreement(QUALITY, _ctx(store))
    assert found.phase is Phase.INCONCLUSIVE
    assert "100.00 %" in found.value and "29/30 days" in found.value
    assert "kappa 1.000000" in found.value and "95 % lower bound" in found.value
    assert "cover 29 of the last 30" in found.detail


def test_thirty_days_of_full_agreement_pass(store: EventStore) -> None:
    _record_on_days(store, _aa(), range(30))
    found = shadow_agreement(QUALITY, _ctx(store))
    assert found.phase is Phase.SUCCESSFUL, found.detail
    assert "30/30 days" in found.value
    (evidence,) = found.evidence
    assert evidence.result == "30 comparison(s) on 30 day(s)"
    # a day later the oldest day falls out of the window: one day is missing again
    later = shadow_agreement(QUALITY, _ctx(store, NOW_NS + DAY_NS))
    assert later.phase is Phase.INCONCLUSIVE
    assert "29/30 days" in later.value
    # 31 days after the last comparison nothing is in the window any more
    gone = shadow_agreement(QUALITY, _ctx(store, NOW_NS + 31 * DAY_NS))
    assert gone.value == "no decision compared"


def test_divergences_must_all_be_reviewed(store: EventStore) -> None:
    _record_on_days(store, _aa(), range(1, 30))
    _record_on_days(store, _loose(), [0])  # today: the loosened guard, 40 divergences
    divergences = _loose().bot(STALE).divergences
    pending = shadow_agreement(STALE, _ctx(store))
    assert pending.phase is Phase.INCONCLUSIVE
    assert f"{len(divergences)} divergence(s) have no review verdict" in pending.detail
    compared = 30 * _aa().bot(STALE).compared
    agreed = compared - len(divergences)
    assert f"{agreed:,}/{compared:,}" in pending.value
    (row,) = [r for r in comparisons(store, bot_id=STALE) if r.divergences]
    for n, divergence in enumerate(divergences):
        record_divergence_verdict(
            store,
            row.comparison_id,
            divergence.candidate.envelope_id,
            verdict="incorrect" if n == 0 else "correct",
            reviewer="cyd",
            ts_ns=NOW_NS,
        )
    # every divergence reviewed, one judged incorrect: a defect, the gate fails
    judged = shadow_agreement(STALE, _ctx(store))
    assert judged.phase is Phase.FAILED, judged.detail
    assert f"{len(divergences)} of {len(divergences)} divergence(s) reviewed" in judged.detail
    assert f"{len(divergences)} unsafe, 1 judged incorrect" in judged.detail
    # the reviewer revises it (the latest verdict wins): every divergence judged correct
    record_divergence_verdict(
        store,
        row.comparison_id,
        divergences[0].candidate.envelope_id,
        verdict="correct",
        reviewer="cyd",
        ts_ns=NOW_NS + 1,
    )
    reviewed = shadow_agreement(STALE, _ctx(store))
    assert reviewed.phase is Phase.SUCCESSFUL, reviewed.detail
    assert f"{len(divergences)} unsafe, 0 judged incorrect" in reviewed.detail


def test_agreement_below_99_percent_fails_even_on_one_day(store: EventStore) -> None:
    _record_on_days(store, _loose(), [3])
    stale = _loose().bot(STALE)
    found = shadow_agreement(STALE, _ctx(store))
    assert found.phase is Phase.FAILED
    assert f"{stale.agree_verdict:,}/{stale.compared:,}" in found.value
    assert f"kappa {stale.kappa_text}" in found.value
    assert "< 99 %" in found.detail
    # the guard after it agreed on every intent both chains gave it
    assert shadow_agreement(QUALITY, _ctx(store)).phase is Phase.INCONCLUSIVE


def test_the_gate_reads_only_its_bot(tmp_path: Path) -> None:
    with EventStore.open(tmp_path / "s.sqlite") as store:
        _record_on_days(store, _loose(), range(30))
        assert shadow_agreement(STALE, _ctx(store)).phase is Phase.FAILED
        assert shadow_agreement(QUALITY, _ctx(store)).phase is Phase.SUCCESSFUL
        assert shadow_agreement("risk.killswitch", _ctx(store)).phase is Phase.SUCCESSFUL
