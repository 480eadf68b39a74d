"""``polytraders incident``: the incident log in the event store (open, close, list).

An incident is attributed to a library bot or to the ``desk``, has a tier (P0, P1, P2) and an
origin (``bot``, ``venue``, ``desk``); a drill is a replayed incident that exercises the
runbook. Closing records the resolution and whether the runbook was exercised (the Runtime
score's item 5). Rules: :mod:`polytraders.store.incidents`.

Exit codes: 0 recorded / listed; 1 closing an incident that is already closed; 2 a bad option,
an unknown bot or incident, or a store problem (one line on stderr).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import typer

from polytraders.bots.registry import BOTS
from polytraders.commands.evidence_cli import (
    DEFAULT_STORE,
    JsonOption,
    StoreOption,
    known_bot,
    opened,
    print_json,
)
from polytraders.store.incidents import (
    ErrorOrigin,
    Incident,
    Severity,
    close_incident,
    list_incidents,
    open_incident,
)
from polytraders.store.lease import utc_text

app = typer.Typer(
    name="incident",
    help="The incident log: open, close and list incidents attributed to a bot or the desk.",
    no_args_is_help=True,
)

OperatorOption = Annotated[
    str, typer.Option("--operator", help="Who acts (recorded with the incident and audited).")
]


@app.command("open")
def open_(
    bot: Annotated[str, typer.Option("--bot", help="The bot it is attributed to, or desk.")],
    severity: Annotated[Severity, typer.Option("--severity", help="Tier: P0, P1 or P2.")],
    title: Annotated[str, typer.Option("--title", help="What happened, one line.")],
    operator: OperatorOption,
    store: StoreOption = DEFAULT_STORE,
    detail: Annotated[str, typer.Option("--detail", help="More about it.")] = "",
    drill: Annotated[
        bool, typer.Option("--drill", help="A replayed incident (a runbook drill).")
    ] = False,
    origin: Annotated[
        ErrorOrigin, typer.Option("--origin", help="Whose failure: bot, venue or desk.")
    ] = ErrorOrigin.BOT,
) -> None:
    """Open an incident; prints its id (``inc-`` + 16 hex digits)."""
    known_bot(bot, "--bot")
    with opened(store) as handle:
        incident = open_incident(
            handle,
            bot_id=bot,
            severity=severity.value,
            title=title,
            operator=operator,
            known_bots=BOTS,
            detail=detail,
            drill=drill,
            origin=origin.value,
        )
    kind = "drill" if drill else "incident"
    typer.echo(
        f"{incident.incident_id} opened: {kind} {incident.severity.value} of {incident.bot_id} "
        f"({incident.error_origin.value}) by {operator}: {incident.title}"
    )


@app.command("close")
def close(
    incident_id: Annotated[str, typer.Argument(help="The incident's id (inc-…).")],
    operator: OperatorOption,
    resolution: Annotated[str, typer.Option("--resolution", help="What resolved it.")],
    store: StoreOption = DEFAULT_STORE,
    runbook_exercised: Annotated[
        bool,
        typer.Option("--runbook-exercised", help="The bot's runbook was followed to resolve it."),
    ] = False,
) -> None:
    """Close an open incident (refused, exit 1, when it is already closed)."""
    with opened(store) as handle:
        incident = close_incident(
            handle,
            incident_id,
            operator=operator,
            resolution=resolution,
            runbook_exercised=runbook_exercised,
        )
    runbook = "runbook exercised" if incident.runbook_exercised else "runbook not exercised"
    typer.echo(f"{incident.incident_id} closed by {operator} ({runbook}): {resolution}")


def _document(incident: Incident) -> dict[str, object]:
    document: dict[str, object] = msgspec.to_builtins(incident)
    document["state"] = incident.state
    return document


@app.command("list")
def list_(
    store: StoreOption = DEFAULT_STORE,
    bot: Annotated[str | None, typer.Option("--bot", help="Only this bot's incidents.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every incident (of --bot) with its state, oldest first."""
    if bot is not None:
        known_bot(bot, "--bot")
    with opened(store) as handle:
        incidents = list_incidents(handle, bot_id=bot)
        where = handle.url
    if as_json:
        print_json([_document(i) for i in incidents])
        return
    if not incidents:
        typer.echo(f"no incidents{' of ' + bot if bot else ''} in {where}")
        return
    for i in incidents:
        drill = " drill" if i.drill else ""
        typer.echo(
            f"{i.incident_id}  {i.severity.value}{drill}  {i.state:<6}  {i.bot_id} "
            f"({i.error_origin.value})  opened {utc_text(i.opened_ns)} by {i.opened_by}: {i.title}"
        )
        if i.closed_ns is not None:
            runbook = "runbook exercised" if i.runbook_exercised else "runbook not exercised"
            typer.echo(
                f"{'':<4}closed {utc_text(i.closed_ns)} by {i.closed_by} ({runbook}): "
                f"{i.resolution}"
            )
    typer.echo(f"{len(incidents)} incident(s) in {where}")
