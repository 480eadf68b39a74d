"""The wallet_allowance gate from recorded allowance checks (SQLite and PostgreSQL): Successful
when the latest check of every account a live-venue run of the bot started with is verified,
Failed when the latest says not verified (a later refused start of that account included),
Inconclusive when there is none; the evidence is the audit entries' query and digest."""

from __future__ import annotations

from pathlib import Path

from polytraders.model.allowance import MAX_UINT256, AllowanceCheck
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import EvidenceKind, Phase
from polytraders.readiness.measures import MEASURES, NO_STORE, wallet_allowance
from polytraders.store import EventStore, RunRef
from polytraders.store.allowance_checks import record_allowance_check
from tests.store.conftest import pg_schema_url, store, store_url
from tests.store.desk_sessions import WS_URL
from tests.store.factories import envelope

__all__ = ["pg_schema_url", "store", "store_url"]

BOT = "risk.killswitch"
CTF = "0xE111180000d2663C0091e4f400237545B87B996B"
ACCOUNT = "0x00000000000000000000000000000000000000a1"
OTHER_ACCOUNT = "0x00000000000000000000000000000000000000b2"
NOW_NS = 1_000_000


def ctx(store: EventStore | None) -> ReadinessContext:
    return ReadinessContext(repo=Path("."), store=store, now_ns=NOW_NS, commit="")


def check(verified: bool, account: str = ACCOUNT) -> AllowanceCheck:
    return AllowanceCheck(
        account=account,
        signer=account,
        spenders=(CTF,),
        balance_micros=1_000_000_000,
        allowance_micros={CTF: MAX_UINT256 if verified else 5},
        verified=verified,
    )


def live_run(store: EventStore, run_id: str, *, bot: str = BOT, venue: bool = True) -> RunRef:
    """A live-clock run (a live node's config when ``venue``) in which ``bot`` decided once."""
    started = store.start_run(
        run_id=run_id,
        started_ns=1,
        seed=0,
        desk_config={"venue": {}, "worker": {}} if venue else {"desk": {}},
        desk_config_version="cfg",
        data_source=WS_URL,
        synthetic=False,
    )
    store.record(envelope(run_id, 0, bot_id=bot))
    store.flush()
    return started.ref


def test_the_gate_measures_the_recorded_checks() -> None:
    assert MEASURES["wallet_allowance"] is wallet_allowance
    assert wallet_allowance(BOT, ctx(None)) == NO_STORE


def test_no_check_of_a_live_venue_run_of_the_bot_is_inconclusive(store: EventStore) -> None:
    assert wallet_allowance(BOT, ctx(store)).phase is Phase.INCONCLUSIVE
    # checks that do not count: desk-wide only, another bot's run, a paper (non-venue) run
    record_allowance_check(store, check(True), ts_ns=10)
    other = live_run(store, "other-bot", bot="risk.stalebookguard")
    record_allowance_check(store, check(True), ts_ns=20, run=other)
    paper = live_run(store, "paper", venue=False)
    record_allowance_check(store, check(True), ts_ns=30, run=paper)
    measured = wallet_allowance(BOT, ctx(store))
    assert measured.phase is Phase.INCONCLUSIVE and measured.value == "no check"
    assert "no allowance check" in measured.detail


def test_a_verified_check_of_the_bots_live_run_is_successful(store: EventStore) -> None:
    run = live_run(store, "live")
    record_allowance_check(store, check(True), ts_ns=100, run=run)
    measured = wallet_allowance(BOT, ctx(store))
    assert measured.phase is Phase.SUCCESSFUL, measured
    assert measured.value == "1/1 account(s) verified"
    (evidence,) = measured.evidence
    assert evidence.kind is EvidenceKind.STORE and "GOV_WALLET_ALLOWANCE_CHECKED" in evidence.ref
    assert len(evidence.digest) == 64 and evidence.result == "1 account(s)"


def test_the_latest_check_of_the_account_decides(store: EventStore) -> None:
    run = live_run(store, "live")
    record_allowance_check(store, check(True), ts_ns=100, run=run)
    verified_digest = wallet_allowance(BOT, ctx(store)).evidence[0].digest
    # a later start of the same account was refused: no run, but the account now fails
    record_allowance_check(store, check(False), ts_ns=200)
    measured = wallet_allowance(BOT, ctx(store))
    assert measured.phase is Phase.FAILED
    assert measured.value == "0/1 account(s) verified"
    assert "GOV_WALLET_ALLOWANCE_INSUFFICIENT" in measured.detail and f"{CTF} 5" in measured.detail
    assert measured.evidence[0].digest != verified_digest
    # another account's refusal does not count; the account verified again passes
    record_allowance_check(store, check(False, OTHER_ACCOUNT), ts_ns=300)
    record_allowance_check(store, check(True), ts_ns=400)
    assert wallet_allowance(BOT, ctx(store)).phase is Phase.SUCCESSFUL
    # a check after the evaluation's clock is not seen yet
    record_allowance_check(store, check(False), ts_ns=NOW_NS + 1)
    assert wallet_allowance(BOT, ctx(store)).phase is Phase.SUCCESSFUL


def test_every_account_the_bot_traded_from_must_be_verified(store: EventStore) -> None:
    record_allowance_check(store, check(True), ts_ns=100, run=live_run(store, "a"))
    record_allowance_check(store, check(False, OTHER_ACCOUNT), ts_ns=200, run=live_run(store, "b"))
    measured = wallet_allowance(BOT, ctx(store))
    assert measured.phase is Phase.FAILED and measured.value == "1/2 account(s) verified"
    assert OTHER_ACCOUNT in measured.detail
