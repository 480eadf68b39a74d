"""What bots return: :class:`Proposal` (strategy), :class:`RiskDecision` (risk),
:class:`MonitorDecision` (a risk bot's monitor step) and :class:`RoutePlan` (execution). All are
immutable, tagged msgspec structs so envelopes can carry them and decode them back exactly.

A :class:`RoutePlan` may schedule :class:`ChildSlice` releases (a TWAP): the field is
``msgspec.UNSET`` when a plan has none, so a plan without children encodes exactly as before the
field existed (recorded timelines and their hashes are unchanged)."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from polytraders.model.events import TradingState
from polytraders.model.orders import OrderIntent, VenueOrder


class Proposal(msgspec.Struct, frozen=True, kw_only=True, tag="proposal"):
    """A strategy's output for one event: intents (PLACE, CANCEL, REPLACE) and the reason codes
    explaining them (``STRAT_…``). An empty proposal means "nothing to do"."""

    intents: tuple[OrderIntent, ...] = ()
    reason_codes: tuple[str, ...] = ()


class Verdict(StrEnum):
    """A risk bot's verdict on one intent.

    APPROVE: pass unchanged. REJECT: stop the intent. RESHAPE: replace it with ``reshaped``,
    which must be no riskier (see :mod:`polytraders.contracts.authority`). HALT: reject and halt
    the desk (only for bots whose class and declaration grant it).
    """

    APPROVE = "APPROVE"
    REJECT = "REJECT"
    RESHAPE = "RESHAPE"
    HALT = "HALT"


class RiskDecision(msgspec.Struct, frozen=True, kw_only=True, tag="risk_decision"):
    """A risk bot's decision on one intent.

    Fields:
        verdict: APPROVE, REJECT, RESHAPE or HALT.
        reason_codes: registered codes (warnings may accompany an APPROVE).
        reshaped: the replacement intent for RESHAPE, else None.
        set_state: a trading state the bot asks the desk to enter (REDUCING or HALTED), or None.
            Only bots granted halt authority may ask for HALTED.
    """

    verdict: Verdict
    reason_codes: tuple[str, ...] = ()
    reshaped: OrderIntent | None = None
    set_state: TradingState | None = None


APPROVE = RiskDecision(verdict=Verdict.APPROVE)
"""The plain approval (no codes), shared to avoid allocating one per intent."""


class MonitorAction(StrEnum):
    """What a risk bot's monitor step asks of the desk when something is wrong.

    REDUCE: enter REDUCING (applied only while the desk is ACTIVE: a HALTED desk is never
    loosened). HALT: enter HALTED; from a bot holding the KILL_SWITCH capability, trip the kill
    switch.
    """

    REDUCE = "REDUCE"
    HALT = "HALT"


class MonitorDecision(msgspec.Struct, frozen=True, kw_only=True, tag="monitor_decision"):
    """A risk bot's finding from its timed monitor step (no intent involved).

    A monitor returns None when all is well, else this.

    Fields:
        action: REDUCE or HALT (each needs the matching capability).
        reason_codes: registered codes of the bot saying why (at least one).
    """

    action: MonitorAction
    reason_codes: tuple[str, ...]


class ChildSlice(msgspec.Struct, frozen=True, kw_only=True):
    """One scheduled child of a parent intent (a TWAP slice).

    Fields:
        release_ns: desk time (ns since epoch) at or after which the desk asks the execution
            bot to route this child (:class:`~polytraders.contracts.bot.ChildRouter`).
        size: micro-shares this slice adds to the parent's cumulative target (> 0).
    """

    release_ns: int
    size: int


class RoutePlan(msgspec.Struct, frozen=True, kw_only=True, tag="route_plan"):
    """An execution bot's plan for one approved intent.

    Fields:
        orders: venue orders to submit (empty when the intent is refused or is a pure cancel).
        cancel_client_order_ids: our orders to cancel first (cancel-before-place).
        reason_codes: ``EXEC_…`` codes (a refusal has a code and no orders).
        children: slices the desk releases later, in order, each routed by the same bot's
            ``release`` step when due (rules: :mod:`polytraders.desk.children`); ``UNSET``
            (never encoded) when the plan has none. Use :attr:`child_slices` to read it.
    """

    orders: tuple[VenueOrder, ...] = ()
    cancel_client_order_ids: tuple[str, ...] = ()
    reason_codes: tuple[str, ...] = ()
    children: tuple[ChildSlice, ...] | msgspec.UnsetType = msgspec.UNSET

    @property
    def child_slices(self) -> tuple[ChildSlice, ...]:
        """The scheduled children (empty when there are none)."""
        children = self.children
        return () if isinstance(children, msgspec.UnsetType) else children
