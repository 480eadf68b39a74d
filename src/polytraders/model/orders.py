"""Orders: what a strategy wants (:class:`OrderIntent`), what a venue holds (:class:`VenueOrder`).

Prices are micro-units of the quote currency per share (pUSD on Polymarket); sizes are
micro-shares; notionals are micro-units of the quote currency. Times are ns since the Unix
epoch (UTC). Polymarket order kinds (``../shared/POLYMARKET.md`` "Orders"): GTC, GTD (expiry),
FOK and FAK; post-only only with GTC/GTD; a BUY market order (FOK/FAK) may be sized by notional
in pUSD, a SELL market order always by shares.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, NamedTuple

import msgspec

from polytraders.model.market import Instrument, OutcomeToken

SHARE_STEP_MICROS = 10_000
"""Polymarket order sizes are whole multiples of 0.01 share (10_000 micro-shares)."""

INT64_MAX = 2**63 - 1
"""Largest value of an intent's int fields (what an envelope can encode)."""


class Side(StrEnum):
    """Order side from our point of view."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        """The other side."""
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        """+1 for BUY (position grows), −1 for SELL."""
        return 1 if self is Side.BUY else -1


class TimeInForce(StrEnum):
    """Time in force, as Polymarket names them.

    GTC rests until cancelled; GTD rests until ``expire_at_ns``; FOK fills completely at once or
    not at all; FAK fills what it can at once and cancels the rest.
    """

    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"

    @property
    def rests(self) -> bool:
        """True for kinds that may rest on the book (GTC, GTD)."""
        return self in (TimeInForce.GTC, TimeInForce.GTD)


class IntentAction(StrEnum):
    """What an intent asks for: a new order, a cancel of an earlier one, or a replace."""

    PLACE = "PLACE"
    CANCEL = "CANCEL"
    REPLACE = "REPLACE"


class OrderIntent(msgspec.Struct, frozen=True, kw_only=True, tag="intent"):
    """What a strategy bot wants, before risk and execution.

    Fields:
        intent_id: deterministic id, derived from (run id, bot, sequence).
        bot_id: proposing bot, e.g. ``strat.maker_tight``.
        action: PLACE, CANCEL or REPLACE.
        token_id: outcome token (or crypto instrument symbol).
        market_id: market the token belongs to (condition id on Polymarket).
        side: BUY or SELL.
        price: limit price (micro-units); for FOK/FAK market orders the worst acceptable price.
        size: shares (micro). Zero for a BUY market order sized by ``notional`` and for CANCEL.
        notional: pUSD (micro) to spend; only for BUY FOK/FAK market orders, else zero.
        time_in_force: GTC, GTD, FOK or FAK.
        expire_at_ns: expiry for GTD (ns since epoch), else 0.
        post_only: must rest; rejected rather than take liquidity.
        reduce_only: may only reduce the position (never increase exposure).
        target_intent_id: for CANCEL and REPLACE, the intent whose order is withdrawn.
        builder_code: bytes32 builder attribution as 0x-hex, or "" when not set.
        ts_created_ns: when the strategy created it (desk clock).
    """

    intent_id: str
    bot_id: str
    action: IntentAction = IntentAction.PLACE
    token_id: str
    market_id: str = ""
    side: Side
    price: int
    size: int
    notional: int = 0
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_at_ns: int = 0
    post_only: bool = False
    reduce_only: bool = False
    target_intent_id: str = ""
    builder_code: str = ""
    ts_created_ns: int = 0

    @property
    def is_market_order(self) -> bool:
        """FOK and FAK orders take liquidity at once (Polymarket "market orders")."""
        return self.time_in_force in (TimeInForce.FOK, TimeInForce.FAK)


class IntentProblem(NamedTuple):
    """One thing wrong with an intent: the field it is about and a sentence naming it."""

    field: str
    message: str


_CHECKED_INT = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
_CHECKED_TEXT = Annotated[str, msgspec.Meta(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]
_LIMITS: dict[type, Any] = {int: _CHECKED_INT, str: _CHECKED_TEXT}
"""Ranges by declared type: every int field of an intent is a non-negative micro amount or ns
time within int64; every str field is at most 256 characters without control characters."""


def _declared_fields() -> tuple[tuple[str, type, Any], ...]:
    fields: list[tuple[str, type, Any]] = []
    for info in msgspec.structs.fields(OrderIntent):
        if not isinstance(info.type, type):
            raise TypeError(f"OrderIntent.{info.name}: intent checks need a plain class type")
        fields.append((info.name, info.type, _LIMITS.get(info.type)))
    return tuple(fields)


_INTENT_FIELDS = _declared_fields()
_RANGED = msgspec.defstruct(
    "RangedIntent",
    [(name, limits) for name, _, limits in _INTENT_FIELDS if limits is not None],
    kw_only=True,
)
"""OrderIntent's int and str fields with their ranges, for one strict msgspec conversion."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_problems(intent: OrderIntent) -> list[IntentProblem]:
    """Fields whose value is not exactly the declared type, or outside its range (msgspec
    structs do not validate at construction, so a str can sit in an enum field)."""
    problems = [
        IntentProblem(
            name,
            f"{name}: expected {declared.__name__}, got {type(value).__name__} {_shown(value)}",
        )
        for name, declared, _ in _INTENT_FIELDS
        if type(value := getattr(intent, name)) is not declared
    ]
    if problems:
        return problems
    try:
        msgspec.convert(intent, _RANGED, strict=True, from_attributes=True)
    except msgspec.ValidationError:
        for name, _, limits in _INTENT_FIELDS:
            value = getattr(intent, name)
            try:
                msgspec.convert(value, limits or type(value), strict=True)
            except msgspec.ValidationError as exc:
                problems.append(IntentProblem(name, f"{name}: {exc}, got {_shown(value)}"))
    return problems


def intent_field_problems(intent: OrderIntent) -> list[IntentProblem]:
    """Everything wrong with an intent that needs no market data (empty when well formed).

    First the types, derived from :class:`OrderIntent`'s declared field types: each value must
    be exactly that type (an enum member, not its string; an ``int``, not a ``bool`` or
    ``float``), ints within ``[0, 2**63 − 1]``, strings at most 256 characters without control
    characters. When the types are right, the rules of ``../shared/POLYMARKET.md`` "Orders":
    intent id, bot id and token id present; CANCEL/REPLACE name a target; for PLACE/REPLACE a
    positive price, exactly one of size/notional positive, notional only on a BUY market order,
    post-only only with GTC/GTD, an expiry exactly for GTD. Tick, price range and minimum-size
    rules need market metadata and are checked downstream.
    """
    problems = _type_problems(intent)
    if problems:
        return problems
    for name in ("intent_id", "bot_id", "token_id"):
        if not getattr(intent, name):
            problems.append(IntentProblem(name, "intent_id, bot_id and token_id are required"))
            break
    if intent.action in (IntentAction.CANCEL, IntentAction.REPLACE) and not intent.target_intent_id:
        problems.append(
            IntentProblem("target_intent_id", f"{intent.action} needs target_intent_id")
        )
    if intent.action is IntentAction.CANCEL:
        return problems
    if intent.price <= 0:
        problems.append(IntentProblem("price", "price must be positive"))
    if (intent.size > 0) == (intent.notional > 0):
        problems.append(IntentProblem("size", "exactly one of size and notional must be positive"))
    if intent.notional > 0 and not (intent.side is Side.BUY and intent.is_market_order):
        problems.append(
            IntentProblem("notional", "notional sizing is only for BUY FOK/FAK market orders")
        )
    if intent.post_only and not intent.time_in_force.rests:
        problems.append(IntentProblem("post_only", "post-only needs GTC or GTD"))
    if (intent.time_in_force is TimeInForce.GTD) != (intent.expire_at_ns > 0):
        problems.append(
            IntentProblem("expire_at_ns", "GTD needs expire_at_ns, other kinds must not set it")
        )
    return problems


def intent_problems(intent: OrderIntent) -> list[str]:
    """The messages of :func:`intent_field_problems` (empty list when the intent is well
    formed)."""
    return [problem.message for problem in intent_field_problems(intent)]


class OrderStatus(StrEnum):
    """Lifecycle of a venue order."""

    PENDING_NEW = "PENDING_NEW"
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"

    @property
    def is_open(self) -> bool:
        """True while the order may still fill."""
        return self in _OPEN_STATUSES


_OPEN_STATUSES = frozenset(
    {
        OrderStatus.PENDING_NEW,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PENDING_CANCEL,
    }
)


class VenueOrder(msgspec.Struct, kw_only=True, tag="venue_order"):
    """An order as sent to (and tracked at) a venue; produced by an execution bot's RoutePlan.

    Mutable: the order manager updates ``status``, ``filled_size`` and ``venue_order_id``.

    Fields beyond :class:`OrderIntent`'s: ``client_order_id`` (deterministic, idempotent
    across restarts), ``venue_order_id`` (assigned by the venue), ``exchange`` (which
    exchange contract signs it: ``"ctf"`` or ``"neg_risk"`` on Polymarket, the venue name
    elsewhere), ``filled_size`` (micro-shares), ``ts_updated_ns``.
    """

    client_order_id: str
    intent_id: str
    bot_id: str = ""
    token_id: str
    market_id: str = ""
    side: Side
    price: int
    size: int
    notional: int = 0
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_at_ns: int = 0
    post_only: bool = False
    reduce_only: bool = False
    builder_code: str = ""
    exchange: str = ""
    venue_order_id: str = ""
    status: OrderStatus = OrderStatus.PENDING_NEW
    filled_size: int = 0
    ts_created_ns: int = 0
    ts_updated_ns: int = 0

    @property
    def remaining_size(self) -> int:
        """Shares (micro) still open; 0 for a notional-sized order (it never rests)."""
        return max(self.size - self.filled_size, 0)


def unwind_intent(
    token: OutcomeToken | Instrument,
    position_size: int,
    limit_price: int,
    *,
    intent_id: str,
    bot_id: str,
    now_ns: int,
    builder_code: str = "",
) -> OrderIntent:
    """The intent that unwinds a whole position (through ``exec.twap``: the kill switch's unwind
    policy, :mod:`polytraders.desk.unwind`, and an operator's ``unwind``): reduce-only, the whole
    ``position_size`` (signed micro-shares: a long is sold, a short bought back), GTC,
    limit ``limit_price`` (micro-units: the worst price any child may trade at; each child
    also stays within ``max_cross_ticks`` of the touch). ``exec.twap`` releases it in at most
    ``unwind_slice_count`` children over ``unwind_duration_s``. The caller (the kill switch's unwind
    policy, an operator command) gives a deterministic ``intent_id`` and its own ``bot_id``.
    ``token`` is an outcome token or a crypto instrument (no market id: a perpetual short is
    bought back, a long sold, both reduce-only).

    Raises:
        ValueError: a flat position, or a limit price that is not positive.
    """
    if position_size == 0:
        raise ValueError(f"no position in {token.token_id} to unwind")
    if limit_price <= 0:
        raise ValueError(f"unwind limit price must be positive, not {limit_price}")
    return OrderIntent(
        intent_id=intent_id,
        bot_id=bot_id,
        token_id=token.token_id,
        market_id=token.market_id if isinstance(token, OutcomeToken) else "",
        side=Side.SELL if position_size > 0 else Side.BUY,
        price=limit_price,
        size=abs(position_size),
        time_in_force=TimeInForce.GTC,
        reduce_only=True,
        builder_code=builder_code,
        ts_created_ns=now_ns,
    )
