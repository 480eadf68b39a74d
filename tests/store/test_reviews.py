"""Review samples and verdicts on SQLite and PostgreSQL, over decisions the real desk recorded
in live-clock sessions (:mod:`tests.store.desk_sessions`): the draw is seeded and reproducible,
picks keep their exact JSON lines, verdicts are append-only with the latest per reviewer
winning, and the false-positive rate comes with its exact 95 % upper bound."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from polytraders.backtest.engine import run_desk
from polytraders.store import EventStore, schema
from polytraders.store.errors import EvidenceInputError
from polytraders.store.reviews import (
    draw_sample,
    load_sample,
    record_verdict,
    sample_ids,
    summarize,
)
from tests.store import desk_sessions as ds

GUARD = "risk.marketqualityguard"  # rejects every intent on the thin_book scenario


def _sessions(store: EventStore, days: range = range(2)) -> None:
    for day in days:
        ds.record_session(store, ds.desk(), ds.synthetic(day, scenario="thin_book"))


def _reviewable(store: EventStore, bot_id: str) -> list[tuple[str, int, int]]:
    """The bot's REJECT/RESHAPE envelopes of live-clock runs, read independently."""
    out = []
    for record in store.runs():
        if not record.data_source.startswith("ws://"):
            continue
        for envelope in store.envelopes(record.ref):
            if envelope.bot_id == bot_id and envelope.decision in ("REJECT", "RESHAPE"):
                out.append((record.run_id, record.attempt, envelope.sequence))
    return sorted(out)


def test_a_seeded_sample_is_the_documented_draw_with_exact_lines(
    store: EventStore, store_url: str
) -> None:
    _sessions(store)
    candidates = _reviewable(store, GUARD)
    assert len(candidates) > 300  # 182 rejects per 10-minute thin-book session
    sample = draw_sample(store, GUARD, n=100, seed=42, operator="ana")
    expected = random.Random(42).sample(candidates, 100)
    picked = [(p.run_id, p.attempt, int(p.envelope_id.rsplit("/e", 1)[1])) for p in sample.picks]
    assert picked == expected
    assert sample.created and sample.sample_id.startswith("rs-")
    lines = {
        (e.run_id, e.sequence): line
        for record in store.runs()
        for e, line in zip(
            store.envelopes(record.ref),
            _lines(store, record.run_id, record.attempt),
            strict=True,
        )
    }
    for pick in sample.picks:
        assert pick.decision == "REJECT"
        assert pick.line == lines[(pick.run_id, int(pick.envelope_id.rsplit("/e", 1)[1]))]
        assert pick.reason_codes and all(c.startswith("RISK_") for c in pick.reason_codes)
    with EventStore.open(store_url, create=False) as reader:
        assert load_sample(reader, sample.sample_id) == sample
        assert sample_ids(reader, GUARD) == [sample.sample_id]
        entry = reader.audit_log()[-1]
        assert (entry.actor, entry.action) == ("ana", "GOV_REVIEW_SAMPLED")
        assert '"candidates":' in entry.detail and '"drawn":100' in entry.detail


def _lines(store: EventStore, run_id: str, attempt: int) -> list[str]:
    e = schema.envelopes.c
    rows = store.select(
        sa.select(e.line).where(e.run_id == run_id, e.attempt == attempt).order_by(e.sequence)
    )
    return [r.line for r in rows]


def test_the_same_seed_over_the_same_content_draws_the_same_sample(
    store: EventStore, tmp_path: object
) -> None:
    _sessions(store)
    first = draw_sample(store, GUARD, n=50, seed=7, operator="ana")
    again = draw_sample(store, GUARD, n=50, seed=7, operator="bob")
    assert (again.sample_id, again.picks, again.created) == (first.sample_id, first.picks, False)
    assert len(store.select(sa.select(schema.review_samples))) == 50  # nothing appended again
    other = draw_sample(store, GUARD, n=50, seed=8, operator="ana")
    assert other.sample_id != first.sample_id
    assert [p.key for p in other.picks] != [p.key for p in first.picks]
    # another store holding the same recorded sessions draws the same sample
    with EventStore.open(f"{tmp_path}/twin.sqlite") as twin:
        _sessions(twin)
        copy = draw_sample(twin, GUARD, n=50, seed=7, operator="cyd")
    assert [p.key for p in copy.picks] == [p.key for p in first.picks]
    assert [p.line for p in copy.picks] == [p.line for p in first.picks]
    assert copy.sample_id == first.sample_id


def test_backtests_are_left_out_unless_asked_for(store: EventStore, store_url: str) -> None:
    store.close()
    outcome = run_desk(
        data=ds.synthetic(5, scenario="thin_book"),
        desk_file=ds.desk(),
        store_url=store_url,
        fill_bounds=False,
    )
    with EventStore.open(store_url, create=False) as reader:
        with pytest.raises(EvidenceInputError, match="no reviewable decision of"):
            draw_sample(reader, GUARD, n=10, seed=1, operator="ana")
        everything = draw_sample(reader, GUARD, n=10, seed=1, operator="ana", live_only=False)
    assert {p.run_id for p in everything.picks} == {outcome.result.run_id}


def test_a_sample_draws_what_exists_when_fewer_than_asked(store: EventStore) -> None:
    ds.record_session(store, ds.desk(), ds.synthetic(0))  # normal books: 2 stale rejects
    stale = draw_sample(store, "risk.stalebookguard", n=100, seed=3, operator="ana")
    assert [p.decision for p in stale.picks] == ["REJECT", "REJECT"]
    router = draw_sample(store, "exec.smartrouter", n=5, seed=3, operator="ana")
    assert {p.decision for p in router.picks} == {"REFUSE"}
    strategy = draw_sample(store, "strat.maker_tight", n=5, seed=3, operator="ana")
    assert {p.decision for p in strategy.picks} == {"PROPOSE"}


@pytest.mark.parametrize(
    ("n", "seed", "operator", "message"),
    [
        (0, 1, "ana", "a sample draws 1..10000 decisions, got 0"),
        (10_001, 1, "ana", "a sample draws 1..10000"),
        (10, -1, "ana", r"the seed must lie in \[0, 2\*\*63\)"),
        (10, 1, " ", "a sample needs a non-empty operator"),
    ],
)
def test_bad_draws_are_refused(
    store: EventStore, n: int, seed: int, operator: str, message: str
) -> None:
    with pytest.raises(EvidenceInputError, match=message):
        draw_sample(store, GUARD, n=n, seed=seed, operator=operator)


def test_verdicts_supersede_per_reviewer_and_any_incorrect_counts(store: EventStore) -> None:
    _sessions(store, range(1))
    sample = draw_sample(store, GUARD, n=20, seed=11, operator="ana")
    a, b, c = (p.envelope_id for p in sample.picks[:3])
    assert summarize(store, sample.sample_id).fp_rate is None
    record_verdict(store, sample.sample_id, a, verdict="incorrect", reviewer="ana", note="book ok")
    record_verdict(store, sample.sample_id, a, verdict="correct", reviewer="ana", note="re-read")
    record_verdict(store, sample.sample_id, b, verdict="correct", reviewer="ana")
    record_verdict(store, sample.sample_id, b, verdict="incorrect", reviewer="bob")
    record_verdict(store, sample.sample_id, c, verdict="correct", reviewer="bob")
    summary = summarize(store, sample.sample_id)
    assert (summary.drawn, summary.reviewed, summary.incorrect) == (20, 3, 1)
    assert summary.fp_rate == pytest.approx(1 / 3)
    key_a = sample.picks[0].key
    assert {who: v.verdict.value for who, v in summary.verdicts[key_a].items()} == {
        "ana": "correct"
    }
    assert len(store.select(sa.select(schema.review_verdicts))) == 5  # every row stays
    actions = [e.action for e in store.audit_log()]
    assert actions.count("GOV_REVIEW_RECORDED") == 5


def test_false_positive_bounds_are_the_exact_clopper_pearson_figures(store: EventStore) -> None:
    _sessions(store)
    sample = draw_sample(store, GUARD, n=100, seed=2026, operator="ana")
    for index, pick in enumerate(sample.picks):
        verdict = "incorrect" if index < 5 else "correct"
        record_verdict(store, sample.sample_id, pick.envelope_id, verdict=verdict, reviewer="ana")
    five = summarize(store, sample.sample_id)
    assert (five.reviewed, five.incorrect, five.fp_rate) == (100, 5, 0.05)
    assert five.fp_upper_95 == pytest.approx(0.10225, abs=5e-5)  # 5/100 → 10.2 %
    for pick in sample.picks[1:5]:  # the reviewer changes four verdicts: 1 of 100 left
        record_verdict(store, sample.sample_id, pick.envelope_id, verdict="correct", reviewer="ana")
    one = summarize(store, sample.sample_id)
    assert (one.incorrect, one.fp_rate) == (1, 0.01)
    assert one.fp_upper_95 == pytest.approx(0.04656, abs=5e-5)  # 1/100 → 4.7 %


def test_verdicts_outside_the_sample_are_refused(store: EventStore) -> None:
    _sessions(store, range(1))
    sample = draw_sample(store, GUARD, n=5, seed=1, operator="ana")
    inside = sample.picks[0].envelope_id
    with pytest.raises(EvidenceInputError, match="no review sample 'rs-nope'"):
        record_verdict(store, "rs-nope", inside, verdict="correct", reviewer="ana")
    with pytest.raises(EvidenceInputError, match="is not in sample"):
        record_verdict(store, sample.sample_id, "run-x/e0", verdict="correct", reviewer="ana")
    with pytest.raises(EvidenceInputError, match="a verdict is correct or incorrect"):
        record_verdict(store, sample.sample_id, inside, verdict="maybe", reviewer="ana")
    with pytest.raises(EvidenceInputError, match="non-empty reviewer"):
        record_verdict(store, sample.sample_id, inside, verdict="correct", reviewer="")
    with pytest.raises(EvidenceInputError, match="not in sample"):
        record_verdict(
            store, sample.sample_id, inside, verdict="correct", reviewer="ana", attempt=9
        )
    assert store.select(sa.select(schema.review_verdicts)) == []


def test_an_envelope_id_of_two_attempts_needs_its_attempt(store: EventStore) -> None:
    data = ds.synthetic(0, scenario="thin_book")
    ds.record_session(store, ds.desk(), data)
    ds.record_session(store, ds.desk(), data)  # the same session again: attempt 2
    sample = draw_sample(store, GUARD, n=10_000, seed=1, operator="ana")
    attempts = {p.attempt for p in sample.picks}
    assert attempts == {1, 2}
    shared = sample.picks[0].envelope_id
    with pytest.raises(EvidenceInputError, match="from attempts 1, 2: say which attempt"):
        record_verdict(store, sample.sample_id, shared, verdict="correct", reviewer="ana")
    record = record_verdict(
        store, sample.sample_id, shared, verdict="correct", reviewer="ana", attempt=2
    )
    assert record.attempt == 2
    assert summarize(store, sample.sample_id).reviewed == 1
