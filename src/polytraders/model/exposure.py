"""Worst-case loss at resolution ("settlement exposure") of binary-market positions and orders.

A binary market pays 1 pUSD per share of the winning token and 0 for the other, so the money a
book of positions can lose at resolution is known exactly for each outcome. This module computes
it, complement-aware (DESIGN.md "Model": buying YES at p is selling NO at 1 − p; holding YES and
NO together offsets), per market, per neg-risk event, and in total: :func:`portfolio_exposure`
from scratch, :class:`ExposureBook` kept up to date change by change (the desk state's, read by
``risk.exposureguard`` and the desk's gate through ``DeskView.exposure``). Pure: no I/O, no
clock, integers only.

Units: every loss is micro-pUSD (negative = a gain); sizes micro-shares; prices micro-pUSD per
share. "First" and "second" name a market's ``tokens[0]`` (YES/UP) and ``tokens[1]`` (NO/DOWN).

Definitions (all exact integer arithmetic):

- Held loss of a market, outcome o: ``cost_basis(first) + cost_basis(second) − size(o wins)``:
  what was paid for the open shares minus what the winning shares pay. A long-only YES position
  of 100 shares bought at 0.40 loses 40 pUSD if NO wins and gains 60 if YES wins; adding 100 NO
  bought at 0.55 makes both outcomes a 5 pUSD gain (worst-case loss 0).
- Pending loss: every open order is assumed to fill exactly when filling hurts (adverse
  selection), separately for each outcome, so only the positive part of each order's effect
  counts. A BUY of ``s`` shares at ``p`` adds ``p·s`` if its token loses (and gains
  ``(1 − p)·s`` if it wins: ignored); a SELL adds ``(1 − p)·s`` if its token wins. A BUY sized by
  notional ``N`` (FOK/FAK) adds ``N`` if its token loses. Losses round up, gains toward zero.
- Market worst-case loss: ``max(0, loss if first wins, loss if second wins)``.
- Neg-risk event (mutually exclusive markets, at most one resolves YES): scenario "market k
  wins" is ``loss_k(first) + Σ_{m≠k} loss_m(second)``; the event's worst-case loss is the largest
  scenario, also counting "no market wins" (``Σ loss_m(second)``) unless the caller states that
  exactly one wins. This is the tighter, offsetting bound: a NO in one market hedges a YES in
  another.
- Total: the sum over neg-risk events of their worst-case loss plus the sum over standalone
  markets of theirs (independent outcomes are not netted against each other).

An *amount* is what an order is sized by: micro-shares, or micro-pUSD for a BUY sized by
notional. A :class:`OutcomeLoss` of *rates* holds the loss per 10⁶ units of amount in each
outcome (see :func:`order_rates`), and :func:`max_amount_within` solves for the largest amount
that keeps a worst-case loss under a cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from polytraders.model.market import Market
from polytraders.model.money import MICROS
from polytraders.model.orders import Side


class OutcomeLoss(NamedTuple):
    """Loss in micro-pUSD (negative = gain) if the market's first (YES/UP) or second (NO/DOWN)
    token wins. Also used for *rates*: loss per 10⁶ units of an order's amount."""

    if_first: int
    if_second: int

    @property
    def worst(self) -> int:
        """Worst-case loss, never below 0: ``max(0, if_first, if_second)``."""
        return max(0, self.if_first, self.if_second)

    def plus(self, other: OutcomeLoss) -> OutcomeLoss:
        """Outcome-wise sum."""
        return OutcomeLoss(self.if_first + other.if_first, self.if_second + other.if_second)

    def shifted(self, amount: int) -> OutcomeLoss:
        """Both outcomes plus ``amount``."""
        return OutcomeLoss(self.if_first + amount, self.if_second + amount)


ZERO = OutcomeLoss(0, 0)
"""No loss in either outcome."""


class HoldingLike(Protocol):
    """A position: signed micro-shares and the signed cost (micro-pUSD) of the open size.

    Satisfied by :class:`polytraders.model.position.Position` and the desk's ``PositionView``.
    """

    @property
    def token_id(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def cost_basis(self) -> int: ...


class OrderLike(Protocol):
    """An open order. Satisfied by :class:`polytraders.model.orders.VenueOrder`.

    ``remaining_size`` is the open micro-shares; ``notional`` > 0 with ``size`` 0 marks a BUY
    sized in micro-pUSD (counted at its full notional: the unfilled part is unknown).
    """

    @property
    def token_id(self) -> str: ...
    @property
    def intent_id(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def price(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def notional(self) -> int: ...
    @property
    def remaining_size(self) -> int: ...


class UnknownTokenError(ValueError):
    """A position or order names a token that belongs to no known market (fail closed: a
    worst-case loss cannot be computed without knowing which outcome the token is)."""


def scale(rate: int, amount: int) -> int:
    """``rate × amount / 10⁶`` rounded against us: losses (rate > 0) up, gains toward zero."""
    return -((-rate * amount) // MICROS)  # ceil(x) = -floor(-x); for x < 0 that is toward 0


def holding_loss(size: int, cost_basis: int, is_first: bool) -> OutcomeLoss:
    """Loss per outcome of holding ``size`` micro-shares (signed) of one token that cost
    ``cost_basis`` micro-pUSD (signed), the token being the market's first (``is_first``) or
    second. Loss if the token wins: ``cost − size``; if it loses: ``cost``."""
    payout_first = size if is_first else 0
    payout_second = 0 if is_first else size
    return OutcomeLoss(cost_basis - payout_first, cost_basis - payout_second)


def order_rates(side: Side, price: int, is_first: bool, by_notional: bool = False) -> OutcomeLoss:
    """Loss per 10⁶ units of an order's amount, per outcome (a *rate* :class:`OutcomeLoss`).

    By size (amount = micro-shares): BUY at ``p`` loses ``p`` per share if its token loses and
    gains ``1 − p`` if it wins; SELL is the mirror (loses ``1 − p`` if its token wins, gains
    ``p`` otherwise). By notional (BUY only, amount = micro-pUSD): loses the whole amount if its
    token loses; the gain if it wins (at least ``amount / p − amount``) is counted as 0.

    Raises:
        ValueError: price outside ``(0, 1)`` pUSD, or a SELL sized by notional.
    """
    if not 0 < price < MICROS:
        raise ValueError(f"binary price must lie strictly between 0 and 1 pUSD, got {price}")
    if by_notional:
        if side is not Side.BUY:
            raise ValueError("only a BUY can be sized by notional")
        own, other = 0, MICROS
    elif side is Side.BUY:
        own, other = price - MICROS, price
    else:
        own, other = MICROS - price, -price
    return OutcomeLoss(own, other) if is_first else OutcomeLoss(other, own)


def amount_loss(rates: OutcomeLoss, amount: int) -> OutcomeLoss:
    """Loss per outcome of ``amount`` units at ``rates`` (rounded against us, see :func:`scale`)."""
    return OutcomeLoss(scale(rates.if_first, amount), scale(rates.if_second, amount))


def adverse_loss(rates: OutcomeLoss, amount: int) -> OutcomeLoss:
    """Pending loss of an open order: per outcome, its loss if positive, else 0 (the order is
    assumed to fill exactly when filling hurts)."""
    loss = amount_loss(rates, amount)
    return OutcomeLoss(max(0, loss.if_first), max(0, loss.if_second))


def _pending(
    side: Side, price: int, is_first: bool, by_notional: bool, amount: int
) -> tuple[int, int]:
    """An open order's pending loss (if first wins, if second wins): :func:`adverse_loss` of
    :func:`order_rates`, unrolled (the hot path of both exposure computations).

    Raises:
        ValueError: as :func:`order_rates`.
    """
    rate_first, rate_second = order_rates(side, price, is_first, by_notional)
    return (
        -((-rate_first * amount) // MICROS) if rate_first > 0 else 0,
        -((-rate_second * amount) // MICROS) if rate_second > 0 else 0,
    )


def max_amount_within(base: OutcomeLoss, rates: OutcomeLoss, cap: int) -> int | None:
    """Largest amount ``a ≥ 0`` keeping ``base.plus(amount_loss(rates, a)).worst`` at most
    ``max(cap, base.worst)``.

    The cap is relaxed to the current worst-case loss when that already exceeds it, so an order
    that does not raise the worst case always fits (a hedge is never blocked). Returns None when
    every amount fits (no outcome's loss grows with the amount).

    Exact: for a rate ``k > 0`` the condition ``base + ⌈k·a/10⁶⌉ ≤ cap`` is ``a ≤ ⌊(cap − base)
    · 10⁶ / k⌋``.
    """
    limit = max(cap, base.worst)
    best: int | None = None
    for loss, rate in ((base.if_first, rates.if_first), (base.if_second, rates.if_second)):
        if rate > 0:
            fit = (limit - loss) * MICROS // rate
            best = fit if best is None or fit < best else best
    return best


@dataclass(frozen=True, slots=True)
class MarketExposure:
    """One market's losses at resolution.

    Fields:
        market_id: condition id.
        event_id: neg-risk event id, "" for a standalone market.
        held: loss per outcome of the positions.
        pending: adverse loss per outcome of the open orders.
    """

    market_id: str
    event_id: str
    held: OutcomeLoss
    pending: OutcomeLoss

    @property
    def combined(self) -> OutcomeLoss:
        """Held plus pending, per outcome."""
        return self.held.plus(self.pending)

    @property
    def worst(self) -> int:
        """Worst-case loss of the market with every open order filling adversely (≥ 0)."""
        return self.combined.worst


def event_scenario_loss(
    losses: Iterable[tuple[str, OutcomeLoss]], market_id: str, exactly_one_wins: bool = False
) -> OutcomeLoss:
    """A neg-risk event's losses seen from one member market, as an :class:`OutcomeLoss`.

    ``if_first``: the loss when ``market_id`` resolves YES (every other member NO).
    ``if_second``: the largest loss when it resolves NO (another member wins, or none wins
    unless ``exactly_one_wins``). ``losses`` pairs each member's id with its loss per outcome.

    Raises:
        KeyError: ``market_id`` is not among ``losses``.
    """
    pairs = list(losses)
    sum_second = sum(loss.if_second for _, loss in pairs)
    own: OutcomeLoss | None = None
    best_other: int | None = None
    for member, loss in pairs:
        if member == market_id:
            own = loss
        else:
            swing = loss.if_first - loss.if_second
            best_other = swing if best_other is None or swing > best_other else best_other
    if own is None:
        raise KeyError(f"market {market_id} is not in the event")
    if_first = sum_second - own.if_second + own.if_first
    candidates = [] if exactly_one_wins else [sum_second]
    if best_other is not None:
        candidates.append(sum_second + best_other)
    if_second = max(candidates) if candidates else if_first
    return OutcomeLoss(if_first, if_second)


def event_worst_loss(losses: Iterable[OutcomeLoss], exactly_one_wins: bool = False) -> int:
    """Worst-case loss (≥ 0) of a neg-risk event whose members have the given losses per
    outcome: the largest of "member k wins" over all k, and "none wins" unless
    ``exactly_one_wins``."""
    items = list(losses)
    if not items:
        return 0
    sum_second = sum(loss.if_second for loss in items)
    best_swing = max(loss.if_first - loss.if_second for loss in items)
    worst = sum_second + best_swing
    if not exactly_one_wins:
        worst = max(worst, sum_second)
    return max(0, worst)


class StaleExposureError(RuntimeError):
    """A report of an :class:`ExposureBook` read after the book changed (such a report stands
    for the book as it was when made, until its next change)."""


class ExposureReport:
    """Worst-case losses of a whole book (see the module docstring for definitions).

    Built by :func:`portfolio_exposure` (a snapshot) or :meth:`ExposureBook.report` (valid
    until the book next changes: reading it later raises :class:`StaleExposureError`).
    Per-market detail is materialised on demand, so the hot path (one market's group and the
    total) allocates little.

    Attributes:
        events: per neg-risk event id, its worst-case loss (≥ 0).
        total: Σ event worst-case losses + Σ standalone market worst-case losses (micro-pUSD).
        exactly_one_wins: whether event scenarios excluded "no member wins".
    """

    __slots__ = (
        "_acc",
        "_book",
        "_event_of",
        "_events",
        "_members",
        "_total",
        "_version",
        "exactly_one_wins",
    )

    def __init__(
        self,
        *,
        acc: Mapping[str, list[int]],
        event_of: Mapping[str, str],
        members: Mapping[str, list[str]],
        events: Mapping[str, int],
        total: int,
        exactly_one_wins: bool,
        book: ExposureBook | None = None,
    ) -> None:
        self._acc = acc  # market id -> [held_first, held_second, pending_first, pending_second]
        self._event_of = event_of  # every market id -> its event id ("" standalone)
        self._members = members
        self._events = events
        self._total = total
        self.exactly_one_wins = exactly_one_wins
        self._book = book
        self._version = book.version if book is not None else 0

    def _check(self) -> None:
        book = self._book
        if book is not None and book.version != self._version:
            raise StaleExposureError("exposure report read after its book changed")

    @property
    def events(self) -> Mapping[str, int]:
        """Per neg-risk event id, its worst-case loss (≥ 0)."""
        self._check()
        return self._events

    @property
    def total(self) -> int:
        """Σ event worst-case losses + Σ standalone market worst-case losses (micro-pUSD)."""
        self._check()
        return self._total

    def market(self, market_id: str) -> MarketExposure:
        """One market's :class:`MarketExposure`.

        Raises:
            KeyError: unknown market.
        """
        self._check()
        held_first, held_second, pending_first, pending_second = self._acc[market_id]
        return MarketExposure(
            market_id,
            self._event_of[market_id],
            OutcomeLoss(held_first, held_second),
            OutcomeLoss(pending_first, pending_second),
        )

    @property
    def markets(self) -> Mapping[str, MarketExposure]:
        """Per market id, its :class:`MarketExposure` (every market given, even flat)."""
        return {market_id: self.market(market_id) for market_id in self._event_of}

    def combined(self, market_id: str) -> OutcomeLoss:
        """A market's held plus pending loss per outcome.

        Raises:
            KeyError: unknown market.
        """
        self._check()
        a = self._acc[market_id]
        return OutcomeLoss(a[0] + a[2], a[1] + a[3])

    def group_base(self, market_id: str) -> OutcomeLoss:
        """The losses of the market's risk group (its event, or itself when standalone) as seen
        from the market: ``if_first`` = the group's loss if this market's first token wins,
        ``if_second`` = the group's worst loss if it loses.

        Raises:
            KeyError: unknown market.
        """
        event = self._event_of[market_id]
        if not event:
            return self.combined(market_id)
        return event_scenario_loss(
            ((m, self.combined(m)) for m in self._members[event]),
            market_id,
            self.exactly_one_wins,
        )

    def group_worst(self, market_id: str) -> int:
        """Worst-case loss of the market's group (its event's, or its own when standalone).

        Raises:
            KeyError: unknown market.
        """
        event = self._event_of[market_id]
        if event:
            return self.events[event]
        return self.combined(market_id).worst


def portfolio_exposure(
    markets: Iterable[Market],
    holdings: Iterable[HoldingLike],
    orders: Iterable[OrderLike] = (),
    exclude_intent_ids: frozenset[str] = frozenset(),
    exactly_one_wins: bool = False,
) -> ExposureReport:
    """Worst-case losses at resolution per market, per neg-risk event and in total.

    Args:
        markets: every market the holdings and orders may refer to (binary: two tokens).
        holdings: positions (signed micro-shares and cost basis); flat ones contribute nothing.
        orders: OPEN orders only (the caller filters by status).
        exclude_intent_ids: orders of these intents are left out (an order being replaced).
        exactly_one_wins: neg-risk events always have one winner (drop the "none wins" case).

    Raises:
        UnknownTokenError: a non-flat holding or an order names a token of no given market.
        ValueError: an order with a price outside ``(0, 1)`` pUSD.
    """
    token_index: dict[str, tuple[list[int], bool]] = {}
    event_of: dict[str, str] = {}
    acc: dict[str, list[int]] = {}
    members: dict[str, list[str]] = {}
    for market in markets:
        mid = market.market_id
        event = market.neg_risk_event_id
        event_of[mid] = event
        row = acc[mid] = [0, 0, 0, 0]
        tokens = market.tokens
        if len(tokens) == 2:  # a malformed market's tokens stay unknown (fail closed)
            first, second = tokens
            token_index[first.token_id] = (row, True)
            token_index[second.token_id] = (row, False)
        if event:
            members.setdefault(event, []).append(mid)
    for holding in holdings:
        size = holding.size
        cost = holding.cost_basis
        if not size and not cost:
            continue
        located = token_index.get(holding.token_id)
        if located is None:
            raise UnknownTokenError(f"position in unknown token {holding.token_id}")
        row, is_first = located
        if is_first:
            row[0] += cost - size
            row[1] += cost
        else:
            row[0] += cost
            row[1] += cost - size
    for order in orders:
        if exclude_intent_ids and order.intent_id in exclude_intent_ids:
            continue
        located = token_index.get(order.token_id)
        if located is None:
            raise UnknownTokenError(f"open order in unknown token {order.token_id}")
        row, is_first = located
        by_notional = order.notional > 0 and order.size == 0
        amount = order.notional if by_notional else order.remaining_size
        if amount <= 0:
            continue
        pending_first, pending_second = _pending(
            order.side, order.price, is_first, by_notional, amount
        )
        row[2] += pending_first
        row[3] += pending_second
    events: dict[str, int] = {}
    total = 0
    for mid, row in acc.items():
        if not event_of[mid]:
            worst = row[0] + row[2]
            other = row[1] + row[3]
            worst = max(worst, other)
            if worst > 0:
                total += worst
    for event, ids in members.items():
        worst = event_worst_loss(
            (OutcomeLoss(acc[m][0] + acc[m][2], acc[m][1] + acc[m][3]) for m in ids),
            exactly_one_wins,
        )
        events[event] = worst
        total += worst
    return ExposureReport(
        acc=acc,
        event_of=event_of,
        members=members,
        events=events,
        total=total,
        exactly_one_wins=exactly_one_wins,
    )


class _Counted(NamedTuple):
    """An open order as an :class:`ExposureBook` counts it: what it is (the first six fields)
    and its adverse loss added to ``market_id``'s row ("" when it adds to none: its token is
    unknown, it has nothing left open, or its price is invalid)."""

    intent_id: str
    token_id: str
    side: Side
    price: int
    by_notional: bool
    amount: int
    market_id: str = ""
    pending_first: int = 0
    pending_second: int = 0


def _row_worst(row: list[int]) -> int:
    """Worst-case loss (≥ 0) of one market row ``[held_1, held_2, pending_1, pending_2]``."""
    return max(0, row[0] + row[2], row[1] + row[3])


class _Amended(dict[str, list[int]]):
    """Rows changed for one report, reading through to the book's rows for the others."""

    __slots__ = ("_rows",)

    def __init__(self, amended: dict[str, list[int]], rows: dict[str, list[int]]) -> None:
        super().__init__(amended)
        self._rows = rows

    def __missing__(self, market_id: str) -> list[int]:
        return self._rows[market_id]


class ExposureBook:
    """:func:`portfolio_exposure` of a book that changes, kept up to date change by change.

    Tell it every market (:meth:`add_market`), every change of a position
    (:meth:`set_holding`) and of an open order (:meth:`set_order` when it opens or its open
    amount changes, :meth:`remove_order` when it closes). Each change costs O(1) (a market
    re-added with other tokens or event, or a token shared by two markets, rebuilds the book);
    :meth:`report` costs O(orders of the excluded intents + members of the neg-risk events
    changed since the last report), not O(book). The report equals ``portfolio_exposure`` of
    the markets in the order first added, the holdings and the open orders, exactly, and
    raises what it would raise (property-tested in ``tests/desk/test_incremental_figures.py``).

    Attributes:
        version: counts the changes; a report made before the latest one raises
            :class:`StaleExposureError` when read.
    """

    def __init__(self) -> None:
        self.version = 0
        self._markets: dict[str, tuple[str, tuple[str, ...]]] = {}
        """market id → (event id, token ids): what the rows were built from."""
        self._index: dict[str, tuple[list[int], bool, str]] = {}
        """token id → (its market's row, is the first token, market id)."""
        self._rows: dict[str, list[int]] = {}
        self._event_of: dict[str, str] = {}
        self._members: dict[str, list[str]] = {}
        self._holdings: dict[str, tuple[int, int]] = {}
        """token id → (micro-shares, cost basis) of every non-flat holding."""
        self._orders: dict[str, _Counted] = {}
        """client order id → the open order as counted, in the order the orders opened."""
        self._by_intent: dict[str, dict[str, None]] = {}
        self._lost_holdings: dict[str, None] = {}
        """tokens of holdings in no known market (a report raises)."""
        self._lost_orders: dict[str, dict[str, None]] = {}
        """token id → open orders in it while it is in no known market."""
        self._failing: set[str] = set()
        """open orders a report raises for unless excluded (unknown token, invalid price)."""
        self._standalone = 0
        """Σ worst-case loss of the standalone markets."""
        self._event_worst: tuple[dict[str, int], dict[str, int]] = ({}, {})
        """per event, its worst-case loss: [0] with "none wins", [1] exactly one wins."""
        self._event_total = [0, 0]
        self._stale_events: set[str] = set()
        """events whose members' rows changed since their worst-case losses were computed."""

    # ------------------------------------------------------------------ changes
    def add_market(self, market: Market) -> None:
        """Learn a market (or its update: only its tokens and neg-risk event count here)."""
        market_id = market.market_id
        key = (market.neg_risk_event_id, tuple(t.token_id for t in market.tokens))
        known = self._markets.get(market_id)
        if known == key:
            return
        self.version += 1
        self._markets[market_id] = key
        event, tokens = key
        if known is not None or any(t in self._index for t in tokens):
            self._rebuild()
            return
        self._place(market_id, event, tokens)
        for token_id in tokens if len(tokens) == 2 else ():
            if token_id in self._lost_holdings:
                del self._lost_holdings[token_id]
                size, cost = self._holdings[token_id]
                self._count_holding(token_id, size, cost, 1)
            for cid in self._lost_orders.pop(token_id, {}):
                counted = self._orders[cid]
                self._failing.discard(cid)
                self._orders[cid] = self._count_order(cid, counted)

    def set_holding(self, token_id: str, size: int, cost_basis: int) -> None:
        """The position in ``token_id`` is now ``size`` micro-shares (signed) costing
        ``cost_basis`` micro-pUSD (signed); flat is (0, 0)."""
        before = self._holdings.get(token_id, (0, 0))
        if before == (size, cost_basis):
            return
        self.version += 1
        if before != (0, 0):
            self._count_holding(token_id, before[0], before[1], -1)
        if size or cost_basis:
            self._holdings[token_id] = (size, cost_basis)
            self._count_holding(token_id, size, cost_basis, 1)
        else:
            del self._holdings[token_id]

    def set_order(self, client_order_id: str, order: OrderLike) -> None:
        """An open order, new or with a changed open amount (remaining size)."""
        by_notional = order.notional > 0 and order.size == 0
        amount = order.notional if by_notional else order.remaining_size
        fresh = _Counted(
            order.intent_id, order.token_id, order.side, order.price, by_notional, amount
        )
        before = self._orders.get(client_order_id)
        if before is not None:
            if before[:6] == fresh[:6]:
                return
            self._uncount_order(client_order_id, before)
            if before.intent_id != fresh.intent_id:
                self._forget_intent(before.intent_id, client_order_id)
        self.version += 1
        self._orders[client_order_id] = self._count_order(client_order_id, fresh)
        self._by_intent.setdefault(fresh.intent_id, {})[client_order_id] = None

    def remove_order(self, client_order_id: str) -> None:
        """An order closed (filled, cancelled, expired, rejected); unknown ids are ignored."""
        counted = self._orders.pop(client_order_id, None)
        if counted is None:
            return
        self.version += 1
        self._uncount_order(client_order_id, counted)
        self._forget_intent(counted.intent_id, client_order_id)

    # ------------------------------------------------------------------ report
    def report(
        self, exclude_intent_ids: frozenset[str] = frozenset(), exactly_one_wins: bool = False
    ) -> ExposureReport:
        """The book's :class:`ExposureReport`, as ``portfolio_exposure(markets, holdings,
        open orders, exclude_intent_ids, exactly_one_wins)``; valid until the next change.

        Raises:
            UnknownTokenError: a holding, or an open order not excluded, in a token of no
                known market.
            ValueError: an open order not excluded with a price outside ``(0, 1)`` pUSD.
        """
        if self._lost_holdings:
            raise UnknownTokenError(f"position in unknown token {next(iter(self._lost_holdings))}")
        if self._failing:
            self._raise_failing(exclude_intent_ids)
        if self._stale_events:
            self._refresh_events()
        variant = 1 if exactly_one_wins else 0
        events: Mapping[str, int] = self._event_worst[variant]
        total = self._standalone + self._event_total[variant]
        acc: Mapping[str, list[int]] = self._rows
        if exclude_intent_ids:
            amended = self._without(exclude_intent_ids)
            if amended:
                acc = _Amended(amended, self._rows)
                changed: dict[str, int] = {}
                for market_id, row in amended.items():
                    event = self._event_of[market_id]
                    if event:
                        changed[event] = 0
                    else:
                        total += _row_worst(row) - _row_worst(self._rows[market_id])
                for event in changed:
                    worst = event_worst_loss(
                        (
                            OutcomeLoss(r[0] + r[2], r[1] + r[3])
                            for r in map(acc.__getitem__, self._members[event])
                        ),
                        exactly_one_wins,
                    )
                    total += worst - events[event]
                    changed[event] = worst
                if changed:
                    events = {**events, **changed}
        return ExposureReport(
            acc=acc,
            event_of=self._event_of,
            members=self._members,
            events=events,
            total=total,
            exactly_one_wins=exactly_one_wins,
            book=self,
        )

    # ------------------------------------------------------------------ internals
    def _place(self, market_id: str, event: str, tokens: tuple[str, ...]) -> None:
        """A flat row for the market; its tokens point at it (the last market naming a token
        wins, as in :func:`portfolio_exposure`)."""
        row = self._rows[market_id] = [0, 0, 0, 0]
        self._event_of[market_id] = event
        if len(tokens) == 2:  # a malformed market's tokens stay unknown (fail closed)
            self._index[tokens[0]] = (row, True, market_id)
            self._index[tokens[1]] = (row, False, market_id)
        if event:
            self._members.setdefault(event, []).append(market_id)
            for worst in self._event_worst:
                worst.setdefault(event, 0)
            self._stale_events.add(event)

    def _rebuild(self) -> None:
        """Every row again from the markets, holdings and open orders."""
        orders = self._orders
        self._index, self._rows, self._event_of, self._members = {}, {}, {}, {}
        self._orders, self._lost_holdings, self._lost_orders = {}, {}, {}
        self._failing = set()
        self._standalone = 0
        self._event_worst, self._event_total = ({}, {}), [0, 0]
        self._stale_events = set()
        for market_id, (event, tokens) in self._markets.items():
            self._place(market_id, event, tokens)
        for token_id, (size, cost) in self._holdings.items():
            self._count_holding(token_id, size, cost, 1)
        for cid, counted in orders.items():
            self._orders[cid] = self._count_order(cid, counted)

    def _add(self, market_id: str, row: list[int], deltas: tuple[int, int, int, int]) -> None:
        """Add ``deltas`` to a market's row, keeping the standalone total and marking its
        event for recomputation."""
        event = self._event_of[market_id]
        if event:
            self._stale_events.add(event)
        else:
            self._standalone -= _row_worst(row)
        row[0] += deltas[0]
        row[1] += deltas[1]
        row[2] += deltas[2]
        row[3] += deltas[3]
        if not event:
            self._standalone += _row_worst(row)

    def _count_holding(self, token_id: str, size: int, cost: int, sign: int) -> None:
        """Add (``sign`` 1) or take away (−1) a non-flat holding's loss."""
        located = self._index.get(token_id)
        if located is None:
            if sign > 0:
                self._lost_holdings[token_id] = None
            else:
                del self._lost_holdings[token_id]
            return
        row, is_first, market_id = located
        loss = holding_loss(size, cost, is_first)
        self._add(market_id, row, (sign * loss.if_first, sign * loss.if_second, 0, 0))

    def _count_order(self, client_order_id: str, order: _Counted) -> _Counted:
        """Add an open order's adverse loss to its market's row; returns it as counted (``order``
        holds what the order is; what it says it adds is ignored)."""
        located = self._index.get(order.token_id)
        if located is not None:
            row, is_first, market_id = located
            if order.amount <= 0:
                return _Counted(*order[:6]) if order.market_id else order
            try:
                pending = _pending(
                    order.side, order.price, is_first, order.by_notional, order.amount
                )
            except ValueError:  # an invalid price: a report raises (unless it is excluded)
                self._failing.add(client_order_id)
                return _Counted(*order[:6]) if order.market_id else order
            self._add(market_id, row, (0, 0, *pending))
            return _Counted(*order[:6], market_id, *pending)
        self._lost_orders.setdefault(order.token_id, {})[client_order_id] = None
        self._failing.add(client_order_id)
        return _Counted(*order[:6]) if order.market_id else order

    def _uncount_order(self, client_order_id: str, counted: _Counted) -> None:
        """Take an order's counted loss (or its error) back out."""
        if counted.market_id:
            row = self._rows[counted.market_id]
            self._add(
                counted.market_id, row, (0, 0, -counted.pending_first, -counted.pending_second)
            )
        elif client_order_id in self._failing:
            self._failing.discard(client_order_id)
            lost = self._lost_orders.get(counted.token_id)
            if lost is not None:
                lost.pop(client_order_id, None)
                if not lost:
                    del self._lost_orders[counted.token_id]

    def _forget_intent(self, intent_id: str, client_order_id: str) -> None:
        ids = self._by_intent[intent_id]
        del ids[client_order_id]
        if not ids:
            del self._by_intent[intent_id]

    def _raise_failing(self, exclude_intent_ids: frozenset[str]) -> None:
        """Raise what :func:`portfolio_exposure` raises for the first open order (in the
        order they opened) it cannot count, unless that order is excluded."""
        for cid, counted in self._orders.items():
            if cid in self._failing and counted.intent_id not in exclude_intent_ids:
                if counted.token_id not in self._index:
                    raise UnknownTokenError(f"open order in unknown token {counted.token_id}")
                _, is_first, _ = self._index[counted.token_id]
                order_rates(counted.side, counted.price, is_first, counted.by_notional)

    def _refresh_events(self) -> None:
        """Recompute the worst-case losses of the events marked stale (both variants)."""
        rows = self._rows
        for event in self._stale_events:
            losses = [
                OutcomeLoss(r[0] + r[2], r[1] + r[3])
                for r in map(rows.__getitem__, self._members[event])
            ]
            for variant, worst in enumerate(self._event_worst):
                value = event_worst_loss(losses, variant == 1)
                self._event_total[variant] += value - worst[event]
                worst[event] = value
        self._stale_events.clear()

    def _without(self, exclude_intent_ids: frozenset[str]) -> dict[str, list[int]]:
        """Copies of the rows the excluded intents' open orders add to, without them."""
        amended: dict[str, list[int]] = {}
        for intent_id in exclude_intent_ids:
            for cid in self._by_intent.get(intent_id, ()):
                counted = self._orders[cid]
                if not counted.market_id:
                    continue
                row = amended.get(counted.market_id)
                if row is None:
                    row = amended[counted.market_id] = list(self._rows[counted.market_id])
                row[2] -= counted.pending_first
                row[3] -= counted.pending_second
        return amended
