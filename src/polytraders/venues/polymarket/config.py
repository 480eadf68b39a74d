"""Settings of the Polymarket CLOB v2 venue (:class:`PolymarketVenueConfig`), apart from the
venue itself so that reading, validating and versioning them needs no client library.
"""

from __future__ import annotations

from typing import Final, Literal, Self

from pydantic import Field, model_validator

from polytraders.contracts.config import FrozenConfig

POLYMARKET_CLOB_URL = "https://clob.polymarket.com"
CHAIN_ID_POLYGON: Final = 137
"""Polygon PoS chain id (EIP-712 domain ``chainId``), where the CLOB v2 exchange contracts
are."""


class PolymarketVenueConfig(FrozenConfig):
    """Settings of :class:`~polytraders.venues.polymarket.venue.PolymarketVenue`, linted like
    bot configs (units in names, hard limits, frozen, unknown keys refused). The limits are
    Polymarket's (``POLYMARKET.md``): the dead-man window is 10 s, so the heartbeat timeout can
    be at most that and heartbeats go out at least twice per window.
    """

    clob_url: str = Field(default=POLYMARKET_CLOB_URL, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """REST base of the CLOB (``http(s)://host[:port][/path]``): Polymarket's by default, the
    local simulator's (``http://127.0.0.1:PORT``) in tests."""

    chain_id: Literal[137] = CHAIN_ID_POLYGON
    """EIP-712 chain id orders are signed for: 137, Polygon (the CLOB v2 exchange contracts
    the signer knows are Polygon's)."""

    heartbeat_interval_ms: int = Field(default=5_000, ge=100, le=5_000)
    """How often the order heartbeat (``POST /v1/heartbeats``) goes out (ms). Polymarket asks
    for about every 5 s; at most half of ``heartbeat_timeout_ms``, so one lost heartbeat never
    lets the dead-man switch fire."""

    heartbeat_timeout_ms: int = Field(default=10_000, ge=200, le=10_000)
    """The venue's dead-man window (ms): with no heartbeat accepted for this long the venue
    has cancelled every order of the API key, so the desk reports them cancelled and halts
    (``SYS_POLY_HEARTBEAT_LAPSED``). Polymarket's is 10 s, the upper limit (a longer window
    would believe orders live that the venue has cancelled); shorter only against a simulator
    set up the same way."""

    heartbeat_retry_ms: int = Field(default=1_000, ge=50, le=5_000)
    """Retry after a heartbeat refused for another reason than 425 (engine-restart back-off)
    or 429 (its ``Retry-After``) (ms); never later than the regular interval. A lapse is
    declared only when the dead-man window really passed."""

    mode_probe_first_ms: int = Field(default=1_000, ge=100, le=60_000)
    """First back-off (ms) before a cancel-only mode is probed (the mode is lifted tentatively
    and the next queued order tests it); doubles up to ``mode_probe_max_ms``."""

    mode_probe_max_ms: int = Field(default=30_000, ge=100, le=600_000)
    """Longest back-off between cancel-only probes (ms)."""

    closed_only_poll_ms: int = Field(default=10_000, ge=100, le=600_000)
    """How often the closed-only status is asked while it is on (ms)."""

    post_only_window_ms: int = Field(default=120_000, ge=0, le=600_000)
    """After a 503 ``post_only_mode`` answer, only post-only orders are sent for this long
    (ms). Polymarket: about 2 minutes after its weekly matching-engine restart."""

    post_only_after_restart_ms: int = Field(default=120_000, ge=0, le=600_000)
    """After a 425 engine-restart back-off ends, only post-only orders are sent for this long
    (ms) (Polymarket: about 2 minutes)."""

    request_timeout_s: float = Field(default=5.0, ge=0.05, le=60.0)
    """Time-out of one REST request (s). An order post that times out is neither rejected nor
    re-sent: its outcome is asked by order hash (``GET /data/order/{hash}``)."""

    rate_limit_ratio: float = Field(default=0.8, gt=0.0, le=1.0)
    """Share of each published per-endpoint rate limit the local token buckets allow (e.g.
    ``POST /orders`` 1,000 per 10 s × 0.8); above 0, at most 1."""

    trades_poll_ms: int = Field(default=1_000, ge=0, le=60_000)
    """How often trades are fetched from ``GET /data/trades`` while orders are open (ms),
    besides the user channel; 0 turns polling off."""

    closed_order_retention_s: int = Field(default=300, ge=0, le=86_400)
    """How long a closed order (filled, cancelled, rejected) is kept after it closed (s) once
    every trade of it is final (CONFIRMED or FAILED), so a trade first seen late — on the
    user channel, by trade polling or by a periodic reconciliation's listing — still finds
    it; then the venue forgets it (a long session's memory stays bounded). The periodic trade
    poll's window reaches at least this far back, plus a margin
    (``PolymarketVenue.trade_window_after_s``)."""

    builder_code: str = Field(default="", pattern=r"^(0x[0-9a-fA-F]{64})?$")
    """bytes32 builderCode (``0x`` + 64 hex digits) attributed to every order that carries
    none; empty: the credentials' ``POLYMARKET_BUILDER_CODE``."""

    require_reconciliation: bool = True
    """Refuse new orders (``SYS_POLY_NOT_RECONCILED``) until start-up reconciliation has run;
    false only for venue tests that never reconcile."""

    @model_validator(mode="after")
    def _probe_back_off_grows(self) -> Self:
        if self.mode_probe_first_ms > self.mode_probe_max_ms:
            raise ValueError(
                f"mode_probe_first_ms ({self.mode_probe_first_ms}) must be at most "
                f"mode_probe_max_ms ({self.mode_probe_max_ms})"
            )
        return self

    @model_validator(mode="after")
    def _two_heartbeats_per_window(self) -> Self:
        if self.heartbeat_interval_ms * 2 > self.heartbeat_timeout_ms:
            raise ValueError(
                f"heartbeat_interval_ms ({self.heartbeat_interval_ms}) must be at most half of "
                f"heartbeat_timeout_ms ({self.heartbeat_timeout_ms})"
            )
        return self
