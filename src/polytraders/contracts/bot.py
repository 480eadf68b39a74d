"""The generic bot protocol ``Bot[I, O]`` and its three class shapes (DESIGN.md "Contracts").

``decide(input, view)`` is pure and deterministic: no I/O, no clock reads (time is
``view.now_ns``), no randomness except the seeded ``random.Random`` the desk hands to the
constructor. State a bot keeps between events lives in explicit attributes that ``reset()``
clears.

- Strategy: ``decide(event, view) -> Proposal`` — the event that just happened, the desk after
  it was applied.
- Risk: ``decide(intent, view) -> RiskDecision``.
- Execution: ``decide(intent, view) -> RoutePlan``.
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from polytraders.contracts.config import BotConfig, config_problems
from polytraders.contracts.decisions import Proposal, RiskDecision, RoutePlan
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
    mode_support: ClassVar[frozenset[Mode]]
    reason_codes: ClassVar[frozenset[str]]
    can_halt: ClassVar[bool]

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
    mode_support: ClassVar[frozenset[Mode]] = frozenset(
        {Mode.STUB, Mode.SHADOW, Mode.ADVISORY, Mode.ENFORCED, Mode.QUARANTINE}
    )
    reason_codes: ClassVar[frozenset[str]] = frozenset()
    can_halt: ClassVar[bool] = False

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
    defaults valid); search space consistent with the config; declared modes include STUB and
    QUARANTINE; HALT authority only for risk bots; every declared reason code registered, with
    the class's prefix (or ``SYS_``) and this bot (or the desk) as owner.
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
    modes: frozenset[Mode] = getattr(bot_cls, "mode_support", frozenset())
    if Mode.STUB not in modes or Mode.QUARANTINE not in modes:
        problems.append(f"{bot_id}: mode_support must include STUB and QUARANTINE")
    if getattr(bot_cls, "can_halt", False) and bot_class is not BotClass.RISK:
        problems.append(f"{bot_id}: only risk bots may hold HALT authority")
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
