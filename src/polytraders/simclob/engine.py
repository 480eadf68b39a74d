"""The simulator's exchange state: recorded external liquidity, our account's orders, matching,
trades, the order heartbeat and injected faults. Synchronous; the server runs it on one event
loop, so no locks.

Matching (documented simplifications of the real CLOB):

* External liquidity is the recorded book of each token, replaced at each replayed snapshot.
  With ``loop`` the recording never runs out: it is replayed forward, then backward, then
  forward again (the turning snapshot is not repeated), so consecutive books are always
  recorded neighbours and no price jumps; recorded times keep increasing (each later lap
  is shifted by the recording's span, a backward lap mirrored).
  Liquidity our taker orders consume is removed from the current copy until the token's next
  snapshot replaces it.
* An incoming order first walks the opposite external levels within its limit (taker fills at
  the level prices, taker fee ``shares × rate × p × (1 − p)``); a post-only order that would
  cross is rejected; FOK fills completely or not at all; FAK cancels the rest; GTC/GTD rest.
* A resting order fills (maker, at its own price, no fee) when a new snapshot's opposite side
  crosses it, for at most the size shown at crossing levels; that liquidity is consumed.
* Every fill is a trade that goes MATCHED → MINED → CONFIRMED after ``confirm_ms`` (or FAILED
  when a ``fail_trades`` fault is armed), published on the user channel at each step.

Order checks follow ``../shared/POLYMARKET.md`` "Orders": EIP-712 signature recovered to the
order's ``signer`` under the exchange chosen by the token's ``neg_risk`` flag, signer equal to
the account, builder field equal to the configured builder code (when one is configured),
price on the tick grid within [tick, 1 − tick], size ≥ ``min_order_size`` for resting orders,
balance for BUYs (collateral, and the allowance to the order's exchange) and SELLs (token
position).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address  # type: ignore[attr-defined]

from polytraders.model.allowance import MAX_UINT256
from polytraders.model.fees import taker_fee_micros
from polytraders.model.money import MICROS, from_micros
from polytraders.simclob.replay import RecordedSet, RecordedSnapshot
from polytraders.venues.polymarket.config import CHAIN_ID_POLYGON
from polytraders.venues.polymarket.signing import (
    CTF_EXCHANGE_V2,
    NEG_RISK_ADAPTER,
    NEG_RISK_CTF_EXCHANGE_V2,
    domain_separator,
    order_digest,
    recover_signer,
)

Level = tuple[int, int]
Outgoing = tuple[str, str, dict[str, Any]]
"""(channel ``market``|``user``, token id or API key, event)."""


class SimError(Exception):
    """An HTTP error answer: ``status``, JSON ``body`` and extra ``headers``."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass(slots=True)
class SimOrder:
    """An order of our account at the simulator (micro-units)."""

    order_id: str
    token_id: str
    market_id: str
    side: str
    price: int
    original_size: int
    order_type: str
    post_only: bool
    created_at_s: int
    expiration_s: int
    size_matched: int = 0
    status: str = "LIVE"
    outcome: str = ""

    @property
    def remaining(self) -> int:
        return self.original_size - self.size_matched

    def to_wire(self, owner: str, maker: str) -> dict[str, Any]:
        """As ``GET /data/orders`` lists it."""
        return {
            "id": self.order_id,
            "status": self.status,
            "owner": owner,
            "maker_address": maker,
            "market": self.market_id,
            "asset_id": self.token_id,
            "side": self.side,
            "original_size": from_micros(self.original_size),
            "size_matched": from_micros(self.size_matched),
            "price": from_micros(self.price),
            "outcome": self.outcome,
            "expiration": str(self.expiration_s),
            "order_type": self.order_type,
            "created_at": self.created_at_s,
            "associate_trades": [],
        }


@dataclass(slots=True)
class SimTrade:
    """One fill of one of our orders."""

    trade_id: str
    order: SimOrder
    liquidity: str
    price: int
    size: int
    match_time_s: int
    matched_at_ns: int
    fee_rate_bps: int
    status: str = "MATCHED"
    fail: bool = False

    def to_wire(self, owner: str, maker: str) -> dict[str, Any]:
        """As ``GET /data/trades`` and the user channel carry it (sizes as decimals)."""
        counter_side = "SELL" if self.order.side == "BUY" else "BUY"
        base: dict[str, Any] = {
            "id": self.trade_id,
            "market": self.order.market_id,
            "asset_id": self.order.token_id,
            "status": self.status,
            "match_time": str(self.match_time_s),
            "last_update": str(self.match_time_s),
            "outcome": self.order.outcome,
            "owner": owner,
            "maker_address": maker,
            "bucket_index": 0,
            "transaction_hash": "0x" + hashlib.sha256(self.trade_id.encode()).hexdigest()
            if self.status in ("MINED", "CONFIRMED")
            else "",
        }
        if self.liquidity == "TAKER":
            base |= {
                "taker_order_id": self.order.order_id,
                "side": self.order.side,
                "size": from_micros(self.size),
                "price": from_micros(self.price),
                "fee_rate_bps": str(self.fee_rate_bps),
                "trader_side": "TAKER",
                "maker_orders": [],
            }
        else:
            base |= {
                "taker_order_id": "0x"
                + hashlib.sha256(b"ext" + self.trade_id.encode()).hexdigest(),
                "side": counter_side,
                "size": from_micros(self.size),
                "price": from_micros(self.price),
                "fee_rate_bps": str(self.fee_rate_bps),
                "trader_side": "MAKER",
                "maker_orders": [
                    {
                        "order_id": self.order.order_id,
                        "owner": owner,
                        "maker_address": maker,
                        "matched_amount": from_micros(self.size),
                        "price": from_micros(self.price),
                        "fee_rate_bps": "0",
                        "asset_id": self.order.token_id,
                        "outcome": self.order.outcome,
                        "side": self.order.side,
                    }
                ],
            }
        return base


@dataclass(slots=True)
class TokenState:
    """A token's metadata and current external book (price → size)."""

    token_id: str
    market_id: str
    outcome: str
    complement_token_id: str
    tick_size: int = 10_000
    min_order_size: int = 5_000_000
    neg_risk: bool = False
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    ts_ms: int = 0

    def book_wire(self) -> dict[str, Any]:
        """``GET /book`` / market-channel ``book``: best price LAST in each array."""
        bids = [
            {"price": from_micros(p), "size": from_micros(s)} for p, s in sorted(self.bids.items())
        ]
        asks = [
            {"price": from_micros(p), "size": from_micros(s)}
            for p, s in sorted(self.asks.items(), reverse=True)
        ]
        digest = hashlib.sha1(repr((bids, asks, self.ts_ms)).encode()).hexdigest()
        return {
            "market": self.market_id,
            "asset_id": self.token_id,
            "timestamp": str(self.ts_ms),
            "hash": digest,
            "bids": bids,
            "asks": asks,
            "min_order_size": from_micros(self.min_order_size),
            "tick_size": from_micros(self.tick_size),
            "neg_risk": self.neg_risk,
            "last_trade_price": "",
        }


@dataclass(slots=True)
class Faults:
    """Injected faults (all off by default); times are wall-clock ns of the server."""

    engine_restart_until_ns: int = 0
    post_only_until_ns: int = 0
    post_only_after_restart_ms: int = 0
    cancel_only: bool = False
    closed_only: bool = False
    rate_limit_remaining: int = 0
    rate_limit_retry_after_s: str = "1"
    rate_limit_path: str = ""
    """Only requests to this path get the 429s (empty: any request)."""
    ack_delay_ms: int = 0
    fail_trades: int = 0
    bad_frames: int = 0


@dataclass(frozen=True, slots=True)
class Account:
    """The one account the simulator serves: signer address and L2 API credentials."""

    address: str
    api_key: str
    api_secret: str
    api_passphrase: str
    builder_code: str = ""
    collateral: int = 1_000 * MICROS


class SimExchange:
    """State and rules of the simulated CLOB; see the module docstring.

    Args:
        recorded: tokens and snapshots to replay.
        account: the served account.
        fee_rate_bps: taker fee rate of every token (crypto 0.07 = 700 bps).
        confirm_ms: time from MATCHED to CONFIRMED.
        heartbeat_timeout_ms: dead-man window (10 s at Polymarket).
        loop: replay the recording back and forth without end (module docstring).
    """

    def __init__(
        self,
        recorded: RecordedSet,
        account: Account,
        *,
        fee_rate_bps: int = 700,
        confirm_ms: int = 200,
        heartbeat_timeout_ms: int = 10_000,
        chain_id: int = CHAIN_ID_POLYGON,
        loop: bool = False,
    ) -> None:
        self.account = account
        self.loop = loop
        self.fee_rate_bps = fee_rate_bps
        self.confirm_ms = confirm_ms
        self.heartbeat_timeout_ms = heartbeat_timeout_ms
        self.tokens: dict[str, TokenState] = {
            t.token_id: TokenState(
                t.token_id, t.market_id, t.outcome, t.complement_token_id, t.tick_size
            )
            for t in recorded.tokens.values()
        }
        self._snapshots = recorded.snapshots
        self.cursor = 0
        """Snapshots replayed so far (with ``loop`` it runs past the recording's length)."""
        self.orders: dict[str, SimOrder] = {}
        self.trades: list[SimTrade] = []
        self.collateral = account.collateral
        self.positions: dict[str, int] = {}
        self.allowances: dict[str, int] = dict.fromkeys(
            (CTF_EXCHANGE_V2, NEG_RISK_CTF_EXCHANGE_V2, NEG_RISK_ADAPTER), MAX_UINT256
        )
        """Spender (checksum address) → the collateral it may pull (micro-pUSD): the three
        contracts approved without limit, as Polymarket's approval examples do, until
        :meth:`set_allowance` changes one."""
        self.faults = Faults()
        self.outbox: list[Outgoing] = []
        self.heartbeat_id = ""
        self.heartbeat_last_ok_ns = 0
        self.heartbeat_counter = 0
        self.dead_man_fired = 0
        self.stats: dict[str, int] = {}
        self._separators = {
            False: domain_separator(CTF_EXCHANGE_V2, chain_id),
            True: domain_separator(NEG_RISK_CTF_EXCHANGE_V2, chain_id),
        }
        self._trade_seq = 0

    # ------------------------------------------------------------------ replay
    def step(self, count: int = 1, now_ns: int = 0, *, match_ns: int = 0) -> int:
        """Apply the next ``count`` recorded snapshots; returns how many were applied.

        With ``now_ns`` the books are re-stamped to that time (a live-looking feed from old
        data: staleness checks compare against the wall clock); else they keep the recorded
        times. Our resting orders the replayed books cross fill at ``match_ns`` (the
        simulator's clock, as a venue stamps its trades), else at ``now_ns``, else at the
        snapshot's recorded time."""
        applied = 0
        while applied < count:
            snap = self._replayed(self.cursor)
            if snap is None:
                break
            self._apply_snapshot(snap, now_ns, match_ns)
            self.cursor += 1
            applied += 1
        return applied

    @property
    def lap(self) -> int:
        """The lap of the snapshot replayed last: 0 the first (forward) pass, then odd laps
        backward and even ones forward (``loop``)."""
        return self._lap_of(self.cursor - 1)

    def _lap_of(self, cursor: int) -> int:
        n = len(self._snapshots)
        return 0 if cursor < n or n < 2 else (cursor - n) // (n - 1) + 1

    def _replayed(self, cursor: int) -> RecordedSnapshot | None:
        """The ``cursor``-th snapshot of the replay (None: the recording has run out), its
        time shifted to keep increasing on a later lap of a ``loop``."""
        snaps, n = self._snapshots, len(self._snapshots)
        if cursor < n:
            return snaps[cursor]
        if not self.loop or n < 2:
            return None
        lap = self._lap_of(cursor)
        offset = (cursor - n) % (n - 1)
        first_ms, span_ms = snaps[0].ts_ms, snaps[-1].ts_ms - snaps[0].ts_ms
        if lap % 2:  # backward from the snapshot before the last, times mirrored
            snap = snaps[n - 2 - offset]
            ts_ms = 2 * first_ms + (lap + 1) * span_ms - snap.ts_ms
        else:  # forward from the snapshot after the first
            snap = snaps[1 + offset]
            ts_ms = snap.ts_ms + lap * span_ms
        return dataclasses.replace(snap, ts_ms=ts_ms)

    def set_book(
        self,
        token_id: str,
        bids: list[Level],
        asks: list[Level],
        ts_ms: int,
        *,
        tick_size: int | None = None,
        min_order_size: int | None = None,
        neg_risk: bool | None = None,
        match_ns: int = 0,
    ) -> None:
        """Replace a token's external book (control ``set_book``), as a replayed snapshot
        would: the level changes are published on the market channel and resting orders the
        new book crosses fill (at ``match_ns``, the simulator's clock; else at ``ts_ms``).
        Given metadata (tick, minimum order size, neg-risk) replaces the token's too, so
        ``GET /book`` and the order checks follow it.

        Args:
            token_id: a token the simulator serves.
            bids, asks: ``(price, size)`` levels in micro-units, any order; a size of 0 is no
                level.
            ts_ms: the book's time (epoch ms), shown as its ``timestamp``.

        Raises:
            ValueError: unknown token, a price outside (0, 1), a negative size, a tick or
                minimum size that is not positive.
        """
        token = self.tokens.get(token_id)
        if token is None:
            raise ValueError(f"unknown token {token_id}")
        for price, size in (*bids, *asks):
            if not 0 < price < MICROS or size < 0:
                raise ValueError(f"bad level ({price}, {size}) for token {token_id}")
        if tick_size is not None:
            if tick_size <= 0:
                raise ValueError(f"bad tick_size {tick_size}")
            token.tick_size = tick_size
        if min_order_size is not None:
            if min_order_size <= 0:
                raise ValueError(f"bad min_order_size {min_order_size}")
            token.min_order_size = min_order_size
        if neg_risk is not None:
            token.neg_risk = neg_risk
        self._apply_snapshot(
            RecordedSnapshot(token_id, ts_ms, list(bids), list(asks)), match_ns=match_ns
        )

    def trade_through(self, order_id: str, now_ns: int) -> SimTrade:
        """Another participant trades through our resting order (control ``trade_through``):
        a seller sweeping the book down to a BUY's price (a buyer up to a SELL's) takes the
        external levels priced better than the order — published as book changes — then
        fills the order's remaining size as a maker at its own price (a trade, published on
        the user channel, and a ``last_trade_price``).

        Raises:
            ValueError: no such order of the account, or it is not LIVE.
        """
        order = self.orders.get(order_id.lower())
        if order is None or order.status != "LIVE":
            raise ValueError(f"no live order {order_id}")
        token = self.tokens[order.token_id]
        if order.side == "BUY":
            old = token.bids
            token.bids = {p: s for p, s in old.items() if p < order.price}
            changes = _diff(old, token.bids, "BUY")
        else:
            old = token.asks
            token.asks = {p: s for p, s in old.items() if p > order.price}
            changes = _diff(old, token.asks, "SELL")
        if changes:
            token.ts_ms = max(now_ns // 1_000_000, token.ts_ms)
            self._publish_price_changes(token, changes)
        return self._fill(order, order.price, order.remaining, "MAKER", now_ns)

    def reset_account(self, collateral: int, positions: dict[str, int]) -> None:
        """Start a fresh session of the served account (control ``reset_account``): every
        order and trade is forgotten (their hashes too, so the same signed order may be posted
        again), the order heartbeat is off until the next one, and the balances become
        ``collateral`` (micro-pUSD) and ``positions`` (token id → micro-shares).

        Raises:
            ValueError: a negative balance or an unknown token.
        """
        if collateral < 0 or any(size < 0 for size in positions.values()):
            raise ValueError("balances must be at least 0")
        unknown = sorted(set(positions) - set(self.tokens))
        if unknown:
            raise ValueError(f"unknown tokens {unknown}")
        self.orders.clear()
        self.trades.clear()
        self.collateral = collateral
        self.positions = {t: size for t, size in positions.items() if size}
        self.heartbeat_id = ""
        self.heartbeat_last_ok_ns = 0

    def set_allowance(self, spender: str, amount: int) -> None:
        """Set the account's collateral allowance to ``spender`` (control ``set_allowance``),
        as an on-chain ``approve(spender, amount)`` would: ``GET /balance-allowance`` reports
        it and a BUY whose pUSD is more than the allowance to its exchange (minus what the
        account's live BUYs there hold) is refused "not enough balance / allowance". Fills do
        not spend it (a simplification: an unlimited approval is never spent either), and
        ``reset_account`` leaves it.

        Raises:
            ValueError: ``spender`` is not a 0x-hex address, or ``amount`` is outside
                [0, 2²⁵⁶ − 1].
        """
        if not 0 <= amount <= MAX_UINT256:
            raise ValueError(f"allowance {amount} is outside [0, 2**256 - 1]")
        self.allowances[to_checksum_address(spender)] = amount

    def orders_detail(self) -> list[dict[str, Any]]:
        """Every order of the account, any status, as ``GET /sim/orders`` lists it: the wire
        fields the venue sees plus ``post_only``, prices and sizes in micro-units."""
        return [
            {
                "id": o.order_id,
                "token_id": o.token_id,
                "market_id": o.market_id,
                "side": o.side,
                "price": o.price,
                "original_size": o.original_size,
                "size_matched": o.size_matched,
                "order_type": o.order_type,
                "post_only": o.post_only,
                "expiration_s": o.expiration_s,
                "created_at_s": o.created_at_s,
                "status": o.status,
            }
            for o in self.orders.values()
        ]

    def trades_detail(self) -> list[dict[str, Any]]:
        """Every trade of the account, as ``GET /sim/trades`` lists it: trade id, the order it
        filled (hash), token, our order's side, liquidity (MAKER/TAKER), price and size in
        micro-units, status, and the match time (simulator ns)."""
        return [
            {
                "id": t.trade_id,
                "order_id": t.order.order_id,
                "token_id": t.order.token_id,
                "side": t.order.side,
                "liquidity": t.liquidity,
                "price": t.price,
                "size": t.size,
                "status": t.status,
                "matched_at_ns": t.matched_at_ns,
            }
            for t in self.trades
        ]

    def prime(self, now_ns: int = 0) -> None:
        """Apply snapshots until every token has a book (start-up)."""
        while self.cursor < len(self._snapshots) and any(not t.ts_ms for t in self.tokens.values()):
            self.step(1, now_ns)

    def _apply_snapshot(self, snap: RecordedSnapshot, now_ns: int = 0, match_ns: int = 0) -> None:
        token = self.tokens[snap.token_id]
        old_bids, old_asks = token.bids, token.asks
        token.bids = {p: s for p, s in snap.bids if s > 0}
        token.asks = {p: s for p, s in snap.asks if s > 0}
        token.ts_ms = max(now_ns // 1_000_000, token.ts_ms) if now_ns else snap.ts_ms
        changes = _diff(old_bids, token.bids, "BUY") + _diff(old_asks, token.asks, "SELL")
        if changes:
            self._publish_price_changes(token, changes)
        self._match_resting(token, match_ns or now_ns or snap.ts_ms * 1_000_000)

    def _publish_price_changes(
        self, token: TokenState, changes: list[tuple[str, int, int]]
    ) -> None:
        best_bid = max(token.bids) if token.bids else 0
        best_ask = min(token.asks) if token.asks else 0
        event = {
            "event_type": "price_change",
            "market": token.market_id,
            "timestamp": str(token.ts_ms),
            "price_changes": [
                {
                    "asset_id": token.token_id,
                    "price": from_micros(price),
                    "size": from_micros(size),
                    "side": side,
                    "hash": hashlib.sha1(f"{token.ts_ms}{price}{size}".encode()).hexdigest(),
                    "best_bid": from_micros(best_bid),
                    "best_ask": from_micros(best_ask),
                }
                for side, price, size in changes
            ],
        }
        self.outbox.append(("market", token.token_id, event))

    # ------------------------------------------------------------------ checks
    def check_request_faults(self, now_ns: int, *, trading: bool, path: str = "") -> None:
        """Raise the HTTP error an injected fault imposes on this request (to ``path``), if
        any."""
        f = self.faults
        if f.rate_limit_remaining > 0 and f.rate_limit_path in ("", path):
            f.rate_limit_remaining -= 1
            self.stats["rate_limited"] = self.stats.get("rate_limited", 0) + 1
            raise SimError(
                429, {"error": "Too Many Requests"}, {"Retry-After": f.rate_limit_retry_after_s}
            )
        if trading and now_ns < f.engine_restart_until_ns:
            self.stats["engine_restart_refusals"] = self.stats.get("engine_restart_refusals", 0) + 1
            raise SimError(425, {"error": "Too Early: matching engine restarting"})

    def _check_post_mode(self, now_ns: int, post_only: bool) -> None:
        f = self.faults
        if f.cancel_only:
            raise SimError(503, {"error": "Trading is currently cancel-only"})
        if now_ns < f.post_only_until_ns and not post_only:
            self.stats["post_only_refusals"] = self.stats.get("post_only_refusals", 0) + 1
            raise SimError(
                503,
                {"error": "Exchange is in post-only mode", "code": "post_only_mode"},
            )

    def start_engine_restart(self, now_ns: int, duration_ms: int, post_only_ms: int) -> None:
        """425 on trading endpoints for ``duration_ms``, then post-only for ``post_only_ms``."""
        until = now_ns + duration_ms * 1_000_000
        self.faults.engine_restart_until_ns = until
        self.faults.post_only_until_ns = until + post_only_ms * 1_000_000

    # ------------------------------------------------------------------ orders
    def post_orders(
        self, bodies: list[dict[str, Any]], now_ns: int, *, owner: str
    ) -> list[dict[str, Any]]:
        """Handle ``POST /orders`` (or ``/order`` with one body); per-order answers.

        Raises:
            SimError: batch too large (400) or a venue-state fault (503).
        """
        if len(bodies) > 15:
            raise SimError(400, {"error": "too many orders in batch: at most 15"})
        for body in bodies:
            self._check_post_mode(now_ns, bool(body.get("postOnly")))
        return [self._post_one(body, now_ns, owner) for body in bodies]

    def _post_one(self, body: dict[str, Any], now_ns: int, owner: str) -> dict[str, Any]:
        self.stats["orders_posted"] = self.stats.get("orders_posted", 0) + 1
        try:
            order = self._verified_order(body, owner, now_ns)
        except SimError as exc:
            return _reject(str(exc.body.get("error")))
        if order.order_id in self.orders:
            self.stats["duplicates_rejected"] = self.stats.get("duplicates_rejected", 0) + 1
            return _reject("order already exists (duplicate order hash)")
        if self.faults.closed_only and order.side == "BUY":
            return _reject("account is in closed-only mode")
        token = self.tokens[order.token_id]
        would_cross = (order.side == "BUY" and token.asks and min(token.asks) <= order.price) or (
            order.side == "SELL" and token.bids and max(token.bids) >= order.price
        )
        if order.post_only and would_cross:
            return _reject("invalid post-only order: order crosses book")
        if order.order_type in ("FOK",):
            available = sum(
                s
                for p, s in (token.asks if order.side == "BUY" else token.bids).items()
                if (p <= order.price if order.side == "BUY" else p >= order.price)
            )
            if available < order.original_size:
                return _reject(
                    "order couldn't be fully filled, FOK orders are fully filled or killed"
                )
        problem = self._balance_problem(order)
        if problem:
            return _reject(problem)
        self.orders[order.order_id] = order
        trades = self._take(order, token, now_ns)
        if order.remaining and order.order_type in ("FOK", "FAK"):
            order.status = "CANCELED"
        elif not order.remaining:
            order.status = "MATCHED"
        status = "matched" if trades else "live"
        self._publish_order(order, "PLACEMENT", owner)
        return {
            "success": True,
            "errorMsg": "",
            "orderID": order.order_id,
            "status": status,
            "makingAmount": from_micros(sum(t.size for t in trades)),
            "takingAmount": "",
            "tradeIDs": [t.trade_id for t in trades],
            "transactionsHashes": [],
        }

    def _verified_order(self, body: dict[str, Any], owner: str, now_ns: int) -> SimOrder:
        try:
            wire = body["order"]
            token_id = str(wire["tokenId"])
            side = str(wire["side"]).upper()
            maker_amount = int(wire["makerAmount"])
            taker_amount = int(wire["takerAmount"])
            signature_type = int(wire["signatureType"])
            salt = int(wire["salt"])
            timestamp_ms = int(wire["timestamp"])
            builder = str(wire.get("builder") or "0x" + "00" * 32)
            metadata = str(wire.get("metadata") or "0x" + "00" * 32)
            maker, signer = str(wire["maker"]), str(wire["signer"])
            signature = str(wire["signature"])
            order_type = str(body.get("orderType", "GTC")).upper()
            expiration_s = int(wire.get("expiration") or 0)
        except (KeyError, TypeError, ValueError) as exc:
            raise SimError(400, {"error": f"invalid order payload: {exc}"}) from exc
        if body.get("owner") != owner:
            raise SimError(400, {"error": "order owner does not match the API key"})
        token = self.tokens.get(token_id)
        if token is None:
            raise SimError(400, {"error": f"market not found for token {token_id}"})
        if side not in ("BUY", "SELL") or order_type not in ("GTC", "GTD", "FOK", "FAK"):
            raise SimError(400, {"error": "invalid side or order type"})
        digest = order_digest(
            self._separators[token.neg_risk],
            salt=salt,
            maker=maker,
            signer=signer,
            token_id=int(token_id),
            maker_amount=maker_amount,
            taker_amount=taker_amount,
            side=0 if side == "BUY" else 1,
            signature_type=signature_type,
            timestamp_ms=timestamp_ms,
            metadata=metadata,
            builder=builder,
        )
        try:
            recovered = recover_signer(digest, signature)
        except ValueError as exc:
            raise SimError(400, {"error": f"invalid signature: {exc}"}) from exc
        if recovered.lower() != signer.lower() or signer.lower() != self.account.address.lower():
            raise SimError(400, {"error": "invalid signature: signer mismatch"})
        if self.account.builder_code and builder.lower() != self.account.builder_code.lower():
            raise SimError(400, {"error": "invalid builder code"})
        shares, cash = (
            (taker_amount, maker_amount)
            if side == "BUY"
            else (
                maker_amount,
                taker_amount,
            )
        )
        if shares <= 0:
            raise SimError(400, {"error": "invalid amounts"})
        price, rem = divmod(cash * MICROS, shares)
        if (
            rem
            or price % token.tick_size
            or not token.tick_size <= price <= MICROS - token.tick_size
        ):
            raise SimError(
                400,
                {"error": f"invalid price {from_micros(price)}: breaks minimum tick size rule"},
            )
        if order_type in ("GTC", "GTD") and shares < token.min_order_size:
            raise SimError(
                400,
                {
                    "error": f"Size ({from_micros(shares)}) lower than the minimum: "
                    f"{from_micros(token.min_order_size)}"
                },
            )
        if (
            order_type == "GTD"
            and expiration_s
            and expiration_s * 1_000_000_000 < now_ns + 60 * 10**9
        ):
            raise SimError(400, {"error": "invalid expiration"})
        return SimOrder(
            order_id="0x" + digest.hex(),
            token_id=token_id,
            market_id=token.market_id,
            side=side,
            price=price,
            original_size=shares,
            order_type=order_type,
            post_only=bool(body.get("postOnly")),
            created_at_s=timestamp_ms // 1000,
            expiration_s=expiration_s,
            outcome=token.outcome,
        )

    def _balance_problem(self, order: SimOrder) -> str:
        if order.side == "BUY":
            neg_risk = self.tokens[order.token_id].neg_risk
            live = [o for o in self.orders.values() if o.status == "LIVE" and o.side == "BUY"]
            reserved = sum(o.remaining * o.price // MICROS for o in live)
            reserved_here = sum(
                o.remaining * o.price // MICROS
                for o in live
                if self.tokens[o.token_id].neg_risk == neg_risk
            )
            spender = NEG_RISK_CTF_EXCHANGE_V2 if neg_risk else CTF_EXCHANGE_V2
            cost = order.original_size * order.price // MICROS
            if (
                cost > self.collateral - reserved
                or cost > self.allowances.get(spender, 0) - reserved_here
            ):
                return "not enough balance / allowance"
            return ""
        held = self.positions.get(order.token_id, 0) - sum(
            o.remaining
            for o in self.orders.values()
            if o.status == "LIVE" and o.side == "SELL" and o.token_id == order.token_id
        )
        return "" if order.original_size <= held else "not enough balance / allowance"

    def _take(self, order: SimOrder, token: TokenState, now_ns: int) -> list[SimTrade]:
        book = token.asks if order.side == "BUY" else token.bids
        prices = sorted(book) if order.side == "BUY" else sorted(book, reverse=True)
        trades: list[SimTrade] = []
        for price in prices:
            if order.remaining <= 0:
                break
            if (price > order.price) if order.side == "BUY" else (price < order.price):
                break
            qty = min(book[price], order.remaining)
            book[price] -= qty
            if not book[price]:
                del book[price]
            trades.append(self._fill(order, price, qty, "TAKER", now_ns))
        return trades

    def _match_resting(self, token: TokenState, now_ns: int) -> None:
        for order in list(self.orders.values()):
            if order.status != "LIVE" or order.token_id != token.token_id:
                continue
            book = token.asks if order.side == "BUY" else token.bids
            crossing = sorted(
                p for p in book if (p <= order.price if order.side == "BUY" else p >= order.price)
            )
            for price in crossing:
                if order.remaining <= 0:
                    break
                qty = min(book[price], order.remaining)
                book[price] -= qty
                if not book[price]:
                    del book[price]
                self._fill(order, order.price, qty, "MAKER", now_ns)

    def _fill(self, order: SimOrder, price: int, qty: int, liquidity: str, now_ns: int) -> SimTrade:
        self._trade_seq += 1
        order.size_matched += qty
        if not order.remaining:
            order.status = "MATCHED"
        cash = price * qty // MICROS
        fee = taker_fee_micros(qty, price, self.fee_rate_bps * 100) if liquidity == "TAKER" else 0
        if order.side == "BUY":
            self.collateral -= cash + fee
            self.positions[order.token_id] = self.positions.get(order.token_id, 0) + qty
        else:
            self.collateral += cash - fee
            self.positions[order.token_id] = self.positions.get(order.token_id, 0) - qty
        trade = SimTrade(
            trade_id=f"sim-trade-{self._trade_seq}",
            order=order,
            liquidity=liquidity,
            price=price,
            size=qty,
            match_time_s=now_ns // 1_000_000_000,
            matched_at_ns=now_ns,
            fee_rate_bps=self.fee_rate_bps if liquidity == "TAKER" else 0,
        )
        if self.faults.fail_trades > 0:
            self.faults.fail_trades -= 1
            trade.fail = True
        self.trades.append(trade)
        self._publish_trade(trade)
        self.outbox.append(
            (
                "market",
                order.token_id,
                {
                    "event_type": "last_trade_price",
                    "asset_id": order.token_id,
                    "market": order.market_id,
                    "price": from_micros(price),
                    "size": from_micros(qty),
                    "side": order.side if liquidity == "TAKER" else _other(order.side),
                    "fee_rate_bps": str(trade.fee_rate_bps),
                    "timestamp": str(now_ns // 1_000_000),
                },
            )
        )
        return trade

    def cancel(self, order_ids: list[str], now_ns: int, *, owner: str) -> dict[str, Any]:
        """Cancel the given orders: ``{canceled: [...], not_canceled: {id: reason}}``."""
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        for order_id in order_ids:
            order = self.orders.get(order_id) or self.orders.get(order_id.lower())
            if order is None:
                not_canceled[order_id] = "order not found"
            elif order.status != "LIVE":
                not_canceled[order_id] = "order can't be canceled: already " + order.status.lower()
            else:
                order.status = "CANCELED"
                canceled.append(order.order_id)
                self._publish_order(order, "CANCELLATION", owner)
        del now_ns
        return {"canceled": canceled, "not_canceled": not_canceled}

    def cancel_all(self, now_ns: int, *, owner: str) -> dict[str, Any]:
        """Cancel every live order of the account."""
        live = [o.order_id for o in self.orders.values() if o.status == "LIVE"]
        return self.cancel(live, now_ns, owner=owner)

    def open_orders(self, owner: str) -> list[dict[str, Any]]:
        """Live orders as ``GET /data/orders`` lists them."""
        return [
            o.to_wire(owner, self.account.address)
            for o in self.orders.values()
            if o.status == "LIVE"
        ]

    # ------------------------------------------------------------------ heartbeat
    def heartbeat(self, given: str, now_ns: int) -> dict[str, Any]:
        """``POST /v1/heartbeats``: the first id is ``""``; later ones must be the last
        returned id (else HTTP 400 naming the expected id)."""
        if self.heartbeat_id and given != self.heartbeat_id:
            raise SimError(
                400,
                {"error": f"invalid heartbeat id, expected heartbeat_id {self.heartbeat_id}"},
            )
        self.heartbeat_counter += 1
        self.heartbeat_id = hashlib.sha1(f"hb-{self.heartbeat_counter}".encode()).hexdigest()
        self.heartbeat_last_ok_ns = now_ns
        return {"heartbeat_id": self.heartbeat_id}

    # ------------------------------------------------------------------ time
    def tick(self, now_ns: int) -> None:
        """Advance wall-clock driven state: the dead-man switch, trade settlement, GTD
        expiry."""
        if (
            self.heartbeat_id
            and now_ns - self.heartbeat_last_ok_ns > self.heartbeat_timeout_ms * 1_000_000
        ):
            self.heartbeat_id = ""
            self.dead_man_fired += 1
            self.cancel_all(now_ns, owner=self.account.api_key)
        for trade in self.trades:
            if trade.status in ("CONFIRMED", "FAILED"):
                continue
            if now_ns - trade.matched_at_ns >= self.confirm_ms * 1_000_000:
                trade.status = "FAILED" if trade.fail else "CONFIRMED"
                if trade.fail:
                    self._revert(trade)
                self._publish_trade(trade)
        for order in self.orders.values():
            if (
                order.status == "LIVE"
                and order.order_type == "GTD"
                and order.expiration_s
                and now_ns >= order.expiration_s * 1_000_000_000
            ):
                order.status = "CANCELED"
                self._publish_order(order, "CANCELLATION", self.account.api_key)

    def _revert(self, trade: SimTrade) -> None:
        order = trade.order
        cash = trade.price * trade.size // MICROS
        if order.side == "BUY":
            self.collateral += cash
            self.positions[order.token_id] -= trade.size
        else:
            self.collateral -= cash
            self.positions[order.token_id] += trade.size

    # ------------------------------------------------------------------ publishing
    def _publish_order(self, order: SimOrder, kind: str, owner: str) -> None:
        event = order.to_wire(owner, self.account.address) | {
            "event_type": "order",
            "type": kind,
            "timestamp": str(order.created_at_s),
        }
        self.outbox.append(("user", owner, event))

    def _publish_trade(self, trade: SimTrade) -> None:
        owner = self.account.api_key
        event = trade.to_wire(owner, self.account.address) | {
            "event_type": "trade",
            "type": "TRADE",
        }
        self.outbox.append(("user", owner, event))

    def trades_wire(
        self, after_s: int | None = None, before_s: int | None = None
    ) -> list[dict[str, Any]]:
        """The trades as ``GET /data/trades`` lists them: every one, or only those whose
        ``match_time`` (unix seconds) is after ``after_s`` and before ``before_s``. Both
        bounds are exclusive here: Polymarket does not document whether its are, and the
        stricter reading is the one a client must survive."""
        owner = self.account.api_key
        return [
            t.to_wire(owner, self.account.address)
            for t in self.trades
            if (after_s is None or t.match_time_s > after_s)
            and (before_s is None or t.match_time_s < before_s)
        ]

    def drain(self) -> list[Outgoing]:
        """Take the outgoing websocket events produced so far."""
        out, self.outbox = self.outbox, []
        return out


def _diff(old: dict[int, int], new: dict[int, int], side: str) -> list[tuple[str, int, int]]:
    changes = [(side, p, 0) for p in sorted(old) if p not in new]
    changes += [(side, p, s) for p, s in sorted(new.items()) if old.get(p) != s]
    return changes


def _other(side: str) -> str:
    return "SELL" if side == "BUY" else "BUY"


def _reject(message: str) -> dict[str, Any]:
    return {
        "success": False,
        "errorMsg": message,
        "orderID": "",
        "status": "unmatched",
        "makingAmount": "",
        "takingAmount": "",
        "tradeIDs": [],
        "transactionsHashes": [],
    }
