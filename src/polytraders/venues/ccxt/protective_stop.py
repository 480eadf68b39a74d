"""The exchange-side protective stop of a perpetual position: a pure policy (position → the
stop it wants → actions against the stops the exchange lists) and a keeper that applies the
actions through :class:`~.venue.CcxtVenue`, so a dead desk still has protection.

Stop price: ``stop_distance_bps`` from the position's average entry, on the losing side,
rounded away from the entry to the tick (a long at 61 800.00 with 100 bps → 61 182.00; the
distance is never less than configured). The keeper manages only stops whose client id starts
with ``client_id_prefix`` (others are the operator's); each desired stop's client id is
derived from what it is (token, side, price, size, kind), so the same stop always has the same
id and a replacement a different one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum

import msgspec

from polytraders.venues.ccxt.account import PerpPosition
from polytraders.venues.ccxt.config import ProtectiveStopPolicy
from polytraders.venues.ccxt.stops import StopOutcome, StopRequest, StopState
from polytraders.venues.ccxt.venue import CcxtVenue
from polytraders.venues.reports import StopOrderReport

_BPS = 10_000
UNPROTECTED = "SYS_CCXT_POSITION_UNPROTECTED"


class ActionKind(StrEnum):
    """What to do at the exchange."""

    PLACE = "place"
    REPLACE = "replace"
    CANCEL = "cancel"


class StopAction(msgspec.Struct, frozen=True, kw_only=True):
    """One action: ``PLACE`` ``request``; ``REPLACE`` ``stop`` by ``request``; ``CANCEL``
    ``stop``."""

    kind: ActionKind
    request: StopRequest | None = None
    stop: StopOrderReport | None = None


def desired_stop(
    policy: ProtectiveStopPolicy, position: PerpPosition, tick: int
) -> StopRequest | None:
    """The stop ``position`` should have (None when flat).

    Raises:
        ValueError: an open position without a positive entry price, or a stop price that
            would not be positive.
    """
    size = position.size
    if size == 0:
        return None
    entry = position.entry_price
    if entry <= 0:
        raise ValueError(f"{position.token_id}: position {size} without an entry price")
    distance = entry * policy.stop_distance_bps
    if size > 0:
        price = (entry * _BPS - distance) // (_BPS * tick) * tick  # floor: further below
    else:
        price = -((-(entry * _BPS + distance)) // (_BPS * tick)) * tick  # ceil: further above
    if price <= 0:
        raise ValueError(f"{position.token_id}: stop price {price} is not positive")
    shape = f"{position.token_id}|{size > 0}|{price}|{policy.close_position or abs(size)}"
    digest = hashlib.sha256(f"{shape}|{policy.working_type}".encode()).hexdigest()
    return StopRequest(
        token_id=position.token_id,
        position_size=size,
        stop_price=price,
        client_id=policy.client_id_prefix + digest[: 36 - len(policy.client_id_prefix)],
        close_position=policy.close_position,
        working_type=policy.working_type,
    )


def plan(
    desired: StopRequest | None, stops: Sequence[StopOrderReport], prefix: str
) -> list[StopAction]:
    """Actions that leave exactly ``desired`` among the stops with ``prefix`` (others are
    ignored): keep a matching one, else replace the first, and cancel the rest."""
    ours = [s for s in stops if s.client_order_id.startswith(prefix)]
    if desired is None:
        return [StopAction(kind=ActionKind.CANCEL, stop=s) for s in ours]
    keep = next((s for s in ours if desired.matches(s)), None)
    actions: list[StopAction] = []
    if keep is None and ours:
        keep = ours[0]
        actions.append(StopAction(kind=ActionKind.REPLACE, stop=keep, request=desired))
    elif keep is None:
        actions.append(StopAction(kind=ActionKind.PLACE, request=desired))
    actions.extend(StopAction(kind=ActionKind.CANCEL, stop=s) for s in ours if s is not keep)
    return actions


class StopSync(msgspec.Struct, frozen=True, kw_only=True):
    """One keeper pass: the ``desired`` stop (None when flat), each action with its outcome,
    and ``reason_code``: ``""`` when the exchange is known to hold exactly the desired stop,
    ``SYS_CCXT_POSITION_UNPROTECTED`` when a position lacks it, else the first failure's
    code (an unwanted stop left)."""

    desired: StopRequest | None
    actions: tuple[tuple[StopAction, StopOutcome], ...] = ()
    reason_code: str = ""


class ProtectiveStopKeeper:
    """Keeps each position's protective stop at the exchange (module docstring).

    Args:
        venue: a perpetual :class:`CcxtVenue` with its markets loaded.
        policy: the stop policy.
    """

    def __init__(self, venue: CcxtVenue, policy: ProtectiveStopPolicy) -> None:
        self.venue = venue
        self.policy = policy

    def sync(self, token_id: str, now_ns: int) -> StopSync:
        """Read the position and the stops, then place, replace or cancel (:func:`plan`).

        Raises:
            ccxt.BaseError: reading the position or the stops got no answer (nothing done).
            ConversionError: an answer that cannot be converted exactly.
            ValueError: a position without an entry price.
        """
        position = self.venue.positions()[token_id]
        stops = self.venue.protective_stops(token_id, now_ns)
        tick = self.venue.markets[token_id].instrument.price_increment
        desired = desired_stop(self.policy, position, tick)
        done = []
        for action in plan(desired, stops, self.policy.client_id_prefix):
            done.append((action, self._apply(action, now_ns)))
        placed = [o for a, o in done if a.kind is not ActionKind.CANCEL]
        if placed and placed[0].state is not StopState.NEW_STOP:
            code = UNPROTECTED
        else:
            code = next((o.reason_code for _, o in done if o.reason_code), "")
        return StopSync(desired=desired, actions=tuple(done), reason_code=code)

    def _apply(self, action: StopAction, now_ns: int) -> StopOutcome:
        if action.kind is ActionKind.PLACE and action.request is not None:
            return self.venue.place_protective_stop(action.request, now_ns)
        if action.kind is ActionKind.REPLACE and action.stop and action.request:
            return self.venue.replace_protective_stop(action.stop, action.request, now_ns)
        if action.kind is ActionKind.CANCEL and action.stop is not None:
            return self.venue.cancel_protective_stop(action.stop, now_ns)
        raise ValueError(f"incomplete action {action!r}")


__all__ = [
    "UNPROTECTED",
    "ActionKind",
    "ProtectiveStopKeeper",
    "ProtectiveStopPolicy",
    "StopAction",
    "StopSync",
    "desired_stop",
    "plan",
]
