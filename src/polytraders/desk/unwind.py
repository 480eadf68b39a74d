"""Emergency unwind: the desk works its positions out through ``exec.twap`` (issue 21).

An unwind starts when the kill switch trips on a desk whose ``DeskConfig.kill_switch_unwind``
is ``"twap"`` (after the cancel-all), or on the operator command ``unwind`` (any trading
state, also while tripped; ``args["token_id"]`` limits it to one token). The desk's **unwind
bot** is an ``exec.twap`` slot kept apart from the routing slots (declared in a desk file as
an execution entry with ``role = "unwind"``; its ``unwind_duration_s`` and
``unwind_slice_count`` are the desk's). The positions unwound are the desk's own (its ledger:
``DeskState.positions()``), not the cancel report's. For each non-zero position (in token-id
order, a token already unwinding skipped) the desk:

1. builds the intent with :func:`~polytraders.model.orders.unwind_intent`: reduce-only,
   the whole position (a long sold, a short, e.g. a perpetual's, bought back), limit
   :func:`unwind_limit_price` (``unwind_max_slippage_bps`` from the touch), id
   ``desk/u<now ns>/i<n>``, ``bot_id`` ``desk``; it is recorded as a desk envelope
   (``SYS_UNWIND_STARTED``, decision PROPOSE, the intent as output). No usable price (no book,
   a stale or one-sided book, unknown order rules): ``SYS_UNWIND_NO_PRICE`` and no unwind;
2. has the unwind bot plan it (its envelope: ``EXEC_TWAP_SCHEDULED`` or a refusal) and
   schedules the children like any TWAP (:mod:`polytraders.desk.children`: an envelope per
   release or skip).

**The exemption** is narrow: an unwind's intent never passes the risk chain (every guard
refuses while the desk is HALTED, and the unwind exists to reduce risk), and its children are
the only orders that go out while the kill switch is tripped. Each released child's plan must
pass :func:`unwind_plan_problem` (reduce-only orders on the intent's token and side, together
no larger than what is left to reduce after our other open orders on that side), else nothing
is sent (``SYS_UNWIND_NOT_REDUCING``). On a spot venue, which has no reduce-only flag, this
check is what keeps a child reducing: the ccxt venue sends a reduce-only SELL as a plain SELL
(the exchange itself refuses selling more than the account holds) and refuses a reduce-only
BUY (no short to reduce); the paper venue does the same (rule 12.4 of
:mod:`polytraders.venues.paper`), so a spot desk unwinds alike in a backtest and live. The
children stop (``SYS_CHILDREN_CANCELLED``) when the position is flat, the bot is no longer
ENFORCED, or the desk shuts down.

**The end** of an unwind, once no child is left and none of its orders is open: a desk
envelope ``SYS_UNWIND_DONE`` (the position is flat) or ``SYS_UNWIND_INCOMPLETE`` (output: the
intent with the size still held; the skips' envelopes say why, e.g. ``EXEC_TWAP_DEPTH_THIN``).
Nothing resumes it: an operator ``reset_kill_switch`` leaves a finished unwind finished (a
running one runs to its end), and a new one needs a new trip or ``unwind`` command. Unwinds
are not checkpointed: after a restart none is running, and a restored tripped switch cancels
orders again but does not start another.
"""

from __future__ import annotations

from dataclasses import dataclass

from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.modes import Mode
from polytraders.contracts.view import OrderRules
from polytraders.desk.slots import BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.orders import OrderIntent, Side

SYS_UNWIND_STARTED = "SYS_UNWIND_STARTED"
SYS_UNWIND_NO_PRICE = "SYS_UNWIND_NO_PRICE"
SYS_UNWIND_DONE = "SYS_UNWIND_DONE"
SYS_UNWIND_INCOMPLETE = "SYS_UNWIND_INCOMPLETE"
SYS_UNWIND_NOT_REDUCING = "SYS_UNWIND_NOT_REDUCING"

_BPS = 10_000

UNWIND_BOT_ID = "exec.twap"
"""The execution bot an unwind goes through (the library's; its config declares
``unwind_duration_s`` and ``unwind_slice_count``)."""


@dataclass(frozen=True, slots=True)
class Unwind:
    """A working unwind: its intent and what started it (``"kill switch"`` or
    ``"operator:<name>"``)."""

    intent: OrderIntent
    source: str


def check_unwind_slot(
    slot: BotSlot | None, policy: str, duration_s: int, slice_count: int
) -> BotSlot | None:
    """The desk's unwind bot, checked against the desk's policy: required by ``"twap"``; an
    ENFORCED ``exec.twap`` whose ``unwind_duration_s`` / ``unwind_slice_count`` are the desk's
    ``duration_s`` / ``slice_count``.

    Raises:
        ValueError: one line saying what is wrong.
    """
    if slot is None:
        if policy == "twap":
            raise ValueError(
                'kill_switch_unwind = "twap" needs an unwind bot: an [[execution]] entry '
                'id = "exec.twap" with role = "unwind"'
            )
        return None
    if slot.bot_id != UNWIND_BOT_ID:
        raise ValueError(f"the unwind bot must be {UNWIND_BOT_ID}, not {slot.bot_id}")
    if slot.mode is not Mode.ENFORCED:
        raise ValueError(f"the unwind bot must be ENFORCED, not {slot.mode}")
    config = slot.bot.config
    if (config.unwind_duration_s, config.unwind_slice_count) != (duration_s, slice_count):
        raise ValueError(
            f"the unwind bot's schedule ({config.unwind_duration_s} s, "
            f"{config.unwind_slice_count} slices) is not the desk's unwind_duration_s = "
            f"{duration_s}, unwind_slice_count = {slice_count}"
        )
    return slot


def unwind_limit_price(side: Side, touch: int, max_slippage_bps: int, rules: OrderRules) -> int:
    """The worst price an unwind may trade at (micro-units): ``max_slippage_bps`` beyond the
    touch (a SELL below the best bid, a BUY above the best ask), rounded toward the touch onto
    the tick and kept within the token's price range.

    Raises:
        ValueError: a non-positive touch.
    """
    if touch <= 0:
        raise ValueError(f"touch price must be positive, not {touch}")
    tick = rules.tick_size
    if side is Side.SELL:
        far = touch * (_BPS - max_slippage_bps) // _BPS
        limit = -(-far // tick) * tick  # up: toward the bid
        return max(limit, rules.min_price)
    far = touch * (_BPS + max_slippage_bps) // _BPS
    return min(far // tick * tick, rules.max_price)  # down: toward the ask


def left_to_reduce(state: DeskState, intent: OrderIntent) -> int:
    """What ``intent`` (an unwind) may still trade: the position on the side it reduces
    (micro-units; 0 once flat or flipped)."""
    position = state.position(intent.token_id)
    held = 0 if position is None else position.size * -intent.side.sign
    return max(held, 0)


def unwind_plan_problem(plan: RoutePlan, intent: OrderIntent, state: DeskState) -> str:
    """Why a child plan of the unwind ``intent`` must not be sent ("" when it may): every order
    reduce-only, on the intent's token and side; together no larger than what is left to
    reduce less our other open orders on that side of the token."""
    for order in plan.orders:
        if not order.reduce_only or order.token_id != intent.token_id:
            return f"{order.client_order_id} is not a reduce-only order on {intent.token_id}"
        if order.side is not intent.side:
            return f"{order.client_order_id} is a {order.side}, the unwind a {intent.side}"
    committed = sum(
        o.remaining_size
        for o in state.open_orders(intent.token_id)
        if o.side is intent.side and o.status.is_open
    )
    room = left_to_reduce(state, intent) - committed
    size = sum(o.size for o in plan.orders)
    if size > room:
        return f"orders of {size} exceed the {room} left to reduce"
    return ""
