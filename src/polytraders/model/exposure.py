"""Worst-case loss at resolution ("settlement exposure") of binary-market positions and orders.

A binary market pays 1 pUSD per share of the winning token and 0 for the other, so the money a
book of positions can lose at resolution is known exactly for each outcome. This module computes
it, complement-aware (DESIGN.md "Model": buying YES at p is selling NO at 1 − p; holding YES and
NO together offsets), per market, per neg-risk event, and in total. The desk's accounting and
``risk.exposureguard`` share it. Pure: no I/O, no clock, integers only.

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


class ExposureReport:
    """Worst-case losses of a whole book (see the module docstring for definitions).

    Built by :func:`portfolio_exposure`. Per-market detail is materialised on demand, so the
    hot path (one market's group and the total) allocates little.

    Attributes:
        events: per neg-risk event id, its worst-case loss (≥ 0).
        total: Σ event worst-case losses + Σ standalone market worst-case losses (micro-pUSD).
        exactly_one_wins: whether event scenarios excluded "no member wins".
    """

    __slots__ = ("_acc", "_event_of", "_members", "events", "exactly_one_wins", "total")

    def __init__(
        self,
        *,
        acc: dict[str, list[int]],
        event_of: dict[str, str],
        members: dict[str, list[str]],
        events: dict[str, int],
        total: int,
        exactly_one_wins: bool,
    ) -> None:
        self._acc = acc  # market id -> [held_first, held_second, pending_first, pending_second]
        self._event_of = event_of
        self._members = members
        self.events: Mapping[str, int] = events
        self.total = total
        self.exactly_one_wins = exactly_one_wins

    def market(self, market_id: str) -> MarketExposure:
        """One market's :class:`MarketExposure`.

        Raises:
            KeyError: unknown market.
        """
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
        return {market_id: self.market(market_id) for market_id in self._acc}

    def combined(self, market_id: str) -> OutcomeLoss:
        """A market's held plus pending loss per outcome.

        Raises:
            KeyError: unknown market.
        """
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
        rate_first, rate_second = order_rates(order.side, order.price, is_first, by_notional)
        if rate_first > 0:
            row[2] += -((-rate_first * amount) // MICROS)
        if rate_second > 0:
            row[3] += -((-rate_second * amount) // MICROS)
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
