"""``polytraders fills``: the paper venue's fill model against recorded sessions.

``fills calibrate --run RUN`` replays a recorded session's orders (live, shadow or paper, from
the event store) on paper venues over the same recorded feed, once per candidate queue model,
and ranks the models by how far their maker fills are from the session's real ones
(:mod:`polytraders.venues.paper.calibrate`). Exit codes: 0 done; 2 refused (store, run, data,
or a session without sent orders), one line on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from polytraders.commands.failures import fail
from polytraders.feeds import open_source
from polytraders.model.money import from_micros
from polytraders.store import EventStore, RunRefError, StoreError, parse_run_ref
from polytraders.venues.paper import PaperVenueConfig
from polytraders.venues.paper.calibrate import Fit, calibrate, recorded_orders

app = typer.Typer(
    name="fills",
    help="The paper venue's fill model against recorded sessions (calibrate).",
    no_args_is_help=True,
)
_console = Console()

DEFAULT_STORE = "runs/desk.sqlite"
_BASE_FIELDS = (
    "order_latency_ms",
    "cancel_latency_ms",
    "response_latency_ms",
    "gtd_security_margin_s",
    "complement_fills",
    "fee_rates_ppm",
    "starting_cash_micros",
    "min_market_notional_micros",
)
"""Venue settings taken from the session's desk config (the queue model is what is fitted)."""


def _base_config(desk_config: dict[str, Any]) -> PaperVenueConfig:
    """The session's paper-venue settings other than the queue model: the desk file's
    ``[venue]`` (a live node records its desk file under ``desk``, beside the Polymarket
    venue's settings); defaults for what is not recorded.

    Raises:
        ValueError: a recorded setting out of its limits.
    """
    node = "reconciliation" in desk_config and isinstance(desk_config.get("desk"), dict)
    desk_file = desk_config["desk"] if node else desk_config
    venue = desk_file.get("venue")
    recorded = venue if isinstance(venue, dict) else {}
    return PaperVenueConfig.model_validate({k: recorded[k] for k in _BASE_FIELDS if k in recorded})


def _settings(config: PaperVenueConfig) -> dict[str, object]:
    """The ``[venue]`` settings that select ``config``'s queue model."""
    settings: dict[str, object] = {"queue_model": config.queue_model}
    if config.queue_model == "probabilistic":
        settings["queue_function"] = config.queue_function
        if config.queue_function == "power":
            settings["queue_power_n"] = config.queue_power_n
    return settings


def _fit_json(fit: Fit) -> dict[str, object]:
    return {
        "queue_model": fit.name,
        "settings": _settings(fit.config),
        "error_shares": from_micros(fit.error_micros),
        "predicted_maker_shares": from_micros(fit.predicted_micros),
        "real_maker_shares": from_micros(fit.real_micros),
        "orders_filled_predicted": fit.orders_filled_predicted,
        "orders_filled_real": fit.orders_filled_real,
    }


@app.command("calibrate")
def calibrate_command(
    run: Annotated[str, typer.Option("--run", help="The recorded session: RUN_ID or RUN_ID@N.")],
    store: Annotated[
        str, typer.Option("--store", help="Event store: SQLite path/URL or postgresql+psycopg://…")
    ] = DEFAULT_STORE,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="The session's recorded feed (default: the run's data source, when it is a "
            "file or folder; a live session needs the recording `polytraders record` made).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Fit the queue model to a recorded session: its real maker fills vs what the paper venue
    predicts for the same orders over the same recorded feed, per candidate queue model
    (pessimistic, probabilistic log and power n = 0.5 … 6, l2_inference); prints the ranking
    and the best fit."""
    try:
        with EventStore.open(store, create=False) as opened:
            found = opened.run(parse_run_ref(run))
            states = opened.orders(run) if found is not None else []
            real_fills = opened.fills(run) if found is not None else []
    except (StoreError, RunRefError) as exc:
        fail(str(exc), exc=exc)
    if found is None:
        fail(f"--run {run}: no such run in {store}")
    record = found
    source_path = data if data is not None else record.data_source
    if data is None and not source_path.startswith("synthetic:") and not Path(source_path).exists():
        fail(
            f"run {run} was fed by {source_path!r}, not a recording here: pass --data with "
            "the session's recorded feed"
        )
    orders = recorded_orders(states)
    if not orders:
        fail(f"run {run} sent no orders: nothing to calibrate")
    try:
        source = open_source(source_path)
        base = _base_config(json.loads(record.desk_config_json))
        fits = calibrate(orders, real_fills, source.events(), source.markets, base)
    except ValueError as exc:  # FeedError, a recorded venue setting, a feed the venue refuses
        fail(f"{source_path}: {exc}", exc=exc)
    best = fits[0]
    if as_json:
        document = {
            "run": run,
            "data": str(source_path),
            "orders_sent": len(orders),
            "best": _fit_json(best),
            "ranking": [_fit_json(fit) for fit in fits],
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    table = Table(title=f"Queue models against run {run}: {len(orders):,} orders sent")
    table.add_column("queue model")
    for column in ("error (shares)", "maker shares predicted / real", "orders filled pred. / real"):
        table.add_column(column, justify="right")
    for fit in fits:
        table.add_row(
            fit.name,
            from_micros(fit.error_micros),
            f"{from_micros(fit.predicted_micros)} / {from_micros(fit.real_micros)}",
            f"{fit.orders_filled_predicted:,} / {fit.orders_filled_real:,}",
        )
    _console.print(table)
    toml = ", ".join(f"{k} = {json.dumps(v)}" for k, v in _settings(best.config).items())
    _console.print(f"best fit: {best.name}  (\\[venue] {toml})", soft_wrap=True)
