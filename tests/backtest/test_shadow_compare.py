"""Shadow comparisons on the shipped sample (issue 15 item 1, "Done when"): an A/A comparison
gives 100 % agreement and κ = 1; a candidate with the stale-book guard's threshold changed
shows exactly the divergences that threshold explains, each with both envelopes, the more
permissive ones flagged unsafe; the candidate never changes the baseline desk."""

from __future__ import annotations

import json
from collections import Counter

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.backtest.shadow_compare import (
    COMPARISON_FILE,
    DIVERGENCES_FILE,
    ShadowComparison,
    compare_desks,
    write_outputs,
)
from polytraders.contracts.envelope import decode_envelope
from tests.backtest.shadow_data import (
    SAMPLE,
    STALE,
    aa_full,
    desk_with,
    loosened,
    subset,
    tightened,
)

TOO_OLD = "RISK_STALEBOOK_TOO_OLD"
AGE_WARN = "RISK_STALEBOOK_AGE_WARN"
RISK_CHAIN = (
    "risk.killswitch",
    "risk.compliancegate",
    "risk.markethaltguard",
    STALE,
    "risk.marketqualityguard",
    "risk.drawdownguard",
    "risk.exposureguard",
)


def test_aa_on_the_whole_sample_agrees_fully_with_kappa_one() -> None:
    comparison = aa_full()
    assert [b.bot_id for b in comparison.bots if b.bot_id != "desk"] == list(RISK_CHAIN)
    for bot in comparison.bots:
        assert bot.compared > 0, bot.bot_id
        assert bot.agree_verdict == bot.compared, bot.bot_id
        assert bot.agree_codes == bot.compared, bot.bot_id
        assert bot.kappa_text == "1.000000", bot.bot_id
        assert bot.confusion.agreement() == 1
        assert bot.divergences == ()
        assert bot.one_sided_items == ()
    # every intent of the sample went through both chains: the first guard saw them all
    first = comparison.bot("risk.killswitch")
    assert first.compared == first.confusion.count("APPROVE", "APPROVE") + sum(
        first.confusion.count(v, v) for v in ("REJECT", "RESHAPE", "HALT")
    )
    stale = comparison.bot(STALE).confusion
    assert stale.count("REJECT", "REJECT") > 0  # the guard binds on the sample
    assert comparison.notes == ()
    assert comparison.baseline_only_bots == comparison.candidate_only_bots == ()


def test_aa_baseline_with_a_shadow_is_byte_identical_to_the_desk_alone() -> None:
    comparison = aa_full()
    assert comparison.candidate is not None
    # the candidate run is the same desk without a shadow: same run id, same timeline
    assert comparison.candidate.run_id == comparison.baseline.run_id
    assert comparison.candidate.envelopes_sha256 == comparison.baseline.envelopes_sha256
    parity = comparison.parity
    assert parity is not None
    assert set(parity.max_abs_diff.values()) == {0}
    assert parity.baseline.orders == parity.candidate.orders > 0
    assert parity.baseline.pnl_micros == parity.candidate.pnl_micros
    assert all(
        p.orders[0] == p.orders[1] and p.pnl_micros[0] == p.pnl_micros[1] for p in parity.points
    )
    assert parity.points[-1].ts_ns == comparison.window_end_ns


def _stale_divergences_are_the_loosened_threshold(comparison: ShadowComparison) -> None:
    stale = comparison.bot(STALE)
    divergences = stale.divergences
    assert divergences, "the 30 s candidate must pass books the 15 s baseline refused"
    assert {(d.kind, d.unsafe, d.baseline.label, d.candidate.label) for d in divergences} == {
        ("verdict", True, "REJECT", "APPROVE")
    }
    assert {d.baseline.reason_codes for d in divergences} == {(TOO_OLD,)}
    assert {c for d in divergences for c in d.candidate.reason_codes} <= {AGE_WARN}
    # a looser threshold never refuses what the baseline passed, and what both refuse they
    # refuse for the same reason (no book at all, or older than 30 s)
    assert stale.confusion.count("APPROVE", "REJECT") == 0
    assert stale.agree_codes == stale.agree_verdict
    assert stale.unsafe == len(divergences) == stale.confusion.count("REJECT", "APPROVE")
    assert 0 < stale.confusion.kappa() < 1  # type: ignore[operator]
    lower = stale.confusion.lower_bound()
    agreement = stale.confusion.agreement()
    assert lower is not None and agreement is not None and lower < agreement < 1
    # no other bot diverges; the bots after the guard see those intents on the candidate's
    # side only (the baseline stopped them)
    for bot in comparison.bots:
        if bot.bot_id != STALE:
            assert bot.divergences == (), bot.bot_id
    after = RISK_CHAIN[RISK_CHAIN.index(STALE) + 1]
    assert comparison.bot(after).one_sided["candidate"]["not_reached"] == len(divergences)
    assert comparison.bot(after).one_sided["baseline"] == {
        "not_proposed": 0,
        "intent_differs": 0,
        "not_reached": 0,
    }
    # each divergence carries both envelopes, exactly as recorded
    for d in divergences:
        base, cand = decode_envelope(d.baseline.line), decode_envelope(d.candidate.line)
        assert base.envelope_id == d.baseline.envelope_id
        assert base.run_id == comparison.baseline.run_id
        assert cand.run_id == comparison.shadow.run_id
        assert base.correlation_id == cand.correlation_id == d.correlation_id
        assert (base.decision.value, cand.decision.value) == ("REJECT", "APPROVE")
        assert base.config_version == stale.baseline_config_version
        assert cand.config_version == stale.candidate_config_version
    assert stale.baseline_config_version != stale.candidate_config_version


def test_loosened_stale_book_guard_on_the_whole_sample() -> None:
    comparison = loosened(str(SAMPLE))
    _stale_divergences_are_the_loosened_threshold(comparison)
    assert comparison.parity is not None
    # the candidate desk on its own sends the orders the baseline's guard held back
    assert comparison.parity.candidate.orders != comparison.parity.baseline.orders


def test_tightened_stale_book_guard_diverges_safely() -> None:
    comparison = tightened(str(subset()))
    stale = comparison.bot(STALE)
    assert stale.divergences
    kinds = Counter((d.baseline.label, d.candidate.label, d.unsafe) for d in stale.divergences)
    assert set(kinds) == {("APPROVE", "REJECT", False)}
    assert {d.candidate.reason_codes for d in stale.divergences} == {(TOO_OLD,)}
    assert stale.unsafe == 0
    after = RISK_CHAIN[RISK_CHAIN.index(STALE) + 1]
    assert comparison.bot(after).one_sided["baseline"]["not_reached"] == len(stale.divergences)
    assert comparison.parity is None


def test_a_halting_candidate_never_halts_the_baseline_desk() -> None:
    data = subset()
    candidate = desk_with("risk.drawdownguard", halt_drawdown_bps=10)
    comparison = compare_desks(data=data, baseline=DeskFile(), candidate=candidate, parity=False)
    drawdown = comparison.bot("risk.drawdownguard")
    assert drawdown.confusion.count("APPROVE", "HALT") > 0
    alone = run_desk(data=data, desk_file=DeskFile(), fill_bounds=False)
    assert comparison.baseline.status == alone.status.value == "COMPLETED"
    assert comparison.baseline.envelopes_sha256 == alone.result.envelopes_sha256
    assert comparison.shadow.envelopes > 0


def test_outputs_hold_every_figure_and_both_envelopes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    comparison = loosened(str(subset()))
    _stale_divergences_are_the_loosened_threshold(comparison)
    comparison_path, divergences_path = write_outputs(comparison, tmp_path / "out")
    assert (comparison_path.name, divergences_path.name) == (COMPARISON_FILE, DIVERGENCES_FILE)
    document = json.loads(comparison_path.read_text())
    assert document["comparison_id"] == comparison.comparison_id
    stale = next(b for b in document["bots"] if b["bot_id"] == STALE)
    assert stale["unsafe_divergences"] == comparison.bot(STALE).unsafe
    assert stale["kappa"] == comparison.bot(STALE).kappa_text
    assert stale["confusion"]["REJECT"]["APPROVE"] == stale["divergences"]
    assert document["parity"]["columns"][0] == "ts_ns"
    lines = [json.loads(line) for line in divergences_path.read_text().splitlines()]
    kinds = Counter(line["type"] for line in lines)
    assert kinds["divergence"] == sum(len(b.divergences) for b in comparison.bots)
    assert kinds["one_sided"] == sum(len(b.one_sided_items) for b in comparison.bots)
    by_id = {d.candidate.envelope_id: d for d in comparison.bot(STALE).divergences}
    for line in lines:
        if line["type"] != "divergence":
            continue
        expected = by_id[line["candidate"]["envelope_id"]]
        assert line["unsafe"] is True
        assert line["baseline"]["envelope"] == expected.baseline.line
        assert line["candidate"]["envelope"] == expected.candidate.line


def test_one_seed_for_both_desks() -> None:
    data = subset()
    candidate = desk_with(STALE).model_copy(update={"seed": 11})
    comparison = compare_desks(data=data, baseline=DeskFile(), candidate=candidate, parity=False)
    assert comparison.seed == DeskFile().seed
    assert comparison.notes == (
        f"the candidate desk file's seed 11 was replaced by {comparison.seed}",
    )
    assert all(b.divergences == () for b in comparison.bots)
    forced = compare_desks(
        data=data, baseline=DeskFile(), candidate=candidate, seed=11, parity=False
    )
    assert forced.seed == 11
    assert len(forced.notes) == 1 and "baseline" in forced.notes[0]
    assert forced.comparison_id != comparison.comparison_id


def test_desks_with_other_strategies_are_compared_on_the_baseline_intents() -> None:
    data = subset()
    base = DeskFile()
    document = base.model_dump(mode="json")
    document["strategies"][0]["config"] = {"order_size_micros": 20_000_000}
    candidate = DeskFile.from_mapping(document)  # the same guards, another quote size
    comparison = compare_desks(data=data, baseline=base, candidate=candidate)
    assert any("strategies differ" in note for note in comparison.notes)
    # the candidate's chain judged the baseline's intents: the same guards agree fully
    for bot in comparison.bots:
        assert bot.agree_codes == bot.compared > 0, bot.bot_id
        assert bot.one_sided_items == ()
    # its own strategy shows in the execution parity only
    parity = comparison.parity
    assert parity is not None
    assert parity.candidate.volume_micros != parity.baseline.volume_micros
