"""Maker fills side by side: Polytraders' paper venue and hftbacktest on the Binance sample.

The same simple touch-quoting strategy, the same event stream, the same constant latencies and
the same probabilistic queue function run in hftbacktest 2.4.4 (installed by
``bash scripts/install-peers.sh`` in ``.venv-peers/hft``) and on Polytraders' paper venue, and
the table compares number of fills, filled volume, maker share and PnL::

    .venv/bin/python -m bench.bench_fills_hft          # prints the table
    .venv/bin/python -m bench fills_hft                # the figures, as every benchmark

**Data.** ``data/samples/binance/usdm_btcusdt_20240808.gz`` (BTCUSDT USDⓈ-M futures: depth
updates and trades, 345 s) read by Polytraders' own feed (``polytraders.feeds``). Both engines
get exactly that stream: its book events as per-level updates (a snapshot becomes the level
changes against the book before it) and its trades with their aggressor, at the events' venue
times (hftbacktest: exchange = local timestamp). bench-peers' ``hftbacktest_binance.py`` uses
hftbacktest's own converter instead, whose timestamp corrections give another stream: fine for
speed, not for comparing fill rules.

**Strategy** (both engines, line for line): every 100 ms, per side, keep one GTC limit order of
0.01 BTC at the touch (bid at the best bid, ask at the best ask) while the position is within
±0.1 BTC; cancel that side's orders at another price once the venue acknowledged them; submit
one at the touch when that side has none there.

**Venues.** Entry 10 ms, response 10 ms (cancels: 10 ms); hftbacktest
``power_prob_queue_model(2.0)`` on its default ``no_partial_fill_exchange`` vs the paper venue's
``probabilistic`` queue model with ``power``, n = 2 (rule 4.4: a decrease of the level is split
f(back)/(f(back)+f(front))). hftbacktest's ``partial_fill_exchange`` stops this run with
``InvalidOrderStatus`` (error code 14) after 33 s of data, GTC or post-only alike, so the
comparison uses the exchange hftbacktest runs by default. No fees in the PnL: hftbacktest gets
a tiny taker fee only to measure its taker volume (fee / rate). The paper venue trades outcome
tokens priced in (0, 1), so the bench maps BTC prices onto a token with a tick of one
micro-unit: price ticks of 0.1 USD → 500_000 + (ticks − first best-bid tick), and back for the
PnL (level updates further than 40,000 USD from the first best bid, the REST snapshot's deep
tail, go to neither engine); sizes stay micro-BTC. The paper account holds 10⁶ BTC and 10⁹ pUSD,
so no order is refused for balance (hftbacktest has no balances).

**Rule differences** that explain what differs (``docs/paper_venue.md``, "Side by side with
hftbacktest"): (a) partial fills: hftbacktest's no-partial-fill exchange fills an order whole or
not at all (one fill per order), the paper venue fills what a trade or the crossing liquidity
gives (several fills per order): compare "orders filled", not "fills"; (b) hftbacktest lets a
depth decrease push an order's queue position below zero and fills it at its next trade at the
price, the paper venue stops the queue at 0 on a feed with trades and fills only trade volume
past the queue; (c) a trade through a better price, or the book crossing the order, fills the
whole remainder in hftbacktest, only the trade's volume or the crossing liquidity on the paper
venue; (d) each hftbacktest order sees a trade's whole size, the paper venue shares one trade
among our orders.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import msgspec

from bench.data import BINANCE_SAMPLES, REPO
from polytraders.feeds import open_source
from polytraders.model.events import BookDelta, BookSnapshot, OrderAccepted, Trade
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market, OutcomeToken
from polytraders.model.money import MICROS
from polytraders.model.orders import Side, TimeInForce, VenueOrder
from polytraders.venues.paper import PaperVenue, PaperVenueConfig

DESCRIPTION = "maker fills side by side with hftbacktest on the Binance sample (fills, PnL)"

SAMPLE = BINANCE_SAMPLES / "usdm_btcusdt_20240808.gz"
HFT_PYTHON = REPO / ".venv-peers" / "hft" / "bin" / "python"
PEER_SCRIPT = Path(__file__).resolve().parent / "hft_fills_peer.py"

STEP_NS = 100_000_000
ORDER_MICROS = 10_000  # 0.01 BTC
MAX_POSITION_MICROS = 100_000  # 0.1 BTC
LATENCY_MS = 10
QUEUE_POWER_N = 2.0
TAKER_FEE_PROBE_RATE = 1e-6
TOLERANCE_PCT = 5.0
TOKEN = "bench:BTCUSDT"
MID_PRICE = 500_000
"""Where the first best bid lands on the (0, 1) price scale of the paper venue (micro-units)."""
FAR_TICKS = 400_000
"""Level updates further than this from the first best bid (40,000 USD) are left out."""

_EXCH_LOCAL = (1 << 31) | (1 << 30)
_BUY_FLAG, _SELL_FLAG = 1 << 29, 1 << 28
_DEPTH, _TRADE = 1, 2


@dataclass
class Stream:
    """The sample as both engines get it: level updates and trades, prices in 0.1 USD ticks."""

    tick_micros: int
    lot_micros: int
    events: list[BookDelta | Trade] = field(default_factory=list)
    """Level updates (one price per event) and trades, in order; prices in ticks."""


def load_stream(path: Path = SAMPLE) -> Stream:
    """The sample's book events as per-level updates and its trades, prices in ticks.

    Raises:
        ValueError: the file holds no BTCUSDT instrument.
    """
    source = open_source(path)
    (instrument,) = source.instruments
    tick = instrument.price_increment
    stream = Stream(tick_micros=tick, lot_micros=instrument.size_increment)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for event in source.events():
        if isinstance(event, Trade):
            stream.events.append(msgspec.structs.replace(event, price=event.price // tick))
            continue
        if not isinstance(event, BookDelta | BookSnapshot):
            continue
        for side, book, levels in ((Side.BUY, bids, event.bids), (Side.SELL, asks, event.asks)):
            new = {price // tick: size for price, size in levels}
            if isinstance(event, BookSnapshot):  # a snapshot: what changed against the book
                changes = {p: 0 for p in book if p not in new} | {
                    p: s for p, s in new.items() if book.get(p) != s
                }
            else:
                changes = new
            for price, size in changes.items():
                if size:
                    book[price] = size
                else:
                    book.pop(price, None)
                stream.events.append(
                    BookDelta(
                        ts_event_ns=event.ts_event_ns,
                        ts_recv_ns=event.ts_recv_ns,
                        token_id=TOKEN,
                        bids=[(price, size)] if side is Side.BUY else [],
                        asks=[(price, size)] if side is Side.SELL else [],
                    )
                )
    # the paper venue's price scale holds 10⁶ ticks (100,000 USD): levels further than
    # FAR_TICKS from the first best bid (the REST snapshot's deep tail) go to neither engine
    first_bid = next(e.bids[0][0] for e in stream.events if isinstance(e, BookDelta) and e.bids)
    stream.events = [e for e in stream.events if abs(_price(e) - first_bid) <= FAR_TICKS]
    return stream


def _price(event: BookDelta | Trade) -> int:
    if isinstance(event, Trade):
        return event.price
    return (event.bids or event.asks)[0][0]


@dataclass
class Figures:
    """One engine's outcome: fills, volume (micro-BTC), value and taker value (USD), PnL before
    fees marked at the final mid (USD), the final best bid/ask (ticks)."""

    fills: int
    orders_filled: int
    """Orders with at least one fill."""
    volume_micros: int
    value_usd: Decimal
    taker_value_usd: Decimal
    pnl_usd: Decimal
    orders: int
    best_bid_tick: int
    best_ask_tick: int

    @property
    def maker_share_pct(self) -> Decimal:
        """Maker value / traded value, %."""
        if not self.value_usd:
            return Decimal(0)
        return 100 * (self.value_usd - self.taker_value_usd) / self.value_usd


# ---------------------------------------------------------------------------- Polytraders
@dataclass
class _Local:
    side: Side
    price: int
    size: int
    acked: bool = False
    cancel_sent: bool = False
    filled: int = 0


def _paper_venue(base_tick: int) -> tuple[PaperVenue, int]:
    token = OutcomeToken(
        token_id=TOKEN,
        market_id="bench",
        outcome="BTCUSDT",
        complement_token_id="",
        tick_size=1,
        min_order_size=1,
    )
    config = PaperVenueConfig(
        order_latency_ms=LATENCY_MS,
        cancel_latency_ms=LATENCY_MS,
        response_latency_ms=LATENCY_MS,
        queue_model="probabilistic",
        queue_function="power",
        queue_power_n=QUEUE_POWER_N,
        fee_rates_ppm={"bench": 0},
        starting_cash_micros=10**9 * MICROS,
    )
    market = Market(market_id="bench", category="bench", tokens=(token,))
    venue = PaperVenue(config, [market], "bench-hft", starting_holdings={TOKEN: 10**12})
    return venue, MID_PRICE - base_tick


def run_polytraders(stream: Stream) -> Figures:
    """The touch quoter on the paper venue over ``stream``."""
    first_bid = next(e.bids[0][0] for e in stream.events if isinstance(e, BookDelta) and e.bids)
    venue, shift = _paper_venue(first_bid)
    orders: dict[str, _Local] = {}
    fills: list[Fill] = []
    position = 0
    submitted = 0

    def step(now: int) -> None:
        nonlocal position, submitted
        venue.advance(now)
        for answer in venue.poll():
            local = orders.get(answer.client_order_id)
            if local is None:
                continue
            if isinstance(answer, OrderAccepted):
                local.acked = True
            elif isinstance(answer, Fill):
                fills.append(answer)
                position += answer.size if answer.side is Side.BUY else -answer.size
                local.filled += answer.size
                if local.filled >= local.size:
                    del orders[answer.client_order_id]
            else:  # cancelled, rejected or expired: gone
                del orders[answer.client_order_id]
        book = venue.book(TOKEN)
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None or ask <= bid:
            return
        for side, target, allowed in (
            (Side.BUY, bid, position < MAX_POSITION_MICROS),
            (Side.SELL, ask, position > -MAX_POSITION_MICROS),
        ):
            has_target = False
            for cid, local in orders.items():
                if local.side is not side:
                    continue
                if local.price == target and allowed:
                    has_target = True
                elif local.acked and not local.cancel_sent:
                    venue.cancel(cid, now)
                    local.cancel_sent = True
            if allowed and not has_target:
                submitted += 1
                cid = f"bench/o{submitted}"
                orders[cid] = _Local(side, target, ORDER_MICROS)
                venue.submit(
                    VenueOrder(
                        client_order_id=cid,
                        intent_id=cid,
                        token_id=TOKEN,
                        market_id="bench",
                        side=side,
                        price=target,
                        size=ORDER_MICROS,
                        time_in_force=TimeInForce.GTC,
                    ),
                    now,
                )

    events = stream.events
    due = events[0].ts_event_ns + STEP_NS
    for event in events:
        while event.ts_event_ns > due:
            step(due)
            due += STEP_NS
        if isinstance(event, Trade):
            venue.on_market_event(
                msgspec.structs.replace(event, token_id=TOKEN, price=event.price + shift)
            )
        else:
            venue.on_market_event(
                msgspec.structs.replace(
                    event,
                    bids=[(p + shift, s) for p, s in event.bids],
                    asks=[(p + shift, s) for p, s in event.asks],
                )
            )
    book = venue.book(TOKEN)
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None:
        raise ValueError("the sample ends with a one-sided book")
    return _figures(fills, stream.tick_micros, shift, (bid - shift, ask - shift), submitted)


def _figures(
    fills: Sequence[Fill], tick_micros: int, shift: int, top: tuple[int, int], orders: int
) -> Figures:
    bid_tick, ask_tick = top
    tick_usd = Decimal(tick_micros) / MICROS
    mid_usd = Decimal(bid_tick + ask_tick) / 2 * tick_usd
    value = taker = pnl = Decimal(0)
    for fill in fills:
        price_usd = (fill.price - shift) * tick_usd
        size_btc = Decimal(fill.size) / MICROS
        value += price_usd * size_btc
        if fill.liquidity is LiquiditySide.TAKER:
            taker += price_usd * size_btc
        sign = 1 if fill.side is Side.BUY else -1
        pnl += sign * size_btc * (mid_usd - price_usd)
    return Figures(
        fills=len(fills),
        orders_filled=len({f.client_order_id for f in fills}),
        volume_micros=sum(f.size for f in fills),
        value_usd=value,
        taker_value_usd=taker,
        pnl_usd=pnl,
        orders=orders,
        best_bid_tick=bid_tick,
        best_ask_tick=ask_tick,
    )


# ---------------------------------------------------------------------------- hftbacktest
def _hft_lines(stream: Stream) -> list[str]:
    lines = []
    for event in stream.events:
        if isinstance(event, Trade):
            side = {Side.BUY: _BUY_FLAG, Side.SELL: _SELL_FLAG}.get(event.aggressor, 0)  # type: ignore[arg-type]
            flags, price, size = _EXCH_LOCAL | _TRADE | side, event.price, event.size
        else:
            (price, size), side = (
                (event.bids[0], _BUY_FLAG) if event.bids else (event.asks[0], _SELL_FLAG)
            )
            flags = _EXCH_LOCAL | _DEPTH | side
        lines.append(f"{flags} {event.ts_event_ns} {price} {size}\n")
    return lines


def run_hftbacktest(stream: Stream, timeout_s: int = 900) -> Figures | str:
    """The touch quoter in hftbacktest over ``stream``; a sentence when it cannot run."""
    if not HFT_PYTHON.exists():
        return f"hftbacktest not installed ({HFT_PYTHON} missing: bash scripts/install-peers.sh)"
    tick_usd = stream.tick_micros / MICROS
    settings = {
        "tick_size": tick_usd,
        "lot_size": stream.lot_micros / MICROS,
        "entry_latency_ns": LATENCY_MS * 1_000_000,
        "response_latency_ns": LATENCY_MS * 1_000_000,
        "queue_power_n": QUEUE_POWER_N,
        "taker_fee_probe_rate": TAKER_FEE_PROBE_RATE,
        "step_ns": STEP_NS,
        "order_qty": ORDER_MICROS / MICROS,
        "max_position": MAX_POSITION_MICROS / MICROS,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "events.tsv").write_text("".join(_hft_lines(stream)), encoding="ascii")
        (folder / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
        out = folder / "out.json"
        completed = subprocess.run(
            [
                str(HFT_PYTHON),
                str(PEER_SCRIPT),
                *(str(folder / n) for n in ("events.tsv", "settings.json")),
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if completed.returncode != 0 or not out.exists():
            return f"hftbacktest failed (exit {completed.returncode}): {completed.stderr[-600:]}"
        raw = json.loads(out.read_text(encoding="utf-8"))
    bid, ask = int(raw["best_bid_tick"]), int(raw["best_ask_tick"])
    mid_usd = Decimal(bid + ask) / 2 * Decimal(stream.tick_micros) / MICROS
    balance = Decimal(repr(raw["balance"]))
    position = Decimal(repr(raw["position"]))
    if int(raw["end_code"]) != 1:
        return f"hftbacktest stopped with error code {int(raw['end_code'])} at step {raw['steps']}"
    return Figures(
        fills=int(raw["fills"]),
        orders_filled=int(raw["fills"]),  # no partial fills: one fill per order
        volume_micros=round(Decimal(repr(raw["volume"])) * MICROS),
        value_usd=Decimal(repr(raw["value"])),
        taker_value_usd=Decimal(repr(raw["fee"])) / Decimal(repr(TAKER_FEE_PROBE_RATE)),
        pnl_usd=balance + position * mid_usd,
        orders=int(raw["orders"]),
        best_bid_tick=bid,
        best_ask_tick=ask,
    )


# ---------------------------------------------------------------------------- the table
def _diff_pct(ours: Decimal, theirs: Decimal) -> Decimal | None:
    if not theirs:
        return None if ours else Decimal(0)
    return 100 * (ours - theirs) / abs(theirs)


def comparison(ours: Figures, theirs: Figures) -> list[tuple[str, str, str, str, bool]]:
    """Rows (figure, hftbacktest, Polytraders, difference, within ±5 %)."""
    rows = []
    for name, theirs_value, ours_value, text in (
        ("fills", Decimal(theirs.fills), Decimal(ours.fills), "{:,.0f}"),
        ("orders filled", Decimal(theirs.orders_filled), Decimal(ours.orders_filled), "{:,.0f}"),
        (
            "filled volume (BTC)",
            Decimal(theirs.volume_micros) / MICROS,
            Decimal(ours.volume_micros) / MICROS,
            "{:,.3f}",
        ),
        ("maker share (% of value)", theirs.maker_share_pct, ours.maker_share_pct, "{:,.2f}"),
        ("PnL before fees (USD)", theirs.pnl_usd, ours.pnl_usd, "{:,.2f}"),
    ):
        diff = _diff_pct(ours_value, theirs_value)
        within = diff is not None and abs(diff) <= TOLERANCE_PCT
        rows.append(
            (
                name,
                text.format(theirs_value),
                text.format(ours_value),
                "–" if diff is None else f"{diff:+.1f} %",
                within,
            )
        )
    return rows


def table(ours: Figures, theirs: Figures) -> str:
    """The comparison as a Markdown table."""
    lines = [
        "| figure | hftbacktest 2.4.4 | Polytraders | difference | within 5 % |",
        "|---|---:|---:|---:|---|",
    ]
    for name, theirs_text, ours_text, diff, within in comparison(ours, theirs):
        lines.append(
            f"| {name} | {theirs_text} | {ours_text} | {diff} | {'yes' if within else 'no'} |"
        )
    lines.append(f"| orders sent | {theirs.orders:,} | {ours.orders:,} | | |")
    lines.append(
        f"| final best bid / ask (ticks) | {theirs.best_bid_tick} / {theirs.best_ask_tick} | "
        f"{ours.best_bid_tick} / {ours.best_ask_tick} | | |"
    )
    return "\n".join(lines)


def run(quick: bool = False) -> dict[str, float | int | str]:
    """The figures of both engines (benchmark protocol; ``quick`` changes nothing)."""
    stream = load_stream()
    ours = run_polytraders(stream)
    figures: dict[str, float | int | str] = {
        "events": len(stream.events),
        "polytraders_fills": ours.fills,
        "polytraders_volume_btc": float(Decimal(ours.volume_micros) / MICROS),
        "polytraders_maker_share_pct": round(float(ours.maker_share_pct), 2),
        "polytraders_pnl_usd": round(float(ours.pnl_usd), 2),
    }
    theirs = run_hftbacktest(stream)
    if isinstance(theirs, str):
        figures["hftbacktest"] = theirs
        return figures
    figures |= {
        "hftbacktest_fills": theirs.fills,
        "hftbacktest_volume_btc": float(Decimal(theirs.volume_micros) / MICROS),
        "hftbacktest_maker_share_pct": round(float(theirs.maker_share_pct), 2),
        "hftbacktest_pnl_usd": round(float(theirs.pnl_usd), 2),
    }
    return figures


def main() -> int:
    """Print the table (exit 0), or why hftbacktest could not run (exit 2)."""
    stream = load_stream()
    ours = run_polytraders(stream)
    theirs = run_hftbacktest(stream)
    if isinstance(theirs, str):
        print(theirs)
        return 2
    print(f"Binance USDⓈ-M BTCUSDT sample, {len(stream.events):,} events (level updates, trades)")
    print(table(ours, theirs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
