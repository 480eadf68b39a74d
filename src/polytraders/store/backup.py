"""Backups of the event store and their restore.

- **SQLite**: the sqlite3 online backup API (``Connection.backup``) copies a consistent
  snapshot while writers go on (WAL); the copy passes ``PRAGMA integrity_check`` before it is
  renamed into place. A restore copies a backup to a new file the same way.
- **PostgreSQL**: ``pg_dump --format=custom`` of the store's schema (the first schema of the
  URL's ``search_path`` option, else ``public``); the client tools must be of the server's
  major version. A restore (``pg_restore --single-transaction --no-owner --no-privileges``)
  goes into the schema the target URL names: it must be absent or empty, and when it is not
  the dumped schema, the dumped schema must not exist in the target database (it is restored
  under its own name, then renamed). Roles and grants are not restored.

Backup files are named ``polytraders-store-<UTC time with ns>Z.sqlite`` / ``.pgdump`` so their
names sort by time; :func:`backup_store` keeps the newest ``keep`` of them in the folder and
removes the older ones. Connection details reach the PostgreSQL tools through libpq's
environment (``PGPASSWORD``…), never their command line.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from polytraders.store.errors import StoreError
from polytraders.store.url import Backend, masked, resolve

PREFIX = "polytraders-store-"
SUFFIXES = {Backend.SQLITE: ".sqlite", Backend.POSTGRESQL: ".pgdump"}
_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*([A-Za-z_][A-Za-z0-9_$]*)")
_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA )(\S+) (\S+) ", re.MULTILINE)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


class BackupError(StoreError):
    """A backup or restore failed or was refused (one line; passwords masked)."""


@dataclass(frozen=True)
class BackupResult:
    """A backup written: its ``path``, size in ``bytes``, and the older backup files
    ``removed`` by the retention (oldest first)."""

    path: Path
    bytes: int
    removed: tuple[Path, ...]


def backup_file_name(backend: Backend, now_ns: int) -> str:
    """``polytraders-store-YYYYMMDDTHHMMSS.<ns>Z`` plus the backend's suffix."""
    seconds, ns = divmod(now_ns, 1_000_000_000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds))
    return f"{PREFIX}{stamp}.{ns:09d}Z{SUFFIXES[backend]}"


def backups_in(folder: Path) -> list[Path]:
    """The backup files in ``folder`` (both backends), oldest first (by name = time)."""
    if not folder.is_dir():
        return []
    suffixes = tuple(SUFFIXES.values())
    return sorted(
        p for p in folder.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(suffixes)
    )


def backup_store(url: str, folder: Path, *, keep: int, now_ns: int | None = None) -> BackupResult:
    """Back up the store at ``url`` into a new file in ``folder`` (created if missing), then
    remove all but the newest ``keep`` backup files there.

    Raises:
        BackupError: ``keep`` < 1, the store missing or unreadable, the copy unsound, or
            ``pg_dump`` missing or failing.
        StoreUrlError: a malformed URL.
    """
    if keep < 1:
        raise BackupError(f"keep must be at least 1, got {keep}")
    backend, resolved = resolve(url)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / backup_file_name(backend, time.time_ns() if now_ns is None else now_ns)
    partial = target.with_name(target.name + ".partial")
    try:
        if backend is Backend.SQLITE:
            assert resolved.database is not None
            _sqlite_copy(Path(resolved.database), partial)
        else:
            _pg_dump(resolved, partial)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    existing = backups_in(folder)
    removed = tuple(existing[: max(0, len(existing) - keep)])
    for old in removed:
        old.unlink()
    return BackupResult(path=target, bytes=target.stat().st_size, removed=removed)


def restore_store(backup: Path, url: str) -> None:
    """Restore ``backup`` (a ``.sqlite`` or ``.pgdump`` file of :func:`backup_store`) into the
    store at ``url``, which must not hold a store yet (a new SQLite file; an absent or empty
    PostgreSQL schema).

    Raises:
        BackupError: the backup missing or of the other backend, the target not empty, or
            ``pg_restore`` failing (the target is left as it was: one transaction).
        StoreUrlError: a malformed URL.
    """
    backend, resolved = resolve(url)
    if not backup.is_file():
        raise BackupError(f"no backup file {backup}")
    if not backup.name.endswith(SUFFIXES[backend]):
        raise BackupError(
            f"{backup} is not a {backend.value} backup (expected a {SUFFIXES[backend]} file)"
        )
    if backend is Backend.SQLITE:
        assert resolved.database is not None
        target = Path(resolved.database)
        if target.exists():
            raise BackupError(f"{target} exists: restore into a new file")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        try:
            _sqlite_copy(backup, partial)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return
    _pg_restore(backup, resolved)


# ---------------------------------------------------------------- SQLite


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` to ``target`` with the online backup API and check
    the copy."""
    if not source.is_file():
        raise BackupError(f"no SQLite store at {source}")
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
                verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup of {source} failed: {exc}") from None
    if verdict != "ok":
        raise BackupError(f"the copy of {source} fails PRAGMA integrity_check: {verdict}")


# ---------------------------------------------------------------- PostgreSQL


def store_schema(url: URL) -> str:
    """The schema a PostgreSQL store URL keeps its tables in: the first ``search_path`` of
    its ``options`` query parameter, else ``public``."""
    options = url.query.get("options", "")
    text = options if isinstance(options, str) else " ".join(options)
    found = _SEARCH_PATH.search(text)
    return found.group(1) if found else "public"


def _libpq_env(url: URL) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    env.pop("PGOPTIONS", None)
    return env


def _run(command: list[str], url: URL, what: str) -> str:
    try:
        done = subprocess.run(  # a fixed tool, no shell
            command, env=_libpq_env(url), capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} not found: install the PostgreSQL client tools (postgresql-client) "
            "of the server's major version"
        ) from None
    if done.returncode != 0:
        message = " ".join(done.stderr.split()) or f"exit {done.returncode}"
        password = url.password
        if password:
            message = message.replace(str(password), "***")
        raise BackupError(f"{what} of {masked(url)} failed: {message}")
    return done.stdout


def _pg_dump(url: URL, target: Path) -> None:
    schema = store_schema(url)
    _run(
        ["pg_dump", "--format=custom", f"--schema={schema}", f"--file={target}"],
        url,
        "pg_dump",
    )


def _pg_restore(backup: Path, url: URL) -> None:
    listing = _run(["pg_restore", "--list", str(backup)], url, f"reading {backup}")
    dumped = {schema for schema, _table in _TOC_TABLE.findall(listing)}
    if len(dumped) != 1:
        raise BackupError(f"{backup}: expected the tables of one schema, found {sorted(dumped)}")
    (source,) = dumped
    target = store_schema(url)
    if not _IDENTIFIER.fullmatch(source):
        raise BackupError(f"{backup}: unexpected schema name {source!r}")
    engine = sa.create_engine(url.set(drivername="postgresql+psycopg"), hide_parameters=True)
    try:
        with engine.connect() as connection:
            target_objects = _objects_in(connection, target)
            source_exists = _schema_exists(connection, source)
        if target_objects is not None and target_objects > 0:
            raise BackupError(
                f"schema {target} of {masked(url)} holds {target_objects} object(s): "
                "restore into an absent or empty schema"
            )
        if source != target and source_exists:
            raise BackupError(
                f"the backup's schema {source} exists in {masked(url)}: restore into another "
                "database, or into that schema of a database without it"
            )
        command = [
            "pg_restore",
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            f"--dbname={url.database}",
        ]
        if source == target and target_objects is not None:
            # the schema exists (empty): restore everything but its CREATE SCHEMA
            entries = [
                line
                for line in listing.splitlines()
                if not re.match(r"^\d+; \d+ \d+ (SCHEMA|COMMENT) - ", line)
            ]
            with tempfile.TemporaryDirectory() as scratch:
                toc = Path(scratch) / "restore.list"
                toc.write_text("\n".join(entries) + "\n", encoding="utf-8")
                _run([*command, f"--use-list={toc}", str(backup)], url, "pg_restore")
            return
        if target_objects is not None:  # an empty target schema: the restore's rename takes it
            with engine.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{target}"')
        _run([*command, str(backup)], url, "pg_restore")
        if source != target:
            with engine.begin() as connection:
                connection.exec_driver_sql(f'ALTER SCHEMA "{source}" RENAME TO "{target}"')
    except sa.exc.SQLAlchemyError as exc:
        raise BackupError(f"restore into {masked(url)} failed: {type(exc).__name__}") from None
    finally:
        engine.dispose()


def _schema_exists(connection: sa.Connection, schema: str) -> bool:
    query = sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name")
    return connection.execute(query, {"name": schema}).first() is not None


def _objects_in(connection: sa.Connection, schema: str) -> int | None:
    """Relations and functions in ``schema``; None when it does not exist."""
    if not _schema_exists(connection, schema):
        return None
    query = sa.text(
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = :name) + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n"
        " ON n.oid = p.pronamespace WHERE n.nspname = :name)"
    )
    return int(connection.execute(query, {"name": schema}).scalar_one())
