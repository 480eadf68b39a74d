"""Configuration and search space of ``strat.maker_tight``.

Units are in the field names (``_ticks`` whole price ticks of the token, ``_micros`` micro-shares,
``_s``/``_ms`` seconds/milliseconds, ``_pct`` percent, ``_events`` observations, ``_ratio`` a pure
number). Hard limits are the ``ge``/``le`` bounds; the defaults lie inside them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from polytraders.contracts.config import BotConfig
from polytraders.contracts.search_space import CategoricalParam, FloatParam, IntParam, SearchSpace


class MakerTightConfig(BotConfig):
    """Parameters of the reference binary-market maker."""

    fair_value_method: Literal["mid", "microprice"] = "microprice"
    """Fair value from the merged top of book: plain mid or size-weighted microprice."""

    base_half_spread_ticks: int = Field(default=1, ge=1, le=20)
    """Smallest distance from the fair value to each quote, in ticks (the spread is ≥ 2 ticks)."""

    vol_widen_ratio: float = Field(default=1.0, ge=0.0, le=10.0)
    """Half-spread ticks added per tick of ATR (average absolute fair-value move)."""

    volatile_extra_ticks: int = Field(default=1, ge=0, le=20)
    """Extra half-spread ticks while the regime is VOLATILE."""

    inventory_widen_ticks: int = Field(default=1, ge=0, le=20)
    """Extra half-spread ticks at full inventory (pro rata below it)."""

    inventory_skew_ticks: int = Field(default=2, ge=0, le=20)
    """Shift of the reservation price against the inventory at full inventory, in ticks."""

    ema_span_events: int = Field(default=20, ge=2, le=5_000)
    """Span of the fair-value EMA, in observations (distinct venue times)."""

    atr_span_events: int = Field(default=20, ge=2, le=5_000)
    """Span of the ATR-style average absolute move, in observations."""

    volatile_atr_ticks: float = Field(default=15.0, ge=0.05, le=200.0)
    """ATR (ticks per observation) at or above which the regime turns VOLATILE. The default puts
    about the most active 18 % of the recorded BTC 15-minute sample (tick 0.001) in VOLATILE."""

    volatile_trend_ticks: float = Field(default=60.0, ge=0.5, le=500.0)
    """Distance of the fair value from its EMA (ticks) at or above which the regime is VOLATILE."""

    regime_exit_ratio: float = Field(default=0.7, ge=0.1, le=1.0)
    """Both indicators must fall below this fraction of their thresholds to leave VOLATILE."""

    order_size_micros: int = Field(default=10_000_000, ge=1_000_000, le=10_000_000_000)
    """Base quote size in micro-shares (10_000_000 = 10 shares)."""

    max_position_micros: int = Field(default=100_000_000, ge=1_000_000, le=100_000_000_000)
    """Hard cap on |net inventory| per market in micro-shares (primary minus complement)."""

    size_skew_pct: int = Field(default=50, ge=0, le=100)
    """How much the inventory-growing side's size shrinks at full inventory, in percent."""

    size_step_micros: int = Field(default=10_000, ge=1, le=1_000_000)
    """Venue size precision in micro-shares (Polymarket: 0.01 share = 10_000)."""

    refresh_ticks: int = Field(default=3, ge=1, le=20)
    """Replace a working quote only when its target price moved by at least this many ticks."""

    max_quote_age_s: int = Field(default=30, ge=1, le=3_600)
    """Replace a working quote once it is this old, even if its target has not moved."""

    quote_gtd_lifetime_s: int = Field(default=120, ge=0, le=86_400)
    """Quotes are GTD orders living this long (a dead desk's quotes expire); 0 quotes GTC."""

    max_book_disagreement_ms: int = Field(default=2_000, ge=0, le=60_000)
    """How long the two tokens' books may contradict each other (each valid alone, crossed once
    mirrored: one token's update has arrived, the other's not yet) while the strategy holds its
    quotes unchanged; past it, the market is treated as crossed and the strategy stands down."""

    ack_grace_ms: int = Field(default=5_000, ge=0, le=600_000)
    """How long a proposed order may be missing from the desk's open orders before it is
    considered gone (rejected by risk or lost)."""

    stop_before_end_s: int = Field(default=60, ge=0, le=86_400)
    """Stop quoting this long before the market's end time and apply the unwind rule."""

    unwind_rule: Literal["hold", "passive", "taker"] = "passive"
    """At the stop time: ``hold`` keeps inventory to resolution; ``passive`` rests post-only
    reduce-only sells of held tokens at their fair value; ``taker`` sells held tokens with a
    reduce-only FAK order at the best bid (pays the taker fee)."""

    fee_cover_pct: int = Field(default=50, ge=0, le=200)
    """Percent of the per-share taker fee at the fair value that the half-spread must cover."""


SEARCH_SPACE = SearchSpace(
    MakerTightConfig,
    CategoricalParam(name="fair_value_method", choices=("mid", "microprice")),
    IntParam(name="base_half_spread_ticks", low=1, high=5),
    FloatParam(name="vol_widen_ratio", low=0.0, high=3.0, step=0.25),
    IntParam(name="volatile_extra_ticks", low=0, high=5),
    IntParam(name="inventory_widen_ticks", low=0, high=5),
    IntParam(name="inventory_skew_ticks", low=0, high=5),
    IntParam(name="ema_span_events", low=5, high=200, step=5),
    IntParam(name="atr_span_events", low=5, high=200, step=5),
    FloatParam(name="volatile_atr_ticks", low=1.0, high=60.0, log=True),
    FloatParam(name="volatile_trend_ticks", low=5.0, high=200.0, step=5.0),
    FloatParam(name="regime_exit_ratio", low=0.2, high=1.0, step=0.1),
    IntParam(name="order_size_micros", low=5_000_000, high=100_000_000, step=5_000_000),
    IntParam(name="max_position_micros", low=20_000_000, high=1_000_000_000, step=20_000_000),
    IntParam(name="size_skew_pct", low=0, high=100, step=10),
    IntParam(name="refresh_ticks", low=1, high=5),
    IntParam(name="max_quote_age_s", low=5, high=300, step=5),
    IntParam(name="quote_gtd_lifetime_s", low=0, high=600, step=30),
    IntParam(name="stop_before_end_s", low=0, high=300, step=15),
    CategoricalParam(name="unwind_rule", choices=("hold", "passive", "taker")),
    IntParam(name="fee_cover_pct", low=0, high=150, step=25),
    IntParam(name="max_book_disagreement_ms", low=0, high=10_000, step=500),
)
"""Every tunable parameter of :class:`MakerTightConfig` (``size_step_micros`` and
``ack_grace_ms`` are venue/desk facts, not tunables)."""
