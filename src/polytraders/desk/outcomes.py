"""``OutcomeBook``: what became of each intent of the ENFORCED strategies, for the view.

The desk tells the book what it decided (:meth:`OutcomeBook.refused`, :meth:`~OutcomeBook.approved`,
:meth:`~OutcomeBook.executed`); the desk state tells it about the orders sent for an intent
(:meth:`~OutcomeBook.order_added`, :meth:`~OutcomeBook.order_closed`). A working intent's
outcome is computed from its orders when asked, so it is never stale.

Status of a routed intent from its orders (micro-shares):

- some order still open: PARTIALLY_FILLED when anything filled, else OPEN when the venue has
  acknowledged an order (or a cancel is pending), else PENDING;
- every order closed: REFUSED (``decided_by`` "desk") or REJECTED (``decided_by`` "venue") when
  every order was rejected with nothing filled, with the first rejection's code; FILLED when
  every order filled (or the filled size reached the approved size); EXPIRED when an order
  expired; CANCELLED otherwise.

Memory: working intents are always kept; finished ones go to a per-bot ring of the last
``finished_per_bot`` (:class:`~polytraders.desk.desk.DeskConfig` ``outcomes_kept_per_bot``);
older ones are forgotten (:meth:`OutcomeBook.get` returns None for them).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from polytraders.contracts.view import IntentOutcome, IntentStatus
from polytraders.model.orders import IntentAction, OrderIntent, OrderStatus, Side, VenueOrder

DEFAULT_FINISHED_PER_BOT = 1_000
"""Finished outcomes kept per bot unless the desk config says otherwise."""

DESK = "desk"
VENUE = "venue"


@dataclass(slots=True)
class _Working:
    """A working intent: the approved intent's facts and the orders sent for it."""

    intent_id: str
    bot_id: str
    action: IntentAction
    token_id: str
    side: Side
    price: int
    size: int
    notional: int
    reshaped: bool
    reason_codes: tuple[str, ...]
    ts_proposed_ns: int
    client_order_ids: dict[str, None] = field(default_factory=dict)
    rejections: dict[str, tuple[str, str]] = field(default_factory=dict)
    """client order id → (who rejected it, code)."""
    executed: bool = False


class OutcomeBook:
    """Intent outcomes per bot, bounded (rules in the module docstring).

    Args:
        orders: the desk's client order id → order map (read, never changed).
        finished_per_bot: finished outcomes kept per bot (≥ 1).

    Raises:
        ValueError: ``finished_per_bot`` below 1.
    """

    def __init__(
        self,
        orders: Mapping[str, VenueOrder],
        finished_per_bot: int = DEFAULT_FINISHED_PER_BOT,
    ) -> None:
        self._orders = orders
        self._working: dict[str, _Working] = {}
        self._working_by_bot: dict[str, dict[str, _Working]] = {}
        self._finished: dict[str, IntentOutcome] = {}
        self._finished_by_bot: dict[str, deque[IntentOutcome]] = {}
        self._limit = 0
        self.finished_per_bot = finished_per_bot

    @property
    def finished_per_bot(self) -> int:
        """Finished outcomes kept per bot."""
        return self._limit

    @finished_per_bot.setter
    def finished_per_bot(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("finished_per_bot must be at least 1")
        self._limit = limit
        for ring in self._finished_by_bot.values():
            while len(ring) > limit:
                self._finished.pop(ring.popleft().intent_id, None)

    # ------------------------------------------------------------------ reads
    def get(self, intent_id: str) -> IntentOutcome | None:
        """The intent's outcome, or None when unknown or forgotten."""
        working = self._working.get(intent_id)
        if working is not None:
            return self._outcome(working)
        return self._finished.get(intent_id)

    def is_working(self, intent_id: str) -> bool:
        """True while the intent is working (its outcome is computed from its orders)."""
        return intent_id in self._working

    def of_bot(self, bot_id: str) -> list[IntentOutcome]:
        """The bot's finished outcomes (oldest first), then its working ones (proposal
        order)."""
        outcomes = list(self._finished_by_bot.get(bot_id, ()))
        outcomes += [self._outcome(w) for w in self._working_by_bot.get(bot_id, {}).values()]
        return outcomes

    # ------------------------------------------------------------------ the desk's decisions
    def refused(
        self, intent: OrderIntent, decided_by: str, reason_codes: tuple[str, ...], now_ns: int
    ) -> None:
        """The desk or a risk bot stopped ``intent`` before execution: REFUSED at once."""
        if intent.intent_id in self._working or intent.intent_id in self._finished:
            return  # a reused id was refused: the first intent's outcome stands
        self._finish(
            IntentOutcome(
                intent_id=intent.intent_id,
                bot_id=intent.bot_id,
                action=intent.action,
                token_id=intent.token_id,
                side=intent.side,
                status=IntentStatus.REFUSED,
                decided_by=decided_by or DESK,
                reason_codes=reason_codes,
                price=intent.price,
                size=intent.size,
                notional=intent.notional,
                ts_proposed_ns=now_ns,
                ts_updated_ns=now_ns,
            )
        )

    def approved(
        self, intent: OrderIntent, reason_codes: tuple[str, ...], reshaped: bool, now_ns: int
    ) -> None:
        """The risk chain approved ``intent`` (as reshaped): it is working until
        :meth:`executed` and its orders say otherwise. Call before the orders are sent."""
        record = _Working(
            intent_id=intent.intent_id,
            bot_id=intent.bot_id,
            action=intent.action,
            token_id=intent.token_id,
            side=intent.side,
            price=intent.price,
            size=intent.size,
            notional=intent.notional,
            reshaped=reshaped,
            reason_codes=reason_codes,
            ts_proposed_ns=now_ns,
        )
        self._working[record.intent_id] = record
        self._working_by_bot.setdefault(record.bot_id, {})[record.intent_id] = record

    def executed(
        self, intent_id: str, routed_by: str, reason_codes: tuple[str, ...], now_ns: int
    ) -> None:
        """The order manager carried out the routed intent. A CANCEL is DONE; an intent that
        sent no order was REFUSED by ``routed_by`` (the execution bot, or the desk when none
        routed) with ``reason_codes``; otherwise its orders decide from now on."""
        record = self._working.get(intent_id)
        if record is None:
            return
        record.executed = True
        record.reason_codes += reason_codes
        if record.action is IntentAction.CANCEL:
            self._close(record, IntentStatus.DONE, "", record.reason_codes, now_ns)
        elif not record.client_order_ids:
            self._close(record, IntentStatus.REFUSED, routed_by or DESK, reason_codes, now_ns)
        elif not any(self._orders[c].status.is_open for c in record.client_order_ids):
            self._close_from_orders(record)

    # ------------------------------------------------------------------ orders
    def order_added(self, order: VenueOrder) -> None:
        """An order was sent (or held) for ``order.intent_id``. An open order of an intent the
        book does not know (a restored checkpoint, a fixture) starts a working record."""
        record = self._working.get(order.intent_id)
        if record is None:
            if not order.status.is_open or order.intent_id in self._finished:
                return
            record = _Working(
                intent_id=order.intent_id,
                bot_id=order.bot_id,
                action=IntentAction.PLACE,
                token_id=order.token_id,
                side=order.side,
                price=order.price,
                size=order.size,
                notional=order.notional,
                reshaped=False,
                reason_codes=(),
                ts_proposed_ns=order.ts_created_ns,
                executed=True,
            )
            self._working[record.intent_id] = record
            self._working_by_bot.setdefault(record.bot_id, {})[record.intent_id] = record
        record.client_order_ids[order.client_order_id] = None

    def order_closed(self, order: VenueOrder, rejected_by: str = "", reason_code: str = "") -> None:
        """``order`` reached a final status; ``rejected_by`` ("desk" or "venue") and
        ``reason_code`` when it was rejected. The intent finishes when its last order closes."""
        record = self._working.get(order.intent_id)
        if record is None or order.client_order_id not in record.client_order_ids:
            return
        if rejected_by:
            record.rejections[order.client_order_id] = (rejected_by, reason_code)
        if record.executed and not any(
            self._orders[c].status.is_open for c in record.client_order_ids
        ):
            self._close_from_orders(record)

    # ------------------------------------------------------------------ internals
    def _orders_of(self, record: _Working) -> list[VenueOrder]:
        return [self._orders[c] for c in record.client_order_ids]

    def _outcome(
        self,
        record: _Working,
        status: IntentStatus | None = None,
        decided_by: str = "",
        reason_codes: tuple[str, ...] | None = None,
        now_ns: int = 0,
    ) -> IntentOutcome:
        orders = self._orders_of(record)
        filled = sum(o.filled_size for o in orders)
        updated = max([record.ts_proposed_ns, now_ns, *(o.ts_updated_ns for o in orders)])
        if status is None:
            status, decided_by, codes = self._status(record, orders, filled)
        else:
            codes = record.reason_codes if reason_codes is None else reason_codes
        return IntentOutcome(
            intent_id=record.intent_id,
            bot_id=record.bot_id,
            action=record.action,
            token_id=record.token_id,
            side=record.side,
            status=status,
            decided_by=decided_by,
            reason_codes=codes,
            price=record.price,
            size=record.size,
            notional=record.notional,
            reshaped=record.reshaped,
            filled_size=filled,
            client_order_ids=tuple(record.client_order_ids),
            ts_proposed_ns=record.ts_proposed_ns,
            ts_updated_ns=updated,
        )

    def _status(
        self, record: _Working, orders: list[VenueOrder], filled: int
    ) -> tuple[IntentStatus, str, tuple[str, ...]]:
        codes = record.reason_codes
        if any(o.status.is_open for o in orders):
            if filled:
                return IntentStatus.PARTIALLY_FILLED, "", codes
            if any(o.status is not OrderStatus.PENDING_NEW for o in orders if o.status.is_open):
                return IntentStatus.OPEN, "", codes
            return IntentStatus.PENDING, "", codes
        if not orders:
            return IntentStatus.PENDING, "", codes
        if not filled and all(o.status is OrderStatus.REJECTED for o in orders):
            by, code = record.rejections.get(orders[0].client_order_id, (VENUE, ""))
            status = IntentStatus.REFUSED if by == DESK else IntentStatus.REJECTED
            return status, by, (code,) if code else ()
        if all(o.status is OrderStatus.FILLED for o in orders) or (
            record.size and filled >= record.size
        ):
            return IntentStatus.FILLED, "", codes
        if any(o.status is OrderStatus.EXPIRED for o in orders):
            return IntentStatus.EXPIRED, "", codes
        return IntentStatus.CANCELLED, "", codes

    def _close_from_orders(self, record: _Working) -> None:
        self._drop_working(record)
        self._finish(self._outcome(record))

    def _close(
        self,
        record: _Working,
        status: IntentStatus,
        decided_by: str,
        reason_codes: tuple[str, ...],
        now_ns: int,
    ) -> None:
        self._drop_working(record)
        self._finish(self._outcome(record, status, decided_by, reason_codes, now_ns))

    def _drop_working(self, record: _Working) -> None:
        del self._working[record.intent_id]
        by_bot = self._working_by_bot[record.bot_id]
        del by_bot[record.intent_id]
        if not by_bot:
            del self._working_by_bot[record.bot_id]

    def _finish(self, outcome: IntentOutcome) -> None:
        ring = self._finished_by_bot.get(outcome.bot_id)
        if ring is None:
            ring = self._finished_by_bot[outcome.bot_id] = deque()
        if len(ring) >= self._limit:
            self._finished.pop(ring.popleft().intent_id, None)
        ring.append(outcome)
        self._finished[outcome.intent_id] = outcome
