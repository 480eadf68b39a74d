"""Venue-neutral reconciliation reports: what a venue says it holds for us, typed.

Every venue answers :meth:`polytraders.venues.base.Venue.reconciliation_snapshot` with one
:class:`VenueSnapshot`: the orders it holds open for us (:class:`OrderStatusReport`), the fills
of our orders it lists (:class:`FillReport`) and our holding of each token it trades for us
(:class:`PositionReport`), taken together at one time. The desk compares a snapshot with its
own records in :func:`polytraders.venues.drift.compare`; nothing in the desk parses a venue's
wire format. (The shape follows NautilusTrader's ``execution/reports.py``: order status, fill
and position reports gathered into one mass status.)

Prices and sizes are micro-units (a price in micro-pUSD per share, sizes in micro-shares),
times ns since the epoch. All reports are frozen.
"""

from __future__ import annotations

import msgspec

from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import OrderStatus, Side


class OrderStatusReport(msgspec.Struct, frozen=True, kw_only=True):
    """One order the venue holds open for our account.

    Fields:
        client_order_id: our id for it; ``""`` when the venue adapter does not know the order
            (an orphan: placed by another process or by hand).
        venue_order_id: the venue's id (the order hash on Polymarket).
        token_id: the outcome token.
        side: BUY or SELL (our side).
        price: limit price (micro-units).
        size: original size (micro-shares).
        filled_size: size the venue has matched so far (micro-shares).
        status: ACCEPTED or PARTIALLY_FILLED (a listed order is open).
        ts_ns: when the venue was asked (ns).
    """

    client_order_id: str
    venue_order_id: str
    token_id: str
    side: Side
    price: int
    size: int
    filled_size: int
    status: OrderStatus
    ts_ns: int


class FillReport(msgspec.Struct, frozen=True, kw_only=True):
    """One fill of one of our orders as the venue lists it (a counted one: a fill whose trade
    failed at the venue is not reported).

    Fields are :class:`~polytraders.model.fills.Fill`'s (the fill id derived the same way
    the venue adapter derives it when it books the fill, so a report and a booked fill with
    the same id are the same execution), without the receive time.
    """

    fill_id: str
    client_order_id: str
    venue_order_id: str
    token_id: str
    market_id: str
    side: Side
    price: int
    size: int
    fee: int
    liquidity: LiquiditySide
    ts_event_ns: int
    fee_size: int = 0

    @property
    def position_change(self) -> int:
        """Signed micro-units the holding moves by (:attr:`Fill.position_change`)."""
        return self.size - self.fee_size if self.side is Side.BUY else -self.size

    @classmethod
    def of(cls, fill: Fill) -> FillReport:
        """The report of a fill (its receive time dropped)."""
        return cls(
            fill_id=fill.fill_id,
            client_order_id=fill.client_order_id,
            venue_order_id=fill.venue_order_id,
            token_id=fill.token_id,
            market_id=fill.market_id,
            side=fill.side,
            price=fill.price,
            size=fill.size,
            fee=fill.fee,
            liquidity=fill.liquidity,
            ts_event_ns=fill.ts_event_ns,
            fee_size=fill.fee_size,
        )

    def to_fill(self, ts_recv_ns: int) -> Fill:
        """The fill to book, received at ``ts_recv_ns``."""
        return Fill(
            fill_id=self.fill_id,
            client_order_id=self.client_order_id,
            venue_order_id=self.venue_order_id,
            token_id=self.token_id,
            market_id=self.market_id,
            side=self.side,
            price=self.price,
            size=self.size,
            fee=self.fee,
            liquidity=self.liquidity,
            ts_event_ns=self.ts_event_ns,
            ts_recv_ns=ts_recv_ns,
            fee_size=self.fee_size,
        )


class PositionReport(msgspec.Struct, frozen=True, kw_only=True):
    """Our holding of one token at the venue: ``size`` micro-shares (micro-units of the base
    asset on a crypto venue), signed: ≥ 0 on Polymarket, where a position is a token balance;
    negative for a short perpetual position (the ccxt venue); on a spot venue the base asset
    held, ``free + locked`` less the dust of our buys' commissions (the ccxt venue)."""

    token_id: str
    size: int


class StopOrderReport(msgspec.Struct, frozen=True, kw_only=True):
    """One conditional (stop) order the venue holds open for us, not yet triggered (the ccxt
    venue: Binance's Algo Service orders).

    Fields:
        client_order_id: the client id it was placed with (``clientAlgoId``).
        venue_order_id: the venue's id (``algoId``).
        token_id: the instrument.
        side: the side of the market order it becomes when triggered.
        order_type: ``STOP_MARKET`` or ``TAKE_PROFIT_MARKET``.
        stop_price: trigger price (micro-units).
        size: quantity (micro-units); 0 for a close-position order.
        close_position: closes the whole position when triggered.
        reduce_only: may only reduce the position.
        working_type: the price it watches (``MARK_PRICE`` or ``CONTRACT_PRICE``).
        ts_ns: when the venue was asked (ns).
    """

    client_order_id: str
    venue_order_id: str
    token_id: str
    side: Side
    order_type: str
    stop_price: int
    size: int
    close_position: bool
    reduce_only: bool
    working_type: str
    ts_ns: int


class VenueSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What the venue holds for us at ``ts_ns``: open orders, the fills of our orders and our
    holdings, taken together (a venue that cannot answer consistently raises instead, see the
    venue's :meth:`reconciliation_snapshot`).

    Fields:
        venue: the venue's name (``polymarket``, ``paper``).
        ts_ns: when the snapshot was asked for (ns, the caller's clock).
        orders: open orders, in the venue's order.
        fills: every counted fill of our orders the venue lists, oldest first.
        positions: one report per token the venue trades for us, by token id.
        stops: open conditional (stop) orders, by venue id (venues without them: empty).
    """

    venue: str
    ts_ns: int
    orders: tuple[OrderStatusReport, ...] = ()
    fills: tuple[FillReport, ...] = ()
    positions: tuple[PositionReport, ...] = ()
    stops: tuple[StopOrderReport, ...] = ()
