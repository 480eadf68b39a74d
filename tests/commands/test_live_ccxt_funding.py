"""Funding payments in a live crypto session (issue 21): the Binance USDⓈ-M simulator holds a
seeded 0.003 BTC short and its replay crosses 00:00 UTC, where the exchange credits the
short's funding (a ``FUNDING_FEE`` income row). The session's venue polls it, the desk books
it once in its own ledger (cash, funding line, a BOOK envelope ``SYS_FUNDING_SETTLED``, a
``funding.booked`` audit entry), and a restart on the same store books nothing again (its
cash comes from the exchange balance, which already holds it); a start on a store that never
saw it records it as ``funding.recovered`` without booking it.

``Idle`` below is a TEST FIXTURE, not a library bot: it never proposes. Every wait polls with
a deadline (:func:`tests.waiting.wait_until`); the replay moves only when the test steps it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import BotEntry, DeskFile
from polytraders.commands.live import LiveSession
from polytraders.commands.live_ccxt import build_ccxt_session
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import Decision
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.model.events import AnyEvent, FundingPayment
from polytraders.node.config import CcxtNodeConfig
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.store.event_store import EventStore
from polytraders.store.journal import FUNDING_BOOKED, FUNDING_RECOVERED, funding_payments
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.reconciliation import DriftLevel
from tests.commands.test_live_ccxt import FAST
from tests.fixture_strategy import FixtureStrategy
from tests.waiting import wait_until

TOKEN = "binance-usdm:BTCUSDT"
RUN = "run-ccxt-funding"
FUNDING_T = 1_723_161_600_000_000_000  # 2024-08-09 00:00:00 UTC, crossed at the sample's end
SHORT = -3_000  # 0.003 BTC


class IdleConfig(BotConfig):
    """No settings."""


class Idle(FixtureStrategy[IdleConfig]):
    """Test fixture (module docstring)."""

    bot_id = "strat.test_idle"
    Config = IdleConfig
    SEARCH_SPACE = SearchSpace(IdleConfig)

    def decide(self, event: AnyEvent, view: DeskView) -> Proposal:
        return Proposal()


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(), throwaway_key()) as server:
        server.session(
            wallet_micros=10_000_000_000,
            position_size=SHORT,
            position_cost_micros=SHORT * 61_000,  # entered at 61,000 USDT
        )
        while server.step(500)["cursor"] < 6_500:  # in short requests: a busy machine is slow
            pass
        assert server.exchange.last_event_ms * 1_000_000 < FUNDING_T  # a few seconds before
        yield server


def _start(sim: SimExchangeServer, store: str) -> LiveSession:
    desk = DeskFile(
        strategies=[BotEntry(source=f"{Path(__file__).resolve()}:Idle")],
        risk=[BotEntry(id="risk.killswitch")],
    )
    node = CcxtNodeConfig.model_validate(
        {
            "desk": desk,
            "venue": {"api_url": sim.url, "poll_interval_ms": 0},
            "protective_stop": {"stop_distance_bps": 500},
            "funding_poll_interval_ms": 200,
        }
    )
    session, startup = build_ccxt_session(
        run_id=RUN,
        credentials=ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret),
        node=node,
        ws_url=sim.ws_url,
        keepalive=FAST,
        store_url=store,
    )
    assert startup.comparison.level is DriftLevel.OK
    return session


def _booked(session: LiveSession) -> list[FundingPayment]:
    return session.desk.state.ledger.funding_payments


def _poll_funding_now(session: LiveSession) -> None:
    """Have the worker advance the venue with its funding poll due (200 ms ahead) and the desk
    take what it reported: a no-op call queued after it answers once the advance's events
    were handed over (the worker publishes after each call)."""
    answered: list[object] = []
    session.worker.call(lambda venue: venue.advance(time.time_ns() + 200_000_000), bool)
    session.worker.call(lambda venue: None, answered.append)

    def delivered() -> bool:
        session.step()
        return bool(answered)

    wait_until(delivered, 10, "the worker's funding poll")
    session.step()


def _audit(store: str) -> list[tuple[int | None, str, list[FundingPayment]]]:
    """(attempt, action, the payments read back) of every funding audit entry of the run."""
    with EventStore.open(store) as events:
        return [
            (r.ref.attempt, e.action, funding_payments(events, r.ref))
            for r in events.runs()
            if r.run_id == RUN
            for e in events.audit_log(r.ref)
            if e.action in (FUNDING_BOOKED, FUNDING_RECOVERED)
        ]


def test_a_funding_payment_is_booked_once_and_a_restart_does_not_book_it_again(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    store = str(tmp_path / "runs.sqlite")
    ex = sim.exchange
    first = _start(sim, store)
    try:
        ledger = first.desk.state.ledger
        start_cash = ledger.cash
        assert ledger.size(TOKEN) == SHORT and not _booked(first)

        def funded() -> bool:
            sim.step(1)  # the replay stops at the recording's end
            first.step()
            return bool(_booked(first))

        wait_until(funded, 30, "the desk to book the 00:00 UTC funding")
        (income,) = ex.incomes
        (payment,) = _booked(first)
        assert payment.funding_id == f"{TOKEN}/f{income.tran_id}"
        assert payment.amount == income.amount == ex.account.funding_micros > 0  # short receives
        assert payment.ts_event_ns == FUNDING_T
        assert ledger.funding == payment.amount and ledger.cash == start_cash + payment.amount
        for _ in range(3):  # later polls from the latest funding time: nothing new
            _poll_funding_now(first)
        assert _booked(first) == [payment]
    finally:
        first.close()

    second = _start(sim, store)  # a restart on the same store
    try:
        ledger = second.desk.state.ledger
        # its cash is the exchange's available balance, whose wallet holds the funding
        assert ex.wallet == 10_000_000_000 + payment.amount
        _poll_funding_now(second)  # its ids came from the store: known, not reported
        assert not _booked(second) and ledger.funding == 0
    finally:
        second.close()
    assert _audit(store) == [(1, FUNDING_BOOKED, [payment])]  # none recovered at the restart
    with EventStore.open(store) as events:
        attempts = [r.ref for r in events.runs() if r.run_id == RUN]
        booked = [
            (ref.attempt, e.reason_codes, e.correlation_id, e.output)
            for ref in attempts
            for e in events.envelopes(ref)
            if e.decision is Decision.BOOK
        ]
    assert len(attempts) == 2
    assert booked == [(1, ("SYS_FUNDING_SETTLED",), "", payment)]
    with EventStore.open(store) as events:  # sound evidence: no correlation id left unresolved
        assert all(events.check_integrity(ref) == [] for ref in attempts)

    elsewhere = str(tmp_path / "other.sqlite")  # a store that never saw it
    third = _start(sim, elsewhere)
    try:
        assert not _booked(third)
    finally:
        third.close()
    ((attempt, action, (recovered,)),) = _audit(elsewhere)
    assert (attempt, action, recovered.funding_id) == (1, FUNDING_RECOVERED, payment.funding_id)
    assert recovered.amount == payment.amount
