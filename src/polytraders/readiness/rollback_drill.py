"""The rollback drill behind seed 000 stage 4's "rollback plan tested".

A rollback takes a bot back from its current release to the previous one. The drill rehearses
it on recorded data with the real desk: the desk runs the bot as its current release allows
(ENFORCED), and half-way through (or after ``after_events``) the desk demotes it
(:meth:`~polytraders.desk.desk.Desk.demote`, ``GOV_ROLLBACK_DRILL``), which is what the desk
does when a bot is demoted for real. Written checks, each recorded:

1. ``current_release_verifies``: the current release verifies for the code and config that run;
2. ``previous_release_verifies``: the previous accepted release verifies for the same code and
   config (a rollback that needs other code or config needs that desk redeployed, which this
   drill does not rehearse: it fails, and says so);
3. ``previous_release_allows_shadow``: the previous release reaches at least Shadow, the mode a
   demoted bot keeps running in;
4. ``demotion_applied``: the desk recorded the bot's change from ENFORCED (``BotModeChanged``
   with ``GOV_ROLLBACK_DRILL``);
5. ``enforced_before``: the bot decided ENFORCED before the demotion;
6. ``nothing_applied_after``: no decision of the bot after the demotion was ENFORCED;
7. ``run_sound``: the run ended and its recorded evidence passes the store's integrity check.

The drill passes when every check holds; it is recorded in ``rollback_drills`` with its run.
"""

from __future__ import annotations

from pathlib import Path

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import GOV_ROLLBACK_DRILL, run_desk
from polytraders.contracts.modes import Mode
from polytraders.feeds import open_source
from polytraders.model.events import BotModeChanged
from polytraders.readiness.governance.errors import GovernanceError
from polytraders.readiness.lifecycle import State
from polytraders.readiness.release_check import pinned_signers, reverify_release
from polytraders.readiness.release_subjects import desk_subjects
from polytraders.store import EventStore
from polytraders.store.releases import releases
from polytraders.store.rollback_drills import DrillCheck, RollbackDrillRow, record_drill


def run_drill(
    bot_id: str,
    *,
    desk: DeskFile,
    data: str | Path,
    store_url: str,
    gov_dir: Path,
    now_ns: int,
    actor: str,
    after_events: int | None = None,
) -> RollbackDrillRow:
    """Run and record one drill (module docstring); return the recorded row.

    Raises:
        GovernanceError: ``GOV_RELEASE_MISSING``: the bot has fewer than two accepted releases
            (nothing to roll back to), or the desk does not run it ENFORCED.
        RunRefusedError: the data or store is unusable.
        StoreError: the store failed.
    """
    subjects = desk_subjects(desk).get(bot_id)
    if subjects is None or subjects.mode is not Mode.ENFORCED:
        raise GovernanceError(
            "GOV_RELEASE_MISSING", f"{bot_id}: the desk must run it ENFORCED to drill a rollback"
        )
    with EventStore.open(store_url) as store:
        accepted = releases(store, bot_id=bot_id)
        if len(accepted) < 2:
            raise GovernanceError(
                "GOV_RELEASE_MISSING",
                f"{bot_id}: {len(accepted)} accepted release(s); a rollback needs a previous one",
            )
        current, previous = accepted[-1], accepted[-2]
        checks: list[DrillCheck] = []
        try:
            signers = pinned_signers(store, gov_dir, now_ns=now_ns)
        except GovernanceError as exc:
            signers = None
            checks.append(
                DrillCheck(name="current_release_verifies", passed=False, detail=str(exc))
            )
        if signers is not None:
            for name, release in (
                ("current_release_verifies", current),
                ("previous_release_verifies", previous),
            ):
                try:
                    reverify_release(
                        release, subjects=subjects, signers=signers, gov_dir=gov_dir, now_ns=now_ns
                    )
                    checks.append(
                        DrillCheck(name=name, passed=True, detail=f"release {release.sequence}")
                    )
                except GovernanceError as exc:
                    checks.append(DrillCheck(name=name, passed=False, detail=str(exc)))
        reaches = State(previous.to_state).position >= State.SHADOW.position
        checks.append(
            DrillCheck(
                name="previous_release_allows_shadow",
                passed=reaches,
                detail=f"release {previous.sequence} is to {State(previous.to_state).label}",
            )
        )
    if after_events is None:
        records = open_source(data).expected_records()
        if not records:
            raise GovernanceError(
                "GOV_RELEASE_MISSING", f"{data}: cannot count its records; give after_events"
            )
        after_events = records // 2
    at = after_events
    outcome = run_desk(data=data, desk_file=desk, store_url=store_url, demotions={bot_id: at})
    changes = [
        e
        for e in outcome.desk_result.desk_events
        if isinstance(e, BotModeChanged)
        and e.bot_id == bot_id
        and e.reason_code == GOV_ROLLBACK_DRILL
    ]
    checks.append(
        DrillCheck(
            name="demotion_applied",
            passed=len(changes) == 1,
            detail=(
                f"ENFORCED → {changes[0].new_mode} at {changes[0].ts_event_ns} ns after {at} events"
                if changes
                else f"no demotion recorded after {at} events"
            ),
        )
    )
    run_ref = f"{outcome.result.run_id}@{outcome.attempt}"
    with EventStore.open(store_url) as store:
        mine = [e for e in store.iter_envelopes(run_ref) if e.bot_id == bot_id]
        at_ns = changes[0].ts_event_ns if changes else None
        before = [e for e in mine if at_ns is None or e.ts_decided_ns < at_ns]
        after = [e for e in mine if at_ns is not None and e.ts_decided_ns >= at_ns]
        enforced_after = [e for e in after if e.mode is Mode.ENFORCED]
        checks.append(
            DrillCheck(
                name="enforced_before",
                passed=any(e.mode is Mode.ENFORCED for e in before),
                detail=f"{len(before)} decision(s) before the demotion",
            )
        )
        checks.append(
            DrillCheck(
                name="nothing_applied_after",
                passed=bool(after) and not enforced_after,
                detail=f"{len(after)} decision(s) after it, {len(enforced_after)} ENFORCED",
            )
        )
        problems = store.check_integrity(run_ref)
        checks.append(
            DrillCheck(
                name="run_sound",
                passed=not problems,
                detail=f"{outcome.status.value}; "
                + (problems[0] if problems else "integrity check passed"),
            )
        )
        drill = RollbackDrillRow(
            bot_id=bot_id,
            from_sequence=current.sequence,
            to_sequence=previous.sequence,
            run_id=outcome.result.run_id,
            attempt=outcome.attempt,
            passed=all(c.passed for c in checks),
            checks=tuple(checks),
            actor=actor,
            ts_ns=now_ns,
        )
        record_drill(store, drill)
    return drill
