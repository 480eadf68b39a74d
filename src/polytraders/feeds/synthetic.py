"""Seeded synthetic Polymarket feed, labelled synthetic in every market and event.

Spec strings: ``synthetic:<scenario>?seed=7&markets=3&duration_s=900`` (see
:func:`parse_spec` for every parameter). Each market is binary (tokens ``YES`` and ``NO``,
complements); its latent probability follows a Gaussian random walk in log-odds; the YES book
sits around it on the tick grid with random sizes, the NO book mirrors it exactly (NO bids at
1 − YES asks, same sizes), trades print at the touch, full ``book`` frames repeat every
``snapshot_s`` seconds, and ``market_resolved`` names YES the winner when the final probability is
≥ 0.5 (one second after the end; ``MarketStatus`` CLOSED comes at the end).

The generator writes real market-channel frames and feeds them through the same parser and
:class:`~polytraders.feeds.polymarket_lines.WireReplay` as a recording, so the synthetic feed
exercises exactly the recorded path (with ``synthetic=True``).

Scenarios (:data:`SCENARIOS`): ``normal`` (1-tick spread, 10 levels), ``wide_spread`` (10
ticks), ``thin_book`` (2 levels of 5–20 shares), ``stale`` (market 0 sends nothing for
``stale_s`` seconds mid-run), ``halt_resume`` (``MarketStatus`` HALTED for ``halt_s`` seconds
mid-run, then ACTIVE), ``tick_size_change`` (0.01 → 0.001 mid-run, books on the new grid
after it), ``crossed_book`` (market 0's YES book crossed for ``crossed_s`` seconds mid-run),
``malformed`` (normal plus one of each bad-input kind: malformed frame, unknown event type,
price outside [0, 1], negative size, non-monotonic receive time, delta before snapshot).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, fields
from urllib.parse import parse_qsl

import msgspec

from polytraders.feeds.config import EventTimeWindow
from polytraders.feeds.lifecycle import MarketCloser
from polytraders.feeds.polymarket_lines import WireReplay
from polytraders.feeds.polymarket_wire import (
    WireBook,
    WireLastTrade,
    WireLevel,
    WireMarketResolved,
    WirePriceChange,
    WirePriceChangeItem,
    WireTickSizeChange,
)
from polytraders.feeds.source import Source
from polytraders.model.events import AnyEvent, MarketStatus
from polytraders.model.market import Market, MarketState, OutcomeToken
from polytraders.model.money import ONE, from_micros

SCENARIOS = (
    "normal",
    "wide_spread",
    "thin_book",
    "stale",
    "halt_resume",
    "tick_size_change",
    "crossed_book",
    "malformed",
)
PREFIX = "synthetic:"
_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000
_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of a synthetic feed (all have defaults; units in names).

    Fields:
        scenario: one of :data:`SCENARIOS`.
        seed: seed of every random draw.
        markets: number of binary markets (1–100).
        duration_s: trading window of each market (all share one window).
        step_ms: time between book updates (≥ 10).
        start_ns: start of the window (default 2026-01-01T00:00:00Z).
        latency_ms: receive time = event time + this.
        snapshot_s: full ``book`` frames every this many seconds.
        vol_per_sqrt_s: log-odds volatility of the latent probability.
        trade_prob: chance of a trade per market per step.
        stale_s, halt_s, crossed_s: lengths of the stale / halt / crossed episodes.
    """

    scenario: str = "normal"
    seed: int = 0
    markets: int = 1
    duration_s: int = 900
    step_ms: int = 1_000
    start_ns: int = 1_767_225_600 * _NS_PER_S
    latency_ms: int = 20
    snapshot_s: int = 60
    vol_per_sqrt_s: float = 0.02
    trade_prob: float = 0.3
    stale_s: int = 60
    halt_s: int = 60
    crossed_s: int = 10

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown synthetic scenario {self.scenario!r}; one of {SCENARIOS}")
        if not 1 <= self.markets <= 100:
            raise ValueError("markets must be between 1 and 100")
        if self.step_ms < 10 or self.duration_s < 1 or self.duration_s * 1000 < 10 * self.step_ms:
            raise ValueError("need step_ms >= 10 and at least 10 steps in duration_s")
        if self.start_ns % _NS_PER_MS or self.latency_ms < 0 or self.snapshot_s < 1:
            raise ValueError("start_ns must be whole ms; latency_ms >= 0; snapshot_s >= 1")
        if min(self.stale_s, self.halt_s, self.crossed_s) < 1:
            raise ValueError("episode lengths must be >= 1 s")
        if not 0 <= self.trade_prob <= 1 or self.vol_per_sqrt_s < 0:
            raise ValueError("trade_prob in [0, 1], vol_per_sqrt_s >= 0")

    @property
    def spec(self) -> str:
        """Canonical spec string (every non-default parameter)."""
        default = SyntheticSpec()
        params = [
            f"{f.name}={getattr(self, f.name)}"
            for f in fields(self)
            if f.name != "scenario" and getattr(self, f.name) != getattr(default, f.name)
        ]
        return PREFIX + self.scenario + ("?" + "&".join(params) if params else "")


def parse_spec(text: str) -> SyntheticSpec:
    """Parse ``synthetic:<scenario>[?name=value&...]`` (names: :class:`SyntheticSpec` fields).

    Raises:
        ValueError: not a synthetic spec, unknown scenario or parameter, bad value.
    """
    if not text.startswith(PREFIX):
        raise ValueError(f"a synthetic spec starts with {PREFIX!r}: {text!r}")
    scenario, _, query = text[len(PREFIX) :].partition("?")
    kinds = {f.name: f.type for f in fields(SyntheticSpec)}
    values: dict[str, object] = {"scenario": scenario or "normal"}
    for name, raw in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        if name not in kinds or name == "scenario":
            raise ValueError(f"unknown synthetic parameter {name!r}")
        try:
            values[name] = float(raw) if kinds[name] == "float" else int(raw)
        except ValueError as exc:
            raise ValueError(f"synthetic parameter {name}={raw!r}: {exc}") from None
    return SyntheticSpec(**values)  # type: ignore[arg-type]


def synthetic_markets(spec: SyntheticSpec) -> list[Market]:
    """The markets of a spec: ids ``synthetic-<seed>-<i>``, tokens ``<id>:YES`` / ``<id>:NO``."""
    end_ns = spec.start_ns + spec.duration_s * _NS_PER_S
    markets = []
    for i in range(spec.markets):
        market_id = f"synthetic-{spec.seed}-{i}"
        yes, no = f"{market_id}:YES", f"{market_id}:NO"
        markets.append(
            Market(
                market_id=market_id,
                slug=market_id,
                question=f"Synthetic market {i} ({spec.scenario}, seed {spec.seed})",
                category="other",
                start_ns=spec.start_ns,
                end_ns=end_ns,
                tokens=(
                    OutcomeToken(
                        token_id=yes, market_id=market_id, outcome="Yes", complement_token_id=no
                    ),
                    OutcomeToken(
                        token_id=no, market_id=market_id, outcome="No", complement_token_id=yes
                    ),
                ),
                synthetic=True,
            )
        )
    return markets


class _MarketSim:
    """One market's latent walk and YES book (NO is derived)."""

    def __init__(self, market: Market, spec: SyntheticSpec, rng: random.Random) -> None:
        self.market = market
        self.yes = market.tokens[0].token_id
        self.no = market.tokens[1].token_id
        self.rng = rng
        self.logit = rng.gauss(0.0, 0.6)
        self.tick = 10_000
        wide = spec.scenario == "wide_spread"
        thin = spec.scenario == "thin_book"
        self.spread_ticks = 10 if wide else 1
        self.depth = 2 if thin else 10
        self.size_range = (500, 2_000) if thin else (500, 50_000)  # hundredths of a share
        self.sizes: dict[tuple[str, int], int] = {}
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.crossed = False

    def probability(self) -> float:
        return 1.0 / (1.0 + math.exp(-self.logit))

    def step(self, dt_s: float, vol: float) -> None:
        self.logit += self.rng.gauss(0.0, vol * math.sqrt(dt_s))
        self.logit = max(-3.5, min(3.5, self.logit))

    def _size(self, key: tuple[str, int]) -> int:
        size = self.sizes.get(key)
        if size is None:
            size = self.rng.randint(*self.size_range) * 10_000
            self.sizes[key] = size
        return size

    def rebuild(self) -> None:
        """Recompute the YES book from the latent probability (sizes persist per level)."""
        tick = self.tick
        fair = int(self.probability() * ONE)
        best_bid = max(tick, (fair // tick) * tick - (self.spread_ticks - 1) // 2 * tick)
        best_ask = best_bid + self.spread_ticks * tick
        if best_ask > ONE - tick:
            best_ask = ONE - tick
            best_bid = best_ask - self.spread_ticks * tick
        if self.crossed:
            best_bid, best_ask = best_ask, best_bid  # bid above ask: a crossed book
        for _ in range(2):  # churn: two random levels change size
            side = self.rng.choice(("b", "a"))
            offset = self.rng.randrange(self.depth)
            price = best_bid - offset * tick if side == "b" else best_ask + offset * tick
            self.sizes[(side, price)] = self.rng.randint(*self.size_range) * 10_000
        self.bids = {
            best_bid - k * tick: self._size(("b", best_bid - k * tick))
            for k in range(self.depth)
            if best_bid - k * tick >= tick
        }
        self.asks = {
            best_ask + k * tick: self._size(("a", best_ask + k * tick))
            for k in range(self.depth)
            if best_ask + k * tick <= ONE - tick
        }

    def no_book(self) -> tuple[dict[int, int], dict[int, int]]:
        """NO bids at 1 − YES asks, NO asks at 1 − YES bids (same sizes)."""
        return (
            {ONE - p: s for p, s in self.asks.items()},
            {ONE - p: s for p, s in self.bids.items()},
        )


def _levels(book: dict[int, int], descending: bool) -> list[WireLevel]:
    # best last, as the venue lists a book
    return [
        WireLevel(from_micros(p), from_micros(s))
        for p, s in sorted(book.items(), reverse=not descending)
    ]


def _diff(old: dict[int, int], new: dict[int, int]) -> list[tuple[int, int]]:
    changes = [(p, 0) for p in sorted(old) if p not in new]
    changes += [(p, s) for p, s in sorted(new.items()) if old.get(p) != s]
    return changes


class SyntheticSource(Source):
    """A seeded synthetic feed (module docstring). ``synthetic`` is True on the source, its
    markets and every event.

    Stats counters: ``frames``, ``suppressed_while_stale`` (as a recording). ``window``: the
    venue times accepted, as for a recording (a ``start_ns`` before its floor has every event
    refused).
    """

    kind = "synthetic"
    record_counter = "frames"

    def __init__(self, spec: SyntheticSpec | str, *, window: EventTimeWindow | None = None) -> None:
        self.spec = parse_spec(spec) if isinstance(spec, str) else spec
        self.window = window
        super().__init__(self.spec.spec, markets=synthetic_markets(self.spec), synthetic=True)

    def _events(self) -> Iterator[AnyEvent]:
        replay = WireReplay(
            self.stats, synthetic=True, known_tokens=set(self.token_ids()), window=self.window
        )
        closer = MarketCloser(self.markets, synthetic=True)
        out: list[AnyEvent] = []
        for item in self.items():
            if isinstance(item, MarketStatus):
                closer.until(item.ts_recv_ns, out)
                out.append(item)
            else:
                ts_recv_ns, frame = item
                closer.until(ts_recv_ns, out)
                replay.feed(ts_recv_ns, frame, out)
            yield from out
            out.clear()
        closer.until(self.spec.start_ns + (self.spec.duration_s + 2) * _NS_PER_S, out)
        yield from out

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """The generated (receive time ns, frame) pairs alone (e.g. to write a recording)."""
        for item in self.items():
            if not isinstance(item, MarketStatus):
                yield item

    def items(self) -> Iterator[tuple[int, bytes] | MarketStatus]:
        """The generated wire frames and direct status events, in generation order."""
        spec = self.spec
        sims = [
            _MarketSim(m, spec, random.Random(f"{spec.seed}:{i}"))
            for i, m in enumerate(self.markets)
        ]
        latency_ns = spec.latency_ms * _NS_PER_MS
        steps = spec.duration_s * 1000 // spec.step_ms
        mid = steps // 2
        step_s = spec.step_ms / 1000
        snapshot_every = max(1, spec.snapshot_s * 1000 // spec.step_ms)
        stale_steps = range(mid, mid + spec.stale_s * 1000 // spec.step_ms)
        halt_start, halt_end = steps // 3, steps // 3 + spec.halt_s * 1000 // spec.step_ms
        crossed_steps = range(mid, mid + max(1, spec.crossed_s * 1000 // spec.step_ms))
        injections = _injection_steps(steps) if spec.scenario == "malformed" else {}
        for k in range(steps + 1):
            ts_event_ns = spec.start_ns + k * spec.step_ms * _NS_PER_MS
            ts_recv_ns = ts_event_ns + latency_ns
            stamp = str(ts_event_ns // _NS_PER_MS)
            if spec.scenario == "halt_resume" and k in (halt_start, halt_end):
                for sim in sims:
                    halted = k == halt_start
                    yield MarketStatus(
                        ts_event_ns=ts_event_ns,
                        ts_recv_ns=ts_recv_ns,
                        synthetic=True,
                        market_id=sim.market.market_id,
                        state=MarketState.HALTED if halted else MarketState.ACTIVE,
                        accepting_orders=not halted,
                    )
            if k == 0 and "delta_before_snapshot" in injections.values():
                sim = sims[0]
                yield (
                    ts_recv_ns,
                    _ENCODER.encode(
                        WirePriceChange(
                            market=sim.market.market_id,
                            timestamp=stamp,
                            price_changes=[
                                WirePriceChangeItem(
                                    asset_id=sim.yes, price="0.5", size="10", side="BUY"
                                )
                            ],
                        )
                    ),
                )
            for index, sim in enumerate(sims):
                if spec.scenario == "stale" and index == 0 and k in stale_steps:
                    sim.step(step_s, spec.vol_per_sqrt_s)
                    continue
                yield from self._market_step(
                    sim,
                    k=k,
                    spec=spec,
                    step_s=step_s,
                    snapshot_every=snapshot_every,
                    mid=mid,
                    crossed_steps=crossed_steps,
                    stamp=stamp,
                    ts_recv_ns=ts_recv_ns,
                )
            kind = injections.get(k)
            if kind is not None:
                yield from _inject(kind, sims[0], stamp, ts_recv_ns)
        end_ns = spec.start_ns + spec.duration_s * _NS_PER_S
        for sim in sims:
            winner = sim.yes if sim.probability() >= 0.5 else sim.no
            resolved_ns = end_ns + _NS_PER_S
            yield (
                resolved_ns + latency_ns,
                _ENCODER.encode(
                    WireMarketResolved(
                        market=sim.market.market_id,
                        winning_asset_id=winner,
                        winning_outcome="Yes" if winner == sim.yes else "No",
                        assets_ids=[sim.yes, sim.no],
                        timestamp=str(resolved_ns // _NS_PER_MS),
                    )
                ),
            )

    def _market_step(
        self,
        sim: _MarketSim,
        *,
        k: int,
        spec: SyntheticSpec,
        step_s: float,
        snapshot_every: int,
        mid: int,
        crossed_steps: range,
        stamp: str,
        ts_recv_ns: int,
    ) -> Iterator[tuple[int, bytes]]:
        market_id = sim.market.market_id
        if k:
            sim.step(step_s, spec.vol_per_sqrt_s)
        if spec.scenario == "tick_size_change" and k == mid:
            yield (
                ts_recv_ns,
                _ENCODER.encode(
                    [
                        WireTickSizeChange(
                            asset_id=token,
                            market=market_id,
                            old_tick_size="0.01",
                            new_tick_size="0.001",
                            timestamp=stamp,
                        )
                        for token in (sim.yes, sim.no)
                    ]
                ),
            )
            sim.tick = 1_000
        old_bids, old_asks = sim.bids, sim.asks
        old_no = sim.no_book()
        sim.crossed = (
            spec.scenario == "crossed_book" and k in crossed_steps and market_id.endswith("-0")
        )
        sim.rebuild()
        full = k % snapshot_every == 0
        no_bids, no_asks = sim.no_book()
        if full:
            yield (
                ts_recv_ns,
                _ENCODER.encode(
                    [
                        WireBook(
                            asset_id=sim.yes,
                            market=market_id,
                            bids=_levels(sim.bids, True),
                            asks=_levels(sim.asks, False),
                            timestamp=stamp,
                        ),
                        WireBook(
                            asset_id=sim.no,
                            market=market_id,
                            bids=_levels(no_bids, True),
                            asks=_levels(no_asks, False),
                            timestamp=stamp,
                        ),
                    ]
                ),
            )
        else:
            yes_bb = from_micros(max(sim.bids)) if sim.bids else ""
            yes_ba = from_micros(min(sim.asks)) if sim.asks else ""
            no_bb = from_micros(max(no_bids)) if no_bids else ""
            no_ba = from_micros(min(no_asks)) if no_asks else ""
            changes = []
            for token, side, old, new, bb, ba in (
                (sim.yes, "BUY", old_bids, sim.bids, yes_bb, yes_ba),
                (sim.yes, "SELL", old_asks, sim.asks, yes_bb, yes_ba),
                (sim.no, "BUY", old_no[0], no_bids, no_bb, no_ba),
                (sim.no, "SELL", old_no[1], no_asks, no_bb, no_ba),
            ):
                changes += [
                    WirePriceChangeItem(
                        asset_id=token,
                        price=from_micros(p),
                        size=from_micros(s),
                        side=side,
                        best_bid=bb,
                        best_ask=ba,
                    )
                    for p, s in _diff(old, new)
                ]
            if changes:
                yield (
                    ts_recv_ns,
                    _ENCODER.encode(
                        WirePriceChange(market=market_id, timestamp=stamp, price_changes=changes)
                    ),
                )
        if k and sim.bids and sim.asks and sim.rng.random() < spec.trade_prob:
            buy = sim.rng.random() < 0.5
            price = min(sim.asks) if buy else max(sim.bids)
            size = sim.rng.randint(1, 100) * 10_000
            yield (
                ts_recv_ns,
                _ENCODER.encode(
                    WireLastTrade(
                        asset_id=sim.yes,
                        market=market_id,
                        price=from_micros(price),
                        size=from_micros(size),
                        side="BUY" if buy else "SELL",
                        timestamp=stamp,
                        transaction_hash=f"0xsynthetic{sim.rng.getrandbits(64):016x}",
                    )
                ),
            )


MALFORMED_KINDS = (
    "malformed_frame",
    "unknown_event",
    "price_out_of_range",
    "negative_size",
    "non_monotonic_time",
    "delta_before_snapshot",
)
"""The bad-input kinds the ``malformed`` scenario injects, once each."""

KIND_REASON = {
    "malformed_frame": "SYS_MALFORMED_MESSAGE",
    "unknown_event": "SYS_UNKNOWN_EVENT",
    "price_out_of_range": "SYS_PRICE_OUT_OF_RANGE",
    "negative_size": "SYS_NEGATIVE_SIZE",
    "non_monotonic_time": "SYS_NON_MONOTONIC_TIME",
    "delta_before_snapshot": "SYS_DELTA_BEFORE_SNAPSHOT",
}
"""Reason code each injected kind is counted under."""


def _injection_steps(steps: int) -> dict[int, str]:
    kinds = [k for k in MALFORMED_KINDS if k != "delta_before_snapshot"]
    spots = {steps * (i + 1) // (len(kinds) + 1): kind for i, kind in enumerate(kinds)}
    spots[-1] = "delta_before_snapshot"  # injected at step 0, before the first book
    return spots


def bad_frame(kind: str, token_id: str, market_id: str, stamp: str) -> bytes:
    """A frame of one bad-input kind for ``token_id`` (``non_monotonic_time`` and
    ``delta_before_snapshot`` are valid frames: their fault is when they arrive).

    Raises:
        ValueError: unknown kind.
    """
    if kind == "malformed_frame":
        return b'{"event_type": "price_change", "market": "' + market_id.encode() + b'", [oops'
    if kind == "unknown_event":
        return _ENCODER.encode(
            {"event_type": "mystery_event", "asset_id": token_id, "timestamp": stamp}
        )
    if kind in (
        "price_out_of_range",
        "negative_size",
        "non_monotonic_time",
        "delta_before_snapshot",
    ):
        price, size = {"price_out_of_range": ("1.5", "10"), "negative_size": ("0.5", "-10")}.get(
            kind, ("0.5", "10")
        )
        return _ENCODER.encode(
            WirePriceChange(
                market=market_id,
                timestamp=stamp,
                price_changes=[
                    WirePriceChangeItem(asset_id=token_id, price=price, size=size, side="BUY")
                ],
            )
        )
    raise ValueError(f"unknown bad-input kind {kind!r}")


def _inject(kind: str, sim: _MarketSim, stamp: str, ts_recv_ns: int) -> Iterator[tuple[int, bytes]]:
    frame = bad_frame(kind, sim.yes, sim.market.market_id, stamp)
    yield (ts_recv_ns - 5 * _NS_PER_MS if kind == "non_monotonic_time" else ts_recv_ns), frame
