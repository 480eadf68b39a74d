"""Bounded fuzzing of the market-data parsers (issue 12, "Fuzzing is part of the suite"):
structure-aware frames, random bytes and mutated real lines from ``data/samples`` through the
Polymarket market-channel parser (with the stream rules), the Binance line parser and the user
channel with its trade parsing. Each input: no exception, within 10 ms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.bounds import bounded, fuzz
from tests.fuzz.strategies import (
    binance_sample_lines,
    mutated,
    polymarket_sample_frames,
    wire_events,
    wire_frames,
)
from tests.fuzz.targets import TARGETS


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("parsers")


def _check(target: str, data: bytes, workdir: Path) -> None:
    fuzz = TARGETS[target]
    bounded(lambda: fuzz.run(data, workdir), fuzz.allowed)


@fuzz(400)
@given(wire_frames())
def test_structured_market_frames(data: bytes) -> None:
    _check("polymarket_wire", data, Path())


@fuzz(200)
@given(st.binary(max_size=300))
def test_random_bytes_as_market_frames(data: bytes) -> None:
    _check("polymarket_wire", data, Path())


MARKET_MUTATIONS = mutated(polymarket_sample_frames())
BINANCE_STAMPS = st.sampled_from(binance_sample_lines()).map(lambda line: line.split(b" ")[0])
BINANCE_MUTATIONS = mutated(tuple(line.split(b" ", 1)[1] for line in binance_sample_lines()))


@fuzz(300)
@given(data=MARKET_MUTATIONS)
def test_mutated_real_market_frames(data: bytes) -> None:
    _check("polymarket_wire", data, Path())


@fuzz(250)
@given(stamp=BINANCE_STAMPS, frame=BINANCE_MUTATIONS)
def test_mutated_real_binance_lines(stamp: bytes, frame: bytes, workdir: Path) -> None:
    _check("binance_lines", stamp + b" " + frame, workdir)


@fuzz(100)
@given(data=st.binary(max_size=200))
def test_random_bytes_as_binance_lines(data: bytes, workdir: Path) -> None:
    _check("binance_lines", data, workdir)


def _encoded(event: dict[str, object]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass")


@fuzz(300)
@given(
    data=st.one_of(
        wire_events().map(lambda e: {**e, "event_type": "trade"}),
        wire_events().map(lambda e: {**e, "event_type": "order"}),
    ).map(_encoded)
)
def test_structured_user_frames(data: bytes) -> None:
    _check("user_channel", data, Path())
