"""``exec.twap``: works an approved intent in child orders released evenly over a duration.

- **decide** (once per intent): CANCEL cancels every open order of the target intent (the desk
  also drops its scheduled children). PLACE and REPLACE (its cancels first) get a schedule:
  the size, rounded down to the lot, cut by
  :func:`~polytraders.bots.execution.twap.schedule.twap_slices` into at most ``slice_count``
  children over ``duration_s`` (a reduce-only intent, an unwind: at most
  ``unwind_slice_count`` over ``unwind_duration_s``), each at least the token's minimum order size,
  the first released at once; a GTD intent's children all go out before its expiry. The plan
  has no orders of its own, only ``children``. Refused (hard codes): an invalid intent, an
  unknown token, a post-only, FOK or notional-sized intent (children take liquidity in
  shares), a GTD with under a second left, a size under the minimum.
- **release** (the desk calls it when a child is due, :mod:`polytraders.desk.children`): one
  FAK order on the intent's token and side, against the book of now. Its price band runs from
  the touch to ``max_cross_ticks`` ticks beyond it and never past the intent's limit; it takes
  at most ``max_depth_take_pct`` % of the depth inside the band; a SELL never sells more than
  the free shares held, a reduce-only BUY never buys more than the short; the size is on the
  lot, the price is the worst book level the size reaches (on the tick). A child shrunk by depth
  or holdings says so (``EXEC_TWAP_CHILD_SHRUNK``); one that would fall under the minimum size
  or notional, or finds the book unusable or beyond the limit, is skipped with a warning code
  (the desk's next child catches the shortfall up).

The order's client order id is ``client_order_id(intent id, leg)`` (the leg the desk gives),
its ``bot_id`` the proposing strategy's, exchange ``"neg_risk"`` for neg-risk tokens else
``"ctf"``, builderCode the intent's else the desk account's. Never larger than the intent or
the child, never another token or side, never a price beyond the intent's limit (the desk
re-checks: :func:`polytraders.contracts.authority.route_plan_problems`).

Crypto instruments (:meth:`DeskView.instrument`): the tick, lot (the instrument's size
increment instead of ``size_step_micros``) and minimum size come from the view's order rules;
the order has no market id, builder code or exchange field (Polymarket's); the minimum child
notional is in micro-units of the quote currency. A perpetual's SELL that is not reduce-only is
not capped by holdings (it may open a short); a reduce-only SELL never sells more than the long.

:func:`~polytraders.model.orders.unwind_intent` builds the intent the kill switch's "unwind by
TWAP" policy sends for a position (reduce-only, the whole size): the desk's unwind bot
(:mod:`polytraders.desk.unwind`).
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from polytraders.bots.execution.smartrouter.pricing import passive_price, round_size
from polytraders.bots.execution.twap.config import SEARCH_SPACE, TwapConfig
from polytraders.bots.execution.twap.schedule import twap_slices
from polytraders.contracts.bot import BotBase
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.ids import client_order_id
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView, OrderRules
from polytraders.model.money import notional_micros
from polytraders.model.orders import (
    IntentAction,
    OrderIntent,
    Side,
    TimeInForce,
    VenueOrder,
    intent_problems,
)

_NS_PER_S = 1_000_000_000

SCHEDULED = "EXEC_TWAP_SCHEDULED"
CANCEL_ROUTED = "EXEC_TWAP_CANCEL_ROUTED"
CANCEL_NOTHING_OPEN = "EXEC_TWAP_CANCEL_NOTHING_OPEN"
SIZE_ROUNDED = "EXEC_TWAP_SIZE_ROUNDED"
INVALID_INTENT = "EXEC_TWAP_INVALID_INTENT"
UNKNOWN_TOKEN = "EXEC_TWAP_UNKNOWN_TOKEN"
UNSUPPORTED = "EXEC_TWAP_UNSUPPORTED"
EXPIRED = "EXEC_TWAP_EXPIRED"
BELOW_MIN_SIZE = "EXEC_TWAP_BELOW_MIN_SIZE"
CHILD_ROUTED = "EXEC_TWAP_CHILD_ROUTED"
CHILD_SHRUNK = "EXEC_TWAP_CHILD_SHRUNK"
CHILD_TOO_SMALL = "EXEC_TWAP_CHILD_TOO_SMALL"
DEPTH_THIN = "EXEC_TWAP_DEPTH_THIN"
BOOK_UNUSABLE = "EXEC_TWAP_BOOK_UNUSABLE"
LIMIT_AWAY = "EXEC_TWAP_LIMIT_AWAY"
NOTHING_HELD = "EXEC_TWAP_NOTHING_HELD"
BELOW_MIN_NOTIONAL = "EXEC_TWAP_BELOW_MIN_NOTIONAL"


class Twap(BotBase[TwapConfig]):
    """Time-weighted child orders for approved intents. See the module docstring."""

    bot_id: ClassVar[str] = "exec.twap"
    bot_class: ClassVar[BotClass] = BotClass.EXECUTION
    version: ClassVar[str] = "0.2.0"
    Config: ClassVar[type[TwapConfig]] = TwapConfig
    RUNTIME_BUDGET: ClassVar[RuntimeBudget] = RuntimeBudget(
        decision_p95_us=250,
        decision_p99_us=1000,
        error_rate_max_ppm=1_000,
        reject_rate_min_bps=0,
        reject_rate_max_bps=5_000,
        calibration=(
            "not yet calibrated on a recorded run: the same latency budget as "
            "exec.smartrouter (one book walk per release, one slicing per intent); the reject "
            "band is wide because skipped children (thin depth) are REFUSE envelopes by design"
        ),
    )
    SEARCH_SPACE: ClassVar[SearchSpace] = SEARCH_SPACE
    reason_codes: ClassVar[frozenset[str]] = frozenset(
        {
            SCHEDULED,
            CANCEL_ROUTED,
            CANCEL_NOTHING_OPEN,
            SIZE_ROUNDED,
            INVALID_INTENT,
            UNKNOWN_TOKEN,
            UNSUPPORTED,
            EXPIRED,
            BELOW_MIN_SIZE,
            CHILD_ROUTED,
            CHILD_SHRUNK,
            CHILD_TOO_SMALL,
            DEPTH_THIN,
            BOOK_UNUSABLE,
            LIMIT_AWAY,
            NOTHING_HELD,
            BELOW_MIN_NOTIONAL,
        }
    )

    # ------------------------------------------------------------------ decide
    def decide(self, intent: OrderIntent, view: DeskView, /) -> RoutePlan:
        """The schedule for one approved intent (see the module docstring). Never raises on
        bad input: refusals are plans with a registered hard code and nothing to do."""
        target = intent.target_intent_id
        cancels = self._orders_of(target, view) if intent.action is not IntentAction.PLACE else ()
        if intent.action is IntentAction.CANCEL:
            code = CANCEL_ROUTED if cancels else CANCEL_NOTHING_OPEN
            return RoutePlan(cancel_client_order_ids=cancels, reason_codes=(code,))
        after = (CANCEL_ROUTED,) if cancels else ()
        refusal = self._refusal(intent, view)
        if refusal:
            return RoutePlan(cancel_client_order_ids=cancels, reason_codes=(refusal, *after))
        rules = view.order_rules(intent.token_id)
        assert rules is not None  # checked by _refusal
        step = self._lot(intent.token_id, rules, view)
        size = round_size(intent.size, step)
        codes = (SIZE_ROUNDED,) if size != intent.size else ()
        duration_s, slices = (
            (self.config.unwind_duration_s, self.config.unwind_slice_count)
            if intent.reduce_only
            else (self.config.duration_s, self.config.slice_count)
        )
        duration_ns = duration_s * _NS_PER_S
        if intent.time_in_force is TimeInForce.GTD:
            duration_ns = min(duration_ns, intent.expire_at_ns - view.now_ns)
        children = (
            twap_slices(
                size,
                start_ns=view.now_ns,
                duration_ns=duration_ns,
                slices=slices,
                min_size=max(rules.min_order_size, step),
                step=step,
            )
            if size > 0
            else ()
        )
        if not children:
            return RoutePlan(cancel_client_order_ids=cancels, reason_codes=(BELOW_MIN_SIZE, *after))
        return RoutePlan(
            cancel_client_order_ids=cancels,
            reason_codes=(SCHEDULED, *codes, *after),
            children=children,
        )

    def _refusal(self, intent: OrderIntent, view: DeskView) -> str:
        """The hard code refusing ``intent``, or ""."""
        if intent_problems(intent):
            return INVALID_INTENT
        if view.order_rules(intent.token_id) is None:
            return UNKNOWN_TOKEN
        if intent.post_only or intent.notional or intent.time_in_force is TimeInForce.FOK:
            return UNSUPPORTED
        if (
            intent.time_in_force is TimeInForce.GTD
            and intent.expire_at_ns - view.now_ns < _NS_PER_S
        ):
            return EXPIRED
        return ""

    def _orders_of(self, target_intent_id: str, view: DeskView) -> tuple[str, ...]:
        if not target_intent_id:
            return ()
        return tuple(
            sorted(
                o.client_order_id
                for o in view.open_orders()
                if o.intent_id == target_intent_id and o.status.is_open
            )
        )

    # ------------------------------------------------------------------ release
    def release(self, child: OrderIntent, leg: int, view: DeskView, /) -> RoutePlan:
        """One FAK order for a due ``child`` (the parent intent with the size it may still
        send) at leg ``leg``, or a skip (no orders, a warning code). See the module
        docstring."""
        rules = view.order_rules(child.token_id)
        if rules is None:
            return RoutePlan(reason_codes=(UNKNOWN_TOKEN,))
        token = view.token(child.token_id)  # None for a crypto instrument
        book = view.book(child.token_id)
        side = child.side
        touch = None if book is None else book.best_bid() if side is Side.SELL else book.best_ask()
        if view.is_stale(child.token_id) or book is None or book.is_crossed() or touch is None:
            return RoutePlan(reason_codes=(BOOK_UNUSABLE,))
        tick = rules.tick_size
        reach = self.config.max_cross_ticks * tick
        limit = passive_price(side, child.price, tick)
        if side is Side.SELL:
            limit = max(limit, touch - reach)
            if limit > touch:
                return RoutePlan(reason_codes=(LIMIT_AWAY,))
        else:
            limit = min(limit, touch + reach)
            if limit < touch:
                return RoutePlan(reason_codes=(LIMIT_AWAY,))
        step = self._lot(child.token_id, rules, view)
        minimum = max(rules.min_order_size, step)
        cap = self._holding_cap(child, view)
        if cap is not None and cap < minimum:
            return RoutePlan(reason_codes=(NOTHING_HELD,))
        want = round_size(child.size if cap is None else min(child.size, cap), step)
        if want < minimum:
            return RoutePlan(reason_codes=(CHILD_TOO_SMALL,))
        pct = self.config.max_depth_take_pct
        reachable = book.walk(side, limit, size=-(-want * 100 // pct)).size
        size = round_size(min(want, reachable * pct // 100), step)
        if size < minimum:
            return RoutePlan(reason_codes=(DEPTH_THIN,))
        worst = book.walk(side, limit, size=size).fills[-1][0]
        price = passive_price(side, worst, tick)
        if notional_micros(price, size) < self.config.min_child_notional_micros:
            return RoutePlan(reason_codes=(BELOW_MIN_NOTIONAL,))
        order = VenueOrder(
            client_order_id=client_order_id(child.intent_id, leg),
            intent_id=child.intent_id,
            bot_id=child.bot_id,
            token_id=child.token_id,
            side=side,
            price=price,
            size=size,
            time_in_force=TimeInForce.FAK,
            reduce_only=child.reduce_only,
            ts_created_ns=view.now_ns,
        )
        if token is not None:  # Polymarket's venue fields (an instrument has none)
            order = msgspec.structs.replace(
                order,
                market_id=token.market_id,
                builder_code=child.builder_code or view.account.builder_code,
                exchange="neg_risk" if token.neg_risk else "ctf",
            )
        codes = (CHILD_ROUTED, CHILD_SHRUNK) if size < child.size else (CHILD_ROUTED,)
        return RoutePlan(orders=(order,), reason_codes=codes)

    def _lot(self, token_id: str, rules: OrderRules, view: DeskView) -> int:
        """Size grid: ``size_step_micros`` for an outcome token, the instrument's own size
        increment for a crypto instrument."""
        return rules.size_step if view.instrument(token_id) else self.config.size_step_micros

    def _holding_cap(self, child: OrderIntent, view: DeskView) -> int | None:
        """Most a child may send given what is held: a SELL the shares held less our other
        open sells of the token; a reduce-only BUY the short less our open buys (a perpetual's
        reduce-only SELL likewise the long); None for a BUY, or a perpetual's SELL, that may
        add exposure (a perpetual SELL beyond the long opens a short)."""
        if not child.reduce_only:
            instrument = view.instrument(child.token_id)
            if child.side is Side.BUY or (instrument is not None and instrument.perpetual):
                return None
        position = view.position(child.token_id)
        held = 0 if position is None else position.size * -child.side.sign
        committed = sum(
            o.remaining_size
            for o in view.open_orders(child.token_id)
            if o.side is child.side and o.status.is_open
        )
        return held - committed
