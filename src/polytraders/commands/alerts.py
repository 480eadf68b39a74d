"""``polytraders alerts``: alert notifications received from Alertmanager, in the event store.

``ingest FILE`` records an Alertmanager webhook payload (JSON; ``-`` reads stdin): every alert
needs an ``alertname``, a ``severity`` of P0, P1 or P2 and a fingerprint; its bot is the
``bot`` (else ``bot_id``) label, else the desk. Notifications already on record are skipped.
``list`` prints each alert instance with its firing interval. Rules:
:mod:`polytraders.store.alerts`.

Exit codes: 0 done; 2 a bad option, an unreadable or malformed payload, or a store problem
(one line on stderr).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from polytraders.commands.evidence_cli import (
    DEFAULT_STORE,
    JsonOption,
    StoreOption,
    fail,
    opened,
    print_json,
)
from polytraders.store.alerts import (
    AlertState,
    FiringInterval,
    alerted_bots,
    firing_intervals,
    ingest_webhook,
)
from polytraders.store.incidents import Severity
from polytraders.store.lease import utc_text

app = typer.Typer(
    name="alerts",
    help="Alert notifications from Alertmanager: ingest a webhook payload, list firings.",
    no_args_is_help=True,
)


@app.command("ingest")
def ingest(
    file: Annotated[str, typer.Argument(help="The webhook payload (JSON file; - for stdin).")],
    store: StoreOption = DEFAULT_STORE,
    source: Annotated[
        str, typer.Option("--source", help="What delivered it (kept with each row, audited).")
    ] = "alertmanager",
) -> None:
    """Record an Alertmanager webhook payload's notifications."""
    try:
        payload = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"{file}: {exc.strerror or exc}")
    with opened(store) as handle:
        result = ingest_webhook(handle, payload, source=source)
    firing = sum(1 for f in result.recorded if f.state is AlertState.FIRING)
    typer.echo(
        f"{len(result.recorded)} notification(s) recorded ({firing} firing, "
        f"{len(result.recorded) - firing} resolved), {result.duplicates} already on record"
    )


@app.command("list")
def list_(
    store: StoreOption = DEFAULT_STORE,
    bot: Annotated[str | None, typer.Option("--bot", help="Only this bot's alerts.")] = None,
    severity: Annotated[Severity | None, typer.Option("--severity", help="Only this tier.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every alert instance (of --bot, --severity) with its firing interval, oldest first; an
    instance never resolved is shown as still firing."""
    tier = severity.value if severity is not None else None
    with opened(store) as handle:
        bots = [bot] if bot is not None else alerted_bots(handle)
        intervals: list[FiringInterval] = sorted(
            (i for b in bots for i in firing_intervals(handle, b, severity=tier)),
            key=lambda i: (i.starts_ns, i.fingerprint),
        )
        where = handle.url
    if as_json:
        print_json(
            [
                {
                    "fingerprint": i.fingerprint,
                    "alertname": i.alertname,
                    "severity": i.severity.value,
                    "bot_id": i.bot_id,
                    "starts_ns": i.starts_ns,
                    "ends_ns": i.ends_ns,
                    "firing": i.ends_ns is None,
                }
                for i in intervals
            ]
        )
        return
    if not intervals:
        typer.echo(f"no alerts in {where}")
        return
    for i in intervals:
        end = "still firing" if i.ends_ns is None else f"resolved {utc_text(i.ends_ns)}"
        typer.echo(
            f"{i.severity.value}  {i.alertname}  {i.bot_id}  fired {utc_text(i.starts_ns)}, "
            f"{end}  [{i.fingerprint}]"
        )
    typer.echo(f"{len(intervals)} alert instance(s) in {where}")
