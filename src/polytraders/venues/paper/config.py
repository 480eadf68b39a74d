"""Configuration of the paper venue (:class:`PaperVenueConfig`).

A :class:`polytraders.contracts.config.FrozenConfig` like bot configs (checked by the same
lint): pydantic v2, frozen, unknown keys rejected, a unit in every numeric field's name, hard
limits on every number, defaults inside every limit. The fill rules these settings select are
written down in :mod:`polytraders.venues.paper` (package docstring).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator

from polytraders.contracts.config import FrozenConfig
from polytraders.model.fees import DEFAULT_FEE_RATES_PPM
from polytraders.model.money import MICROS

QueueModel = Literal["none", "proportional"]
"""How a decrease of our level (not explained by trades) moves the queue ahead of us."""


class PaperVenueConfig(FrozenConfig):
    """Settings of :class:`polytraders.venues.paper.PaperVenue`.

    Every amount is in micro-units (``_micros``), every duration in its named unit. The
    ``config_version`` is a hash of the canonical JSON, as for bot configs.
    """

    order_latency_ms: int = Field(default=250, ge=0, le=60_000)
    """Time from ``submit`` until the order reaches the matching engine (ms). The order is
    matched against the book standing at ``submit time + order_latency_ms``."""

    cancel_latency_ms: int = Field(default=250, ge=0, le=60_000)
    """Time from ``cancel`` until the cancel takes effect (ms); the order can still fill until
    then. A cancel never overtakes the order it cancels."""

    gtd_security_margin_s: int = Field(default=60, ge=0, le=600)
    """Polymarket's GTD security margin (s): a GTD order whose (wire) expiry is ``expire_at_ns``
    stops trading at ``expire_at_ns − margin``, and one that would stop before it reaches the
    venue is refused as an invalid expiration. The execution bot adds the margin when it sets
    the expiry (``exec.smartrouter`` ``gtd_security_margin_s``); set 0 to read ``expire_at_ns``
    as the effective expiry."""

    queue_model: QueueModel = "proportional"
    """How a decrease of the level we rest at, not explained by trades, moves our queue ahead:
    ``none`` (cancellations are behind us: the queue ahead only shrinks when the level becomes
    smaller than it) or ``proportional`` (cancellations are spread evenly over the level)."""

    infer_fills_from_decreases: bool = True
    """L2 inference for snapshot-only data: a decrease of our level larger than the queue ahead
    of us counts as volume traded through us (the decrease is consumed from the front)."""

    fee_rates_ppm: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_FEE_RATES_PPM))
    """Taker fee rate per market category, parts per million (0.07 → 70_000); every market the
    venue trades must have its category here. Makers pay none."""

    starting_cash_micros: int = Field(default=1_000 * MICROS, ge=0, le=10**9 * MICROS)
    """pUSD the paper account starts with (micro-units)."""

    min_market_notional_micros: int = Field(default=1 * MICROS, ge=0, le=1_000 * MICROS)
    """Smallest pUSD notional of a BUY market order sized by notional (Polymarket: about $1,
    unconfirmed, hence configurable)."""

    @field_validator("fee_rates_ppm")
    @classmethod
    def _rates_in_range(cls, rates: Mapping[str, int]) -> dict[str, int]:
        for category, rate in rates.items():
            if not 0 <= rate <= MICROS:
                raise ValueError(f"fee rate of {category!r} must be within 0..1_000_000 ppm")
        return dict(rates)

    @property
    def order_latency_ns(self) -> int:
        """``order_latency_ms`` in ns."""
        return self.order_latency_ms * 1_000_000

    @property
    def gtd_security_margin_ns(self) -> int:
        """``gtd_security_margin_s`` in ns."""
        return self.gtd_security_margin_s * 1_000_000_000

    @property
    def cancel_latency_ns(self) -> int:
        """``cancel_latency_ms`` in ns."""
        return self.cancel_latency_ms * 1_000_000
