"""Alert firings received from Alertmanager's webhook, in the store's ``alert_firings``
table, and how long an alert of a tier fired for a bot inside a window (seed 001, Shadow →
Limited live: "No P0 alerts in shadow — Alertmanager — 0 over 7 days"; demotion: "P0 alert active
… for 24 consecutive hours").

**Payload** (Alertmanager webhook, version 4): a JSON object whose ``alerts`` list holds
``{"status": "firing"|"resolved", "labels": {...}, "startsAt", "endsAt", "fingerprint"}``
(other keys ignored). ``labels.alertname`` is required; ``labels.severity`` must be P0, P1 or P2
(the project's tiers: an alert without one is refused, so a mis-tiered rule is noticed rather
than dropped); the bot is ``labels.bot`` or else ``labels.bot_id`` (the label of the desk's
per-bot metrics, :mod:`polytraders.ops.metrics`), else ``desk``. A payload is recorded whole
or not at all.

**Times** are RFC 3339 (``2026-12-06T10:00:00.123456789Z``, any offset, up to 9 fraction
digits) converted to int ns exactly (:func:`rfc3339_ns`). Alertmanager sends a firing alert's
``endsAt`` as Go's zero time ``0001-01-01T00:00:00Z`` (``prometheus/alertmanager``
``dispatch.go``; issues #3341, #3351): it is stored as ``ends_ns = 0``, "no end given".

**Rows.** One row per alert per notification state (``firing`` / ``resolved``), stamped with
its ``received_ns`` and ``source``; a notification already on record (same fingerprint, state,
start and end) is skipped, so Alertmanager's repeats do not pile up. An audit entry
``GOV_ALERT_RECORDED`` (actor the source) records each ingest.

**Intervals.** An alert instance is (fingerprint, ``starts_ns``). It fired from ``starts_ns``
until the ``ends_ns`` of its first resolved row; with no resolved row it is still firing
(counted up to the window's end: an unresolved P0 is never assumed over). Firing time in a
window is the length of the union of the instances' intervals clipped to ``[start, end)``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import msgspec
import sqlalchemy as sa

from polytraders.store import schema
from polytraders.store.errors import EvidenceInputError
from polytraders.store.event_store import EventStore
from polytraders.store.incidents import DESK, Severity
from polytraders.store.intervals import union_ns

ACTION_INGEST = "GOV_ALERT_RECORDED"

NS_PER_S = 1_000_000_000
_INT64_MAX = 2**63 - 1
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
"""Alertmanager's "no end given" (Go's zero ``time.Time``)."""

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


class AlertState(StrEnum):
    """A notification's ``status``."""

    FIRING = "firing"
    RESOLVED = "resolved"


class _WebhookAlert(msgspec.Struct, rename="camel"):
    status: str
    labels: dict[str, str]
    starts_at: str
    ends_at: str = GO_ZERO_TIME
    fingerprint: str = ""


class _Webhook(msgspec.Struct):
    alerts: list[_WebhookAlert]


class AlertFiring(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded notification: ``fingerprint``, ``alertname``, ``severity``, ``bot_id``,
    ``state``, ``starts_ns``, ``ends_ns`` (0: none given), ``source``, every ``labels``,
    ``received_ns``."""

    fingerprint: str
    alertname: str
    severity: Severity
    bot_id: str
    state: AlertState
    starts_ns: int
    ends_ns: int
    source: str
    labels: dict[str, str]
    received_ns: int


class IngestResult(msgspec.Struct, frozen=True, kw_only=True):
    """What an ingest did: ``recorded`` new rows, ``duplicates`` skipped (already on record or
    repeated in the payload)."""

    recorded: tuple[AlertFiring, ...]
    duplicates: int


class FiringInterval(msgspec.Struct, frozen=True, kw_only=True):
    """An alert instance's firing time: ``[starts_ns, ends_ns)``, ``ends_ns`` None while it
    has not been resolved."""

    fingerprint: str
    alertname: str
    severity: Severity
    bot_id: str
    starts_ns: int
    ends_ns: int | None


def rfc3339_ns(text: str) -> int:
    """An RFC 3339 timestamp as int ns since the epoch, exactly (fraction digits kept to the
    nanosecond; offsets applied). Go's zero time gives 0 ("none").

    Raises:
        EvidenceInputError: not RFC 3339, more than 9 fraction digits, an invalid date, or
            outside the 64-bit ns range (before 1970 other than the zero time, after 2262).
    """
    if text == GO_ZERO_TIME:
        return 0
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise EvidenceInputError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction = m.group(7) or ""
    try:
        moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except ValueError as exc:
        raise EvidenceInputError(f"not a valid time: {text!r} ({exc})") from None
    if m.group(8) is None:
        sign = 1 if m.group(9) == "+" else -1
        moment -= sign * timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
    whole_s = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)
    whole_s += second - min(second, 59)  # a leap second (:60) counts as the next second
    ns = whole_s * NS_PER_S + int(fraction.ljust(9, "0") or "0")
    if not 0 <= ns <= _INT64_MAX:
        raise EvidenceInputError(f"time out of range (1970..2262): {text!r}")
    return ns


def _parse_webhook(payload: bytes | str) -> list[_WebhookAlert]:
    """The alerts of an Alertmanager webhook payload.

    Raises:
        EvidenceInputError: not JSON, or not the webhook's shape (the message says where).
    """
    try:
        return msgspec.json.decode(payload, type=_Webhook).alerts
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise EvidenceInputError(f"not an Alertmanager webhook payload: {exc}") from None


def _firing(alert: _WebhookAlert, index: int, source: str, received_ns: int) -> AlertFiring:
    where = f"alert {index}"
    try:
        state = AlertState(alert.status)
    except ValueError:
        raise EvidenceInputError(
            f"{where}: status must be firing or resolved, got {alert.status!r}"
        ) from None
    name = alert.labels.get("alertname", "").strip()
    if not name:
        raise EvidenceInputError(f"{where}: no alertname label")
    raw = alert.labels.get("severity", "")
    try:
        severity = Severity(raw)
    except ValueError:
        raise EvidenceInputError(
            f"{where} ({name}): severity label must be P0, P1 or P2, got {raw!r}"
        ) from None
    if not alert.fingerprint:
        raise EvidenceInputError(f"{where} ({name}): no fingerprint")
    bot = alert.labels.get("bot") or alert.labels.get("bot_id") or DESK
    starts = rfc3339_ns(alert.starts_at)
    if starts == 0:
        raise EvidenceInputError(f"{where} ({name}): no startsAt")
    ends = rfc3339_ns(alert.ends_at)
    if state is AlertState.RESOLVED and ends < starts:
        raise EvidenceInputError(f"{where} ({name}): resolved, but endsAt is before startsAt")
    return AlertFiring(
        fingerprint=alert.fingerprint,
        alertname=name,
        severity=severity,
        bot_id=bot,
        state=state,
        starts_ns=starts,
        ends_ns=ends,
        source=source,
        labels=dict(sorted(alert.labels.items())),
        received_ns=received_ns,
    )


def _identity(f: AlertFiring) -> tuple[str, str, int, int]:
    return (f.fingerprint, f.state.value, f.starts_ns, f.ends_ns)


def ingest_webhook(
    store: EventStore,
    payload: bytes | str,
    *,
    source: str = "alertmanager",
    ts_ns: int | None = None,
) -> IngestResult:
    """Record an Alertmanager webhook payload's notifications (rules in the module
    docstring) and an ``GOV_ALERT_RECORDED`` audit entry.

    Args:
        store: the event store.
        payload: the webhook's JSON body.
        source: what delivered it (kept in each row and as the audit actor).
        ts_ns: when it was received (ns since the epoch); default the store's wall clock.

    Raises:
        EvidenceInputError: a malformed payload, alert or time; an empty source.
        StoreError: a read or write failed.
    """
    source = source.strip()
    if not source:
        raise EvidenceInputError("an alert ingest needs a non-empty source")
    alerts = _parse_webhook(payload)
    received = store.wall_clock_ns() if ts_ns is None else ts_ns
    firings = [_firing(a, i, source, received) for i, a in enumerate(alerts)]
    a = schema.alert_firings.c
    fingerprints = sorted({f.fingerprint for f in firings})
    seen: set[tuple[str, str, int, int]] = set()
    if fingerprints:
        rows = store.select(
            sa.select(a.fingerprint, a.state, a.starts_ns, a.ends_ns).where(
                a.fingerprint.in_(fingerprints)
            )
        )
        seen = {(r.fingerprint, r.state, int(r.starts_ns), int(r.ends_ns)) for r in rows}
    new: list[AlertFiring] = []
    for firing in firings:
        key = _identity(firing)
        if key not in seen:
            seen.add(key)
            new.append(firing)
    if new:
        store.append_rows(
            schema.alert_firings,
            [
                {
                    "fingerprint": f.fingerprint,
                    "alertname": f.alertname,
                    "severity": f.severity.value,
                    "bot_id": f.bot_id,
                    "state": f.state.value,
                    "starts_ns": f.starts_ns,
                    "ends_ns": f.ends_ns,
                    "source": f.source,
                    "labels_json": json.dumps(f.labels, sort_keys=True),
                    "received_ns": f.received_ns,
                }
                for f in new
            ],
            what=f"{len(new)} alert firing(s)",
        )
    store.audit(
        actor=source,
        action=ACTION_INGEST,
        ts_ns=received,
        detail={
            "alerts": len(firings),
            "recorded": len(new),
            "duplicates": len(firings) - len(new),
            "firing": sorted(
                {
                    f"{f.severity.value} {f.alertname} {f.bot_id}"
                    for f in new
                    if f.state is AlertState.FIRING
                }
            ),
        },
    )
    return IngestResult(recorded=tuple(new), duplicates=len(firings) - len(new))


def list_firings(
    store: EventStore, *, bot_id: str | None = None, severity: str | None = None
) -> list[AlertFiring]:
    """Recorded notifications (of ``bot_id`` / ``severity`` when given), in the order
    received.

    Raises:
        StoreError: the read failed.
    """
    a = schema.alert_firings.c
    query = sa.select(schema.alert_firings).order_by(a.row_id)
    if bot_id is not None:
        query = query.where(a.bot_id == bot_id)
    if severity is not None:
        query = query.where(a.severity == severity)
    return [
        AlertFiring(
            fingerprint=r.fingerprint,
            alertname=r.alertname,
            severity=Severity(r.severity),
            bot_id=r.bot_id,
            state=AlertState(r.state),
            starts_ns=int(r.starts_ns),
            ends_ns=int(r.ends_ns),
            source=r.source,
            labels=json.loads(r.labels_json),
            received_ns=int(r.received_ns),
        )
        for r in store.select(query)
    ]


def firing_intervals(
    store: EventStore, bot_id: str, *, severity: str | None = None
) -> list[FiringInterval]:
    """Every alert instance of ``bot_id`` (of ``severity`` when given) with its firing
    interval, ordered by start (rules in the module docstring).

    Raises:
        StoreError: the read failed.
    """
    instances: dict[tuple[str, int], FiringInterval] = {}
    for f in list_firings(store, bot_id=bot_id, severity=severity):
        key = (f.fingerprint, f.starts_ns)
        known = instances.get(key)
        end = f.ends_ns if f.state is AlertState.RESOLVED else None
        if known is None:
            instances[key] = FiringInterval(
                fingerprint=f.fingerprint,
                alertname=f.alertname,
                severity=f.severity,
                bot_id=f.bot_id,
                starts_ns=f.starts_ns,
                ends_ns=end,
            )
        elif end is not None and (known.ends_ns is None or end < known.ends_ns):
            instances[key] = msgspec.structs.replace(known, ends_ns=end)
    return sorted(instances.values(), key=lambda i: (i.starts_ns, i.fingerprint))


def firing_ns(store: EventStore, bot_id: str, *, severity: str, start_ns: int, end_ns: int) -> int:
    """How long (ns) at least one ``severity`` alert of ``bot_id`` was firing inside
    ``[start_ns, end_ns)``: the union of the instances' intervals, clipped.

    Raises:
        ValueError: ``end_ns < start_ns``.
        StoreError: the read failed.
    """
    if end_ns < start_ns:
        raise ValueError(f"window end {end_ns} is before its start {start_ns}")
    return union_ns(firing_intervals(store, bot_id, severity=severity), start_ns, end_ns)


def alerted_bots(store: EventStore) -> list[str]:
    """The bot ids (``desk`` included) with at least one notification on record, sorted.

    Raises:
        StoreError: the read failed.
    """
    a = schema.alert_firings.c
    return sorted({r.bot_id for r in store.select(sa.select(a.bot_id).distinct())})
