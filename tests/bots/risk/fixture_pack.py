"""Fixture packs of the risk bots: load one JSON case and run it through the real desk.

A case file ``tests/fixtures/bots/<bot_id>/<case>.json`` (case: normal, warning, hard, failure)
holds:

- ``bot_id``, ``case``, ``description``; ``source``: where its market data comes from (the real
  Polymarket sample ``data/samples/polymarket/resolvedkit_btc15m``, market and snapshot times)
  and what was changed by hand;
- ``config``: overrides of the bot's default config;
- ``state``: the arguments of :meth:`polytraders.desk.state.DeskState.build` as JSON, plus per
  book its ``last_update_ns`` (books are then stamped with that time, not ``now_ns``);
- ``intent``: the :class:`OrderIntent`;
- ``harness``: options of :func:`polytraders.desk.harness.run_risk`;
- ``expected``: the chain's ``verdict``, ``reason_codes`` and ``decided_by``, the bot's envelope
  ``decision``, the reshaped ``size``/``notional`` when reshaped, and the desk's
  ``trading_state`` and ``kill_switch_tripped`` afterwards.

The state is the desk's own :class:`DeskState` and the run goes through the desk's
:class:`RiskChain` (gate, authority checks, quarantine, envelopes): nothing is re-implemented
here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from polytraders.bots.risk.compliancegate import ComplianceGate
from polytraders.bots.risk.drawdownguard import DrawdownGuard
from polytraders.bots.risk.exposureguard import ExposureGuard
from polytraders.bots.risk.killswitch import KillSwitch
from polytraders.bots.risk.markethaltguard import MarketHaltGuard
from polytraders.bots.risk.marketqualityguard import MarketQualityGuard
from polytraders.bots.risk.stalebookguard import StaleBookGuard
from polytraders.contracts.modes import Mode
from polytraders.contracts.view import AccountIdentity, VenueState
from polytraders.desk.harness import RiskRun, run_risk
from polytraders.desk.state import DeskState
from polytraders.model.events import TradingState
from polytraders.model.market import Market
from polytraders.model.orders import OrderIntent, VenueOrder

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "bots"
CASES = ("normal", "warning", "hard", "failure")

RISK_BOTS: dict[str, Any] = {
    cls.bot_id: cls
    for cls in (
        KillSwitch,
        ComplianceGate,
        MarketHaltGuard,
        StaleBookGuard,
        MarketQualityGuard,
        ExposureGuard,
        DrawdownGuard,
    )
}
"""The seven risk guards by bot id, in the desk's chain order."""


@dataclass(frozen=True)
class Pack:
    """One parsed fixture case."""

    path: Path
    bot_id: str
    case: str
    description: str
    config: dict[str, Any]
    state: dict[str, Any]
    intent: OrderIntent
    harness: dict[str, Any]
    expected: dict[str, Any]


def pack_path(bot_id: str, case: str) -> Path:
    """Where a case file lives."""
    return FIXTURES / bot_id / f"{case}.json"


def load_pack(path: Path) -> Pack:
    """Parse one case file.

    Raises:
        KeyError / msgspec.ValidationError: a malformed case file.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    return Pack(
        path=path,
        bot_id=data["bot_id"],
        case=data["case"],
        description=data["description"],
        config=data.get("config", {}),
        state=data["state"],
        intent=msgspec.convert(data["intent"], OrderIntent),
        harness=data.get("harness", {}),
        expected=data["expected"],
    )


def build_bot(bot_id: str, config: dict[str, Any]) -> Any:
    """The bot with its default config updated by ``config`` (validated by pydantic)."""
    cls = RISK_BOTS[bot_id]
    return cls(cls.Config(**config))


def build_state(spec: dict[str, Any]) -> DeskState:
    """A :class:`DeskState` from a case's ``state`` section (see the module docstring)."""
    books = {
        token_id: ([tuple(x) for x in book["bids"]], [tuple(x) for x in book["asks"]])
        for token_id, book in spec.get("books", {}).items()
    }
    state = DeskState.build(
        now_ns=spec["now_ns"],
        markets=[msgspec.convert(m, Market) for m in spec.get("markets", [])],
        books=books,
        positions={t: (p[0], p[1]) for t, p in spec.get("positions", {}).items()},
        cash=spec.get("cash", 0),
        open_orders=[msgspec.convert(o, VenueOrder) for o in spec.get("open_orders", [])],
        trading_state=TradingState(spec.get("trading_state", "ACTIVE")),
        kill_switch_tripped=spec.get("kill_switch_tripped", False),
        venue_state=VenueState(spec.get("venue_state", "NORMAL")),
        account=msgspec.convert(spec.get("account", {}), AccountIdentity),
        stale_tokens=spec.get("stale_tokens", []),
        tick_changes_ns=spec.get("tick_changes_ns", {}),
        peak_equity=spec.get("peak_equity"),
        day_start_equity=spec.get("day_start_equity"),
        last_feed_event_ns=spec.get("last_feed_event_ns", 0),
        last_venue_heartbeat_ns=spec.get("last_venue_heartbeat_ns", 0),
        consecutive_errors=spec.get("consecutive_errors", 0),
    )
    for token_id, (bids, asks) in books.items():  # re-stamp with the recorded update time
        state.set_book(token_id, bids, asks, spec["books"][token_id]["last_update_ns"])
    return state


def run_pack(pack: Pack, mode: Mode = Mode.ENFORCED) -> tuple[RiskRun, DeskState]:
    """Run the case through the desk's risk chain holding only this bot."""
    state = build_state(pack.state)
    bot = build_bot(pack.bot_id, pack.config)
    run = run_risk(
        bot,
        pack.intent,
        state,
        mode,
        run_id=f"run-fixture-{pack.bot_id}-{pack.case}",
        causation_id=f"fixture:{pack.case}",
        require_known_tokens=pack.harness.get("require_known_tokens", True),
    )
    return run, state
