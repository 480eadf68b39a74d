"""The desk's ledger: exact positions per token, cash, fees, realized PnL, settlement at
resolution, perpetuals' funding payments, a mark-to-mid equity curve, and snapshot/restore.

All money is integer micro-units of the quote currency (micro-pUSD on Polymarket), all sizes
micro-shares, all times ns since the Unix epoch.

Cash rules (``../shared/POLYMARKET.md`` "Orders"/"Fees"; DESIGN.md "Model"):

- a BUY fill pays ``notional_micros(price, size)`` (⌊price × size / 10⁶⌋) plus its fee;
- a SELL fill receives ``notional_micros(price, size)`` minus its fee;
- a BUY whose commission the venue kept in the bought asset (``Fill.fee_size`` > 0: Binance
  spot, which credits ``size − fee_size``) pays the notional of the whole ``size`` and no
  quote fee; the position grows by ``size − fee_size`` at the fill price, and the fee booked
  (:attr:`Fill.booked_fee <polytraders.model.fills.Fill.booked_fee>`, in :attr:`Ledger.fees`)
  is ``notional(price, size) − notional(price, size − fee_size)``: cash, positions and
  therefore ``cash + Σ size × mark`` are exactly the venue's balances, and the one rounding
  (``Fill.fee``, the commission × price rounded up, against that difference) shows only in
  the ``fees`` figure, which may differ from Σ ``Fill.fee``;
- settlement of a resolved market pays, per token held, ``notional_micros(payout, size)``
  (payout 1_000_000 for the winning token, 0 for the loser) and closes the position; the PnL
  realized by settlement is that payout minus the position's remaining cost basis;
- a perpetual's funding payment (:class:`~polytraders.model.events.FundingPayment`, reported
  by the venue at a funding time) moves cash by its signed ``amount`` (negative: paid) and is
  counted in :attr:`Ledger.funding`, a line of its own beside the positions' realized PnL.

The books therefore balance exactly, at every moment (property-tested)::

    cash == initial_cash + deposits + Σ realized_pnl − Σ fees + funding − Σ open cost_basis

where the sums run over all positions (realized PnL includes settlement). Equivalently:
``cash == initial_cash + deposits − Σ BUY notional + Σ SELL notional − Σ fees paid in the quote
(``Fill.cash_fee``) + Σ payouts + funding``, each notional of the fill's whole ``size``.

Fills are idempotent by ``fill_id`` and funding payments by ``funding_id``: one seen twice
(e.g. replayed after a restart, or re-polled) is ignored the second time and reported as such.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import msgspec

from polytraders.model.events import FundingPayment
from polytraders.model.exposure import ExposureReport, OrderLike, portfolio_exposure
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market
from polytraders.model.money import notional_micros
from polytraders.model.orders import Side
from polytraders.model.position import Position


class PositionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A position's exact state, as snapshotted (see :class:`Position` for the fields)."""

    token_id: str
    size: int
    cost_basis: int
    realized_pnl: int
    fees: int
    fill_count: int


class Settlement(msgspec.Struct, frozen=True, kw_only=True):
    """One token's settlement at resolution.

    Fields: ``market_id``, ``token_id``, ``size`` (micro-shares settled, signed),
    ``payout_per_share`` (micro-pUSD, 0 or 1_000_000), ``cash`` (micro-pUSD credited, signed),
    ``realized_pnl`` (cash − cost basis released), ``ts_ns``.
    """

    market_id: str
    token_id: str
    size: int
    payout_per_share: int
    cash: int
    realized_pnl: int
    ts_ns: int


class EquityPoint(msgspec.Struct, frozen=True, array_like=True):
    """One point of the equity curve: (``ts_ns``, ``equity`` micro-units)."""

    ts_ns: int
    equity: int


class LedgerSnapshot(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Everything a :class:`Ledger` needs to resume after a restart (JSON via msgspec).

    Fields: ``initial_cash``, ``deposits``, ``cash``, ``positions``, ``settled_markets``,
    ``settlements``, ``seen_fill_ids`` (sorted), ``marks`` (last mark price per token, sorted),
    ``token_markets`` (token → market id, sorted), ``equity_curve``, ``peak_equity``,
    ``buy_notional``, ``sell_notional``, ``volume``, ``maker_volume``, ``funding_payments``
    (every funding payment booked, in order; left out of the JSON when there is none, so a
    ledger without funding encodes as before funding was booked).
    """

    initial_cash: int
    deposits: int
    cash: int
    positions: tuple[PositionRecord, ...]
    settled_markets: tuple[str, ...]
    settlements: tuple[Settlement, ...]
    seen_fill_ids: tuple[str, ...]
    marks: tuple[tuple[str, int], ...]
    token_markets: tuple[tuple[str, str], ...]
    equity_curve: tuple[EquityPoint, ...]
    peak_equity: int
    buy_notional: int
    sell_notional: int
    volume: int
    maker_volume: int
    funding_payments: tuple[FundingPayment, ...] = ()

    @property
    def funding(self) -> int:
        """Net amount of :attr:`funding_payments` (micro; negative: paid)."""
        return sum(p.amount for p in self.funding_payments)


_SNAPSHOT_ENCODER = msgspec.json.Encoder()
_SNAPSHOT_DECODER = msgspec.json.Decoder(LedgerSnapshot)

MidSource = Callable[[str], "int | None"]
"""token id → current mid price (micro-units) or None when the book has no two-sided mid."""


class Ledger:
    """Exact accounting of one account's positions and cash.

    Attributes (read-only for callers):
        initial_cash: collateral at the start (micro).
        deposits: later deposits (+) and withdrawals (−) (micro).
        cash: free collateral now (micro).
        equity_curve: mark-to-mid equity points, one per :meth:`mark` that changed equity;
            with ``equity_interval_ns`` set, the first point and then at most one per
            interval of that length (the interval's last change).
        equity_interval_ns: 0 (the default, a backtest's: every change is a point) or the
            interval that thins the curve (a live session's: its memory stays bounded).
        equity_sink: None, or called with (ts_ns, equity) for every point the unthinned
            curve gets (each :meth:`mark` that changed equity), thinned or not: a live
            session's outputs keep the whole curve on disk through it.
        peak_equity: highest equity marked so far (micro).
        max_drawdown: largest fall (micro, ≥ 0) of a marked equity below the highest marked
            before it, over every mark (thinned or not): what
            :func:`polytraders.backtest.result.max_drawdown` gives over the unthinned curve.
            After :meth:`restore` it counts from the restored curve's points.
        settlements: every settlement booked, in order.
        funding_payments: every funding payment booked, in order.
        funding: their net amount (micro; negative: paid).
        volume / maker_volume: traded notional in total and as maker (micro).
    """

    def __init__(self, initial_cash: int = 0, *, equity_interval_ns: int = 0) -> None:
        if initial_cash < 0:
            raise ValueError("initial cash must not be negative")
        if equity_interval_ns < 0:
            raise ValueError("the equity interval must not be negative")
        self.initial_cash = initial_cash
        self.deposits = 0
        self.cash = initial_cash
        self._positions: dict[str, Position] = {}
        self._token_market: dict[str, str] = {}
        self._settled: set[str] = set()
        self.settlements: list[Settlement] = []
        self.funding_payments: list[FundingPayment] = []
        self.funding = 0
        self._funding_ids: set[str] = set()
        self._seen_fills: set[str] = set()
        self._undo: dict[str, tuple[Fill, tuple[int, int, int, int, int] | None]] = {}
        """fill id → (the fill, its token's position state before it, None when the fill
        opened the position): what a reversal needs, kept for the latest fill of each token
        only (no other can be reversed), so it stays as small as the positions."""
        self._reverted: set[str] = set()
        """ids of the fills reversed (rare): told apart from fills no longer the latest."""
        self._latest_fill: dict[str, str] = {}
        """token id → id of the latest fill booked on it (only that one can be reversed)."""
        self._marks: dict[str, int] = {}
        self.equity_curve: list[EquityPoint] = []
        self.equity_interval_ns = equity_interval_ns
        self.equity_sink: Callable[[int, int], None] | None = None
        self.peak_equity = initial_cash
        self.max_drawdown = 0
        self._curve_peak: int | None = None
        self.buy_notional = 0
        self.sell_notional = 0
        self.volume = 0
        self.maker_volume = 0
        self._watcher: Callable[[str], None] | None = None

    def watch(self, on_position_change: Callable[[str], None]) -> None:
        """Call ``on_position_change(token_id)`` after every change of a position's size or
        cost basis (fill, reversal, settlement, :meth:`set_position`), so an owner can keep
        figures derived from positions up to date (the desk state's exposure and equity).

        Raises:
            ValueError: the ledger is already watched (one owner).
        """
        if self._watcher is not None:
            raise ValueError("this ledger is already watched by another owner")
        self._watcher = on_position_change

    def _changed(self, token_id: str) -> None:
        if self._watcher is not None:
            self._watcher(token_id)

    # ------------------------------------------------------------------ metadata
    def register_market(self, market: Market) -> None:
        """Learn which market each of ``market``'s tokens belongs to (for settlement and
        per-market exposure)."""
        for token in market.tokens:
            self._token_market[token.token_id] = market.market_id

    def market_of(self, token_id: str) -> str | None:
        """The market id of a registered token, or None."""
        return self._token_market.get(token_id)

    # ------------------------------------------------------------------ positions
    def position(self, token_id: str) -> Position | None:
        """The position in ``token_id`` or None if never traded."""
        return self._positions.get(token_id)

    def positions(self) -> list[Position]:
        """All positions (flat ones included), in first-traded order."""
        return list(self._positions.values())

    def size(self, token_id: str) -> int:
        """Signed micro-shares held in ``token_id`` (0 if never traded)."""
        position = self._positions.get(token_id)
        return position.size if position is not None else 0

    def set_position(self, token_id: str, size: int, cost_basis: int) -> Position:
        """Put a position in place without moving cash (fixtures and reconciliation from a
        venue's reported holdings). Realized PnL and fees of the position are kept.

        Raises:
            ValueError: a flat position with a non-zero cost basis.
        """
        if size == 0 and cost_basis != 0:
            raise ValueError("a flat position has no cost basis")
        position = self._positions.setdefault(token_id, Position(token_id))
        position.size = size
        position.cost_basis = cost_basis
        self._changed(token_id)
        return position

    def deposit(self, amount: int) -> None:
        """Add (or, negative, withdraw) collateral.

        Raises:
            ValueError: a withdrawal larger than the free cash.
        """
        if self.cash + amount < 0:
            raise ValueError("withdrawal exceeds free cash")
        self.deposits += amount
        self.cash += amount

    # ------------------------------------------------------------------ fills
    def apply_fill(self, fill: Fill) -> bool:
        """Book one fill: position, cash, fee, volume. Returns False (and changes nothing) if
        this ``fill_id`` was already booked.

        A BUY with ``fee_size`` > 0 is booked as the module docstring says (position
        ``+ size − fee_size``, cash ``− notional(price, size)``, no quote fee).

        Raises:
            ValueError: size ≤ 0, negative price, a negative fee, or ``fee_size`` outside
                [0, size] or on a SELL (nothing changes).
        """
        if fill.fill_id in self._seen_fills:
            return False
        if fill.size <= 0 or fill.price < 0 or fill.fee < 0:
            raise ValueError(f"invalid fill {fill.fill_id}: size, price and fee out of range")
        problem = fill.fee_problem()
        if problem is not None:
            raise ValueError(f"invalid fill: {problem}")
        previous = self._latest_fill.get(fill.token_id)
        if previous is not None:  # no longer the latest: it can never be reversed
            del self._undo[previous]
        position = self._positions.get(fill.token_id)
        if position is None:
            position = self._positions[fill.token_id] = Position(fill.token_id)
            self._undo[fill.fill_id] = (fill, None)
        else:
            self._undo[fill.fill_id] = (
                fill,
                (
                    position.size,
                    position.cost_basis,
                    position.realized_pnl,
                    position.fees,
                    position.fill_count,
                ),
            )
        self._latest_fill[fill.token_id] = fill.fill_id
        position.apply(fill)
        notional = notional_micros(fill.price, fill.size)
        if fill.side is Side.BUY:
            self.cash -= notional
            self.buy_notional += notional
        else:
            self.cash += notional
            self.sell_notional += notional
        self.cash -= fill.cash_fee
        self.volume += notional
        if fill.liquidity is LiquiditySide.MAKER:
            self.maker_volume += notional
        if fill.market_id and fill.token_id not in self._token_market:
            self._token_market[fill.token_id] = fill.market_id
        self._seen_fills.add(fill.fill_id)
        self._changed(fill.token_id)
        return True

    def revert_fill(self, fill_id: str) -> Fill:
        """Take back a fill the venue counted and then reported failed (Polymarket: a MATCHED
        trade that ends FAILED; ``../shared/POLYMARKET.md`` "Market data", user channel).

        Exact: the token's position returns to its state before the fill (size, cost basis,
        realized PnL, fees) and cash and volumes lose the fill's flows, as if it had never been
        booked. The fill id stays seen, so the same fill is never booked again. Only the latest
        fill of its token can be reversed this way; anything else needs a reconciliation with
        the venue, so it is refused (fail closed) rather than approximated.

        Returns:
            The reversed fill.

        Raises:
            KeyError: the fill was never booked, or was already reversed.
            ValueError: a later fill on the same token, the fill was booked before a restore
                (its undo record is not in a snapshot), or its market has settled.
        """
        entry = self._undo.get(fill_id)
        if entry is None:
            if fill_id in self._seen_fills and fill_id not in self._reverted:
                raise ValueError(f"fill {fill_id} is not the latest on its token: reconcile")
            raise KeyError(f"fill {fill_id} was not booked in this ledger (or was reversed)")
        fill, before = entry
        if self._latest_fill.get(fill.token_id) != fill_id:
            raise ValueError(
                f"fill {fill_id} is not the latest on {fill.token_id}: reconcile with the venue"
            )
        market_id = self._token_market.get(fill.token_id)
        if market_id is not None and market_id in self._settled:
            raise ValueError(f"fill {fill_id}: market {market_id} has already settled")
        if before is None:  # the fill opened the position: it goes as if never traded
            del self._positions[fill.token_id]
        else:
            position = self._positions[fill.token_id]
            (
                position.size,
                position.cost_basis,
                position.realized_pnl,
                position.fees,
                position.fill_count,
            ) = before
        notional = notional_micros(fill.price, fill.size)
        if fill.side is Side.BUY:
            self.cash += notional
            self.buy_notional -= notional
        else:
            self.cash -= notional
            self.sell_notional -= notional
        self.cash += fill.cash_fee
        self.volume -= notional
        if fill.liquidity is LiquiditySide.MAKER:
            self.maker_volume -= notional
        del self._undo[fill_id]
        del self._latest_fill[fill.token_id]
        self._reverted.add(fill_id)
        self._changed(fill.token_id)
        return fill

    # ------------------------------------------------------------------ funding
    def apply_funding(self, payment: FundingPayment) -> bool:
        """Book a perpetual's funding payment: cash and :attr:`funding` move by its signed
        ``amount``; no position changes. Returns False (and changes nothing) if this
        ``funding_id`` was already booked."""
        if payment.funding_id in self._funding_ids:
            return False
        self._funding_ids.add(payment.funding_id)
        self.funding_payments.append(payment)
        self.funding += payment.amount
        self.cash += payment.amount
        return True

    # ------------------------------------------------------------------ settlement
    def settle(self, market_id: str, payouts: Mapping[str, int], ts_ns: int) -> list[Settlement]:
        """Settle a resolved market: every held share of token ``t`` pays ``payouts[t]``
        micro-pUSD and the position closes. A market settles once; later calls return [].

        Args:
            market_id: the resolved market.
            payouts: token id → payout per share (micro-pUSD), for every token of the market.
            ts_ns: resolution time.

        Raises:
            ValueError: a held token of this market has no payout, or a payout outside [0, 1].
        """
        if market_id in self._settled:
            return []
        for token_id, payout in payouts.items():
            if not 0 <= payout <= 1_000_000:
                raise ValueError(f"payout {payout} for {token_id} outside [0, 1_000_000]")
        held = [
            p
            for p in self._positions.values()
            if self._token_market.get(p.token_id) == market_id and p.size != 0
        ]
        missing = [p.token_id for p in held if p.token_id not in payouts]
        if missing:
            raise ValueError(f"no payout for held tokens {missing} of market {market_id}")
        booked: list[Settlement] = []
        for position in held:
            payout = payouts[position.token_id]
            cash = notional_micros(payout, position.size)
            realized = cash - position.cost_basis
            booked.append(
                Settlement(
                    market_id=market_id,
                    token_id=position.token_id,
                    size=position.size,
                    payout_per_share=payout,
                    cash=cash,
                    realized_pnl=realized,
                    ts_ns=ts_ns,
                )
            )
            self.cash += cash
            position.realized_pnl += realized
            position.size = 0
            position.cost_basis = 0
            self._marks[position.token_id] = payout
            self._changed(position.token_id)
        for token_id, payout in payouts.items():
            if self._token_market.get(token_id, market_id) == market_id:
                self._marks[token_id] = payout
        self._settled.add(market_id)
        self.settlements.extend(booked)
        return booked

    def is_settled(self, market_id: str) -> bool:
        """True once :meth:`settle` booked ``market_id``."""
        return market_id in self._settled

    # ------------------------------------------------------------------ totals
    @property
    def realized_pnl(self) -> int:
        """Σ realized PnL over all positions, settlement included, before fees (micro)."""
        return sum(p.realized_pnl for p in self._positions.values())

    @property
    def fees(self) -> int:
        """Σ fees booked (micro; :attr:`Fill.booked_fee <polytraders.model.fills.Fill.booked_fee>`
        of each fill, a commission paid in the bought asset included)."""
        return sum(p.fees for p in self._positions.values())

    @property
    def settled_payouts(self) -> int:
        """Σ cash credited by settlements (micro)."""
        return sum(s.cash for s in self.settlements)

    def open_cost_basis(self) -> int:
        """Σ cost basis of the open positions (micro)."""
        return sum(p.cost_basis for p in self._positions.values())

    def reconciliation_error(self) -> int:
        """``cash − (initial + deposits + realized − fees + funding − open cost basis)``:
        always 0 for a consistent ledger (the money-conservation identity of the module
        docstring)."""
        expected = (
            self.initial_cash
            + self.deposits
            + self.realized_pnl
            - self.fees
            + self.funding
            - self.open_cost_basis()
        )
        return self.cash - expected

    def exposure(
        self, markets: Iterable[Market], orders: Iterable[OrderLike] = ()
    ) -> ExposureReport:
        """Complement-aware worst-case loss at resolution per market, neg-risk event and in
        total, of our positions plus ``orders`` (open orders, counted as filling adversely).
        The formula is :func:`polytraders.model.exposure.portfolio_exposure`.

        Raises:
            polytraders.model.exposure.UnknownTokenError: a held token of no given market.
        """
        return portfolio_exposure(markets, self._positions.values(), orders)

    # ------------------------------------------------------------------ marking
    def mark_price(self, token_id: str, mid: MidSource) -> int | None:
        """The price ``token_id`` is marked at: the book mid, else the last mark recorded by
        :meth:`mark` (or a settlement payout), else None (the caller then marks at cost).
        Reading never changes the ledger."""
        price = mid(token_id)
        return price if price is not None else self._marks.get(token_id)

    def position_value(self, token_id: str, mid: MidSource) -> int:
        """What the position in ``token_id`` adds to :meth:`equity` (micro): its size at its
        mark price (:meth:`mark_price`), or its cost basis while it has no mark yet (zero
        unrealized PnL); 0 when flat or never traded."""
        position = self._positions.get(token_id)
        if position is None or position.size == 0:
            return 0
        price = self.mark_price(token_id, mid)
        return position.cost_basis if price is None else notional_micros(price, position.size)

    def equity(self, mid: MidSource) -> int:
        """Cash + Σ open positions marked to mid (micro), each as :meth:`position_value`."""
        return self.cash + sum(self.position_value(token_id, mid) for token_id in self._positions)

    def mark(self, ts_ns: int, mid: MidSource) -> int:
        """Mark to mid at ``ts_ns``: append an equity point when equity changed since the last
        point (with ``equity_interval_ns``, replace the last point instead when it is not the
        first and lies in the same interval; either way tell :attr:`equity_sink`), update the
        peak and the maximum drawdown, and remember each open position's mid as its last mark
        (used while its book has no mid); return the equity (micro)."""
        # one pass: remember each open position's mid as its mark and value it, as
        # ``equity(mid)`` would right after (its price is the mid, else the last mark)
        marks = self._marks
        value = self.cash
        for position in self._positions.values():
            size = position.size
            if size != 0:
                token_id = position.token_id
                price = mid(token_id)
                if price is not None:
                    marks[token_id] = price
                else:
                    price = marks.get(token_id)
                value += position.cost_basis if price is None else notional_micros(price, size)
        curve = self.equity_curve
        if not curve or curve[-1].equity != value:
            interval = self.equity_interval_ns
            if interval and len(curve) > 1 and curve[-1].ts_ns // interval == ts_ns // interval:
                curve[-1] = EquityPoint(ts_ns, value)
            else:
                curve.append(EquityPoint(ts_ns, value))
            if self.equity_sink is not None:
                self.equity_sink(ts_ns, value)
        self.peak_equity = max(self.peak_equity, value)
        self._drawdown(value)
        return value

    def _drawdown(self, value: int) -> None:
        """Count a marked equity in :attr:`max_drawdown`."""
        peak = self._curve_peak
        if peak is None or value > peak:
            self._curve_peak = value
        elif peak - value > self.max_drawdown:
            self.max_drawdown = peak - value

    def unrealized_pnl(self, mid: MidSource) -> int:
        """Σ unrealized PnL of open positions at their marks (micro)."""
        total = 0
        for position in self._positions.values():
            if position.size == 0:
                continue
            price = self.mark_price(position.token_id, mid)
            if price is not None:
                total += position.unrealized_pnl(price)
        return total

    # ------------------------------------------------------------------ persistence
    def snapshot(self) -> LedgerSnapshot:
        """The ledger's full state (deterministic: every collection sorted or in book order)."""
        return LedgerSnapshot(
            initial_cash=self.initial_cash,
            deposits=self.deposits,
            cash=self.cash,
            positions=tuple(
                PositionRecord(
                    token_id=p.token_id,
                    size=p.size,
                    cost_basis=p.cost_basis,
                    realized_pnl=p.realized_pnl,
                    fees=p.fees,
                    fill_count=p.fill_count,
                )
                for p in self._positions.values()
            ),
            settled_markets=tuple(sorted(self._settled)),
            settlements=tuple(self.settlements),
            seen_fill_ids=tuple(sorted(self._seen_fills)),
            marks=tuple(sorted(self._marks.items())),
            token_markets=tuple(sorted(self._token_market.items())),
            equity_curve=tuple(self.equity_curve),
            peak_equity=self.peak_equity,
            buy_notional=self.buy_notional,
            sell_notional=self.sell_notional,
            volume=self.volume,
            maker_volume=self.maker_volume,
            funding_payments=tuple(self.funding_payments),
        )

    @classmethod
    def restore(cls, snapshot: LedgerSnapshot) -> Ledger:
        """A ledger in exactly the state ``snapshot`` recorded.

        Raises:
            ValueError: the snapshot does not reconcile (cash disagrees with its positions).
        """
        ledger = cls(snapshot.initial_cash)
        ledger.deposits = snapshot.deposits
        ledger.cash = snapshot.cash
        for record in snapshot.positions:
            position = Position(record.token_id)
            position.size = record.size
            position.cost_basis = record.cost_basis
            position.realized_pnl = record.realized_pnl
            position.fees = record.fees
            position.fill_count = record.fill_count
            ledger._positions[record.token_id] = position
        ledger._settled = set(snapshot.settled_markets)
        ledger.settlements = list(snapshot.settlements)
        ledger._seen_fills = set(snapshot.seen_fill_ids)
        ledger._marks = dict(snapshot.marks)
        ledger._token_market = dict(snapshot.token_markets)
        ledger.equity_curve = list(snapshot.equity_curve)
        for point in ledger.equity_curve:
            ledger._drawdown(point.equity)
        ledger.peak_equity = snapshot.peak_equity
        ledger.buy_notional = snapshot.buy_notional
        ledger.sell_notional = snapshot.sell_notional
        ledger.volume = snapshot.volume
        ledger.maker_volume = snapshot.maker_volume
        for payment in snapshot.funding_payments:
            ledger.funding_payments.append(payment)
            ledger._funding_ids.add(payment.funding_id)
            ledger.funding += payment.amount
        if ledger.reconciliation_error() != 0:
            raise ValueError("ledger snapshot does not reconcile: cash disagrees with positions")
        return ledger

    def to_json(self) -> bytes:
        """The snapshot as JSON bytes (deterministic)."""
        return _SNAPSHOT_ENCODER.encode(self.snapshot())

    @classmethod
    def from_json(cls, data: bytes | str) -> Ledger:
        """Restore from :meth:`to_json` output.

        Raises:
            msgspec.ValidationError / msgspec.DecodeError: malformed data.
            ValueError: the snapshot does not reconcile.
        """
        return cls.restore(_SNAPSHOT_DECODER.decode(data))


def apply_fills(ledger: Ledger, fills: Iterable[Fill]) -> int:
    """Book ``fills`` in order; return how many were new (not seen before)."""
    return sum(1 for fill in fills if ledger.apply_fill(fill))
