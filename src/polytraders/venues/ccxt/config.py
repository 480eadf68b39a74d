"""Settings of the ccxt venue (:class:`CcxtVenueConfig`), apart from the venue so that reading,
validating and versioning them needs no ccxt."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from polytraders.contracts.config import FrozenConfig

MarketType = Literal["perp", "spot"]
WorkingType = Literal["MARK_PRICE", "CONTRACT_PRICE"]
"""The price that triggers a Binance conditional order (``workingType``)."""

VENUE_NAMES: dict[str, str] = {"binanceusdm": "binance-usdm", "binance": "binance-spot"}
"""ccxt exchange id → our venue name, the prefix of token ids (``binance-usdm:BTCUSDT``, as
:mod:`polytraders.feeds.binance` names them)."""

MARKET_TYPES: dict[str, MarketType] = {"binanceusdm": "perp", "binance": "spot"}
"""ccxt exchange id → what it trades: USDⓈ-M perpetual futures or spot pairs."""


class CcxtVenueConfig(FrozenConfig):
    """Settings of :class:`~polytraders.venues.ccxt.venue.CcxtVenue`, linted like bot configs
    (units in names, hard limits, frozen, unknown keys refused)."""

    exchange_id: Literal["binanceusdm", "binance"] = "binanceusdm"
    """The ccxt exchange class (``ccxt.async_support.<id>``). Only Binance's are accepted: the
    exact conversion reads their ``info`` fields (:mod:`.convert`), which other exchanges name
    differently."""

    symbols: tuple[str, ...] = Field(default=("BTCUSDT",), min_length=1, max_length=50)
    """Venue symbols traded (Binance ids, ``BTCUSDT``); each must exist on the exchange."""

    api_url: str = Field(default="", pattern=r"^(http://(127\.0\.0\.1|localhost):\d{1,5})?$")
    """Empty: the exchange's own addresses. Else a loopback simulator's REST base
    (``http://127.0.0.1:PORT``, :mod:`polytraders.simexchange`): every ccxt address is moved
    there by ``point_at_simulator``. Only loopback is allowed, so keys never go elsewhere."""

    credentials_prefix: str = Field(default="BINANCE", pattern=r"^[A-Z][A-Z0-9_]{0,31}$")
    """Credentials are ``<prefix>_API_KEY`` and ``<prefix>_API_SECRET`` (environment or a
    chmod-600 file, :mod:`.credentials`)."""

    request_timeout_s: float = Field(default=10.0, ge=0.1, le=60.0)
    """ccxt's time-out of one HTTP request (s)."""

    call_timeout_s: float = Field(default=30.0, ge=0.2, le=300.0)
    """Longest wait of the synchronous facade for one ccxt call (s): the request, ccxt's
    throttle wait before it and its retries of ``load_markets``. A call that runs out has an
    unknown outcome (an order post is then asked for by client order id)."""

    rate_limit_ratio: float = Field(default=0.8, gt=0.0, le=1.0)
    """Share of ccxt's published request rate used: ccxt's throttler waits
    ``exchange.rateLimit / ratio`` ms per unit of endpoint cost (:mod:`.ratelimit`)."""

    rate_limit_backoff_ms: int = Field(default=1_000, ge=0, le=600_000)
    """After a 429/418 answer without ``Retry-After``, how long no order is sent (ms)."""

    poll_interval_ms: int = Field(default=1_000, ge=0, le=60_000)
    """How often :meth:`~.venue.CcxtVenue.advance` asks the exchange for new trades and for
    the state of orders no longer listed open (ms); 0: on every advance."""

    @property
    def venue(self) -> str:
        """Our venue name (token id prefix): ``binance-usdm`` or ``binance-spot``."""
        return VENUE_NAMES[self.exchange_id]

    @property
    def market_type(self) -> MarketType:
        """``perp`` (USDⓈ-M perpetuals: positions, leverage, funding) or ``spot``."""
        return MARKET_TYPES[self.exchange_id]

    @model_validator(mode="after")
    def _call_outlasts_request(self) -> Self:
        if self.call_timeout_s < self.request_timeout_s:
            raise ValueError(
                f"call_timeout_s ({self.call_timeout_s}) must be at least request_timeout_s "
                f"({self.request_timeout_s})"
            )
        return self


class ProtectiveStopPolicy(BaseModel):
    """How the protective stop is placed (frozen; hard limits in the fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stop_distance_bps: int = Field(default=200, ge=1, le=5_000)
    """Distance of the stop from the average entry price (bps of the entry)."""
    close_position: bool = False
    """True: ``closePosition`` (whatever the position is when triggered); False:
    ``reduceOnly`` with the position's size, replaced when the size changes."""
    working_type: WorkingType = "MARK_PRICE"
    """The price that triggers it (Binance's default, the last trade, is ``CONTRACT_PRICE``)."""
    client_id_prefix: str = Field(default="ps-", pattern=r"^[.A-Za-z:/0-9_-]{1,8}$")
    """Client ids of the stops this policy owns start with it."""
