r"""``BotSlot``: one bot as the desk runs it — its mode, decision budget and quarantine state.

The desk never trusts a bot's own claims at run time: the slot caches the bot's identity
(id, class, version, config version) once, holds the mode the operator gave it, and moves it to
QUARANTINE when it raises, overruns its decision budget, or returns an invalid or unauthorised
output (DESIGN.md "Contracts"). Quarantine is sticky until :meth:`BotSlot.release` (an operator
action).

Decision latency: under a simulated clock the slot's ``modelled_latency_ns`` is the decision's
latency (deterministic, so replays stay byte-identical and a time-out is a modelled fact); under
a live clock the desk measures the CPU time the deciding thread spends in the bot's call
(``time.thread_time_ns``), so the budget measures the bot, not the machine: time the thread
waits — for the interpreter lock held by the market-data thread, for the OS scheduler, in a
sleep — is not counted, nor is a garbage collection that happens to run during the call
(:mod:`polytraders.desk.decision_cpu`).

A decision whose latency exceeds ``budget_ns`` is judged by :meth:`BotSlot.over_budget`:

- a modelled latency is exact, so one overrun is a time-out (``SYS_BOT_TIMEOUT``, quarantine);
- a measured latency is a sample of a noisy clock: on a virtual machine the time the hypervisor
  takes the vCPU away (steal) is charged to whichever thread was running, as its own CPU time.
  A 30 µs computation measured at 1.47 ms of user CPU with no context switch, once in 1.78
  million, and bots quarantined by single 6.1–6.5 ms "decisions" whose mean is 74 µs, were seen
  on this project's 2-core machines (``python -m bench live_rss``). So a measured overrun
  quarantines only when it exceeds :data:`OVERRUN_CEILING_FACTOR` × the budget, or is the
  third (:data:`OVERRUN_LIMIT`) within :data:`OVERRUN_WINDOW_NS` of desk time; otherwise the one
  decision is refused (``SYS_BOT_OVER_BUDGET``): never applied where it could add risk.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from polytraders.contracts.authority import Capability
from polytraders.contracts.bot import monitor_interval_ns
from polytraders.contracts.envelope import BotFailure
from polytraders.contracts.modes import BotClass, Mode

DEFAULT_BUDGET_NS = 5_000_000
"""Default decision budget per bot call: 5 ms."""

OVERRUN_LIMIT = 3
"""Measured overruns within :data:`OVERRUN_WINDOW_NS` that quarantine a bot (the third)."""

OVERRUN_WINDOW_NS = 600_000_000_000
"""The window (ns of desk time, 10 minutes) over which measured overruns are counted."""

OVERRUN_CEILING_FACTOR = 3
"""A measured decision longer than this many budgets quarantines at once (15 ms for 5 ms)."""

SYS_BOT_TIMEOUT = "SYS_BOT_TIMEOUT"
SYS_BOT_OVER_BUDGET = "SYS_BOT_OVER_BUDGET"

DEFAULT_MODELLED_LATENCY_NS = 0
"""Default modelled decision latency under a simulated clock (0: decisions are instantaneous)."""


STARTED_QUARANTINED = BotFailure(code="SYS_BOT_QUARANTINED", message="started in QUARANTINE")
"""The failure recorded for a slot created in QUARANTINE mode."""


def _overrun_message(latency_ns: int, slot: BotSlot, measured: bool) -> str:
    """The message of a ``SYS_BOT_TIMEOUT``: the latency against the slot's budget, naming the
    thread CPU time when it was measured (live clock)."""
    what = " of thread CPU time" if measured else ""
    return f"{latency_ns} ns{what} > {slot.budget_ns} ns"


class Quarantine(msgspec.Struct, frozen=True, kw_only=True):
    """A quarantined bot and why (``DeskResult.quarantined``, checkpoints).

    Fields:
        bot_id, bot_class: the bot.
        from_mode: the mode it failed in (only a bot quarantined from ENFORCED fails closed).
        ts_ns: desk time of the failure (ns since epoch).
        failure: code, message, exception type, ``file:line`` location and field
            (:class:`~polytraders.contracts.envelope.BotFailure`, also the output of the bot's
            ERROR envelope).
    """

    bot_id: str
    bot_class: BotClass
    from_mode: Mode
    ts_ns: int
    failure: BotFailure


class BotSlot:
    """A bot with its run-time mode.

    Args:
        bot: any object satisfying the :class:`~polytraders.contracts.bot.Bot` protocol.
        mode: STUB, SHADOW, ADVISORY, ENFORCED (or QUARANTINE to start it quarantined); must be
            one of ``bot.mode_support``.
        budget_ns: decision budget (ns of the deciding thread's CPU time under a live clock);
            a decision taking longer is a time-out.
        modelled_latency_ns: latency recorded (and checked against the budget) under a
            simulated clock.

    Attributes:
        bot_id, bot_class, version, config_version, capabilities: cached from the bot.
        monitor_interval_ns: period of the bot's monitor step (0: none; see
            :func:`~polytraders.contracts.bot.monitor_interval_ns`).
        mode: current mode (QUARANTINE after a failure).
        quarantined: the :class:`Quarantine` (mode it failed in, time, failure) while the slot
            is quarantined, else None; only a bot quarantined from ENFORCED fails closed — a
            failing shadow or advisory bot never had any authority to lose.

    Raises:
        ValueError: a mode the bot does not support, or a negative budget/latency.
    """

    __slots__ = (
        "bot",
        "bot_class",
        "bot_id",
        "budget_ns",
        "capabilities",
        "config_version",
        "decide",
        "mode",
        "modelled_latency_ns",
        "monitor_interval_ns",
        "overrun_times_ns",
        "quarantined",
        "version",
    )

    def __init__(
        self,
        bot: Any,
        mode: Mode = Mode.ENFORCED,
        *,
        budget_ns: int = DEFAULT_BUDGET_NS,
        modelled_latency_ns: int = DEFAULT_MODELLED_LATENCY_NS,
    ) -> None:
        if mode not in bot.mode_support:
            raise ValueError(f"{bot.bot_id} does not support mode {mode}")
        if budget_ns <= 0 or modelled_latency_ns < 0:
            raise ValueError("budget_ns must be positive and modelled_latency_ns non-negative")
        self.bot = bot
        self.bot_id: str = bot.bot_id
        self.bot_class: BotClass = bot.bot_class
        self.version: str = bot.version
        self.config_version: str = bot.config.config_version
        self.capabilities: frozenset[Capability] = frozenset(getattr(bot, "capabilities", ()))
        self.monitor_interval_ns: int = monitor_interval_ns(bot)
        self.decide = bot.decide
        self.mode = mode
        self.budget_ns = budget_ns
        self.modelled_latency_ns = modelled_latency_ns
        self.quarantined: Quarantine | None = None
        self.overrun_times_ns: deque[int] = deque()
        if mode is Mode.QUARANTINE:
            self.quarantined = Quarantine(
                bot_id=self.bot_id,
                bot_class=self.bot_class,
                from_mode=Mode.ENFORCED,
                ts_ns=0,
                failure=STARTED_QUARANTINED,
            )

    @property
    def fails_closed(self) -> bool:
        """True when the slot is quarantined from ENFORCED: a risk bot then rejects every
        intent, an execution bot refuses every route, a strategy proposes nothing."""
        quarantined = self.quarantined
        return (
            self.mode is Mode.QUARANTINE
            and quarantined is not None
            and quarantined.from_mode is Mode.ENFORCED
        )

    @property
    def quarantine_reason(self) -> str:
        """The reason code that quarantined the slot ("" when it is not quarantined)."""
        return self.quarantined.failure.code if self.quarantined is not None else ""

    def over_budget(self, latency_ns: int, measured: bool, now_ns: int) -> BotFailure:
        """Judge a decision whose latency exceeded the budget (see the module docstring).

        Args:
            latency_ns: the decision's latency, more than ``budget_ns``.
            measured: True when it is measured thread CPU time (live clock), False when it is
                the slot's modelled latency (simulated clock).
            now_ns: desk time of the decision (the overrun window counts in it).

        Returns:
            a ``SYS_BOT_TIMEOUT`` failure when the bot must be quarantined, else a
            ``SYS_BOT_OVER_BUDGET`` failure: this one decision is refused.
        """
        message = _overrun_message(latency_ns, self, measured)
        if not measured or latency_ns > OVERRUN_CEILING_FACTOR * self.budget_ns:
            return BotFailure(code=SYS_BOT_TIMEOUT, message=message)
        times = self.overrun_times_ns
        times.append(now_ns)
        while times[0] <= now_ns - OVERRUN_WINDOW_NS:
            times.popleft()
        if len(times) >= OVERRUN_LIMIT:
            window_s = OVERRUN_WINDOW_NS // 1_000_000_000
            return BotFailure(
                code=SYS_BOT_TIMEOUT,
                message=f"{message}: {len(times)} overruns within {window_s} s",
            )
        return BotFailure(code=SYS_BOT_OVER_BUDGET, message=message)

    def quarantine(self, failure: BotFailure, now_ns: int) -> None:
        """Move to QUARANTINE at desk time ``now_ns`` because of ``failure`` (idempotent: the
        first failure is kept)."""
        if self.mode is Mode.QUARANTINE:
            return
        self.quarantined = Quarantine(
            bot_id=self.bot_id,
            bot_class=self.bot_class,
            from_mode=self.mode,
            ts_ns=now_ns,
            failure=failure,
        )
        self.mode = Mode.QUARANTINE

    def release(self, mode: Mode) -> None:
        """Operator action: leave quarantine into ``mode``.

        Raises:
            ValueError: ``mode`` is QUARANTINE or not supported by the bot.
        """
        if mode is Mode.QUARANTINE or mode not in self.bot.mode_support:
            raise ValueError(f"cannot release {self.bot_id} into {mode}")
        self.mode = mode
        self.quarantined = None
        self.overrun_times_ns.clear()

    def __repr__(self) -> str:
        return f"BotSlot({self.bot_id!r}, mode={self.mode})"
