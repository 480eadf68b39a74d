"""``polytraders demotion``: seed 001's automatic demotion, run from the command line (a cron
job, or an operator looking).

``check`` runs the monitor for every bot in General live at ``--now-ns`` (default: the
store's clock now) and records each demotion (``promotions`` row ``demoted``, ``GOV_DEMOTED``)
and the run of the monitor (``GOV_DEMOTION_CHECKED``). ``status BOT`` evaluates the four
conditions for one bot, whatever its state, and records nothing. Rules (what "holds for 24
consecutive hours" means for each condition): :mod:`polytraders.readiness.demotion`. There is
deliberately no option to skip a condition or to keep a bot from being demoted.

Exit codes: 0 done (whether or not a bot was demoted); 2 a bad option or a store problem (one
line on stderr).
"""

from __future__ import annotations

from typing import Annotated

import typer

from polytraders.commands.evidence_cli import (
    DEFAULT_STORE,
    JsonOption,
    StoreOption,
    known_bot,
    opened,
    print_json,
)
from polytraders.readiness.demotion import (
    DEMOTION_ACTOR,
    HOUR_NS,
    ConditionResult,
    DemotionCheck,
    check_all,
    evaluate,
)
from polytraders.store.lease import utc_text

app = typer.Typer(
    name="demotion",
    help="Automatic demotion (seed 001): check every bot in General live and record "
    "demotions; show one bot's four conditions.",
    no_args_is_help=True,
)

NowOption = Annotated[
    int | None,
    typer.Option("--now-ns", help="The monitor's clock (ns since the epoch); default: now."),
]


def _condition_json(c: ConditionResult) -> dict[str, object]:
    return {
        "condition": c.condition.value,
        "holds": c.holds,
        "held_ns": c.held_ns,
        "detail": c.detail,
        "evidence": {"ref": c.evidence.ref, "digest": c.evidence.digest},
    }


def _check_json(r: DemotionCheck) -> dict[str, object]:
    return {
        "bot_id": r.bot_id,
        "state": r.state.value,
        "now_ns": r.now_ns,
        "holding": [c.value for c in r.holding],
        "evidence_digest": r.digest,
        "demoted": r.demotion is not None,
        "conditions": [_condition_json(c) for c in r.conditions],
    }


def _condition_line(c: ConditionResult) -> str:
    mark = "HOLDS" if c.holds else f"{c.held_ns / HOUR_NS:5.2f} h"
    return f"  {c.condition.value:<22} {mark:>8}  {c.detail}"


@app.command("check")
def check_command(
    store: StoreOption = DEFAULT_STORE,
    now_ns: NowOption = None,
    actor: Annotated[str, typer.Option("--actor", help="Who records (audited).")] = (
        DEMOTION_ACTOR
    ),
    as_json: JsonOption = False,
) -> None:
    """Check every bot in General live and record the demotions due."""
    with opened(store) as handle:
        now = handle.wall_clock_ns() if now_ns is None else now_ns
        results = check_all(handle, now, actor=actor)
        where = handle.url
    if as_json:
        print_json([_check_json(r) for r in results])
        return
    if not results:
        typer.echo(f"no bot in General live in {where} ({utc_text(now)})")
        return
    for r in results:
        verdict = "DEMOTED to limited_live" if r.demotion is not None else "stays in general_live"
        if r.holding and r.demotion is None:
            verdict = "already demoted"
        typer.echo(f"{r.bot_id}: {verdict}")
        for c in r.conditions:
            typer.echo(_condition_line(c))
    demoted = sum(1 for r in results if r.demotion is not None)
    typer.echo(f"{len(results)} bot(s) checked at {utc_text(now)}, {demoted} demoted")


@app.command("status")
def status_command(
    bot: Annotated[str, typer.Argument(help="The bot.")],
    store: StoreOption = DEFAULT_STORE,
    now_ns: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """The four conditions of one bot over the 24 h ending now (records nothing)."""
    known_bot(bot, "BOT")
    with opened(store) as handle:
        now = handle.wall_clock_ns() if now_ns is None else now_ns
        conditions = evaluate(handle, bot, now)
    if as_json:
        print_json([_condition_json(c) for c in conditions])
        return
    typer.echo(f"{bot} over the 24 h ending {utc_text(now)}:")
    for c in conditions:
        typer.echo(_condition_line(c))
