"""The desk trades a crypto instrument in a backtest: the Polymarket pipeline (strategy, risk
chain, execution bot, order manager, paper venue, ledger, outputs) with a Binance USDⓈ-M
recording, where only the feed and the venue rules differ (issue 21, "one composition").

``ScriptedPerp`` below is a TEST FIXTURE, not a library bot: it buys, then sells twice as much
(closing the long and opening a short), then buys the short back, at fixed times after the
first book, with marketable FAK orders.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.accounting.ledger import Ledger
from polytraders.backtest.desk_file import BotEntry, DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.ids import intent_id
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, OrderRejected
from polytraders.model.fees import bps_fee_micros, spot_buy_commission
from polytraders.model.fills import Fill
from polytraders.model.market import BINANCE_USDM, Instrument
from polytraders.model.money import from_micros
from polytraders.model.orders import IntentAction, OrderIntent, Side, TimeInForce, VenueOrder
from polytraders.model.position import Position
from polytraders.venues.paper import PaperVenue, PaperVenueConfig
from polytraders.venues.paper.ledger import PaperLedger
from tests.fixture_strategy import FixtureStrategy

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "samples" / "binance" / "usdm_btcusdt_20240808.gz"
TOKEN = "binance-usdm:BTCUSDT"
_NS_PER_S = 1_000_000_000
STEP_MICROS = 2_000
"""0.002 BTC (micro-BTC), twice the minimum order size."""


class ScriptedPerpConfig(BotConfig):
    """No settings: the script is fixed."""


class ScriptedPerp(FixtureStrategy[ScriptedPerpConfig]):
    """Test fixture: BUY 0.002 BTC 30 s after the first book, SELL 0.004 at 120 s (long to
    short), BUY 0.002 at 240 s (flat); marketable FAK orders 0.5 % through the touch."""

    bot_id = "strat.test_scripted_perp"
    Config = ScriptedPerpConfig
    SEARCH_SPACE = SearchSpace(ScriptedPerpConfig)
    SCRIPT: ClassVar[tuple[tuple[int, Side, int], ...]] = (
        (30, Side.BUY, STEP_MICROS),
        (120, Side.SELL, 2 * STEP_MICROS),
        (240, Side.BUY, STEP_MICROS),
    )

    def __init__(
        self, config: ScriptedPerpConfig | None = None, rng: random.Random | None = None
    ) -> None:
        super().__init__(config, rng)
        self._start_ns = 0
        self._done = 0

    def reset(self) -> None:
        self._start_ns = 0
        self._done = 0

    def decide(self, event: AnyEvent, view: DeskView) -> Proposal:
        if not isinstance(event, BookSnapshot | BookDelta) or event.token_id != TOKEN:
            return Proposal()
        book = view.book(TOKEN)
        if book is None or book.best_bid() is None or book.best_ask() is None:
            return Proposal()
        if not self._start_ns:
            self._start_ns = view.now_ns
        if self._done == len(self.SCRIPT):
            return Proposal()
        at_s, side, size = self.SCRIPT[self._done]
        if view.now_ns < self._start_ns + at_s * _NS_PER_S:
            return Proposal()
        self._done += 1
        touch = book.best_ask() if side is Side.BUY else book.best_bid()
        assert touch is not None
        price = touch * 1_005 // 1_000 if side is Side.BUY else touch * 995 // 1_000
        return Proposal(
            intents=(
                OrderIntent(
                    intent_id=intent_id(self.bot_id, self._done),
                    bot_id=self.bot_id,
                    action=IntentAction.PLACE,
                    token_id=TOKEN,
                    side=side,
                    price=price,
                    size=size,
                    time_in_force=TimeInForce.FAK,
                ),
            )
        )


def _desk(risk: tuple[str, ...]) -> DeskFile:
    return DeskFile(
        strategies=[BotEntry(source=f"{Path(__file__).resolve()}:ScriptedPerp")],
        risk=[BotEntry(id=bot_id) for bot_id in risk],
        allow_no_risk=not risk,
    )


GENERIC_GUARDS = ("risk.killswitch", "risk.stalebookguard", "risk.drawdownguard")


@pytest.fixture(scope="module")
def perp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("crypto") / "out"
    store = out.parent / "runs.sqlite"
    run_desk(data=DATA, desk_file=_desk(GENERIC_GUARDS), out_dir=out, store_url=str(store))
    return out, json.loads((out / "result.json").read_text())


def _fills(out: Path) -> list[dict[str, str]]:
    lines = (out / "fills.csv").read_text().splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]


def test_the_desk_trades_the_perpetual_long_then_short_with_exact_pnl(
    perp_run: tuple[Path, dict],
) -> None:
    out, result = perp_run
    assert result["status"] == "COMPLETED"
    fills = _fills(out)
    assert [(f["side"], f["size_shares"], f["liquidity"]) for f in fills] == [
        ("BUY", "0.002", "TAKER"),
        ("SELL", "0.004", "TAKER"),
        ("BUY", "0.002", "TAKER"),
    ]
    assert {f["token_id"] for f in fills} == {TOKEN}
    prices = [_micros(f["price_usdt"]) for f in fills]
    sizes = [STEP_MICROS, 2 * STEP_MICROS, STEP_MICROS]
    # taker fee: Binance USD-M VIP 0, 5 bps, floored to a micro-USDT
    fees = [bps_fee_micros(p, q, 5) for p, q in zip(prices, sizes, strict=True)]
    assert [_micros(f["fee_usdt"]) for f in fills] == fees
    # long closed at the second fill's price, short opened there and closed at the third:
    # exactly (exit − entry) × size on each leg
    long_leg = (prices[1] - prices[0]) * STEP_MICROS // 1_000_000
    short_leg = (prices[1] - prices[2]) * STEP_MICROS // 1_000_000
    money = {key: result[key] for key in ("realized_pnl_usd", "fees_usd", "pnl_usd")}
    assert money == {
        "realized_pnl_usd": _usd(long_leg + short_leg),
        "fees_usd": _usd(sum(fees)),
        "pnl_usd": _usd(long_leg + short_leg - sum(fees)),
    }
    (entry,) = result["per_market"]
    assert entry["market_id"] == TOKEN and entry["final_positions"] == {TOKEN: "0"}


def _usd(micros: int) -> str:
    return from_micros(micros)


def _micros(text: str) -> int:
    """An exact decimal string of fills.csv in micro-units."""
    value = Decimal(text) * 1_000_000
    assert value == value.to_integral_value()
    return int(value)


def test_the_short_is_signed_in_the_store_and_envelopes_are_deterministic(
    perp_run: tuple[Path, dict], tmp_path: Path
) -> None:
    out, result = perp_run
    again = run_desk(data=DATA, desk_file=_desk(GENERIC_GUARDS), out_dir=tmp_path / "again")
    assert again.result.envelopes_sha256 == result["envelopes_sha256"]
    assert (tmp_path / "again" / "fills.csv").read_bytes() == (out / "fills.csv").read_bytes()
    positions = [0]
    for fill in _fills(out):
        size = _micros(fill["size_shares"])
        positions.append(positions[-1] + (size if fill["side"] == "BUY" else -size))
    assert positions == [0, STEP_MICROS, -STEP_MICROS, 0]  # long, then short, then flat
    import sqlite3

    with sqlite3.connect(out.parent / "runs.sqlite") as db:
        (fill_rows,) = db.execute("select count(*) from fills").fetchone()
    assert fill_rows == 3


def test_binary_only_guards_refuse_an_instrument_with_their_registered_codes(
    tmp_path: Path,
) -> None:
    outcome = run_desk(
        data=DATA,
        desk_file=_desk(("risk.killswitch", "risk.compliancegate", "risk.exposureguard")),
        out_dir=tmp_path / "out",
        fill_bounds=False,
    )
    result = outcome.result
    assert result.status == "COMPLETED" and result.money.fills == 0
    refused = {(r.bot_id, r.reason_code): r.count for r in result.refusals_by_bot}
    assert refused == {("risk.compliancegate", "RISK_COMPLIANCE_INPUT_INVALID"): 3}


# ---------------------------------------------------------------------------- the paper venue
def _venue(instrument: Instrument, cash_micros: int) -> tuple[PaperVenue, BookSnapshot]:
    from polytraders.feeds import open_source

    config = PaperVenueConfig(
        starting_cash_micros=cash_micros,
        instrument_maker_fee_bps={BINANCE_USDM: 2, "binance-spot": 10},
        instrument_taker_fee_bps={BINANCE_USDM: 5, "binance-spot": 10},
    )
    venue = PaperVenue(config, [], "run-t", instruments=[instrument])
    source = open_source(DATA if instrument.perpetual else SPOT_DATA)
    snapshot = next(e for e in source.events() if isinstance(e, BookSnapshot))
    venue.on_market_event(msgspec.structs.replace(snapshot, token_id=instrument.token_id))
    return venue, snapshot


SPOT_DATA = ROOT / "data" / "samples" / "binance" / "spot_btcusdt_20240808.gz"


def _order(n: int, instrument: Instrument, side: Side, price: int, size: int) -> VenueOrder:
    return VenueOrder(
        client_order_id=f"c{n}",
        intent_id=f"i{n}",
        bot_id="strat.test",
        token_id=instrument.token_id,
        side=side,
        price=price,
        size=size,
        time_in_force=TimeInForce.FAK,
    )


def test_spot_refuses_a_sell_beyond_holdings_and_perp_opens_a_short() -> None:
    spot = Instrument(
        venue="binance-spot", symbol="BTCUSDT", price_increment=10_000, size_increment=10,
        min_size=10,
    )  # fmt: skip
    venue, snapshot = _venue(spot, 1_000_000_000)
    bid = max(price for price, _ in snapshot.bids)
    venue.submit(_order(1, spot, Side.SELL, bid - bid % 10_000, 1_000), snapshot.ts_event_ns)
    venue.advance(snapshot.ts_event_ns + 10**10)
    (rejected,) = venue.poll()
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason_code == "SYS_VENUE_INSUFFICIENT_BALANCE"
    perp = Instrument(
        venue=BINANCE_USDM, symbol="BTCUSDT", price_increment=100_000, size_increment=1_000,
        min_size=1_000,
    )  # fmt: skip
    venue, snapshot = _venue(perp, 1_000_000_000)
    bid = max(price for price, _ in snapshot.bids)
    venue.submit(_order(1, perp, Side.SELL, bid, 2_000), snapshot.ts_event_ns)
    venue.advance(snapshot.ts_event_ns + 10**10)
    fills = [e for e in venue.poll() if isinstance(e, Fill)]
    assert sum(f.size for f in fills) == 2_000
    assert venue.ledger.holdings(perp.token_id) == -2_000
    assert venue.ledger.conservation_problems() == []
    # off the tick and below the minimum size are refused with registered codes
    venue.submit(_order(2, perp, Side.BUY, bid + 1, 2_000), snapshot.ts_event_ns + 10**10)
    venue.submit(_order(3, perp, Side.BUY, bid, 1_500), snapshot.ts_event_ns + 10**10)
    venue.advance(snapshot.ts_event_ns + 2 * 10**10)
    codes = [e.reason_code for e in venue.poll() if isinstance(e, OrderRejected)]
    assert codes == ["SYS_VENUE_INVALID_TICK", "SYS_VENUE_INVALID_ORDER"]


def test_a_spot_buy_pays_its_commission_in_btc_and_the_whole_holding_sells() -> None:
    """The paper venue charges a spot BUY's commission in the base, as Binance spot (and its
    simulator) does and as the ccxt venue books it: 0.1 % of 0.01 BTC kept (``fee_size`` 10
    micro-BTC), holdings 0.00999 BTC, cash the whole notional; the desk's ledger equals the
    paper account, and a SELL of the whole holding fills and leaves both flat."""
    spot = Instrument(
        venue="binance-spot", symbol="BTCUSDT", price_increment=10_000, size_increment=10,
        min_size=10,
    )  # fmt: skip
    venue, snapshot = _venue(spot, 1_000_000_000)
    ask = min(price for price, _ in snapshot.asks)
    venue.submit(_order(1, spot, Side.BUY, ask, 10_000), snapshot.ts_event_ns)
    venue.advance(snapshot.ts_event_ns + 10**10)
    buys = [e for e in venue.poll() if isinstance(e, Fill)]
    assert sum(f.size for f in buys) == 10_000
    assert [f.fee_size for f in buys] == [spot_buy_commission(f.price, f.size, 10)[1] for f in buys]
    assert [f.fee for f in buys] == [spot_buy_commission(f.price, f.size, 10)[0] for f in buys]
    book = Ledger(1_000_000_000)
    for fill in buys:
        assert fill.cash_fee == 0
        book.apply_fill(fill)
    held = venue.ledger.holdings(spot.token_id)
    assert held == book.size(spot.token_id) == 10_000 - sum(f.fee_size for f in buys)
    assert venue.ledger.cash == book.cash == 1_000_000_000 - sum(f.notional for f in buys)
    assert venue.ledger.conservation_problems() == [] and book.reconciliation_error() == 0
    bid = max(price for price, _ in snapshot.bids)
    venue.submit(_order(2, spot, Side.SELL, bid, held), snapshot.ts_event_ns + 10**10)
    venue.advance(snapshot.ts_event_ns + 2 * 10**10)
    sells = [e for e in venue.poll() if isinstance(e, Fill)]
    assert sum(f.size for f in sells) == held and all(f.fee_size == 0 for f in sells)
    for fill in sells:
        book.apply_fill(fill)
    assert venue.ledger.holdings(spot.token_id) == book.size(spot.token_id) == 0
    assert venue.ledger.cash == book.cash and book.reconciliation_error() == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(min_value=1, max_value=200_000).map(lambda t: t * 100_000),
            st.integers(min_value=1, max_value=5_000).map(lambda q: q * 1_000),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_perp_fills_conserve_money_and_realize_exact_pnl(
    trades: list[tuple[Side, int, int]],
) -> None:
    """Any sequence of perpetual fills: venue cash = start + Σ sold − Σ bought − Σ fees, the
    signed holding is Σ signed sizes and the desk's position agrees with it, and realized PnL
    minus the open cost basis is exactly Σ sold − Σ bought notional (a linear contract's cash
    flows; once flat, the realized PnL itself)."""
    token = "binance-usdm:BTCUSDT"
    ledger = PaperLedger(0, short_tokens=frozenset({token}))
    position = Position(token)
    bought = sold = fees = held = realized = 0
    for side, price, size in trades:
        fee = bps_fee_micros(price, size, 5)
        ledger.settle_fill(side, token, price, size, fee)
        realized += position.apply_trade(side, price, size, fee)
        notional = price * size // 1_000_000
        if side is Side.BUY:
            bought, held = bought + notional, held + size
        else:
            sold, held = sold + notional, held - size
        fees += fee
    assert ledger.conservation_problems() == []
    assert ledger.cash == sold - bought - fees
    assert ledger.holdings(token) == held == position.size
    assert realized + position.cost_basis * -1 == sold - bought
