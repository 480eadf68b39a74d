"""The append-only event store: runs, envelopes, orders, fills, positions and the audit log.

One code path (SQLAlchemy Core 2.x) for a SQLite file (the default) and PostgreSQL by URL
(see :mod:`polytraders.store.url`). The schema (:mod:`polytraders.store.schema`) is created
idempotently on open; the database refuses UPDATE and DELETE on every table, and this API has
no path that would issue one.

Writes are batched: envelopes, orders, fills and position snapshots are buffered and written
in one transaction per flush (``executemany``: SQLite ``executemany``, psycopg 3 pipeline mode
on PostgreSQL) once ``batch_size`` rows are pending, on :meth:`EventStore.flush`, on
:meth:`EventStore.close` and on leaving a ``with`` block. Run starts, run ends and audit
entries are written at once (after flushing what is pending, so the log keeps its order).
Readers flush first, so they see everything recorded through this store.

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

from collections.abc import Iterator, Mapping
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
from polytraders.store import schema
from polytraders.store.bulk import bulk_insert
from polytraders.store.errors import (
    StoreClosedError,
    StoreError,
    StoreSchemaError,
    StoreWriteError,
)
from polytraders.store.integrity import check_run_integrity
from polytraders.store.records import (
    ENVELOPE_COLUMNS,
    ENVELOPE_TEXT_INDEXES,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    AuditEntry,
    PositionSnapshot,
    Row,
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
from polytraders.store.url import Backend, masked, resolve, scrub, secrets

DEFAULT_BATCH_SIZE = 1_000
"""Rows buffered before a flush writes them in one transaction."""

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


class EventStore:
    """An open event store. Create it with :meth:`EventStore.open`; use it as a context
    manager (or call :meth:`close`) so pending rows are flushed.

    It is an envelope sink for the desk: :meth:`record` and :meth:`flush`.
    """

    def __init__(self, engine: sa.Engine, backend: Backend, url: URL, batch_size: int) -> None:
        """Use :meth:`open`; this wraps an engine whose schema is already in place."""
        self._engine = engine
        self._backend = backend
        self._url = url
        self._batch_size = batch_size
        self._envelope_rows: list[Row] = []
        self._order_rows: list[Row] = []
        self._fill_rows: list[Row] = []
        self._position_rows: list[Row] = []
        self._pending = 0
        self._open_runs: set[str] = set()
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls,
        url: str | Path,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> EventStore:
        """Open (and create if needed) the store at ``url``.

        Args:
            url: a file path or ``sqlite:///path`` (SQLite), or
                ``postgresql+psycopg://user:password@host:port/database`` (PostgreSQL); see
                :mod:`polytraders.store.url`.
            batch_size: rows buffered before they are written in one transaction (≥ 1).
            sqlite_synchronous: SQLite ``synchronous`` pragma under WAL (``NORMAL`` or
                ``FULL``); ignored on PostgreSQL.

        Raises:
            StoreUrlError: unsupported or malformed URL (message masks the password).
            StoreSchemaError: the database holds another schema version, or a PostgreSQL
                database is not UTF-8 encoded.
            StoreError: the database could not be reached or the schema not created.
            ValueError: ``batch_size`` < 1 or an unknown ``sqlite_synchronous``.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if sqlite_synchronous not in ("NORMAL", "FULL"):
            raise ValueError(
                f"sqlite_synchronous must be NORMAL or FULL, got {sqlite_synchronous!r}"
            )
        backend, resolved = resolve(url)
        engine = sa.create_engine(resolved, hide_parameters=True, pool_pre_ping=True)
        if backend is Backend.SQLITE:
            _configure_sqlite(engine, sqlite_synchronous)
        try:
            with engine.begin() as connection:
                if backend is Backend.POSTGRESQL:
                    _check_server_encoding(connection)
                schema.metadata.create_all(connection, checkfirst=True)
                _check_schema_version(connection)
        except StoreSchemaError:
            engine.dispose()
            raise
        except Exception as exc:
            engine.dispose()
            raise StoreError(
                f"cannot open the event store at {masked(resolved)}: {_describe(exc, resolved)}"
            ) from _scrubbed(exc, resolved)
        return cls(engine, backend, resolved, batch_size)

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

    def close(self) -> None:
        """Flush pending rows and release the database connections. Idempotent.

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
            # appends check the open-run cache first: emptying it makes them hit the closed
            # check instead of buffering rows that would never be written.
            self._open_runs.clear()
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
        """Record the start of a run (written at once). Status is RUNNING until
        :meth:`end_run`.

        Args:
            run_id: the run's id (:func:`polytraders.contracts.ids.run_id`).
            started_ns: start time, ns since the epoch (desk clock).
            seed: the run's random seed (0 ≤ seed < 2**63).
            desk_config: the desk config as JSON text/bytes (stored verbatim after checking it
                parses) or a mapping (stored as JSON with sorted keys).
            desk_config_version: the config's version hash.
            data_source: what feeds the run (e.g. a dataset path and digest, a live feed).
            synthetic: True when the data are generated rather than recorded.

        Raises:
            StoreWriteError: the run id already exists, an argument is invalid, or the write
                failed.
        """
        self._check_open()
        if not run_id:
            raise StoreWriteError("start_run needs a non-empty run_id")
        if not 0 <= seed <= _INT64_MAX:
            raise StoreWriteError(f"seed must be in [0, 2**63), got {seed}")
        config_json = _config_json(desk_config)
        _require_int64({"started_ns": started_ns}, ("started_ns",), f"run {run_id!r}")
        row = {
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
        try:
            with self._engine.begin() as connection:
                if _run_exists(connection, run_id):
                    raise StoreWriteError(f"run {run_id!r} already exists; run ids start once")
                connection.execute(schema.runs.insert(), row)
        except StoreWriteError:
            raise
        except Exception as exc:
            raise self._write_error(exc, f"start of run {run_id!r}") from _scrubbed(exc, self._url)
        self._open_runs.add(run_id)
        return RunRecord(
            run_id=run_id,
            started_ns=started_ns,
            ended_ns=None,
            seed=seed,
            desk_config_json=config_json,
            desk_config_version=desk_config_version,
            data_source=data_source,
            synthetic=bool(synthetic),
            status=RunStatus.RUNNING,
        )

    def end_run(
        self, run_id: str, *, ended_ns: int, status: RunStatus = RunStatus.COMPLETED
    ) -> None:
        """Record how a run ended (after flushing pending rows). A run ends once; afterwards
        nothing more can be appended to it.

        Raises:
            StoreWriteError: unknown or already ended run, status RUNNING, or a failed write.
        """
        self._check_open()
        status = RunStatus(status)
        if status is RunStatus.RUNNING:
            raise StoreWriteError("end_run needs a final status, not RUNNING")
        _require_int64({"ended_ns": ended_ns}, ("ended_ns",), f"run {run_id!r}")
        self.flush()
        try:
            with self._engine.begin() as connection:
                if not _run_exists(connection, run_id):
                    raise StoreWriteError(f"cannot end run {run_id!r}: it was never started")
                ended = connection.execute(
                    sa.select(schema.run_ends.c.run_id).where(schema.run_ends.c.run_id == run_id)
                ).first()
                if ended is not None:
                    raise StoreWriteError(f"run {run_id!r} has already ended")
                connection.execute(
                    schema.run_ends.insert(),
                    {"run_id": run_id, "ended_ns": ended_ns, "status": status.value},
                )
        except StoreWriteError:
            raise
        except Exception as exc:
            raise self._write_error(exc, f"end of run {run_id!r}") from _scrubbed(exc, self._url)
        self._open_runs.discard(run_id)

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
        if envelope.run_id not in self._open_runs:
            self._require_open_run(envelope.run_id)
        if line[-1:] != b"\n":
            raise StoreWriteError(
                f"envelope {envelope.envelope_id!r} cannot be stored: its line does not end "
                "with a newline"
            )
        self._append_envelope(envelope, line[:-1], given=True)

    def append_envelope(self, envelope: ReportEnvelope) -> None:
        """Buffer one envelope (its columns, output JSON and exact JSON line); flushes when
        ``batch_size`` rows are pending.

        Raises:
            StoreWriteError: the envelope's run is not started or has ended, the envelope does
                not encode to a valid ReportEnvelope line (wrong types, unencodable text, NUL
                characters in id fields), or the flush it triggered failed.
        """
        if envelope.run_id not in self._open_runs:
            self._require_open_run(envelope.run_id)
        try:
            line = _ENVELOPE_ENCODER.encode(envelope)
        except _MALFORMED as exc:
            raise StoreWriteError(
                f"envelope {envelope.envelope_id!r} cannot be stored: {exc}"
            ) from exc
        self._append_envelope(envelope, line, given=False)

    def _append_envelope(self, envelope: ReportEnvelope, line: bytes, *, given: bool) -> None:
        """Check and buffer ``envelope`` whose exact JSON encoding (no newline) is ``line``
        (``given``: the line came from the caller, so it is also checked to be this
        envelope's). The caller has checked that the envelope's run is open."""
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
            row = envelope_row(source, line)
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

    def append_order(self, run_id: str, order: VenueOrder) -> None:
        """Buffer one lifecycle state of a venue order (append a row on every change: placed,
        accepted, partially filled, cancelled ...). The order is copied as it is now.

        Raises:
            StoreWriteError: run not started or ended, invalid field types, NUL characters, or
                the flush it triggered failed.
        """
        self._require_open_run(run_id)
        try:
            row = order_row(run_id, order)
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

    def append_fill(self, run_id: str, fill: Fill) -> None:
        """Buffer one fill. A fill id is booked once per run (a duplicate fails the flush).

        Raises:
            StoreWriteError: run not started or ended, wrong field types (e.g. a float
                price), amounts beyond 64 bits, NUL characters, or the flush it triggered
                failed.
        """
        self._require_open_run(run_id)
        try:
            _FILL_VALIDATOR.decode(_ENVELOPE_ENCODER.encode(fill))
            row = fill_row(run_id, fill)
        except _MALFORMED as exc:
            raise StoreWriteError(f"fill {fill.fill_id!r} cannot be stored: {exc}") from exc
        named = dict(zip(FILL_COLUMNS, row, strict=True))
        _require_int64(named, ("price", "size", "fee", "ts_event_ns", "ts_recv_ns"), "fill")
        _refuse_nul(named, f"fill {fill.fill_id!r}")
        self._fill_rows.append(row)
        self._pending += 1
        if self._pending >= self._batch_size:
            self.flush()

    def append_position(self, run_id: str, position: Position, ts_ns: int) -> None:
        """Buffer a snapshot of ``position`` taken at ``ts_ns`` (desk clock).

        Raises:
            StoreWriteError: run not started or ended, non-int amounts, or the flush it
                triggered failed.
        """
        self._require_open_run(run_id)
        if not isinstance(position.token_id, str):
            raise StoreWriteError(f"position: token_id must be a str, got {position.token_id!r}")
        row = position_row(run_id, position, ts_ns)
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
        """Write every pending row in one transaction (no-op when nothing is pending).

        Raises:
            StoreWriteError: the transaction failed and was rolled back; earlier flushes stay
                committed and the rows stay pending for a retry.
            StoreClosedError: the store is closed.
        """
        self._check_open()
        if not self._pending:
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
        except Exception as exc:
            raise self._write_error(
                exc, f"flush of {self._pending} rows (kept pending for a retry)"
            ) from _scrubbed(exc, self._url)
        self._envelope_rows = []
        self._order_rows = []
        self._fill_rows = []
        self._position_rows = []
        self._pending = 0

    def audit(
        self,
        *,
        actor: str,
        action: str,
        ts_ns: int,
        detail: str | Mapping[str, Any] = "",
        run_id: str | None = None,
    ) -> None:
        """Append an audit-log entry at once (after flushing pending rows).

        Args:
            actor: who acted (operator name, bot id or ``desk``).
            action: what was done (e.g. ``kill_switch.reset``).
            ts_ns: when, ns since the epoch (caller's clock).
            detail: free text, or a mapping stored as JSON with sorted keys.
            run_id: the run concerned, or None for desk-wide actions.

        Raises:
            StoreWriteError: empty actor/action, NUL characters, or the write failed.
        """
        self._check_open()
        if not actor or not action:
            raise StoreWriteError("an audit entry needs an actor and an action")
        _require_int64({"ts_ns": ts_ns}, ("ts_ns",), f"audit entry {action!r}")
        try:
            text = detail if isinstance(detail, str) else json_text(dict(detail))
        except _MALFORMED as exc:
            raise StoreWriteError(f"audit detail cannot be encoded as JSON: {exc}") from exc
        row = {"ts_ns": ts_ns, "actor": actor, "action": action, "detail": text, "run_id": run_id}
        _refuse_nul(row, f"audit entry {action!r}")
        self.flush()
        try:
            with self._engine.begin() as connection:
                connection.execute(schema.audit_log.insert(), row)
        except Exception as exc:
            raise self._write_error(exc, f"audit entry {action!r}") from _scrubbed(exc, self._url)

    # ------------------------------------------------------------------ readers

    def runs(self) -> list[RunRecord]:
        """Every recorded run, ordered by start time then id."""
        query = _runs_query().order_by(schema.runs.c.started_ns, schema.runs.c.run_id)
        return [_run_record(row) for row in self._read(query)]

    def run(self, run_id: str) -> RunRecord | None:
        """One run, or None when it is not recorded."""
        rows = self._read(_runs_query().where(schema.runs.c.run_id == run_id))
        return _run_record(rows[0]) if rows else None

    def envelopes(self, run_id: str) -> list[ReportEnvelope]:
        """The run's envelopes in sequence order, decoded from their exact JSON lines."""
        return list(self.iter_envelopes(run_id))

    def iter_envelopes(self, run_id: str) -> Iterator[ReportEnvelope]:
        """Stream the run's envelopes in sequence order (for runs too large for a list)."""
        for line in self._iter_lines(run_id):
            yield decode_envelope(line)

    def next_sequence(self, run_id: str) -> int:
        """The sequence the run's next envelope takes: one past the highest recorded (0 for a
        run without envelopes). A restarted desk resumes its recorder from here."""
        env = schema.envelopes.c
        rows = self._read(sa.select(sa.func.max(env.sequence)).where(env.run_id == run_id))
        highest = rows[0][0]
        return 0 if highest is None else int(highest) + 1

    def export_jsonl(self, run_id: str, stream: IO[bytes]) -> int:
        """Write the run's timeline as JSON lines, byte-identical to
        :func:`polytraders.contracts.envelope.write_jsonl` of the recorded envelopes; return
        how many lines."""
        count = 0
        for line in self._iter_lines(run_id):
            stream.write(line.encode() + b"\n")
            count += 1
        return count

    def orders(self, run_id: str) -> list[VenueOrder]:
        """Every recorded lifecycle state of the run's orders, in append order."""
        query = (
            sa.select(schema.orders.c.order_json)
            .where(schema.orders.c.run_id == run_id)
            .order_by(schema.orders.c.row_id)
        )
        return [order_from_json(row.order_json) for row in self._read(query)]

    def fills(self, run_id: str) -> list[Fill]:
        """The run's fills in append order."""
        query = (
            sa.select(schema.fills)
            .where(schema.fills.c.run_id == run_id)
            .order_by(schema.fills.c.row_id)
        )
        return [fill_from_row(row) for row in self._read(query)]

    def positions(self, run_id: str) -> list[PositionSnapshot]:
        """The run's position snapshots in append order."""
        p = schema.positions.c
        query = (
            sa.select(
                p.run_id,
                p.ts_ns,
                p.token_id,
                p.size,
                p.cost_basis,
                p.realized_pnl,
                p.fees,
                p.fill_count,
            )
            .where(p.run_id == run_id)
            .order_by(p.row_id)
        )
        return [PositionSnapshot(**row._asdict()) for row in self._read(query)]

    def audit_log(self, run_id: str | None = None) -> list[AuditEntry]:
        """Audit entries in append order: all of them, or those of one run."""
        a = schema.audit_log.c
        query = sa.select(a.ts_ns, a.actor, a.action, a.detail, a.run_id).order_by(a.row_id)
        if run_id is not None:
            query = query.where(a.run_id == run_id)
        return [AuditEntry(**row._asdict()) for row in self._read(query)]

    def check_integrity(self, run_id: str) -> list[str]:
        """Problems in the run's recorded evidence; empty when sound. The rules are in
        :mod:`polytraders.store.integrity` (sequence from 0 without gaps, unique derived
        envelope ids, lines agree with rows, every correlation id resolves to an intent of the
        run, every fill refers to a recorded order)."""
        self._check_open()
        self.flush()
        try:
            with self._engine.connect() as connection:
                return check_run_integrity(connection, run_id)
        except Exception as exc:
            raise self._read_error(exc) from _scrubbed(exc, self._url)

    # ------------------------------------------------------------------ internals

    def _iter_lines(self, run_id: str) -> Iterator[str]:
        self._check_open()
        self.flush()
        env = schema.envelopes.c
        query = sa.select(env.line).where(env.run_id == run_id).order_by(env.sequence)
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

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"the event store at {self.url} is closed")

    def _require_open_run(self, run_id: str) -> None:
        """Pass when ``run_id`` is started and not ended (cached once seen)."""
        self._check_open()
        if run_id in self._open_runs:
            return
        try:
            with self._engine.connect() as connection:
                started = _run_exists(connection, run_id)
                ended = connection.execute(
                    sa.select(schema.run_ends.c.run_id).where(schema.run_ends.c.run_id == run_id)
                ).first()
        except Exception as exc:
            raise self._write_error(exc, f"check of run {run_id!r}") from _scrubbed(exc, self._url)
        if not started:
            raise StoreWriteError(
                f"run {run_id!r} was never started: call start_run before appending to it"
            )
        if ended is not None:
            raise StoreWriteError(f"run {run_id!r} has ended: nothing more can be appended")
        self._open_runs.add(run_id)

    def _write_error(self, exc: BaseException, what: str) -> StoreWriteError:
        return StoreWriteError(
            f"event store write failed ({what}) at {self.url}: {_describe(exc, self._url)}"
        )

    def _read_error(self, exc: BaseException) -> StoreError:
        return StoreError(f"event store read failed at {self.url}: {_describe(exc, self._url)}")


# ---------------------------------------------------------------------- helpers


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
            cursor.execute("PRAGMA cache_size=-65536")
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


def _check_schema_version(connection: sa.Connection) -> None:
    meta = schema.store_meta
    row = connection.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
    if row is None:
        connection.execute(
            meta.insert(), {"key": "schema_version", "value": str(schema.SCHEMA_VERSION)}
        )
    elif row.value != str(schema.SCHEMA_VERSION):
        raise StoreSchemaError(
            f"the database holds event-store schema version {row.value}, this code writes "
            f"version {schema.SCHEMA_VERSION}; refusing to mix them"
        )


def _run_exists(connection: sa.Connection, run_id: str) -> bool:
    query = sa.select(schema.runs.c.run_id).where(schema.runs.c.run_id == run_id)
    return connection.execute(query).first() is not None


def _runs_query() -> sa.Select[Any]:
    r, e = schema.runs.c, schema.run_ends.c
    return sa.select(
        r.run_id,
        r.started_ns,
        e.ended_ns,
        r.seed,
        r.desk_config_json,
        r.desk_config_version,
        r.data_source,
        r.synthetic,
        sa.func.coalesce(e.status, r.status).label("status"),
    ).select_from(schema.runs.outerjoin(schema.run_ends, r.run_id == e.run_id))


def _run_record(row: sa.Row[Any]) -> RunRecord:
    values = row._asdict()
    values["synthetic"] = bool(values["synthetic"])
    values["status"] = RunStatus(values["status"])
    return RunRecord(**values)


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
