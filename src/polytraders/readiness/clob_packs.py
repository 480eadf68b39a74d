"""Fixture packs against the CLOB v2 simulator with the real Polymarket venue adapter (seed
002, Impl item 13: "Mock CLOB v2 adapter passes the bot's full fixture pack").

One case runs in two halves:

1. **The decision**, exactly as :func:`polytraders.readiness.packs.run_case` runs it (the
   desk's harness, ENFORCED), on the case with its token ids spelled as the venue spells them
   (see *Token ids*). Its problems are the case's problems here too.
2. **What the desk sends to the venue**, through the desk's own order manager
   (:class:`~polytraders.desk.orders.OrderManager`: client order ids, cancel-before-place,
   rate limit) and :class:`~polytraders.venues.polymarket.venue.PolymarketVenue`, which signs
   every order (EIP-712, a throwaway key made for this run and never written anywhere) and
   posts it to the simulator (``polytraders sim-clob``, :mod:`polytraders.simclob`) on a
   loopback port through the official client library:

   - a **risk** case: the approved (or reshaped) intent is routed by ``exec.smartrouter``
     (default config) and sent; a kill-switch HALT makes the desk cancel everything at the
     venue (:meth:`OrderManager.cancel_all`, what :class:`~polytraders.desk.desk.Desk` does on
     a trip); a REJECT or a HALT sends nothing;
   - a **strategy** case: its ENFORCED intents are routed by ``exec.smartrouter`` and sent
     **without a risk chain**. The strategy packs' states were cut for the strategy (no feed or
     heartbeat times, no equity marks): the default guards would judge those missing figures,
     not the strategy (the kill switch halts on a heartbeat it never saw), and each guard has
     its own pack here. A desk without risk bots is what ``allow_no_risk`` desks run;
   - an **execution** case: the router's checked route plan is sent as it is.

The case passes only when the decision matches and the simulator's state matches it:

- APPROVE / RESHAPE / ROUTE / PROPOSE: the orders the router makes of the *expected* intents
  (risk: the case's intent with its expected reshape; strategy: the expected proposal's
  intents; execution: the expected plan's orders, as written in the case) are live at the
  simulator, each with its token, side, price, size, post-only flag, order type and GTD expiry,
  accepted (the desk's copy ACCEPTED with the venue's order hash), and nothing else was
  posted;
- REJECT / REFUSE / IDLE and a HALT without the kill switch: nothing was posted (the
  simulator holds no order of the account);
- a kill-switch HALT: a resting *sentinel* order placed at the venue before the case (one the
  desk does not track, as after a restart) is cancelled with everything else: no order of the
  account is live afterwards.

**Simulator state.** Before each case the simulator's account starts a fresh session
(``reset_account``: the case's cash and positions), its clock is set to the case's clock
(``set_clock``: GTD expiries and the dead-man switch are judged at the case's time) and every
token of the case's markets gets the case's book and metadata (``set_book``: tick size,
minimum order size, neg-risk), so a post-only order cannot cross by accident. The simulator
serves the recorded markets the packs were cut from (``SimSettings.market_ids``); a case
whose market it does not serve fails.

**Token ids.** The packs spell a token ``<condition id>:UP|DOWN``; the simulator serves the
same recorded token as the uint256 ``keccak256("<condition id>:<UP|DOWN>")``
(:func:`polytraders.simclob.replay.derived_token_id`), as the CLOB's token ids are uint256
decimals the signed order carries. Every string of the case spelled so (books, positions,
intents, expected outputs, mapping keys too) is renamed before the run
(:func:`~polytraders.readiness.packs.translate_tokens`); any other id (a corrupt one) is left
as the case wrote it. A decision must not depend on how a token id is spelled.

Needs the ``live`` extra (simulator, client library, ``eth_account``); without it
:class:`ClobPackRunner` raises :class:`SimulatorUnavailableError`.

**Lifetime.** One :class:`ClobPackRunner` (one simulator) serves a whole readiness evaluation:
``with shared_runner(ctx):`` around the evaluation opens it once in ``ctx.cache`` and closes
it at the end; :func:`shared_runner` used inside (by :func:`polytraders.readiness.impl_score.
impl_score`) reuses it, or opens and closes its own when none is open.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from polytraders.bots.execution.smartrouter import SmartRouter
from polytraders.contracts.modes import Mode
from polytraders.desk.harness import run_execution
from polytraders.desk.orders import OrderManager
from polytraders.desk.state import DeskState
from polytraders.model.market import Market, OutcomeToken
from polytraders.model.orders import OrderIntent, OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.expected_logs import expected_warnings, mentions
from polytraders.readiness.packs import (
    BUILDER_CODE,
    CASES,
    DEFAULT_CASH,
    FIXTURES_DIR,
    CaseRun,
    Pack,
    PackFormat,
    load_pack,
    pack_from_data,
    pack_path,
    pack_state,
    run_case,
    translate_tokens,
)

if TYPE_CHECKING:
    from polytraders.simclob.server import SimClobServer
    from polytraders.venues.base import Venue
    from polytraders.venues.polymarket.credentials import Credentials
    from polytraders.venues.polymarket.venue import PolymarketVenue

SENTINEL_PREFIX = "readiness-sentinel"
"""Client order id prefix of the resting order a kill-switch case must see cancelled."""
_CACHE_KEY = ("readiness.clob_packs", "runner")
_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000
_LIVE = "LIVE"
_PACK_TOKEN = re.compile(r"(0x[0-9a-f]{64}):(UP|DOWN)")
"""How the packs spell a recorded token: ``<condition id>:UP|DOWN``."""


class SimulatorUnavailableError(RuntimeError):
    """The simulator cannot run here (the ``live`` extra is not installed)."""


K = TypeVar("K", bound=tuple[Any, ...])
OrderKey = tuple[str, str, int, int, bool, str, int]
"""(token id, side, price, size, post-only, order type, GTD expiry s) of an order."""


@dataclass(frozen=True)
class ClobCaseRun:
    """One case through the desk against the simulator.

    Attributes:
        decision: the decision half (:class:`~polytraders.readiness.packs.CaseRun`, on the
            case with the venue's token ids).
        expected_orders: the orders the simulator must hold live afterwards.
        sent: the desk's copies of the orders it sent (after the venue's answers).
        posted: how many orders reached the simulator in this case (the sentinel excluded).
        venue_orders: every order of the account at the simulator afterwards
            (``GET /sim/orders``: micro-units, post-only flag, status).
        sentinel_id: the sentinel's order hash ("" when the case placed none).
        problems: the decision's problems, then the venue's (empty: passed).
        elapsed_s: wall time of the case.
    """

    decision: CaseRun
    expected_orders: tuple[OrderKey, ...]
    sent: tuple[VenueOrder, ...]
    posted: int
    venue_orders: tuple[dict[str, Any], ...]
    sentinel_id: str
    problems: tuple[str, ...]
    elapsed_s: float

    @property
    def passed(self) -> bool:
        """True when the decision and the simulator's state matched the case."""
        return not self.problems

    @property
    def live_orders(self) -> tuple[dict[str, Any], ...]:
        """The account's orders live at the simulator afterwards."""
        return tuple(o for o in self.venue_orders if o["status"] == _LIVE)


def pack_markets(repo: Path) -> tuple[str, ...]:
    """Condition ids of every market any fixture case of ``repo`` holds (sorted).

    Raises:
        OSError, ValueError: an unreadable case file.
    """
    markets: set[str] = set()
    for path in sorted((repo / FIXTURES_DIR).glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        markets.update(m["market_id"] for m in data.get("state", {}).get("markets", []))
    return tuple(sorted(markets))


class ClobPackRunner:
    """A simulator on a free loopback port, an account for a fresh throwaway key, and the
    cases run against it (module docstring). Use as a context manager or call :meth:`close`.

    Args:
        repo: the repository (fixture packs; the recorded sample ``data/samples/...``).
        data_path: the recorded set the simulator serves (default: the shipped Polymarket
            sample the packs were cut from).

    Raises:
        SimulatorUnavailableError: the ``live`` extra is not installed.
        RuntimeError: the simulator did not start.
    """

    def __init__(self, repo: Path, data_path: Path | None = None) -> None:
        try:
            from polytraders.feeds.samples import sample_path
            from polytraders.simclob.replay import derived_token_id
            from polytraders.simclob.server import (
                SimClobServer,
                SimSettings,
                account_for_key,
                credentials_for,
                throwaway_key,
            )
        except ImportError as exc:  # the live extra is missing
            raise SimulatorUnavailableError(
                f"the CLOB v2 simulator needs the live extra ({exc.name} is not installed)"
            ) from exc
        self.repo = repo
        self._derived = derived_token_id
        key = throwaway_key()  # only in memory
        account = account_for_key(key, builder_code=BUILDER_CODE, collateral=DEFAULT_CASH)
        self._credentials: Credentials = credentials_for(key, account)
        settings = SimSettings(
            data_path=data_path if data_path is not None else sample_path(),
            limit_markets=None,
            market_ids=pack_markets(repo),
        )
        self.server: SimClobServer = SimClobServer(settings, account).start()
        self._closed = False
        self.served_tokens = frozenset(self.server.exchange.tokens)
        """Token ids the simulator serves (read once, before any request)."""

    def close(self) -> None:
        """Stop the simulator (idempotent)."""
        if not self._closed:
            self._closed = True
            self.server.stop()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` stopped the simulator."""
        return self._closed

    def __enter__(self) -> ClobPackRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ cases
    def run_pack(self, bot_id: str) -> dict[str, ClobCaseRun]:
        """Every case of ``bot_id``'s pack (case → run).

        Raises:
            OSError: a case file is missing or unreadable (never a pass).
        """
        return {
            case: self.run_case(load_pack(pack_path(bot_id, case, self.repo))) for case in CASES
        }

    def run_case(self, pack: Pack) -> ClobCaseRun:
        """Run one case through the desk against the simulator (module docstring)."""
        started = time.perf_counter()
        venue_pack = pack_from_data(pack.path, translate_tokens(pack.data, self.venue_token_id))
        decision = run_case(venue_pack, Mode.ENFORCED)
        problems = [f"decision: {p}" for p in decision.problems]
        problems += self._prepare(venue_pack)
        venue = self._venue(venue_pack)
        try:
            state = decision.state
            now = state.now_ns
            sentinel_id = ""
            if trips_kill_switch(venue_pack):
                sentinel_id, trouble = self._place_sentinel(venue, venue_pack)
                problems += trouble
            posted_before = self._posted()
            with expected_warnings("polytraders.desk.orders", mentions(SENTINEL_PREFIX)):
                sent = send_orders(venue, state, decision, venue_pack, now)
            posted = self._posted() - posted_before
            expected = tuple(_key(o) for o in expected_orders(venue_pack))
            venue_orders = tuple(self.server.sim_orders())
        finally:
            venue.close()
        problems += venue_problems(
            expected=expected,
            sent=sent,
            posted=posted,
            venue_orders=venue_orders,
            sentinel_id=sentinel_id,
            key=_venue_key,
            live_status=_LIVE,
        )
        return ClobCaseRun(
            decision=decision,
            expected_orders=expected,
            sent=sent,
            posted=posted,
            venue_orders=venue_orders,
            sentinel_id=sentinel_id,
            problems=tuple(problems),
            elapsed_s=time.perf_counter() - started,
        )

    # ------------------------------------------------------------------ helpers
    def venue_token_id(self, token_id: str) -> str | None:
        """A pack token id (``<condition id>:UP|DOWN``) → the simulator's id; None for any
        other string (a corrupt id stays as the case wrote it)."""
        match = _PACK_TOKEN.fullmatch(token_id)
        return self._derived(match[1], match[2]) if match else None

    def _prepare(self, pack: Pack) -> list[str]:
        """Put the simulator in the case's state; returns what could not be matched."""
        problems: list[str] = []
        state = pack.state
        positions: dict[str, int] = {}
        for token_id, (size, _cost) in state.get("positions", {}).items():
            if size < 0 or token_id not in self.served_tokens:
                problems.append(f"venue: a position of {size} in {token_id} cannot be held")
            elif size:
                positions[token_id] = size
        cash = state.get("cash", DEFAULT_CASH if pack.format is PackFormat.DECISION else 0)
        self.server.control("reset_account", collateral=cash, positions=positions)
        self.server.control("set_clock", now_ns=state["now_ns"])
        books = state.get("books", {})
        for raw in state.get("markets", []):
            market = msgspec.convert(raw, Market)
            for token in market.tokens:
                if token.token_id not in self.served_tokens:
                    problems.append(
                        f"venue: the simulator does not serve {token.token_id} "
                        f"(market {market.market_id} is not in its recording)"
                    )
                    continue
                book = books.get(token.token_id, {"bids": [], "asks": []})
                stamp_ns = book.get("last_update_ns", state["now_ns"])
                self.server.control(
                    "set_book",
                    token_id=token.token_id,
                    bids=[list(level) for level in book["bids"]],
                    asks=[list(level) for level in book["asks"]],
                    ts_ms=stamp_ns // _NS_PER_MS,
                    tick_size=token.tick_size,
                    min_order_size=token.min_order_size,
                    neg_risk=token.neg_risk,
                )
        return problems

    def _venue(self, pack: Pack) -> PolymarketVenue:
        """A fresh :class:`PolymarketVenue` for the case, its tokens' metadata loaded from the
        simulator (``GET /book``)."""
        from polytraders.venues.polymarket.config import PolymarketVenueConfig
        from polytraders.venues.polymarket.venue import PolymarketVenue

        config = PolymarketVenueConfig(clob_url=self.server.url, trades_poll_ms=0)
        venue = PolymarketVenue.from_credentials(self._credentials, config)
        for raw in pack.state.get("markets", []):
            market = msgspec.convert(raw, Market)
            for token in market.tokens:
                if token.token_id in self.served_tokens:
                    venue.load_token(token.token_id, market.market_id, token.complement_token_id)
        venue.mark_reconciled()  # a fresh account: nothing to reconcile
        return venue

    def _place_sentinel(self, venue: PolymarketVenue, pack: Pack) -> tuple[str, list[str]]:
        """A resting post-only BUY at the lowest tick, minimum size, on a token of the case
        whose book it cannot cross; returns (its order hash, problems)."""
        now = pack.state["now_ns"]
        for token in _tokens(pack):
            if token.token_id not in venue.tokens:
                continue
            asks = pack.state.get("books", {}).get(token.token_id, {}).get("asks", [])
            if any(price <= token.tick_size for price, _ in asks):
                continue
            order = VenueOrder(
                client_order_id=f"{SENTINEL_PREFIX}/{pack.bot_id}/{pack.case}",
                intent_id=f"{SENTINEL_PREFIX}/{pack.bot_id}/{pack.case}",
                token_id=token.token_id,
                market_id=token.market_id,
                side=Side.BUY,
                price=token.tick_size,
                size=token.min_order_size,
                post_only=True,
                builder_code=BUILDER_CODE,
                ts_created_ns=now,
            )
            venue.submit(order, now)
            venue.advance(now)
            venue.poll()  # its events belong to no desk: the desk never tracked it
            placed = venue.order(order.client_order_id)
            live = {o["id"] for o in self.server.sim_orders() if o["status"] == _LIVE}
            if placed is None or placed.venue_order_id.lower() not in live:
                return "", ["venue: the sentinel order was not accepted"]
            return placed.venue_order_id.lower(), []
        return "", ["venue: no token of the case can hold a sentinel order"]

    def _posted(self) -> int:
        stats: dict[str, int] = self.server.sim_state()["stats"]
        return int(stats.get("orders_posted", 0))


# ---------------------------------------------------------------------------- the desk's half
def send_orders(
    venue: Venue, state: DeskState, decision: CaseRun, pack: Pack, now: int
) -> tuple[VenueOrder, ...]:
    """What the desk sends to ``venue`` after the decision, through its order manager (module
    docstring; also :mod:`polytraders.readiness.exchange_packs`); returns the desk's copies of
    the orders sent."""
    orders = OrderManager(venue, state)
    before = set(state.orders)
    if state.kill_switch_tripped and not pack.state.get("kill_switch_tripped", False):
        orders.cancel_all(now)  # the desk's reaction to a trip (Desk._after_decisions)
    if decision.plan is not None:  # an execution case: the checked plan as it is
        orders.execute(pack.intent, decision.plan, now)
    for intent in decision.forwarded:  # risk: the approved intent; strategy: its intents
        route = run_execution(
            SmartRouter(),
            intent,
            state,
            Mode.ENFORCED,
            run_id=f"run-clob-{pack.bot_id}-{pack.case}",
            causation_id=f"fixture:{pack.case}",
        )
        orders.execute(intent, route.outcome.plan, now)
    orders.sync(now)  # post what is queued, apply the venue's answers
    orders.sync(now)  # orders released by confirmed cancels (cancel-before-place)
    return tuple(msgspec.structs.replace(o) for cid, o in state.orders.items() if cid not in before)


# ---------------------------------------------------------------------------- expectations
def _tokens(pack: Pack) -> list[OutcomeToken]:
    return [t for raw in pack.state.get("markets", []) for t in msgspec.convert(raw, Market).tokens]


def trips_kill_switch(pack: Pack) -> bool:
    """True when the case expects the kill switch to trip (risk format, not tripped before)."""
    return (
        pack.format is PackFormat.RISK
        and bool(pack.expected.get("kill_switch_tripped"))
        and not pack.state.get("kill_switch_tripped", False)
    )


def _key(order: VenueOrder) -> OrderKey:
    expiry_s = order.expire_at_ns // _NS_PER_S if order.time_in_force is TimeInForce.GTD else 0
    return (
        order.token_id,
        order.side.value,
        order.price,
        order.size,
        order.post_only,
        order.time_in_force.value,
        expiry_s,
    )


def _venue_key(row: dict[str, Any]) -> OrderKey:
    return (
        str(row["token_id"]),
        str(row["side"]),
        int(row["price"]),
        int(row["original_size"]),
        bool(row["post_only"]),
        str(row["order_type"]),
        int(row["expiration_s"]) if row["order_type"] == "GTD" else 0,
    )


def _route_expected(intents: list[OrderIntent], pack: Pack) -> tuple[VenueOrder, ...]:
    """The orders ``exec.smartrouter`` (default config) makes of ``intents`` on the case's
    state (a pure call: the router's own pack proves the router)."""
    state = pack_state(pack)
    if not isinstance(pack.input, OrderIntent):  # a strategy case: the desk applied its event
        state.apply_event(pack.input)
    router = SmartRouter()
    orders: list[VenueOrder] = []
    for intent in intents:
        orders.extend(router.decide(intent, state).orders)
    return tuple(orders)


def expected_orders(pack: Pack) -> tuple[VenueOrder, ...]:
    """The orders the venue must hold live after the case (module docstring): the router's
    orders of the expected intents, or an execution case's expected plan as written."""
    expected = pack.expected
    if pack.format is PackFormat.RISK:
        if expected["verdict"] != "APPROVE":
            return ()
        intent = msgspec.structs.replace(pack.intent, **expected.get("reshaped", {}))
        return _route_expected([intent], pack)
    output = expected["output"]
    if output.get("type") == "route_plan":
        return tuple(msgspec.convert(o, VenueOrder) for o in output["orders"])
    intents = [msgspec.convert(i, OrderIntent) for i in output["intents"]]
    return _route_expected(intents, pack)


def venue_problems(
    *,
    expected: tuple[K, ...],
    sent: tuple[VenueOrder, ...],
    posted: int,
    venue_orders: tuple[dict[str, Any], ...],
    sentinel_id: str,
    key: Callable[[dict[str, Any]], K],
    live_status: str,
) -> list[str]:
    """The venue half's pass rules (module docstring): the live orders (``status ==
    live_status``; each row's ``key``) are exactly ``expected``, ``posted`` orders were posted
    (``len(expected)``), nothing else of ours is not live, every order the desk sent was
    ACCEPTED with the venue's id, and a sentinel (its ``id``) was cancelled with everything
    else. Rows carry ``id`` and ``status``. Returns the problems (empty: passed)."""
    problems: list[str] = []
    ours = [o for o in venue_orders if o["id"].lower() != sentinel_id]
    live = Counter(key(o) for o in ours if o["status"] == live_status)
    wanted = Counter(expected)
    if live != wanted:
        problems.append(
            f"venue: live orders {sorted(live.elements())} differ from the expected "
            f"{sorted(wanted.elements())}"
        )
    if posted != len(expected):
        problems.append(f"venue: {posted} orders posted, expected {len(expected)}")
    not_live = [o for o in ours if o["status"] != live_status]
    if not_live:
        problems.append(f"venue: orders not live: {[(o['id'], o['status']) for o in not_live]}")
    for order in sent:
        if order.status is not OrderStatus.ACCEPTED or not order.venue_order_id:
            problems.append(
                f"venue: the desk's order {order.client_order_id} is {order.status}, not ACCEPTED"
            )
    if sentinel_id:
        row = next((o for o in venue_orders if o["id"].lower() == sentinel_id), None)
        if row is None or row["status"] != "CANCELED":
            status = "missing" if row is None else row["status"]
            problems.append(f"venue: the kill switch left the sentinel order {status}")
        if any(o["status"] == live_status for o in venue_orders):
            problems.append("venue: orders still live after the kill switch tripped")
    return problems


# ---------------------------------------------------------------------------- lifetime
@contextmanager
def shared_runner(ctx: ReadinessContext) -> Iterator[ClobPackRunner]:
    """The evaluation's :class:`ClobPackRunner`: the one already open in ``ctx.cache`` (left
    open), else a new one kept in ``ctx.cache`` until this block ends, then closed.

    The lead opens it once around a whole evaluation (``with shared_runner(ctx): ...`` — one
    simulator for every bot); a check inside (Impl item 13) enters it again and reuses it.

    Raises:
        SimulatorUnavailableError: the ``live`` extra is not installed.
    """
    runner = ctx.cache.get(_CACHE_KEY)
    if isinstance(runner, ClobPackRunner):
        yield runner
        return
    runner = ClobPackRunner(ctx.repo)
    ctx.cache[_CACHE_KEY] = runner
    try:
        yield runner
    finally:
        ctx.cache.pop(_CACHE_KEY, None)
        runner.close()


def run_clob_pack(bot_id: str, ctx: ReadinessContext) -> dict[str, ClobCaseRun]:
    """``bot_id``'s whole pack against the evaluation's simulator, memoised in ``ctx.cache``.

    Raises:
        SimulatorUnavailableError: the ``live`` extra is not installed.
        OSError: a case file is missing or unreadable.
    """
    key = ("readiness.clob_packs", "pack", bot_id)
    cached = ctx.cache.get(key)
    if cached is not None:
        return dict(cached)
    with shared_runner(ctx) as runner:
        runs = runner.run_pack(bot_id)
    ctx.cache[key] = runs
    return dict(runs)
