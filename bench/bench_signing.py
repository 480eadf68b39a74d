"""Signed-order creation and market-channel frame parse+apply on one core.

Signing (goal ≤ 2 ms per order, against a reported ~1 s per order for naive use of the Python
client, ``../shared/POLYMARKET.md``):

1. ``ours``: :class:`polytraders.venues.polymarket.signing.OrderSigner` — domain separator
   cached per exchange, struct hashed by hand, secp256k1 through eth-keys (coincurve backend
   when installed).
2. ``client_builder``: the official client's offline path, ``OrderBuilder.build_order`` with
   tick size and neg-risk supplied (no network), which rebuilds the domain separator and runs
   ``encode_typed_data`` per order.
3. ``client_create_order``: the naive path, ``ClobClient.create_order`` with nothing cached,
   against the local simulator on loopback (it fetches ``/tick-size``, ``/neg-risk`` and
   ``/version`` first). Loopback hides the internet round trips that make it ~1 s in
   production; each real round trip adds tens to hundreds of ms.

Venue round trip: ``PolymarketVenue`` submit + flush of one order against the simulator on
loopback (signing, the client's request code, HTTP, the simulator's signature check and
matching, the answer parsed).

Websocket: frames are produced by the simulator's exchange replaying the real recorded books
(``price_change`` frames, as sent on the wire), then parsed by
``polytraders.feeds.polymarket_wire.parse_market_frame``, admitted by ``BookGuard`` and applied
to ``OrderBook``\\ s; the figure is frames/s and level updates/s.
"""

from __future__ import annotations

import json
import time

from eth_keys.backends import get_backend  # type: ignore[import-untyped]

from bench.data import POLYMARKET_SAMPLE
from polytraders.model.events import BookDelta, BookSnapshot
from polytraders.model.orders import Side

DESCRIPTION = "Polymarket: signed orders/s (ours vs the official client) and ws frame parse+apply"

KEY = "0x" + "42" * 32
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


def _ours(n: int) -> float:
    from polytraders.venues.polymarket.signing import OrderSigner

    signer = OrderSigner(KEY)
    started = time.perf_counter()
    for i in range(n):
        signer.sign(
            token_id=TOKEN,
            side=Side.BUY if i % 2 else Side.SELL,
            price=10_000 * (1 + i % 98),
            size=5_000_000 + 10_000 * i,
            neg_risk=bool(i % 3 == 0),
            salt=i,
            timestamp_ms=1_790_000_000_000 + i,
            builder_code="0x" + "ab" * 32,
        )
    return (time.perf_counter() - started) / n


def _client_builder(n: int) -> float:
    from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
    from py_clob_client_v2.order_builder.builder import OrderBuilder
    from py_clob_client_v2.signer import Signer

    builder = OrderBuilder(Signer(KEY, 137))
    options = CreateOrderOptions(tick_size="0.01", neg_risk=False)
    started = time.perf_counter()
    for i in range(n):
        builder.build_order(
            OrderArgsV2(
                token_id=TOKEN,
                price=0.01 * (1 + i % 98),
                size=5.0 + 0.01 * i,
                side="BUY" if i % 2 else "SELL",
            ),
            options,
        )
    return (time.perf_counter() - started) / n


def _client_create_order(n: int) -> float:
    from py_clob_client_v2.clob_types import OrderArgsV2

    from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
    from polytraders.venues.polymarket.client import ClobHttpClient

    account = account_for_key(KEY)
    with SimClobServer(SimSettings(limit_markets=1), account) as sim:
        token = sorted(sim.exchange.tokens)[0]
        from py_clob_client_v2.clob_types import ApiCreds

        total = 0.0
        for i in range(n):
            client = ClobHttpClient(
                sim.url,
                chain_id=137,
                private_key=KEY,
                creds=ApiCreds(account.api_key, account.api_secret, account.api_passphrase),
            )
            started = time.perf_counter()
            client.create_order(OrderArgsV2(token_id=token, price=0.45, size=10.0 + i, side="BUY"))
            total += time.perf_counter() - started
            client.close()
    return total / n


def _venue_post(n: int) -> tuple[float, float]:
    """(median, p90) seconds for ``PolymarketVenue`` submit + flush of one GTC order (sign,
    ``POST /orders`` through the official client's request code, parse the answer) against
    the simulator on loopback."""
    from polytraders.model.orders import VenueOrder
    from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
    from polytraders.venues.polymarket.credentials import Credentials
    from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig

    account = account_for_key(KEY)
    with SimClobServer(SimSettings(limit_markets=1), account) as sim:
        venue = PolymarketVenue.from_credentials(
            Credentials(
                private_key=KEY,
                api_key=account.api_key,
                api_secret=account.api_secret,
                api_passphrase=account.api_passphrase,
            ),
            PolymarketVenueConfig(clob_url=sim.url, require_reconciliation=False),
        )
        token = sorted(sim.exchange.tokens)[0]
        venue.load_token(token)
        times = []
        for i in range(n):
            order = VenueOrder(
                client_order_id=f"bench/{i}",
                intent_id="bench",
                token_id=token,
                side=Side.BUY,
                price=100_000,
                size=5_000_000,
                ts_created_ns=1_790_000_000_000_000_000 + i,
            )
            started = time.perf_counter()
            venue.submit(order, order.ts_created_ns)
            venue.flush(order.ts_created_ns)
            times.append(time.perf_counter() - started)
        venue.close()
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.9)]


def _frames() -> list[str]:
    """Wire frames of the whole recorded set, in order: a ``book`` the first time a token
    appears, then its ``price_change`` frames."""
    from polytraders.simclob.engine import SimExchange
    from polytraders.simclob.replay import load_recorded
    from polytraders.simclob.server import account_for_key

    recorded = load_recorded(POLYMARKET_SAMPLE, limit_markets=None)
    exchange = SimExchange(recorded, account_for_key(KEY))
    seen: set[str] = set()
    frames: list[str] = []
    while exchange.step(1):
        for channel, token_id, event in exchange.drain():
            if channel != "market":
                continue
            if token_id not in seen:
                seen.add(token_id)
                book = exchange.tokens[token_id].book_wire() | {"event_type": "book"}
                frames.append(json.dumps([book]))
            else:
                frames.append(json.dumps([event]))
    return frames


def _parse_apply(frames: list[str]) -> tuple[float, int, int]:
    from polytraders.feeds.guard import BookGuard
    from polytraders.feeds.polymarket_wire import parse_market_frame
    from polytraders.feeds.stats import FeedIssue, FeedStats
    from polytraders.model.book import OrderBook

    stats = FeedStats()
    guard = BookGuard(stats)
    order_books: dict[str, OrderBook] = {}
    levels = 0
    started = time.perf_counter()
    for ts, text in enumerate(frames):
        issues: list[FeedIssue] = []
        out: list = []  # type: ignore[type-arg]
        for event in parse_market_frame(text, ts, issues=issues):
            guard.admit(event, out)
        for event in out:
            if isinstance(event, BookSnapshot):
                book = order_books.setdefault(event.token_id, OrderBook(event.token_id))
                book.apply_snapshot(event.bids, event.asks, event.ts_event_ns)
            elif isinstance(event, BookDelta):
                book = order_books.setdefault(event.token_id, OrderBook(event.token_id))
                book.apply_levels(event.bids, event.asks, event.ts_event_ns)
                levels += len(event.bids) + len(event.asks)
    return time.perf_counter() - started, levels, stats.bad_input_total


def run(quick: bool = False) -> dict[str, float | int | str]:
    n = 300 if quick else 3_000
    ours_s = min(_ours(n) for _ in range(3))
    builder_s = min(_client_builder(max(n // 10, 50)) for _ in range(2))
    naive_s = _client_create_order(10 if quick else 30)
    post_median_s, post_p90_s = _venue_post(50 if quick else 200)
    frames = _frames()
    elapsed, levels, bad = min(_parse_apply(frames) for _ in range(1 if quick else 3))
    return {
        "ecdsa_backend": type(get_backend()).__name__,
        "ours_ms_per_order": round(ours_s * 1e3, 4),
        "ours_orders_per_s": round(1 / ours_s),
        "client_builder_ms_per_order": round(builder_s * 1e3, 3),
        "client_create_order_loopback_ms_per_order": round(naive_s * 1e3, 3),
        "speedup_vs_client_builder": round(builder_s / ours_s, 1),
        "venue_post_loopback_median_ms": round(post_median_s * 1e3, 3),
        "venue_post_loopback_p90_ms": round(post_p90_s * 1e3, 3),
        "ws_frames": len(frames),
        "ws_frames_per_s": round(len(frames) / elapsed),
        "ws_level_updates_per_s": round(levels / elapsed),
        "ws_bad_input": bad,
    }
