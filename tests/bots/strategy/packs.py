"""Fixture packs of ``strat.maker_tight`` and ``exec.smartrouter``: loading a case and building
the real desk state (:class:`~polytraders.desk.state.DeskState`) it describes.

A case file (``tests/fixtures/bots/<bot_id>/<case>.json``) holds a desk ``state`` built from the
real Polymarket sample (markets, books, positions as ``[size, cost basis]``, open orders, clock,
trading state, stale tokens), the ``input`` (an event for a strategy, an intent for an execution
bot), and the ``expected`` decision, reason codes and output. Tests edit the ``state`` dict to
derive variants (corrupt books, other positions) and build a fresh state from it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import msgspec

from polytraders.contracts.view import AccountIdentity
from polytraders.desk.state import DeskState
from polytraders.model.events import AnyEvent, TradingState
from polytraders.model.market import Market
from polytraders.model.orders import OrderIntent, VenueOrder

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bots"
BUILDER_CODE = "0xb000000000000000000000000000000000000000000000000000000000003f7a"
"""The builderCode shown on the operator's promotion-path page (seed 000)."""
ACCOUNT = AccountIdentity(
    signer="0x" + "1" * 40, funder="0x" + "2" * 40, signature_type=2, builder_code=BUILDER_CODE
)
"""The desk identity of every pack (public addresses only)."""


def load_case(bot_id: str, case: str) -> dict[str, Any]:
    """A deep copy of one case's parsed JSON (free to edit)."""
    data: dict[str, Any] = json.loads((FIXTURES / bot_id / f"{case}.json").read_text())
    return copy.deepcopy(data)


def build_state(state: dict[str, Any], account: AccountIdentity = ACCOUNT) -> DeskState:
    """The :class:`DeskState` a case's ``state`` describes (books stamped at the clock)."""
    return DeskState.build(
        now_ns=state["now_ns"],
        markets=[msgspec.convert(m, Market) for m in state["markets"]],
        books={
            token: ([tuple(x) for x in b["bids"]], [tuple(x) for x in b["asks"]])  # type: ignore[misc]
            for token, b in state.get("books", {}).items()
        },
        positions={t: (size, cost) for t, (size, cost) in state.get("positions", {}).items()},
        cash=state.get("cash", 1_000_000_000),
        open_orders=[msgspec.convert(o, VenueOrder) for o in state.get("open_orders", [])],
        trading_state=TradingState(state.get("trading_state", "ACTIVE")),
        kill_switch_tripped=state.get("kill_switch_tripped", False),
        stale_tokens=state.get("stale", []),
        account=account,
    )


def event_from(data: dict[str, Any]) -> AnyEvent:
    """Decode one tagged event object."""
    return msgspec.convert(data, AnyEvent)  # type: ignore[arg-type]


def intent_from(data: dict[str, Any]) -> OrderIntent:
    """Decode one tagged intent object."""
    return msgspec.convert(data, OrderIntent)
