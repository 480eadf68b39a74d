"""A worked example of a user strategy: quote one tick inside the touch, post-only, and learn
from what became of each quote.

Run it inside the default desk (seven risk guards, exec.smartrouter, paper venue):

    polytraders backtest --data data/samples/polymarket/resolvedkit_btc15m \
        --strategy examples/strategies/touch_quoter.py:TouchQuoter --out runs/touch

It is written only against the public API (``polytraders.contracts`` and
``polytraders.model``; see ``docs/strategy_api.md``, which includes this file) and is the same
simple market maker the peer benchmarks run in NautilusTrader and hftbacktest.

Rules, on every event:
1. Outcomes first: for each quote still being watched, read ``view.intent_outcome``. A quote
   REFUSED (by the desk or a risk guard) or REJECTED (by the venue) pauses that side of that
   token for ``refusal_backoff_s`` (reason code ``STRAT_TOUCH_BACKOFF``); a bid that FILLED is
   reported (``STRAT_TOUCH_BID_FILLED``). Finished quotes stop being watched.
Then, for a book event of token T only:
2. Stand down (cancel our quotes on T) unless the desk is not HALTED, the market is ACTIVE and
   more than ``stop_before_end_s`` from its end, and T's book has both sides, not crossed.
3. Target bid = best bid + one tick when the spread is wider than one tick, else best bid;
   target offer = best ask − one tick, else best ask.
4. Bid ``quote_size_shares_micros`` (rounded down to the size step); offer what we hold
   (reduce-only) when it is at least the minimum order size. No working quote on a side: PLACE
   one; a working quote at another price: REPLACE it; same price: nothing (no churn). A paused
   side proposes nothing new.
"""

from __future__ import annotations

import random
from typing import ClassVar

from pydantic import Field

from polytraders.contracts.bot import BotBase
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.ids import intent_id
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import IntParam, SearchSpace
from polytraders.contracts.view import DeskView, IntentStatus
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, TradingState
from polytraders.model.market import MarketState
from polytraders.model.orders import IntentAction, OrderIntent, Side, VenueOrder

BACKOFF = "STRAT_TOUCH_BACKOFF"
BID_FILLED = "STRAT_TOUCH_BID_FILLED"
_NS_PER_S = 1_000_000_000


class TouchQuoterConfig(BotConfig):
    """Settings of the touch quoter."""

    quote_size_shares_micros: int = Field(10_000_000, ge=5_000_000, le=1_000_000_000)
    """Size of each bid (micro-shares; Polymarket's minimum resting size is 5 shares)."""
    stop_before_end_s: int = Field(60, ge=0, le=3_600)
    """Stop quoting this many seconds before the market's end."""
    refusal_backoff_s: int = Field(30, ge=0, le=3_600)
    """After a quote is refused or rejected, propose nothing new on that side of that token
    for this many seconds."""


class TouchQuoter(BotBase[TouchQuoterConfig]):
    """Quote one tick inside the touch, post-only; offer what we hold; back off after a
    refusal (see module docstring)."""

    bot_id = "strat.touch_quoter"
    bot_class = BotClass.STRATEGY
    version = "1.1.0"
    Config = TouchQuoterConfig
    SEARCH_SPACE = SearchSpace(
        TouchQuoterConfig,
        IntParam(name="quote_size_shares_micros", low=5_000_000, high=50_000_000, step=5_000_000),
        IntParam(name="stop_before_end_s", low=0, high=300, step=30),
        IntParam(name="refusal_backoff_s", low=0, high=300, step=30),
    )
    RUNTIME_BUDGET = RuntimeBudget(
        decision_p95_us=1_000,
        decision_p99_us=2_500,
        reject_rate_max_bps=3_000,
        calibration="an example: the library maker's budget (strat.maker_tight)",
    )
    reason_codes: ClassVar[frozenset[str]] = frozenset({BACKOFF, BID_FILLED})

    def __init__(
        self, config: TouchQuoterConfig | None = None, rng: random.Random | None = None
    ) -> None:
        super().__init__(config, rng)  # this quoter draws no random numbers
        self._sequence = 0
        self._watched: list[str] = []
        """Intent ids of our PLACE/REPLACE quotes whose outcome is not final yet."""
        self._paused_until_ns: dict[tuple[str, Side], int] = {}

    def reset(self) -> None:
        self._sequence = 0
        self._watched = []
        self._paused_until_ns = {}

    def _intent(self, **fields: object) -> OrderIntent:
        self._sequence += 1
        return OrderIntent(
            intent_id=intent_id(self.bot_id, self._sequence),
            bot_id=self.bot_id,
            **fields,  # type: ignore[arg-type]
        )

    def _learn(self, view: DeskView) -> list[str]:
        """Rule 1: react to the outcomes of the quotes we watch; return the reason codes."""
        codes: list[str] = []
        still: list[str] = []
        for watched in self._watched:
            outcome = view.intent_outcome(watched)
            if outcome is None:
                continue  # forgotten: nothing more to learn
            if outcome.status in (IntentStatus.REFUSED, IntentStatus.REJECTED):
                key = (outcome.token_id, outcome.side)
                self._paused_until_ns[key] = view.now_ns + self.config.refusal_backoff_s * _NS_PER_S
                codes.append(BACKOFF)
            elif outcome.status is IntentStatus.FILLED and outcome.side is Side.BUY:
                codes.append(BID_FILLED)
            if not outcome.status.finished:
                still.append(watched)
        self._watched = still
        return sorted(set(codes))

    def _working(self, view: DeskView, token_id: str, side: Side) -> VenueOrder | None:
        for order in view.open_orders(token_id):
            if order.side is side and order.bot_id == self.bot_id:
                return order
        return None

    def decide(self, event: AnyEvent, view: DeskView) -> Proposal:
        codes = tuple(self._learn(view))
        if not isinstance(event, BookSnapshot | BookDelta):
            return Proposal(reason_codes=codes)
        token = view.token(event.token_id)
        rules = view.order_rules(event.token_id)
        book = view.book(event.token_id)
        if token is None or rules is None or book is None:
            return Proposal(reason_codes=codes)
        market = view.market(token.market_id)
        bid, ask = book.best_bid(), book.best_ask()
        stop_ns = self.config.stop_before_end_s * _NS_PER_S
        tradable = (
            view.trading_state is not TradingState.HALTED
            and market is not None
            and market.state is MarketState.ACTIVE
            and (market.end_ns == 0 or view.now_ns < market.end_ns - stop_ns)
            and bid is not None
            and ask is not None
            and bid < ask
        )
        common = {"token_id": token.token_id, "market_id": token.market_id, "post_only": True}
        intents: list[OrderIntent] = []
        for side in (Side.BUY, Side.SELL):
            working = self._working(view, token.token_id, side)
            target: int | None = None
            if tradable and bid is not None and ask is not None:
                inside = ask - bid > rules.tick_size
                if side is Side.BUY:
                    target = bid + rules.tick_size if inside else bid
                else:
                    target = ask - rules.tick_size if inside else ask
            if side is Side.BUY:
                size = self.config.quote_size_shares_micros
            else:
                position = view.position(token.token_id)
                size = max(position.size, 0) if position is not None else 0
            size -= size % rules.size_step
            if size < rules.min_order_size:
                target = None
            if target is None:
                if working is not None:
                    intents.append(
                        self._intent(
                            action=IntentAction.CANCEL,
                            side=side,
                            price=0,
                            size=0,
                            target_intent_id=working.intent_id,
                            **common,
                        )
                    )
                continue
            paused = view.now_ns < self._paused_until_ns.get((token.token_id, side), 0)
            if paused or (working is not None and working.price == target):
                continue
            quote = self._intent(
                action=IntentAction.REPLACE if working is not None else IntentAction.PLACE,
                side=side,
                price=target,
                size=size,
                reduce_only=side is Side.SELL,
                target_intent_id=working.intent_id if working is not None else "",
                builder_code=view.account.builder_code,
                ts_created_ns=view.now_ns,
                **common,
            )
            intents.append(quote)
            self._watched.append(quote.intent_id)
        return Proposal(intents=tuple(intents), reason_codes=codes)
