"""Configuration of the paper venue (:class:`PaperVenueConfig`).

A :class:`polytraders.contracts.config.FrozenConfig` like bot configs (checked by the same
lint): pydantic v2, frozen, unknown keys rejected, a unit in every numeric field's name, hard
limits on every number, defaults inside every limit. The fill rules these settings select are
written down in :mod:`polytraders.venues.paper` (package docstring).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from polytraders.contracts.config import FrozenConfig
from polytraders.model.fees import (
    BINANCE_SPOT_MAKER_FEE_BPS,
    BINANCE_SPOT_TAKER_FEE_BPS,
    BINANCE_USDM_MAKER_FEE_BPS,
    BINANCE_USDM_TAKER_FEE_BPS,
    BPS,
    DEFAULT_FEE_RATES_PPM,
)
from polytraders.model.market import BINANCE_SPOT, BINANCE_USDM
from polytraders.model.money import MICROS

MAX_FUNDING_RATE_PPB = 30_000_000
"""Largest assumed funding rate magnitude a config accepts (ppb a period: 3 %)."""

QueueModel = Literal["pessimistic", "l2_inference", "probabilistic"]
"""How a decrease of our level (not explained by trades) moves the queue ahead of us and
whether it can fill us (rules 4.3–4.4 of :mod:`polytraders.venues.paper`)."""

QueueFunction = Literal["power", "log"]
"""The probability function of the ``probabilistic`` queue model (rule 4.4)."""

QUEUE_MODELS: tuple[QueueModel, ...] = ("pessimistic", "probabilistic", "l2_inference")
"""Every queue model, from the one that moves our queue least on a book decrease to the one
that moves it most."""


class PaperVenueConfig(FrozenConfig):
    """Settings of :class:`polytraders.venues.paper.PaperVenue`.

    Every amount is in micro-units (``_micros``), every duration in its named unit. The
    ``config_version`` is a hash of the canonical JSON, as for bot configs.
    """

    order_latency_ms: int = Field(default=250, ge=0, le=60_000)
    """Entry latency: time from ``submit`` until the order reaches the matching engine (ms). The
    order is matched against the book standing at ``submit time + order_latency_ms``. Default
    250 ms: public reports put Polymarket order round trips at 180–420 ms from a residential
    line and about 100 ms from a nearby server (unconfirmed, hence configurable)."""

    cancel_latency_ms: int = Field(default=250, ge=0, le=60_000)
    """Time from ``cancel`` until the cancel takes effect (ms); the order can still fill until
    then. A cancel never overtakes the order it cancels. Default: as the entry latency (a
    cancel travels the same way)."""

    gtd_security_margin_s: int = Field(default=60, ge=0, le=600)
    """Polymarket's GTD security margin (s): a GTD order whose (wire) expiry is ``expire_at_ns``
    stops trading at ``expire_at_ns − margin``, and one that would stop before it reaches the
    venue is refused as an invalid expiration. The execution bot adds the margin when it sets
    the expiry (``exec.smartrouter`` ``gtd_security_margin_s``); set 0 to read ``expire_at_ns``
    as the effective expiry."""

    response_latency_ms: int = Field(default=100, ge=0, le=60_000)
    """Time from the venue's answer (ack, fill, cancel, rejection, expiry) until the desk sees
    it (ms): the desk books its fills that much after they happened. Default 100 ms, from
    public reports of Polymarket order-to-fill times (about 100 ms; unconfirmed, hence
    configurable); set the desk's ``shutdown_grace_ms`` above it so the last answers are seen."""

    queue_model: QueueModel = "probabilistic"
    """How a decrease of the level we rest at, not explained by trades, moves the queue ahead of
    us: ``pessimistic`` (every such decrease is behind us; only trades and crossing fill us),
    ``l2_inference`` (every such decrease comes off the front and fills us once the queue ahead
    is gone: the optimistic bound) or ``probabilistic`` (hftbacktest's ProbQueueModel: the
    decrease is split between the front and the back of our place by ``queue_function``)."""

    queue_function: QueueFunction = "log"
    """``probabilistic`` only: ``log`` (f(x) = ln(1 + x), x in shares) or ``power``
    (f(x) = xⁿ, n = ``queue_power_n``); the share of a decrease behind us is
    f(back) / (f(back) + f(front)). Default ``log``: on snapshot-only data a decrease also holds
    the trades that take the front of the level, and xⁿ with n ≥ 1 credits an order behind a
    short front with almost none of it (``docs/paper_venue.md``, "Choosing the queue model")."""

    queue_power_n: float = Field(default=2.0, ge=0.1, le=10.0)
    """``probabilistic`` with ``queue_function = "power"`` only: the exponent n (hftbacktest's
    examples use 2)."""

    complement_fills: bool = True
    """A public trade on the complementary token at price x also reaches our orders at 1 − x
    (a NO buyer at 1 − p matches a YES bid at p): rule 4.2. Off: only trades on the order's own
    token count (Polymarket's market channel is not confirmed to print such a match on one
    token only)."""

    fee_rates_ppm: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_FEE_RATES_PPM))
    """Taker fee rate per market category, parts per million (0.07 → 70_000); every market the
    venue trades must have its category here. Makers pay none."""

    instrument_maker_fee_bps: dict[str, int] = Field(
        default_factory=lambda: {
            BINANCE_USDM: BINANCE_USDM_MAKER_FEE_BPS,
            BINANCE_SPOT: BINANCE_SPOT_MAKER_FEE_BPS,
        }
    )
    """Crypto instruments: maker commission per venue in basis points of the fill's notional
    (:func:`polytraders.model.fees.bps_fee_micros`); every instrument the venue trades must have
    its venue here and in ``instrument_taker_fee_bps``. Default: Binance USDⓈ-M VIP 0, 2 bps
    (https://www.binance.com/en/fee/futureFee); Binance spot VIP 0, 10 bps
    (https://www.binance.com/en/fee/trading). Left out of the dump (so of :meth:`canonical`
    and the version) while both instrument fee tables are at their defaults, so the versions of
    configs from before they existed do not change."""

    instrument_taker_fee_bps: dict[str, int] = Field(
        default_factory=lambda: {
            BINANCE_USDM: BINANCE_USDM_TAKER_FEE_BPS,
            BINANCE_SPOT: BINANCE_SPOT_TAKER_FEE_BPS,
        }
    )
    """Crypto instruments: taker commission per venue in basis points (as
    ``instrument_maker_fee_bps``). Default: Binance USDⓈ-M VIP 0, 5 bps; spot VIP 0, 10 bps."""

    funding_rates_ppb: dict[str, int] = Field(default_factory=dict)
    """An ASSUMED funding rate per perpetual instrument (token id ``"<venue>:<symbol>"``), parts
    per billion per 8-hour funding period, signed as Binance prints it (``"0.00010000"`` →
    100_000; positive: longs pay shorts). Not recorded data: the Binance recordings carry no
    funding. A backtest emits a ``FundingRate`` event with this rate at the start of the data
    and at each Binance USDⓈ-M funding time (00:00, 08:00, 16:00 UTC) in it, and the venue
    charges or credits every perpetual position at those times (rule 12.6 of
    :mod:`polytraders.venues.paper`). Within ±30_000_000 ppb (±3 % a period, beyond the
    Binance caps). Empty (the default): no funding events and no funding, as before it
    existed; left out of the dump while empty, so no version changes."""

    starting_cash_micros: int = Field(default=1_000 * MICROS, ge=0, le=10**9 * MICROS)
    """pUSD the paper account starts with (micro-units)."""

    min_market_notional_micros: int = Field(default=1 * MICROS, ge=0, le=1_000 * MICROS)
    """Smallest pUSD notional of a BUY market order sized by notional (Polymarket: about $1,
    unconfirmed, hence configurable)."""

    @model_validator(mode="after")
    def _no_ignored_settings(self) -> PaperVenueConfig:
        """Refuse a ``queue_function`` / ``queue_power_n`` other than the default where the
        queue model does not use it (no setting is accepted and ignored)."""
        defaults = type(self).model_fields
        function_set = self.queue_function != defaults["queue_function"].default
        power_set = self.queue_power_n != defaults["queue_power_n"].default
        if self.queue_model != "probabilistic" and (function_set or power_set):
            raise ValueError(
                "queue_function and queue_power_n apply to queue_model = 'probabilistic' only"
            )
        if self.queue_function != "power" and power_set:
            raise ValueError("queue_power_n applies to queue_function = 'power' only")
        return self

    @field_validator("fee_rates_ppm")
    @classmethod
    def _rates_in_range(cls, rates: Mapping[str, int]) -> dict[str, int]:
        for category, rate in rates.items():
            if not 0 <= rate <= MICROS:
                raise ValueError(f"fee rate of {category!r} must be within 0..1_000_000 ppm")
        return dict(rates)

    @field_validator("instrument_maker_fee_bps", "instrument_taker_fee_bps")
    @classmethod
    def _bps_in_range(cls, rates: Mapping[str, int]) -> dict[str, int]:
        for venue, rate in rates.items():
            if not 0 <= rate <= BPS:
                raise ValueError(f"fee of venue {venue!r} must be within 0..10_000 bps")
        return dict(rates)

    @field_validator("funding_rates_ppb")
    @classmethod
    def _funding_in_range(cls, rates: Mapping[str, int]) -> dict[str, int]:
        for token_id, rate in rates.items():
            venue, _, symbol = token_id.partition(":")
            if not venue or not symbol:
                raise ValueError(f"funding rate key {token_id!r} is not '<venue>:<symbol>'")
            if abs(rate) > MAX_FUNDING_RATE_PPB:
                raise ValueError(
                    f"funding rate of {token_id!r} must be within ±{MAX_FUNDING_RATE_PPB} ppb"
                )
        return dict(sorted(rates.items()))

    @model_validator(mode="after")
    def _instrument_fees_paired(self) -> PaperVenueConfig:
        """Every venue with a maker fee has a taker fee, and the reverse."""
        if self.instrument_maker_fee_bps.keys() != self.instrument_taker_fee_bps.keys():
            raise ValueError(
                "instrument_maker_fee_bps and instrument_taker_fee_bps must name the same venues"
            )
        return self

    @model_serializer(mode="wrap")
    def _canonical(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Every field, the instrument fee tables left out while both are at their defaults
        (see ``instrument_maker_fee_bps``) and the funding rates while empty: what
        :meth:`canonical` and the version cover."""
        data: dict[str, Any] = handler(self)
        if not self.funding_rates_ppb:
            data.pop("funding_rates_ppb", None)
        fields = type(self).model_fields
        if all(
            getattr(self, name) == fields[name].get_default(call_default_factory=True)
            for name in ("instrument_maker_fee_bps", "instrument_taker_fee_bps")
        ):
            data.pop("instrument_maker_fee_bps", None)
            data.pop("instrument_taker_fee_bps", None)
        return data

    def instrument_fees_bps(self, venue: str) -> tuple[int, int] | None:
        """(maker, taker) commission of ``venue``'s instruments in bps, or None when the
        venue has no fee schedule here."""
        maker = self.instrument_maker_fee_bps.get(venue)
        taker = self.instrument_taker_fee_bps.get(venue)
        return None if maker is None or taker is None else (maker, taker)

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

    @property
    def response_latency_ns(self) -> int:
        """``response_latency_ms`` in ns."""
        return self.response_latency_ms * 1_000_000

    def with_queue_model(self, queue_model: QueueModel, **settings: object) -> PaperVenueConfig:
        """This config with another queue model; ``settings`` change other fields too
        (``queue_function`` and ``queue_power_n`` go back to their defaults unless given).

        Raises:
            pydantic.ValidationError: a setting the model does not use, or out of its limits.
        """
        data = self.model_dump(exclude={"queue_model", "queue_function", "queue_power_n"})
        return PaperVenueConfig.model_validate({**data, **settings, "queue_model": queue_model})

    @property
    def queue_model_name(self) -> str:
        """The queue model in words: ``probabilistic (power, n = 2)``, ``pessimistic``…"""
        if self.queue_model != "probabilistic":
            return self.queue_model
        if self.queue_function == "log":
            return "probabilistic (log)"
        return f"probabilistic (power, n = {self.queue_power_n:g})"
