"""``ProtectiveStopAction``: the output of the desk's protective-stop envelopes (issue 21 item
4; :mod:`polytraders.commands.live_ccxt` "Protective stop").

One record says what the desk asked of the exchange for one position's stop-loss and what the
exchange holds afterwards, so the evidence shows the protection itself (trigger price, size,
side), not only that an action happened. Integers only (micro-units), like every envelope.
"""

from __future__ import annotations

import msgspec


class ProtectiveStopAction(msgspec.Struct, frozen=True, kw_only=True, tag="protective_stop"):
    """One protective-stop action at the exchange.

    Fields:
        action: ``place``, ``replace`` (cancel ``replaced_client_id``, then place) or
            ``cancel``.
        token_id: the instrument (``<venue>:<symbol>``).
        client_id: the stop's client id (``clientAlgoId``): the one placed for ``place`` and
            ``replace``, the one cancelled for ``cancel``.
        replaced_client_id: the stop a ``replace`` took away ("" otherwise).
        side: the stop's side (``SELL`` closes a long, ``BUY`` a short).
        position_size: the position protected (signed micro-units of the base asset; 0 for a
            ``cancel``: the position it protected is closed or changed).
        stop_price: the trigger price (micro-units of the quote per unit of the base).
        size: the stop's size (micro-units of the base; 0 with ``close_position``).
        close_position: the stop closes whatever position there is when triggered.
        working_type: the price that triggers it (``MARK_PRICE`` or ``CONTRACT_PRICE``).
        outcome: what the exchange holds afterwards (``new_stop``, ``old_stop``, ``no_stop``,
            ``unknown``: :class:`~polytraders.venues.ccxt.stops.StopState`).
        message: the exchange's text when the action failed ("" otherwise).
    """

    action: str
    token_id: str
    client_id: str
    replaced_client_id: str = ""
    side: str
    position_size: int
    stop_price: int
    size: int
    close_position: bool
    working_type: str
    outcome: str
    message: str = ""
