"""The Polymarket CLOB v2 venue: the desk's :class:`~polytraders.venues.base.Venue` on
Polymarket's official Python client.

Client choice: ``py-clob-client-v2`` (1.2.x) rather than the unified ``polymarket-client``
(0.x, import ``polymarket``). Both were read at source (November 2026). ``polymarket-client``
is the recommended SDK but (1) its ``SecureClient.create`` resolves a deposit wallet, derives
or validates credentials and checks wallet readiness over the network (Gamma, relayer, a
Polygon RPC) before it can sign, and its hosts come from SDK-provided ``Environment`` objects
with no public way to point them at another address, so it could neither run against a
loopback simulator nor guarantee that signing never waits on the network; (2) it defaults to
deposit-wallet (ERC-1271) orders; (3) it is 49 k lines of beta code (perps, RFQ, relayer) for
the ten endpoints we use. ``py-clob-client-v2`` takes the host as an argument, signs with
``OrderBuilder`` offline, exposes every endpoint we need (post, batch post, cancels, open
orders, trades, balance-allowance, heartbeats, closed-only) and is marked deprecated but
maintained. Its costs, handled here: a module-level HTTP client that drops response headers
and logs bodies (replaced in :mod:`.client`), a 30 s trade-polling wait after fills (turned
off), per-order metadata calls and ~1 ms ``encode_typed_data`` signing (replaced by the
cached metadata and :mod:`.signing`, checked signature-for-signature against the library's
builder), and top-level ``examples``/``tests`` packages it (via ``py-order-utils``) installs
into site-packages.

Behaviour (``../shared/POLYMARKET.md``):

* ``submit`` validates against cached metadata (tick grid, price range, minimum size) and
  signs offline; orders queue and go out on the next ``advance``/``poll`` in batches of at
  most 15 (``POST /orders``), separated by post-only flag. The venue keeps **its own copy** of
  every order (the venue's view, changed only by venue answers); the desk's copy changes only
  through the events this venue emits, so nothing is counted twice.
* Order ids are the EIP-712 order hash, derived from the deterministic client order id (salt)
  and creation time, so the same order after a restart has the same id.
* 425 → engine restart: back off 1.5 s doubling to 30 s, new orders halted
  (``SYS_POLY_ENGINE_RESTART``), then post-only for ``post_only_after_restart_ms``; an
  accepted heartbeat ends the restart. 503 post-only mode → only post-only orders pass. 429 →
  the endpoint is blocked for ``Retry-After``. 503 cancel-only → new orders halted
  (``SYS_POLY_CANCEL_ONLY``) until a probe: after a back-off (``mode_probe_first_ms``
  doubling to ``mode_probe_max_ms``) the mode is lifted tentatively and the next queued order
  goes out alone; accepted → the mode is over, refused cancel-only → the mode is back with the
  next back-off (the venue has no cancel-only status endpoint, so probing is its only signal).
  Closed-only (an order refusal saying so, or ``GET /auth/ban-status/closed-only``) → new
  orders halted except reduce-only ones, ``GET /auth/ban-status/closed-only`` asked every
  ``closed_only_poll_ms`` until the venue says it is over. An order a venue-wide condition
  refuses (a batch answered 425, 429 or 503 post-only/cancel-only, a cancel-only, closed-only
  or post-only-mode answer, or an order still queued when the condition appears in the middle
  of a flush) is **withdrawn** — ``OrderCanceled`` with the condition's code — not rejected:
  nothing was wrong with the order, so it is no desk error (no error streak trips the kill
  switch over a venue mode); the condition itself reaches the desk as :meth:`venue_state`.
* The order heartbeat (POLYMARKET.md "Dead-man switch": ``POST /v1/heartbeats`` every ~5 s,
  the server cancels every order 10 s after the last accepted one) goes out every
  ``heartbeat_interval_ms``, also between the batches of a long flush. A refused heartbeat is
  retried promptly by the venue's rules, never a whole interval later: after a 429 when
  ``Retry-After`` ends, after a 425 when the engine-restart back-off ends, after anything else
  in ``heartbeat_retry_ms``. A lapse is declared only when no heartbeat was accepted for
  ``heartbeat_timeout_ms`` (the venue's window has then surely passed: our acceptance time is
  never earlier than the server's); :meth:`heartbeat` returns False and :attr:`halt_reason`
  is set, so the desk halts. On a lapse the venue is asked, never assumed: trades are synced,
  ``DELETE /cancel-all`` is sent (its answer confirms cancels) and ``GET /data/orders``
  lists what is still open; only orders the venue no longer holds are reported cancelled with
  ``SYS_POLY_HEARTBEAT_LAPSED``. If the venue does not answer, that settlement is retried on
  the next ``advance``.
* A post that gets no answer (time-out, 5xx) is neither rejected nor re-sent: its orders stay
  PENDING_NEW, new orders halt (``SYS_POLY_UNAVAILABLE``) and the next ``advance`` asks
  ``GET /data/order/{hash}`` — found → accepted, 404 → rejected.
* Fills come from trade objects (user channel via :meth:`on_user_message`, or
  ``GET /data/trades`` via :meth:`sync_trades`, also right after every cancel-all so fills
  matched just before it are not lost). The periodic sync asks only for trades matched in a
  recent window (``after``, :meth:`~PolymarketVenue.trade_window_after_s`: at least
  ``closed_order_retention_s`` back, back to the last successful sync and to the oldest
  trade not final yet, plus :data:`TRADE_WINDOW_MARGIN_S`), so its cost does not grow with
  the session's fills; the first sync after start-up, the syncs of a cancel-all or a
  heartbeat lapse and the reconciliation snapshot read the whole history. Counted at
  MATCHED, final at CONFIRMED; a FAILED
  trade is reported by :meth:`take_reverted` with ``SYS_POLY_TRADE_FAILED``. A FOK/FAK order
  accepted as matched has its trades synced at once and then closes: FILLED when it filled
  completely, else CANCELED with its filled size (the venue killed the rest), as the venue
  records it.
* Terminal order states (filled, cancelled, rejected, expired) never change; a fill reported
  after an order closed adds to its filled size only. A closed order is forgotten
  ``closed_order_retention_s`` after it closed (its last change), once every trade of it is
  final and it waits for nothing (a queued post, an unanswered one, a FOK/FAK settlement):
  checked on ``advance`` every tenth of the retention (at least every second), so the orders
  and trades a long session tracks stay bounded (rate × retention) and so does the cost of
  every scan of them. A trade naming a forgotten order is no longer ours (ignored).
* Every answer is decoded at the boundary into the typed structs of :mod:`.wire`; a malformed
  one (:class:`~.wire.MalformedAnswerError`, ``SYS_POLY_MALFORMED_ANSWER``) is handled exactly
  like no answer. :meth:`PolymarketVenue.reconciliation_snapshot` gives the venue-neutral
  reconciliation snapshot (:mod:`polytraders.venues.reports`) without changing any state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

import msgspec
from py_clob_client_v2.clob_types import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    OrderPayload,
    PostOrdersV2Args,
    TradeParams,
)
from py_clob_client_v2.order_utils.model.order_data_v2 import SignedOrderV2
from py_clob_client_v2.order_utils.model.side import Side as ClientSide
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2

from polytraders.contracts.view import VenueState
from polytraders.model.allowance import AllowanceCheck, CollateralAllowance, check_allowance
from polytraders.model.events import AnyEvent, OrderAccepted, OrderCanceled, OrderRejected
from polytraders.model.fills import Fill
from polytraders.model.market import OutcomeToken
from polytraders.model.money import MICROS
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.venues.base import VenueEvent
from polytraders.venues.polymarket.client import ClobHttpClient, ClobRequestError
from polytraders.venues.polymarket.config import PolymarketVenueConfig
from polytraders.venues.polymarket.credentials import Credentials
from polytraders.venues.polymarket.errors import (
    REASON_CODES,
    ErrorKind,
    VenueError,
    backoff_ms,
    classify,
    kind_from_message,
)
from polytraders.venues.polymarket.ratelimit import RateLimiter
from polytraders.venues.polymarket.signing import (
    NEG_RISK_ADAPTER,
    SHARE_STEP,
    OrderSigner,
    SignedOrder,
    salt_for,
)
from polytraders.venues.polymarket.trades import FAILED, TradeOutcome, TradeTracker, our_fills
from polytraders.venues.polymarket.wire import (
    BalanceAllowance,
    BookAnswer,
    CancelAnswer,
    ClosedOnlyAnswer,
    HeartbeatAnswer,
    MalformedAnswerError,
    OpenOrder,
    OrderEvent,
    PostOrderAnswer,
    Trade,
    UserEvent,
    decode,
    fetch,
)
from polytraders.venues.reports import (
    FillReport,
    OrderStatusReport,
    PositionReport,
    VenueSnapshot,
)

log = logging.getLogger(__name__)

NOT_RECONCILED = "SYS_POLY_NOT_RECONCILED"
MAX_BATCH = 15
"""Most orders one ``POST /orders`` may carry (POLYMARKET.md)."""
HEARTBEAT_ENDPOINT = "POST /v1/heartbeats"
VENUE_MODES = frozenset(
    {
        ErrorKind.ENGINE_RESTART,
        ErrorKind.POST_ONLY_MODE,
        ErrorKind.CANCEL_ONLY,
        ErrorKind.CLOSED_ONLY,
        ErrorKind.RATE_LIMITED,
    }
)
"""Venue-wide conditions: an order they refuse is withdrawn (``OrderCanceled`` with the
condition's code), not rejected — nothing was wrong with the order, so it is no desk error;
the condition itself reaches the desk as the venue's mode."""
TRADE_WINDOW_MARGIN_S = 60
"""Seconds the periodic trade sync's window (:meth:`PolymarketVenue.trade_window_after_s`)
reaches further back than its rule needs: covers clock skew between our clock and the
venue's ``match_time`` (an NTP-synced host is off by far less than a second), ``match_time``
being whole seconds, and whether the venue's ``after`` is inclusive or exclusive."""
SNAPSHOT_TRIES = 3
"""Reconciliation snapshots taken before giving up when trades keep changing while one is
taken (:meth:`PolymarketVenue.reconciliation_snapshot`)."""
_MS = 1_000_000


@dataclass(slots=True)
class _State:
    engine_restart_until_ns: int = 0
    engine_restart_attempts: int = 0
    post_only_until_ns: int = 0
    cancel_only: bool = False
    cancel_only_attempts: int = 0
    cancel_only_probe_ns: int = 0
    cancel_only_probing: bool = False
    closed_only: bool = False
    closed_only_check_ns: int = 0
    unavailable: bool = False
    heartbeat_id: str = ""
    heartbeat_started: bool = False
    heartbeat_last_ok_ns: int = 0
    heartbeat_next_ns: int = 0
    heartbeat_lapsed: bool = False
    lapse_unsettled: bool = False
    last_trades_poll_ns: int = 0
    trades_synced_ns: int = 0
    """When the last successful trade sync was asked (0: none yet, the next one reads the
    whole history)."""
    reconciled: bool = False
    reasons: list[str] = field(default_factory=list)


class PolymarketVenue:
    """Polymarket CLOB v2 through :class:`ClobHttpClient`; see the module docstring.

    Args:
        client: the CLOB client (L2 credentials set).
        signer: offline order signer for the same key.
        config: settings.
        wall_clock_ns: the real clock for heartbeat liveness in live use (see
            :meth:`_liveness_now`); None in deterministic tests.
    """

    name = "polymarket"

    def __init__(
        self,
        client: ClobHttpClient,
        signer: OrderSigner,
        config: PolymarketVenueConfig,
        wall_clock_ns: Callable[[], int] | None = None,
    ) -> None:
        self.client = client
        self.wall_clock_ns = wall_clock_ns
        self.signer = signer
        self.config = config
        self.limits = RateLimiter(config.rate_limit_ratio)
        self.tokens: dict[str, OutcomeToken] = {}
        self._orders: dict[str, VenueOrder] = {}
        self._by_hash: dict[str, VenueOrder] = {}
        self._signed: dict[str, SignedOrder] = {}
        self._pending: list[str] = []
        self._unknown: list[str] = []
        self._market_unsettled: list[str] = []
        """FOK/FAK orders accepted as matched whose trades are not known yet."""
        self._events: list[VenueEvent] = []
        self._reverted: list[Fill] = []
        self._trades = TradeTracker()
        self._state = _State()
        self._next_prune_ns = 0

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_credentials(
        cls,
        credentials: Credentials,
        config: PolymarketVenueConfig,
        wall_clock_ns: Callable[[], int] | None = None,
    ) -> PolymarketVenue:
        """Build the client and signer from :class:`Credentials` (secrets never logged); the
        credentials' builder code applies when ``config.builder_code`` is empty.

        Raises:
            pydantic.ValidationError: that builder code is not a bytes32 0x-hex value.
        """
        client = ClobHttpClient(
            config.clob_url,
            chain_id=config.chain_id,
            private_key=credentials.private_key,
            creds=ApiCreds(
                api_key=credentials.api_key,
                api_secret=credentials.api_secret,
                api_passphrase=credentials.api_passphrase,
            ),
            signature_type=credentials.signature_type,
            funder=credentials.funder or None,
            timeout_s=config.request_timeout_s,
        )
        signer = OrderSigner(
            credentials.private_key,
            funder=credentials.funder or None,
            signature_type=credentials.signature_type,
            chain_id=config.chain_id,
        )
        builder = config.builder_code or credentials.builder_code
        if builder != config.builder_code:
            config = PolymarketVenueConfig.model_validate(
                {**config.model_dump(), "builder_code": builder}
            )
        return cls(client, signer, config, wall_clock_ns)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    # ------------------------------------------------------------------ metadata
    def set_token(self, token: OutcomeToken) -> None:
        """Cache a token's metadata (tick, minimum size, neg-risk) for offline signing."""
        self.tokens[token.token_id] = token

    def load_token(
        self, token_id: str, market_id: str = "", complement_token_id: str = ""
    ) -> OutcomeToken:
        """Fetch a token's tick size, minimum size and neg-risk flag from ``GET /book`` and
        cache them (start-up only: never called while signing).

        Raises:
            ClobRequestError: the venue did not answer, or its answer lacks a valid
                ``tick_size``/``neg_risk`` (:class:`~.wire.MalformedAnswerError`).
        """
        book = fetch("GET /book", BookAnswer, lambda: self.client.get_order_book(token_id))
        token = OutcomeToken(
            token_id=token_id,
            market_id=market_id or book.market,
            outcome="",
            complement_token_id=complement_token_id,
            tick_size=book.tick_size_micros,
            min_order_size=book.min_order_size_micros,
            neg_risk=book.neg_risk,
        )
        self.set_token(token)
        return token

    # ------------------------------------------------------------------ state
    @property
    def halt_reason(self) -> str:
        """Registered code of the venue condition that blocks new orders, or ``""``
        (closed-only still lets reduce-only orders through)."""
        s = self._state
        if s.heartbeat_lapsed:
            return REASON_CODES[ErrorKind.HEARTBEAT_MISMATCH]
        if s.cancel_only and not s.cancel_only_probing:
            return REASON_CODES[ErrorKind.CANCEL_ONLY]
        if s.closed_only:
            return REASON_CODES[ErrorKind.CLOSED_ONLY]
        if s.engine_restart_until_ns:
            return REASON_CODES[ErrorKind.ENGINE_RESTART]
        if s.unavailable:
            return REASON_CODES[ErrorKind.UNAVAILABLE]
        if self.config.require_reconciliation and not s.reconciled:
            return NOT_RECONCILED
        return ""

    def venue_state(self, now_ns: int) -> VenueState:
        """The venue-wide mode for the desk (``DeskView.venue_state``): RESTARTING during a
        425 back-off, CANCEL_ONLY (until a probe is due: then NORMAL, so the desk's next order
        can be the probe), CLOSED_ONLY, POST_ONLY in a post-only window, else NORMAL.
        (Heartbeat lapse, unavailability and missing reconciliation are not modes but halts:
        see :attr:`halt_reason`.)"""
        s = self._state
        if s.engine_restart_until_ns:
            return VenueState.RESTARTING
        if s.cancel_only and not s.cancel_only_probing:
            return VenueState.CANCEL_ONLY
        if s.closed_only:
            return VenueState.CLOSED_ONLY
        if self.post_only_mode(now_ns):
            return VenueState.POST_ONLY
        return VenueState.NORMAL

    def post_only_mode(self, now_ns: int) -> bool:
        """True while only post-only orders are accepted (503 post_only_mode seen recently, or
        just after an engine restart)."""
        return now_ns < self._state.post_only_until_ns

    # ------------------------------------------------------------------ Venue protocol
    def submit(self, order: VenueOrder, now_ns: int) -> None:
        """Validate, sign offline and queue a copy of ``order`` (sent on the next
        advance/poll); ``order`` itself is never changed.

        Idempotent by ``client_order_id``. Refusals become ``OrderRejected`` events.
        """
        if order.client_order_id in self._orders:
            return
        order = msgspec.structs.replace(order)
        self._orders[order.client_order_id] = order
        code, message = self._refusal(order, now_ns)
        if code:
            self._reject(order, code, message, now_ns)
            return
        token = self.tokens[order.token_id]
        signed = self._sign(order, now_ns)
        order.venue_order_id = signed.order_hash
        order.exchange = "neg_risk" if token.neg_risk else "ctf"
        self._by_hash[signed.order_hash.lower()] = order
        self._signed[order.client_order_id] = signed
        self._pending.append(order.client_order_id)

    def _sign(self, order: VenueOrder, now_ns: int) -> SignedOrder:
        """``order`` signed as :meth:`submit` sends it: salt from the client order id,
        timestamp its creation time (``now_ns`` when it has none), so the order hash is the
        same whenever it is computed (the token's metadata must be cached)."""
        token = self.tokens[order.token_id]
        return self.signer.sign(
            token_id=order.token_id,
            side=order.side,
            price=order.price,
            size=order.size,
            neg_risk=token.neg_risk,
            salt=salt_for(order.client_order_id),
            timestamp_ms=(order.ts_created_ns or now_ns) // _MS,
            builder_code=order.builder_code or self.config.builder_code,
            expiration_s=order.expire_at_ns // 1_000_000_000
            if order.time_in_force is TimeInForce.GTD
            else 0,
        )

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Cancel one order (``DELETE /order``); a still-queued order is dropped locally."""
        order = self._orders.get(client_order_id)
        if order is None or not order.status.is_open:
            return
        if client_order_id in self._pending:
            self._pending.remove(client_order_id)
            self._mark_canceled(order, now_ns, "")
            return
        if not self._take("DELETE /order", now_ns):
            return
        try:
            answer = fetch(
                "DELETE /order",
                CancelAnswer,
                lambda: self.client.cancel_order(OrderPayload(orderID=order.venue_order_id)),
            )
        except ClobRequestError as exc:
            self._note_error(self._classify(exc, "DELETE /order", now_ns), now_ns)
            return
        self._apply_cancel_answer(answer, now_ns)

    def cancel_all(self, now_ns: int) -> None:
        """Cancel every order of the API key at the venue (``DELETE /cancel-all``), drop
        queued ones, then sync trades once (``GET /data/trades``, the whole history, not
        rate-limited locally) so fills matched just before the cancel are reported, not lost.
        Not rate-limited locally: the kill switch must always get through.

        Raises:
            ClobRequestError: the cancel-all got no (usable) answer (the venue's state is
                unknown).
        """
        for cid in list(self._pending):
            self._mark_canceled(self._orders[cid], now_ns, "")
        self._pending.clear()
        try:
            answer = self._cancel_everything()
        except ClobRequestError as exc:
            self._note_error(self._classify(exc, "DELETE /cancel-all", now_ns), now_ns)
            raise
        self._apply_cancel_answer(answer, now_ns)
        self.sync_trades(now_ns, limited=False, whole_history=True)

    def on_market_event(self, event: AnyEvent) -> None:
        """A live venue does not match locally: market events are ignored."""
        del event

    def advance(self, now_ns: int) -> None:
        """Lift expired back-offs, send the heartbeat when due (or detect a lapse), start a
        cancel-only probe or ask the closed-only status when due, flush queued orders and
        poll trades when due."""
        s = self._state
        if s.engine_restart_until_ns and now_ns >= s.engine_restart_until_ns:
            s.engine_restart_until_ns = 0
        if s.cancel_only and not s.cancel_only_probing and now_ns >= s.cancel_only_probe_ns:
            s.cancel_only_probing = True
            log.warning("cancel-only back-off over: the next order probes the venue")
        if s.closed_only and now_ns >= s.closed_only_check_ns:
            self._check_closed_only(now_ns)
        self._heartbeat_if_due(now_ns)
        if s.lapse_unsettled:
            self._settle_lapse(now_ns)
        if self._unknown:
            self._resolve_unknown(now_ns)
        self.flush(now_ns)
        if (
            self.config.trades_poll_ms > 0
            and now_ns - s.last_trades_poll_ns >= self.config.trades_poll_ms * _MS
            and any(o.status.is_open and o.venue_order_id for o in self._orders.values())
        ):
            s.last_trades_poll_ns = now_ns
            self.sync_trades(now_ns)
        if now_ns >= self._next_prune_ns:
            self._forget_closed(now_ns)

    def poll(self) -> list[VenueEvent]:
        """Venue events since the last poll, in order."""
        events, self._events = self._events, []
        return events

    def open_orders(self) -> Sequence[VenueOrder]:
        """Copies of our orders believed open (the venue's view, kept by acks, cancels and
        fills)."""
        return [msgspec.structs.replace(o) for o in self._orders.values() if o.status.is_open]

    def balances(self) -> dict[str, int]:
        """``{"pUSD": free collateral}`` in micro-units from ``GET /balance-allowance``.

        Raises:
            ClobRequestError: the venue did not answer (or not usably).
        """
        return {"pUSD": self.collateral_allowance().balance_micros}

    def collateral_allowance(self) -> CollateralAllowance:
        """The account's collateral balance and its allowances by spender, micro-units, from
        ``GET /balance-allowance?asset_type=COLLATERAL`` (exact integers,
        :class:`~.wire.BalanceAllowance`).

        Raises:
            ClobRequestError: the venue did not answer (or not usably).
        """
        answer = fetch(
            "GET /balance-allowance",
            BalanceAllowance,
            lambda: self.client.get_balance_allowance(
                BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)
            ),
        )
        return CollateralAllowance(
            balance_micros=answer.balance_micros, allowances_micros=answer.allowances_micros
        )

    def allowance_check(self, *, neg_risk: bool) -> AllowanceCheck:
        """Check the funder's collateral allowances
        (:func:`~polytraders.model.allowance.check_allowance`) to the exchange ordinary orders
        are signed for and, with ``neg_risk`` (the desk trades a neg-risk market), to the
        neg-risk exchange and the Neg Risk Adapter too.

        Raises:
            ClobRequestError: the venue did not answer (or not usably).
        """
        exchanges = self.signer.exchanges
        spenders = [exchanges["ctf"]]
        if neg_risk:
            spenders += [exchanges["neg_risk"], NEG_RISK_ADAPTER]
        return check_allowance(
            self.collateral_allowance(),
            spenders,
            account=self.signer.funder,
            signer=self.signer.address,
        )

    def heartbeat(self, now_ns: int) -> bool:
        """Send ``POST /v1/heartbeats`` with the last id; True when accepted and no lapse is
        outstanding.

        First checks for a lapse (see the module docstring): no accepted heartbeat for
        ``heartbeat_timeout_ms`` means the venue's dead-man window has passed;
        :attr:`halt_reason` then stays set until :meth:`acknowledge_heartbeat_lapse`. A 400
        naming the expected id is retried at once with it. A refused heartbeat schedules the
        next try by the venue's rules (429: ``Retry-After``; 425: the engine-restart back-off;
        else ``heartbeat_retry_ms``); an accepted one schedules the next in
        ``heartbeat_interval_ms``.
        """
        s = self._state
        now_ns = self._liveness_now(now_ns)
        self._check_heartbeat_lapse(now_ns)
        for _attempt in range(2):
            try:
                answer = fetch(
                    HEARTBEAT_ENDPOINT,
                    HeartbeatAnswer,
                    lambda: self.client.post_heartbeat(s.heartbeat_id),
                )
            except ClobRequestError as exc:
                expected = _expected_heartbeat_id(exc)
                if exc.status == 400 and expected is not None and expected != s.heartbeat_id:
                    s.heartbeat_id = expected
                    continue
                log.warning("heartbeat refused: HTTP %s %s", exc.status, exc.message)
                error = self._classify(exc, HEARTBEAT_ENDPOINT, now_ns)
                if error.kind is ErrorKind.ENGINE_RESTART or error.kind is ErrorKind.CANCEL_ONLY:
                    self._note_error(error, now_ns)  # the venue's mode, learnt without orders
                s.heartbeat_next_ns = now_ns + self._heartbeat_retry_ns(error)
                self._check_heartbeat_lapse(now_ns)
                return False
            s.heartbeat_id = answer.heartbeat_id
            s.unavailable = False
            if s.engine_restart_until_ns:  # the engine answers again: the restart is over
                s.engine_restart_until_ns = 0
                s.engine_restart_attempts = 0
            s.heartbeat_started = True
            s.heartbeat_last_ok_ns = now_ns
            s.heartbeat_next_ns = now_ns + self.config.heartbeat_interval_ms * _MS
            return not s.heartbeat_lapsed
        s.heartbeat_next_ns = now_ns + self.config.heartbeat_retry_ms * _MS
        return False

    def acknowledge_heartbeat_lapse(self) -> None:
        """Operator reset after a lapse: new orders may flow again once heartbeats succeed.

        The lapse is sticky until this call, so a desk that reconnects never resumes
        quoting silently after the venue cancelled everything."""
        self._state.heartbeat_lapsed = False

    # ------------------------------------------------------------------ extras
    def flush(self, now_ns: int) -> None:
        """Post queued orders: batches of ≤ 15 with one post-only flag each. The heartbeat
        goes out between batches when due (a slow venue must not starve it); when a venue
        condition blocks new orders (learnt from a batch's answer), the orders still queued
        are refused locally with its code. During a cancel-only probe the first queued order
        goes out alone."""
        if not self._pending:
            return
        ids, self._pending = self._pending, []
        if self._state.cancel_only_probing:
            probe, ids = ids[:1], ids[1:]
            self._post_batch(probe, self._orders[probe[0]].post_only, now_ns)
        groups: dict[bool, list[str]] = {}
        for cid in ids:
            groups.setdefault(self._orders[cid].post_only, []).append(cid)
        batches = [
            (post_only, cids[start : start + MAX_BATCH])
            for post_only, cids in groups.items()
            for start in range(0, len(cids), MAX_BATCH)
        ]
        for index, (post_only, batch) in enumerate(batches):
            if index:
                self._heartbeat_if_due(now_ns)
            sendable: list[str] = []
            for cid in batch:
                order = self._orders[cid]
                halt = self._blocked(order)
                if halt:
                    self._mark_canceled(order, now_ns, halt)  # withdrawn, never sent
                else:
                    sendable.append(cid)
            if sendable:
                self._post_batch(sendable, post_only, now_ns)

    def on_user_message(self, message: object, ts_recv_ns: int) -> None:
        """Apply one user-channel event (``trade`` or ``order``) as parsed JSON, decoded here
        (:class:`~.wire.Trade`, :class:`~.wire.OrderEvent`); other kinds are ignored.

        Raises:
            ValueError: a malformed event (the caller counts and skips it); nothing changes.
        """
        kind = decode(message, UserEvent, "user-channel event").kind
        if kind == "trade":
            self._apply_trade(decode(message, Trade, "user-channel trade"), ts_recv_ns)
        elif kind == "order":
            event = decode(message, OrderEvent, "user-channel order")
            order = self._by_hash.get(event.id.lower())
            if order is None or not order.status.is_open:
                return
            if event.type.upper() == "CANCELLATION":
                self._mark_canceled(order, ts_recv_ns, "")

    def sync_trades(
        self, now_ns: int, *, limited: bool = True, whole_history: bool = False
    ) -> bool:
        """Fetch ``GET /data/trades`` and apply every trade (idempotent); True when the venue
        answered. Only trades matched in the recent window of :meth:`trade_window_after_s`
        are asked (``after``), unless ``whole_history`` or no sync has succeeded yet (the
        first one after start-up or a restart reads every page). ``limited`` False skips
        the local rate limit (a final sync after a cancel-all)."""
        if limited and not self._take("GET /data/trades", now_ns):
            return False
        after_s = None if whole_history else self.trade_window_after_s(now_ns)
        try:
            trades = self._list_trades(after_s)
        except ClobRequestError as exc:
            self._note_error(self._classify(exc, "GET /data/trades", now_ns), now_ns)
            return False
        self._state.trades_synced_ns = now_ns
        for trade in trades:
            self._apply_trade(trade, now_ns)
        self._settle_market_orders(now_ns)
        return True

    def trade_window_after_s(self, now_ns: int) -> int | None:
        """The ``after`` (unix seconds, on the trades' ``match_time``) of a windowed trade
        sync at ``now_ns``, or None for the whole history (no sync succeeded yet, or the
        window reaches the epoch). The window starts at the earliest of: ``now_ns`` minus
        ``closed_order_retention_s`` (a trade of any order the venue still tracks, even one
        first listed late), the start of the last successful sync (no trade matched since is
        skipped, however long the venue did not answer) and the match time of the oldest
        tracked trade not final yet (its CONFIRMED or FAILED, which reverts a counted fill,
        is always seen, however long settlement takes); rounded down to whole seconds, minus
        :data:`TRADE_WINDOW_MARGIN_S`."""
        synced_ns = self._state.trades_synced_ns
        if not synced_ns:
            return None
        retention_ns = self.config.closed_order_retention_s * 1_000_000_000
        unsettled_ns = self._trades.oldest_unsettled_ns()
        since_ns = min(
            now_ns - retention_ns, synced_ns, now_ns if unsettled_ns is None else unsettled_ns
        )
        after_s = since_ns // 1_000_000_000 - TRADE_WINDOW_MARGIN_S
        return after_s if after_s > 0 else None

    def take_reverted(self) -> list[Fill]:
        """Fills counted at MATCHED whose trade then FAILED (``SYS_POLY_TRADE_FAILED``): the
        desk must back them out. Cleared by the call."""
        out, self._reverted = self._reverted, []
        return out

    def fetch_open_orders(self) -> list[OpenOrder]:
        """The venue's open orders of this API key (``GET /data/orders``, every page).

        Raises:
            ClobRequestError: the venue did not answer (or not usably).
        """
        return fetch("GET /data/orders", list[OpenOrder], self.client.get_open_orders)

    def cancel_venue_orders(self, order_hashes: Sequence[str]) -> tuple[str, ...]:
        """Cancel orders by venue id (``DELETE /orders``), whether tracked or not (orphans);
        returns the ids the venue says it cancelled.

        Raises:
            ClobRequestError: the venue did not answer (or not usably).
        """
        answer = fetch(
            "DELETE /orders", CancelAnswer, lambda: self.client.cancel_orders(list(order_hashes))
        )
        return answer.canceled_ids

    def reconciliation_snapshot(self, now_ns: int) -> VenueSnapshot:
        """What Polymarket holds for us now (:class:`~polytraders.venues.reports.VenueSnapshot`):
        ``GET /data/trades`` (the whole history, like every listing here),
        ``GET /data/orders``, ``GET /balance-allowance`` for every token with cached metadata,
        then ``GET /data/trades`` again. When the counted trades (ids,
        and which ones FAILED) changed in between, a match happened while the snapshot was
        taken and the listings may disagree: everything is asked again, at most
        :data:`SNAPSHOT_TRIES` times.

        Our orders are recognised by order hash among every order this venue tracks when the
        answers are in (so an order that can appear in them is known); an open venue order
        with another hash is reported with ``client_order_id=""``. Fills are our parts of the
        trades not FAILED (:func:`~.trades.our_fills`, the fill ids the venue books them
        under). Not rate-limited locally (like the final trade sync of a cancel-all).

        Read-only, so it may run off the desk loop: it changes none of the venue's state, and
        reads of that state are copies.

        Raises:
            ClobRequestError: the venue did not answer, answered malformed
                (:class:`~.wire.MalformedAnswerError`), or trades kept changing.
        """
        tokens = sorted(self.tokens)
        for _try in range(SNAPSHOT_TRIES):
            # only the first listing's counted ids are kept: two whole histories decoded at
            # once would double the snapshot's transient memory, which grows with the session
            counted_before = _counted(self._list_trades())
            rows = self.fetch_open_orders()
            held = [PositionReport(token_id=t, size=self.position(t)) for t in tokens]
            trades = self._list_trades()
            if _counted(trades) == counted_before:
                break
        else:
            raise ClobRequestError(
                0, f"trades kept changing during {SNAPSHOT_TRIES} reconciliation snapshots"
            )
        by_hash = dict(self._by_hash)
        orders = []
        for row in rows:
            ours = by_hash.get(row.id.lower())
            filled = row.size_matched_micros
            orders.append(
                OrderStatusReport(
                    client_order_id=ours.client_order_id if ours is not None else "",
                    venue_order_id=row.id,
                    token_id=row.asset_id,
                    side=row.order_side,
                    price=row.price_micros,
                    size=row.original_size_micros,
                    filled_size=filled,
                    status=OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.ACCEPTED,
                    ts_ns=now_ns,
                )
            )
        fills = [
            FillReport.of(fill)
            for trade in trades
            if trade.status.upper() != FAILED
            for fill in our_fills(trade, by_hash, now_ns)
        ]
        return VenueSnapshot(
            venue=self.name,
            ts_ns=now_ns,
            orders=tuple(orders),
            fills=tuple(fills),
            positions=tuple(held),
        )

    def recover_fills(self, fills: Sequence[Fill]) -> None:
        """Take in fills of tracked orders that the store missed, found by the start-up
        reconciliation: their ids become known (the trade sync never reports them again, and
        reports one REVERTED if its trade fails later) and each adds to its order's filled
        size in the venue's view. Nothing is emitted: the caller books them."""
        self._trades.mark_known(f.fill_id for f in fills)
        for fill in fills:
            order = self._orders.get(fill.client_order_id)
            if order is not None:
                order.filled_size += fill.size

    def refresh_closed_only(self) -> bool:
        """Ask ``GET /auth/ban-status/closed-only``; True (and new orders halted) when the
        account may only close positions.

        Raises:
            ClobRequestError: the venue did not answer (or not usably).
        """
        answer = fetch(
            "GET /auth/ban-status/closed-only", ClosedOnlyAnswer, self.client.get_closed_only_mode
        )
        self._state.closed_only = answer.closed_only
        return self._state.closed_only

    def restore(self, orders: Sequence[VenueOrder], known_fill_ids: Iterable[str] = ()) -> None:
        """Register copies of orders and fills known from the store (after a restart) without
        sending anything: the orders' client ids become used (a re-submit is a no-op), trades
        map to them by ``venue_order_id`` (the order hash), and known fills are not reported
        again.

        An order recorded before the venue's answer reached the desk (a process killed with
        the order in flight: the desk's copy, as checkpointed, has no venue id yet) gets the
        hash it was signed with, recomputed offline (:meth:`_sign`: salt from the client id,
        timestamp its creation time), so an order that did reach the venue is found there by
        hash, not taken for an orphan. This needs its creation time and its token's
        metadata; without them it stays without a venue id."""
        self._trades.mark_known(known_fill_ids)
        for given in orders:
            if given.client_order_id in self._orders:
                continue
            order = msgspec.structs.replace(given)
            if not order.venue_order_id and order.ts_created_ns and order.token_id in self.tokens:
                order.venue_order_id = self._sign(order, order.ts_created_ns).order_hash
            self._orders[order.client_order_id] = order
            if order.venue_order_id:
                self._by_hash[order.venue_order_id.lower()] = order

    def adopt(self, order: VenueOrder) -> None:
        """Track a venue order the store did not know (orphan adopted by reconciliation)."""
        self.restore([order])

    def reconcile_order(
        self, client_order_id: str, *, status: OrderStatus, filled_size: int, now_ns: int
    ) -> VenueOrder:
        """Set a tracked order's status and filled size to the venue's truth (start-up
        reconciliation only: nothing is emitted) and return a copy.

        Raises:
            KeyError: the order is not tracked.
        """
        order = self._orders[client_order_id]
        order.status = status
        order.filled_size = filled_size
        order.ts_updated_ns = now_ns
        return msgspec.structs.replace(order)

    def mark_reconciled(self) -> None:
        """Start-up reconciliation finished: new orders may flow (``SYS_POLY_NOT_RECONCILED``
        lifts)."""
        self._state.reconciled = True

    @property
    def reconciled(self) -> bool:
        """True once :meth:`mark_reconciled` was called."""
        return self._state.reconciled

    @property
    def last_heartbeat_ok_ns(self) -> int:
        """Time of the last accepted heartbeat (0 before the first)."""
        return self._state.heartbeat_last_ok_ns

    @property
    def heartbeat_interval_ns(self) -> int:
        """How often the heartbeat is due (``config.heartbeat_interval_ms``, in ns)."""
        return self.config.heartbeat_interval_ms * _MS

    @property
    def request_timeout_s(self) -> float:
        """Longest wait of one request (``config.request_timeout_s``)."""
        return self.config.request_timeout_s

    def position(self, token_id: str) -> int:
        """Venue truth for one token holding (micro-shares), from ``GET /balance-allowance``.

        Raises:
            ClobRequestError: the venue did not answer (or not usably).
        """
        answer = fetch(
            "GET /balance-allowance",
            BalanceAllowance,
            lambda: self.client.get_balance_allowance(
                BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token_id)
            ),
        )
        return answer.balance_micros

    def orders(self) -> list[VenueOrder]:
        """Copies of every order this venue instance tracks (any status), in submission
        order: the venue's view."""
        return [msgspec.structs.replace(o) for o in self._orders.values()]

    def order(self, client_order_id: str) -> VenueOrder | None:
        """A copy of our tracked order by client id (the venue's view)."""
        order = self._orders.get(client_order_id)
        return msgspec.structs.replace(order) if order is not None else None

    # ------------------------------------------------------------------ internals
    def _refusal(self, order: VenueOrder, now_ns: int) -> tuple[str, str]:
        halt = self._blocked(order)
        if halt:
            return halt, "venue condition blocks new orders"
        token = self.tokens.get(order.token_id)
        if token is None:
            return "SYS_UNKNOWN_TOKEN", f"no metadata cached for token {order.token_id}"
        if self.post_only_mode(now_ns) and not order.post_only:
            return REASON_CODES[ErrorKind.POST_ONLY_MODE], "venue accepts only post-only orders"
        if order.notional:
            return (
                REASON_CODES[ErrorKind.INVALID_ORDER],
                "notional-sized market orders are not supported: size FOK/FAK orders in shares",
            )
        if order.post_only and not order.time_in_force.rests:
            return REASON_CODES[ErrorKind.INVALID_ORDER], "post-only needs GTC or GTD"
        tick = token.tick_size
        if order.price % tick:
            return REASON_CODES[ErrorKind.INVALID_TICK], f"price {order.price} off the {tick} grid"
        if not tick <= order.price <= MICROS - tick:
            return (
                REASON_CODES[ErrorKind.PRICE_OUT_OF_RANGE],
                f"price {order.price} outside [tick, 1 - tick]",
            )
        if order.size <= 0 or order.size % SHARE_STEP:
            return REASON_CODES[ErrorKind.INVALID_ORDER], "size must be whole 0.01 shares"
        if order.time_in_force.rests and order.size < token.min_order_size:
            return (
                REASON_CODES[ErrorKind.SIZE_BELOW_MIN],
                f"size {order.size} below minimum {token.min_order_size}",
            )
        return "", ""

    def _blocked(self, order: VenueOrder) -> str:
        """The code of the venue condition that blocks ``order`` now, or ``""`` (closed-only
        lets reduce-only orders through)."""
        halt = self.halt_reason
        if halt == REASON_CODES[ErrorKind.CLOSED_ONLY] and order.reduce_only:
            return ""
        return halt

    def _forget_closed(self, now_ns: int) -> None:
        """Forget the orders closed at least ``closed_order_retention_s`` ago whose trades are
        final and which nothing waits for (module docstring), with their trades."""
        retention_ns = self.config.closed_order_retention_s * 1_000_000_000
        self._next_prune_ns = now_ns + max(retention_ns // 10, 1_000 * _MS)
        waiting = {*self._pending, *self._unknown, *self._market_unsettled}
        unsettled = self._trades.unsettled_orders()
        gone = {
            cid
            for cid, order in self._orders.items()
            if not order.status.is_open
            and now_ns - order.ts_updated_ns >= retention_ns
            and cid not in waiting
            and order.venue_order_id.lower() not in unsettled
        }
        if not gone:
            return
        for cid in gone:
            del self._orders[cid]
            self._signed.pop(cid, None)
        hashes = {h for h, o in self._by_hash.items() if o.client_order_id in gone}
        self._by_hash = {h: o for h, o in self._by_hash.items() if h not in hashes}
        self._trades.forget(hashes)

    def _list_trades(self, after_s: int | None = None) -> list[Trade]:
        """The trades of the API key (``GET /data/trades``, every page), decoded: every one,
        or with ``after_s`` those the venue lists as matched after that unix second.

        Raises:
            ClobRequestError: the venue did not answer (or not usably).
        """
        params = TradeParams(after=after_s)
        return fetch("GET /data/trades", list[Trade], lambda: self.client.get_trades(params))

    def _cancel_everything(self) -> CancelAnswer:
        """``DELETE /cancel-all``, decoded.

        Raises:
            ClobRequestError: the venue did not answer (or not usably).
        """
        return fetch("DELETE /cancel-all", CancelAnswer, self.client.cancel_all)

    def _take(self, endpoint: str, now_ns: int) -> bool:
        if self.limits.try_take(endpoint, now_ns):
            return True
        log.warning("local rate limit on %s", endpoint)
        return False

    def _post_batch(self, cids: list[str], post_only: bool, now_ns: int) -> None:
        orders = [self._orders[c] for c in cids]
        endpoint = "POST /orders"
        if not self._take(endpoint, now_ns):
            for order in orders:
                self._reject(order, "SYS_RATE_LIMITED", "local token bucket empty", now_ns)
            return
        args = [
            PostOrdersV2Args(
                order=_client_order(self._signed[o.client_order_id]),
                orderType=o.time_in_force.value,
            )
            for o in orders
        ]
        try:
            answers = fetch(
                endpoint,
                list[PostOrderAnswer],
                lambda: self.client.post_orders(args, post_only=post_only, defer_exec=False),
            )
            if len(answers) != len(orders):
                raise MalformedAnswerError(
                    endpoint, f"{len(answers)} answers to {len(orders)} orders"
                )
        except ClobRequestError as exc:
            error = self._classify(exc, endpoint, now_ns)
            self._note_error(error, now_ns)
            if error.kind is ErrorKind.UNAVAILABLE:
                # no (usable) answer: time-out, 5xx, malformed; the orders may be live: find
                # out before anything
                self._unknown.extend(o.client_order_id for o in orders)
                return
            for order in orders:
                if error.kind in VENUE_MODES:  # the venue's mode refused the whole batch
                    self._mark_canceled(order, now_ns, error.reason_code)
                else:
                    self._reject(order, error.reason_code, error.message, now_ns)
            return
        self._recover(now_ns)
        for order, answer in zip(orders, answers, strict=True):
            self._apply_post_answer(order, answer, now_ns)
            if order.status.is_open and not order.time_in_force.rests:
                self._market_unsettled.append(order.client_order_id)
        if self._market_unsettled:
            self.sync_trades(now_ns, limited=False)

    def _settle_market_orders(self, now_ns: int) -> None:
        """FOK/FAK orders never rest (POLYMARKET.md "Orders"): once the trades of a matched one
        are known, what did not fill was killed — it closes CANCELED (FILLED when it filled
        completely, set by its trades). Runs after every successful trade sync."""
        for cid in self._market_unsettled:
            order = self._orders[cid]
            if order.status.is_open and order.filled_size < order.size:
                self._mark_canceled(order, now_ns, "")
        self._market_unsettled = []

    def _resolve_unknown(self, now_ns: int) -> None:
        """Ask ``GET /data/order/{hash}`` for orders whose post got no (usable) answer: found
        → accepted (and cancelled or filled as the venue says); 404 → rejected with
        ``SYS_POLY_UNAVAILABLE``; no usable answer again → still unknown."""
        still: list[str] = []
        for cid in self._unknown:
            order = self._orders[cid]
            order_hash = order.venue_order_id
            try:
                row = fetch(
                    "GET /data/order", OpenOrder, partial(self.client.get_order, order_hash)
                )
                self._state.unavailable = False  # the venue answers again
            except ClobRequestError as exc:
                if exc.status == 404:
                    self._state.unavailable = False
                    self._reject(order, REASON_CODES[ErrorKind.UNAVAILABLE], "not received", now_ns)
                else:
                    still.append(cid)
                continue
            status = row.status.upper()
            self._apply_post_answer(
                order,
                PostOrderAnswer(success=True, order_id=order.venue_order_id, status=status.lower()),
                now_ns,
            )
            if status in ("CANCELED", "CANCELLED") and order.status.is_open:
                self._mark_canceled(order, now_ns, "")
        self._unknown = still

    def _apply_post_answer(self, order: VenueOrder, answer: PostOrderAnswer, now_ns: int) -> None:
        if order.status is not OrderStatus.PENDING_NEW:
            return  # already settled (e.g. reported cancelled after a lapse): terminal
        if not answer.success or answer.status.lower() == "unmatched":
            message = answer.error_msg or "rejected"
            kind = kind_from_message(message)
            if kind in VENUE_MODES:  # the account's or venue's mode, not this order
                self._note_error(VenueError(kind, REASON_CODES[kind], 0, message), now_ns)
                self._mark_canceled(order, now_ns, REASON_CODES[kind])
                return
            self._reject(order, REASON_CODES[kind], message, now_ns)
            return
        venue_id = answer.order_id or order.venue_order_id
        if venue_id.lower() != order.venue_order_id.lower():
            self._by_hash[venue_id.lower()] = order
            order.venue_order_id = venue_id
        order.status = OrderStatus.ACCEPTED
        order.ts_updated_ns = now_ns
        self._events.append(
            OrderAccepted(
                ts_event_ns=now_ns,
                ts_recv_ns=now_ns,
                client_order_id=order.client_order_id,
                venue_order_id=venue_id,
            )
        )
        if (
            order.time_in_force in (TimeInForce.FOK, TimeInForce.FAK)
            and answer.status.lower() != "matched"
        ):
            self._mark_canceled(order, now_ns, "")

    def _apply_trade(self, trade: Trade, ts_recv_ns: int) -> None:
        """Book trade updates on the venue's copy of each order: a new fill adds to the filled
        size (and, while the order is open, makes it PARTIALLY_FILLED or FILLED); a failed
        trade takes its fill back out of the filled size. Terminal statuses never change."""
        for update in self._trades.apply(trade, self._by_hash, ts_recv_ns):
            order = self._orders.get(update.fill.client_order_id)
            if update.outcome is TradeOutcome.NEW:
                self._events.append(update.fill)
                if order is not None:
                    order.filled_size += update.fill.size
                    if order.status.is_open:
                        order.status = (
                            OrderStatus.FILLED
                            if order.filled_size >= order.size
                            else OrderStatus.PARTIALLY_FILLED
                        )
                    order.ts_updated_ns = ts_recv_ns
            elif update.outcome is TradeOutcome.REVERTED:
                self._reverted.append(update.fill)
                if order is not None:
                    order.filled_size = max(order.filled_size - update.fill.size, 0)

    def _apply_cancel_answer(self, answer: CancelAnswer, now_ns: int) -> None:
        for venue_id in answer.canceled_ids:
            order = self._by_hash.get(venue_id.lower())
            if order is not None and order.status.is_open:
                self._mark_canceled(order, now_ns, "")

    def _mark_canceled(self, order: VenueOrder, now_ns: int, reason_code: str) -> None:
        if not order.status.is_open:
            return
        order.status = OrderStatus.CANCELED
        order.ts_updated_ns = now_ns
        self._events.append(
            OrderCanceled(
                ts_event_ns=now_ns,
                ts_recv_ns=now_ns,
                client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id,
                reason_code=reason_code,
            )
        )

    def _reject(self, order: VenueOrder, code: str, message: str, now_ns: int) -> None:
        if not order.status.is_open:
            return
        order.status = OrderStatus.REJECTED
        order.ts_updated_ns = now_ns
        self._events.append(
            OrderRejected(
                ts_event_ns=now_ns,
                ts_recv_ns=now_ns,
                client_order_id=order.client_order_id,
                reason_code=code,
                message=message,
            )
        )

    def _classify(self, exc: ClobRequestError, endpoint: str, now_ns: int) -> VenueError:
        if isinstance(exc, MalformedAnswerError):  # as good as no answer, under its own code
            return VenueError(ErrorKind.UNAVAILABLE, exc.reason_code, exc.status, exc.message)
        error = classify(exc.status, exc.message, exc.retry_after)
        if error.kind is ErrorKind.RATE_LIMITED:
            self.limits.block(endpoint, now_ns + error.retry_after_ms * _MS)
        return error

    def _note_error(self, error: VenueError, now_ns: int) -> None:
        s = self._state
        log.warning("venue error %s (HTTP %s): %s", error.reason_code, error.status, error.message)
        if error.kind is ErrorKind.ENGINE_RESTART:
            s.engine_restart_attempts += 1
            s.engine_restart_until_ns = now_ns + backoff_ms(s.engine_restart_attempts) * _MS
            s.post_only_until_ns = max(
                s.post_only_until_ns,
                s.engine_restart_until_ns + self.config.post_only_after_restart_ms * _MS,
            )
        elif error.kind is ErrorKind.POST_ONLY_MODE:
            s.post_only_until_ns = now_ns + self.config.post_only_window_ms * _MS
        elif error.kind is ErrorKind.CANCEL_ONLY:
            s.cancel_only = True
            s.cancel_only_probing = False
            s.cancel_only_attempts += 1
            s.cancel_only_probe_ns = (
                now_ns
                + backoff_ms(
                    s.cancel_only_attempts,
                    first_ms=self.config.mode_probe_first_ms,
                    cap_ms=self.config.mode_probe_max_ms,
                )
                * _MS
            )
        elif error.kind is ErrorKind.CLOSED_ONLY:
            self._note_closed_only(now_ns)
        elif error.kind is ErrorKind.UNAVAILABLE:
            s.unavailable = True

    def _note_closed_only(self, now_ns: int) -> None:
        """The venue refused an order as closed-only: record the mode and ask its status again
        in ``closed_only_poll_ms``."""
        s = self._state
        if not s.closed_only:
            log.warning("account is closed-only: new orders stop until the venue lifts it")
        s.closed_only = True
        s.closed_only_check_ns = now_ns + self.config.closed_only_poll_ms * _MS

    def _check_closed_only(self, now_ns: int) -> None:
        """Ask the venue whether closed-only is still on (its own signal); no answer → ask
        again after ``closed_only_poll_ms``."""
        s = self._state
        try:
            closed = self.refresh_closed_only()
        except ClobRequestError as exc:
            error = self._classify(exc, "GET /auth/ban-status/closed-only", now_ns)
            self._note_error(error, now_ns)
            closed = True
        if not closed:
            log.warning("closed-only lifted by the venue: new orders may flow")
        s.closed_only_check_ns = now_ns + self.config.closed_only_poll_ms * _MS

    def _recover(self, now_ns: int) -> None:
        """A trading request succeeded: transient conditions are over."""
        s = self._state
        s.engine_restart_attempts = 0
        if s.cancel_only:
            log.warning("cancel-only over: the venue accepted an order")
        s.cancel_only = False
        s.cancel_only_probing = False
        s.cancel_only_attempts = 0
        s.unavailable = False
        del now_ns

    def _liveness_now(self, now_ns: int) -> int:
        """Time used for heartbeat and lapse: the dead-man switch runs on the venue's real
        clock, so a live desk whose timers catch up after a stall must not judge liveness by
        its lagging event time (``wall_clock_ns`` is set for live use; None keeps the given
        time, as in deterministic tests)."""
        return max(now_ns, self.wall_clock_ns()) if self.wall_clock_ns is not None else now_ns

    def _heartbeat_if_due(self, now_ns: int) -> None:
        """Send the heartbeat when its time has come (else only check for a lapse)."""
        if self._liveness_now(now_ns) >= self._state.heartbeat_next_ns:
            self.heartbeat(now_ns)
        else:
            self._check_heartbeat_lapse(now_ns)

    def _heartbeat_retry_ns(self, error: VenueError) -> int:
        """Delay before retrying a refused heartbeat (POLYMARKET.md): 429 → ``Retry-After``;
        425 → the engine-restart back-off (1.5 s doubling, ≤ 30 s); else
        ``heartbeat_retry_ms``. Never longer than the regular interval."""
        if error.kind is ErrorKind.RATE_LIMITED:
            delay_ms = error.retry_after_ms
        elif error.kind is ErrorKind.ENGINE_RESTART:
            delay_ms = backoff_ms(max(self._state.engine_restart_attempts, 1))
        else:
            delay_ms = self.config.heartbeat_retry_ms
        return min(delay_ms, self.config.heartbeat_interval_ms) * _MS

    def _check_heartbeat_lapse(self, now_ns: int) -> None:
        now_ns = self._liveness_now(now_ns)
        s = self._state
        timeout_ns = self.config.heartbeat_timeout_ms * _MS
        if (
            s.heartbeat_started
            and not s.heartbeat_lapsed
            and now_ns - s.heartbeat_last_ok_ns > timeout_ns
        ):
            s.heartbeat_lapsed = True
            s.heartbeat_id = ""
            log.error("order heartbeat lapsed: settling every order with the venue")
            self._settle_lapse(now_ns)

    def _settle_lapse(self, now_ns: int) -> None:
        """After a lapse, learn from the venue which orders it still holds (module docstring):
        sync trades, cancel all, list open orders; report cancelled only the orders it no
        longer holds. When the venue does not answer, try again on the next advance."""
        s = self._state
        s.lapse_unsettled = True
        if not self.sync_trades(now_ns, limited=False, whole_history=True):
            return
        try:
            self._apply_cancel_answer(self._cancel_everything(), now_ns)
            rows = self.fetch_open_orders()
        except ClobRequestError as exc:
            self._note_error(self._classify(exc, "DELETE /cancel-all", now_ns), now_ns)
            return
        held = {row.id.lower() for row in rows}
        code = REASON_CODES[ErrorKind.HEARTBEAT_MISMATCH]
        for order in list(self._orders.values()):
            if (
                order.status.is_open
                and order.client_order_id not in self._pending
                and order.client_order_id not in self._unknown
                and order.venue_order_id.lower() not in held
            ):
                self._mark_canceled(order, now_ns, code)
        s.lapse_unsettled = False


def _client_order(signed: SignedOrder) -> SignedOrderV2:
    """Our signed order as the client library's ``SignedOrderV2`` (for its JSON writer)."""
    return SignedOrderV2(
        salt=str(signed.salt),
        maker=signed.maker,
        signer=signed.signer,
        tokenId=str(signed.token_id),
        makerAmount=str(signed.maker_amount),
        takerAmount=str(signed.taker_amount),
        side=ClientSide.BUY if signed.side is Side.BUY else ClientSide.SELL,
        signatureType=SignatureTypeV2(signed.signature_type),
        timestamp=str(signed.timestamp_ms),
        metadata=signed.metadata,
        builder=signed.builder,
        expiration=str(signed.expiration_s),
        signature=signed.signature,
    )


def _counted(trades: Sequence[Trade]) -> frozenset[tuple[str, bool]]:
    """What of a trade list changes our fills: each trade's id and whether it FAILED."""
    return frozenset((t.id, t.status.upper() == FAILED) for t in trades)


def _expected_heartbeat_id(exc: ClobRequestError) -> str | None:
    marker = "expected heartbeat_id "
    text = exc.message
    if marker in text:
        return text.split(marker, 1)[1].split()[0].strip("'\"(),")
    return None
