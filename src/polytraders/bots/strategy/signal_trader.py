"""What the signal strategies (``strat.ema_cross``, ``strat.mean_reversion``) share: bars of
mid prices, the regime detector, one target position per token, and the orders that move the
position to its target.

**Tokens.** A strategy trades every token the desk sends book events for and knows order rules
of (``view.order_rules``): a Polymarket outcome token, or an instrument once the desk knows it.
Of a binary market it trades only the first token (buying the second is the mirror bet,
DESIGN.md "Binary-market identity"). State is kept per token.

**Bars.** The mid (``book.mid()``, micro-units) of each book event of the token is the running
close of the bar ``ts_event_ns // bar_s``. The first event of a later bar closes the previous
bar: its close updates the regime detector (:class:`~polytraders.bots.strategy.maker_tight.
regime.RegimeDetector`, keyed by token) and the strategy's indicators
(:meth:`SignalTrader._on_close`), which may set a new *target*: long (+1), flat (0) or short
(−1, only with ``allow_short``). A bar without any event is skipped (no close is invented).

**Position rules** (on every book event of the token, with the position read from the view):
from ``stop_before_end_s`` before the end of the token's market the target is flat and no
entry is made; a held position whose mid reaches ``take_profit_bps`` above (long) or below
(short) its average entry, or ``stop_loss_bps`` against it, gets a flat target (0 bps: the
rule is off). Before any signal the target is unknown and a held position is left alone.

**Orders.** When a bar closes or the target changes, the strategy works one post-only limit
order per token at the touch (BUY at the best bid, SELL at the best ask; GTD for
``order_lifetime_s``, GTC when 0 and on a crypto instrument, where ``exec.smartrouter`` routes
no GTD order): to go long, buy ``order_notional_micros`` worth at the bid
(plus any short to cover); to go flat, close the position reduce-only; to go short, sell that
worth plus any long. Sizes are rounded down to the token's size step and must reach its
minimum order size. A working order that no longer matches is replaced (REPLACE) or cancelled.
Under REDUCING only closing orders are made; HALTED, the kill switch, an inactive market, a
stale, empty, one-sided or crossed book withdraw the working order and propose nothing else.
Whether an order still works is read from ``view.intent_outcome``.

Intent ids are ``<bot id>/s<t>/i<n>`` as for ``strat.maker_tight``: ``t`` the desk time of the
first decision since construction or ``reset()``, ``n`` the bot's counter.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Generic, NamedTuple, TypeVar

from pydantic import Field

from polytraders.bots.strategy.maker_tight.regime import RegimeDetector, RegimeReading
from polytraders.contracts.bot import BotBase
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.ids import intent_id
from polytraders.contracts.view import DeskView, OrderRules
from polytraders.model.book import BookView
from polytraders.model.events import (
    AnyEvent,
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    MarketStatus,
    TradingState,
)
from polytraders.model.market import MarketState
from polytraders.model.money import ONE, Rounding, round_to_step
from polytraders.model.orders import IntentAction, OrderIntent, Side, TimeInForce

_NS_PER_S = 1_000_000_000
_BPS = 10_000
_BOOK_EVENTS = (BookSnapshot, BookDelta, BestBidAsk)


class SignalConfig(BotConfig):
    """The parameters every signal strategy has (units in the names: ``_s`` seconds,
    ``_micros`` micro-units of the quote currency, ``_bps`` basis points of the entry price,
    ``_n`` a count of bars, ``_ticks`` price ticks of the token, ``_ratio`` a pure number)."""

    bar_s: int = Field(default=10, ge=1, le=3_600)
    """Bar length: the last mid of each bar is its close, the indicators' input."""

    order_notional_micros: int = Field(default=10_000_000, ge=1_000_000, le=10_000_000_000)
    """Value of an entry in micro-units of the quote currency (10_000_000 = 10 pUSD or USDT):
    the size is this divided by the entry price, rounded down to the size step."""

    allow_short: bool = False
    """Whether a bearish signal may open a short (False: it only closes a long; Polymarket
    outcome tokens cannot be sold short)."""

    order_lifetime_s: int = Field(default=120, ge=0, le=86_400)
    """Orders are GTD for this long (a dead desk's orders expire); 0 sends GTC orders. Orders
    on a crypto instrument are always GTC (``exec.smartrouter`` routes no GTD there)."""

    take_profit_bps: int = Field(default=0, ge=0, le=10_000)
    """Close a position whose mid is this far beyond its average entry price in its favour;
    0 turns the rule off."""

    stop_loss_bps: int = Field(default=2_000, ge=0, le=10_000)
    """Close a position whose mid is this far from its average entry price against it; 0 turns
    the rule off."""

    stop_before_end_s: int = Field(default=60, ge=0, le=86_400)
    """From this long before the end of the token's market: no entry, close the position."""

    regime_ema_bars_n: int = Field(default=20, ge=2, le=5_000)
    """Span of the regime detector's EMA of the closes, in bars."""

    regime_atr_bars_n: int = Field(default=20, ge=2, le=5_000)
    """Span of the regime detector's average absolute move between closes, in bars."""

    volatile_atr_ticks: float = Field(default=15.0, ge=0.05, le=10_000.0)
    """Average move per bar (ticks) at or above which the regime is VOLATILE."""

    volatile_trend_ticks: float = Field(default=10.0, ge=0.5, le=10_000.0)
    """Distance of the close from the regime EMA (ticks) at or above which it is VOLATILE."""

    regime_exit_ratio: float = Field(default=0.7, ge=0.1, le=1.0)
    """Both regime indicators must fall below this fraction of their thresholds to return to
    NORMAL (hysteresis)."""


C = TypeVar("C", bound=SignalConfig)


class SignalCodes(NamedTuple):
    """One strategy's reason codes (each registered with the strategy as owner)."""

    entry: str
    exit: str
    take_profit: str
    stop_loss: str
    end_window: str
    repriced: str
    withdrawn: str
    warming_up: str
    regime_blocked: str
    reducing_only: str
    below_min_size: str
    trading_halted: str
    market_not_active: str
    unknown_token: str
    stale_book: str
    no_book: str
    one_sided_book: str
    crossed_book: str


def signal_codes(prefix: str) -> SignalCodes:
    """The codes ``<prefix>_ENTRY`` … ``<prefix>_CROSSED_BOOK`` (field names upper-cased)."""
    return SignalCodes(*(f"{prefix}_{name.upper()}" for name in SignalCodes._fields))


class Out:
    """One proposal being built: intents in order, codes deduplicated in first-seen order."""

    __slots__ = ("codes", "intents")

    def __init__(self) -> None:
        self.intents: list[OrderIntent] = []
        self.codes: dict[str, None] = {}

    def code(self, code: str) -> None:
        self.codes.setdefault(code, None)

    def build(self) -> Proposal:
        return Proposal(intents=tuple(self.intents), reason_codes=tuple(self.codes))


class Order(NamedTuple):
    """An order the strategy wants working: side, price and size (micro-units), reduce-only."""

    side: Side
    price: int
    size: int
    reduce_only: bool


@dataclass(slots=True)
class TokenState:
    """What the strategy keeps per token: the open bar (index and close, micro-units), the
    target (+1 long, 0 flat, −1 short, None before any signal), the working order (its intent
    id and what it asks) and the market the token belongs to ("" for none)."""

    bar: int
    close: int
    target: int | None = None
    working_id: str = ""
    working: Order | None = None
    market_id: str = ""


class SignalTrader(BotBase[C], ABC, Generic[C]):
    """Base of the signal strategies (module docstring). A subclass sets the class attributes
    of the bot contract and ``CODES``, and implements :meth:`_on_close`."""

    CODES: ClassVar[SignalCodes]

    def __init__(self, config: C | None = None, rng: random.Random | None = None) -> None:
        super().__init__(config, rng)
        c = self.config
        self.regime = RegimeDetector(
            c.regime_ema_bars_n,
            c.regime_atr_bars_n,
            c.volatile_atr_ticks,
            c.volatile_trend_ticks,
            c.regime_exit_ratio,
        )
        self.tokens: dict[str, TokenState] = {}
        self._session = ""
        self._sequence = 0

    def reset(self) -> None:
        """Forget bars, indicators, targets, working orders and the intent counter."""
        self.regime.reset()
        self.tokens.clear()
        self._session = ""
        self._sequence = 0

    @abstractmethod
    def _on_close(
        self,
        token_id: str,
        close: int,
        reading: RegimeReading,
        held: int,
        out: Out,
    ) -> int | None:
        """Feed one bar close (micro-units) to the indicators; return the new target (+1, 0,
        −1) or None to keep the current one. ``held`` is the direction held or being entered:
        the sign of the position, or of the current target while flat; codes explaining the
        signal go to ``out``. Each strategy defines its own (``strat.ema_cross``,
        ``strat.mean_reversion``)."""

    # ------------------------------------------------------------------ entry point
    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        """One proposal for one event (the desk has already applied it to ``view``).

        Never raises on bad market data: a missing or unusable book, an unknown token or an
        inactive market withdraws the token's working order with a registered code.
        """
        if not self._session:
            self._session = f"{self.bot_id}/s{view.now_ns}"
        out = Out()
        if isinstance(event, _BOOK_EVENTS):
            self._on_book(event.token_id, event.ts_event_ns, view, out)
        elif isinstance(event, MarketStatus):
            for token_id, state in sorted(self.tokens.items()):
                if state.market_id == event.market_id:
                    self._checked(token_id, view, out)
        elif view.kill_switch_tripped or view.trading_state is TradingState.HALTED:
            for token_id in sorted(self.tokens):
                self._withdraw(token_id, view, out, self.CODES.trading_halted)
        return out.build()

    # ------------------------------------------------------------------ one token
    def _checked(
        self, token_id: str, view: DeskView, out: Out
    ) -> tuple[OrderRules, BookView] | None:
        """The token's rules and a usable book, or None after withdrawing its order with the
        code of the first failed check."""
        codes = self.CODES
        rules = view.order_rules(token_id)
        problem = ""
        book = view.book(token_id)
        state = self.tokens.get(token_id)
        market = view.market(state.market_id) if state is not None and state.market_id else None
        if view.kill_switch_tripped or view.trading_state is TradingState.HALTED:
            problem = codes.trading_halted
        elif rules is None:
            problem = codes.unknown_token
        elif market is not None and market.state is not MarketState.ACTIVE:
            problem = codes.market_not_active
        elif view.is_stale(token_id):
            problem = codes.stale_book
        elif book is None or (book.best_bid() is None and book.best_ask() is None):
            problem = codes.no_book
        elif book.best_bid() is None or book.best_ask() is None:
            problem = codes.one_sided_book
        elif book.is_crossed():
            problem = codes.crossed_book
        if problem or rules is None or book is None:
            self._withdraw(token_id, view, out, problem or codes.no_book)
            return None
        return rules, book

    def _on_book(self, token_id: str, ts_ns: int, view: DeskView, out: Out) -> None:
        token = view.token(token_id)
        market_id = ""
        if token is not None:
            market = view.market(token.market_id)
            if market is not None:
                if market.tokens[0].token_id != token_id:
                    return  # the mirror leg of a traded binary market
                market_id = market.market_id
        state = self.tokens.get(token_id)
        if state is None and view.order_rules(token_id) is not None:
            state = self.tokens[token_id] = TokenState(bar=-1, close=0, market_id=market_id)
        checked = self._checked(token_id, view, out)
        if checked is None or state is None:
            return
        rules, book = checked
        mid = book.mid()
        if mid is None:  # unreachable after the checks: a two-sided book has a mid
            out.code(self.CODES.no_book)
            return
        bar = ts_ns // (self.config.bar_s * _NS_PER_S)
        position = _size(view, token_id)
        act = False
        if state.bar >= 0 and bar > state.bar:
            bar_ns = state.bar * self.config.bar_s * _NS_PER_S
            reading = self.regime.update(token_id, bar_ns, state.close, rules.tick_size)
            held = (position > 0) - (position < 0) if position else (state.target or 0)
            target = self._on_close(token_id, state.close, reading, held, out)
            if target is not None:
                state.target = target
            act = True
        if bar >= state.bar:
            state.bar, state.close = bar, mid
        act = self._position_rules(token_id, state, view, mid, out) or act
        if act:
            self._work(
                token_id, state=state, rules=rules, book=book, view=view, position=position, out=out
            )

    def _position_rules(
        self, token_id: str, state: TokenState, view: DeskView, mid: int, out: Out
    ) -> bool:
        """End-window, take-profit and stop-loss rules; True when they set a flat target."""
        codes = self.CODES
        c = self.config
        market = view.market(state.market_id) if state.market_id else None
        end_ns = market.end_ns if market is not None else 0
        if end_ns and view.now_ns >= end_ns - c.stop_before_end_s * _NS_PER_S:
            out.code(codes.end_window)
            changed = state.target != 0
            state.target = 0
            return changed
        pos = view.position(token_id)
        if pos is None or pos.size == 0 or state.target == 0:
            return False
        entry = abs(pos.cost_basis) * ONE // abs(pos.size)  # average entry price, micro
        favour = (mid - entry) if pos.size > 0 else (entry - mid)
        if c.take_profit_bps and favour * _BPS >= entry * c.take_profit_bps:
            out.code(codes.take_profit)
        elif c.stop_loss_bps and -favour * _BPS >= entry * c.stop_loss_bps:
            out.code(codes.stop_loss)
        else:
            return False
        state.target = 0
        return True

    # ------------------------------------------------------------------ orders
    def _wanted(
        self,
        *,
        state: TokenState,
        rules: OrderRules,
        book: BookView,
        view: DeskView,
        position: int,
        out: Out,
    ) -> Order | None:
        bid, ask = book.best_bid(), book.best_ask()
        if state.target is None or bid is None or ask is None:
            return None
        c = self.config
        step = rules.size_step
        reducing = view.trading_state is TradingState.REDUCING
        side: Side | None = None
        size = 0
        if state.target > 0 and position <= 0:
            side, price = Side.BUY, bid
            size = -position + round_to_step(
                c.order_notional_micros * ONE // bid, step, Rounding.DOWN
            )
        elif state.target < 0 and position >= 0:
            side, price = Side.SELL, ask
            size = position + round_to_step(
                c.order_notional_micros * ONE // ask, step, Rounding.DOWN
            )
        elif state.target == 0 and position != 0:
            side, price = (Side.SELL, ask) if position > 0 else (Side.BUY, bid)
            size = abs(position)
        if side is None:
            return None
        reduce_only = state.target == 0
        if reducing and not reduce_only:
            out.code(self.CODES.reducing_only)
            if position == 0:
                return None
            size, reduce_only = abs(position), True  # close what is held, open nothing
        size = round_to_step(size, step, Rounding.DOWN)
        if size < max(rules.min_order_size, step):
            out.code(self.CODES.below_min_size)
            return None
        return Order(side, price, size, reduce_only)

    def _work(
        self,
        token_id: str,
        *,
        state: TokenState,
        rules: OrderRules,
        book: BookView,
        view: DeskView,
        position: int,
        out: Out,
    ) -> None:
        wanted = self._wanted(
            state=state, rules=rules, book=book, view=view, position=position, out=out
        )
        working = self._still_working(state, view)
        if wanted == working:
            return
        if wanted is None:
            self._withdraw(token_id, view, out, "")
            return
        replaces = state.working_id if working is not None else ""
        now = view.now_ns
        # GTD only on outcome tokens: exec.smartrouter refuses a GTD intent on an instrument
        lifetime = self.config.order_lifetime_s if view.token(token_id) is not None else 0
        intent = OrderIntent(
            intent_id=self._next_id(),
            bot_id=self.bot_id,
            action=IntentAction.REPLACE if replaces else IntentAction.PLACE,
            token_id=token_id,
            market_id=state.market_id,
            side=wanted.side,
            price=wanted.price,
            size=wanted.size,
            time_in_force=TimeInForce.GTD if lifetime else TimeInForce.GTC,
            expire_at_ns=now + lifetime * _NS_PER_S if lifetime else 0,
            post_only=True,
            reduce_only=wanted.reduce_only,
            target_intent_id=replaces,
            builder_code=view.account.builder_code,
            ts_created_ns=now,
        )
        out.intents.append(intent)
        out.code(
            self.CODES.repriced
            if replaces
            else (self.CODES.exit if wanted.reduce_only else self.CODES.entry)
        )
        state.working_id, state.working = intent.intent_id, wanted

    def _still_working(self, state: TokenState, view: DeskView) -> Order | None:
        """The working order, or None once the desk reports its intent finished (or unknown:
        a SHADOW or ADVISORY strategy's intents are never applied)."""
        if state.working is None:
            return None
        outcome = view.intent_outcome(state.working_id)
        if outcome is None or outcome.status.finished:
            state.working_id, state.working = "", None
            return None
        return state.working

    def _withdraw(self, token_id: str, view: DeskView, out: Out, code: str) -> None:
        if code:
            out.code(code)
        state = self.tokens.get(token_id)
        if state is None or self._still_working(state, view) is None or state.working is None:
            return
        working = state.working
        out.intents.append(
            OrderIntent(
                intent_id=self._next_id(),
                bot_id=self.bot_id,
                action=IntentAction.CANCEL,
                token_id=token_id,
                market_id=state.market_id,
                side=working.side,
                price=working.price,
                size=0,
                target_intent_id=state.working_id,
                ts_created_ns=view.now_ns,
            )
        )
        out.code(self.CODES.withdrawn)
        state.working_id, state.working = "", None

    def _next_id(self) -> str:
        value = intent_id(self._session, self._sequence)
        self._sequence += 1
        return value


def _size(view: DeskView, token_id: str) -> int:
    position = view.position(token_id)
    return 0 if position is None else position.size
