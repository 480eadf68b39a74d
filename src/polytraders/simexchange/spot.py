"""The simulated Binance spot market and account: the replayed book, our orders and matching
(the shared core, :mod:`.matching`: the paper venue's fill rules, as on futures) and a balance
per asset. Prices are micro-quote per unit and sizes micro-units of the base asset, as on
futures; balances and commissions are exact integers of 10⁻⁸ of their asset (``_e8``), the
8 decimals Binance spot keeps for every balance (a 0.1 % commission of the smallest lot,
0.00001 BTC, is 0.00000001 BTC: finer than a micro-unit).

Account rules (Binance spot's, with the simplifications said):

* Balances per asset (``free`` and ``locked``): the base asset (``BTC``) and the quote asset
  (``USDT``). An open LIMIT or LIMIT_MAKER BUY locks ``remaining × price`` of the quote, an
  open SELL locks its ``remaining`` base: ``locked`` is computed from the open orders, ``free``
  is the total less ``locked``.
* A new order needing more than the free balance is refused with -2010 "Account has
  insufficient balance for requested action.": a BUY needs ``quantity × price`` of the quote
  (a MARKET BUY: the cost of what it would take from the book now), a SELL its ``quantity`` of
  the base — a sell beyond holdings is refused (spot has no short positions, no margin,
  leverage or funding).
* Commission ``rate_bps / 10⁴`` of what the order receives, in the asset received, floored to
  10⁻⁸: a BUY pays it in the base asset, a SELL in the quote asset ("The trading fee is always
  charged in the asset you receive", Binance FAQ "How to Calculate Binance Spot Trading Fees",
  binance.com/en/support/faq/e85d6e703b874674840122196b89780a; no BNB discount). Defaults are
  VIP 0's 0.1000 % maker and taker (:data:`~polytraders.model.fees.BINANCE_SPOT_MAKER_FEE_BPS`,
  the paper venue's spot rates).
* Order types ``LIMIT`` (``timeInForce`` GTC, IOC, FOK), ``MARKET`` (by ``quantity``;
  ``quoteOrderQty`` is not served) and ``LIMIT_MAKER`` (Binance spot's post-only: one that
  would take is refused with -2010 "Order would immediately match and take."). An IOC or MARKET
  remainder, and a FOK that cannot fill whole, end ``EXPIRED`` (answered, not refused, as on
  Binance spot). ``reduceOnly`` does not exist on spot: sent, it is refused with -1106.
* Filters (``exchangeInfo``): PRICE_FILTER (tick), LOT_SIZE (step, minimum, maximum) and
  NOTIONAL (``minNotional``, applied to MARKET orders at the book's mid, where Binance uses
  its average price of the last ``avgPriceMins`` minutes); a breach is -1013 "Filter failure:
  <FILTER>".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polytraders.model.events import BookDelta
from polytraders.model.fees import (
    BINANCE_SPOT_MAKER_FEE_BPS,
    BINANCE_SPOT_TAKER_FEE_BPS,
    BPS,
    E8_PER_MICRO,
)
from polytraders.model.market import BINANCE_SPOT
from polytraders.model.money import MICROS
from polytraders.model.orders import Side
from polytraders.simexchange import errors
from polytraders.simexchange.matching import (
    NS_PER_MS,
    MatchingExchange,
    SimOrder,
    client_id,
    decimal_param,
    order_side,
)
from polytraders.simexchange.replay import Recording
from polytraders.venues.paper.liquidity import Take

E8 = E8_PER_MICRO * MICROS
"""Units of 10⁻⁸ in one unit of an asset."""
QUOTE_ASSET = "USDT"
SPOT_TIME_IN_FORCE = ("GTC", "IOC", "FOK")
SPOT_ORDER_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER")
INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
WOULD_TAKE = "Order would immediately match and take."


@dataclass(frozen=True, slots=True)
class SpotSettings:
    """Spot account and market settings (units in names).

    ``base_e8``/``quote_e8``: the starting balances (default 0 BTC and 10,000 USDT);
    ``min_notional_micros``: BTCUSDT's NOTIONAL ``minNotional`` (5 USDT) and
    ``max_qty_micros`` its LOT_SIZE ``maxQty`` (9,000 BTC), from Binance spot ``exchangeInfo``
    (2024); ``queue_model``: a paper-venue queue model name.
    """

    base_e8: int = 0
    quote_e8: int = 10_000 * E8
    maker_fee_bps: int = BINANCE_SPOT_MAKER_FEE_BPS
    taker_fee_bps: int = BINANCE_SPOT_TAKER_FEE_BPS
    min_notional_micros: int = 5 * MICROS
    max_qty_micros: int = 9_000 * MICROS
    queue_model: str = "probabilistic"


@dataclass(frozen=True, slots=True)
class SpotTrade:
    """One fill of one of our orders: ``quote_qty_e8`` its cost (10⁻⁸ quote),
    ``commission_e8`` in ``commission_asset`` (10⁻⁸ units)."""

    trade_id: int
    order_id: int
    side: Side
    price: int
    qty: int
    quote_qty_e8: int
    commission_e8: int
    commission_asset: str
    maker: bool
    time_ms: int


def quote_e8(price: int, qty: int) -> int:
    """``price × qty`` in 10⁻⁸ of the quote (micro-quote per unit × micro-units; floored,
    exact on BTCUSDT's grid: tick 0.01 × step 0.00001 = 10⁻⁷)."""
    return price * qty // (MICROS * MICROS // E8)


class SpotExchange(MatchingExchange[SpotSettings]):
    """The spot simulator's state (module docstring for the rules). :meth:`place` is
    ``POST /api/v3/order``; its refusals: -1121, -1117, -1116, -1115, -1106, -1102, -1111,
    -1013 (LOT_SIZE, PRICE_FILTER, NOTIONAL), -1100 (a ``newClientOrderId`` outside
    :data:`~.matching.CLIENT_ID_RANGE`), -2010 (insufficient balance; a LIMIT_MAKER that would
    take), or an armed ``reject_orders`` fault.

    Args:
        recording: the replayed market (a spot recording).
        settings: account and market settings.

    Raises:
        ValueError: a recording of another market.
    """

    price_decimals = 8
    qty_decimals = 8

    def __init__(self, recording: Recording, settings: SpotSettings) -> None:
        if recording.instrument.venue != BINANCE_SPOT:
            raise ValueError(f"a {recording.instrument.venue} recording is not Binance spot")
        super().__init__(recording)
        self.base_asset = self.symbol.removesuffix(QUOTE_ASSET)
        self.quote_asset = QUOTE_ASSET
        self.restart(settings)

    def restart(self, settings: SpotSettings, start_ms: int | None = None) -> None:
        """Start a fresh session: the replay from its first step, no orders or trades,
        ``settings``' balances, no faults. Depth events not yet sent are dropped. ``start_ms``
        (ms since the epoch): the first snapshot's time in the session, which fixes
        :attr:`~.matching.MatchingExchange.offset_ms` (None: the recording's own times)."""
        self.settings = settings
        self._reset(settings.queue_model, start_ms)
        self.trades: list[SpotTrade] = []
        self.totals = {self.base_asset: settings.base_e8, self.quote_asset: settings.quote_e8}
        """Asset → balance, free and locked (10⁻⁸ units)."""
        self.step(1)

    # ------------------------------------------------------------------ balances
    def locked(self, asset: str) -> int:
        """What the open orders lock of ``asset`` (10⁻⁸ units)."""
        if asset == self.quote_asset:
            return sum(
                quote_e8(o.price, o.remaining) for o in self.open_orders() if o.side is Side.BUY
            )
        if asset == self.base_asset:
            return sum(
                o.remaining * E8_PER_MICRO for o in self.open_orders() if o.side is Side.SELL
            )
        return 0

    def free(self, asset: str) -> int:
        """The balance of ``asset`` not locked by open orders (10⁻⁸ units)."""
        return self.totals.get(asset, 0) - self.locked(asset)

    # ------------------------------------------------------------------ orders
    def _depth_message(self, delta: BookDelta) -> dict[str, Any]:
        return {
            "e": "depthUpdate",
            "E": delta.ts_event_ns // NS_PER_MS,
            "s": self.symbol,
            "U": delta.first_sequence,
            "u": delta.sequence,
            "b": [[self.price_text(p), self.qty_text(q)] for p, q in delta.bids],
            "a": [[self.price_text(p), self.qty_text(q)] for p, q in delta.asks],
        }

    def _validated(self, params: dict[str, str], now_ms: int) -> SimOrder:
        if params.get("symbol") != self.symbol:
            raise errors.bad(errors.INVALID_SYMBOL, "Invalid symbol.")
        side = order_side(params)
        order_type = params.get("type", "")
        if order_type not in SPOT_ORDER_TYPES:
            raise errors.bad(errors.INVALID_ORDER_TYPE, "Invalid orderType.")
        not_required = ["reduceOnly"]
        if order_type != "LIMIT":
            not_required.append("timeInForce")
        if order_type == "MARKET":
            not_required.append("price")
        for name in not_required:
            if name in params:
                raise errors.bad(
                    errors.PARAM_NOT_REQUIRED, f"Parameter '{name}' sent when not required."
                )
        qty = decimal_param(params, "quantity")
        inst = self.instrument
        if qty < inst.min_size or qty > self.settings.max_qty_micros or qty % inst.size_increment:
            raise errors.bad(errors.FILTER_FAILURE, "Filter failure: LOT_SIZE")
        time_in_force = "GTC"
        price = 0
        if order_type == "LIMIT":
            time_in_force = params.get("timeInForce", "")
            if not time_in_force:
                raise errors.missing("timeInForce")
            if time_in_force not in SPOT_TIME_IN_FORCE:
                raise errors.bad(errors.INVALID_TIME_IN_FORCE, "Invalid timeInForce.")
        if order_type != "MARKET":
            price = decimal_param(params, "price")
            if price <= 0 or price % inst.price_increment:
                raise errors.bad(errors.FILTER_FAILURE, "Filter failure: PRICE_FILTER")
        if (price or self.mark_price()) * qty // MICROS < self.settings.min_notional_micros:
            raise errors.bad(errors.FILTER_FAILURE, "Filter failure: NOTIONAL")
        return self._new_order(
            client_id(params, "newClientOrderId"),
            side,
            order_type=order_type,
            time_in_force=time_in_force,
            price=price,
            qty=qty,
            now_ms=now_ms,
            post_only=order_type == "LIMIT_MAKER",
            reduce_only=False,
        )

    def _admit(self, order: SimOrder, take: Take, limit: int) -> None:
        """-2010: a LIMIT_MAKER that would take, or more than the free balance."""
        if order.order_type == "LIMIT_MAKER" and take.size:
            raise errors.bad(errors.NEW_ORDER_REJECTED, WOULD_TAKE)
        if order.side is Side.SELL:
            asset, needed = self.base_asset, order.orig_qty * E8_PER_MICRO
        elif order.order_type == "MARKET":
            asset, needed = self.quote_asset, sum(quote_e8(p, q) for p, q in take.levels)
        else:
            asset, needed = self.quote_asset, quote_e8(order.price, order.orig_qty)
        if needed > self.free(asset):
            raise errors.bad(errors.NEW_ORDER_REJECTED, INSUFFICIENT_BALANCE)

    def _book_fill(
        self, order: SimOrder, price: int, qty: int, *, maker: bool, now_ms: int
    ) -> None:
        rate = self.settings.maker_fee_bps if maker else self.settings.taker_fee_bps
        cost = quote_e8(price, qty)
        base = qty * E8_PER_MICRO
        if order.side is Side.BUY:
            fee_asset, commission = self.base_asset, base * rate // BPS
            self.totals[self.quote_asset] -= cost
            self.totals[self.base_asset] += base - commission
        else:
            fee_asset, commission = self.quote_asset, cost * rate // BPS
            self.totals[self.base_asset] -= base
            self.totals[self.quote_asset] += cost - commission
        self.trades.append(
            SpotTrade(
                trade_id=next(self._trade_ids),
                order_id=order.order_id,
                side=order.side,
                price=price,
                qty=qty,
                quote_qty_e8=cost,
                commission_e8=commission,
                commission_asset=fee_asset,
                maker=maker,
                time_ms=now_ms,
            )
        )
