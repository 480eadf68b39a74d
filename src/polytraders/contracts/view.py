"""The read-only :class:`DeskView` every bot decides from.

Bots see the desk only through this protocol: books, market metadata, positions, open orders,
PnL/equity, trading state, feed and venue health, and the clock. Time comes from ``now_ns``
(simulated in backtests, live otherwise); bots never read a clock themselves. All money is in
micro-units, all times in ns since the Unix epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

import msgspec

from polytraders.model.book import BookView
from polytraders.model.events import TradingState
from polytraders.model.market import Market, OutcomeToken
from polytraders.model.orders import VenueOrder


class VenueState(StrEnum):
    """Venue-wide trading mode (``../shared/POLYMARKET.md`` "Dead-man switch and venue states").

    NORMAL; RESTARTING (HTTP 425 during the weekly matching-engine restart: no orders);
    POST_ONLY (about 2 minutes after a restart: only post-only orders and cancels);
    CANCEL_ONLY (only cancels); CLOSED_ONLY (the account may only close positions).
    """

    NORMAL = "NORMAL"
    RESTARTING = "RESTARTING"
    POST_ONLY = "POST_ONLY"
    CANCEL_ONLY = "CANCEL_ONLY"
    CLOSED_ONLY = "CLOSED_ONLY"


class AccountIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """Who signs and who pays (public addresses only; never a key).

    Fields: ``signer`` (0x address signing orders), ``funder`` (0x address holding the funds),
    ``signature_type`` (0 EOA, 1 proxy, 2 Gnosis Safe, 3 deposit wallet), ``builder_code``
    (bytes32 0x-hex attributing orders, "" if none).
    """

    signer: str = ""
    funder: str = ""
    signature_type: int = 0
    builder_code: str = ""


class PositionView(Protocol):
    """Read-only position: signed micro-shares, cost basis, realized PnL and fees (micro)."""

    @property
    def token_id(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def cost_basis(self) -> int: ...
    @property
    def realized_pnl(self) -> int: ...
    @property
    def fees(self) -> int: ...


class DeskView(Protocol):
    """What a bot may read. Implemented by the desk; bots must treat it as read-only."""

    @property
    def now_ns(self) -> int:
        """Desk clock (ns since epoch)."""
        ...

    @property
    def trading_state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""
        ...

    @property
    def kill_switch_tripped(self) -> bool:
        """True from a kill-switch trip until an operator reset."""
        ...

    @property
    def venue_state(self) -> VenueState:
        """Venue-wide mode (post-only window, cancel-only, …)."""
        ...

    @property
    def account(self) -> AccountIdentity:
        """The signing identity the desk trades with."""
        ...

    def book(self, token_id: str) -> BookView | None:
        """The token's L2 book, or None if never seen."""
        ...

    def token(self, token_id: str) -> OutcomeToken | None:
        """Token metadata (tick, minimum size, complement), or None if unknown."""
        ...

    def market(self, market_id: str) -> Market | None:
        """Market metadata and state, or None if unknown."""
        ...

    def markets(self) -> Sequence[Market]:
        """Every known market."""
        ...

    def is_stale(self, token_id: str) -> bool:
        """True while the feed has marked the token stale (gap, bad data) with no fresh snapshot."""
        ...

    def last_tick_change_ns(self, token_id: str) -> int:
        """Time of the token's last tick-size change (0 if none)."""
        ...

    def position(self, token_id: str) -> PositionView | None:
        """Our position in the token, or None if never traded."""
        ...

    def positions(self) -> Sequence[PositionView]:
        """All positions (including flat ones that were traded)."""
        ...

    def open_orders(self, token_id: str | None = None) -> Sequence[VenueOrder]:
        """Our open orders, optionally for one token."""
        ...

    @property
    def cash(self) -> int:
        """Free collateral (micro-pUSD)."""
        ...

    @property
    def equity(self) -> int:
        """Cash + positions marked to mid (micro)."""
        ...

    @property
    def peak_equity(self) -> int:
        """Highest equity seen in this run (micro)."""
        ...

    @property
    def day_start_equity(self) -> int:
        """Equity at the start of the current UTC day (micro)."""
        ...

    @property
    def last_feed_event_ns(self) -> int:
        """Receive time of the last market-data event (0 before any)."""
        ...

    @property
    def last_venue_heartbeat_ns(self) -> int:
        """Time of the last accepted venue heartbeat (0 if the venue has none)."""
        ...

    @property
    def consecutive_errors(self) -> int:
        """Venue or bot errors since the last success."""
        ...
