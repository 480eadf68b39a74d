"""A worked example of a user strategy: quote one tick inside the touch, post-only.

Run it inside the default desk (seven risk guards, exec.smartrouter, paper venue):

    polytraders backtest --data data/samples/polymarket/resolvedkit_btc15m \
        --strategy examples/strategies/touch_quoter.py:TouchQuoter --out runs/touch

It is written only against the public API (``polytraders.contracts`` and
``polytraders.model``; see ``docs/strategy_api.md``) and is the same simple market maker the
peer benchmarks run in NautilusTrader and hftbacktest, so its results can be compared.

Rules, per token, on each book event of that token:
1. Stand down (cancel our bid) unless the market is ACTIVE, more than
   ``stop_before_end_s`` from its end, and the book has both sides and is not crossed.
2. Target bid = best bid + one tick when the spread is wider than one tick, else best bid.
3. No working bid: PLACE a post-only GTC BUY of ``quote_size_shares_micros`` at the target.
   A working bid at another price: REPLACE it. Same price: do nothing (no churn).
4. Holding shares: offer them (reduce-only, post-only) at best ask − one tick (or best ask).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from polytraders.contracts.bot import BotBase
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.ids import intent_id
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import IntParam, SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot
from polytraders.model.market import MarketState
from polytraders.model.orders import IntentAction, OrderIntent, Side, VenueOrder


class TouchQuoterConfig(BotConfig):
    """Settings of the touch quoter."""

    quote_size_shares_micros: int = Field(10_000_000, ge=5_000_000, le=1_000_000_000)
    """Size of each bid (micro-shares; Polymarket's minimum resting size is 5 shares)."""
    stop_before_end_s: int = Field(60, ge=0, le=3_600)
    """Stop quoting this many seconds before the market's end."""


class TouchQuoter(BotBase[TouchQuoterConfig]):
    """Quote one tick inside the touch, post-only; offer what we hold (see module docstring)."""

    bot_id = "strat.touch_quoter"
    bot_class = BotClass.STRATEGY
    version = "1.0.0"
    Config = TouchQuoterConfig
    SEARCH_SPACE = SearchSpace(
        TouchQuoterConfig,
        IntParam(name="quote_size_shares_micros", low=5_000_000, high=50_000_000, step=5_000_000),
        IntParam(name="stop_before_end_s", low=0, high=300, step=30),
    )
    reason_codes: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: TouchQuoterConfig | None = None, rng: object = None) -> None:
        super().__init__(config)
        self._sequence = 0

    def reset(self) -> None:
        self._sequence = 0

    def _intent(self, **fields: object) -> OrderIntent:
        self._sequence += 1
        return OrderIntent(
            intent_id=intent_id(self.bot_id, self._sequence),
            bot_id=self.bot_id,
            **fields,  # type: ignore[arg-type]
        )

    def _working(self, view: DeskView, token_id: str, side: Side) -> VenueOrder | None:
        for order in view.open_orders(token_id):
            if order.side is side and order.bot_id in ("", self.bot_id):
                return order
        return None

    def decide(self, event: AnyEvent, view: DeskView) -> Proposal:
        if not isinstance(event, BookSnapshot | BookDelta):
            return Proposal()
        token = view.token(event.token_id)
        book = view.book(event.token_id)
        if token is None or book is None:
            return Proposal()
        market = view.market(token.market_id)
        intents: list[OrderIntent] = []
        bid, ask = book.best_bid(), book.best_ask()
        stop_ns = self.config.stop_before_end_s * 1_000_000_000
        tradable = (
            market is not None
            and market.state is MarketState.ACTIVE
            and (market.end_ns == 0 or view.now_ns < market.end_ns - stop_ns)
            and bid is not None
            and ask is not None
            and bid < ask
        )
        common = {"token_id": token.token_id, "market_id": token.market_id, "post_only": True}
        for side in (Side.BUY, Side.SELL):
            working = self._working(view, token.token_id, side)
            if not tradable or bid is None or ask is None:
                target = None
            elif side is Side.BUY:
                target = bid + token.tick_size if ask - bid > token.tick_size else bid
            else:
                target = ask - token.tick_size if ask - bid > token.tick_size else ask
            position = view.position(token.token_id)
            size = self.config.quote_size_shares_micros
            if side is Side.SELL:
                size = max(position.size, 0) if position is not None else 0
                if size < token.min_order_size:
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
            if working is not None and working.price == target:
                continue
            intents.append(
                self._intent(
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
            )
        return Proposal(intents=tuple(intents))
