"""Fixture packs of crypto instruments against the Binance USDⓈ-M exchange simulator with the
real ccxt venue adapter: the crypto counterpart of :mod:`polytraders.readiness.clob_packs`
(seed 002, Impl item 13: "Mock CLOB v2 adapter passes the bot's full fixture pack"; for a pack
of instruments the venue's adapter is :class:`~polytraders.venues.ccxt.venue.CcxtVenue`).

A pack whose cases hold instruments (token ids ``<venue>:<symbol>``, e.g.
``binance-usdm:BTCUSDT``) runs here (:func:`uses_instruments`); a pack of Polymarket markets
runs against the CLOB v2 simulator.

One case runs in the same two halves, with the same pass rules, as in
:mod:`~polytraders.readiness.clob_packs`:

1. **The decision**, exactly as :func:`polytraders.readiness.packs.run_case` runs it (the
   token ids are the exchange's own: nothing is renamed).
2. **What the desk sends**, through the desk's own
   :class:`~polytraders.desk.orders.OrderManager` and a :class:`CcxtVenue` whose real
   ``ccxt.async_support.binanceusdm`` client is pointed at the simulator
   (:mod:`polytraders.simexchange`, loopback only, a throwaway API key made for this run):
   approved or reshaped intents routed by ``exec.smartrouter``
   (:func:`~polytraders.readiness.clob_packs.send_orders`). The case passes when the orders
   the router makes of the *expected* intents are live at the exchange (status ``NEW``) with
   their token, side, price, size, post-only (``GTX``), reduce-only and time in force, each
   ACCEPTED by the desk with the exchange's order id, and nothing else was posted; a REJECT,
   a REFUSE or a HALT without the kill switch posts nothing; a kill-switch HALT cancels
   everything at the exchange, a *sentinel* order the desk does not track included.

**Exchange state.** The simulator serves two symbols, BTCUSDT (its default) and ETHUSDT, each
replayed from its own recording of 2024-08-08 on one clock, with one cross-margin account
(:class:`~polytraders.simexchange.engine.FuturesVenue`). Before each case it starts a fresh
session (``POST /sim/session``): every symbol's replay from its first REST snapshot up to the
case's clock, no orders, and the case's account:

- the position of every symbol the case holds, with its exact cost basis (signed: shorts
  too), in the one account (``risk.marginguard``'s ``failure``: 0.1 BTC and 1 ETH);
- the wallet: the case's cash plus those cost bases (the desk books a perpetual's entry cost
  against its cash; the exchange keeps the wallet apart from the positions: both give the
  same equity). An insolvent account is held as an exchange holds one before liquidation: a
  positive wallet under a position whose unrealized loss exceeds it (a case entered far from
  the mark, e.g. ``risk.leverageguard``'s ``failure``), never as a negative wallet;
- each symbol's funding rate (``funding_rates_ppb``, whole ppm only);
- the case's open orders, placed at the exchange with their client order ids before the case
  (they stay live and are expected live afterwards, unless the kill switch trips).

Each book of the case must be the top of that symbol's replayed book at that time (the packs
are cut from the recordings the simulator replays; ETHUSDT's first snapshot, 66 ms after
BTCUSDT's, is its book from the session's start); any difference is a problem. The desk's
:class:`CcxtVenue` is configured with the default symbol and every served symbol the case
holds an instrument of. What the simulator cannot hold — a symbol it does not serve (an
instrument, a position, a book or a funding rate of one), a Polymarket market, a negative
wallet (cash plus cost bases below zero: no exchange holds one), a funding rate that is not
whole ppm, an instrument whose grid differs from the exchange's — is a problem of the case:
the item fails with the reason, never passes silently. The simulator uses BTCUSDT's bracket
table for ETHUSDT too (docs/simexchange.md "Not modelled yet"); that the desk's model has no
ETHUSDT table is the guard's failure case, decided by the desk, not by the exchange.

Needs the ``live`` extra (uvicorn, ccxt); without it :class:`ExchangePackRunner` raises
:class:`~polytraders.readiness.clob_packs.SimulatorUnavailableError`.

**Lifetime.** As for the CLOB: one :class:`ExchangePackRunner` per evaluation in ``ctx.cache``
(:func:`shared_runner`); :func:`optional_simulators` opens both simulators around a command.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from polytraders.contracts.modes import Mode
from polytraders.model.money import MICROS
from polytraders.model.orders import OrderStatus, Side, VenueOrder
from polytraders.readiness import clob_packs
from polytraders.readiness.clob_packs import (
    SENTINEL_PREFIX,
    SimulatorUnavailableError,
    expected_orders,
    send_orders,
    trips_kill_switch,
    venue_problems,
)
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.expected_logs import expected_warnings, mentions
from polytraders.readiness.packs import (
    CASES,
    DEFAULT_CASH,
    CaseRun,
    Pack,
    PackFormat,
    load_pack,
    pack_path,
    run_case,
)

if TYPE_CHECKING:
    from polytraders.simexchange.matching import SimOrder
    from polytraders.simexchange.server import SimExchangeServer
    from polytraders.venues.ccxt.credentials import ApiKeyCredentials
    from polytraders.venues.ccxt.venue import CcxtVenue

_CACHE_KEY = ("readiness.exchange_packs", "runner")
_LIVE = "NEW"
_PPB_PER_PPM = 1_000

ExchangeOrderKey = tuple[str, str, int, int, bool, bool, str]
"""(token id, side, price, size, post-only, reduce-only, time in force) of an order; a
post-only order's time in force is the desk's (``GTC``), Binance's ``GTX``."""


@dataclass(frozen=True)
class ExchangeCaseRun:
    """One case through the desk against the exchange simulator.

    Attributes:
        decision: the decision half (:class:`~polytraders.readiness.packs.CaseRun`).
        expected_orders: the orders the case must have posted, live afterwards.
        seeded_orders: the case's open orders placed before it (live afterwards, unless the
            kill switch tripped: then cancelled).
        sent: the desk's copies of the orders it sent (after the exchange's answers).
        posted: how many orders reached the exchange in the case (seeded orders and the
            sentinel excluded).
        venue_orders: every order of the account at the exchange afterwards (micro-units:
            ``id``, ``client_order_id``, ``token_id``, ``side``, ``price``, ``size``,
            ``post_only``, ``reduce_only``, ``time_in_force``, ``status``).
        sentinel_id: the sentinel's exchange order id ("" when the case placed none).
        problems: the decision's problems, then the exchange's (empty: passed).
        elapsed_s: wall time of the case.
    """

    decision: CaseRun
    expected_orders: tuple[ExchangeOrderKey, ...]
    seeded_orders: tuple[ExchangeOrderKey, ...]
    sent: tuple[VenueOrder, ...]
    posted: int
    venue_orders: tuple[dict[str, Any], ...]
    sentinel_id: str
    problems: tuple[str, ...]
    elapsed_s: float

    @property
    def passed(self) -> bool:
        """True when the decision and the exchange's state matched the case."""
        return not self.problems

    @property
    def live_orders(self) -> tuple[dict[str, Any], ...]:
        """The account's orders live at the exchange afterwards."""
        return tuple(o for o in self.venue_orders if o["status"] == _LIVE)


def uses_instruments(bot_id: str, repo: Path) -> bool:
    """True when any case of ``bot_id``'s pack holds an instrument (its pack runs against the
    exchange simulator, else against the CLOB v2 simulator). A missing case counts as none.

    Raises:
        ValueError: a case file that is not JSON.
    """
    for case in CASES:
        path = pack_path(bot_id, case, repo)
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("state", {}).get("instruments"):
                return True
    return False


def _order_key(order: VenueOrder) -> ExchangeOrderKey:
    return (
        order.token_id,
        order.side.value,
        order.price,
        order.size,
        order.post_only,
        order.reduce_only,
        order.time_in_force.value,
    )


def _row_key(row: dict[str, Any]) -> ExchangeOrderKey:
    return (
        str(row["token_id"]),
        str(row["side"]),
        int(row["price"]),
        int(row["size"]),
        bool(row["post_only"]),
        bool(row["reduce_only"]),
        str(row["time_in_force"]),
    )


class ExchangePackRunner:
    """The exchange simulator on a free loopback port with a throwaway API key, and the cases
    run against it (module docstring). Use as a context manager or call :meth:`close`.

    Args:
        repo: the repository (fixture packs).
        data_paths: the recordings the simulator replays, one per symbol, the first its
            default symbol (default: the shipped ``data/samples/binance/
            usdm_btcusdt_20240808.gz`` and ``usdm_ethusdt_20240808.gz`` the crypto packs were
            cut from).

    Raises:
        SimulatorUnavailableError: the ``live`` extra is not installed.
        RuntimeError: the simulator did not start.
    """

    def __init__(self, repo: Path, data_paths: Sequence[Path] | None = None) -> None:
        try:
            from polytraders.simexchange.replay import default_recording_path
            from polytraders.simexchange.server import (
                SimExchangeServer,
                SimExchangeSettings,
                throwaway_key,
            )
            from polytraders.venues.ccxt.config import CcxtVenueConfig
            from polytraders.venues.ccxt.credentials import ApiKeyCredentials
        except ImportError as exc:  # the live extra is missing
            raise SimulatorUnavailableError(
                f"the exchange simulator needs the live extra ({exc.name} is not installed)"
            ) from exc
        self.repo = repo
        key = throwaway_key()  # only in memory
        self._credentials: ApiKeyCredentials = ApiKeyCredentials(
            api_key=key.key, api_secret=key.secret
        )
        if data_paths is None:
            btc = default_recording_path()
            data_paths = (btc, btc.with_name("usdm_ethusdt_20240808.gz"))
        settings = SimExchangeSettings(
            data_path=data_paths[0], more_data_paths=tuple(data_paths[1:])
        )
        self.server: SimExchangeServer = SimExchangeServer(settings, key).start()
        self._closed = False
        venue_name = CcxtVenueConfig().venue
        self.symbol = self.server.exchange.symbol
        """The simulator's default symbol (the sentinel order's)."""
        self.token_id = f"{venue_name}:{self.symbol}"
        """The default symbol's instrument (``binance-usdm:BTCUSDT``)."""
        self.tokens = {f"{venue_name}:{s}": s for s in self.server.venue.symbols}
        """Every instrument the simulator trades (token id → symbol)."""
        self._token_of = {s: token for token, s in self.tokens.items()}

    def close(self) -> None:
        """Stop the simulator (idempotent)."""
        if not self._closed:
            self._closed = True
            self.server.stop()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` stopped the simulator."""
        return self._closed

    def __enter__(self) -> ExchangePackRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ cases
    def run_pack(self, bot_id: str) -> dict[str, ExchangeCaseRun]:
        """Every case of ``bot_id``'s pack (case → run).

        Raises:
            OSError: a case file is missing or unreadable (never a pass).
        """
        return {
            case: self.run_case(load_pack(pack_path(bot_id, case, self.repo))) for case in CASES
        }

    def run_case(self, pack: Pack) -> ExchangeCaseRun:
        """Run one case through the desk against the exchange simulator (module docstring)."""
        started = time.perf_counter()
        decision = run_case(pack, Mode.ENFORCED)
        problems = [f"decision: {p}" for p in decision.problems]
        problems += self._prepare(pack)
        venue = self._venue(pack)
        try:
            state = decision.state
            now = state.now_ns
            seeded, trouble = self._seed_open_orders(venue, pack)
            problems += trouble
            sentinel_id = ""
            kill = trips_kill_switch(pack)
            if kill:
                sentinel_id, trouble = self._place_sentinel(venue, pack)
                problems += trouble
            placed_before = len(self.server.venue.orders)
            with expected_warnings("polytraders.desk.orders", mentions(SENTINEL_PREFIX)):
                sent = send_orders(venue, state, decision, pack, now)
            posted = len(self.server.venue.orders) - placed_before
            routed = tuple(_order_key(o) for o in expected_orders(pack))
            venue_orders = tuple(self._row(o) for o in self.server.venue.orders.values())
        finally:
            venue.close()
        seeded_ids = _ids(pack)
        problems += venue_problems(
            expected=routed,
            sent=sent,
            posted=posted,
            venue_orders=tuple(o for o in venue_orders if o["client_order_id"] not in seeded_ids),
            sentinel_id=sentinel_id,
            key=_row_key,
            live_status=_LIVE,
        )
        wanted = "CANCELED" if kill else _LIVE
        for row in venue_orders:
            if row["client_order_id"] in seeded_ids and row["status"] != wanted:
                problems.append(
                    f"venue: the case's open order {row['client_order_id']} is {row['status']},"
                    f" not {wanted}"
                )
        return ExchangeCaseRun(
            decision=decision,
            expected_orders=routed,
            seeded_orders=seeded,
            sent=sent,
            posted=posted,
            venue_orders=venue_orders,
            sentinel_id=sentinel_id,
            problems=tuple(problems),
            elapsed_s=time.perf_counter() - started,
        )

    # ------------------------------------------------------------------ helpers
    def _prepare(self, pack: Pack) -> list[str]:
        """Start the simulator's session in the case's state; returns what it cannot hold."""
        import httpx

        problems: list[str] = []
        state = pack.state
        markets = self.server.venue.markets
        served_names = ", ".join(self.tokens)
        if state.get("markets"):
            problems.append("venue: the exchange simulator cannot hold a Polymarket market")
        for raw in state.get("instruments", []):
            token = f"{raw['venue']}:{raw['symbol']}"
            grid = (raw["price_increment"], raw["size_increment"], raw["min_size"])
            if token not in self.tokens:
                problems.append(f"venue: the simulator trades {served_names} only, not {token}")
                continue
            served = markets[self.tokens[token]].instrument
            if grid != (served.price_increment, served.size_increment, served.min_size):
                problems.append(f"venue: the case's grid of {token} {grid} is not the exchange's")
        positions: dict[str, tuple[int, int]] = {}
        for token_id, (held, held_cost) in state.get("positions", {}).items():
            if token_id in self.tokens:
                positions[self.tokens[token_id]] = (held, held_cost)
            elif held:
                problems.append(
                    f"venue: a position of {held} in {token_id} cannot be held "
                    f"(the simulator trades {served_names} only)"
                )
        wallet = state.get("cash", DEFAULT_CASH if pack.format is PackFormat.DECISION else 0)
        wallet += sum(cost for _, cost in positions.values())
        if wallet < 0:
            problems.append(f"venue: a wallet of {wallet} micro-USDT cannot be held")
            wallet = 0
        rates_ppm: dict[str, int] = {}
        for token_id, rate_ppb in state.get("funding_rates_ppb", {}).items():
            if token_id not in self.tokens or rate_ppb % _PPB_PER_PPM:
                problems.append(
                    f"venue: a funding rate of {rate_ppb} ppb on {token_id} cannot be served"
                )
            else:
                rates_ppm[self.tokens[token_id]] = rate_ppb // _PPB_PER_PPM
        try:
            self.server.session(
                wallet_micros=wallet,
                positions=positions,
                funding_rates_ppm=rates_ppm,
                until_ns=state["now_ns"],
            )
        except httpx.HTTPStatusError as exc:
            problems.append(f"venue: the simulator refused the session: {exc.response.text}")
        for token_id, book in state.get("books", {}).items():
            if token_id not in self.tokens:
                problems.append(f"venue: the simulator has no book of {token_id}")
                continue
            held = markets[self.tokens[token_id]].book
            bids, asks = (
                [tuple(x) for x in book["bids"]],
                [tuple(x) for x in book["asks"]],
            )
            held_bids = held.bids(len(bids))
            held_asks = held.asks(len(asks))
            if list(held_bids) != bids or list(held_asks) != asks:
                problems.append(
                    f"venue: the exchange's book of {token_id} at {state['now_ns']} (bids "
                    f"{held_bids[:3]}…, asks {held_asks[:3]}…) is not the case's"
                )
        return problems

    def _venue(self, pack: Pack) -> CcxtVenue:
        """A fresh :class:`CcxtVenue` for the case, its markets loaded from the simulator: the
        default symbol and every served symbol the case holds an instrument of."""
        from polytraders.venues.ccxt.config import CcxtVenueConfig
        from polytraders.venues.ccxt.venue import CcxtVenue

        symbols = [self.symbol]
        for raw in pack.state.get("instruments", []):
            symbol = self.tokens.get(f"{raw['venue']}:{raw['symbol']}")
            if symbol is not None and symbol not in symbols:
                symbols.append(symbol)
        config = CcxtVenueConfig(
            api_url=self.server.url, symbols=tuple(symbols), poll_interval_ms=0
        )
        venue = CcxtVenue.from_credentials(self._credentials, config)
        venue.load_markets()
        return venue

    def _seed_open_orders(
        self, venue: CcxtVenue, pack: Pack
    ) -> tuple[tuple[ExchangeOrderKey, ...], list[str]]:
        """Place the case's open orders at the exchange under their client order ids; the
        venue's events are dropped (the desk's state already holds them). Returns their keys
        and problems."""
        now = pack.state["now_ns"]
        keys: list[ExchangeOrderKey] = []
        problems: list[str] = []
        for raw in pack.state.get("open_orders", []):
            order = msgspec.convert(raw, VenueOrder)
            venue.submit(order, now)
            venue.poll()
            placed = venue.order(order.client_order_id)
            if placed is None or placed.status is not OrderStatus.ACCEPTED:
                problems.append(f"venue: the case's open order {order.client_order_id} failed")
            keys.append(_order_key(order))
        return tuple(keys), problems

    def _place_sentinel(self, venue: CcxtVenue, pack: Pack) -> tuple[str, list[str]]:
        """A resting post-only BUY at half the best bid (on the tick), of the exchange's
        minimum notional, that the desk does not track; returns (its order id, problems)."""
        exchange = self.server.exchange
        instrument = exchange.instrument
        best_bid = exchange.book.best_bid()
        if best_bid is None:
            return "", ["venue: no bid to place the sentinel order under"]
        price = best_bid // 2 // instrument.price_increment * instrument.price_increment
        step = instrument.size_increment
        size = -(-exchange.settings.min_notional_micros * MICROS // price)
        size = max(-(-size // step) * step, instrument.min_size)
        order = VenueOrder(
            client_order_id=f"{SENTINEL_PREFIX}/{pack.bot_id}/{pack.case}",
            intent_id=f"{SENTINEL_PREFIX}/{pack.bot_id}/{pack.case}",
            token_id=self.token_id,
            side=Side.BUY,
            price=price,
            size=size,
            post_only=True,
            ts_created_ns=pack.state["now_ns"],
        )
        venue.submit(order, pack.state["now_ns"])
        venue.poll()  # its events belong to no desk: the desk never tracked it
        placed = venue.order(order.client_order_id)
        live = {str(o.order_id) for o in exchange.orders.values() if o.status == _LIVE}
        if placed is None or placed.venue_order_id not in live:
            return "", ["venue: the sentinel order was not accepted"]
        return placed.venue_order_id, []

    def _row(self, order: SimOrder) -> dict[str, Any]:
        post_only = order.time_in_force == "GTX"
        return {
            "id": str(order.order_id),
            "client_order_id": order.client_order_id,
            "token_id": self._token_of[order.working.order.token_id],
            "side": order.side.value,
            "price": order.price,
            "size": order.orig_qty,
            "post_only": post_only,
            "reduce_only": order.reduce_only,
            "time_in_force": "GTC" if post_only else order.time_in_force,
            "status": order.status,
        }


def _ids(pack: Pack) -> set[str]:
    """The exchange's client order ids (``newClientOrderId``) of the case's open orders."""
    from polytraders.venues.ccxt.wire import wire_client_id

    return {wire_client_id(str(o["client_order_id"])) for o in pack.state.get("open_orders", [])}


# ---------------------------------------------------------------------------- lifetime
@contextmanager
def shared_runner(ctx: ReadinessContext) -> Iterator[ExchangePackRunner]:
    """The evaluation's :class:`ExchangePackRunner`: the one already open in ``ctx.cache``
    (left open), else a new one kept in ``ctx.cache`` until this block ends, then closed.

    Raises:
        SimulatorUnavailableError: the ``live`` extra is not installed.
    """
    runner = ctx.cache.get(_CACHE_KEY)
    if isinstance(runner, ExchangePackRunner):
        yield runner
        return
    runner = ExchangePackRunner(ctx.repo)
    ctx.cache[_CACHE_KEY] = runner
    try:
        yield runner
    finally:
        ctx.cache.pop(_CACHE_KEY, None)
        runner.close()


@contextmanager
def optional_simulators(ctx: ReadinessContext) -> Iterator[None]:
    """The CLOB v2 simulator and the exchange simulator, each shared by every Impl item 13 of
    an evaluation (around a whole command); without the ``live`` extra none is started and
    item 13 reports PENDING itself."""
    with ExitStack() as stack:
        with suppress(SimulatorUnavailableError):
            stack.enter_context(clob_packs.shared_runner(ctx))
        with suppress(SimulatorUnavailableError):
            stack.enter_context(shared_runner(ctx))
        yield


def run_exchange_pack(bot_id: str, ctx: ReadinessContext) -> dict[str, ExchangeCaseRun]:
    """``bot_id``'s whole pack against the evaluation's exchange simulator, memoised in
    ``ctx.cache``.

    Raises:
        SimulatorUnavailableError: the ``live`` extra is not installed.
        OSError: a case file is missing or unreadable.
    """
    key = ("readiness.exchange_packs", "pack", bot_id)
    cached = ctx.cache.get(key)
    if cached is not None:
        return dict(cached)
    with shared_runner(ctx) as runner:
        runs = runner.run_pack(bot_id)
    ctx.cache[key] = runs
    return dict(runs)
