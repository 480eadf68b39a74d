"""``MetaAllocator``: each strategy's capital budget, enforced by the risk chain, reallocated on
drawdown tiers (issue 21 item 6). Pure state and rules; the :class:`~polytraders.desk.desk.Desk`
owns it, records each :class:`~polytraders.contracts.allocation.Allocation` as one desk envelope
(decision ``ALLOCATE``) and feeds it fills, timers and operator commands.

**Weights.** Each strategy has a weight in ppm of equity; weights + reserve = 10⁶ exactly. The
start is the configured static split (``budgets_pct`` and ``reserve_pct``, × 10 000).
``budget(s) = weight_ppm(s) × equity_micros / 10⁶`` with ``equity_micros`` the desk's equity
(cash + positions at mid) **when the allocation was made** (start, reallocation, reset), so a
budget does not move with every tick.

**Capital in use** (exact; units of 10⁻¹² of the quote currency, price micros × size micros, so
no rounding anywhere). Fills are attributed to the strategy whose intent placed the order
(``VenueOrder.bot_id``, else the ``<bot id>/`` prefix of its intent id) and booked, per
strategy and token, into a :class:`~polytraders.model.position.Position` at the **committed
price**: a BUY at its fill price (at or below its limit), a SELL at its order's limit (at or
below its fill price). Per token, capital = ``|cost basis|`` + the open orders of that strategy
that can raise ``|position|``: every order on the side that adds to the position (both sides
when flat) at ``limit × remaining``, plus, on the reducing side, only the size beyond the
position (``Σ remaining − |position|`` when positive), taken from its highest-priced orders;
a BUY sized by notional counts its notional less what its fills spent; the unsent rest of an
intent whose children (TWAP slices) are still scheduled counts like an open order of the
parent's size left, at the parent's price. With this measure no fill, cancel or book move can
raise a strategy's capital in use (a fill moves at most what its order reserved into the cost
basis), so a check at every intent keeps ``capital ≤ budget`` after any sequence of fills.
A short opened by a SELL that filled above its limit is counted at its limit: the measure is
the notional the strategy committed to, not the (higher) notional it received.
A BUY whose commission the venue kept in the bought asset (``Fill.fee_size``) moves only the
``size − fee_size`` it added to the position into the cost basis, as the position holds.

**Enforcement** (:meth:`MetaAllocator.check`, the risk chain's desk step, before any risk
bot): a PLACE or REPLACE whose order would raise its strategy's capital beyond its budget is
RESHAPEd to the largest size on the token's size step that fits
(``SYS_ALLOCATOR_BUDGET_RESHAPED``) or, below the minimum order size or sized by notional,
rejected (``SYS_ALLOCATOR_BUDGET_EXCEEDED``). A REPLACE's target still counts: the new order is
held until the venue confirms the cancel, and the old one may fill until then. Intents that do
not raise capital in use (reducing ones) and cancels always pass; an intent of a strategy
without a budget is rejected (``SYS_ALLOCATOR_UNKNOWN_STRATEGY``).

**Reallocation** (:meth:`MetaAllocator.on_timer`, every ``check_interval_s`` of desk time): each
strategy's PnL (realized − fees + unrealized at mid, from its fills at their real prices) is
sampled into a ring of ``lookback_intervals + 1`` samples; its score is mean / population
standard deviation of the interval changes (0 with fewer than two changes or no variation),
kept as an integer ppm. When the desk's drawdown ``(peak − equity) / peak`` reaches a tier
deeper than the current one and the allocator is not frozen, every strategy gives
``shift_pct`` of its weight (never going below ``min_budget_pct``) to a pool, split among the
strategies with a positive score in proportion to it (largest remainder, ties by bot id, so
the sum is exact), or added to the reserve when no score is positive
(``SYS_ALLOCATOR_REALLOCATED``). A shallower drawdown does not move weights back:
``allocator-reset`` restores the static split (``SYS_ALLOCATOR_RESET``) and the tier.
A budget cut below what a strategy has in use lets it only reduce until it is back under.
``allocator-freeze`` / ``allocator-unfreeze`` (``SYS_ALLOCATOR_FROZEN`` / ``_UNFROZEN``) stop
and restart reallocation; budgets are enforced either way, and a frozen allocator does not
advance its tier (the first check after unfreezing reallocates if the drawdown is still deep).

**Restart** (crash-only, :mod:`polytraders.desk.checkpoints`). Two sources, each the one that
cannot lose or repeat what it restores:

- The **allocation in force** (weights, reserve, tier, frozen, equity basis) is in the
  checkpoint rows (:class:`AllocatorCheckpoint`, written in the row of every change, at once:
  the desk writes a row right after recording an ALLOCATE envelope). It is rare and small, and
  nothing but the desk knows it.
- The **attribution** (each strategy's capital and PnL positions per token) is rebuilt from the
  run's recorded fills, every attempt's (reverted ones left out, each fill id once, in the
  order recorded), joined by client order id to their orders' strategies
  (:func:`~polytraders.desk.checkpoints.allocator_restore`), read **after** the start-up
  reconciliation recorded the fills the venue made while the desk was down. The fills table is
  the one record every booked fill reaches exactly once (the journal writes it as the desk
  books; a fill the crash kept from the store is one the venue reports missed, and
  reconciliation records it before the desk starts), and it is the record the desk's own
  positions are rebuilt from, so attribution and positions cover the same fills. Per-fill
  checkpoint entries would not: a fill in the store whose row the crash prevented would be
  missed, and one recorded at reconciliation would never pass through the desk at all.

:meth:`MetaAllocator.restore` books those fills and puts the allocation back unchanged
(``SYS_ALLOCATOR_RESTORED``: budgets keep their equity basis, so they do not jump); open
orders restored with the state count through their ``bot_id`` as before. A checkpoint whose
strategies differ from ``budgets_pct`` is refused (:class:`AllocatorRestoreError`: the desk
file no longer describes the run; start a new run). Same strategies but another
``[desk.allocator]`` (budgets, tiers, …) start from the new static split at the equity of now,
tier 0, the frozen flag kept (an operator's freeze is not lifted by an edit), attribution kept
(``SYS_ALLOCATOR_CONFIG_CHANGED``): the operator changed the budgets on purpose and what each
strategy holds is still true. The score history (PnL samples) starts empty: the first score
needs three samples after the restart. The desk then compares the attributed positions with
its own (the venue's, from reconciliation); a difference belongs to no strategy (fills of the
desk's own unwinds, an external trade) and is logged per token and size, and the restored
envelope carries ``SYS_ALLOCATOR_UNATTRIBUTED``.

Not covered: fills of orders the desk placed itself (unwinds) belong to no strategy; a fill
reported after its order's cancel was confirmed (a venue race) lands after the budget was
released; the in-process :meth:`~polytraders.desk.desk.Desk.resume` (a
:class:`~polytraders.desk.desk.DeskCheckpoint`) carries no allocator state, so a desk with an
allocator resumes that way only without orders or positions.
"""

from __future__ import annotations

import logging
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Annotated, NamedTuple

import msgspec
from msgspec.structs import replace
from pydantic import BaseModel, ConfigDict, Field, model_validator

from polytraders.contracts.allocation import Allocation
from polytraders.contracts.canonical import config_version
from polytraders.contracts.view import DeskView
from polytraders.model.fills import Fill
from polytraders.model.money import MICROS
from polytraders.model.orders import IntentAction, OrderIntent, Side, VenueOrder
from polytraders.model.position import Position

_LOG = logging.getLogger(__name__)

SYS_ALLOCATOR_ALLOCATED = "SYS_ALLOCATOR_ALLOCATED"
SYS_ALLOCATOR_REALLOCATED = "SYS_ALLOCATOR_REALLOCATED"
SYS_ALLOCATOR_FROZEN = "SYS_ALLOCATOR_FROZEN"
SYS_ALLOCATOR_UNFROZEN = "SYS_ALLOCATOR_UNFROZEN"
SYS_ALLOCATOR_RESET = "SYS_ALLOCATOR_RESET"
SYS_ALLOCATOR_BUDGET_RESHAPED = "SYS_ALLOCATOR_BUDGET_RESHAPED"
SYS_ALLOCATOR_BUDGET_EXCEEDED = "SYS_ALLOCATOR_BUDGET_EXCEEDED"
SYS_ALLOCATOR_UNKNOWN_STRATEGY = "SYS_ALLOCATOR_UNKNOWN_STRATEGY"
SYS_ALLOCATOR_RESTORED = "SYS_ALLOCATOR_RESTORED"
SYS_ALLOCATOR_CONFIG_CHANGED = "SYS_ALLOCATOR_CONFIG_CHANGED"
SYS_ALLOCATOR_UNATTRIBUTED = "SYS_ALLOCATOR_UNATTRIBUTED"

PPM = 1_000_000
_PPM_PER_PCT = 10_000

Pct = Annotated[int, Field(ge=0, le=100)]


class DrawdownTier(BaseModel):
    """One drawdown tier: at ``drawdown_pct`` of the peak, shift ``shift_pct`` of every
    strategy's weight toward the better-scoring strategies."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    drawdown_pct: int = Field(ge=1, le=99)
    """Drawdown from the peak equity (percent) that enters this tier."""

    shift_pct: int = Field(ge=1, le=100)
    """Percent of each strategy's weight put into the pool when the tier is entered."""


class AllocatorConfig(BaseModel):
    """The desk's ``[desk.allocator]`` table (rules: module docstring).

    Raises (validation): budgets + reserve not exactly 100, a budget under
    ``min_budget_pct``, no budget, a key that is not a strategy bot id, tiers not strictly
    increasing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    budgets_pct: dict[str, Pct] = Field(min_length=1, max_length=64)
    """Strategy bot id → percent of equity it may have in use (every ENFORCED strategy of the
    desk must be listed)."""

    reserve_pct: int = Field(default=0, ge=0, le=100)
    """Percent of equity no strategy may use; budgets + reserve = 100."""

    drawdown_tiers: list[DrawdownTier] = Field(default_factory=list, max_length=10)
    """Tiers by increasing ``drawdown_pct`` (empty: never reallocate)."""

    lookback_intervals: int = Field(default=12, ge=2, le=10_000)
    """How many recent check intervals of PnL change the scores use."""

    check_interval_s: int = Field(default=300, ge=1, le=86_400)
    """Desk time between two PnL samples and drawdown checks (seconds)."""

    min_budget_pct: int = Field(default=0, ge=0, le=100)
    """No reallocation takes a strategy's weight below this (percent of equity)."""

    frozen: bool = False
    """Start frozen (no reallocation until ``allocator-unfreeze``)."""

    @model_validator(mode="after")
    def _consistent(self) -> AllocatorConfig:
        total = sum(self.budgets_pct.values()) + self.reserve_pct
        if total != 100:
            raise ValueError(f"budgets_pct + reserve_pct must be 100, not {total}")
        for bot_id, pct in self.budgets_pct.items():
            if not bot_id.startswith("strat."):
                raise ValueError(f"budgets_pct key {bot_id!r} is not a strategy bot id")
            if pct < self.min_budget_pct:
                raise ValueError(f"budgets_pct[{bot_id!r}] is under min_budget_pct")
        levels = [t.drawdown_pct for t in self.drawdown_tiers]
        if any(b <= a for a, b in pairwise(levels)):
            raise ValueError("drawdown_tiers must have strictly increasing drawdown_pct")
        return self


class AllocatorCheckpoint(msgspec.Struct, frozen=True, kw_only=True):
    """The allocator in a checkpoint row: the ``allocation`` in force (weights, reserve,
    equity basis, tier, frozen) and the ``config_version`` of the ``[desk.allocator]`` it was
    made under (:attr:`MetaAllocator.config_version`)."""

    allocation: Allocation
    config_version: str


class AllocatorRestore(msgspec.Struct, frozen=True, kw_only=True):
    """What a restarting allocator is given: its checkpoint (``saved``), the run's ``fills``
    (every attempt's, reverted ones left out, in the order recorded; a repeated fill id is
    booked once) and ``orders`` (any recorded state of each: the strategy, side, limit and
    size a fill is attributed by)."""

    saved: AllocatorCheckpoint
    fills: tuple[Fill, ...]
    orders: tuple[VenueOrder, ...]


class AllocatorRestoreError(ValueError):
    """A checkpoint whose allocator the desk config no longer describes (one line)."""


class Verdict(NamedTuple):
    """The allocator's answer on one intent: ``code`` "" = pass unchanged; otherwise
    ``intent`` is the reshaped intent (RESHAPE) or None (REJECT)."""

    code: str
    intent: OrderIntent | None


Leg = tuple[Side, int, int]
"""An order's capital leg: side, limit price (micro), size still to fill (micro-shares)."""

PendingParents = Callable[[], Iterable[tuple[OrderIntent, int]]]
"""The approved intents with children still scheduled, each with its size not yet sent."""


def owner(order: VenueOrder) -> str:
    """The strategy an order belongs to: its ``bot_id``, else its intent id's prefix."""
    return order.bot_id or order.intent_id.split("/", 1)[0]


def token_capital(position: Position | None, legs: Iterable[Leg], fixed: int = 0) -> int:
    """Capital in use in one token (10⁻¹² units; rule in the module docstring): the
    position's ``|cost_basis|`` (booked at price × 10⁶), the legs that can raise
    ``|position|`` and ``fixed`` (notional orders' unspent reservations)."""
    size = position.size if position is not None else 0
    total = (abs(position.cost_basis) if position is not None else 0) + fixed
    adding = Side.BUY if size > 0 else Side.SELL
    reducing: list[tuple[int, int]] = []
    for side, price, qty in legs:
        if size == 0 or side is adding:
            total += price * qty
        else:
            reducing.append((price, qty))
    excess = sum(q for _, q in reducing) - abs(size)
    if excess > 0:
        for price, qty in sorted(reducing, reverse=True):
            take = min(qty, excess)
            total += price * take
            excess -= take
            if not excess:
                break
    return total


class _Book:
    """One strategy's attributed fills: capital positions (committed prices, 10⁻¹² units),
    PnL positions (fill prices and fees, micro) and the trades to replay on a revert."""

    __slots__ = ("capital", "pnl", "trades")

    def __init__(self) -> None:
        self.capital: dict[str, Position] = {}
        self.pnl: dict[str, Position] = {}
        self.trades: dict[str, list[tuple[Fill, int]]] = {}

    def book(self, fill: Fill, committed: int) -> None:
        token = fill.token_id
        self.capital.setdefault(token, Position(token)).apply_trade(
            fill.side, committed * MICROS, fill.net_size
        )
        self.pnl.setdefault(token, Position(token)).apply(fill)

    def replay(self, token: str) -> None:
        self.capital.pop(token, None)
        self.pnl.pop(token, None)
        for fill, committed in self.trades.get(token, []):
            self.book(fill, committed)


class MetaAllocator:
    """Capital budgets per strategy (rules: module docstring).

    Args:
        config: the ``[desk.allocator]`` settings.
        strategy_ids: every strategy of the desk; ``enforced_ids`` those ENFORCED.
        pending: the approved intents whose children are still scheduled (the desk's
            :class:`~polytraders.desk.children.ChildSchedule`), with their unsent size.

    Raises:
        ValueError: an ENFORCED strategy without a budget, or a budget for a bot that is not
            a strategy of the desk.
    """

    def __init__(
        self,
        config: AllocatorConfig,
        strategy_ids: Sequence[str],
        enforced_ids: Sequence[str],
        pending: PendingParents | None = None,
    ) -> None:
        missing = sorted(set(enforced_ids) - set(config.budgets_pct))
        if missing:
            raise ValueError(f"allocator: ENFORCED strategies without a budget: {missing}")
        unknown = sorted(set(config.budgets_pct) - set(strategy_ids))
        if unknown:
            raise ValueError(f"allocator: budgets for bots not among the strategies: {unknown}")
        self.config = config
        self.config_version = config_version(config.model_dump(mode="json"))
        """Version of the ``[desk.allocator]`` settings (16 hex digits over their canonical
        JSON), kept with the allocation in checkpoints."""
        self._saved: AllocatorCheckpoint | None = None
        self.frozen = config.frozen
        self._pending = pending
        self._tiers = config.drawdown_tiers
        self._books = {s: _Book() for s in sorted(config.budgets_pct)}
        self._samples = {s: deque[int](maxlen=config.lookback_intervals + 1) for s in self._books}
        self._spent: dict[str, int] = {}
        """Client order id → what the fills of a notional-sized order spent (10⁻¹²)."""
        self.weights_ppm: dict[str, int] = {}
        self.reserve_ppm = 0
        self.tier = 0
        self.equity_micros = 0
        self.allocations: list[Allocation] = []
        """Every allocation made, in order (the last one is in force)."""
        self._static()

    def checkpoint(self) -> AllocatorCheckpoint | None:
        """The allocation in force with the config version (None before the first; the same
        object until the next allocation)."""
        if not self.allocations:
            return None
        last = self.allocations[-1]
        if self._saved is None or self._saved.allocation is not last:
            self._saved = AllocatorCheckpoint(allocation=last, config_version=self.config_version)
        return self._saved

    def restore(self, restore: AllocatorRestore, view: DeskView) -> Allocation:
        """Put back a checkpointed allocator (rules: the module docstring's "Restart"): book
        ``restore.fills`` to their orders' strategies, then the saved allocation
        (``SYS_ALLOCATOR_RESTORED``), or, when the saved config version differs, the static
        split at ``view``'s equity (``SYS_ALLOCATOR_CONFIG_CHANGED``); return it. Call once,
        before the first allocation.

        Raises:
            AllocatorRestoreError: the checkpoint's strategies are not ``budgets_pct``'s.
        """
        saved = restore.saved.allocation
        have, want = sorted(saved.weights_ppm), sorted(self.config.budgets_pct)
        if have != want:
            raise AllocatorRestoreError(
                f"allocator: the checkpoint's strategies {have} differ from [desk.allocator] "
                f"budgets_pct {want}: the desk file no longer describes this run; start a new "
                "run (or restore the desk file)"
            )
        orders = {o.client_order_id: o for o in restore.orders}
        booked: set[str] = set()
        for fill in restore.fills:
            if fill.fill_id not in booked:
                booked.add(fill.fill_id)
                self.fill_booked(fill, orders.get(fill.client_order_id))
        self.frozen = saved.frozen
        if restore.saved.config_version == self.config_version:
            self.weights_ppm = dict(saved.weights_ppm)
            self.reserve_ppm = saved.reserve_ppm
            self.tier = saved.tier
            self.equity_micros = saved.equity_micros
            reason = SYS_ALLOCATOR_RESTORED
        else:
            _LOG.warning(
                "allocator: [desk.allocator] changed since the checkpoint (%s -> %s): "
                "restarting from the static split, attribution kept",
                restore.saved.config_version,
                self.config_version,
            )
            self._static()
            self.equity_micros = view.equity
            reason = SYS_ALLOCATOR_CONFIG_CHANGED
        return self._recorded(view, reason, {})

    def attributed_sizes(self) -> dict[str, int]:
        """Token → the sum of the strategies' attributed positions (micro-shares, signed),
        sorted by token."""
        sizes: dict[str, int] = {}
        for book in self._books.values():
            for token, position in book.capital.items():
                sizes[token] = sizes.get(token, 0) + position.size
        return dict(sorted(sizes.items()))

    def positions(self, strategy: str) -> dict[str, Position]:
        """``strategy``'s attributed positions per token: capital ones (booked at committed
        prices, cost basis in 10⁻¹² units); :meth:`pnl_positions` for its PnL."""
        return dict(self._books[strategy].capital)

    def pnl_positions(self, strategy: str) -> dict[str, Position]:
        """``strategy``'s PnL positions per token (fill prices and fees, micro)."""
        return dict(self._books[strategy].pnl)

    def _static(self) -> None:
        self.weights_ppm = {
            s: pct * _PPM_PER_PCT for s, pct in sorted(self.config.budgets_pct.items())
        }
        self.reserve_ppm = self.config.reserve_pct * _PPM_PER_PCT
        self.tier = 0

    # ------------------------------------------------------------------ allocations
    def _allocation(self, view: DeskView, reason: str, scores: dict[str, int]) -> Allocation:
        self.equity_micros = view.equity
        return self._recorded(view, reason, scores)

    def _recorded(self, view: DeskView, reason: str, scores: dict[str, int]) -> Allocation:
        """The allocation in force now (equity basis as set), appended to the history."""
        allocation = Allocation(
            weights_ppm=dict(self.weights_ppm),
            reserve_ppm=self.reserve_ppm,
            equity_micros=self.equity_micros,
            drawdown_ppm=_drawdown_ppm(view),
            tier=self.tier,
            scores_ppm=scores,
            frozen=self.frozen,
            reason=reason,
        )
        self.allocations.append(allocation)
        return allocation

    def start(self, view: DeskView) -> Allocation:
        """The initial allocation (static split, equity of now: ``SYS_ALLOCATOR_ALLOCATED``)."""
        return self._allocation(view, SYS_ALLOCATOR_ALLOCATED, {})

    def set_frozen(self, view: DeskView, frozen: bool) -> Allocation | None:
        """Freeze or unfreeze reallocation; the allocation (same weights, equity of now) or
        None when nothing changed."""
        if frozen is self.frozen:
            return None
        self.frozen = frozen
        return self._allocation(
            view, SYS_ALLOCATOR_FROZEN if frozen else SYS_ALLOCATOR_UNFROZEN, {}
        )

    def reset(self, view: DeskView) -> Allocation:
        """Back to the static split and tier 0 (``SYS_ALLOCATOR_RESET``; the frozen flag
        stays)."""
        self._static()
        return self._allocation(view, SYS_ALLOCATOR_RESET, {})

    def on_timer(self, view: DeskView) -> Allocation | None:
        """A check interval: sample each strategy's PnL, then reallocate when the drawdown
        entered a deeper tier and the allocator is not frozen; the new allocation or None."""
        for s, samples in self._samples.items():
            samples.append(self.strategy_pnl(s, view))
        dd = _drawdown_ppm(view)
        entered = sum(1 for t in self._tiers if dd >= t.drawdown_pct * _PPM_PER_PCT)
        if entered <= self.tier or self.frozen:
            return None
        scores = {s: self.score_ppm(s) for s in self._books}
        self.tier = entered
        self._shift(self._tiers[entered - 1].shift_pct, scores)
        return self._allocation(view, SYS_ALLOCATOR_REALLOCATED, scores)

    def _shift(self, shift_pct: int, scores: dict[str, int]) -> None:
        floor_ppm = self.config.min_budget_pct * _PPM_PER_PCT
        pool = 0
        for s, weight in self.weights_ppm.items():
            give = min(weight * shift_pct // 100, max(weight - floor_ppm, 0))
            self.weights_ppm[s] = weight - give
            pool += give
        positive = {s: score for s, score in scores.items() if score > 0}
        if not positive:
            self.reserve_ppm += pool
            return
        total = sum(positive.values())
        shares = {s: pool * score // total for s, score in positive.items()}
        left = pool - sum(shares.values())
        by_remainder = sorted(positive, key=lambda s: (-(pool * positive[s] % total), s))
        for s in by_remainder[:left]:
            shares[s] += 1
        for s, share in shares.items():
            self.weights_ppm[s] += share

    # ------------------------------------------------------------------ scores
    def strategy_pnl(self, strategy: str, view: DeskView) -> int:
        """Realized − fees + unrealized at mid of ``strategy``'s fills (micro; a position
        without a mid counts no unrealized PnL)."""
        total = 0
        for token, position in self._books[strategy].pnl.items():
            total += position.realized_pnl - position.fees
            if position.size:
                book = view.book(token)
                mid = book.mid() if book is not None else None
                if mid is not None:
                    total += position.unrealized_pnl(mid)
        return total

    def score_ppm(self, strategy: str) -> int:
        """Mean / population stdev of the sampled PnL changes × 10⁶, rounded half to even (0
        with fewer than two changes or none varying)."""
        samples = list(self._samples[strategy])
        changes = [b - a for a, b in pairwise(samples)]
        if len(changes) < 2:
            return 0
        stdev = statistics.pstdev(changes)
        if stdev == 0:
            return 0
        return round(statistics.fmean(changes) / stdev * PPM)

    # ------------------------------------------------------------------ capital
    def budget(self, strategy: str) -> int:
        """``strategy``'s budget (10⁻¹² units: weight ppm × equity micro at the allocation)."""
        return self.weights_ppm[strategy] * self.equity_micros

    def capital_in_use(
        self, strategy: str, view: DeskView, extra: OrderIntent | None = None
    ) -> int:
        """``strategy``'s capital in use (10⁻¹² units), with ``extra`` counted as one more
        open order when given (rule in the module docstring)."""
        book = self._books[strategy]
        legs: dict[str, list[Leg]] = {}
        fixed: dict[str, int] = {}

        def add(token: str, leg: Leg, notional: int = 0, cid: str = "") -> None:
            if leg[2]:
                legs.setdefault(token, []).append(leg)
            elif notional:
                left = max(notional * MICROS - self._spent.get(cid, 0), 0)
                fixed[token] = fixed.get(token, 0) + left

        for order in view.open_orders():
            if owner(order) == strategy:
                remaining = order.remaining_size if order.size else 0
                leg = (order.side, order.price, remaining)
                add(order.token_id, leg, order.notional, order.client_order_id)
        if self._pending is not None:
            for parent, unsent in self._pending():
                if parent.bot_id == strategy and unsent > 0:
                    add(parent.token_id, (parent.side, parent.price, unsent))
        if extra is not None:
            add(extra.token_id, (extra.side, extra.price, extra.size), extra.notional)
        tokens = sorted(set(book.capital) | set(legs) | set(fixed))
        return sum(
            token_capital(book.capital.get(t), legs.get(t, ()), fixed.get(t, 0)) for t in tokens
        )

    def check(self, intent: OrderIntent, view: DeskView) -> Verdict:
        """The allocator's verdict on ``intent`` (enforcement rules: module docstring)."""
        if intent.action is IntentAction.CANCEL:
            return Verdict("", intent)
        strategy = intent.bot_id
        if strategy not in self._books:
            return Verdict(SYS_ALLOCATOR_UNKNOWN_STRATEGY, None)
        now = self.capital_in_use(strategy, view)
        full = self.capital_in_use(strategy, view, intent)
        budget = self.budget(strategy)
        if full <= now or full <= budget:
            return Verdict("", intent)
        rules = view.order_rules(intent.token_id)
        if intent.size == 0 or rules is None or rules.size_step <= 0:
            return Verdict(SYS_ALLOCATOR_BUDGET_EXCEEDED, None)
        step = rules.size_step
        lo, hi = 0, intent.size // step  # capital is non-decreasing in the size
        while lo < hi:
            mid = (lo + hi + 1) // 2
            trial = replace(intent, size=mid * step)
            if self.capital_in_use(strategy, view, trial) <= budget:
                lo = mid
            else:
                hi = mid - 1
        size = lo * step
        if size <= 0 or size < rules.min_order_size:
            return Verdict(SYS_ALLOCATOR_BUDGET_EXCEEDED, None)
        return Verdict(SYS_ALLOCATOR_BUDGET_RESHAPED, replace(intent, size=size))

    # ------------------------------------------------------------------ fills
    def fill_booked(self, fill: Fill, order: VenueOrder | None) -> None:
        """Attribute a booked fill to its order's strategy (ignored for orders of no budgeted
        strategy, e.g. the desk's unwinds)."""
        if order is None:
            _LOG.warning("allocator: fill %s of an unknown order is nobody's", fill.fill_id)
            return
        book = self._books.get(owner(order))
        if book is None:
            return
        committed = fill.price if fill.side is Side.BUY else order.price
        book.trades.setdefault(fill.token_id, []).append((fill, committed))
        book.book(fill, committed)
        if not order.size:
            cid = order.client_order_id
            self._spent[cid] = self._spent.get(cid, 0) + fill.price * fill.size

    def fill_reverted(self, fill: Fill) -> None:
        """Take back a fill the desk reverted (its strategy's positions are rebuilt)."""
        for book in self._books.values():
            trades = book.trades.get(fill.token_id, [])
            kept = [t for t in trades if t[0].fill_id != fill.fill_id]
            if len(kept) != len(trades):
                book.trades[fill.token_id] = kept
                book.replay(fill.token_id)
                if fill.client_order_id in self._spent:
                    self._spent[fill.client_order_id] -= fill.price * fill.size
                return


def _drawdown_ppm(view: DeskView) -> int:
    """``(peak − equity) / peak`` of the desk in ppm (floor; 0 without a positive peak)."""
    peak = view.peak_equity
    if peak <= 0:
        return 0
    return max(peak - view.equity, 0) * PPM // peak
