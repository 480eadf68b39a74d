"""The generic bot protocol ``Bot[I, O]`` and its three class shapes (DESIGN.md "Contracts").

``decide(input, view)`` is pure and deterministic: no I/O, no clock reads (time is
``view.now_ns``), no randomness except the seeded ``random.Random`` the desk hands to the
constructor. State a bot keeps between events lives in explicit attributes that ``reset()``
clears.

- Strategy: ``decide(event, view) -> Proposal`` — the event that just happened, the desk after
  it was applied.
- Risk: ``decide(intent, view) -> RiskDecision``. A risk bot may also declare a monitor step
  (:class:`RiskMonitor`): ``monitor(view) -> MonitorDecision | None``, which the desk runs on a
  timer every ``Config.monitor_interval_ms`` of desk time (:class:`MonitorConfig`), so a
  condition that arises while no intent flows (feed silence, drawdown) still reduces or halts
  the desk.
- Execution: ``decide(intent, view) -> RoutePlan``. An execution bot whose plans schedule
  children (:class:`~polytraders.contracts.decisions.ChildSlice`, a TWAP) also has a release
  step (:class:`ChildRouter`): ``release(child, leg, view) -> RoutePlan``, which the desk calls
  when a child is due (:mod:`polytraders.desk.children`).

Rights over the desk's trading state (REDUCE, HALT, KILL_SWITCH) are declared in
``capabilities`` and enforced by the desk (:mod:`polytraders.contracts.authority`).
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import Field

from polytraders.contracts.authority import Capability, capability_problems
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.config import BotConfig, config_problems
from polytraders.contracts.decisions import MonitorDecision, Proposal, RiskDecision, RoutePlan
from polytraders.contracts.modes import BotClass, Mode
from polytraders.contracts.reasons import CLASS_PREFIXES, ReasonRegistry
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.model.events import AnyEvent
from polytraders.model.orders import OrderIntent

I_contra = TypeVar("I_contra", contravariant=True)
O_co = TypeVar("O_co", covariant=True)
C = TypeVar("C", bound=BotConfig)

BOT_ID_PREFIX: dict[BotClass, str] = {
    BotClass.STRATEGY: "strat.",
    BotClass.RISK: "risk.",
    BotClass.EXECUTION: "exec.",
}
"""Each class's bot-id prefix (``risk.stalebookguard``)."""

_BOT_ID = re.compile(r"^(strat|risk|exec)\.[a-z][a-z0-9_]*$")


class Bot(Protocol[I_contra, O_co]):
    """What every bot declares and does."""

    bot_id: ClassVar[str]
    bot_class: ClassVar[BotClass]
    version: ClassVar[str]
    Config: ClassVar[type[BotConfig]]
    SEARCH_SPACE: ClassVar[SearchSpace]
    RUNTIME_BUDGET: ClassVar[RuntimeBudget]
    mode_support: ClassVar[frozenset[Mode]]
    reason_codes: ClassVar[frozenset[str]]
    capabilities: ClassVar[frozenset[Capability]]

    @property
    def config(self) -> BotConfig: ...

    def decide(self, input: I_contra, view: DeskView, /) -> O_co:
        """Decide on one input. Pure and deterministic."""
        ...

    def reset(self) -> None:
        """Forget all state kept between events."""
        ...


StrategyBot = Bot[AnyEvent, Proposal]
RiskBot = Bot[OrderIntent, RiskDecision]
ExecutionBot = Bot[OrderIntent, RoutePlan]


class MonitorConfig(BotConfig):
    """Base of the ``Config`` of a risk bot with a monitor step: adds the monitor's period."""

    monitor_interval_ms: int = Field(default=0, ge=0, le=3_600_000)
    """Run the bot's monitor step every this many ms of desk time (simulated or live clock);
    0 never runs it (the bot then acts only on intents)."""


@runtime_checkable
class RiskMonitor(Protocol):
    """A risk bot with a monitor step (its ``Config`` subclasses :class:`MonitorConfig`).

    ``monitor`` is pure and deterministic like ``decide``; it reads only the view. It returns
    None when all is well, else a :class:`MonitorDecision` (REDUCE or HALT, each needing the
    matching capability). The desk records a finding as an envelope and applies it when the
    bot is ENFORCED (:mod:`polytraders.desk.monitors`).
    """

    def monitor(self, view: DeskView, /) -> MonitorDecision | None:
        """Judge the desk as it stands at ``view.now_ns``."""
        ...


@runtime_checkable
class ChildRouter(Protocol):
    """An execution bot whose plans may schedule children (:attr:`RoutePlan.children`).

    ``release`` is pure and deterministic like ``decide``. The desk calls it when a child is
    due with ``child`` = the parent intent (same id, token, side, limit price, flags) whose
    ``size`` is what the child may still send, and ``leg`` = the position whose client order
    id the child's order must carry (``client_order_id(child.intent_id, leg)``). It returns a
    plan of at most that size, with no cancels and no children; a plan without orders and with
    a code records a skipped child (the desk goes on with the next one).
    """

    def release(self, child: OrderIntent, leg: int, view: DeskView, /) -> RoutePlan:
        """Route one due child now, against the book in ``view``."""
        ...


def monitor_interval_ns(bot: Any) -> int:
    """How often the desk runs ``bot``'s monitor step (ns); 0 when it has none or it is off."""
    config = getattr(bot, "config", None)
    if not isinstance(bot, RiskMonitor) or not isinstance(config, MonitorConfig):
        return 0
    return config.monitor_interval_ms * 1_000_000


class BotBase(Generic[C]):
    """Convenience base for bots: holds the config and the seeded generator.

    Subclasses set the class attributes of :class:`Bot` and implement ``decide``; those
    keeping state override ``reset``.
    """

    bot_id: ClassVar[str]
    bot_class: ClassVar[BotClass]
    version: ClassVar[str] = "0.1.0"
    Config: ClassVar[type[BotConfig]]
    SEARCH_SPACE: ClassVar[SearchSpace]
    RUNTIME_BUDGET: ClassVar[RuntimeBudget]
    mode_support: ClassVar[frozenset[Mode]] = frozenset(
        {Mode.STUB, Mode.SHADOW, Mode.ADVISORY, Mode.ENFORCED, Mode.QUARANTINE}
    )
    reason_codes: ClassVar[frozenset[str]] = frozenset()
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self, config: C | None = None, rng: random.Random | None = None) -> None:
        self._config: C = config if config is not None else self.Config()  # type: ignore[assignment]
        if not isinstance(self._config, self.Config):
            raise TypeError(f"{self.bot_id} needs a {self.Config.__qualname__}")
        self.rng = rng if rng is not None else random.Random(0)

    @property
    def config(self) -> C:
        """This bot's frozen config."""
        return self._config

    def reset(self) -> None:
        """Stateless by default."""


def bot_problems(bot_cls: Any, registry: ReasonRegistry) -> list[str]:
    """Contract verification of a bot class (empty when it conforms).

    Checks: id format and class prefix; version set; config lint (units, docstrings, hard limits,
    defaults valid); search space consistent with the config; a sound runtime budget
    (:class:`~polytraders.contracts.budget.RuntimeBudget`); declared modes include STUB and
    QUARANTINE; capabilities a frozenset the class may hold (KILL_SWITCH with HALT), and no
    leftover ``can_halt`` (it would be silently ignored); a
    ``monitor`` method exactly when the Config is a :class:`MonitorConfig`, and only on a risk
    bot; every declared reason code registered, with the class's prefix (or ``SYS_``) and this
    bot (or the desk) as owner; a ``release`` step (:class:`ChildRouter`) only on an execution
    bot.
    """
    problems: list[str] = []
    bot_id = getattr(bot_cls, "bot_id", "")
    bot_class = getattr(bot_cls, "bot_class", None)
    if not _BOT_ID.match(bot_id):
        problems.append(f"bot_id {bot_id!r} is not '<strat|risk|exec>.<name>'")
    if not isinstance(bot_class, BotClass):
        return [*problems, f"{bot_id}: bot_class is not a BotClass"]
    if not bot_id.startswith(BOT_ID_PREFIX[bot_class]):
        problems.append(f"{bot_id}: id prefix does not match class {bot_class}")
    if not getattr(bot_cls, "version", ""):
        problems.append(f"{bot_id}: no version")
    config_cls = getattr(bot_cls, "Config", None)
    if not (isinstance(config_cls, type) and issubclass(config_cls, BotConfig)):
        return [*problems, f"{bot_id}: Config is not a BotConfig subclass"]
    problems += [f"{bot_id}: {p}" for p in config_problems(config_cls)]
    space = getattr(bot_cls, "SEARCH_SPACE", None)
    if not isinstance(space, SearchSpace) or space.config_cls is not config_cls:
        problems.append(f"{bot_id}: SEARCH_SPACE is not a SearchSpace over its Config")
    else:
        problems += [f"{bot_id}: search space: {p}" for p in space.problems()]
    budget = getattr(bot_cls, "RUNTIME_BUDGET", None)
    if not isinstance(budget, RuntimeBudget):
        problems.append(f"{bot_id}: RUNTIME_BUDGET is not a RuntimeBudget")
    else:
        problems += [f"{bot_id}: runtime budget: {p}" for p in budget.problems()]
    modes: frozenset[Mode] = getattr(bot_cls, "mode_support", frozenset())
    if Mode.STUB not in modes or Mode.QUARANTINE not in modes:
        problems.append(f"{bot_id}: mode_support must include STUB and QUARANTINE")
    if hasattr(bot_cls, "can_halt"):
        problems.append(f"{bot_id}: can_halt is gone; declare capabilities (Capability.HALT, …)")
    capabilities = getattr(bot_cls, "capabilities", None)
    if not isinstance(capabilities, frozenset) or not all(
        isinstance(c, Capability) for c in capabilities
    ):
        problems.append(f"{bot_id}: capabilities is not a frozenset of Capability")
    else:
        problems += [f"{bot_id}: {p}" for p in capability_problems(bot_class, capabilities)]
    has_monitor = callable(getattr(bot_cls, "monitor", None))
    if has_monitor != issubclass(config_cls, MonitorConfig):
        problems.append(f"{bot_id}: a monitor step needs a MonitorConfig, and vice versa")
    if has_monitor and bot_class is not BotClass.RISK:
        problems.append(f"{bot_id}: only risk bots may have a monitor step")
    if callable(getattr(bot_cls, "release", None)) and bot_class is not BotClass.EXECUTION:
        problems.append(f"{bot_id}: only execution bots may have a release step")
    prefix = CLASS_PREFIXES[bot_class]
    for code in sorted(getattr(bot_cls, "reason_codes", frozenset())):
        entry = registry.get(code)
        if entry is None:
            problems.append(f"{bot_id}: reason code {code} is not registered")
            continue
        if not code.startswith((prefix, "SYS_")):
            problems.append(f"{bot_id}: reason code {code} lacks the {prefix} prefix")
        if entry.owner not in (bot_id, "desk"):
            problems.append(f"{bot_id}: reason code {code} is owned by {entry.owner}")
    return problems
