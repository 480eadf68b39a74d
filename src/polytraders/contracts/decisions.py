"""What bots return: :class:`Proposal` (strategy), :class:`RiskDecision` (risk) and
:class:`RoutePlan` (execution). All are immutable, tagged msgspec structs so envelopes can carry
them and decode them back exactly."""

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


class RoutePlan(msgspec.Struct, frozen=True, kw_only=True, tag="route_plan"):
    """An execution bot's plan for one approved intent.

    Fields:
        orders: venue orders to submit (empty when the intent is refused or is a pure cancel).
        cancel_client_order_ids: our orders to cancel first (cancel-before-place).
        reason_codes: ``EXEC_…`` codes (a refusal has a code and no orders).
    """

    orders: tuple[VenueOrder, ...] = ()
    cancel_client_order_ids: tuple[str, ...] = ()
    reason_codes: tuple[str, ...] = ()
