"""The recorded market the simulator replays: a Binance USDⓈ-M or spot diff-depth recording
(``data/samples/binance/usdm_*.gz``, ``spot_*.gz``) read by
:class:`~polytraders.feeds.binance.BinanceDepthSource`.

The recording becomes a list of *steps*: each step is one depth event (a ``BookSnapshot`` or a
``BookDelta``, exact micro-units, update ids kept) with the public trades read since the
previous depth event (applied first, in file order). The first step is the first REST
snapshot the recording holds, after which the source's documented sync rules make the deltas
a continuous chain (``pu`` on futures, ``U`` = previous ``u`` + 1 on spot; a gap in the
recording shows as a later snapshot: the served websocket stream then breaks its chain there,
as the venue's would).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from polytraders.feeds.binance import BinanceDepthSource
from polytraders.model.events import BookDelta, BookSnapshot, Trade
from polytraders.model.market import Instrument

Market = Literal["usdm", "spot"]
"""What a simulator serves: Binance USDⓈ-M futures or Binance spot."""


@dataclass(frozen=True, slots=True)
class ReplayStep:
    """One depth event and the trades printed before it (file order)."""

    trades: tuple[Trade, ...]
    depth: BookSnapshot | BookDelta


@dataclass(frozen=True, slots=True)
class Recording:
    """A symbol's instrument (increments in micro-units; its ``venue`` says the market,
    ``binance-usdm`` or ``binance-spot``) and its replay steps."""

    instrument: Instrument
    steps: tuple[ReplayStep, ...]


def default_recording_path(market: Market = "usdm") -> Path:
    """The repository's BTCUSDT sample of ``market``: ``data/samples/binance/
    usdm_btcusdt_20240808.gz`` (``usdm``) or ``spot_btcusdt_20240808.gz`` (``spot``)."""
    return (
        Path(__file__).resolve().parents[3] / f"data/samples/binance/{market}_btcusdt_20240808.gz"
    )


@functools.lru_cache(maxsize=4)
def load_recording(path: Path) -> Recording:
    """Read a recording into replay steps (cached: the result is never mutated).

    Trades before the first depth event that the source emits are dropped (there is no book
    yet to match them against).

    Raises:
        FileNotFoundError: no such file.
        polytraders.feeds.errors.FeedError: not a Binance depth recording.
        ValueError: a recording without a REST snapshot.
    """
    source = BinanceDepthSource(path)
    steps: list[ReplayStep] = []
    trades: list[Trade] = []
    for event in source.events():
        if isinstance(event, Trade):
            if steps:
                trades.append(event)
        elif isinstance(event, (BookSnapshot, BookDelta)):
            if not steps and not isinstance(event, BookSnapshot):
                continue
            steps.append(ReplayStep(tuple(trades), event))
            trades = []
    if not steps:
        raise ValueError(f"{path} holds no REST depth snapshot to start the book from")
    return Recording(source.instruments[0], tuple(steps))
