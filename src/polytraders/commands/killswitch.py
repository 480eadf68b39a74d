"""``polytraders kill-switch``: an operator trips or resets a desk's kill switch through the
event store, whether the desk is running or down.

``trip`` and ``reset`` append an operator row to the run's checkpoints and an audit-log entry
(who, why) in one transaction (:mod:`polytraders.desk.checkpoints`). A running desk applies it
within a second (it reads the store every ``operator_poll_ms``); a desk restarted on the run
applies it at start. A tripped kill switch stays tripped across restarts until ``reset``.

Exit codes: 0 recorded; 1 refused because of the switch's state (``reset`` of a switch that is
not tripped on a desk already in ``--trading-state``, ``trip`` of a tripped one); 2 a bad
option, store or run (one line on stderr).
"""

from __future__ import annotations

import time
from typing import Annotated, NoReturn

import typer

from polytraders.desk.checkpoints import (
    CheckpointError,
    KillSwitchStateError,
    reset_kill_switch,
    trip_kill_switch,
)
from polytraders.model.events import TradingState
from polytraders.store import EventStore, RunRefError, StoreError, parse_run_ref

app = typer.Typer(
    name="kill-switch",
    help="Trip or reset a desk's kill switch through the event store (running or down).",
    no_args_is_help=True,
)

StoreOption = Annotated[
    str,
    typer.Option(
        "--store", help="Event store of the run: SQLite path/URL or postgresql+psycopg://…"
    ),
]
RunOption = Annotated[
    str, typer.Option("--run", help="The run: RUN_ID (its latest attempt) or RUN_ID@N.")
]
OperatorOption = Annotated[
    str, typer.Option("--operator", help="Who acts (recorded in the audit log).")
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _open(store: str, run: str) -> EventStore:
    try:
        parse_run_ref(run)
    except RunRefError as exc:
        _fail(f"--run: {exc}")
    try:
        return EventStore.open(store, create=False)
    except StoreError as exc:
        _fail(f"--store: {exc}")


@app.command("reset")
def reset(
    store: StoreOption,
    run: RunOption,
    operator: OperatorOption,
    reason: ReasonOption,
    trading_state: Annotated[
        TradingState,
        typer.Option(
            "--trading-state",
            help="The state the desk trades in after the reset (HALTED: reset, stay halted).",
        ),
    ] = TradingState.ACTIVE,
) -> None:
    """Reset the run's tripped kill switch: the desk (running, or at its next start) opens it
    and enters --trading-state. Without a trip, lifts a HALTED or REDUCING state the desk kept
    across a restart. Refused (exit 1) when there is nothing to change."""
    opened = _open(store, run)
    try:
        row, trip = reset_kill_switch(
            opened,
            run,
            operator=operator,
            reason=reason,
            ts_ns=time.time_ns(),
            trading_state=trading_state,
        )
    except KillSwitchStateError as exc:
        _fail(str(exc), 1)
    except CheckpointError as exc:
        _fail(str(exc))
    except StoreError as exc:
        _fail(str(exc))
    finally:
        opened.close()
    cleared = f"trip {trip.reason_code} by {trip.source} cleared" if trip.tripped else "no trip"
    typer.echo(
        f"kill switch of {row.run_id}@{row.attempt} reset by {operator} (checkpoint "
        f"{row.sequence}): {cleared}, trading state {trading_state.value}"
    )


@app.command("trip")
def trip(
    store: StoreOption, run: RunOption, operator: OperatorOption, reason: ReasonOption
) -> None:
    """Trip the run's kill switch: the desk (running, or at its next start) cancels every
    open order and trades nothing until a reset. Refused (exit 1) when already tripped."""
    opened = _open(store, run)
    try:
        row = trip_kill_switch(opened, run, operator=operator, reason=reason, ts_ns=time.time_ns())
    except KillSwitchStateError as exc:
        _fail(str(exc), 1)
    except CheckpointError as exc:
        _fail(str(exc))
    except StoreError as exc:
        _fail(str(exc))
    finally:
        opened.close()
    typer.echo(
        f"kill switch of {row.run_id}@{row.attempt} tripped by {operator} (checkpoint "
        f"{row.sequence})"
    )
