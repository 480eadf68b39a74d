"""Markets and instruments.

Polymarket: a :class:`Market` (condition id) has two :class:`OutcomeToken`\\ s, each the
complement of the other (YES/NO, UP/DOWN); a winning share pays 1 pUSD at resolution. Crypto
venues: an :class:`Instrument` with price and size increments. Prices, sizes and increments
are micro-units; times are ns since the Unix epoch.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from polytraders.model.money import ONE


class MarketState(StrEnum):
    """Trading state of a market as the venue reports it.

    ACTIVE: accepting orders. HALTED: temporarily not accepting orders (venue halt or
    ``accepting_orders`` false). CLOSED: trading ended, not yet resolved. RESOLVED: the winning
    outcome is known and shares settle.
    """

    ACTIVE = "ACTIVE"
    HALTED = "HALTED"
    CLOSED = "CLOSED"
    RESOLVED = "RESOLVED"


class OutcomeToken(msgspec.Struct, frozen=True, kw_only=True):
    """One outcome token of a binary market.

    Fields:
        token_id: the venue's token id (or a stable derived id when the data has none).
        market_id: condition id of its market.
        outcome: label, e.g. ``"Yes"`` or ``"Up"``.
        complement_token_id: the other outcome of the same market.
        tick_size: minimum price increment (micro-units), 10_000 = 0.01.
        min_order_size: minimum resting order size (micro-shares), typically 5 shares.
        neg_risk: the market belongs to a neg-risk event (signed for the neg-risk exchange).
    """

    token_id: str
    market_id: str
    outcome: str
    complement_token_id: str
    tick_size: int = 10_000
    min_order_size: int = 5_000_000
    neg_risk: bool = False


class Market(msgspec.Struct, frozen=True, kw_only=True):
    """A binary prediction market.

    Fields:
        market_id: condition id (hex on Polymarket).
        slug, question, category: descriptive; ``category`` selects the fee rate.
        start_ns, end_ns: trading window (ns since epoch); ``end_ns`` 0 when unknown.
        state: last known :class:`MarketState`.
        tokens: the outcome tokens, in the venue's order (first is YES/UP).
        neg_risk_event_id: the neg-risk event grouping mutually exclusive markets, or "".
        payouts: settled payout per share per token id (micro-pUSD), empty until resolved.
        synthetic: True when generated rather than recorded.
    """

    market_id: str
    slug: str = ""
    question: str = ""
    category: str = "other"
    start_ns: int = 0
    end_ns: int = 0
    state: MarketState = MarketState.ACTIVE
    tokens: tuple[OutcomeToken, ...] = ()
    neg_risk_event_id: str = ""
    payouts: dict[str, int] = msgspec.field(default_factory=dict)
    synthetic: bool = False

    def token(self, token_id: str) -> OutcomeToken:
        """The outcome token with this id.

        Raises:
            KeyError: the token is not part of this market.
        """
        for token in self.tokens:
            if token.token_id == token_id:
                return token
        raise KeyError(f"token {token_id} is not in market {self.market_id}")


def market_problems(market: Market) -> list[str]:
    """Structural problems of a binary market (empty when valid).

    Two tokens of this market, each the other's complement; payouts, when set, are 0 or 1 pUSD
    per share and sum to 1 pUSD.
    """
    problems: list[str] = []
    if len(market.tokens) != 2:
        return [f"a binary market has 2 tokens, {market.market_id} has {len(market.tokens)}"]
    first, second = market.tokens
    if first.complement_token_id != second.token_id or second.complement_token_id != first.token_id:
        problems.append("tokens are not each other's complement")
    if any(t.market_id != market.market_id for t in market.tokens):
        problems.append("a token names another market")
    if market.payouts:
        if set(market.payouts) != {first.token_id, second.token_id}:
            problems.append("payouts must name exactly the market's tokens")
        elif sum(market.payouts.values()) != ONE or any(
            p not in (0, ONE) for p in market.payouts.values()
        ):
            problems.append("payouts must be 0 or 1 pUSD per share and sum to 1 pUSD")
    return problems


BINANCE_SPOT = "binance-spot"
"""Venue name of Binance spot pairs."""
BINANCE_USDM = "binance-usdm"
"""Venue name of Binance USDⓈ-M (USDT-margined linear) perpetual futures."""
PERPETUAL_VENUES = frozenset({BINANCE_USDM})
"""Venues whose instruments are linear perpetuals: a position may be short (signed size)."""


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """A crypto instrument on a venue (spot pair or perpetual).

    Fields:
        venue: e.g. ``"binance-usdm"``.
        symbol: venue symbol, e.g. ``"BTCUSDT"``.
        price_increment: tick (micro-units of the quote currency).
        size_increment: lot step (micro-units of the base asset).
        min_size: minimum order size (micro-units of the base asset).
    """

    venue: str
    symbol: str
    price_increment: int
    size_increment: int
    min_size: int = 0

    @property
    def token_id(self) -> str:
        """The id the desk, its books, orders and positions use: ``"<venue>:<symbol>"``."""
        return f"{self.venue}:{self.symbol}"

    @property
    def perpetual(self) -> bool:
        """True for a linear perpetual (venue in :data:`PERPETUAL_VENUES`): selling beyond
        what is held opens a short. False for spot: holdings never go below zero."""
        return self.venue in PERPETUAL_VENUES

    def price_problem(self, price: int) -> str | None:
        """Why ``price`` (micro-units of the quote currency) is not a valid order price, or
        None: it must be positive and a multiple of ``price_increment``. No upper bound (no
        binary price range applies)."""
        if price <= 0:
            return f"price {price} must be positive"
        if price % self.price_increment:
            return f"price {price} is not a multiple of the tick {self.price_increment}"
        return None

    def size_problem(self, size: int) -> str | None:
        """Why ``size`` (micro-units of the base asset) is not a valid order size, or None: a
        positive multiple of ``size_increment`` and at least ``min_size``."""
        if size <= 0 or size % self.size_increment:
            return f"size {size} is not a positive multiple of the lot step {self.size_increment}"
        if size < self.min_size:
            return f"size {size} is below the minimum {self.min_size}"
        return None
