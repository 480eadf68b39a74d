"""What the console shows, read from the event store: the JSON API returns these models and
the HTML pages render the same ones (one code path).

Cost on a big store (``docs/console.md`` "Queries"): the runs list reads the ``runs`` table
(one row per attempt); a run's envelopes are read a page at a time along the envelopes'
primary key (run id, attempt, sequence) from a sequence on (keyset paging, never OFFSET); the
reason-code counts cover only the :attr:`~ConsoleSettings.recent_runs` latest attempts, each
over its last :attr:`~ConsoleSettings.per_run_envelopes` decisions, grouped by the codes'
JSON text on that primary-key range: the work is bounded by those two settings, never by the
size of the store. The integrity check and the reason-code counts of an ended run are computed
once per process (an ended attempt's rows never change; a pruned one is no longer found).
"""

from __future__ import annotations

import re
import threading

import msgspec
import sqlalchemy as sa
from pydantic import BaseModel

from polytraders.console.settings import ConsoleSettings
from polytraders.console.sources import Source, run_source
from polytraders.contracts.reasons import Severity, load_registry
from polytraders.store import EventStore, RunRecord, RunStatus, schema
from polytraders.store.console_users import ConsoleRole, current_users
from polytraders.store.errors import RunRefError
from polytraders.store.run_ref import parse_run_ref

MAX_PAGE = 500
"""The most envelopes one page returns."""

CODE_PATTERN = r"^[A-Z][A-Z0-9_]{0,99}$"
"""A reason code's form, as a filter accepts it (UPPER_SNAKE, at most 100 characters)."""

_CODE_TEXT = re.compile(CODE_PATTERN)


class RunSummary(BaseModel):
    """One run attempt as listed: ``ref`` is ``RUN_ID@N``; times are ns since the epoch
    (store wall clock); ``state`` is the recorded status or ``ABANDONED``."""

    ref: str
    run_id: str
    attempt: int
    state: str
    source: Source
    started_wall_ns: int
    ended_wall_ns: int | None
    data_source: str
    seed: int
    desk_config_version: str
    detail: str


class RunCountsModel(BaseModel):
    """Rows recorded in an attempt (all of the run's source)."""

    envelopes: int
    orders: int
    distinct_orders: int
    fills: int
    positions: int


class RunDetail(BaseModel):
    """A run attempt, its counts and its integrity check (``sound`` when no problem)."""

    run: RunSummary
    counts: RunCountsModel
    sound: bool
    integrity_problems: list[str]


class EnvelopeItem(BaseModel):
    """One recorded decision (times in ns since the epoch, latency in ns)."""

    sequence: int
    envelope_id: str
    ts_event_ns: int
    ts_decided_ns: int
    bot_id: str
    bot_class: str
    mode: str
    decision: str
    reason_codes: list[str]
    correlation_id: str
    output_type: str
    latency_ns: int


class EnvelopePage(BaseModel):
    """Decisions of one attempt with sequence > ``after``, in sequence order, matching the
    filters; ``next_after`` is the ``after`` of the next page (None: this is the last)."""

    run: str
    source: Source
    bot: str | None
    code: str | None
    decision: str | None
    after: int
    limit: int
    items: list[EnvelopeItem]
    next_after: int | None


class CodeRunCount(BaseModel):
    """How many counted decisions of one run carry the code."""

    run: str
    source: Source
    count: int


class ReasonCodeRow(BaseModel):
    """A registered code, with its counts per source (only sources where it appeared; never
    summed across them) and per run, over the counted window."""

    code: str
    severity: Severity
    owner: str
    summary: str
    user_message: str
    since: str
    counts: dict[Source, int]
    runs: list[CodeRunCount]


class CountedRun(BaseModel):
    """A run the counts cover: decisions counted, from sequence ``first_sequence`` on."""

    run: str
    source: Source
    envelopes_counted: int
    first_sequence: int


class ReasonCodesView(BaseModel):
    """The registry filtered by ``query`` (case-insensitive text in code, owner, summary or
    message) and ``severity``, with counts over ``counted_runs``."""

    query: str
    severity: Severity | None
    recent_runs: int
    per_run_envelopes: int
    counted_runs: list[CountedRun]
    codes: list[ReasonCodeRow]


class UserSummary(BaseModel):
    """A console user as an administrator sees it (never its hash)."""

    name: str
    role: ConsoleRole
    changed_by: str
    changed_ns: int


class NotFoundError(LookupError):
    """The run asked for is not recorded (or its reference is malformed)."""


def run_summary(record: RunRecord) -> RunSummary:
    """An attempt as the runs list shows it."""
    return RunSummary(
        ref=str(record.ref),
        run_id=record.run_id,
        attempt=record.attempt,
        state=record.state,
        source=run_source(record),
        started_wall_ns=record.started_wall_ns,
        ended_wall_ns=record.ended_wall_ns,
        data_source=record.data_source,
        seed=record.seed,
        desk_config_version=record.desk_config_version,
        detail=record.detail,
    )


class ConsoleData:
    """The console's reads over one open store (thread-safe: the web server calls it from
    worker threads)."""

    def __init__(self, store: EventStore, settings: ConsoleSettings) -> None:
        self.store = store
        self._settings = settings
        self._integrity: dict[str, list[str]] = {}
        self._windows: dict[str, tuple[CountedRun, dict[str, int]]] = {}
        self._lock = threading.Lock()

    def runs(self, *, state: str | None = None, source: Source | None = None) -> list[RunSummary]:
        """Every attempt, newest first (by wall-clock start), optionally of one state
        (a :class:`RunStatus` or ``ABANDONED``) and one source.

        Raises:
            StoreError: the read failed.
        """
        listed = [run_summary(record) for record in reversed(self.store.runs())]
        return [
            run
            for run in listed
            if (state is None or run.state == state) and (source is None or run.source == source)
        ]

    def _record(self, ref: str) -> RunRecord:
        try:
            record = self.store.run(parse_run_ref(ref))
        except RunRefError as exc:
            raise NotFoundError(str(exc)) from exc
        if record is None:
            raise NotFoundError(f"run {ref!r} is not recorded")
        return record

    def run(self, ref: str) -> RunDetail:
        """One attempt (``RUN_ID`` = its latest, or ``RUN_ID@N``) with counts and integrity.

        Raises:
            NotFoundError: no such attempt, or a malformed reference.
            StoreError: the read failed.
        """
        record = self._record(ref)
        key = str(record.ref)
        with self._lock:
            problems = self._integrity.get(key)
        if problems is None:
            problems = self.store.check_integrity(record.ref)
            if record.status is not RunStatus.RUNNING:
                with self._lock:
                    self._integrity[key] = problems
        counts = self.store.counts(record.ref)
        return RunDetail(
            run=run_summary(record),
            counts=RunCountsModel(**msgspec.structs.asdict(counts)),
            sound=not problems,
            integrity_problems=problems,
        )

    def envelopes(
        self,
        ref: str,
        *,
        bot: str | None = None,
        code: str | None = None,
        decision: str | None = None,
        after: int = -1,
        limit: int = 50,
    ) -> EnvelopePage:
        """A page of an attempt's decisions (keyset paging on the sequence).

        Raises:
            NotFoundError: no such attempt, or a malformed reference.
            ValueError: ``limit`` outside 1..:data:`MAX_PAGE`, or ``code`` not a code's form.
            StoreError: the read failed.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be in 1..{MAX_PAGE}, got {limit}")
        if code is not None and not _CODE_TEXT.match(code):
            raise ValueError(f"code {code!r} is not a reason code (UPPER_SNAKE)")
        record = self._record(ref)
        e = schema.envelopes.c
        query = (
            sa.select(
                e.sequence,
                e.envelope_id,
                e.ts_event_ns,
                e.ts_decided_ns,
                e.bot_id,
                e.bot_class,
                e.mode,
                e.decision,
                e.reason_codes_json,
                e.correlation_id,
                e.output_type,
                e.latency_ns,
            )
            .where(e.run_id == record.run_id, e.attempt == record.attempt, e.sequence > after)
            .order_by(e.sequence)
            .limit(limit + 1)
        )
        if bot is not None:
            query = query.where(e.bot_id == bot)
        if decision is not None:
            query = query.where(e.decision == decision)
        if code is not None:
            # the codes list is JSON text of UPPER_SNAKE strings: the quoted code, with LIKE's
            # "_" wildcard escaped, matches that code exactly
            pattern = '%"' + code.replace("_", "\\_") + '"%'
            query = query.where(e.reason_codes_json.like(pattern, escape="\\"))
        rows = self.store.select(query)
        items = [
            EnvelopeItem(
                **{k: v for k, v in row._asdict().items() if k != "reason_codes_json"},
                reason_codes=msgspec.json.decode(row.reason_codes_json, type=list[str]),
            )
            for row in rows[:limit]
        ]
        return EnvelopePage(
            run=str(record.ref),
            source=run_source(record),
            bot=bot,
            code=code,
            decision=decision,
            after=after,
            limit=limit,
            items=items,
            next_after=items[-1].sequence if len(rows) > limit else None,
        )

    def _counted(self, record: RunRecord) -> tuple[CountedRun, dict[str, int]]:
        """The last decisions of one attempt: the window and code → count (kept once the
        attempt has ended)."""
        key = str(record.ref)
        with self._lock:
            kept = self._windows.get(key)
        if kept is not None:
            return kept
        window = self._window(record)
        if record.status is not RunStatus.RUNNING:
            with self._lock:
                self._windows[key] = window
        return window

    def _window(self, record: RunRecord) -> tuple[CountedRun, dict[str, int]]:
        e = schema.envelopes.c
        in_run = sa.and_(e.run_id == record.run_id, e.attempt == record.attempt)
        (last,) = self.store.select(sa.select(sa.func.max(e.sequence)).where(in_run))[0]
        first = 0 if last is None else max(0, int(last) - self._settings.per_run_envelopes + 1)
        grouped = self.store.select(
            sa.select(e.reason_codes_json, sa.func.count().label("n"))
            .where(in_run, e.sequence >= first)
            .group_by(e.reason_codes_json)
        )
        per_code: dict[str, int] = {}
        total = 0
        for row in grouped:
            count = int(row.n)
            total += count
            for code in msgspec.json.decode(row.reason_codes_json, type=list[str]):
                per_code[code] = per_code.get(code, 0) + count
        counted = CountedRun(
            run=str(record.ref),
            source=run_source(record),
            envelopes_counted=total,
            first_sequence=first,
        )
        return counted, per_code

    def reason_codes(self, *, query: str = "", severity: Severity | None = None) -> ReasonCodesView:
        """The registry filtered by text and severity, with counts in the latest runs.

        Raises:
            StoreError: a read failed.
        """
        recent = self.store.runs()[-self._settings.recent_runs :]
        windows = [self._counted(record) for record in reversed(recent)]
        needle = query.strip().lower()
        codes = []
        for entry in load_registry().values():
            text = " ".join((entry.code, entry.owner, entry.summary, entry.user_message))
            if needle and needle not in text.lower():
                continue
            if severity is not None and entry.severity is not severity:
                continue
            runs = [
                CodeRunCount(run=counted.run, source=counted.source, count=per_code[entry.code])
                for counted, per_code in windows
                if entry.code in per_code
            ]
            counts: dict[Source, int] = {}
            for run in runs:
                counts[run.source] = counts.get(run.source, 0) + run.count
            codes.append(
                ReasonCodeRow(
                    code=entry.code,
                    severity=entry.severity,
                    owner=entry.owner,
                    summary=entry.summary,
                    user_message=entry.user_message,
                    since=entry.since,
                    counts=counts,
                    runs=runs,
                )
            )
        return ReasonCodesView(
            query=query,
            severity=severity,
            recent_runs=self._settings.recent_runs,
            per_run_envelopes=self._settings.per_run_envelopes,
            counted_runs=[counted for counted, _ in windows],
            codes=codes,
        )

    def users(self) -> list[UserSummary]:
        """The current console users, by name.

        Raises:
            StoreError: the read failed.
        """
        return [
            UserSummary(name=u.name, role=u.role, changed_by=u.actor, changed_ns=u.ts_ns)
            for u in current_users(self.store)
        ]
