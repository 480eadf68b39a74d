"""Fixture packs: load a bot's fixture case, run it through the desk's own harness, compare.

Every bot has four cases, ``<repo>/tests/fixtures/bots/<bot_id>/<case>.json`` with ``case`` in
:data:`CASES` (seed 002, Impl items 5–8: normal, warning, hard threshold, failure injection).
Each holds ``bot_id``, ``case``, ``description``, ``source`` (where its market data comes
from: the real Polymarket sample ``data/samples/polymarket/resolvedkit_btc15m``), ``config``
(overrides of the bot's default config) and a desk ``state`` built from that sample, in one of
two formats:

**Risk format** (the seven guards; key ``intent``):

- ``state``: the arguments of :meth:`~polytraders.desk.state.DeskState.build` as JSON
  (crypto guards: ``instruments`` and ``funding_rates_ppb``, their source the Binance USDⓈ-M
  sample ``data/samples/binance/usdm_btcusdt_20240808.gz``), with
  per book its ``last_update_ns`` (the book is stamped with that time, not the clock), positions
  as ``[size, cost basis]``, ``stale_tokens``, ``account`` (public addresses), equity figures;
- ``intent``: the :class:`~polytraders.model.orders.OrderIntent` under review;
- ``harness``: options of :func:`~polytraders.desk.harness.run_risk`
  (``require_known_tokens``);
- ``expected``: the chain's ``verdict``, ``reason_codes`` and ``decided_by``, the bot's
  envelope ``decision``, the reshaped fields (``reshaped``) when reshaped, and the desk's
  ``trading_state`` and ``kill_switch_tripped`` afterwards.

**Decision format** (strategies and execution bots; key ``input``):

- ``state``: markets, books (stamped at the clock), positions ``[size, cost basis]``, open
  orders, clock, trading state, ``stale`` tokens; cash defaults to 1,000 pUSD and the account
  to :data:`ACCOUNT`;
- ``input``: a tagged event (strategy: the event just applied) or a tagged intent (execution:
  the approved intent to route);
- ``expected``: the bot's envelope ``decision``, its ``reason_codes`` and ``output`` (the
  proposal or route plan, tagged).

:func:`run_case` builds the desk state the case describes (:class:`DeskState`, the desk's own)
and runs the bot through :mod:`polytraders.desk.harness` (the desk's risk chain, strategy runner
or execution runner: gate, intake and authority checks, quarantine, envelopes), then compares
with ``expected``: a :class:`CaseRun` whose ``problems`` is empty when the case passed.
Nothing is re-implemented here; the harness is the desk's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

from polytraders.bots.registry import BOTS
from polytraders.contracts.decisions import Proposal, RoutePlan
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.modes import BotClass, Mode
from polytraders.contracts.view import AccountIdentity, VenueState
from polytraders.desk.harness import run_execution, run_risk, run_strategy
from polytraders.desk.sinks import EnvelopeSink
from polytraders.desk.state import DeskState
from polytraders.model.events import AnyEvent, TradingState
from polytraders.model.market import Instrument, Market
from polytraders.model.orders import OrderIntent, VenueOrder
from polytraders.readiness.context import find_repository

CASES: tuple[str, ...] = ("normal", "warning", "hard", "failure")
"""The four cases of every pack (seed 002, Impl items 5–8), in that order."""
FIXTURES_DIR = Path("tests") / "fixtures" / "bots"
"""Where the packs live, relative to the repository root."""
BUILDER_CODE = "0xb000000000000000000000000000000000000000000000000000000000003f7a"
"""The builderCode shown on the operator's promotion-path page (seed 000)."""
ACCOUNT = AccountIdentity(
    signer="0x" + "1" * 40, funder="0x" + "2" * 40, signature_type=2, builder_code=BUILDER_CODE
)
"""The desk identity of every decision-format case (public addresses only)."""
DEFAULT_CASH = 1_000_000_000
"""Free collateral of a decision-format case without ``cash`` (1,000 pUSD, micro)."""

RISK_BOTS: dict[str, Any] = {
    bot_id: cls for bot_id, cls in BOTS.items() if cls.bot_class is BotClass.RISK
}
"""The risk guards by bot id (library order)."""

QUARANTINED = "SYS_BOT_QUARANTINED"


class PackFormat(StrEnum):
    """The two case formats (module docstring)."""

    RISK = "risk"
    DECISION = "decision"


@cache
def source_repository() -> Path:
    """The repository this module runs from (a source checkout).

    Raises:
        RepositoryNotFoundError: installed without its repository (packs live in ``tests/``).
    """
    return find_repository(Path(__file__))


def pack_path(bot_id: str, case: str, repo: Path | None = None) -> Path:
    """Where one case file lives (``repo`` defaults to :func:`source_repository`)."""
    return (
        (repo if repo is not None else source_repository())
        / FIXTURES_DIR
        / bot_id
        / (f"{case}.json")
    )


@dataclass(frozen=True)
class Pack:
    """One parsed case file (either format).

    Attributes:
        path: the file.
        data: the parsed JSON (never mutated; :func:`pack_from_data` builds a new pack).
        bot_id, case, description: from the file.
        format: :class:`PackFormat`.
        config: overrides of the bot's default config.
        state: the ``state`` section.
        input: the decoded input (an :class:`OrderIntent`, or for a strategy an event).
        harness: harness options (risk format).
        expected: the ``expected`` section.
    """

    path: Path
    data: Mapping[str, Any]
    bot_id: str
    case: str
    description: str
    format: PackFormat
    config: dict[str, Any]
    state: dict[str, Any]
    input: OrderIntent | AnyEvent
    harness: dict[str, Any]
    expected: dict[str, Any]

    @property
    def intent(self) -> OrderIntent:
        """The input as an intent (risk and execution cases).

        Raises:
            TypeError: a strategy case (its input is an event).
        """
        if not isinstance(self.input, OrderIntent):
            raise TypeError(f"{self.bot_id}/{self.case}: the input is an event, not an intent")
        return self.input


def pack_from_data(path: Path, data: Mapping[str, Any]) -> Pack:
    """A :class:`Pack` from a case's parsed JSON (``path`` only names it).

    Raises:
        KeyError, msgspec.ValidationError: a malformed case.
    """
    fmt = PackFormat.RISK if "intent" in data else PackFormat.DECISION
    raw_input = data["intent"] if fmt is PackFormat.RISK else data["input"]
    decoded: OrderIntent | AnyEvent
    if fmt is PackFormat.RISK or raw_input.get("type") == "intent":
        decoded = msgspec.convert(raw_input, OrderIntent)
    else:
        decoded = event_from(raw_input)
    return Pack(
        path=path,
        data=data,
        bot_id=data["bot_id"],
        case=data["case"],
        description=data["description"],
        format=fmt,
        config=dict(data.get("config", {})),
        state=copy.deepcopy(data["state"]),
        input=decoded,
        harness=dict(data.get("harness", {})),
        expected=copy.deepcopy(data["expected"]),
    )


def load_pack(path: Path) -> Pack:
    """Parse one case file.

    Raises:
        OSError: unreadable file; ValueError: not JSON; KeyError, msgspec.ValidationError: a
            malformed case.
    """
    return pack_from_data(path, json.loads(path.read_text(encoding="utf-8")))


def load_case(bot_id: str, case: str, repo: Path | None = None) -> dict[str, Any]:
    """One case's parsed JSON, a fresh copy free to edit (tests derive variants from it)."""
    data: dict[str, Any] = json.loads(pack_path(bot_id, case, repo).read_text(encoding="utf-8"))
    return data


def build_bot(bot_id: str, config: Mapping[str, Any] | None = None) -> Any:
    """A library bot with its default config updated by ``config`` (validated by pydantic).

    Raises:
        KeyError: not a library bot; pydantic.ValidationError: a bad override.
    """
    cls = BOTS[bot_id]
    return cls(cls.Config(**dict(config or {})))


def build_risk_state(spec: Mapping[str, Any]) -> DeskState:
    """A :class:`DeskState` from a risk-format ``state`` section (module docstring): books
    stamped with their own ``last_update_ns``."""
    books = {
        token_id: ([tuple(x) for x in book["bids"]], [tuple(x) for x in book["asks"]])
        for token_id, book in spec.get("books", {}).items()
    }
    state = DeskState.build(
        now_ns=spec["now_ns"],
        markets=[msgspec.convert(m, Market) for m in spec.get("markets", [])],
        instruments=[msgspec.convert(i, Instrument) for i in spec.get("instruments", [])],
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
        funding_rates_ppb=spec.get("funding_rates_ppb", {}),
        peak_equity=spec.get("peak_equity"),
        day_start_equity=spec.get("day_start_equity"),
        last_feed_event_ns=spec.get("last_feed_event_ns", 0),
        last_venue_heartbeat_ns=spec.get("last_venue_heartbeat_ns", 0),
        consecutive_errors=spec.get("consecutive_errors", 0),
    )
    for token_id, (bids, asks) in books.items():  # re-stamp with the recorded update time
        state.set_book(token_id, bids, asks, spec["books"][token_id]["last_update_ns"])
    return state


def build_state(state: Mapping[str, Any], account: AccountIdentity = ACCOUNT) -> DeskState:
    """A :class:`DeskState` from a decision-format ``state`` section (books stamped at the
    clock; cash :data:`DEFAULT_CASH` unless given; ``account`` as the desk identity)."""
    return DeskState.build(
        now_ns=state["now_ns"],
        markets=[msgspec.convert(m, Market) for m in state["markets"]],
        books={
            token: ([tuple(x) for x in b["bids"]], [tuple(x) for x in b["asks"]])
            for token, b in state.get("books", {}).items()
        },
        positions={t: (size, cost) for t, (size, cost) in state.get("positions", {}).items()},
        cash=state.get("cash", DEFAULT_CASH),
        open_orders=[msgspec.convert(o, VenueOrder) for o in state.get("open_orders", [])],
        trading_state=TradingState(state.get("trading_state", "ACTIVE")),
        kill_switch_tripped=state.get("kill_switch_tripped", False),
        stale_tokens=state.get("stale", []),
        account=account,
    )


def pack_state(pack: Pack) -> DeskState:
    """The desk state a case describes (either format), fresh for each call."""
    if pack.format is PackFormat.RISK:
        return build_risk_state(pack.state)
    return build_state(pack.state)


def event_from(data: Mapping[str, Any]) -> AnyEvent:
    """Decode one tagged event object."""
    event: AnyEvent = msgspec.convert(data, AnyEvent)
    return event


def intent_from(data: Mapping[str, Any]) -> OrderIntent:
    """Decode one tagged intent object."""
    return msgspec.convert(data, OrderIntent)


def run_pack(
    pack: Pack, mode: Mode = Mode.ENFORCED, bot: Any | None = None
) -> tuple[Any, DeskState]:
    """Run a risk-format case through the desk's risk chain holding only its bot (or ``bot``);
    returns the harness's :class:`~polytraders.desk.harness.RiskRun` and the state after."""
    state = build_risk_state(pack.state)
    run = run_risk(
        bot if bot is not None else build_bot(pack.bot_id, pack.config),
        pack.intent,
        state,
        mode,
        run_id=f"run-fixture-{pack.bot_id}-{pack.case}",
        causation_id=f"fixture:{pack.case}",
        require_known_tokens=pack.harness.get("require_known_tokens", True),
    )
    return run, state


@dataclass(frozen=True)
class CaseRun:
    """One case run through the desk in one mode, compared with its ``expected``.

    Attributes:
        pack: the case.
        mode: the mode the bot ran in.
        envelopes: every envelope of the run (the bot's and the desk's), in order.
        reason_codes: the codes of this bot's envelopes, in order.
        quarantined: the desk quarantined the bot during the run (or it started so).
        quarantine_reason: the code that quarantined it ("" when not).
        problems: every way the run differs from what the case expects (empty: passed).
        verdict: risk: the chain's verdict; else "".
        forwarded: what the desk hands on towards the venue: risk — the approved (possibly
            reshaped) intent; strategy — its ENFORCED intents; execution — empty.
        plan: execution — the checked route plan the desk would send (None when refused or
            not ENFORCED); else None.
        state: the desk state after the run.
    """

    pack: Pack
    mode: Mode
    envelopes: tuple[ReportEnvelope, ...]
    reason_codes: tuple[str, ...]
    quarantined: bool
    quarantine_reason: str
    problems: tuple[str, ...]
    verdict: str
    forwarded: tuple[OrderIntent, ...]
    plan: RoutePlan | None
    state: DeskState

    @property
    def passed(self) -> bool:
        """True when the run matched the case."""
        return not self.problems

    @property
    def bot_envelopes(self) -> tuple[ReportEnvelope, ...]:
        """This bot's envelopes."""
        return tuple(e for e in self.envelopes if e.bot_id == self.pack.bot_id)

    @property
    def all_codes(self) -> tuple[str, ...]:
        """Every reason code of every envelope of the run (the bot's and the desk's)."""
        return tuple(c for e in self.envelopes for c in e.reason_codes)


def run_case(
    pack: Pack,
    mode: Mode = Mode.ENFORCED,
    *,
    sink: EnvelopeSink | None = None,
    bot: Any | None = None,
) -> CaseRun:
    """Run ``pack`` through the desk's harness in ``mode`` and compare with its ``expected``.

    ENFORCED is compared with everything the case expects. The other modes are compared with
    what the desk documents for them: STUB — the bot does not run (no envelope of it, nothing
    applied); SHADOW/ADVISORY — one envelope of the bot in that mode with the expected
    decision, nothing applied; QUARANTINE — a risk or execution bot records a QUARANTINE
    envelope and fails closed (``SYS_BOT_QUARANTINED``), a quarantined strategy is not called
    and records nothing (:mod:`polytraders.desk.strategies`).

    Args:
        pack: the case.
        mode: the bot's mode (one of its ``mode_support``).
        sink: also receives every envelope as it is recorded (e.g. metrics).
        bot: run this bot instead of the library bot with the case's config (a wrapped copy
            for authority checks); the comparison is unchanged.

    Raises:
        ValueError: the bot does not support ``mode``.
    """
    state = pack_state(pack)
    the_bot = bot if bot is not None else build_bot(pack.bot_id, pack.config)
    run_id = f"run-fixture-{pack.bot_id}-{pack.case}"
    cause = f"fixture:{pack.case}"
    bot_class: BotClass = the_bot.bot_class
    if bot_class is BotClass.RISK:
        start = (state.trading_state, state.kill_switch_tripped)
        risk = run_risk(
            the_bot,
            pack.intent,
            state,
            mode,
            run_id=run_id,
            causation_id=cause,
            require_known_tokens=pack.harness.get("require_known_tokens", True),
            sink=sink,
        )
        outcome = risk.outcome
        envelopes, slot = tuple(risk.envelopes), risk.slot
        forwarded: tuple[OrderIntent, ...] = (outcome.intent,) if outcome.approved else ()
        plan = None
        verdict = outcome.verdict.value
        checks = _risk_checks(pack, mode, outcome, state, start)
    elif bot_class is BotClass.STRATEGY:
        event = pack.input
        if isinstance(event, OrderIntent):
            raise TypeError(f"{pack.bot_id}/{pack.case}: a strategy case needs an event input")
        state.apply_event(event)  # the desk applies the event before the strategies see it
        strat = run_strategy(
            the_bot, event, state, mode, run_id=run_id, causation_id=cause, sink=sink
        )
        envelopes, slot = tuple(strat.envelopes), strat.slot
        forwarded, plan, verdict = tuple(strat.intents), None, ""
        checks = _strategy_checks(pack, mode, strat.intents)
    else:
        route = run_execution(
            the_bot, pack.intent, state, mode, run_id=run_id, causation_id=cause, sink=sink
        )
        envelopes, slot = tuple(route.envelopes), route.slot
        forwarded, plan, verdict = (), route.outcome.plan, ""
        checks = _execution_checks(pack, mode, route.outcome)
    mine = [e for e in envelopes if e.bot_id == pack.bot_id]
    problems = [*_envelope_checks(pack, mode, bot_class, mine), *checks]
    quarantined = slot.mode is Mode.QUARANTINE
    if quarantined and mode is not Mode.QUARANTINE:
        problems.append(f"the desk quarantined the bot: {slot.quarantine_reason}")
    return CaseRun(
        pack=pack,
        mode=mode,
        envelopes=envelopes,
        reason_codes=tuple(c for e in mine for c in e.reason_codes),
        quarantined=quarantined,
        quarantine_reason=slot.quarantine_reason,
        problems=tuple(problems),
        verdict=verdict,
        forwarded=forwarded,
        plan=plan,
        state=state,
    )


def run_bot_pack(bot_id: str, repo: Path, mode: Mode = Mode.ENFORCED) -> dict[str, CaseRun]:
    """Every case of ``bot_id``'s pack run in ``mode`` (case → run).

    Raises:
        OSError: a case file is missing or unreadable (a missing case is never a pass).
    """
    return {case: run_case(load_pack(pack_path(bot_id, case, repo)), mode) for case in CASES}


# ---------------------------------------------------------------------------- comparisons
def _diff(what: str, got: object, wanted: object) -> list[str]:
    return [] if got == wanted else [f"{what}: got {got!r}, expected {wanted!r}"]


def _envelope_checks(
    pack: Pack, mode: Mode, bot_class: BotClass, mine: list[ReportEnvelope]
) -> list[str]:
    """The bot's own envelopes, per mode (see :func:`run_case`)."""
    expected = pack.expected
    if mode is Mode.STUB or (mode is Mode.QUARANTINE and bot_class is BotClass.STRATEGY):
        return [f"{mode} bot recorded {len(mine)} envelopes, expected none"] if mine else []
    if len(mine) != 1:
        return [f"the bot recorded {len(mine)} envelopes, expected exactly one"]
    envelope = mine[0]
    problems = _diff("envelope mode", envelope.mode, mode)
    if mode is Mode.QUARANTINE:
        problems += _diff("envelope decision", envelope.decision, Decision.QUARANTINE)
        return problems + _diff("envelope codes", envelope.reason_codes, (QUARANTINED,))
    problems += _diff("decision", envelope.decision.value, expected["decision"])
    if pack.format is PackFormat.DECISION:
        problems += _diff("reason codes", list(envelope.reason_codes), expected["reason_codes"])
        wanted_type = Proposal if bot_class is BotClass.STRATEGY else RoutePlan
        problems += _diff(
            "output", envelope.output, msgspec.convert(expected["output"], wanted_type)
        )
    return problems


def _risk_checks(
    pack: Pack,
    mode: Mode,
    outcome: Any,
    state: DeskState,
    start: tuple[TradingState, bool],
) -> list[str]:
    expected = pack.expected
    after = (state.trading_state, state.kill_switch_tripped)
    if mode is Mode.ENFORCED:
        problems = _diff("verdict", outcome.verdict.value, expected["verdict"])
        problems += _diff("reason codes", list(outcome.reason_codes), expected["reason_codes"])
        problems += _diff("decided by", outcome.decided_by, expected["decided_by"])
        problems += _diff("trading state", state.trading_state.value, expected["trading_state"])
        problems += _diff(
            "kill switch tripped", state.kill_switch_tripped, expected["kill_switch_tripped"]
        )
        if "reshaped" in expected:
            problems += _diff("reshaped", outcome.reshaped, True)
            for field, value in expected["reshaped"].items():
                problems += _diff(f"reshaped {field}", getattr(outcome.intent, field), value)
        return problems
    if mode is Mode.QUARANTINE:  # fails closed, changes nothing
        problems = _diff("approved", outcome.approved, False)
        problems += _diff("reason codes", outcome.reason_codes, (QUARANTINED,))
        return problems + _diff("trading state / kill switch", after, start)
    # STUB, SHADOW, ADVISORY: recorded at most, never applied
    problems = _diff("decided by", outcome.decided_by == pack.bot_id, False)
    return problems + _diff("trading state / kill switch", after, start)


def _strategy_checks(pack: Pack, mode: Mode, intents: list[OrderIntent]) -> list[str]:
    got = [msgspec.to_builtins(i) for i in intents]
    if mode is Mode.ENFORCED:
        return _diff("intents", got, pack.expected["output"]["intents"])
    return _diff(f"intents applied in {mode}", got, [])


def _execution_checks(pack: Pack, mode: Mode, outcome: Any) -> list[str]:
    expected = pack.expected
    plan = outcome.plan
    if mode is Mode.ENFORCED:
        problems = _diff("reason codes", list(outcome.reason_codes), expected["reason_codes"])
        if expected["decision"] == "REFUSE":
            return problems + _diff("orders sent", list(plan.orders) if plan else [], [])
        return problems + _diff("plan", plan, msgspec.convert(expected["output"], RoutePlan))
    problems = _diff(f"plan applied in {mode}", plan, None)
    if mode is Mode.QUARANTINE:
        problems += _diff("reason codes", tuple(outcome.reason_codes), (QUARANTINED,))
    return problems


def translate_tokens(data: Any, rename: Callable[[str], str | None]) -> Any:
    """A copy of parsed JSON with every token id renamed: each string value and mapping key
    for which ``rename`` returns a new id (None: left as it is).

    Used to run a case against a venue that names the same recorded tokens otherwise (the
    simulator's uint256 ids); a decision must not depend on how a token id is spelled.
    """
    if isinstance(data, dict):
        return {(rename(k) or k): translate_tokens(v, rename) for k, v in data.items()}
    if isinstance(data, list):
        return [translate_tokens(v, rename) for v in data]
    if isinstance(data, str):
        return rename(data) or data
    return data
