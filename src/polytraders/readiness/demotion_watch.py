"""Demotion in a running desk: a live, paper or shadow session runs the demotion monitor on its
own clock and takes a demoted bot out of ENFORCED (seed 001: "its mode in the running desk
drops").

:class:`DemotionWatch` checks at its first poll (a session polls at the start of every step,
before any event is decided) and then every :data:`CHECK_INTERVAL_NS` of the session's clock.
Each check, for every bot of the desk:

- a bot in General live is checked (:func:`polytraders.readiness.demotion.check`), which
  records its demotion when a condition has held for 24 hours;
- a bot whose latest recorded move is a demotion (by this check, by ``polytraders demotion
  check``, or by another session) is dropped in the desk (:meth:`Desk.demote
  <polytraders.desk.desk.Desk.demote>`: ENFORCED → SHADOW, a ``BotModeChanged`` desk event
  ``GOV_DEMOTION_APPLIED``, never ENFORCED again in this desk), and a
  ``GOV_DEMOTION_APPLIED`` audit entry is written in the session's run.

A bot that never reached General live (every bot of a paper desk trying a new strategy) is
never touched: only a recorded demotion drops a bot. A bot promoted back to General live
while the session runs stays out of ENFORCED until the next session starts.

The interval is a constant, not a setting: nothing configures or turns off demotion. The
conditions change at most once per hourly bucket (error rate) or when an alert, finding or
reconciliation is recorded, so a demotion reaches a running desk at most 10 minutes of its
clock after the 24th hour. The check reads the store on the decision loop (a few indexed
reads per bot; the General-live bots' conditions also scan their envelopes of the last
24 hours).
"""

from __future__ import annotations

from polytraders.desk.desk import Desk
from polytraders.model.events import BotModeChanged
from polytraders.readiness.demotion import DEMOTION_ACTOR, check, demoted_row
from polytraders.readiness.lifecycle import State
from polytraders.store import EventStore, RunRef

CHECK_INTERVAL_NS = 600 * 1_000_000_000
"""How often (session clock) a running desk checks: 10 minutes."""
GOV_DEMOTION_APPLIED = "GOV_DEMOTION_APPLIED"


class DemotionWatch:
    """The demotion monitor of one running desk.

    Args:
        store: the session's event store (its promotions, alerts, findings, envelopes).
        desk: the desk whose bots are checked and dropped.
        run: the session's run attempt (the audit entries are written in it), or None.
        now_ns: the session's clock at start: the first :meth:`poll` at or after it checks.
        actor: who records (default :data:`~polytraders.readiness.demotion.DEMOTION_ACTOR`).
    """

    def __init__(
        self,
        store: EventStore,
        desk: Desk,
        *,
        run: RunRef | str | None,
        now_ns: int,
        actor: str = DEMOTION_ACTOR,
    ) -> None:
        self.store = store
        self.desk = desk
        self.run = run
        self.actor = actor
        self.applied: list[BotModeChanged] = []
        """Every mode change this watch made in the desk, in order."""
        self._next_ns = now_ns

    def poll(self, now_ns: int) -> list[BotModeChanged]:
        """Check when due (at start, then every :data:`CHECK_INTERVAL_NS`); returns the mode
        changes made now.

        Raises:
            StoreError: a read or write failed.
        """
        if now_ns < self._next_ns:
            return []
        self._next_ns = now_ns + CHECK_INTERVAL_NS
        return self.check(now_ns)

    def check(self, now_ns: int) -> list[BotModeChanged]:
        """Check every bot of the desk now (module docstring); returns the mode changes made.

        Raises:
            StoreError: a read or write failed.
        """
        changes: list[BotModeChanged] = []
        for bot_id in self._bot_ids():
            if bot_id in self.desk.demoted:
                continue
            result = check(self.store, bot_id, now_ns, actor=self.actor)
            if result.state is not State.GENERAL_LIVE and result.state is not State.LIMITED_LIVE:
                continue
            row = result.demotion or demoted_row(self.store, bot_id)
            if row is None:
                continue
            detail = f"demoted at {row.ts_ns} ({row.evaluation_id}): {row.detail}"
            change = self.desk.demote(
                bot_id, reason_code=GOV_DEMOTION_APPLIED, source=self.actor, detail=detail
            )
            self.store.audit(
                actor=self.actor,
                action=GOV_DEMOTION_APPLIED,
                ts_ns=now_ns,
                run=self.run,
                detail={
                    "bot_id": bot_id,
                    "promotion_row": row.row_id,
                    "evaluation_id": row.evaluation_id,
                    "evidence_digest": row.evidence_digest,
                    "old_mode": change.old_mode if change is not None else "",
                    "new_mode": change.new_mode if change is not None else "",
                    "trading_state": self.desk.state.trading_state.value,
                },
            )
            if change is not None:
                changes.append(change)
        self.applied += changes
        return changes

    def _bot_ids(self) -> list[str]:
        desk = self.desk
        slots = (*desk.strategies.slots, *desk.risk.slots, *desk.execution.slots)
        return list(dict.fromkeys(s.bot_id for s in slots))
