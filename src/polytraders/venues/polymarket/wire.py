"""Typed CLOB v2 answers: the JSON the Polymarket venue reads, decoded once at the boundary.

Each struct declares only the fields the venue reads, under the names the venue sends
(``../shared/POLYMARKET.md``; the shapes ``py_clob_client_v2`` returns and the simulator in
:mod:`polytraders.simclob` serves); other fields are ignored. Amounts arrive as decimal text
(``"0.45"``) or, from some sources, JSON numbers: they are checked when decoded and read as
exact micro-units through the ``*_micros`` properties (:func:`~polytraders.model.money.to_micros`,
never through a float). Balances are integer text in the 6-decimal unit.

Two ways in:

- :func:`fetch` calls the client and decodes its answer to a REST request. Anything that does
  not match (a missing field, a wrong type, a bad decimal, a page without ``data`` or
  ``next_cursor`` inside the client's pagination) raises :class:`MalformedAnswerError`, a
  :class:`~polytraders.venues.polymarket.client.ClobRequestError` with status 0: the venue
  treats an unusable answer exactly like no answer (the request's outcome is unknown), and the
  message names the endpoint, the registered code ``SYS_POLY_MALFORMED_ANSWER`` and where the
  answer went wrong (``$[0].price``).
- :func:`decode` decodes a message that is already JSON (a user-channel event) and raises
  :class:`ValueError` naming what is wrong; the live session counts and skips such a message
  (``SYS_MALFORMED_MESSAGE``).

Work is bounded: decimals are at most :data:`~polytraders.model.money.MAX_DECIMAL_CHARS`
characters, integers (times, fee rates, balances) at most 19 digits, on-chain allowances at
most 2²⁵⁶ − 1.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import msgspec
from eth_utils import to_checksum_address  # type: ignore[attr-defined]

from polytraders.model.allowance import MAX_UINT256
from polytraders.model.money import ONE, to_micros
from polytraders.model.orders import Side, TimeInForce
from polytraders.venues.polymarket.client import ClobRequestError

MALFORMED_ANSWER = "SYS_POLY_MALFORMED_ANSWER"

Amount = str | int | float
"""A 6-decimal amount as sent: decimal text, or a JSON number (parsed from its shortest
``repr``, exactly)."""
Count = str | int
"""A non-negative integer as sent: digits, or a JSON integer."""

T = TypeVar("T")

_MAX_DIGITS = 19
_INT64_MAX = 2**63 - 1
_MAX_FEE_BPS = 10_000
_UINT256_DIGITS = len(str(MAX_UINT256))
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class MalformedAnswerError(ClobRequestError):
    """A REST answer that does not match its wire schema: as good as no answer (status 0).

    Attributes: ``endpoint`` (e.g. ``GET /data/orders``), ``reason_code``
    (``SYS_POLY_MALFORMED_ANSWER``), and the inherited ``status`` (0) and ``message``.
    """

    reason_code = MALFORMED_ANSWER

    def __init__(self, endpoint: str, problem: str) -> None:
        super().__init__(0, f"malformed answer to {endpoint} ({MALFORMED_ANSWER}): {problem}")
        self.endpoint = endpoint


# ---------------------------------------------------------------------------- value parsing
def amount_micros(value: Amount, what: str) -> int:
    """An amount in micro-units, exactly.

    Raises:
        ValueError: not a decimal with at most 6 decimals (or beyond ``to_micros``'s bounds).
    """
    text = value if isinstance(value, str) else repr(value)
    try:
        return to_micros(text)
    except ValueError as exc:
        raise ValueError(f"{what} {text[:30]!r} is not a 6-decimal amount") from exc


def count(value: Count, what: str, *, drop_fraction: bool = False) -> int:
    """A non-negative integer (at most 19 digits); with ``drop_fraction`` a text may carry a
    fraction, which is dropped (``"1767225600.5"``).

    Raises:
        ValueError: anything else.
    """
    digits = value.split(".", 1)[0] if isinstance(value, str) and drop_fraction else str(value)
    if not (digits.isascii() and digits.isdigit() and len(digits) <= _MAX_DIGITS):
        raise ValueError(f"{what} {str(value)[:30]!r} is not a non-negative integer")
    return int(digits)


def uint256(value: Count, what: str) -> int:
    """A non-negative integer of at most 78 digits, at most 2²⁵⁶ − 1 (an on-chain amount such
    as an ERC-20 allowance).

    Raises:
        ValueError: anything else.
    """
    digits = str(value)
    if not (digits.isascii() and digits.isdigit() and len(digits) <= _UINT256_DIGITS):
        raise ValueError(f"{what} {digits[:30]!r} is not a non-negative integer")
    number = int(digits)
    if number > MAX_UINT256:
        raise ValueError(f"{what} {digits[:30]}… is beyond uint256")
    return number


def _address(value: str, what: str) -> None:
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"{what} {value[:50]!r} is not a 0x-hex address")


def timestamp_ns(value: Count | None) -> int:
    """A venue timestamp (seconds or ms since the epoch) in ns; 0 when absent (None or ``""``).

    Values below 10¹¹ are seconds (some user-channel times are seconds, POLYMARKET.md).

    Raises:
        ValueError: not a non-negative integer (a fraction in a text is dropped), or beyond
            int64 ns.
    """
    if value is None or value == "":
        return 0
    number = count(value, "timestamp", drop_fraction=True)
    ns = number * 1_000_000_000 if number < 100_000_000_000 else number * 1_000_000
    if ns > _INT64_MAX:
        raise ValueError(f"timestamp {number} is beyond int64 ns")
    return ns


def _side(value: str) -> Side:
    try:
        return Side(value.upper())
    except ValueError as exc:
        raise ValueError(f"side {value[:30]!r} is neither BUY nor SELL") from exc


def _time_in_force(value: str | None) -> TimeInForce:
    try:
        return TimeInForce((value or "GTC").upper())
    except ValueError as exc:
        raise ValueError(f"order_type {value!r} is not GTC/GTD/FOK/FAK") from exc


def _price_micros(value: Amount, what: str) -> int:
    price = amount_micros(value, what)
    if not 0 < price < ONE:
        raise ValueError(f"{what} {value!r} is outside (0, 1)")
    return price


def _size_micros(value: Amount, what: str) -> int:
    size = amount_micros(value, what)
    if size <= 0:
        raise ValueError(f"{what} {value!r} is not positive")
    return size


def _fee_bps(value: Count | None) -> int:
    bps = count(value or 0, "fee_rate_bps")
    if bps > _MAX_FEE_BPS:
        raise ValueError(f"fee_rate_bps {bps} is over 100 %")
    return bps


# ---------------------------------------------------------------------------- orders
class PostOrderAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """One order's answer to ``POST /order`` / ``POST /orders`` (POLYMARKET.md "Orders":
    ``{success, errorMsg, orderID, status, makingAmount, takingAmount, tradeIDs,
    transactionsHashes}``; ``status`` ``live | matched | delayed``, ``unmatched`` =
    rejected)."""

    success: bool
    error_msg: str = msgspec.field(default="", name="errorMsg")
    order_id: str = msgspec.field(default="", name="orderID")
    status: str = ""


class OpenOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order as ``GET /data/orders`` lists it and ``GET /data/order/{hash}`` returns it
    (``id`` is the order hash; sizes and price are decimal text)."""

    id: str
    status: str = ""
    market: str = ""
    asset_id: str
    side: str
    original_size: Amount
    size_matched: Amount | None = None
    price: Amount
    order_type: str | None = None

    def __post_init__(self) -> None:
        _side(self.side)
        if self.original_size_micros < 0 or self.size_matched_micros < 0:
            raise ValueError("order sizes must not be negative")
        _price_micros(self.price, "price")
        _time_in_force(self.order_type)

    @property
    def order_side(self) -> Side:
        """BUY or SELL."""
        return _side(self.side)

    @property
    def original_size_micros(self) -> int:
        """Original size (micro-shares)."""
        return amount_micros(self.original_size, "original_size")

    @property
    def size_matched_micros(self) -> int:
        """Size matched so far (micro-shares; 0 when absent)."""
        return 0 if self.size_matched is None else amount_micros(self.size_matched, "size_matched")

    @property
    def price_micros(self) -> int:
        """Limit price (micro-units)."""
        return amount_micros(self.price, "price")

    @property
    def time_in_force(self) -> TimeInForce:
        """The order type (GTC when absent)."""
        return _time_in_force(self.order_type)


class CancelAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to ``DELETE /order``, ``/orders``, ``/cancel-all`` (POLYMARKET.md:
    ``{canceled: [...], not_canceled: {id: reason}}``; ``canceled`` may be null when empty)."""

    canceled: tuple[str, ...] | None = None

    @property
    def canceled_ids(self) -> tuple[str, ...]:
        """The ids cancelled (order hashes)."""
        return self.canceled or ()


# ---------------------------------------------------------------------------- trades
class MakerOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A maker order in a trade: its hash, the size it matched and its price."""

    order_id: str
    matched_amount: Amount
    price: Amount

    def __post_init__(self) -> None:
        _size_micros(self.matched_amount, "matched_amount")
        _price_micros(self.price, "maker price")

    @property
    def matched_micros(self) -> int:
        """Size matched (micro-shares, > 0)."""
        return amount_micros(self.matched_amount, "matched_amount")

    @property
    def price_micros(self) -> int:
        """The maker order's price (micro-units, in (0, 1))."""
        return amount_micros(self.price, "maker price")


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """A trade as ``GET /data/trades`` lists it and the user channel's ``trade`` event carries
    it: ``id``, ``status`` (MATCHED → MINED → CONFIRMED, or RETRYING → FAILED), the taker's
    order hash, price and size, ``fee_rate_bps``, ``match_time`` (seconds or ms; else
    ``timestamp``) and the maker orders. Checked when decoded: id and status non-empty, price
    in (0, 1), size positive, fee rate a whole number of bps in 0–10,000, times non-negative
    integers within int64 ns."""

    id: str
    status: str
    taker_order_id: str | None = None
    price: Amount
    size: Amount
    fee_rate_bps: Count | None = None
    match_time: Count | None = None
    timestamp: Count | None = None
    maker_orders: tuple[MakerOrder, ...] | None = None

    def __post_init__(self) -> None:
        if not self.id or not self.status:
            raise ValueError("trade without id or status")
        _price_micros(self.price, "trade price")
        _size_micros(self.size, "trade size")
        _fee_bps(self.fee_rate_bps)
        timestamp_ns(self.match_time or self.timestamp)

    @property
    def price_micros(self) -> int:
        """The trade's (taker's) price (micro-units)."""
        return amount_micros(self.price, "trade price")

    @property
    def size_micros(self) -> int:
        """The trade's (taker's) size (micro-shares)."""
        return amount_micros(self.size, "trade size")

    @property
    def fee_bps(self) -> int:
        """The taker fee rate (bps; 0 when absent)."""
        return _fee_bps(self.fee_rate_bps)

    @property
    def ts_event_ns(self) -> int:
        """Match time in ns (``match_time``, else ``timestamp``; 0 when neither)."""
        return timestamp_ns(self.match_time or self.timestamp)

    @property
    def makers(self) -> tuple[MakerOrder, ...]:
        """The maker orders (empty when absent)."""
        return self.maker_orders or ()


# ---------------------------------------------------------------------------- account
class BalanceAllowance(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /balance-allowance``: ``balance`` in the asset's 6-decimal integer unit (pUSD
    collateral or a token's shares) and ``allowances``, spender address → the amount it may
    pull, integer text up to 2²⁵⁶ − 1 (an unlimited approval). Shape as Polymarket's clients
    read it: rs-clob-client ``src/clob/types/response.rs`` ``BalanceAllowanceResponse
    {balance, allowances: HashMap<Address, String>}`` (absent allowances are empty) and its
    test ``balance_allowance_should_succeed`` (``{"balance": 0, "allowances": {"0x00…": "1"}}``).
    """

    balance: Count
    allowances: dict[str, Count] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        count(self.balance, "balance")
        for spender, value in self.allowances.items():
            _address(spender, "allowances spender")
            uint256(value, f"allowances[{spender[:42]}]")

    @property
    def balance_micros(self) -> int:
        """The balance (micro-units)."""
        return count(self.balance, "balance")

    @property
    def allowances_micros(self) -> dict[str, int]:
        """Spender (EIP-55 checksum address) → allowance (micro-units), exactly."""
        return {
            to_checksum_address(spender): uint256(value, "allowance")
            for spender, value in self.allowances.items()
        }


class HeartbeatAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /v1/heartbeats``: the id the next heartbeat must carry."""

    heartbeat_id: str


class ClosedOnlyAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /auth/ban-status/closed-only``: True when the account may only close
    positions."""

    closed_only: bool


class BookAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The metadata part of ``GET /book``: market, tick size, minimum order size (5 shares
    when absent, POLYMARKET.md) and the neg-risk flag."""

    market: str = ""
    tick_size: Amount
    min_order_size: Amount = "5"
    neg_risk: bool

    def __post_init__(self) -> None:
        _price_micros(self.tick_size, "tick_size")
        _size_micros(self.min_order_size, "min_order_size")

    @property
    def tick_size_micros(self) -> int:
        """Tick size (micro-units)."""
        return amount_micros(self.tick_size, "tick_size")

    @property
    def min_order_size_micros(self) -> int:
        """Minimum resting size (micro-shares)."""
        return amount_micros(self.min_order_size, "min_order_size")


# ---------------------------------------------------------------------------- user channel
class UserEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What kind of user-channel event a message is: ``event_type`` (``trade`` / ``order``),
    else ``type``."""

    event_type: str | None = None
    type: str | None = None

    @property
    def kind(self) -> str:
        """``trade``, ``order`` or another lower-cased kind (``""`` when neither is set)."""
        return (self.event_type or self.type or "").lower()


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A user-channel ``order`` event: the order hash and PLACEMENT / UPDATE /
    CANCELLATION."""

    id: str
    type: str = ""


# ---------------------------------------------------------------------------- decoding
def decode(raw: object, shape: type[T], what: str) -> T:
    """``raw`` (JSON as decoded) as ``shape``.

    Raises:
        ValueError: it does not match; the message names ``what`` and the path.
    """
    try:
        return msgspec.convert(raw, shape)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{what}: {exc}") from exc


def fetch(endpoint: str, shape: type[T], call: Callable[[], object]) -> T:
    """Run one client request and decode its answer as ``shape``.

    The client library's pagination reads ``data`` and ``next_cursor`` of each page and
    raises ``KeyError``/``TypeError`` on a page without them: raised inside the library, that
    is a malformed answer too (the same errors raised anywhere else, e.g. by a wrong call, are
    not, and propagate).

    Raises:
        ClobRequestError: no answer (as raised by the client).
        MalformedAnswerError: an answer that does not match ``shape``.
    """
    try:
        raw = call()
    except (KeyError, TypeError) as exc:
        if not _raised_in_client_library(exc):
            raise
        raise MalformedAnswerError(endpoint, f"a page without data/next_cursor ({exc!r})") from exc
    try:
        return msgspec.convert(raw, shape)
    except msgspec.ValidationError as exc:
        raise MalformedAnswerError(endpoint, str(exc)) from exc


_CLIENT_LIBRARY = "py_clob_client_v2"


def _raised_in_client_library(exc: BaseException) -> bool:
    """True when the innermost frame of ``exc``'s traceback is in the client library."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return _CLIENT_LIBRARY in tb.tb_frame.f_code.co_filename
