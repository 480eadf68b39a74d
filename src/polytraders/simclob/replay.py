"""Recorded books the simulator replays: ``data/samples/polymarket/resolvedkit_btc15m``.

``books.parquet`` holds L2 snapshots (``market_id``, ``ts`` ms, ``side`` UP/DOWN, bid/ask price
and size lists as recorded doubles, best first); ``markets.parquet`` the markets. The recorded
set has no venue token ids, so each token gets a stable derived id: the uint256 (decimal
string) of ``keccak256("<market_id>:<side>")`` — the CLOB's token ids are uint256 decimals
too, so signed orders carry it unchanged. Prices and sizes become micro-units exactly through
:func:`polytraders.model.money.micros_from_recorded`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from eth_utils import keccak  # type: ignore[attr-defined]

from polytraders.model.money import micros_from_recorded

Level = tuple[int, int]


def derived_token_id(market_id: str, outcome_side: str) -> str:
    """Stable uint256 token id (decimal) for a recorded (market, UP/DOWN) pair."""
    return str(int.from_bytes(keccak(text=f"{market_id}:{outcome_side}"), "big"))


@dataclass(frozen=True, slots=True)
class RecordedToken:
    """One outcome token of a recorded market."""

    token_id: str
    market_id: str
    outcome: str
    complement_token_id: str
    tick_size: int = 10_000


@dataclass(frozen=True, slots=True)
class RecordedSnapshot:
    """One recorded L2 snapshot: bids and asks best first, micro-units, ``ts_ms`` epoch ms."""

    token_id: str
    ts_ms: int
    bids: list[Level]
    asks: list[Level]


@dataclass(frozen=True, slots=True)
class RecordedSet:
    """Tokens (by id) and snapshots in file (time) order."""

    tokens: dict[str, RecordedToken]
    snapshots: list[RecordedSnapshot]


@functools.lru_cache(maxsize=4)
def load_recorded(
    path: Path, limit_markets: int | None = None, market_ids: tuple[str, ...] = ()
) -> RecordedSet:
    """Load a recorded set directory (``books.parquet``); cached per (path, limit, markets)
    since the result is never mutated (the exchange copies levels into its own books).

    Args:
        path: directory holding ``books.parquet``.
        limit_markets: keep only the first N markets seen (tests use 1–2 for speed).
        market_ids: keep only these markets (condition ids; empty: every market), still at
            most ``limit_markets`` of them (readiness fixture packs serve the markets their
            cases were cut from, wherever they are in the recording).

    Raises:
        FileNotFoundError: no ``books.parquet`` in ``path``.
        ValueError: a recorded value cannot be represented in micro-units.
    """
    table = pq.read_table(
        path / "books.parquet",
        columns=["market_id", "ts", "side", "bid_px", "bid_sz", "ask_px", "ask_sz"],
    )
    rows = table.to_pydict()
    tokens: dict[str, RecordedToken] = {}
    markets: list[str] = []
    snapshots: list[RecordedSnapshot] = []
    for market, ts_ms, side, bid_px, bid_sz, ask_px, ask_sz in zip(
        rows["market_id"],
        rows["ts"],
        rows["side"],
        rows["bid_px"],
        rows["bid_sz"],
        rows["ask_px"],
        rows["ask_sz"],
        strict=True,
    ):
        if market not in markets:
            if (market_ids and market not in market_ids) or (
                limit_markets is not None and len(markets) >= limit_markets
            ):
                continue
            markets.append(market)
            up, down = derived_token_id(market, "UP"), derived_token_id(market, "DOWN")
            tokens[up] = RecordedToken(up, market, "Up", down)
            tokens[down] = RecordedToken(down, market, "Down", up)
        token_id = derived_token_id(market, str(side))
        snapshots.append(
            RecordedSnapshot(
                token_id=token_id,
                ts_ms=int(ts_ms),
                bids=[
                    (micros_from_recorded(p), micros_from_recorded(s))
                    for p, s in zip(bid_px, bid_sz, strict=True)
                ],
                asks=[
                    (micros_from_recorded(p), micros_from_recorded(s))
                    for p, s in zip(ask_px, ask_sz, strict=True)
                ],
            )
        )
    for token_id, token in list(tokens.items()):
        tick = infer_tick(
            p
            for snap in snapshots
            if snap.token_id == token_id
            for p, _ in [*snap.bids, *snap.asks]
        )
        tokens[token_id] = RecordedToken(
            token.token_id, token.market_id, token.outcome, token.complement_token_id, tick
        )
    return RecordedSet(tokens, snapshots)


def infer_tick(prices: Iterable[int]) -> int:
    """The coarsest venue tick (0.01, 0.001, 0.0001) every recorded price lies on."""
    tick = 10_000
    for price in prices:
        while tick > 100 and price % tick:
            tick //= 10
    return tick
