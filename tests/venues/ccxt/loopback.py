"""A :class:`CcxtVenue` on the loopback exchange simulator, markets loaded, for the venue's
tests."""

from __future__ import annotations

from polytraders.simexchange.server import SimExchangeServer
from polytraders.venues.ccxt.config import CcxtVenueConfig
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.ccxt.venue import CcxtVenue


def loopback_venue(sim: SimExchangeServer, secret: str = "", **settings: object) -> CcxtVenue:
    """A venue pointed at ``sim`` (polling on every ``advance``; ``settings`` override the
    config, e.g. ``exchange_id="binance"`` for spot; ``secret``: another API secret than the
    simulator's, to be refused). The caller closes it."""
    config = CcxtVenueConfig.model_validate({"api_url": sim.url, "poll_interval_ms": 0, **settings})
    credentials = ApiKeyCredentials(
        api_key=sim.api_key.key, api_secret=secret or sim.api_key.secret
    )
    venue = CcxtVenue.from_credentials(credentials, config)
    venue.load_markets()
    return venue
