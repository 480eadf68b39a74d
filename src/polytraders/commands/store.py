"""``polytraders store``: backups of the event store and their restore (rules:
:mod:`polytraders.store.backup`).

Exit codes: 0 done; 2 a bad option, a missing store or backup, a target that already holds a
store, or a failing backup/restore tool (one line on stderr, passwords masked).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from polytraders.commands.evidence_cli import DEFAULT_STORE, StoreOption, fail
from polytraders.store.backup import BackupError, backup_store, restore_store
from polytraders.store.errors import StoreError
from polytraders.store.retention import BackupRetention, RetentionPolicy, RetentionPolicyError
from polytraders.store.url import masked, resolve

app = typer.Typer(
    name="store",
    help="Back up the event store (SQLite online backup, PostgreSQL pg_dump) and restore it.",
    no_args_is_help=True,
)


@app.command("backup")
def backup(
    to: Annotated[Path, typer.Option("--to", help="Folder of the backup files.")],
    store: StoreOption = DEFAULT_STORE,
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep",
            min=1,
            help=f"Keep the newest N backup files in --to (default {BackupRetention().keep}, "
            "or the policy's).",
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="A retention policy (TOML): its [backups] keep."),
    ] = None,
) -> None:
    """Write a consistent backup of the store into --to, then remove the older backup files
    beyond the newest --keep."""
    if keep is not None and policy is not None:
        fail("--keep: not with --policy (the policy decides)")
    try:
        retention = RetentionPolicy.load(policy).backups if policy is not None else None
    except RetentionPolicyError as exc:
        fail(f"--policy {exc}")
    kept = keep if keep is not None else (retention or BackupRetention()).keep
    try:
        result = backup_store(store, to, keep=kept)
    except StoreError as exc:
        fail(str(exc))
    typer.echo(f"backup {result.path} ({result.bytes:,} bytes)")
    for old in result.removed:
        typer.echo(f"removed {old} (keeping the newest {kept})")


@app.command("restore")
def restore(
    backup_file: Annotated[Path, typer.Argument(help="A backup file (.sqlite or .pgdump).")],
    store: Annotated[
        str,
        typer.Option(
            "--store",
            help="Where to restore: a new SQLite file, or a PostgreSQL URL whose schema "
            "(options=-csearch_path=NAME, default public) is absent or empty.",
        ),
    ],
) -> None:
    """Restore a backup into a new store; check it with `polytraders runs check --store`."""
    try:
        restore_store(backup_file, store)
    except (BackupError, StoreError) as exc:
        fail(str(exc))
    typer.echo(f"restored {backup_file} into {masked(resolve(store)[1])}")
