"""Configuration and search space of ``exec.smartrouter``.

Venue facts (``../shared/POLYMARKET.md`` "Orders") are configuration with hard limits that keep
them inside what the venue accepts: GTD expiry carries at least a 60 s security margin; a batch
holds at most 15 orders; sizes have 2 decimals (0.01 share = 10_000 micro-shares); market-order
amounts in pUSD have 2 decimals; the ~$1 minimum for market orders is unconfirmed, hence a
setting.
"""

from __future__ import annotations

from pydantic import Field

from polytraders.contracts.config import BotConfig
from polytraders.contracts.search_space import CategoricalParam, IntParam, SearchSpace

BUILDER_CODE_PATTERN = r"^(|0x[0-9a-fA-F]{64})$"
"""A builderCode is a bytes32 as 0x + 64 hex digits ("" = take the desk account's)."""


class SmartRouterConfig(BotConfig):
    """Parameters of the CTF Exchange V2 routing wrapper."""

    builder_code: str = Field(default="", pattern=BUILDER_CODE_PATTERN)
    """builderCode (bytes32, 0x-hex) attached to every order; "" uses the desk account's."""

    require_builder_code: bool = True
    """Refuse to route when no builderCode is available (orders must be attributed)."""

    maker_post_only: bool = True
    """Send resting (GTC/GTD) intents that do not cross the book as post-only makers."""

    allow_complement_buy: bool = True
    """Route the part of a SELL not covered by held shares as a BUY of the complementary token
    at ``1 − p`` (economically the same order)."""

    gtd_security_margin_s: int = Field(default=60, ge=60, le=600)
    """Seconds added to a GTD expiry: the venue expires GTD orders one minute before the stated
    time, so the wire expiry is the intended expiry plus this margin (at least 60 s)."""

    min_gtd_life_s: int = Field(default=5, ge=0, le=3_600)
    """A GTD intent must have at least this much life left when routed, in seconds."""

    size_step_micros: int = Field(default=10_000, ge=1, le=1_000_000)
    """Venue size precision in micro-shares (0.01 share); sizes round down to it."""

    notional_step_micros: int = Field(default=10_000, ge=1, le=1_000_000)
    """Precision of a BUY market order's pUSD amount in micro-pUSD (0.01); rounds down."""

    min_market_notional_micros: int = Field(default=1_000_000, ge=0, le=100_000_000)
    """Smallest notional of a FOK/FAK (market) order in micro-pUSD (venue: about $1,
    unconfirmed)."""

    max_batch_count: int = Field(default=15, ge=1, le=15)
    """Orders per batch submission (venue maximum 15 per ``POST /orders``)."""


SEARCH_SPACE = SearchSpace(
    SmartRouterConfig,
    CategoricalParam(name="maker_post_only", choices=(True, False)),
    CategoricalParam(name="allow_complement_buy", choices=(True, False)),
    IntParam(name="min_gtd_life_s", low=0, high=60, step=5),
    IntParam(name="gtd_security_margin_s", low=60, high=120, step=10),
    IntParam(name="max_batch_count", low=1, high=15),
)
"""Every tunable of :class:`SmartRouterConfig`. Venue precision and minimums
(``size_step_micros``, ``notional_step_micros``, ``min_market_notional_micros``) and the
attribution settings are facts or policy, not tunables."""
