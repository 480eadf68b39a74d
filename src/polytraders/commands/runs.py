"""``polytraders runs``: the operator's commands over the event store.

``list``, ``show``, ``check``, ``export`` and ``prune`` work on SQLite and PostgreSQL alike.
A run is named ``RUN_ID`` (its latest attempt) or ``RUN_ID@N``. Exit codes: 0 done; 1 a
check found a problem (unsound or ABANDONED run) or a prune was not confirmed with ``--yes``;
2 a bad option, store or run reference (one line on stderr, naming it).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from polytraders.store import (
    ABANDONED,
    EventStore,
    ReconciliationKind,
    ReconciliationRow,
    RunCounts,
    RunRecord,
    RunRefError,
    RunStatus,
    StoreError,
    parse_run_ref,
    select_for_prune,
)
from polytraders.store.lease import utc_text
from polytraders.store.prune import PrunePlan
from polytraders.store.releases import referenced_run_ids
from polytraders.store.retention import RetentionPolicy, RetentionPolicyError, plan_retention

app = typer.Typer(
    name="runs",
    help="Recorded runs in the event store: list, show, check, export, prune.",
    no_args_is_help=True,
)
_console = Console()

DEFAULT_STORE = "runs/desk.sqlite"
STATES = (*(status.value for status in RunStatus), ABANDONED)
"""What ``--status`` accepts: the recorded statuses and ABANDONED."""

StoreOption = Annotated[
    str,
    typer.Option("--store", help="Event store: SQLite path/URL or postgresql+psycopg://…"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


@contextmanager
def _opened(store: str) -> Iterator[EventStore]:
    """The existing store at ``store`` (never created here); any store failure is one line
    and exit 2."""
    try:
        with EventStore.open(store, create=False) as opened:
            yield opened
    except StoreError as exc:
        _fail(str(exc))


def _record(opened: EventStore, ref_text: str) -> RunRecord:
    """The attempt ``ref_text`` names; a malformed or unknown reference is one line, exit 2."""
    try:
        record = opened.run(parse_run_ref(ref_text))
    except RunRefError as exc:
        _fail(str(exc))
    if record is None:
        _fail(f"run {ref_text!r} is not in the store at {opened.url}")
    return record


def _utc(ts_ns: int | None) -> str:
    return "-" if ts_ns is None else utc_text(ts_ns)


def _summary(record: RunRecord, counts: RunCounts) -> dict[str, Any]:
    """The JSON row of one attempt in ``list`` and ``show``."""
    return {
        "run": str(record.ref),
        "run_id": record.run_id,
        "attempt": record.attempt,
        "status": record.state,
        "recorded_status": record.status.value,
        "detail": record.detail,
        "abandoned": record.abandoned,
        "started_utc": _utc(record.started_wall_ns),
        "ended_utc": _utc(record.ended_wall_ns),
        "started_wall_ns": record.started_wall_ns,
        "ended_wall_ns": record.ended_wall_ns,
        "started_ns": record.started_ns,
        "ended_ns": record.ended_ns,
        "seed": record.seed,
        "desk_config_version": record.desk_config_version,
        "data_source": record.data_source,
        "synthetic": record.synthetic,
        "envelopes": counts.envelopes,
        "orders": counts.distinct_orders,
        "order_states": counts.orders,
        "fills": counts.fills,
        "positions": counts.positions,
    }


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


@app.command("list")
def list_runs(
    store: StoreOption = DEFAULT_STORE,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help=f"Only runs in this status ({', '.join(STATES)}); repeatable."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every recorded run attempt, oldest first: RUN_ID@N, status (ABANDONED when its writer
    died), start → end (UTC, wall clock), data source, synthetic flag, envelope/order/fill
    counts and the end's detail."""
    wanted = {value.upper() for value in status or ()}
    unknown = sorted(wanted - set(STATES))
    if unknown:
        _fail(f"--status {unknown[0]!r} is not one of {', '.join(STATES)}")
    with _opened(store) as opened:
        records = opened.runs()
        counts = opened.all_counts()
        where = opened.url  # the password masked
    rows = [
        _summary(record, counts.get(record.ref, RunCounts()))
        for record in records
        if not wanted or record.state in wanted
    ]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        typer.echo("no runs" + (" in that status" if wanted else "") + f" in {where}")
        return
    width = max(len(row["run"]) for row in rows)
    for row in rows:  # two lines per attempt: readable at 80 columns, greppable by run id
        typer.echo(
            f"{row['run']:<{width}}  {row['status']:<11}  {row['started_utc']} → {row['ended_utc']}"
        )
        typer.echo(
            f"{'':<4}{row['data_source']}{'  [SYNTHETIC]' if row['synthetic'] else ''}  ·  "
            f"{row['envelopes']:,} envelopes, {row['orders']:,} orders, {row['fills']:,} fills"
            + (f"  ·  {row['detail']}" if row["detail"] else "")
        )
    typer.echo(f"{len(rows)} run attempt(s) in {where}")


@app.command()
def show(
    run: Annotated[str, typer.Argument(help="RUN_ID (latest attempt) or RUN_ID@N.")],
    store: StoreOption = DEFAULT_STORE,
    as_json: JsonOption = False,
) -> None:
    """One run attempt: its record, desk config version, status and detail, lease, counts,
    integrity and its reconciliations with the venue (a live desk's: the start-up one and
    every periodic one; the table lists the start-up ones and every one that was not OK,
    ``--json`` lists them all with what differed)."""
    with _opened(store) as opened:
        record = _record(opened, run)
        counts = opened.counts(record.ref)
        attempts = sum(1 for r in opened.runs() if r.run_id == record.run_id)
        problems = opened.check_integrity(record.ref)
        reconciliations = opened.reconciliations(record.ref)
    document = _summary(record, counts)
    document["attempts_recorded"] = attempts
    document["desk_config"] = json.loads(record.desk_config_json)
    document["lease"] = None if record.lease is None else msgspec.to_builtins(record.lease)
    document["integrity_problems"] = problems
    document["reconciliations"] = [_reconciliation(r) for r in reconciliations]
    if as_json:
        _print_json(document)
        return
    lease = record.lease
    lines = [
        ("run", f"{record.run_id} attempt {record.attempt} (of {attempts} recorded)"),
        ("status", record.state + (f" ({record.detail})" if record.detail else "")),
        *([("abandoned because", record.abandoned)] if record.abandoned else []),
        ("started", f"{_utc(record.started_wall_ns)} (desk clock {record.started_ns} ns)"),
        (
            "ended",
            "-"
            if record.ended_ns is None
            else f"{_utc(record.ended_wall_ns)} (desk clock {record.ended_ns} ns)",
        ),
        ("seed", str(record.seed)),
        ("desk config version", record.desk_config_version),
        ("data source", record.data_source + (" [SYNTHETIC]" if record.synthetic else "")),
        (
            "lease",
            "-"
            if lease is None
            else f"{lease.owner}, last heartbeat {_utc(lease.renewed_wall_ns)}, "
            f"lapses {_utc(lease.expires_wall_ns)}",
        ),
        (
            "recorded",
            f"{counts.envelopes:,} envelopes, {counts.distinct_orders:,} orders "
            f"({counts.orders:,} states), {counts.fills:,} fills, "
            f"{counts.positions:,} position snapshots",
        ),
        ("integrity", "sound" if not problems else f"{len(problems)} problem(s)"),
        ("reconciliations", _reconciliation_counts(reconciliations)),
    ]
    table = Table(show_header=False, box=None)
    for name, value in lines:
        table.add_row(name, value)
    _console.print(table)
    for problem in problems:
        _console.print(f"[red]  {problem}[/red]", highlight=False)
    for row in reconciliations:
        if row.kind is ReconciliationKind.STARTUP or row.level != "ok":
            typer.echo(f"  {_reconciliation_line(row)}")  # one line each, never wrapped


def _reconciliation(row: ReconciliationRow) -> dict[str, Any]:
    """The JSON entry of one reconciliation in ``show``."""
    return {
        "ts_utc": utc_text(row.ts_ns),
        "ts_ns": row.ts_ns,
        "kind": row.kind.value,
        "level": row.level,
        "order_drift_micros": row.order_drift_micros,
        "position_drift_micros": row.position_drift_micros,
        "reason_codes": list(row.reason_codes),
        "differences": json.loads(row.differences_json),
    }


def _reconciliation_counts(rows: list[ReconciliationRow]) -> str:
    """``N (S start-up, P periodic): a ok, b warning, c critical``, or ``none``."""
    if not rows:
        return "none"
    startup = sum(1 for r in rows if r.kind is ReconciliationKind.STARTUP)
    levels: dict[str, int] = {}
    for row in rows:
        levels[row.level] = levels.get(row.level, 0) + 1
    by_level = ", ".join(f"{n} {level}" for level, n in sorted(levels.items()))
    return f"{len(rows)} ({startup} start-up, {len(rows) - startup} periodic): {by_level}"


def _reconciliation_line(row: ReconciliationRow) -> str:
    """One reconciliation as a line: time, kind, level, drifts (micro-shares), codes."""
    codes = " ".join(row.reason_codes)
    return (
        f"{utc_text(row.ts_ns)}  {row.kind.value:<8}  {row.level:<8}  "
        f"orders {row.order_drift_micros:,}  positions {row.position_drift_micros:,} "
        f"micro-shares{'  ' + codes if codes else ''}"
    )


@app.command()
def check(
    runs: Annotated[
        list[str] | None,
        typer.Argument(help="Runs to check (RUN_ID or RUN_ID@N); default: every attempt."),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """The integrity check of the given runs (default: every attempt). Exit 1 when any is
    unsound or ABANDONED, naming which and why."""
    with _opened(store) as opened:
        records = [_record(opened, ref) for ref in runs] if runs else opened.runs()
        failed = 0
        for record in records:
            problems = opened.check_integrity(record.ref)
            if not problems:
                typer.echo(f"ok    {record.ref} {record.state}: sound")
                continue
            failed += 1
            typer.echo(f"FAIL  {record.ref} {record.state}: {len(problems)} problem(s)")
            for problem in problems:
                typer.echo(f"        {problem}")
    typer.echo(f"{len(records) - failed} of {len(records)} run(s) sound")
    if failed:
        raise typer.Exit(code=1)


@app.command()
def export(
    run: Annotated[str, typer.Argument(help="RUN_ID (latest attempt) or RUN_ID@N.")],
    out: Annotated[
        Path, typer.Option("--out", help="New (or empty) directory for the exported files.")
    ],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Export one run attempt into ``--out``: envelopes.jsonl (byte for byte as recorded, so
    identical runs export identical files), orders.jsonl (every recorded order state),
    fills.jsonl, positions.jsonl and run.json (record, counts, hashes, integrity)."""
    if out.exists() and not out.is_dir():
        _fail(f"--out {str(out)!r} is a file, not a directory")
    if out.is_dir() and any(out.iterdir()):
        _fail(f"--out {str(out)!r} is not empty; give a new or empty directory")
    with _opened(store) as opened:
        record = _record(opened, run)
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            document = _write_export(opened, record, staging)
            if out.is_dir():
                out.rmdir()
            staging.rename(out)
        except BaseException:
            for item in staging.glob("*"):
                item.unlink()
            staging.rmdir()
            raise
    typer.echo(
        f"exported {record.ref} to {out}: {document['envelopes']:,} envelopes "
        f"(sha256 {document['envelopes_sha256'][:16]}…), {document['order_states']:,} order "
        f"states, {document['fills']:,} fills"
    )


def _write_export(opened: EventStore, record: RunRecord, folder: Path) -> dict[str, Any]:
    """Write the export files of ``record`` into ``folder``; return run.json's content."""
    envelopes = folder / "envelopes.jsonl"
    with envelopes.open("wb") as stream:
        opened.export_jsonl(record.ref, stream)
    (folder / "orders.jsonl").write_text(
        "".join(line + "\n" for line in opened.order_lines(record.ref)), encoding="utf-8"
    )
    encoder = msgspec.json.Encoder()
    with (folder / "fills.jsonl").open("wb") as stream:
        for fill in opened.fills(record.ref):
            stream.write(encoder.encode(fill) + b"\n")
    with (folder / "positions.jsonl").open("wb") as stream:
        for snapshot in opened.positions(record.ref):
            stream.write(encoder.encode(snapshot) + b"\n")
    digest = hashlib.sha256()
    with envelopes.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    document = _summary(record, opened.counts(record.ref))
    document["envelopes_sha256"] = digest.hexdigest()
    document["desk_config"] = json.loads(record.desk_config_json)
    document["lease"] = None if record.lease is None else msgspec.to_builtins(record.lease)
    document["integrity_problems"] = opened.check_integrity(record.ref)
    (folder / "run.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


@app.command()
def prune(
    store: StoreOption = DEFAULT_STORE,
    keep_last: Annotated[
        int | None,
        typer.Option("--keep-last", help="Keep the N run attempts started last.", min=0),
    ] = None,
    older_than_days: Annotated[
        float | None,
        typer.Option("--older-than-days", help="Only attempts started more than D days ago."),
    ] = None,
    run: Annotated[
        list[str] | None,
        typer.Option("--run", help="Only this run (RUN_ID = latest attempt, or RUN_ID@N)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be pruned; delete nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Really delete (required).")] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept in the audit log with the criteria).")
    ] = "",
    actor: Annotated[str, typer.Option("--actor", help="Who prunes (default: user@host).")] = "",
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="A retention policy (TOML, docs/retention.md) instead of the criteria: runs "
            "older than its keep_days go, those a release manifest references always stay.",
        ),
    ] = None,
) -> None:
    """Delete old run attempts and everything recorded in them: those matching every
    criterion given (--keep-last, --older-than-days, --run), or those a retention --policy
    lets go. A RUNNING attempt whose lease is alive is never pruned. One transaction,
    recorded in the audit log (who, why, what); SQLite files are VACUUMed after and the bytes
    freed reported."""
    if older_than_days is not None and older_than_days < 0:
        _fail(f"--older-than-days must be 0 or more, got {older_than_days}")
    if policy is not None and (keep_last, older_than_days, run) != (None, None, None):
        _fail("--policy: not with --keep-last, --older-than-days or --run (the policy decides)")
    try:
        retention = None if policy is None else RetentionPolicy.load(policy)
    except RetentionPolicyError as exc:
        _fail(f"--policy {exc}")
    try:
        refs = None if run is None else [parse_run_ref(text) for text in run]
    except RunRefError as exc:
        _fail(f"--run: {exc}")
    criteria = " ".join(
        part
        for part in (
            f"--keep-last {keep_last}" if keep_last is not None else "",
            f"--older-than-days {older_than_days:g}" if older_than_days is not None else "",
            *(f"--run {ref}" for ref in refs or ()),
            f"--policy {policy}" if policy is not None else "",
        )
        if part
    )
    with _opened(store) as opened:
        try:
            if retention is None:
                plan = select_for_prune(
                    opened.runs(),
                    now_wall_ns=time.time_ns(),
                    keep_last=keep_last,
                    older_than_days=older_than_days,
                    refs=refs,
                )
            else:
                plan = _policy_plan(opened, retention)
        except ValueError as exc:
            _fail(str(exc))
        for record in plan.protected:
            typer.echo(f"kept  {record.ref}: RUNNING with a live lease (never pruned)")
        if not plan.selected:
            typer.echo(f"nothing to prune ({criteria})")
            return
        counts = opened.all_counts()
        for record in plan.selected:
            count = counts.get(record.ref, RunCounts())
            typer.echo(
                f"prune {record.ref} {record.state} started {_utc(record.started_wall_ns)}: "
                f"{count.envelopes:,} envelopes, {count.distinct_orders:,} orders, "
                f"{count.fills:,} fills"
            )
        if dry_run:
            typer.echo(f"dry run: {len(plan.selected)} run attempt(s) would be pruned")
            return
        if not yes:
            _fail(f"{len(plan.selected)} run attempt(s) not pruned: add --yes to delete", code=1)
        why = criteria + (f": {reason}" if reason.strip() else "")
        try:
            result = opened.prune(
                [record.ref for record in plan.selected],
                actor=actor.strip() or _whoami(),
                reason=why,
            )
        except StoreError as exc:
            _fail(str(exc))
    typer.echo(
        f"pruned {len(result.pruned)} run attempt(s): "
        + ", ".join(f"{rows:,} {table}" for table, rows in result.rows.items() if rows)
    )
    if result.bytes_freed is None:
        typer.echo("PostgreSQL reclaims the space itself (autovacuum)")
    else:
        typer.echo(
            f"VACUUM: {result.bytes_before:,} → {result.bytes_after:,} bytes "
            f"({result.bytes_freed:,} bytes freed)"
        )


def _policy_plan(opened: EventStore, retention: RetentionPolicy) -> PrunePlan:
    """What ``retention`` lets a prune take from ``opened``, printing the attempts kept only
    because a release manifest references them."""
    planned = plan_retention(
        opened.runs(),
        retention,
        now_wall_ns=time.time_ns(),
        referenced_run_ids=referenced_run_ids(opened),
    )
    for record in planned.released:
        typer.echo(f"kept  {record.ref}: referenced by an accepted release manifest")
    return planned.plan


def _whoami() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"
