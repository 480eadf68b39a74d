"""Hypothesis strategies for the fuzz tests: JSON-ish values, structure-aware market-channel
frames, Binance lines, and real lines from ``data/samples`` mutated byte-wise and
value-wise (issue 12, "Fuzzing is part of the suite")."""

from __future__ import annotations

import functools
import gzip
import json
from typing import Any

from hypothesis import strategies as st

from polytraders.feeds import open_source
from polytraders.feeds.parquet import ParquetSource
from polytraders.feeds.polymarket_wire import encode_market_frame
from tests.conftest import BINANCE_SAMPLES, POLYMARKET_SAMPLE

HOSTILE_NUMBERS = [
    "1e-20000000",
    "61826.621e400000000",
    "9" * 5_000,
    "-0",
    "0.0000001",
    "1e30",
    "NaN",
    "Infinity",
    "0x10",
    "١٢",
    "",
    " 1 ",
    "1_000",
    "+.5",
]
"""Number texts that broke or slowed parsers, or sit on a bound."""

HOSTILE_VALUES: list[Any] = [
    None,
    True,
    -5,
    0,
    10**27,
    2**63,
    -(2**63) - 1,
    1e308,
    [],
    [1],
    {},
    {"a": {}},
    "",
    "\u0000",
    "\ud800",
    *HOSTILE_NUMBERS,
]
"""JSON values of every type, with the edges that found crashes."""

HOSTILE_BYTES = [
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"[" * 3_000,
    b"{" * 3_000,
    b'"' + b"9" * 5_000 + b'"',
    b"\x00",
    b"\n",
    b"\\u0000",
]
"""Byte strings spliced into real lines: invalid UTF-8, deep nesting, huge numbers, NUL."""


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value (nested lists and string-keyed objects), with the hostile edges."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(HOSTILE_VALUES),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=12), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


EVENT_TYPES = [
    "book",
    "price_change",
    "last_trade_price",
    "tick_size_change",
    "best_bid_ask",
    "market_resolved",
    "new_market",
    "mystery",
]
_WIRE_KEYS = [
    "event_type",
    "asset_id",
    "market",
    "timestamp",
    "bids",
    "asks",
    "price",
    "size",
    "side",
    "price_changes",
    "changes",
    "best_bid",
    "best_ask",
    "old_tick_size",
    "new_tick_size",
    "winning_asset_id",
    "assets_ids",
    "hash",
]
_wire_scalars = st.one_of(
    st.sampled_from(["0.45", "0.5", "10", "BUY", "SELL", "A", "1767225600000", "0.001"]),
    st.sampled_from(HOSTILE_VALUES),
    st.text(max_size=8),
    st.integers(min_value=-(2**65), max_value=2**65),
)
_level = st.fixed_dictionaries(
    {}, optional={"price": _wire_scalars, "size": _wire_scalars, "side": _wire_scalars}
)
_change = st.fixed_dictionaries(
    {},
    optional={
        "asset_id": _wire_scalars,
        "price": _wire_scalars,
        "size": _wire_scalars,
        "side": _wire_scalars,
        "best_bid": _wire_scalars,
    },
)


@st.composite
def wire_events(draw: st.DrawFn) -> dict[str, Any]:
    """One market-channel event object: a known or unknown ``event_type`` with any subset of
    the wire fields, each a plausible, hostile or random value."""
    event: dict[str, Any] = {"event_type": draw(st.sampled_from([*EVENT_TYPES, *HOSTILE_VALUES]))}
    for key in draw(st.lists(st.sampled_from(_WIRE_KEYS), max_size=8, unique=True)):
        if key in ("bids", "asks", "changes"):
            event[key] = draw(st.one_of(st.lists(_level, max_size=4), json_values(4)))
        elif key == "price_changes":
            event[key] = draw(st.one_of(st.lists(_change, max_size=4), json_values(4)))
        else:
            event[key] = draw(st.one_of(_wire_scalars, json_values(3)))
    return event


def wire_frames() -> st.SearchStrategy[bytes]:
    """Structure-aware market-channel frames: one event object or an array of them."""
    return st.one_of(
        wire_events().map(_dumps),
        st.lists(wire_events(), max_size=4).map(_dumps),
        json_values().map(_dumps),
    )


@functools.cache
def polymarket_sample_frames() -> tuple[bytes, ...]:
    """Real market-channel frames: the first events of the Parquet sample, encoded."""
    source = open_source(POLYMARKET_SAMPLE)
    assert isinstance(source, ParquetSource)
    market_of = {t.token_id: m.market_id for m in source.markets for t in m.tokens}
    frames: list[bytes] = []
    for event in source.events():
        if len(frames) >= 120:
            break
        try:
            frames.append(encode_market_frame([event], market_of=market_of))
        except ValueError:
            continue  # no wire form (closing status, empty delta)
    return tuple(frames)


@functools.cache
def binance_sample_lines() -> tuple[bytes, ...]:
    """Real Binance lines: the first 300 of the USDⓈ-M BTCUSDT sample (snapshot included)."""
    with gzip.open(BINANCE_SAMPLES / "usdm_btcusdt_20240808.gz", "rb") as handle:
        return tuple(next(handle).rstrip(b"\n") for _ in range(300))


def _replace_value(value: Any, path: list[int], new: Any) -> Any:
    """``value`` with the node reached by following ``path`` (indices modulo the children)
    replaced by ``new``."""
    if not path or not isinstance(value, dict | list) or not value:
        return new
    if isinstance(value, dict):
        keys = list(value)
        key = keys[path[0] % len(keys)]
        return {**value, key: _replace_value(value[key], path[1:], new)}
    index = path[0] % len(value)
    copy = list(value)
    copy[index] = _replace_value(copy[index], path[1:], new)
    return copy


@st.composite
def mutated(draw: st.DrawFn, originals: tuple[bytes, ...]) -> bytes:
    """A real JSON text mutated: a value deep inside replaced (structure-aware), or bytes
    spliced, deleted or repeated (byte-wise)."""
    original = draw(st.sampled_from(originals))
    how = draw(st.sampled_from(["value", "splice", "delete", "repeat"]))
    if how == "value":
        path = draw(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=5))
        new = draw(st.one_of(st.sampled_from(HOSTILE_VALUES), json_values(4)))
        return _dumps(_replace_value(json.loads(original), path, new))
    at = draw(st.integers(min_value=0, max_value=len(original)))
    if how == "splice":
        insert = draw(st.one_of(st.sampled_from(HOSTILE_BYTES), st.binary(max_size=16)))
        return original[:at] + insert + original[at:]
    end = draw(st.integers(min_value=at, max_value=min(len(original), at + 40)))
    if how == "delete":
        return original[:at] + original[end:]
    return original[:end] + original[at:end] * draw(st.integers(1, 50)) + original[end:]
