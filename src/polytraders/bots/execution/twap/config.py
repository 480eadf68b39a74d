"""Configuration and search space of ``exec.twap``.

Venue facts (``../shared/POLYMARKET.md`` "Orders") are settings with hard limits: sizes have 2
decimals (0.01 share = 10_000 micro-shares); the ~$1 minimum of a market (FOK/FAK) order is
unconfirmed, hence a setting (the same default as ``exec.smartrouter``).
"""

from __future__ import annotations

from pydantic import Field

from polytraders.contracts.config import BotConfig
from polytraders.contracts.search_space import IntParam, SearchSpace


class TwapConfig(BotConfig):
    """Parameters of the TWAP execution bot."""

    duration_s: int = Field(default=300, ge=1, le=86_400)
    """Seconds over which a (not reduce-only) intent's children are released."""

    slice_count: int = Field(default=10, ge=1, le=1_000)
    """Children of a (not reduce-only) intent (fewer when the size cannot give each the
    minimum order size)."""

    unwind_duration_s: int = Field(default=120, ge=1, le=86_400)
    """Seconds over which a reduce-only intent (an unwind) is released."""

    unwind_slice_count: int = Field(default=12, ge=1, le=1_000)
    """Children of a reduce-only intent (an unwind)."""

    max_cross_ticks: int = Field(default=2, ge=0, le=100)
    """A child takes liquidity at most this many ticks beyond the touch (best bid for a SELL,
    best ask for a BUY), and never beyond the intent's limit price."""

    max_depth_take_pct: int = Field(default=50, ge=1, le=100)
    """A child takes at most this share of the visible depth within its price band; less depth
    shrinks the child, too little for the minimum size skips it."""

    size_step_micros: int = Field(default=10_000, ge=1, le=1_000_000)
    """Venue size precision (lot) in micro-shares (0.01 share); sizes round down to it."""

    min_child_notional_micros: int = Field(default=1_000_000, ge=0, le=100_000_000)
    """Smallest notional of a child (a FAK market order) in micro-pUSD (venue: about $1,
    unconfirmed); a smaller child is skipped."""


SEARCH_SPACE = SearchSpace(
    TwapConfig,
    IntParam(name="duration_s", low=30, high=1_800, step=30),
    IntParam(name="slice_count", low=2, high=60),
    IntParam(name="max_cross_ticks", low=0, high=10),
    IntParam(name="max_depth_take_pct", low=10, high=100, step=10),
)
"""Every tunable of :class:`TwapConfig`. The unwind schedule is the kill switch's policy, and
the lot and minimum notional are venue facts: not tunables."""
