"""The incident log: incidents attributed to a bot (or the desk), opened and closed by an
operator, in the store's ``incidents`` table (seed 001, Limited live → General live: "User-facing
incidents attributed to this bot — incident log — 0 P1, ≤ 2 P2"; seed 002, Runtime item 5:
"Runbook battle-tested … against a real (or replayed) incident").

Rules:

- **Append-only.** Opening appends an ``opened`` row; closing appends a ``closed`` row that
  repeats the incident's bot, severity, title, drill flag and origin and carries the
  resolution (in ``detail``) and whether the runbook was exercised. Nothing is updated. The
  table's unique (incident id, event) makes a second ``closed`` row impossible even for two
  operators closing at once.
- **Ids** are deterministic: ``inc-`` + the first 16 hex digits of the SHA-256 of the
  canonical JSON of what was opened (bot, severity, title, detail, drill, origin, operator,
  ``ts_ns``). The same open at the same nanosecond is the same incident (a second append is
  refused by the store); anything else differs.
- **Severity** is P0, P1 or P2 (seed 001's tiers); **origin** ``bot``, ``venue`` or ``desk``
  (``../shared/research/governance.md`` §4: error budgets split by origin so venue incidents
  do not demote bots); the **bot** is a known bot id (the caller passes the ids it knows:
  the store does not import the bot library) or ``desk``. A **drill** is a replayed incident:
  it exercises the runbook but is not a user-facing incident.
- Every write also appends an audit entry: action ``GOV_INCIDENT_OPENED`` or
  ``GOV_INCIDENT_CLOSED``, actor the operator, detail the incident's fields. The row and its
  audit entry are two transactions; should the second fail, the error is raised (the row
  stays, the audit log lacks its entry).

Refusals raise :class:`~polytraders.store.errors.EvidenceInputError` (unknown bot, severity,
origin or incident, empty title/operator/resolution) or
:class:`~polytraders.store.errors.EvidenceStateError` (closing a closed incident), with one line.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

import msgspec
import sqlalchemy as sa

from polytraders.contracts.canonical import canonical_sha256
from polytraders.store import schema
from polytraders.store.errors import EvidenceInputError, EvidenceStateError
from polytraders.store.event_store import EventStore

DESK = "desk"
"""The bot id of incidents attributed to the desk itself."""

ACTION_OPEN = "GOV_INCIDENT_OPENED"
ACTION_CLOSE = "GOV_INCIDENT_CLOSED"


class Severity(StrEnum):
    """Incident and alert tiers (seed 001): P0 pages and demotes, P1 and P2 count against
    promotion (0 P1, ≤ 2 P2 in limited live)."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"


class ErrorOrigin(StrEnum):
    """Whose failure the incident was: the bot's, the venue's, or the desk's."""

    BOT = "bot"
    VENUE = "venue"
    DESK = "desk"


class IncidentEvent(StrEnum):
    """The ``event`` column: an incident's two facts."""

    OPENED = "opened"
    CLOSED = "closed"


class Incident(msgspec.Struct, frozen=True, kw_only=True):
    """An incident as its rows tell it.

    Fields: ``incident_id``; ``bot_id`` (a bot or ``desk``); ``severity``; ``title`` and
    ``detail`` (as opened); ``drill`` (a replayed incident); ``error_origin``; ``opened_ns`` and
    ``opened_by``; ``closed_ns`` / ``closed_by`` / ``resolution`` (None, None, "" while open);
    ``runbook_exercised`` (said at closing; False while open).
    """

    incident_id: str
    bot_id: str
    severity: Severity
    title: str
    detail: str
    drill: bool
    error_origin: ErrorOrigin
    opened_ns: int
    opened_by: str
    closed_ns: int | None = None
    closed_by: str | None = None
    resolution: str = ""
    runbook_exercised: bool = False

    @property
    def state(self) -> str:
        """``open`` or ``closed``."""
        return "open" if self.closed_ns is None else "closed"


def incident_id_for(fields: dict[str, object]) -> str:
    """``inc-`` + 16 hex digits of the SHA-256 of the canonical JSON of ``fields``."""
    return "inc-" + canonical_sha256(fields)[:16]


def _required(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise EvidenceInputError(f"an incident needs a non-empty {what}")
    return text


def open_incident(
    store: EventStore,
    *,
    bot_id: str,
    severity: str,
    title: str,
    operator: str,
    known_bots: Collection[str],
    detail: str = "",
    drill: bool = False,
    origin: str = ErrorOrigin.BOT,
    ts_ns: int | None = None,
) -> Incident:
    """Open an incident (an ``opened`` row and an ``GOV_INCIDENT_OPENED`` audit entry).

    Args:
        store: the event store.
        bot_id: the bot it is attributed to (one of ``known_bots``) or ``desk``.
        severity: ``P0``, ``P1`` or ``P2``.
        title: one line saying what happened.
        operator: who opens it.
        known_bots: the bot ids the caller knows (e.g. ``polytraders.bots.registry.BOTS``).
        detail: more text (optional).
        drill: a replayed incident (a runbook drill), not a user-facing one.
        origin: ``bot``, ``venue`` or ``desk``.
        ts_ns: when (ns since the epoch); default the store's wall clock.

    Raises:
        EvidenceInputError: unknown bot, severity or origin; empty title or operator.
        StoreWriteError: the write failed.
    """
    if bot_id != DESK and bot_id not in known_bots:
        raise EvidenceInputError(
            f"unknown bot {bot_id!r}; an incident is attributed to one of "
            f"{', '.join(sorted(known_bots))} or {DESK!r}"
        )
    try:
        tier = Severity(severity)
    except ValueError:
        raise EvidenceInputError(f"severity must be P0, P1 or P2, got {severity!r}") from None
    try:
        source = ErrorOrigin(origin)
    except ValueError:
        raise EvidenceInputError(f"origin must be bot, venue or desk, got {origin!r}") from None
    title = _required(title, "title")
    operator = _required(operator, "operator")
    when = store.wall_clock_ns() if ts_ns is None else ts_ns
    fields: dict[str, object] = {
        "bot_id": bot_id,
        "severity": tier.value,
        "title": title,
        "detail": detail,
        "drill": drill,
        "error_origin": source.value,
        "actor": operator,
        "ts_ns": when,
    }
    incident_id = incident_id_for(fields)
    store.append_rows(
        schema.incidents,
        [
            {
                **fields,
                "incident_id": incident_id,
                "event": IncidentEvent.OPENED.value,
                "runbook_exercised": False,
            }
        ],
        what=f"incident {incident_id}",
    )
    store.audit(
        actor=operator,
        action=ACTION_OPEN,
        ts_ns=when,
        detail={**fields, "incident_id": incident_id},
    )
    return Incident(
        incident_id=incident_id,
        bot_id=bot_id,
        severity=tier,
        title=title,
        detail=detail,
        drill=drill,
        error_origin=source,
        opened_ns=when,
        opened_by=operator,
    )


def close_incident(
    store: EventStore,
    incident_id: str,
    *,
    operator: str,
    resolution: str,
    runbook_exercised: bool = False,
    ts_ns: int | None = None,
) -> Incident:
    """Close an open incident (a ``closed`` row and an ``GOV_INCIDENT_CLOSED`` audit entry).

    Args:
        incident_id: the incident.
        operator: who closes it.
        resolution: what resolved it (kept as the closed row's ``detail``).
        runbook_exercised: the bot's runbook was followed to resolve it (Runtime item 5).
        ts_ns: when (ns since the epoch); default the store's wall clock.

    Raises:
        EvidenceInputError: no such incident; empty operator or resolution.
        EvidenceStateError: the incident is already closed.
        StoreWriteError: the write failed (also when another operator closed it meanwhile).
    """
    operator = _required(operator, "operator")
    resolution = _required(resolution, "resolution")
    incident = get_incident(store, incident_id)
    if incident is None:
        raise EvidenceInputError(f"no incident {incident_id!r} in the store")
    if incident.closed_ns is not None:
        raise EvidenceStateError(
            f"incident {incident_id} is already closed (by {incident.closed_by})"
        )
    when = store.wall_clock_ns() if ts_ns is None else ts_ns
    row = {
        "incident_id": incident_id,
        "event": IncidentEvent.CLOSED.value,
        "ts_ns": when,
        "bot_id": incident.bot_id,
        "severity": incident.severity.value,
        "title": incident.title,
        "detail": resolution,
        "drill": incident.drill,
        "error_origin": incident.error_origin.value,
        "runbook_exercised": runbook_exercised,
        "actor": operator,
    }
    store.append_rows(schema.incidents, [row], what=f"closing of incident {incident_id}")
    store.audit(
        actor=operator,
        action=ACTION_CLOSE,
        ts_ns=when,
        detail={
            "incident_id": incident_id,
            "bot_id": incident.bot_id,
            "severity": incident.severity.value,
            "resolution": resolution,
            "runbook_exercised": runbook_exercised,
            "drill": incident.drill,
        },
    )
    return msgspec.structs.replace(
        incident,
        closed_ns=when,
        closed_by=operator,
        resolution=resolution,
        runbook_exercised=runbook_exercised,
    )


def _fold(rows: list[sa.Row[object]]) -> list[Incident]:
    """Incidents from their rows (in row order), ordered by opening time and id."""
    opened: dict[str, Incident] = {}
    closed: dict[str, sa.Row[object]] = {}
    for row in rows:
        m = row._mapping
        if m["event"] == IncidentEvent.OPENED.value:
            opened[m["incident_id"]] = Incident(
                incident_id=m["incident_id"],
                bot_id=m["bot_id"],
                severity=Severity(m["severity"]),
                title=m["title"],
                detail=m["detail"],
                drill=bool(m["drill"]),
                error_origin=ErrorOrigin(m["error_origin"]),
                opened_ns=m["ts_ns"],
                opened_by=m["actor"],
            )
        elif m["event"] == IncidentEvent.CLOSED.value:
            closed[m["incident_id"]] = row
    out = []
    for incident_id, opening in opened.items():
        end = closed.get(incident_id)
        incident = opening
        if end is not None:
            m = end._mapping
            incident = msgspec.structs.replace(
                opening,
                closed_ns=m["ts_ns"],
                closed_by=m["actor"],
                resolution=m["detail"],
                runbook_exercised=bool(m["runbook_exercised"]),
            )
        out.append(incident)
    return sorted(out, key=lambda i: (i.opened_ns, i.incident_id))


def list_incidents(store: EventStore, *, bot_id: str | None = None) -> list[Incident]:
    """Every incident (of ``bot_id`` when given) with its state, oldest first.

    Raises:
        StoreError: the read failed.
    """
    i = schema.incidents.c
    query = sa.select(schema.incidents).order_by(i.row_id)
    if bot_id is not None:
        query = query.where(i.bot_id == bot_id)
    return _fold(store.select(query))


def get_incident(store: EventStore, incident_id: str) -> Incident | None:
    """One incident with its state, or None when the store has no such incident.

    Raises:
        StoreError: the read failed.
    """
    i = schema.incidents.c
    rows = store.select(
        sa.select(schema.incidents).where(i.incident_id == incident_id).order_by(i.row_id)
    )
    found = _fold(rows)
    return found[0] if found else None
