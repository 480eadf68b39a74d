"""The append-only event store: runs, envelopes, orders, fills, positions and the audit log.

One code path (SQLAlchemy Core 2.x) for a SQLite file (the default) and PostgreSQL by URL
(see :mod:`polytraders.store.url`). The schema (:mod:`polytraders.store.schema`) is created
idempotently on open; the database refuses UPDATE on every table and DELETE except through
:meth:`EventStore.prune` (:mod:`polytraders.store.prune`).

**Attempts.** The desk's run id never carries an attempt. :meth:`EventStore.start_run`
allocates the next attempt number of that run id (race-safe: two processes starting the
same run at once both succeed, with different attempts) and this store then *holds* that
attempt: envelopes of the run id, and appends addressed to it, go to the attempt held.
Readers take a run reference, ``RUN_ID`` (the latest attempt) or ``RUN_ID@N``
(:mod:`polytraders.store.run_ref`).

**Leases.** A held attempt's lease (owner host, pid and process start) is renewed by a
heartbeat row at most every ``heartbeat_interval_s`` from :meth:`EventStore.flush`, and on
:meth:`EventStore.renew_lease`; it lapses ``lease_s`` after the latest heartbeat. Readers
report a RUNNING attempt whose writer is gone as ABANDONED (:mod:`polytraders.store.lease`).

Writes are batched: envelopes, orders, fills and position snapshots are buffered and written
in one transaction per flush (SQLite ``executemany``, PostgreSQL ``COPY``) once
``batch_size`` rows are pending, on :meth:`EventStore.flush`, on :meth:`EventStore.close`
and on leaving a ``with`` block. Run starts, run ends and audit entries are written at once
(after flushing what is pending, so the log keeps its order). Readers flush first, so they
see everything recorded through this store.

Fail closed: a refused or failed write raises :class:`~polytraders.store.errors.StoreWriteError`
(the desk maps it to ``SYS_STORE_WRITE_FAILED`` and halts). The failed flush's transaction is
rolled back, everything committed before stays, and the rows stay pending so a later flush
retries them. Up to ``batch_size`` - 1 rows recorded since the last flush are lost if the
process dies; use ``batch_size=1`` where every decision must be durable before the next.

Durability on SQLite: WAL journal with ``synchronous=NORMAL`` (default; a committed flush
survives a process crash, the last flushes may be lost on power failure) or ``FULL``.

Not thread-safe: one store per desk loop.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import msgspec
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL

from polytraders.contracts.envelope import ReportEnvelope, decode_envelope
from polytraders.model.fills import Fill
from polytraders.model.orders import VenueOrder
from polytraders.model.position import Position
from polytraders.store import audit_chain, schema
from polytraders.store.audit_chain import ChainedEntry, insert_entry
from polytraders.store.bulk import bulk_insert
from polytraders.store.checkpoints import (
    CheckpointRow,
    checkpoint_from_db,
    checkpoints_query,
    insert_checkpoint,
)
from polytraders.store.errors import (
    RunRefError,
    StoreClosedError,
    StoreError,
    StoreOpenError,
    StoreSchemaError,
    StoreWriteError,
    UnknownRunError,
)
from polytraders.store.integrity import check_run_integrity
from polytraders.store.lease import (
    DEFAULT_HEARTBEAT_INTERVAL_S,
    DEFAULT_LEASE_S,
    NS_PER_S,
    this_process,
    utc_text,
)
from polytraders.store.prune import PruneResult, delete_attempts, is_live
from polytraders.store.records import (
    ENVELOPE_COLUMNS,
    ENVELOPE_TEXT_INDEXES,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    AuditEntry,
    Lease,
    PositionSnapshot,
    ReconciliationKind,
    ReconciliationRow,
    Row,
    RunCounts,
    RunProduced,
    RunRecord,
    RunStatus,
    envelope_row,
    fill_from_row,
    fill_row,
    json_text,
    order_from_json,
    order_row,
    position_row,
)
from polytraders.store.run_queries import (
    count_rows,
    latest_attempt,
    next_attempt,
    record_from_row,
    records_query,
    where_ref,
)
from polytraders.store.run_ref import RunRef, check_run_id, parse_run_ref
from polytraders.store.sqlite_file import prepare_sqlite_file
from polytraders.store.url import Backend, masked, resolve, scrub, secrets

DEFAULT_BATCH_SIZE = 1_000
"""Rows buffered before a flush writes them in one transaction."""

DEFAULT_CONNECT_TIMEOUT_S = 5
"""Seconds a PostgreSQL connection attempt may take before the store gives up."""

WallClock = Callable[[], int]
"""A wall clock: ns since the epoch (default :func:`time.time_ns`)."""

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)
_MALFORMED = (msgspec.MsgspecError, UnicodeError, AttributeError, TypeError, ValueError)
"""What encoding or validating a malformed record raises (wrong field types, unencodable
text)."""
_ENVELOPE_ENCODER = msgspec.json.Encoder()
_ENVELOPE_VALIDATOR = msgspec.json.Decoder(ReportEnvelope)
_FILL_VALIDATOR = msgspec.json.Decoder(Fill)
_STREAM_ROWS = 5_000
_SQLITE_PAGE_SIZE = 16_384
"""Page size of new SQLite store files (bytes; see :func:`_configure_sqlite`)."""
_START_TRIES = 50
"""Attempts at allocating an attempt number (or a checkpoint sequence) before a contended
write gives up."""
_DETAIL_REQUIRED = frozenset({RunStatus.HALTED, RunStatus.FAILED, RunStatus.INTERRUPTED})


class EventStore:
    """An open event store. Create it with :meth:`EventStore.open`; use it as a context
    manager (or call :meth:`close`) so pending rows are flushed.

    It is an envelope sink for the desk: :meth:`record` (or :meth:`record_line`) and
    :meth:`flush`.
    """

    def __init__(
        self,
        engine: sa.Engine,
        backend: Backend,
        url: URL,
        batch_size: int,
        *,
        lease_s: int = DEFAULT_LEASE_S,
        heartbeat_interval_s: int = DEFAULT_HEARTBEAT_INTERVAL_S,
        wall_clock_ns: WallClock = time.time_ns,
    ) -> None:
        """Use :meth:`open`; this wraps an engine whose schema is already in place."""
        self._engine = engine
        self._backend = backend
        self._url = url
        self._batch_size = batch_size
        self._lease_s = lease_s
        self._heartbeat_interval_ns = heartbeat_interval_s * NS_PER_S
        self._wall_clock_ns = wall_clock_ns
        self._envelope_rows: list[Row] = []
        self._order_rows: list[Row] = []
        self._fill_rows: list[Row] = []
        self._position_rows: list[Row] = []
        self._pending = 0
        self._held: dict[str, int] = {}
        """run id → the attempt this store writes."""
        self._renewed_ns: dict[str, int] = {}
        """run id → wall time of the held attempt's latest heartbeat."""
        self._closed = False
        self.write_failures = 0
        """How many writes failed since the store was opened (each rolled back)."""
        self.write_failing = False
        """True from a failed write until the next flush commits (``/readyz``'s store check)."""

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls,
        url: str | Path,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        create: bool = True,
        lease_s: int = DEFAULT_LEASE_S,
        heartbeat_interval_s: int = DEFAULT_HEARTBEAT_INTERVAL_S,
        connect_timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S,
        wall_clock_ns: WallClock = time.time_ns,
    ) -> EventStore:
        """Open the store at ``url``; with ``create``, create it (and a SQLite file's folder)
        if needed.

        Args:
            url: a file path or ``sqlite:///path`` (SQLite), or
                ``postgresql+psycopg://user:password@host:port/database`` (PostgreSQL); see
                :mod:`polytraders.store.url`.
            batch_size: rows buffered before they are written in one transaction (≥ 1).
            sqlite_synchronous: SQLite ``synchronous`` pragma under WAL (``NORMAL`` or
                ``FULL``); ignored on PostgreSQL.
            create: create a missing store (False: refuse it, for readers and operator
                commands that must not leave an empty store behind).
            lease_s: seconds a run's lease lasts after its latest heartbeat (≥ 1).
            heartbeat_interval_s: least seconds between two heartbeats of a held run
                (0 ≤ interval < ``lease_s``).
            connect_timeout_s: seconds a PostgreSQL connection may take (1–300; libpq counts
                at least 2); a ``connect_timeout`` in the URL wins.
            wall_clock_ns: the wall clock of leases and of start/end/prune times.

        Raises:
            StoreUrlError: unsupported or malformed URL (message masks the password).
            StoreOpenError: database unreachable or timed out; SQLite path a directory,
                read-only, in a read-only folder, or (without ``create``) missing; no store
                in the database (without ``create``); schema not creatable.
            StoreSchemaError: the database holds another schema version, or a PostgreSQL
                database is not UTF-8 encoded.
            ValueError: an argument out of its range.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if sqlite_synchronous not in ("NORMAL", "FULL"):
            raise ValueError(
                f"sqlite_synchronous must be NORMAL or FULL, got {sqlite_synchronous!r}"
            )
        if lease_s < 1:
            raise ValueError(f"lease_s must be at least 1, got {lease_s}")
        if not 0 <= heartbeat_interval_s < lease_s:
            raise ValueError(
                f"heartbeat_interval_s must be in [0, lease_s={lease_s}), got "
                f"{heartbeat_interval_s}"
            )
        if not 1 <= connect_timeout_s <= 300:
            raise ValueError(f"connect_timeout_s must be in [1, 300], got {connect_timeout_s}")
        backend, resolved = resolve(url)
        where = masked(resolved)
        connect_args: dict[str, Any] = {}
        if backend is Backend.SQLITE:
            assert resolved.database is not None
            prepare_sqlite_file(Path(resolved.database), create=create)
        elif "connect_timeout" not in resolved.query:
            connect_args["connect_timeout"] = connect_timeout_s
        engine = sa.create_engine(
            resolved, hide_parameters=True, pool_pre_ping=True, connect_args=connect_args
        )
        if backend is Backend.SQLITE:
            _configure_sqlite(engine, sqlite_synchronous)
        try:
            with engine.begin() as connection:
                if backend is Backend.POSTGRESQL:
                    _check_server_encoding(connection)
                _prepare_schema(connection, create=create, where=where)
        except (StoreSchemaError, StoreOpenError):
            engine.dispose()
            raise
        except Exception as exc:
            engine.dispose()
            description = _describe(exc, resolved)
            if "Timeout" in description:
                description += f" (no answer within the {connect_timeout_s} s connect time-out)"
            raise StoreOpenError(
                f"cannot open the event store at {where}: {description}"
            ) from _scrubbed(exc, resolved)
        return cls(
            engine,
            backend,
            resolved,
            batch_size,
            lease_s=lease_s,
            heartbeat_interval_s=heartbeat_interval_s,
            wall_clock_ns=wall_clock_ns,
        )

    @property
    def backend(self) -> Backend:
        """SQLITE or POSTGRESQL."""
        return self._backend

    @property
    def url(self) -> str:
        """The store URL with its password masked."""
        return masked(self._url)

    @property
    def batch_size(self) -> int:
        """Rows buffered before a flush."""
        return self._batch_size

    @property
    def pending(self) -> int:
        """Rows buffered and not yet written."""
        return self._pending

    @property
    def held(self) -> dict[str, int]:
        """The attempts this store writes: run id → attempt (a copy)."""
        return dict(self._held)

    def close(self) -> None:
        """Flush pending rows and release the database connections. Idempotent. Attempts
        still held stay RUNNING (their lease lapses unless another store resumes them).

        Raises:
            StoreWriteError: the final flush failed (connections are released anyway; the
                unwritten rows are lost with the process and the error says how many).
        """
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            # appends look up the held attempt first: emptying the map makes them hit the
            # closed check instead of buffering rows that would never be written.
            self._held.clear()
            self._renewed_ns.clear()
            self._engine.dispose()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"pending={self._pending}"
        return f"EventStore({self.url!r}, batch_size={self._batch_size}, {state})"

    # ------------------------------------------------------------------ runs

    def start_run(
        self,
        *,
        run_id: str,
        started_ns: int,
        seed: int,
        desk_config: str | bytes | Mapping[str, Any],
        desk_config_version: str,
        data_source: str,
        synthetic: bool,
    ) -> RunRecord:
        """Record the start of the next attempt of ``run_id`` and hold it (written at once,
        with the attempt's first heartbeat). Status is RUNNING until :meth:`end_run`.

        Args:
            run_id: the desk's run id (:func:`polytraders.contracts.ids.run_id`); no ``@``.
            started_ns: start time, ns since the epoch (desk clock).
            seed: the run's random seed (0 ≤ seed < 2**63).
            desk_config: the desk config as JSON text/bytes (stored verbatim after checking it
                parses) or a mapping (stored as JSON with sorted keys).
            desk_config_version: the config's version hash.
            data_source: what feeds the run (e.g. a dataset path and digest, a live feed).
            synthetic: True when the data are generated rather than recorded.

        Returns:
            The attempt as recorded; ``record.attempt`` is its number (1 for the first).

        Raises:
            StoreWriteError: this store already holds an attempt of ``run_id``, an argument
                is invalid, or the write failed.
        """
        self._check_open()
        try:
            check_run_id(run_id)
        except RunRefError as exc:
            raise StoreWriteError(f"start_run: {exc}") from exc
        if run_id in self._held:
            raise StoreWriteError(
                f"run {run_id!r} attempt {self._held[run_id]} is already open in this store; "
                "end it before starting another attempt"
            )
        if not 0 <= seed <= _INT64_MAX:
            raise StoreWriteError(f"seed must be in [0, 2**63), got {seed}")
        config_json = _config_json(desk_config)
        _require_int64({"started_ns": started_ns}, ("started_ns",), f"run {run_id!r}")
        row: dict[str, Any] = {
            "run_id": run_id,
            "started_ns": started_ns,
            "seed": seed,
            "desk_config_json": config_json,
            "desk_config_version": desk_config_version,
            "data_source": data_source,
            "synthetic": bool(synthetic),
            "status": RunStatus.RUNNING.value,
        }
        _refuse_nul(row, f"run {run_id!r}")
        self.flush()
        for tries_left in range(_START_TRIES - 1, -1, -1):
            now_ns = self._wall_clock_ns()
            try:
                with self._engine.begin() as connection:
                    attempt = next_attempt(connection, run_id)
                    connection.execute(
                        schema.runs.insert(), {**row, "attempt": attempt, "started_wall_ns": now_ns}
                    )
                    lease = self._write_lease(connection, run_id, attempt, now_ns)
                break
            except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
                # another process took this attempt number (or holds the SQLite write lock)
                if tries_left and _contended(exc):
                    time.sleep(random.uniform(0.001, 0.02))
                    continue
                raise self._write_error(exc, f"start of run {run_id!r}") from _scrubbed(
                    exc, self._url
                )
            except Exception as exc:
                raise self._write_error(exc, f"start of run {run_id!r}") from _scrubbed(
                    exc, self._url
                )
        self._held[run_id] = attempt
        self._renewed_ns[run_id] = now_ns
        return RunRecord(
            run_id=run_id,
            attempt=attempt,
            started_ns=started_ns,
            ended_ns=None,
            started_wall_ns=now_ns,
            ended_wall_ns=None,
            seed=seed,
            desk_config_json=config_json,
            desk_config_version=desk_config_version,
            data_source=data_source,
            synthetic=bool(synthetic),
            status=RunStatus.RUNNING,
            detail="",
            lease=lease,
            abandoned="",
        )

    def resume_run(self, run: RunRef | str) -> RunRecord:
        """Hold a RUNNING attempt again (a restarted desk continuing its run): appends a
        heartbeat naming this process as the owner. Allowed when the attempt is ABANDONED or
        its lease is held by this very process; a live owner elsewhere is refused.

        Returns:
            The attempt as read before resuming (``lease`` is the previous owner's).

        Raises:
            UnknownRunError: no such run or attempt.
            StoreWriteError: the attempt has ended, is held by a live process, this store
                holds another attempt of the run, the reference is malformed, or the write
                failed.
        """
        self._check_open()
        ref = _write_ref(run)
        record = self._require_record(ref)
        held = self._held.get(record.run_id)
        if held == record.attempt:
            return record
        if held is not None:
            raise StoreWriteError(
                f"this store already holds run {record.run_id!r} attempt {held}; "
                f"cannot resume attempt {record.attempt} beside it"
            )
        if record.status is not RunStatus.RUNNING:
            raise StoreWriteError(
                f"run {str(record.ref)!r} has ended ({record.status.value}): nothing more can "
                "be appended"
            )
        me = this_process()
        if is_live(record) and record.lease is not None and record.lease.owner != me:
            raise StoreWriteError(
                f"run {str(record.ref)!r} is RUNNING under {record.lease.owner} whose lease is "
                f"alive until {utc_text(record.lease.expires_wall_ns)}; resume it only after "
                "that process has stopped"
            )
        now_ns = self._wall_clock_ns()
        try:
            with self._engine.begin() as connection:
                self._write_lease(connection, record.run_id, record.attempt, now_ns)
        except Exception as exc:
            raise self._write_error(exc, f"resume of run {str(record.ref)!r}") from _scrubbed(
                exc, self._url
            )
        self._held[record.run_id] = record.attempt
        self._renewed_ns[record.run_id] = now_ns
        return record

    def end_run(
        self,
        run: RunRef | str,
        *,
        ended_ns: int,
        status: RunStatus = RunStatus.COMPLETED,
        detail: str = "",
        produced: RunProduced,
    ) -> None:
        """Record how the attempt this store holds of ``run`` ended and what it produced
        (after flushing pending rows) and stop holding it. An attempt ends once; afterwards
        nothing more can be appended to it.

        Args:
            run: the run id (or ``RUN_ID@N`` naming the held attempt).
            ended_ns: end time, ns since the epoch (desk clock).
            status: COMPLETED, HALTED, FAILED or INTERRUPTED.
            detail: HALTED: the reason code; FAILED: the error text; INTERRUPTED: the signal
                name (each required); COMPLETED: optional.
            produced: how many envelopes, order states and fills the attempt produced (all of
                them, also those recorded by an earlier process of a resumed attempt);
                :meth:`check_integrity` reports the attempt incomplete when fewer rows are
                recorded.

        Raises:
            StoreWriteError: unknown, not held or already ended attempt, status RUNNING, a
                missing detail, a negative count, NUL characters, or a failed write (the
                attempt stays held, so the end can be retried).
        """
        self._check_open()
        status = RunStatus(status)
        run_id, attempt = self._held_attempt(run)
        what = f"run {run_id!r}"
        if status is RunStatus.RUNNING:
            raise StoreWriteError("end_run needs a final status, not RUNNING")
        if not isinstance(detail, str):
            raise StoreWriteError(f"end_run detail must be text, got {type(detail).__name__}")
        if status in _DETAIL_REQUIRED and not detail.strip():
            raise StoreWriteError(
                f"end_run {status.value} needs a detail (HALTED: the reason code, FAILED: the "
                "error, INTERRUPTED: the signal)"
            )
        _require_int64({"ended_ns": ended_ns}, ("ended_ns",), what)
        counts = {
            "produced_envelopes": produced.envelopes,
            "produced_orders": produced.orders,
            "produced_fills": produced.fills,
        }
        _require_int64(counts, tuple(counts), what)
        if min(counts.values()) < 0:
            raise StoreWriteError(f"end_run of {what}: produced counts must be ≥ 0: {produced}")
        row = {
            "run_id": run_id,
            "attempt": attempt,
            "ended_ns": ended_ns,
            "ended_wall_ns": self._wall_clock_ns(),
            "status": status.value,
            "detail": detail,
            **counts,
        }
        _refuse_nul(row, what)
        self.flush()
        e = schema.run_ends.c
        try:
            with self._engine.begin() as connection:
                ended = connection.execute(
                    sa.select(e.run_id).where(e.run_id == run_id, e.attempt == attempt)
                ).first()
                if ended is not None:
                    raise StoreWriteError(f"{what} attempt {attempt} has already ended")
                connection.execute(schema.run_ends.insert(), row)
        except StoreWriteError:
            raise
        except Exception as exc:
            raise self._write_error(exc, f"end of {what}") from _scrubbed(exc, self._url)
        del self._held[run_id]
        self._renewed_ns.pop(run_id, None)

    def renew_lease(self, run: RunRef | str) -> None:
        """Write a heartbeat for the attempt this store holds of ``run`` now (with any
        pending rows, in one transaction), whatever the heartbeat interval.

        Raises:
            StoreWriteError: the attempt is not held by this store, or the write failed.
        """
        run_id, _attempt = self._held_attempt(run)
        self._renewed_ns[run_id] = -(2**63)
        self.flush()

    # ------------------------------------------------------------------ batched appends

    def record(self, envelope: ReportEnvelope) -> None:
        """Envelope-sink entry point of the desk: same as :meth:`append_envelope`."""
        self.append_envelope(envelope)

    def record_line(self, envelope: ReportEnvelope, line: bytes) -> None:
        """Line-sink entry point (:class:`~polytraders.desk.sinks.LineSink`): store
        ``envelope`` with ``line``, its JSON line as :func:`encode_envelope` wrote it upstream
        (the desk's digesting sink), instead of encoding it again.

        The same checks as :meth:`append_envelope` run on ``line`` (it must decode to a valid
        ReportEnvelope; 64-bit ranges; NUL characters), and the decoded line must be this
        envelope (same run id, sequence and envelope id), so a line paired with the wrong
        envelope is refused.

        Raises:
            StoreWriteError: as :meth:`append_envelope`, or ``line`` is not newline-terminated
                or belongs to another envelope.
        """
        attempt = self._held.get(envelope.run_id)
        if attempt is None:
            raise self._not_held(RunRef(str(envelope.run_id)))
        if line[-1:] != b"\n":
            raise StoreWriteError(
                f"envelope {envelope.envelope_id!r} cannot be stored: its line does not end "
                "with a newline"
            )
        self._append_envelope(envelope, line[:-1], attempt, given=True)

    def append_envelope(self, envelope: ReportEnvelope) -> None:
        """Buffer one envelope (its columns, output JSON and exact JSON line) in the attempt
        this store holds of ``envelope.run_id``; flushes when ``batch_size`` rows are pending.

        Raises:
            StoreWriteError: this store holds no attempt of the envelope's run (never started,
                ended, or started elsewhere), the envelope does not encode to a valid
                ReportEnvelope line (wrong types, unencodable text, NUL characters in id
                fields), or the flush it triggered failed.
        """
        attempt = self._held.get(envelope.run_id)
        if attempt is None:
            raise self._not_held(RunRef(str(envelope.run_id)))
        try:
            line = _ENVELOPE_ENCODER.encode(envelope)
        except _MALFORMED as exc:
            raise StoreWriteError(
                f"envelope {envelope.envelope_id!r} cannot be stored: {exc}"
            ) from exc
        self._append_envelope(envelope, line, attempt, given=False)

    def _append_envelope(
        self, envelope: ReportEnvelope, line: bytes, attempt: int, *, given: bool
    ) -> None:
        """Check and buffer ``envelope`` whose exact JSON encoding (no newline) is ``line``
        in ``attempt`` (``given``: the line came from the caller, so it is also checked to be
        this envelope's). The caller has checked that this store holds the attempt."""
        try:
            decoded = _ENVELOPE_VALIDATOR.decode(line)
            if given and (
                decoded.sequence != envelope.sequence
                or decoded.envelope_id != envelope.envelope_id
                or decoded.run_id != envelope.run_id
            ):
                raise ValueError(
                    f"the line given is envelope {decoded.envelope_id!r} of run "
                    f"{decoded.run_id!r} (sequence {decoded.sequence})"
                )
            # a given line is stored with columns taken from its own decoding
            source = decoded if given else envelope
            row = envelope_row(source, line, attempt)
        except _MALFORMED as exc:
            raise StoreWriteError(
                f"envelope {envelope.envelope_id!r} cannot be stored: {exc}"
            ) from exc
        if not (
            _INT64_MIN <= source.sequence <= _INT64_MAX
            and _INT64_MIN <= source.ts_event_ns <= _INT64_MAX
            and _INT64_MIN <= source.ts_decided_ns <= _INT64_MAX
            and _INT64_MIN <= source.latency_ns <= _INT64_MAX
        ):
            raise StoreWriteError(
                f"envelope {envelope.envelope_id!r}: sequence, times and latency must fit in "
                "64-bit signed integers"
            )
        if b"\\u0000" in line:
            _refuse_nul(
                {ENVELOPE_COLUMNS[i]: row[i] for i in ENVELOPE_TEXT_INDEXES},
                f"envelope {envelope.envelope_id!r}",
            )
        self._envelope_rows.append(row)
        self._pending += 1
        if self._pending >= self._batch_size:
            self.flush()

    def append_order(self, run: RunRef | str, order: VenueOrder) -> None:
        """Buffer one lifecycle state of a venue order in the attempt this store holds of
        ``run`` (append a row on every change: placed, accepted, partially filled,
        cancelled ...). The order is copied as it is now.

        Raises:
            StoreWriteError: attempt not held (never started, ended, or held elsewhere),
                invalid field types, NUL characters, or the flush it triggered failed.
        """
        run_id, attempt = self._held_attempt(run)
        try:
            row = order_row(run_id, attempt, order)
            order_from_json(row[-1])
        except _MALFORMED as exc:
            raise StoreWriteError(
                f"order {order.client_order_id!r} cannot be stored: {exc}"
            ) from exc
        named = dict(zip(ORDER_COLUMNS, row, strict=True))
        _require_int64(
            named,
            ("price", "size", "notional", "filled_size", "ts_created_ns", "ts_updated_ns"),
            "order",
        )
        _refuse_nul(named, f"order {order.client_order_id!r}")
        self._order_rows.append(row)
        self._pending += 1
        if self._pending >= self._batch_size:
            self.flush()

    def append_fill(self, run: RunRef | str, fill: Fill) -> None:
        """Buffer one fill in the attempt this store holds of ``run``. A fill id is booked
        once per attempt (a duplicate fails the flush).

        Raises:
            StoreWriteError: attempt not held, wrong field types (e.g. a float price),
                amounts beyond 64 bits, NUL characters, or the flush it triggered failed.
        """
        run_id, attempt = self._held_attempt(run)
        try:
            _FILL_VALIDATOR.decode(_ENVELOPE_ENCODER.encode(fill))
            row = fill_row(run_id, attempt, fill)
        except _MALFORMED as exc:
            raise StoreWriteError(f"fill {fill.fill_id!r} cannot be stored: {exc}") from exc
        named = dict(zip(FILL_COLUMNS, row, strict=True))
        _require_int64(
            named, ("price", "size", "fee", "ts_event_ns", "ts_recv_ns", "fee_size"), "fill"
        )
        _refuse_nul(named, f"fill {fill.fill_id!r}")
        self._fill_rows.append(row)
        self._pending += 1
        if self._pending >= self._batch_size:
            self.flush()

    def append_position(self, run: RunRef | str, position: Position, ts_ns: int) -> None:
        """Buffer a snapshot of ``position`` taken at ``ts_ns`` (desk clock) in the attempt
        this store holds of ``run``.

        Raises:
            StoreWriteError: attempt not held, non-int amounts, or the flush it triggered
                failed.
        """
        run_id, attempt = self._held_attempt(run)
        if not isinstance(position.token_id, str):
            raise StoreWriteError(f"position: token_id must be a str, got {position.token_id!r}")
        row = position_row(run_id, attempt, position, ts_ns)
        named = dict(zip(POSITION_COLUMNS, row, strict=True))
        _require_int64(
            named,
            ("ts_ns", "size", "cost_basis", "realized_pnl", "fees", "fill_count"),
            "position",
        )
        _refuse_nul(named, f"position in {position.token_id!r}")
        self._position_rows.append(row)
        self._pending += 1
        if self._pending >= self._batch_size:
            self.flush()

    def flush(self) -> None:
        """Write every pending row, and a heartbeat for each held attempt whose latest one is
        ``heartbeat_interval_s`` old or more, in one transaction (no-op when there is
        neither).

        Raises:
            StoreWriteError: the transaction failed and was rolled back; earlier flushes stay
                committed and the rows stay pending for a retry (the heartbeats too).
            StoreClosedError: the store is closed.
        """
        self._check_open()
        now_ns = self._wall_clock_ns() if self._held else 0
        due = [
            (run_id, self._held[run_id])
            for run_id, renewed_ns in self._renewed_ns.items()
            if now_ns - renewed_ns >= self._heartbeat_interval_ns
        ]
        if not self._pending and not due:
            return
        batches = (
            (schema.envelopes, ENVELOPE_COLUMNS, self._envelope_rows),
            (schema.orders, ORDER_COLUMNS, self._order_rows),
            (schema.fills, FILL_COLUMNS, self._fill_rows),
            (schema.positions, POSITION_COLUMNS, self._position_rows),
        )
        try:
            with self._engine.begin() as connection:
                for table, columns, rows in batches:
                    bulk_insert(connection, table, columns, rows)
                for run_id, attempt in due:
                    self._write_lease(connection, run_id, attempt, now_ns)
        except Exception as exc:
            beats = f" and {len(due)} lease heartbeat(s)" if due else ""
            raise self._write_error(
                exc, f"flush of {self._pending} rows{beats} (kept pending for a retry)"
            ) from _scrubbed(exc, self._url)
        self._envelope_rows = []
        self._order_rows = []
        self._fill_rows = []
        self._position_rows = []
        self._pending = 0
        self.write_failing = False
        for run_id, _attempt in due:
            self._renewed_ns[run_id] = now_ns

    def audit(
        self,
        *,
        actor: str,
        action: str,
        ts_ns: int,
        detail: str | Mapping[str, Any] = "",
        run: RunRef | str | None = None,
    ) -> None:
        """Append an audit-log entry at once (after flushing pending rows).

        Args:
            actor: who acted (operator name, bot id or ``desk``).
            action: what was done (e.g. ``kill_switch.reset``).
            ts_ns: when, ns since the epoch (caller's clock).
            detail: free text, or a mapping stored as JSON with sorted keys.
            run: the run concerned (the attempt this store holds of it, else ``RUN_ID`` =
                its latest attempt, or ``RUN_ID@N``), or None for desk-wide actions.

        Raises:
            StoreWriteError: empty actor/action, NUL characters, an unknown run, or the
                write failed.
        """
        self._check_open()
        if not actor or not action:
            raise StoreWriteError("an audit entry needs an actor and an action")
        _require_int64({"ts_ns": ts_ns}, ("ts_ns",), f"audit entry {action!r}")
        try:
            text = detail if isinstance(detail, str) else json_text(dict(detail))
        except _MALFORMED as exc:
            raise StoreWriteError(f"audit detail cannot be encoded as JSON: {exc}") from exc
        run_id: str | None = None
        attempt: int | None = None
        if run is not None:
            ref = _write_ref(run)
            held = self._held.get(ref.run_id)
            if held is not None and ref.attempt in (None, held):
                run_id, attempt = ref.run_id, held
            else:
                try:
                    run_id, attempt = self._resolve(ref)
                except UnknownRunError as exc:
                    raise StoreWriteError(f"audit entry {action!r}: {exc}") from exc
        row = {
            "ts_ns": ts_ns,
            "actor": actor,
            "action": action,
            "detail": text,
            "run_id": run_id,
            "attempt": attempt,
        }
        _refuse_nul(row, f"audit entry {action!r}")
        self.flush()
        for tries_left in range(_START_TRIES - 1, -1, -1):
            try:
                with self._engine.begin() as connection:
                    insert_entry(connection, row)
                return
            except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
                if tries_left and _contended(exc):  # another writer chained first
                    time.sleep(random.uniform(0.001, 0.02))
                    continue
                raise self._write_error(exc, f"audit entry {action!r}") from _scrubbed(
                    exc, self._url
                )
            except Exception as exc:
                raise self._write_error(exc, f"audit entry {action!r}") from _scrubbed(
                    exc, self._url
                )

    # ------------------------------------------------------------------ checkpoints

    def append_checkpoint(
        self, run: RunRef | str, *, kind: str, ts_ns: int, body: str | bytes, actor: str = "desk"
    ) -> CheckpointRow:
        """Append a checkpoint row to the attempt this store holds of ``run``, at once in its
        own transaction (not batched, and pending rows are not flushed with it): committed
        when this returns. See :mod:`polytraders.store.checkpoints`.

        Args:
            run: the run id (or ``RUN_ID@N`` naming the held attempt).
            kind: the row's kind (the desk writes ``desk``).
            ts_ns: the writer's time, ns since the epoch (desk clock).
            body: the body, JSON text or bytes (stored verbatim after checking it parses).
            actor: who wrote it.

        Returns:
            The row as stored (its ``sequence`` is the attempt's next number).

        Raises:
            StoreWriteError: the attempt is not held here, the body is not JSON, an empty
                kind or actor, NUL characters, or the write failed.
        """
        self._check_open()
        run_id, attempt = self._held_attempt(run)
        row = self._checkpoint_row(run_id, attempt, kind=kind, ts_ns=ts_ns, body=body, actor=actor)
        return self._insert_checkpoint(row, None)

    def append_operator_checkpoint(
        self,
        run: RunRef | str,
        *,
        kind: str,
        ts_ns: int,
        body: str | bytes,
        actor: str,
        action: str,
        detail: str | Mapping[str, Any],
    ) -> CheckpointRow:
        """Append an operator's checkpoint row (e.g. a kill-switch reset) to a RUNNING attempt
        of ``run``, whether this store, another process or nobody holds it, together with the
        audit-log entry ``action`` by ``actor`` (``detail``), in one transaction.

        Args:
            run: ``RUN_ID`` (its latest attempt) or ``RUN_ID@N``.
            kind, ts_ns, body: as in :meth:`append_checkpoint` (``ts_ns``: the operator's
                wall clock).
            actor: the operator (non-empty).
            action, detail: the audit entry's action and detail (text, or a mapping stored
                as JSON with sorted keys).

        Returns:
            The row as stored.

        Raises:
            StoreWriteError: no such run or attempt, the attempt has ended (nothing will
                read the row), an invalid argument, or the write failed.
        """
        self._check_open()
        ref = _write_ref(run)
        try:
            run_id, attempt = self._resolve(ref)
        except UnknownRunError as exc:
            raise StoreWriteError(f"{kind}: {exc}") from exc
        if not action:
            raise StoreWriteError("an operator checkpoint needs an audit action")
        try:
            text = detail if isinstance(detail, str) else json_text(dict(detail))
        except _MALFORMED as exc:
            raise StoreWriteError(f"audit detail cannot be encoded as JSON: {exc}") from exc
        row = self._checkpoint_row(run_id, attempt, kind=kind, ts_ns=ts_ns, body=body, actor=actor)
        audit = {
            "ts_ns": ts_ns,
            "actor": actor,
            "action": action,
            "detail": text,
            "run_id": run_id,
            "attempt": attempt,
        }
        _refuse_nul(audit, f"audit entry {action!r}")
        return self._insert_checkpoint(row, audit)

    def checkpoints(
        self, run: RunRef | str, *, after_sequence: int = -1, kinds: Sequence[str] = ()
    ) -> list[CheckpointRow]:
        """The attempt's checkpoint rows with a sequence above ``after_sequence`` (all by
        default), of the given ``kinds`` (all when empty), in sequence order.

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        self._check_open()
        if isinstance(run, str) and run in self._held:  # the desk polling its own attempt
            run_id, attempt = run, self._held[run]
        else:
            run_id, attempt = self._resolve(parse_run_ref(run))
        query = checkpoints_query(run_id, attempt, after_sequence=after_sequence, kinds=kinds)
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(query).all()
        except Exception as exc:
            raise self._read_error(exc) from _scrubbed(exc, self._url)
        return [checkpoint_from_db(row) for row in rows]

    def _checkpoint_row(
        self, run_id: str, attempt: int, *, kind: str, ts_ns: int, body: str | bytes, actor: str
    ) -> dict[str, Any]:
        what = f"checkpoint of run '{run_id}@{attempt}'"
        if not kind or not actor:
            raise StoreWriteError(f"{what}: needs a kind and an actor")
        try:
            msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise StoreWriteError(f"{what}: the body is not JSON: {exc}") from exc
        row = {
            "run_id": run_id,
            "attempt": attempt,
            "ts_ns": ts_ns,
            "kind": kind,
            "actor": actor,
            "body_json": body.decode() if isinstance(body, bytes) else body,
        }
        _require_int64(row, ("ts_ns",), what)
        _refuse_nul(row, what)
        return row

    def _insert_checkpoint(
        self, row: dict[str, Any], audit: dict[str, Any] | None
    ) -> CheckpointRow:
        """Insert a checkpoint row (and an audit entry) in one transaction, retrying with the
        next sequence when another writer took it; an operator's row needs a RUNNING
        attempt."""
        what = f"checkpoint of run '{row['run_id']}@{row['attempt']}'"
        e = schema.run_ends.c
        for tries_left in range(_START_TRIES - 1, -1, -1):
            wall_ns = self._wall_clock_ns()
            try:
                with self._engine.begin() as connection:
                    if audit is not None:
                        ended = connection.execute(
                            sa.select(e.status).where(
                                e.run_id == row["run_id"], e.attempt == row["attempt"]
                            )
                        ).first()
                        if ended is not None:
                            raise StoreWriteError(
                                f"run '{row['run_id']}@{row['attempt']}' has ended "
                                f"({ended.status}): no restart will read a {row['kind']}"
                            )
                    sequence = insert_checkpoint(connection, {**row, "wall_ns": wall_ns})
                    if audit is not None:
                        insert_entry(connection, audit)
                break
            except StoreWriteError:
                raise
            except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
                if tries_left and _contended(exc):
                    time.sleep(random.uniform(0.001, 0.02))
                    continue
                raise self._write_error(exc, what) from _scrubbed(exc, self._url)
            except Exception as exc:
                raise self._write_error(exc, what) from _scrubbed(exc, self._url)
        return CheckpointRow(**row, sequence=sequence, wall_ns=wall_ns)

    # ------------------------------------------------------------------ reconciliations

    def append_reconciliation(
        self,
        run: RunRef | str,
        *,
        ts_ns: int,
        kind: ReconciliationKind,
        level: str,
        order_drift_micros: int,
        position_drift_micros: int,
        reason_codes: Sequence[str],
        differences_json: str | bytes,
    ) -> ReconciliationRow:
        """Record one reconciliation with the venue in the attempt this store holds of
        ``run``, at once in its own transaction (after flushing pending rows, so it follows
        what was recorded before it).

        Args:
            run: the run id (or ``RUN_ID@N`` naming the held attempt).
            ts_ns: when (desk clock, ns since the epoch).
            kind: start-up or periodic.
            level: the drift level (``ok``, ``warning``, ``critical``; at most 16 characters).
            order_drift_micros, position_drift_micros: the drifts (micro-shares, ≥ 0).
            reason_codes: the registered codes of the result.
            differences_json: what differed, JSON text or bytes (stored verbatim after
                checking it parses).

        Returns:
            The row as stored.

        Raises:
            StoreWriteError: the attempt is not held here, a bad argument (unknown kind, empty
                or long level, a negative or non-int drift, JSON that does not parse, NUL
                characters), or the write failed.
        """
        self._check_open()
        run_id, attempt = self._held_attempt(run)
        what = f"reconciliation of run '{run_id}@{attempt}'"
        try:
            kind = ReconciliationKind(kind)
        except ValueError as exc:
            raise StoreWriteError(f"{what}: unknown kind {kind!r}") from exc
        if not level or len(level) > 16:
            raise StoreWriteError(f"{what}: level must be 1 to 16 characters, got {level!r}")
        try:
            msgspec.json.decode(differences_json)
        except msgspec.DecodeError as exc:
            raise StoreWriteError(f"{what}: the differences are not JSON: {exc}") from exc
        row: dict[str, Any] = {
            "run_id": run_id,
            "attempt": attempt,
            "ts_ns": ts_ns,
            "wall_ns": self._wall_clock_ns(),
            "kind": kind.value,
            "level": level,
            "order_drift_micros": order_drift_micros,
            "position_drift_micros": position_drift_micros,
            "reason_codes_json": json_text(list(reason_codes)),
            "differences_json": differences_json.decode()
            if isinstance(differences_json, bytes)
            else differences_json,
        }
        _require_int64(row, ("ts_ns", "order_drift_micros", "position_drift_micros"), what)
        if order_drift_micros < 0 or position_drift_micros < 0:
            raise StoreWriteError(f"{what}: drifts must not be negative")
        _refuse_nul(row, what)
        self.flush()
        try:
            with self._engine.begin() as connection:
                connection.execute(schema.reconciliations.insert(), row)
        except Exception as exc:
            raise self._write_error(exc, what) from _scrubbed(exc, self._url)
        return _reconciliation_from_db(row)

    def reconciliations(self, run: RunRef | str) -> list[ReconciliationRow]:
        """The attempt's reconciliations in the order they were recorded.

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        run_id, attempt = self._resolve(parse_run_ref(run))
        r = schema.reconciliations.c
        query = (
            sa.select(schema.reconciliations)
            .where(r.run_id == run_id, r.attempt == attempt)
            .order_by(r.row_id)
        )
        return [_reconciliation_from_db(row._asdict()) for row in self._read(query)]

    # ------------------------------------------------------------------ other tables

    def append_rows(
        self,
        table: sa.Table,
        rows: Sequence[Mapping[str, Any]],
        *,
        what: str,
        audit: AuditEntry | None = None,
    ) -> None:
        """Append ``rows`` to ``table`` (one of :data:`schema.APPEND_ONLY_TABLES` outside the
        run-scoped ones, e.g. the governance evidence), at once in one transaction, after
        flushing pending rows, together with the audit entry ``audit`` when given (chained
        after the rows, retried onto a new head when another writer chained first). The
        caller validates the values; this refuses NUL characters and reports a failed write.

        Raises:
            StoreWriteError: NUL characters in a value, or the write failed (``what`` names
                the rows in the message).
        """
        self._check_open()
        for row in rows:
            _refuse_nul(row, what)
        entry = None if audit is None else msgspec.structs.asdict(audit)
        if entry is not None:
            _refuse_nul(entry, what)
        self.flush()
        for tries_left in range(_START_TRIES - 1, -1, -1):
            try:
                with self._engine.begin() as connection:
                    if rows:
                        connection.execute(table.insert(), [dict(row) for row in rows])
                    if entry is not None:
                        insert_entry(connection, entry)
                return
            except sa.exc.IntegrityError as exc:
                # a unique key of ``table`` refuses for good; the chain's head moved: retry
                if tries_left and entry is not None and _chain_contended(exc):
                    time.sleep(random.uniform(0.001, 0.02))
                    continue
                raise self._write_error(exc, what) from _scrubbed(exc, self._url)
            except sa.exc.OperationalError as exc:
                if tries_left and _contended(exc):
                    time.sleep(random.uniform(0.001, 0.02))
                    continue
                raise self._write_error(exc, what) from _scrubbed(exc, self._url)
            except Exception as exc:
                raise self._write_error(exc, what) from _scrubbed(exc, self._url)

    def select(self, query: sa.Select[Any]) -> list[sa.Row[Any]]:
        """Run a read query (after flushing pending rows) and return every row.

        Raises:
            StoreError: the read failed.
        """
        return self._read(query)

    def wall_clock_ns(self) -> int:
        """The store's wall clock (ns since the epoch), as stamped on rows it writes."""
        return self._wall_clock_ns()

    # ------------------------------------------------------------------ maintenance

    def prune(self, runs: Sequence[RunRef | str], *, actor: str, reason: str) -> PruneResult:
        """Delete the given run attempts and everything recorded in them, in one
        transaction that also tombstones them and writes a ``store.prune`` audit entry
        (:mod:`polytraders.store.prune`); then, on SQLite, VACUUM the file.

        Args:
            runs: the attempts (``RUN_ID`` = its latest attempt, or ``RUN_ID@N``).
            actor: who prunes (e.g. ``ana@host``).
            reason: why (kept in the tombstones and the audit entry).

        Raises:
            UnknownRunError: a reference names no attempt.
            StoreWriteError: nothing to prune, empty actor/reason, an attempt RUNNING with a
                live lease or held by this store (nothing is deleted then), or the
                transaction failed (rolled back as a whole).
            StoreError: the VACUUM after a committed prune failed.
        """
        self._check_open()
        if not actor.strip() or not reason.strip():
            raise StoreWriteError("a prune needs an actor and a reason")
        refs = [self._resolve(_write_ref(run)) for run in runs]
        keys = sorted(set(refs))
        if not keys:
            raise StoreWriteError("nothing to prune: no run given")
        self.flush()
        before = self._sqlite_bytes()
        now_ns = self._wall_clock_ns()
        host = socket.gethostname()
        try:
            with self._engine.begin() as connection:
                for run_id, attempt in keys:
                    row = connection.execute(where_ref(records_query(), run_id, attempt)).one()
                    record = record_from_row(row, now_ns, host)
                    if self._held.get(run_id) == attempt or is_live(record):
                        raise StoreWriteError(
                            f"run '{run_id}@{attempt}' is RUNNING with a live lease; not pruned "
                            "(nothing was deleted)"
                        )
                rows = delete_attempts(
                    connection,
                    [RunRef(run_id, attempt) for run_id, attempt in keys],
                    actor=actor,
                    reason=reason,
                    ts_ns=now_ns,
                )
        except StoreWriteError:
            raise
        except Exception as exc:
            raise self._write_error(exc, f"prune of {len(keys)} run(s)") from _scrubbed(
                exc, self._url
            )
        after = self._vacuum() if before is not None else None
        return PruneResult(
            pruned=tuple(RunRef(run_id, attempt) for run_id, attempt in keys),
            rows=rows,
            bytes_before=before,
            bytes_after=after,
        )

    # ------------------------------------------------------------------ readers

    def runs(self) -> list[RunRecord]:
        """Every recorded attempt, ordered by wall-clock start, run id and attempt;
        ``abandoned`` is judged now."""
        now_ns, host = self._wall_clock_ns(), socket.gethostname()
        return [record_from_row(row, now_ns, host) for row in self._read(records_query())]

    def run(self, run: RunRef | str) -> RunRecord | None:
        """One attempt (``RUN_ID`` = the latest, or ``RUN_ID@N``), or None when it is not
        recorded.

        Raises:
            RunRefError: a malformed reference.
        """
        try:
            run_id, attempt = self._resolve(parse_run_ref(run))
        except UnknownRunError:
            return None
        rows = self._read(where_ref(records_query(), run_id, attempt))
        return record_from_row(rows[0], self._wall_clock_ns(), socket.gethostname())

    def counts(self, run: RunRef | str) -> RunCounts:
        """Rows recorded in one attempt (envelopes, order states and orders, fills,
        position snapshots).

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        ref = RunRef(*self._resolve(parse_run_ref(run)))
        return self._counted(ref).get(ref, RunCounts())

    def all_counts(self) -> dict[RunRef, RunCounts]:
        """:meth:`counts` of every attempt that has rows, keyed by ``RUN_ID@N`` references."""
        return self._counted(None)

    def envelopes(self, run: RunRef | str) -> list[ReportEnvelope]:
        """The attempt's envelopes in sequence order, decoded from their exact JSON lines.

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        return list(self.iter_envelopes(run))

    def iter_envelopes(self, run: RunRef | str) -> Iterator[ReportEnvelope]:
        """Stream the attempt's envelopes in sequence order (for runs too large for a list).

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        for line in self._iter_lines(run):
            yield decode_envelope(line)

    def next_sequence(self, run: RunRef | str) -> int:
        """The sequence the attempt's next envelope takes: one past the highest recorded (0
        for an attempt without envelopes). A restarted desk resumes its recorder from here.

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        run_id, attempt = self._resolve(parse_run_ref(run))
        env = schema.envelopes.c
        rows = self._read(
            sa.select(sa.func.max(env.sequence)).where(env.run_id == run_id, env.attempt == attempt)
        )
        highest = rows[0][0]
        return 0 if highest is None else int(highest) + 1

    def export_jsonl(self, run: RunRef | str, stream: IO[bytes]) -> int:
        """Write the attempt's timeline as JSON lines, byte-identical to
        :func:`polytraders.contracts.envelope.write_jsonl` of the recorded envelopes; return
        how many lines. Identical runs give identical bytes whatever their attempt numbers.

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        count = 0
        for line in self._iter_lines(run):
            stream.write(line.encode() + b"\n")
            count += 1
        return count

    def order_lines(self, run: RunRef | str) -> list[str]:
        """The exact JSON of every recorded lifecycle state of the attempt's orders, in
        append order (what :meth:`orders` decodes).

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        run_id, attempt = self._resolve(parse_run_ref(run))
        o = schema.orders.c
        query = (
            sa.select(o.order_json)
            .where(o.run_id == run_id, o.attempt == attempt)
            .order_by(o.row_id)
        )
        return [row.order_json for row in self._read(query)]

    def orders(self, run: RunRef | str) -> list[VenueOrder]:
        """Every recorded lifecycle state of the attempt's orders, in append order.

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        return [order_from_json(text) for text in self.order_lines(run)]

    def fills(self, run: RunRef | str) -> list[Fill]:
        """The attempt's fills in append order.

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        run_id, attempt = self._resolve(parse_run_ref(run))
        fl = schema.fills.c
        query = (
            sa.select(schema.fills)
            .where(fl.run_id == run_id, fl.attempt == attempt)
            .order_by(fl.row_id)
        )
        return [fill_from_row(row) for row in self._read(query)]

    def positions(self, run: RunRef | str) -> list[PositionSnapshot]:
        """The attempt's position snapshots in append order.

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        run_id, attempt = self._resolve(parse_run_ref(run))
        p = schema.positions.c
        query = (
            sa.select(
                p.run_id,
                p.attempt,
                p.ts_ns,
                p.token_id,
                p.size,
                p.cost_basis,
                p.realized_pnl,
                p.fees,
                p.fill_count,
            )
            .where(p.run_id == run_id, p.attempt == attempt)
            .order_by(p.row_id)
        )
        return [PositionSnapshot(**row._asdict()) for row in self._read(query)]

    def audit_log(self, run: RunRef | str | None = None) -> list[AuditEntry]:
        """Audit entries in append order: all of them, or those of one attempt.

        Raises:
            RunRefError / UnknownRunError: a malformed reference or no such attempt.
        """
        a = schema.audit_log.c
        query = sa.select(a.ts_ns, a.actor, a.action, a.detail, a.run_id, a.attempt).order_by(
            a.row_id
        )
        if run is not None:
            run_id, attempt = self._resolve(parse_run_ref(run))
            query = query.where(a.run_id == run_id, a.attempt == attempt)
        return [AuditEntry(**row._asdict()) for row in self._read(query)]

    def append_only_guarded(self, table: sa.Table) -> bool:
        """True when the database holds ``table``'s append-only triggers (as
        :func:`schema.append_only_ddl` installs them): someone with DDL rights could have
        dropped them.

        Raises:
            StoreReadError: the database could not be read.
        """
        expected = {
            statement.split()[2] if "IF NOT EXISTS" not in statement else statement.split()[5]
            for statement in schema.append_only_ddl(table.name, self._engine.dialect.name)
        }
        if self._backend is Backend.POSTGRESQL:
            query = sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) "
                "AND NOT tgisinternal"
            ).bindparams(t=table.name)
        else:
            query = sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"
            ).bindparams(t=table.name)
        self._check_open()
        try:
            with self._engine.connect() as connection:
                found = {str(row[0]) for row in connection.execute(query)}
        except Exception as exc:
            raise self._read_error(exc) from _scrubbed(exc, self._url)
        return expected <= found

    def audit_chain(self) -> list[ChainedEntry]:
        """Every audit entry with its chain digests, in append (``row_id``) order; check
        them with :func:`polytraders.store.audit_chain.verify_chain`.

        Raises:
            StoreReadError: the database could not be read.
        """
        query = sa.select(schema.audit_log).order_by(schema.audit_log.c.row_id)
        return [ChainedEntry(**row._asdict()) for row in self._read(query)]

    def check_integrity(self, run: RunRef | str) -> list[str]:
        """Problems in the attempt's recorded evidence; empty when sound. The rules are in
        :mod:`polytraders.store.integrity` (sequence from 0 without gaps, unique derived
        envelope ids, lines agree with rows, every correlation id resolves to an intent of the
        run, every fill refers to a recorded order, an ended attempt holds as many envelopes,
        order states and fills as its end record says it produced); in addition an attempt
        left RUNNING by a dead writer is reported ABANDONED and incomplete (it has no end
        record to check its rows against), and an unknown run as not recorded. A RUNNING
        attempt whose writer is alive is sound so far.

        Raises:
            RunRefError: a malformed reference.
        """
        ref = parse_run_ref(run)
        try:
            run_id, attempt = self._resolve(ref)
        except UnknownRunError:
            return [f"run {str(ref)!r} is not recorded"]
        self.flush()
        try:
            with self._engine.connect() as connection:
                problems = check_run_integrity(connection, run_id, attempt)
        except Exception as exc:
            raise self._read_error(exc) from _scrubbed(exc, self._url)
        record = self.run(RunRef(run_id, attempt))
        if record is not None and record.abandoned:
            counts = self.counts(record.ref)
            problems[:0] = [
                f"run '{run_id}@{attempt}' is ABANDONED: {record.abandoned}",
                f"run '{run_id}@{attempt}' is incomplete: it has no end record (its writer "
                "stopped before ending it), so what it produced is unknown; recorded are "
                f"{counts.envelopes} envelopes, {counts.orders} order states and "
                f"{counts.fills} fills",
            ]
        return problems

    # ------------------------------------------------------------------ internals

    def _write_lease(
        self, connection: sa.Connection, run_id: str, attempt: int, now_ns: int
    ) -> Lease:
        owner = this_process()
        connection.execute(
            schema.run_leases.insert(),
            {
                "run_id": run_id,
                "attempt": attempt,
                "renewed_wall_ns": now_ns,
                "lease_s": self._lease_s,
                "owner_host": owner.host,
                "owner_pid": owner.pid,
                "owner_process_start": owner.process_start,
            },
        )
        return Lease(owner=owner, renewed_wall_ns=now_ns, lease_s=self._lease_s)

    def _held_attempt(self, run: RunRef | str) -> tuple[str, int]:
        """(run id, attempt) of the attempt this store holds of ``run``."""
        if isinstance(run, str) and run in self._held:  # the hot path: a plain held run id
            return run, self._held[run]
        ref = _write_ref(run)
        attempt = self._held.get(ref.run_id)
        if attempt is None or ref.attempt not in (None, attempt):
            raise self._not_held(ref)
        return ref.run_id, attempt

    def _not_held(self, ref: RunRef) -> StoreWriteError:
        """The error for a write to an attempt this store does not hold, saying why."""
        self._check_open()
        try:
            with self._engine.connect() as connection:
                latest = latest_attempt(connection, ref.run_id)
                e = schema.run_ends.c
                target = ref.attempt if ref.attempt is not None else latest
                ended = target is not None and (
                    connection.execute(
                        sa.select(e.run_id).where(e.run_id == ref.run_id, e.attempt == target)
                    ).first()
                    is not None
                )
        except Exception as exc:
            raise self._write_error(exc, f"check of run {str(ref)!r}") from _scrubbed(
                exc, self._url
            )
        if latest is None:
            return StoreWriteError(
                f"run {ref.run_id!r} was never started: call start_run before appending to it"
            )
        if ref.attempt is not None and ref.attempt > latest:
            return StoreWriteError(f"run {str(ref)!r} was never started")
        if ended:
            return StoreWriteError(
                f"run '{ref.run_id}@{target}' has ended: nothing more can be appended"
            )
        return StoreWriteError(
            f"run '{ref.run_id}@{target}' is not open in this store: start_run a new attempt, "
            "or resume_run an abandoned one, before appending to it"
        )

    def _resolve(self, ref: RunRef) -> tuple[str, int]:
        """(run id, attempt) that ``ref`` names in the database.

        Raises:
            UnknownRunError: no such run or attempt.
        """
        r = schema.runs.c
        if ref.attempt is None:
            rows = self._read(sa.select(sa.func.max(r.attempt)).where(r.run_id == ref.run_id))
            if rows[0][0] is None:
                raise UnknownRunError(f"run {ref.run_id!r} is not in the store at {self.url}")
            return ref.run_id, int(rows[0][0])
        rows = self._read(
            sa.select(r.attempt).where(r.run_id == ref.run_id, r.attempt == ref.attempt)
        )
        if not rows:
            raise UnknownRunError(f"run {str(ref)!r} is not in the store at {self.url}")
        return ref.run_id, ref.attempt

    def _require_record(self, ref: RunRef) -> RunRecord:
        run_id, attempt = self._resolve(ref)
        record = self.run(RunRef(run_id, attempt))
        if record is None:  # pruned in between
            raise UnknownRunError(f"run '{run_id}@{attempt}' is not in the store at {self.url}")
        return record

    def _counted(self, ref: RunRef | None) -> dict[RunRef, RunCounts]:
        self._check_open()
        self.flush()
        try:
            with self._engine.connect() as connection:
                return count_rows(connection, ref)
        except Exception as exc:
            raise self._read_error(exc) from _scrubbed(exc, self._url)

    def _iter_lines(self, run: RunRef | str) -> Iterator[str]:
        run_id, attempt = self._resolve(parse_run_ref(run))
        self.flush()
        env = schema.envelopes.c
        query = (
            sa.select(env.line)
            .where(env.run_id == run_id, env.attempt == attempt)
            .order_by(env.sequence)
        )
        try:
            with self._engine.connect() as connection:
                result = connection.execution_options(yield_per=_STREAM_ROWS).execute(query)
                for row in result:
                    yield row.line
        except GeneratorExit:
            raise
        except Exception as exc:
            raise self._read_error(exc) from _scrubbed(exc, self._url)

    def _read(self, query: sa.Select[Any]) -> list[sa.Row[Any]]:
        self._check_open()
        self.flush()
        try:
            with self._engine.connect() as connection:
                return list(connection.execute(query).all())
        except Exception as exc:
            raise self._read_error(exc) from _scrubbed(exc, self._url)

    def _sqlite_bytes(self) -> int | None:
        """Size of the SQLite file and its WAL (bytes); None on PostgreSQL."""
        if self._backend is not Backend.SQLITE or self._url.database is None:
            return None
        path = Path(self._url.database)
        wal = path.with_name(path.name + "-wal")
        return sum(p.stat().st_size for p in (path, wal) if p.exists())

    def _vacuum(self) -> int | None:
        """VACUUM the SQLite file and truncate its WAL; return the size afterwards."""
        try:
            with self._engine.connect() as connection:
                auto = connection.execution_options(isolation_level="AUTOCOMMIT")
                auto.exec_driver_sql("VACUUM")
                auto.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception as exc:
            raise StoreError(
                f"the prune was committed but VACUUM failed at {self.url}: "
                f"{_describe(exc, self._url)}"
            ) from _scrubbed(exc, self._url)
        return self._sqlite_bytes()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"the event store at {self.url} is closed")

    def _write_error(self, exc: BaseException, what: str) -> StoreWriteError:
        self.write_failures += 1
        self.write_failing = True
        return StoreWriteError(
            f"event store write failed ({what}) at {self.url}: {_describe(exc, self._url)}"
        )

    def _read_error(self, exc: BaseException) -> StoreError:
        return StoreError(f"event store read failed at {self.url}: {_describe(exc, self._url)}")


# ---------------------------------------------------------------------- helpers


def _write_ref(run: RunRef | str) -> RunRef:
    """``run`` parsed for a write: a malformed reference is a refused write."""
    try:
        return parse_run_ref(run)
    except RunRefError as exc:
        raise StoreWriteError(str(exc)) from exc


def _contended(exc: BaseException) -> bool:
    """True for the errors of two writers racing for the same attempt number: a unique
    violation, or SQLite's busy/locked (a stale WAL snapshot is not retried by its busy
    handler)."""
    if isinstance(exc, sa.exc.IntegrityError):
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    return "locked" in text or "busy" in text


def _chain_contended(exc: sa.exc.IntegrityError) -> bool:
    """True when the integrity error is the audit chain's unique successor index (another
    writer chained onto the same head first), not a unique key of the rows written."""
    text = str(getattr(exc, "orig", exc))
    # PostgreSQL names the index; SQLite names the column
    return str(schema.AUDIT_CHAIN_INDEX.name) in text or "audit_log.prev_sha256" in text


def _configure_sqlite(engine: sa.Engine, synchronous: str) -> None:
    """WAL journal, the chosen ``synchronous`` level, enforced foreign keys, and a busy
    timeout so a concurrent reader never fails a write at once.

    A new database file gets 16 KiB pages (``page_size`` only takes effect before the first
    table is created, so existing files keep theirs): an envelope row is about 1.3 KB (its
    exact line plus the output JSON), and with the default 4 KiB pages SQLite spent a third
    more CPU per batched insert (``bench/bench_pipeline.py``: flush CPU 0.50 s → 0.34 s for
    the 69,476 envelopes of the shipped sample). It changes the file layout only, not what is
    stored or read back.
    """

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA page_size={_SQLITE_PAGE_SIZE}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.execute("PRAGMA cache_size=-16384")
        finally:
            cursor.close()


def _check_server_encoding(connection: sa.Connection) -> None:
    """Exact JSON lines need a UTF-8 database: any other encoding could alter or refuse text."""
    encoding = connection.exec_driver_sql("SHOW server_encoding").scalar_one()
    if str(encoding).upper() not in ("UTF8", "UTF-8"):
        raise StoreSchemaError(
            f"the PostgreSQL database uses encoding {encoding}; the event store needs UTF8 "
            "so recorded timelines re-export byte for byte"
        )


def _prepare_schema(connection: sa.Connection, *, create: bool, where: str) -> None:
    """Check the stored schema version before anything else (an older store gets no new
    tables), then create what is missing (nothing, and no DDL, for a current store).

    Raises:
        StoreSchemaError: another schema version.
        StoreOpenError: no store there and ``create`` is False.
    """
    meta = schema.store_meta
    version: str | None = None
    if sa.inspect(connection).has_table(meta.name):
        row = connection.execute(
            sa.select(meta.c.value).where(meta.c.key == "schema_version")
        ).first()
        version = None if row is None else str(row.value)
    if version in {str(v) for v in schema.UPGRADABLE_FROM}:
        _upgrade_in_place(connection, version)
        version = str(schema.SCHEMA_VERSION)
    if version is not None and version != str(schema.SCHEMA_VERSION):
        raise StoreSchemaError(
            f"the event store at {where} has schema version {version} and this polytraders "
            f"writes version {schema.SCHEMA_VERSION}: keep that store for the polytraders "
            "release that wrote it, and give --store a new file or database"
        )
    if version is None and not create:
        raise StoreOpenError(f"no event store at {where}: it holds no polytraders tables")
    schema.metadata.create_all(connection, checkfirst=True)
    if version is None:
        connection.execute(
            meta.insert(), {"key": "schema_version", "value": str(schema.SCHEMA_VERSION)}
        )


def _upgrade_in_place(connection: sa.Connection, old_version: str) -> None:
    """Upgrade a store of a version in :data:`schema.UPGRADABLE_FROM` inside the opening
    transaction: create the missing tables with their append-only triggers, add the audit
    log's hash columns when missing and chain the entries already there, add
    ``fills.fee_size`` (default 0) when missing, set
    ``schema_version``, and note the upgrade in the (chained) audit log. The two rows ever
    changed (``schema_version``, and the old audit entries gaining their digests) have their
    guard triggers dropped and re-created around the change in the same transaction."""
    schema.metadata.create_all(connection, checkfirst=True)
    dialect = connection.dialect.name
    audit = schema.audit_log
    columns = {c["name"] for c in sa.inspect(connection).get_columns(audit.name)}
    for name in ("prev_sha256", "entry_sha256"):
        if name not in columns:
            connection.exec_driver_sql(f"ALTER TABLE {audit.name} ADD COLUMN {name} VARCHAR(64)")
    fills = schema.fills.name
    if "fee_size" not in {c["name"] for c in sa.inspect(connection).get_columns(fills)}:
        # a constant default: no row is rewritten, so the append-only guards stay as they are
        connection.exec_driver_sql(
            f"ALTER TABLE {fills} ADD COLUMN fee_size BIGINT NOT NULL DEFAULT 0"
        )
    for table_name in (schema.store_meta.name, audit.name):
        _drop_append_only(connection, table_name)
    audit_chain.chain_existing(connection)
    meta = schema.store_meta
    connection.execute(
        meta.update().where(meta.c.key == "schema_version").values(value=str(schema.SCHEMA_VERSION))
    )
    for table_name in (schema.store_meta.name, audit.name):
        for statement in schema.append_only_ddl(table_name, dialect):
            connection.exec_driver_sql(statement)
    schema.AUDIT_CHAIN_INDEX.create(connection, checkfirst=True)
    insert_entry(
        connection,
        {
            "ts_ns": time.time_ns(),
            "actor": "polytraders",
            "action": "store.upgrade",
            "detail": json_text({"from": old_version, "to": str(schema.SCHEMA_VERSION)}),
            "run_id": None,
            "attempt": None,
        },
    )


def _drop_append_only(connection: sa.Connection, table_name: str) -> None:
    """Drop the append-only triggers of a table that is not run-scoped (the upgrade
    re-creates them in the same transaction)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            f"DROP TRIGGER IF EXISTS {table_name}_append_only ON {table_name}"
        )
    else:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table_name}_no_update")
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table_name}_no_delete")


def _reconciliation_from_db(row: Mapping[str, Any]) -> ReconciliationRow:
    """A :class:`ReconciliationRow` from a ``reconciliations`` row (as a mapping)."""
    return ReconciliationRow(
        run_id=row["run_id"],
        attempt=int(row["attempt"]),
        ts_ns=int(row["ts_ns"]),
        wall_ns=int(row["wall_ns"]),
        kind=ReconciliationKind(row["kind"]),
        level=row["level"],
        order_drift_micros=int(row["order_drift_micros"]),
        position_drift_micros=int(row["position_drift_micros"]),
        reason_codes=tuple(msgspec.json.decode(row["reason_codes_json"])),
        differences_json=row["differences_json"],
    )


def _config_json(config: str | bytes | Mapping[str, Any]) -> str:
    if isinstance(config, str | bytes):
        try:
            msgspec.json.decode(config)
        except msgspec.DecodeError as exc:
            raise StoreWriteError(f"desk_config is not valid JSON: {exc}") from exc
        return config if isinstance(config, str) else config.decode()
    try:
        return json_text(dict(config))
    except (msgspec.EncodeError, TypeError) as exc:
        raise StoreWriteError(f"desk_config cannot be encoded as JSON: {exc}") from exc


def _refuse_nul(row: Mapping[str, Any], what: str) -> None:
    """NUL characters cannot be stored in PostgreSQL text; refuse them on every backend."""
    for key, value in row.items():
        if isinstance(value, str) and "\x00" in value:
            raise StoreWriteError(f"{what}: field {key!r} contains a NUL character")


def _require_int64(row: Mapping[str, Any], keys: tuple[str, ...], what: str) -> None:
    """Amounts and times are ints (micro-units, ns) that fit the 64-bit signed columns."""
    for key in keys:
        value = row[key]
        if type(value) is not int:
            raise StoreWriteError(
                f"{what}: {key} must be an int (micro-units / ns), got {type(value).__name__}"
            )
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise StoreWriteError(f"{what}: {key}={value} does not fit a 64-bit signed integer")


def _describe(exc: BaseException, url: URL) -> str:
    """One line naming the failure, with the URL's password masked."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()
    first = text[0] if text else ""
    return scrub(f"{type(cause).__name__}: {first}", url)


def _scrubbed(exc: BaseException, url: URL) -> BaseException | None:
    """The exception to chain as the cause, or None when its text would reveal the
    password (the masked description is then the whole story)."""
    text = str(exc)
    if any(secret in text for secret in secrets(url)):
        return None
    return exc
