"""Test doubles of bots (risk, strategy, execution) for the desk's own tests.

They are real implementations of the Bot protocol with trivial logic — the desk code under test
is the real thing. Reason codes are registered ``SYS_`` codes so no test-only code enters the
registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import msgspec
from pydantic import Field

from polytraders.contracts.authority import Capability
from polytraders.contracts.bot import BotBase, MonitorConfig
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import (
    APPROVE,
    MonitorDecision,
    Proposal,
    RiskDecision,
    RoutePlan,
    Verdict,
)
from polytraders.contracts.ids import client_order_id
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import IntParam, SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, TradingState
from polytraders.model.orders import OrderIntent, Side, TimeInForce, VenueOrder

REJECT_CODE = "SYS_FEED_STALE"


class DoubleConfig(BotConfig):
    """Config of the test doubles."""

    size_micros: int = Field(default=10_000_000, ge=1, le=10**12)
    """Order size (micro-shares)."""


SPACE = SearchSpace(DoubleConfig, IntParam(name="size_micros", low=1, high=100))


class _Risk(BotBase[DoubleConfig]):
    bot_class: ClassVar[BotClass] = BotClass.RISK
    Config = DoubleConfig
    SEARCH_SPACE = SPACE
    reason_codes: ClassVar[frozenset[str]] = frozenset({REJECT_CODE, "SYS_TRADING_REDUCING"})


class ApproveBot(_Risk):
    """Approves everything; counts calls."""

    bot_id = "risk.approve_all"

    def __init__(self, bot_id: str = "risk.approve_all") -> None:
        super().__init__()
        self.bot_id = bot_id  # type: ignore[misc]
        self.calls = 0

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        self.calls += 1
        return APPROVE


class RejectBot(_Risk):
    """Rejects everything with ``REJECT_CODE``."""

    bot_id = "risk.reject_all"

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        return RiskDecision(verdict=Verdict.REJECT, reason_codes=(REJECT_CODE,))


class HalveBot(_Risk):
    """Reshapes every intent to half its size (never riskier)."""

    bot_id = "risk.halve"

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        smaller = msgspec.structs.replace(intent, size=intent.size // 2)
        return RiskDecision(verdict=Verdict.RESHAPE, reshaped=smaller)


class DoubleBot(_Risk):
    """Unauthorised: reshapes every intent to twice its size."""

    bot_id = "risk.double"

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        bigger = msgspec.structs.replace(intent, size=intent.size * 2)
        return RiskDecision(verdict=Verdict.RESHAPE, reshaped=bigger)


HALTING: frozenset[Capability] = frozenset({Capability.REDUCE, Capability.HALT})
"""The capabilities of the doubles that change the trading state (no kill switch)."""


class HaltBot(_Risk):
    """Halts on every intent (declares the HALT capability unless told otherwise)."""

    bot_id = "risk.halter"
    capabilities = HALTING

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        return RiskDecision(verdict=Verdict.HALT, reason_codes=(REJECT_CODE,))


class UnauthorisedHaltBot(HaltBot):
    """Asks for HALT without the HALT capability."""

    bot_id = "risk.usurper"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()


class ReduceBot(_Risk):
    """Approves and asks the desk to enter REDUCING (needs the REDUCE capability)."""

    bot_id = "risk.reducer"
    capabilities = HALTING

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        return RiskDecision(
            verdict=Verdict.APPROVE,
            reason_codes=("SYS_TRADING_REDUCING",),
            set_state=TradingState.REDUCING,
        )


class RaisingBot(_Risk):
    """Raises on every call."""

    bot_id = "risk.crashy"

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        raise RuntimeError("boom")


class WrongTypeBot(_Risk):
    """Returns a value of the wrong type."""

    bot_id = "risk.confused"

    def decide(self, intent: OrderIntent, view: DeskView, /) -> Any:
        return "APPROVE"


class UndeclaredCodeBot(_Risk):
    """Rejects with a code it never declared."""

    bot_id = "risk.undeclared"

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        return RiskDecision(verdict=Verdict.REJECT, reason_codes=("SYS_CROSSED_BOOK",))


class ScriptedRiskBot(_Risk):
    """Returns whatever ``script(intent, view)`` returns (for property tests)."""

    bot_id = "risk.scripted"
    capabilities = HALTING

    def __init__(self, script: Callable[[OrderIntent, DeskView], Any]) -> None:
        super().__init__()
        self.script = script

    def decide(self, intent: OrderIntent, view: DeskView, /) -> Any:
        return self.script(intent, view)


class WatchConfig(MonitorConfig):
    """Config of the monitoring double: its monitor runs every second by default."""

    monitor_interval_ms: int = Field(default=1_000, ge=0, le=3_600_000)
    """Period of the monitor step (ms of desk time)."""


class WatchBot(BotBase[WatchConfig]):
    """A risk bot whose monitor step returns ``script(view)`` (and whose ``decide`` approves).
    Declares the given capabilities (none by default)."""

    bot_id = "risk.watcher"
    bot_class = BotClass.RISK
    Config = WatchConfig
    SEARCH_SPACE = SearchSpace(WatchConfig)
    reason_codes: ClassVar[frozenset[str]] = frozenset({REJECT_CODE})

    def __init__(
        self,
        script: Callable[[DeskView], Any],
        capabilities: frozenset[Capability] = frozenset(),
    ) -> None:
        super().__init__()
        self.script = script
        self.capabilities = capabilities  # type: ignore[misc]
        self.calls = 0

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RiskDecision:
        return APPROVE

    def monitor(self, view: DeskView, /) -> MonitorDecision | None:
        self.calls += 1
        result: MonitorDecision | None = self.script(view)
        return result


# ------------------------------------------------------------------ strategies
class QuoteBot(BotBase[DoubleConfig]):
    """On each book update of ``token_id`` with no open order, bids one tick below the best
    bid... or, with ``cross=True``, buys at the best ask (a taker). Intent ids are
    ``<bot>/<n>``."""

    bot_id = "strat.quoter"
    bot_class = BotClass.STRATEGY
    Config = DoubleConfig
    SEARCH_SPACE = SPACE

    def __init__(self, token_id: str, market_id: str, *, cross: bool = False, every: int = 1):
        super().__init__()
        self.token_id = token_id
        self.market_id = market_id
        self.cross = cross
        self.every = every
        self.count = 0

    def reset(self) -> None:
        self.count = 0

    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        if not isinstance(event, BookSnapshot | BookDelta) or event.token_id != self.token_id:
            return Proposal()
        book = view.book(self.token_id)
        if book is None or book.best_bid() is None or book.best_ask() is None:
            return Proposal()
        self.count += 1
        if self.count % self.every or view.open_orders(self.token_id):
            return Proposal()
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None and ask is not None
        side = Side.BUY
        if self.cross:
            price, tif = ask, TimeInForce.FAK
        else:
            price, tif = bid, TimeInForce.GTC
        position = view.position(self.token_id)
        if position is not None and position.size >= 50_000_000:
            side, price = Side.SELL, (bid if self.cross else ask)
        intent = OrderIntent(
            intent_id=f"{self.bot_id}/{self.count}",
            bot_id=self.bot_id,
            token_id=self.token_id,
            market_id=self.market_id,
            side=side,
            price=price,
            size=self.config.size_micros,
            time_in_force=tif,
            ts_created_ns=view.now_ns,
        )
        return Proposal(intents=(intent,))


# ------------------------------------------------------------------ execution
class PassThroughExec(BotBase[DoubleConfig]):
    """Sends the intent as one order (client order id ``<intent id>/o0``)."""

    bot_id = "exec.passthrough"
    bot_class = BotClass.EXECUTION
    Config = DoubleConfig
    SEARCH_SPACE = SPACE

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RoutePlan:
        order = VenueOrder(
            client_order_id=client_order_id(intent.intent_id, 0),
            intent_id=intent.intent_id,
            bot_id=intent.bot_id,
            token_id=intent.token_id,
            market_id=intent.market_id,
            side=intent.side,
            price=intent.price,
            size=intent.size,
            notional=intent.notional,
            time_in_force=intent.time_in_force,
            expire_at_ns=intent.expire_at_ns,
            post_only=intent.post_only,
            reduce_only=intent.reduce_only,
        )
        return RoutePlan(orders=(order,))


class GreedyExec(PassThroughExec):
    """Unauthorised: sends twice the intent's size."""

    bot_id = "exec.greedy"

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RoutePlan:
        plan = super().decide(intent, view)
        order = plan.orders[0]
        order.size *= 2
        return plan
