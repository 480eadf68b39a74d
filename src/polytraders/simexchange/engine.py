"""The simulated USDⓈ-M market and account: the replayed book, our orders and matching (the
shared core, :mod:`.matching`: the paper venue's fill rules), one-way position, USDT margin
balance, fees and funding rate. Every amount is an exact integer: prices micro-USDT per unit,
sizes micro-units of the base asset, money micro-USDT.

Account rules (documented simplifications of Binance's):

* One-way position mode, cross margin: each symbol's market (:class:`FuturesExchange`) holds a
  :class:`~polytraders.model.perp.PerpAccount` (the desk's own rules: exact cost basis and
  realized PnL of :class:`~polytraders.model.position.Position`; its wallet moves by realized
  − fees + funding). Markets of one :class:`FuturesVenue` share one cross-margin account: the
  wallet is the sum of their accounts' wallets (the initial wallet is held by the first
  market's, the others start at 0), so wallet = initial + every symbol's realized − fees +
  funding.
* Commission ``price × size × rate_bps / 10⁴``, floored to micro-USDT (Binance keeps 8
  decimals), charged in USDT (:func:`~polytraders.model.fees.bps_fee_micros`); defaults are
  Binance's public VIP 0 USDⓈ-M rates, maker 0.0200 %, taker 0.0500 %
  (binance.com/en/fee/futureFee, 2024; :mod:`polytraders.model.fees`).
* Mark price is the book's mid (floored to the tick); unrealized PnL is marked there.
* Initial margin = notional / leverage (rounded up, each symbol at its own leverage). A new
  order (not reduce-only) is refused with -2019 when the initial margin of the position (at
  mark), the open orders and the order, plus every other symbol's initial margin (position and
  open orders), exceeds the margin balance (wallet balance plus every symbol's unrealized
  PnL). An order that only closes
  (against the position and no larger than it) needs no margin: Binance charges the "cost
  required to open a position" to opening orders (Binance FAQ "How to Calculate Cost Required
  to Open a Position in Binance Futures").
* Maintenance margin from the bracket table (:data:`~polytraders.model.perp.BTCUSDT_BRACKETS`,
  for every symbol: no other table is modelled), liquidation price by Binance's one-way cross
  formula (served, never acted on: no liquidation engine): the symbol's
  :func:`~polytraders.model.perp.liquidation_price` with the wallet less the other symbols'
  maintenance margin plus their unrealized PnL (Binance's ``WB − TMM1 + UPNL1``).
* Funding at every funding time (00:00, 08:00, 16:00 UTC) of the recording, shifted by the
  time offset (below): when a depth event's time passes one, the position is charged
  ``−size × mark × rate`` at the mark just before that event
  (:func:`~polytraders.model.perp.funding_payment`), booked as a ``FUNDING_FEE`` income at the
  funding time.

Several symbols (:class:`FuturesVenue`): one market per recording, replayed on one clock (the
steps of every market applied in time order, ties in the markets' order), one time offset for
all (the first market's: its first snapshot sits at ``start_ms``); each market applies its own
first snapshot at the session's start (a recording that starts later shows its first book
early, by the difference). Order, trade, conditional-order and income ids come from counters
the markets share (unique across symbols), as do the armed faults.

Time. Every market time is the recording's shifted by the session's time offset
(:attr:`~.matching.MatchingExchange.offset_ms`, fixed by :meth:`FuturesExchange.restart`
``start_ms``; :mod:`.matching` "Time"), and :meth:`FuturesExchange.next_funding_ms` moves the
funding schedule with the recording (its 8-hour boundaries plus the offset: the default
recording's 2024-08-09 00:00 funding still falls 343 s after its first snapshot). With an
offset that is not a multiple of 8 hours the simulated funding times (settlements, income
rows, ``nextFundingTime``) are therefore not on a real 00:00/08:00/16:00 UTC boundary.

Conditional orders (``STOP_MARKET``, ``TAKE_PROFIT_MARKET``) live apart from the order book, as
at Binance since its USDⓈ-M conditional orders moved to the Algo Service (change log
2025-11-06, effective 2025-12-09: ``POST /fapi/v1/order`` answers -4120 for them; ccxt 4.5.90
sends them to ``POST /fapi/v1/algoOrder``). Rules (New Algo Order reference,
developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Algo-Order):

* ``triggerPrice`` on the tick; ``workingType`` ``MARK_PRICE`` or ``CONTRACT_PRICE`` (the
  default): the mark price (the book's mid, above) or the latest contract price (the last
  trade, public or ours; the mark before any trade);
* ``closePosition=true`` (close the whole position when triggered) takes no ``quantity`` and
  no ``reduceOnly`` (-1106 here); otherwise ``quantity`` is required;
* trigger conditions: ``STOP_MARKET`` BUY when price ≥ trigger, SELL when price ≤ trigger;
  ``TAKE_PROFIT_MARKET`` BUY when price ≤ trigger, SELL when price ≥ trigger. An order whose
  condition already holds is refused with -2021 "Order would immediately trigger.";
* checked after every replay step and after each of our fills; a triggered order becomes a
  MARKET order through the same matching (fills, fees, position, ``userTrades``; its client
  order id is the ``clientAlgoId``), reduce-only when the conditional order was reduce-only or
  close-position (quantity: the whole position then). Its ``algoStatus`` goes ``NEW`` →
  ``FINISHED`` (Binance's TRIGGERING and TRIGGERED last no time here) with ``actualOrderId``,
  or ``REJECTED`` when the market order is refused (e.g. reduce-only with no position);
* not counted in the margin check; ``DELETE /fapi/v1/allOpenOrders`` does not cancel them
  (Binance documents a separate ``DELETE /fapi/v1/algoOpenOrders`` for them and says nothing
  of ``allOpenOrders`` cancelling conditional orders: the simulator keeps the two apart, the
  fail-closed reading for a client that must cancel everything).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from polytraders.model.events import BookDelta
from polytraders.model.fees import (
    BINANCE_USDM_MAKER_FEE_BPS,
    BINANCE_USDM_TAKER_FEE_BPS,
    bps_fee_micros,
)
from polytraders.model.market import BINANCE_USDM
from polytraders.model.money import MICROS, fixed_micros
from polytraders.model.orders import Side
from polytraders.model.perp import (
    FUNDING_PERIOD_MS,
    PerpAccount,
    initial_margin,
    liquidation_price,
    next_funding_ms,
    notional,
)
from polytraders.model.position import Position
from polytraders.simexchange import errors
from polytraders.simexchange.matching import (
    NS_PER_MS,
    Faults,
    MatchingExchange,
    SimOrder,
    client_id,
    decimal_param,
    order_side,
)
from polytraders.simexchange.replay import Recording, ReplayStep
from polytraders.venues.paper.liquidity import Take

TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")
CONDITIONAL_TYPES = (
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
)
"""Binance's conditional order types (refused on ``/fapi/v1/order`` with -4120)."""
ALGO_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET")
"""The conditional types the simulator serves on ``/fapi/v1/algoOrder``."""
WORKING_TYPES = ("MARK_PRICE", "CONTRACT_PRICE")


@dataclass(frozen=True, slots=True)
class ExchangeSettings:
    """Account and market settings (units in names).

    ``min_notional_micros`` is BTCUSDT's MIN_NOTIONAL filter (100 USDT, Binance
    ``exchangeInfo`` since 2023); ``price_decimals``/``qty_decimals`` its ``pricePrecision``
    and ``quantityPrecision`` (2 and 3); ``funding_rate_ppm`` the rate premiumIndex serves
    (100 ppm = 0.0100 %, Binance's baseline interest component per 8 h); ``leverage`` Binance's
    default of 20×; ``queue_model`` a paper-venue queue model name.
    """

    wallet_micros: int = 10_000 * MICROS
    maker_fee_bps: int = BINANCE_USDM_MAKER_FEE_BPS
    taker_fee_bps: int = BINANCE_USDM_TAKER_FEE_BPS
    min_notional_micros: int = 100 * MICROS
    price_decimals: int = 2
    qty_decimals: int = 3
    max_qty_micros: int = 1_000 * MICROS
    funding_rate_ppm: int = 100
    leverage: int = 20
    max_leverage: int = 125
    queue_model: str = "probabilistic"


@dataclass(slots=True, eq=False)
class AlgoOrder:
    """One conditional order (Binance's algo-order fields, micro-units): ``quantity`` is 0 for
    a close-position order; ``actual_order_id`` the MARKET order it became (0 until then)."""

    algo_id: int
    client_algo_id: str
    side: Side
    order_type: str
    trigger_price: int
    quantity: int
    close_position: bool
    reduce_only: bool
    working_type: str
    create_ms: int
    update_ms: int
    status: str = "NEW"
    trigger_ms: int = 0
    actual_order_id: int = 0


@dataclass(frozen=True, slots=True)
class UserTrade:
    """One fill of one of our orders."""

    trade_id: int
    order_id: int
    side: Side
    price: int
    qty: int
    quote_qty: int
    commission: int
    realized_pnl: int
    maker: bool
    time_ms: int


@dataclass(frozen=True, slots=True)
class Income:
    """One ``GET /fapi/v1/income`` row: ``income_type`` (``FUNDING_FEE``), ``amount``
    (micro-USDT, signed: negative is paid), ``time_ms``, ``tran_id``."""

    income_type: str
    amount: int
    time_ms: int
    tran_id: int


class FuturesExchange(MatchingExchange[ExchangeSettings]):
    """The simulator's state (module docstring for the rules).

    Args:
        recording: the replayed market (a USDⓈ-M recording).
        settings: account and market settings.

    Raises:
        ValueError: a recording of another market.
    """

    def __init__(self, recording: Recording, settings: ExchangeSettings) -> None:
        if recording.instrument.venue != BINANCE_USDM:
            raise ValueError(f"a {recording.instrument.venue} recording is not USDⓈ-M futures")
        super().__init__(recording)
        self.peers: tuple[FuturesExchange, ...] = (self,)
        """The markets of the cross-margin account, this one included (a
        :class:`FuturesVenue` sets them; alone: this one)."""
        self.restart(settings)

    def restart(self, settings: ExchangeSettings, start_ms: int | None = None) -> None:
        """Start a fresh session: the replay from its first step (the first REST snapshot),
        no orders, trades or incomes, a flat account with ``settings``' wallet, leverage and
        funding rate, no faults. Depth events not yet sent are dropped. ``start_ms`` (ms since
        the epoch): the first snapshot's time in the session, which fixes
        :attr:`~.matching.MatchingExchange.offset_ms` (None: the recording's own times)."""
        self.settings = settings
        self.price_decimals = settings.price_decimals
        self.qty_decimals = settings.qty_decimals
        self._reset(settings.queue_model, start_ms)
        self.algo_orders: dict[int, AlgoOrder] = {}
        self.trades: list[UserTrade] = []
        self.account = PerpAccount(self.symbol, settings.wallet_micros, settings.leverage)
        self.funding_rate_ppm = settings.funding_rate_ppm
        self.incomes: list[Income] = []
        self._tran_ids = itertools.count(7_000_000_001)
        self._algo_ids = itertools.count(3_000_000_001)
        self.step(1)

    def share_session(self, first: MatchingExchange[Any]) -> None:
        """Also the conditional-order and income id counters (:meth:`MatchingExchange.
        share_session`)."""
        super().share_session(first)
        if isinstance(first, FuturesExchange):
            self._tran_ids = first._tran_ids
            self._algo_ids = first._algo_ids

    def seed_position(self, size: int, cost_basis: int) -> None:
        """Hold a position as if it had been traded before the session (a test fixture's
        starting state): ``size`` signed micro-units, ``cost_basis`` its signed entry cash
        (micro-USDT, positive for a long); no fee, no realized PnL, the wallet unchanged.

        Raises:
            ValueError: the account already trades, or the cost's sign is not the size's.
        """
        position = self.position
        if position.size or position.fill_count or self.orders:
            raise ValueError("a position is seeded only into a fresh session")
        if (size > 0) != (cost_basis > 0) or (size < 0) != (cost_basis < 0):
            raise ValueError(f"cost basis {cost_basis} does not match size {size}")
        position.size = size
        position.cost_basis = cost_basis

    # ------------------------------------------------------------------ replay
    def next_funding_ms(self, now_ms: int) -> int:
        """The first funding time strictly after ``now_ms`` (exchange time, ms): the
        recording's 8-hour boundaries shifted by :attr:`offset_ms` (module docstring "Time")."""
        return next_funding_ms(now_ms - self.offset_ms) + self.offset_ms

    def _apply_step(self, step: ReplayStep) -> None:
        """Funding due before the step's depth event, the step, then conditional orders."""
        self._settle_funding(step.depth.ts_event_ns // NS_PER_MS)
        super()._apply_step(step)
        self._trigger(self.last_event_ms)

    def _settle_funding(self, event_ms: int) -> None:
        """Charge funding for each funding time in ``(last event, event_ms]`` at the current
        mark (the book as it stood at the funding time)."""
        if not self.last_event_ms:
            return
        funding_ms = self.next_funding_ms(self.last_event_ms)
        while funding_ms <= event_ms:
            if self.position.size:
                payment = self.account.settle_funding(
                    self.mark_price(), self.funding_rate_ppm * 1_000
                )
                self.incomes.append(
                    Income("FUNDING_FEE", payment, funding_ms, next(self._tran_ids))
                )
            funding_ms += FUNDING_PERIOD_MS

    def _depth_message(self, delta: BookDelta) -> dict[str, Any]:
        event_ms = delta.ts_event_ns // NS_PER_MS
        return {
            "e": "depthUpdate",
            "E": event_ms,
            "T": event_ms,
            "s": self.symbol,
            "U": delta.first_sequence,
            "u": delta.sequence,
            "pu": delta.prev_sequence,
            "b": [[self.price_text(p), self.qty_text(q)] for p, q in delta.bids],
            "a": [[self.price_text(p), self.qty_text(q)] for p, q in delta.asks],
        }

    # ------------------------------------------------------------------ orders
    def place(self, params: dict[str, str], now_ms: int) -> SimOrder:
        """``POST /fapi/v1/order``: validate, match, rest, then check the conditional orders;
        returns the order.

        Raises:
            BinanceError: the venue's code for the refusal (-1121, -1117, -1116, -1115, -1102,
                -1111, -4003, -1013, -4014, -4164, -2022, -2019, -5021, -5022, -4120 for a
                conditional type, -1100 for a ``newClientOrderId`` outside
                :data:`~.matching.CLIENT_ID_RANGE`, or an armed ``reject_orders`` fault).
        """
        order = super().place(params, now_ms)
        self._trigger(now_ms)
        return order

    def _admit(self, order: SimOrder, take: Take, limit: int) -> None:
        """-5022 post-only would take, -5021 FOK cannot fill whole, -2022, -2019."""
        if order.time_in_force == "GTX" and take.size:
            raise errors.bad(
                errors.POST_ONLY_REJECTED,
                "Due to the order could not be executed as maker, the Post Only order will be "
                "rejected.",
            )
        if order.time_in_force == "FOK" and not take.complete:
            raise errors.bad(
                errors.FOK_REJECTED,
                "Due to the order could not be filled immediately, the FOK order has been "
                "rejected.",
            )
        self._check_reduce_only(order)
        if not order.reduce_only:
            self._check_margin(
                order, take.notional + (order.orig_qty - take.size) * limit // MICROS
            )

    def _validated(self, params: dict[str, str], now_ms: int) -> SimOrder:
        if params.get("symbol") != self.symbol:
            raise errors.bad(errors.INVALID_SYMBOL, "Invalid symbol.")
        side = order_side(params)
        order_type = params.get("type", "")
        if order_type in CONDITIONAL_TYPES:
            raise errors.bad(
                errors.USE_ALGO_ENDPOINT,
                "Order type not supported for this endpoint. Please use the Algo Order API "
                "endpoints instead.",
            )
        if order_type not in ("LIMIT", "MARKET"):
            raise errors.bad(errors.INVALID_ORDER_TYPE, "Invalid orderType.")
        qty = self._decimal(params, "quantity", self.instrument.size_increment)
        if qty <= 0:
            raise errors.bad(errors.QUANTITY_NOT_POSITIVE, "Quantity less than or equal to zero.")
        if qty < self.instrument.min_size or qty > self.settings.max_qty_micros:
            raise errors.bad(errors.FILTER_FAILURE, "Filter failure: LOT_SIZE")
        price = 0
        time_in_force = ""
        if order_type == "LIMIT":
            time_in_force = params.get("timeInForce", "")
            if time_in_force not in TIME_IN_FORCE:
                raise errors.bad(errors.INVALID_TIME_IN_FORCE, "Invalid timeInForce.")
            price = self._decimal(params, "price", self.instrument.price_increment)
            if price <= 0:
                raise errors.missing("price")
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        reference = price or self.mark_price()
        if not reduce_only and reference * qty // MICROS < self.settings.min_notional_micros:
            raise errors.bad(
                errors.NOTIONAL_TOO_SMALL,
                f"Order's notional must be no smaller than "
                f"{fixed_micros(self.settings.min_notional_micros, 0)} (unless you choose "
                "reduce only).",
            )
        return self._new_order(
            client_id(params, "newClientOrderId"),
            side,
            order_type=order_type,
            time_in_force=time_in_force or "GTC",
            price=price,
            qty=qty,
            now_ms=now_ms,
            post_only=time_in_force == "GTX",
            reduce_only=reduce_only,
        )

    @staticmethod
    def _decimal(params: dict[str, str], name: str, increment: int) -> int:
        value = decimal_param(params, name)
        if value % increment:
            if name in ("price", "triggerPrice"):
                raise errors.bad(errors.PRICE_NOT_ON_TICK, "Price not increased by tick size.")
            raise errors.bad(
                errors.BAD_PRECISION, "Precision is over the maximum defined for this asset."
            )
        return value

    def _check_reduce_only(self, order: SimOrder) -> None:
        if not order.reduce_only:
            return
        amount = self.position.size
        reduces = (amount > 0 and order.side is Side.SELL) or (
            amount < 0 and order.side is Side.BUY
        )
        if not reduces or order.orig_qty > abs(amount):
            raise errors.bad(errors.REDUCE_ONLY_REJECTED, "ReduceOnly Order is rejected.")

    def _check_margin(self, order: SimOrder, order_notional: int) -> None:
        """-2019 when the initial margin of position, open orders and ``order`` plus the other
        symbols' exceeds the margin balance (module docstring). An order that only closes
        (against the position, no larger than it) is not checked."""
        size = self.position.size
        closes = (size > 0 and order.side is Side.SELL) or (size < 0 and order.side is Side.BUY)
        if closes and order.orig_qty <= abs(size):
            return
        exposure = notional(self.position, self.mark_price()) + order_notional
        exposure += sum(
            o.remaining * o.price // MICROS for o in self.open_orders() if not o.reduce_only
        )
        required = initial_margin(exposure, self.leverage)
        required += sum(m.initial_margin_held() for m in self.peers if m is not self)
        if required > self.margin_balance():
            raise errors.bad(errors.MARGIN_INSUFFICIENT, "Margin is insufficient.")

    def _book_fill(
        self, order: SimOrder, price: int, qty: int, *, maker: bool, now_ms: int
    ) -> None:
        rate = self.settings.maker_fee_bps if maker else self.settings.taker_fee_bps
        fee = bps_fee_micros(price, qty, rate)
        realized = self.account.trade(order.side, price, qty, fee)
        self.trades.append(
            UserTrade(
                trade_id=next(self._trade_ids),
                order_id=order.order_id,
                side=order.side,
                price=price,
                qty=qty,
                quote_qty=price * qty // MICROS,
                commission=fee,
                realized_pnl=realized,
                maker=maker,
                time_ms=now_ms,
            )
        )

    # ------------------------------------------------------------------ conditional orders
    def place_algo(self, params: dict[str, str], now_ms: int) -> AlgoOrder:
        """``POST /fapi/v1/algoOrder`` (``algoType=CONDITIONAL``): validate and keep a
        conditional order (module docstring for the rules).

        Raises:
            BinanceError: -1121, -1117, -1102 (``algoType``/``workingType``/a missing field),
                -1116 (a type not served), -4014/-1111 (off the grid), -4003/-1013 (quantity),
                -1106 (``quantity`` or ``reduceOnly`` with ``closePosition``), -1100 (a
                ``clientAlgoId`` outside :data:`CLIENT_ID_RANGE`), -20132 (client algo id of
                an open order), -2021 (would trigger at once), or an armed
                ``reject_orders`` fault.
        """
        if params.get("symbol") != self.symbol:
            raise errors.bad(errors.INVALID_SYMBOL, "Invalid symbol.")
        if params.get("algoType") != "CONDITIONAL":
            raise errors.missing("algoType")
        side_text = params.get("side", "")
        if side_text not in ("BUY", "SELL"):
            raise errors.bad(errors.INVALID_SIDE, "Invalid side.")
        order_type = params.get("type", "")
        if order_type not in ALGO_TYPES:
            raise errors.bad(errors.INVALID_ORDER_TYPE, "Invalid orderType.")
        working_type = params.get("workingType", "CONTRACT_PRICE")
        if working_type not in WORKING_TYPES:
            raise errors.missing("workingType")
        trigger = self._decimal(params, "triggerPrice", self.instrument.price_increment)
        if trigger <= 0:
            raise errors.missing("triggerPrice")
        close_position = params.get("closePosition", "false").lower() == "true"
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        quantity = 0
        if close_position:
            for name in ("quantity", "reduceOnly"):
                if name in params:
                    raise errors.bad(
                        errors.PARAM_NOT_REQUIRED, f"Parameter '{name}' sent when not required."
                    )
        else:
            quantity = self._decimal(params, "quantity", self.instrument.size_increment)
            if quantity <= 0:
                raise errors.bad(
                    errors.QUANTITY_NOT_POSITIVE, "Quantity less than or equal to zero."
                )
            if quantity < self.instrument.min_size or quantity > self.settings.max_qty_micros:
                raise errors.bad(errors.FILTER_FAILURE, "Filter failure: LOT_SIZE")
        given = client_id(params, "clientAlgoId")
        algo_id = next(self._algo_ids)
        algo_client_id = given or f"sim-algo-{algo_id}"
        if any(a.client_algo_id == algo_client_id for a in self.open_algo_orders()):
            raise errors.bad(errors.DUPLICATE_CLIENT_ALGO_ID, "The client algo id is duplicated")
        algo = AlgoOrder(
            algo_id=algo_id,
            client_algo_id=algo_client_id,
            side=Side.BUY if side_text == "BUY" else Side.SELL,
            order_type=order_type,
            trigger_price=trigger,
            quantity=quantity,
            close_position=close_position,
            reduce_only=reduce_only,
            working_type=working_type,
            create_ms=now_ms,
            update_ms=now_ms,
        )
        if self._triggered(algo):
            raise errors.bad(errors.WOULD_TRIGGER, "Order would immediately trigger.")
        self._armed_reject()
        self.algo_orders[algo_id] = algo
        return algo

    def reference_price(self, working_type: str) -> int:
        """The price a conditional order watches (micro-USDT): the mark for ``MARK_PRICE``,
        the last trade (the mark before any) for ``CONTRACT_PRICE``."""
        if working_type == "CONTRACT_PRICE" and self.last_price:
            return self.last_price
        return self.mark_price()

    def _triggered(self, algo: AlgoOrder) -> bool:
        price = self.reference_price(algo.working_type)
        if not price:
            return False
        rises = (algo.order_type == "STOP_MARKET") == (algo.side is Side.BUY)
        return price >= algo.trigger_price if rises else price <= algo.trigger_price

    def _trigger(self, now_ms: int) -> None:
        """Execute every open conditional order whose condition holds, oldest first, until
        none does (a fill moves the contract price and may trigger another)."""
        while True:
            due = [a for a in self.open_algo_orders() if self._triggered(a)]
            if not due:
                return
            for algo in due:
                if algo.status == "NEW" and self._triggered(algo):
                    self._execute(algo, now_ms)

    def _execute(self, algo: AlgoOrder, now_ms: int) -> None:
        """A triggered conditional order becomes a MARKET order (FINISHED), or REJECTED."""
        algo.trigger_ms = algo.update_ms = now_ms
        quantity = algo.quantity
        if algo.close_position:
            amount = self.position.size
            closes = (amount > 0 and algo.side is Side.SELL) or (
                amount < 0 and algo.side is Side.BUY
            )
            quantity = abs(amount) if closes else 0
        params = {
            "symbol": self.symbol,
            "side": "BUY" if algo.side is Side.BUY else "SELL",
            "type": "MARKET",
            "quantity": self.qty_text(quantity),
            "reduceOnly": "true" if algo.reduce_only or algo.close_position else "false",
            "newClientOrderId": algo.client_algo_id,
        }
        try:
            order = self._validated(params, now_ms)
            self._match(order, now_ms)
        except errors.BinanceError:
            algo.status = "REJECTED"
            return
        algo.actual_order_id = order.order_id
        algo.status = "FINISHED"

    def cancel_algo(
        self, algo_id: int | None, client_algo_id: str | None, now_ms: int
    ) -> AlgoOrder:
        """``DELETE /fapi/v1/algoOrder`` by ``algoId`` or ``clientAlgoId``.

        Raises:
            BinanceError: -20124 unknown or no longer open.
        """
        algo = self.find_algo(algo_id, client_algo_id)
        if algo is None or algo.status != "NEW":
            raise errors.bad(errors.UNKNOWN_ALGO, "Invalid algo id or it has been completed.")
        algo.status = "CANCELED"
        algo.update_ms = now_ms
        return algo

    def cancel_all_algo(self, now_ms: int) -> int:
        """``DELETE /fapi/v1/algoOpenOrders``: cancel every open conditional order."""
        live = self.open_algo_orders()
        for algo in live:
            self.cancel_algo(algo.algo_id, None, now_ms)
        return len(live)

    def find_algo(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder | None:
        """A conditional order by id or client id (the newest with that client id)."""
        if algo_id is not None:
            return self.algo_orders.get(algo_id)
        found = [a for a in self.algo_orders.values() if a.client_algo_id == client_algo_id]
        return found[-1] if found else None

    def open_algo_orders(self) -> list[AlgoOrder]:
        """Conditional orders not yet triggered or cancelled, oldest first."""
        return [a for a in self.algo_orders.values() if a.status == "NEW"]

    def set_leverage(self, leverage: int) -> None:
        """``POST /fapi/v1/leverage``.

        Raises:
            BinanceError: -4028 outside 1..max_leverage.
        """
        if not 1 <= leverage <= self.settings.max_leverage:
            raise errors.bad(errors.INVALID_LEVERAGE, f"Leverage {leverage} is not valid")
        self.account.leverage = leverage

    # ------------------------------------------------------------------ reads
    @property
    def position(self) -> Position:
        """The one-way position (signed micro-units of the base asset, exact cost basis)."""
        return self.account.position

    @property
    def wallet(self) -> int:
        """The cross account's wallet balance (micro-USDT): initial + every symbol's realized
        PnL − fees + funding."""
        return sum(m.account.wallet_micros for m in self.peers)

    def margin_balance(self) -> int:
        """The cross account's wallet plus every symbol's unrealized PnL (micro-USDT)."""
        return self.wallet + sum(m.unrealized_pnl() for m in self.peers)

    def initial_margin_held(self) -> int:
        """Initial margin of this symbol's position (at mark) and open orders that are not
        reduce-only, at its leverage (micro-USDT, rounded up)."""
        exposure = notional(self.position, self.mark_price())
        exposure += sum(
            o.remaining * o.price // MICROS for o in self.open_orders() if not o.reduce_only
        )
        return initial_margin(exposure, self.leverage)

    def liquidation_price(self) -> int | None:
        """This symbol's liquidation price in the cross account (micro-USDT; None when flat or
        none): :func:`~polytraders.model.perp.liquidation_price` with the wallet less the
        other symbols' maintenance margin plus their unrealized PnL."""
        others = [m for m in self.peers if m is not self]
        wallet = self.wallet - sum(m.maintenance_margin() for m in others)
        wallet += sum(m.unrealized_pnl() for m in others)
        return liquidation_price(self.position, wallet, self.account.brackets)

    @property
    def realized_pnl(self) -> int:
        """Realized trading PnL before fees (micro-USDT)."""
        return self.account.position.realized_pnl

    @property
    def fees_paid(self) -> int:
        """Commissions paid (micro-USDT)."""
        return self.account.position.fees

    @property
    def leverage(self) -> int:
        """The symbol's initial leverage."""
        return self.account.leverage

    def unrealized_pnl(self) -> int:
        """Position PnL at the mark price (micro-USDT, floored)."""
        return self.account.unrealized_pnl(self.mark_price())

    def maintenance_margin(self) -> int:
        """Maintenance margin at the mark price (micro-USDT, rounded up)."""
        return self.account.maintenance_margin(self.mark_price())


class FuturesVenue:
    """Several USDⓈ-M markets (one :class:`FuturesExchange` per recording) on one clock and one
    cross-margin account (module docstring "Several symbols"): what the server serves. The
    first recording's symbol is the venue's :attr:`symbol` (its offset, its
    ``last_update_id``).

    Args:
        recordings: one USDⓈ-M recording per symbol, the first the venue's default.
        settings: account and market settings, shared by every symbol (the initial wallet is
            the account's, once).

    Raises:
        ValueError: no recording, two of one symbol, or a recording of another market.
    """

    def __init__(self, recordings: Sequence[Recording], settings: ExchangeSettings) -> None:
        if not recordings:
            raise ValueError("a venue needs at least one recording")
        self.markets: dict[str, FuturesExchange] = {}
        """The markets by symbol, the first recording's first."""
        for recording in recordings:
            symbol = recording.instrument.symbol
            if symbol in self.markets:
                raise ValueError(f"two recordings of {symbol}")
            self.markets[symbol] = FuturesExchange(recording, settings)
        peers = tuple(self.markets.values())
        for market in peers:
            market.peers = peers
        self.primary = peers[0]
        """The first recording's market."""
        self.symbol = self.primary.symbol
        self.symbols = tuple(self.markets)
        self.restart(settings)

    def restart(self, settings: ExchangeSettings, start_ms: int | None = None) -> None:
        """Start a fresh session of every market (:meth:`FuturesExchange.restart`): the first
        market's first snapshot at ``start_ms`` (None: the recordings' own times) and the same
        time offset for every market; the wallet ``settings.wallet_micros``; shared faults
        and id counters."""
        self.settings = settings
        first = self.primary
        offset_ms = 0
        if start_ms is not None:
            offset_ms = start_ms - first.recording.steps[0].depth.ts_event_ns // NS_PER_MS
        for market in self.markets.values():
            own = settings if market is first else dataclasses.replace(settings, wallet_micros=0)
            market_start = market.recording.steps[0].depth.ts_event_ns // NS_PER_MS + offset_ms
            market.restart(own, None if start_ms is None else market_start)
            if market is not first:
                market.share_session(first)

    def market(self, symbol: str | None) -> FuturesExchange:
        """The market of ``symbol``.

        Raises:
            BinanceError: -1121 no such symbol (or none given).
        """
        market = self.markets.get(symbol or "")
        if market is None:
            raise errors.bad(errors.INVALID_SYMBOL, "Invalid symbol.")
        return market

    def chosen(self, symbol: str | None) -> list[FuturesExchange]:
        """The market of ``symbol``, or every market when None.

        Raises:
            BinanceError: -1121 an unknown symbol.
        """
        return list(self.markets.values()) if symbol is None else [self.market(symbol)]

    def market_of(self, order: SimOrder) -> FuturesExchange:
        """The market an order of the venue belongs to."""
        return self.markets[order.working.order.token_id]

    # ------------------------------------------------------------------ replay
    @property
    def faults(self) -> Faults:
        """The armed faults (shared by every market)."""
        return self.primary.faults

    @property
    def offset_ms(self) -> int:
        """The session's time offset (ms, every market's)."""
        return self.primary.offset_ms

    @property
    def cursor(self) -> int:
        """Replay steps applied, every market's."""
        return sum(m.cursor for m in self.markets.values())

    @property
    def last_update_id(self) -> int:
        """The first market's ``lastUpdateId``."""
        return self.primary.last_update_id

    @property
    def last_event_ms(self) -> int:
        """The latest applied depth event's time over the markets (ms)."""
        return max(m.last_event_ms for m in self.markets.values())

    def clear_outbox(self) -> None:
        """Drop every market's unsent depth events."""
        for market in self.markets.values():
            market.outbox.clear()

    def _next_market(self) -> FuturesExchange | None:
        due = [
            (ns, i, m)
            for i, m in enumerate(self.markets.values())
            if (ns := m.next_step_ns()) is not None
        ]
        return min(due, key=lambda item: (item[0], item[1]))[2] if due else None

    def next_step_ns(self) -> int | None:
        """The exchange's time of the next step of any market (ns; None when all ended)."""
        market = self._next_market()
        return None if market is None else market.next_step_ns()

    def step(self, count: int = 1) -> int:
        """Apply the next ``count`` steps across the markets in time order (ties: the
        markets' order); returns how many were applied."""
        applied = 0
        while applied < count and (market := self._next_market()) is not None:
            applied += market.step(1)
        return applied

    def replay_until(self, ts_ns: int) -> int:
        """Apply every further step of any market at or before ``ts_ns`` (exchange time), in
        time order; returns how many."""
        applied = 0
        while (due_ns := self.next_step_ns()) is not None and due_ns <= ts_ns:
            applied += self.step(1)
        return applied

    def drain(self) -> list[dict[str, Any]]:
        """Every market's depth events published since the last call, by event time (each
        market's in its own order)."""
        events = [e for m in self.markets.values() for e in m.drain()]
        return sorted(events, key=lambda event: int(event["E"]))

    # ------------------------------------------------------------------ reads
    @property
    def orders(self) -> dict[int, SimOrder]:
        """Every market's orders by order id, oldest first."""
        merged = {i: o for m in self.markets.values() for i, o in m.orders.items()}
        return dict(sorted(merged.items()))

    def find(self, order_id: int | None, client_order_id: str | None) -> SimOrder | None:
        """An order of any market by id or client id (None when unknown)."""
        for market in self.markets.values():
            order = market.find(order_id, client_order_id)
            if order is not None:
                return order
        return None

    def find_algo(
        self, algo_id: int | None, client_algo_id: str | None
    ) -> tuple[FuturesExchange, AlgoOrder] | None:
        """A conditional order of any market and its market (None when unknown)."""
        for market in self.markets.values():
            algo = market.find_algo(algo_id, client_algo_id)
            if algo is not None:
                return market, algo
        return None

    @property
    def wallet(self) -> int:
        """The cross account's wallet balance (micro-USDT)."""
        return self.primary.wallet
