"""Security findings in the store's ``security_findings`` table: dependency vulnerabilities
(from ``pip-audit --format json``) and other findings (a penetration test, a leaked key),
each with its CVSS score, attributed to a bot or to the whole desk. Seed 001's demotion
condition reads them: "a security finding above CVSS 7.0" (:mod:`polytraders.readiness.demotion`).

Rules:

- **Append-only facts.** Recording a finding appends an ``open`` row; resolving it appends a
  ``resolved`` row repeating the finding's fields, its ``detail`` the resolution. A finding
  open again after a resolution (the same vulnerability reported again) is a new ``open``
  row; so is a **re-score** (an ``open`` row for a finding already open, with another score).
  A finding's state at a time is that of its latest row at or before it (rows ordered by
  ``ts_ns``, then by the order recorded).
- **Ids** are deterministic: ``sec-`` + 16 hex digits of the SHA-256 of the canonical JSON of
  (bot, package, version, vulnerability id), so the same vulnerability of the same package
  version for the same bot is one finding however often an audit reports it.
- **Bot**: a known bot id (the caller passes the ids it knows: the store does not import the
  bot library) or ``desk``: a desk-wide finding (a dependency of the whole process) applies to
  every bot.
- **CVSS** is kept in tenths (7.5 → 75), parsed exactly from its decimal text (0.0 to 10.0,
  at most one decimal: CVSS scores have one). ``pip-audit``'s JSON carries no severity
  (its vulnerability entries are ``id``, ``fix_versions``, and optionally ``aliases`` and
  ``description``: ``pip_audit/_format/json.py``), so a score comes from the caller (a score
  per vulnerability id or alias). **A finding without a score is stored as unscored
  (:data:`UNSCORED`, -1) and counts as above every threshold** until someone records its
  score: a known vulnerability of unknown severity is treated as critical (fail closed), never
  assumed harmless; re-scoring it after an assessment is an audited ``open`` row.
- **Audits** (:func:`ingest_report`: pip-audit's report, the offline OSV audit of
  :mod:`polytraders.ops.osv_audit`) open one finding per package version and vulnerability
  id. An audit that covers a whole environment (the OSV audit) also resolves the findings of
  its source and bot it no longer finds (upgraded, removed, or no longer listed), its
  resolution naming the audit; pip-audit ingestion resolves nothing (a report may be partial).
- Every write appends an audit entry (``GOV_SECURITY_FINDING``,
  ``GOV_SECURITY_FINDING_RESOLVED``; an ingest adds ``GOV_SECURITY_AUDIT_INGESTED`` with its
  counts), actor the operator or tool. Times are the caller's ``ts_ns`` (default: the store's
  wall clock).

Refusals raise :class:`~polytraders.store.errors.EvidenceInputError` (unknown bot or
finding, a malformed score, report or id, an empty operator) or
:class:`~polytraders.store.errors.EvidenceStateError` (resolving a finding that is not open,
recording one already open with the same score), with one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from enum import StrEnum

import msgspec
import sqlalchemy as sa

from polytraders.contracts.canonical import config_version
from polytraders.store import schema
from polytraders.store.errors import EvidenceInputError, EvidenceStateError
from polytraders.store.event_store import EventStore
from polytraders.store.incidents import DESK

ACTION_OPEN = "GOV_SECURITY_FINDING"
ACTION_RESOLVE = "GOV_SECURITY_FINDING_RESOLVED"
ACTION_INGEST = "GOV_SECURITY_AUDIT_INGESTED"

UNSCORED = -1
"""``cvss_score_tenths`` of a finding whose score nobody has given (counts as above every
threshold: fail closed)."""

PIP_AUDIT = "pip-audit"
"""``source`` of the findings ingested from a pip-audit report."""
OSV_AUDIT = "osv-audit"
"""``source`` of the findings of the offline OSV audit (:mod:`polytraders.ops.osv_audit`)."""
MANUAL = "manual"
"""``source`` of a finding recorded by hand."""

_CVSS = re.compile(r"(\d{1,2})(?:\.(\d))?")


class FindingState(StrEnum):
    """The ``state`` column: a finding's two facts."""

    OPEN = "open"
    RESOLVED = "resolved"


class SecurityFinding(msgspec.Struct, frozen=True, kw_only=True):
    """A finding as its rows tell it at some time.

    Fields: ``finding_id``; ``bot_id`` (a bot or ``desk``); ``source`` (``pip-audit``,
    ``manual``, …); ``package`` and ``version`` ("" when not a dependency);
    ``vulnerability_id`` (``PYSEC-…``, ``GHSA-…``, ``CVE-…`` or the finder's own id);
    ``cvss_score_tenths`` (:data:`UNSCORED` when none was given); ``state``; ``detail`` (of
    its latest ``open`` row); ``opened_ns`` / ``opened_by`` (the latest ``open`` row);
    ``resolved_ns`` / ``resolved_by`` / ``resolution`` (None, None, "" while open).
    """

    finding_id: str
    bot_id: str
    source: str
    package: str
    version: str
    vulnerability_id: str
    cvss_score_tenths: int
    state: FindingState
    detail: str
    opened_ns: int
    opened_by: str
    resolved_ns: int | None = None
    resolved_by: str | None = None
    resolution: str = ""

    @property
    def cvss_text(self) -> str:
        """The score as written (``7.5``), or ``unscored``."""
        return cvss_text(self.cvss_score_tenths)


class FindingInterval(msgspec.Struct, frozen=True, kw_only=True):
    """A stretch ``[starts_ns, ends_ns)`` during which a finding was open with one score
    (``ends_ns`` None: still so)."""

    finding_id: str
    bot_id: str
    vulnerability_id: str
    package: str
    cvss_score_tenths: int
    starts_ns: int
    ends_ns: int | None


class IngestResult(msgspec.Struct, frozen=True, kw_only=True):
    """What an ingest did: the findings ``opened`` (new, reopened or re-scored),
    ``already_open`` (skipped: open with the same score, or no new score given),
    ``skipped_dependencies`` (``name: reason`` of the dependencies pip-audit did not audit),
    ``resolved`` (open before, absent from a whole-environment audit: :func:`ingest_report`)."""

    opened: tuple[SecurityFinding, ...]
    already_open: int
    skipped_dependencies: tuple[str, ...]
    resolved: tuple[SecurityFinding, ...] = ()


def parse_cvss(text: str) -> int:
    """A CVSS base score's decimal text (``7.5``, ``10``, ``0.0``) as tenths, exactly.

    Raises:
        EvidenceInputError: not a number from 0.0 to 10.0 with at most one decimal.
    """
    m = _CVSS.fullmatch(text.strip())
    if m is None:
        raise EvidenceInputError(
            f"a CVSS score is a number from 0.0 to 10.0 with one decimal, got {text!r}"
        )
    tenths = int(m.group(1)) * 10 + int(m.group(2) or "0")
    if tenths > 100:
        raise EvidenceInputError(f"a CVSS score is at most 10.0, got {text!r}")
    return tenths


def cvss_text(tenths: int) -> str:
    """Tenths back to the score's text (``75`` → ``7.5``); ``unscored`` for :data:`UNSCORED`."""
    return "unscored" if tenths == UNSCORED else f"{tenths // 10}.{tenths % 10}"


def finding_id_for(bot_id: str, package: str, version: str, vulnerability_id: str) -> str:
    """``sec-`` + 16 hex digits of the SHA-256 of the canonical JSON of what identifies a
    finding."""
    identity = {
        "bot_id": bot_id,
        "package": package,
        "version": version,
        "vulnerability_id": vulnerability_id,
    }
    return "sec-" + config_version(identity)  # the shared canonical-JSON digest


def _required(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise EvidenceInputError(f"a security finding needs a non-empty {what}")
    return text


def _check_bot(bot_id: str, known_bots: Collection[str]) -> None:
    if bot_id != DESK and bot_id not in known_bots:
        raise EvidenceInputError(
            f"unknown bot {bot_id!r}; a finding applies to one of "
            f"{', '.join(sorted(known_bots))} or to the whole {DESK!r}"
        )


def _check_score(tenths: int) -> None:
    if tenths != UNSCORED and not 0 <= tenths <= 100:
        raise EvidenceInputError(f"a CVSS score in tenths is 0 to 100 (or unscored), got {tenths}")


def _rows(store: EventStore, *, bot_ids: Collection[str] | None = None) -> list[sa.Row[object]]:
    f = schema.security_findings.c
    query = sa.select(schema.security_findings).order_by(f.ts_ns, f.row_id)
    if bot_ids is not None:
        query = query.where(f.bot_id.in_(sorted(bot_ids)))
    return store.select(query)


def _fold(rows: list[sa.Row[object]], at_ns: int | None) -> dict[str, SecurityFinding]:
    """Each finding's state after its rows up to ``at_ns`` (all when None), by id, in the
    order first recorded."""
    out: dict[str, SecurityFinding] = {}
    for row in rows:
        m = row._mapping
        if at_ns is not None and m["ts_ns"] > at_ns:
            continue
        if m["state"] == FindingState.OPEN.value:
            out[m["finding_id"]] = SecurityFinding(
                finding_id=m["finding_id"],
                bot_id=m["bot_id"],
                source=m["source"],
                package=m["package"],
                version=m["version"],
                vulnerability_id=m["vulnerability_id"],
                cvss_score_tenths=int(m["cvss_score_tenths"]),
                state=FindingState.OPEN,
                detail=m["detail"],
                opened_ns=int(m["ts_ns"]),
                opened_by=m["actor"],
            )
        else:
            known = out.get(m["finding_id"])
            if known is not None:
                out[m["finding_id"]] = msgspec.structs.replace(
                    known,
                    state=FindingState.RESOLVED,
                    resolved_ns=int(m["ts_ns"]),
                    resolved_by=m["actor"],
                    resolution=m["detail"],
                )
    return out


def findings(
    store: EventStore,
    *,
    bot_id: str | None = None,
    at_ns: int | None = None,
    open_only: bool = False,
) -> list[SecurityFinding]:
    """Every finding as it stood at ``at_ns`` (default: after every row), oldest first;
    with ``bot_id``, those applying to it (its own and the desk-wide ones); with
    ``open_only``, only the open ones.

    Raises:
        StoreError: the read failed.
    """
    bots = None if bot_id is None else {bot_id, DESK}
    folded = _fold(_rows(store, bot_ids=bots), at_ns).values()
    chosen = [f for f in folded if not open_only or f.state is FindingState.OPEN]
    return sorted(chosen, key=lambda f: (f.opened_ns, f.finding_id))


def get_finding(store: EventStore, finding_id: str) -> SecurityFinding | None:
    """One finding's current state, or None when the store has no such finding.

    Raises:
        StoreError: the read failed.
    """
    f = schema.security_findings.c
    rows = store.select(
        sa.select(schema.security_findings)
        .where(f.finding_id == finding_id)
        .order_by(f.ts_ns, f.row_id)
    )
    return _fold(rows, None).get(finding_id)


def open_intervals(store: EventStore, bot_id: str, *, above_tenths: int) -> list[FindingInterval]:
    """The stretches during which a finding applying to ``bot_id`` (its own or the desk's)
    was open with a score above ``above_tenths`` or unscored (fail closed), ordered by start.
    A re-score to at most ``above_tenths`` or a resolution ends a stretch.

    Raises:
        StoreError: the read failed.
    """
    out: list[FindingInterval] = []
    current: dict[str, FindingInterval] = {}
    for row in _rows(store, bot_ids={bot_id, DESK}):
        m = row._mapping
        fid, ts = m["finding_id"], int(m["ts_ns"])
        score = int(m["cvss_score_tenths"])
        qualifies = m["state"] == FindingState.OPEN.value and (
            score == UNSCORED or score > above_tenths
        )
        running = current.pop(fid, None)
        if running is not None:
            if qualifies and running.cvss_score_tenths == score:
                current[fid] = running  # the same stretch goes on
                continue
            out.append(msgspec.structs.replace(running, ends_ns=ts))
        if qualifies:
            current[fid] = FindingInterval(
                finding_id=fid,
                bot_id=m["bot_id"],
                vulnerability_id=m["vulnerability_id"],
                package=m["package"],
                cvss_score_tenths=score,
                starts_ns=ts,
                ends_ns=None,
            )
    out.extend(current.values())
    return sorted(out, key=lambda i: (i.starts_ns, i.finding_id))


def _append_open(
    store: EventStore,
    finding: SecurityFinding,
    *,
    rescored_from: int | None,
) -> None:
    row = {
        "finding_id": finding.finding_id,
        "state": FindingState.OPEN.value,
        "source": finding.source,
        "package": finding.package,
        "version": finding.version,
        "vulnerability_id": finding.vulnerability_id,
        "cvss_score_tenths": finding.cvss_score_tenths,
        "bot_id": finding.bot_id,
        "detail": finding.detail,
        "actor": finding.opened_by,
        "ts_ns": finding.opened_ns,
    }
    store.append_rows(schema.security_findings, [row], what=f"finding {finding.finding_id}")
    detail: dict[str, object] = {
        "finding_id": finding.finding_id,
        "bot_id": finding.bot_id,
        "source": finding.source,
        "package": finding.package,
        "version": finding.version,
        "vulnerability_id": finding.vulnerability_id,
        "cvss": finding.cvss_text,
    }
    if rescored_from is not None:
        detail["rescored_from"] = cvss_text(rescored_from)
    store.audit(actor=finding.opened_by, action=ACTION_OPEN, ts_ns=finding.opened_ns, detail=detail)


def record_finding(
    store: EventStore,
    *,
    bot_id: str,
    vulnerability_id: str,
    cvss_score_tenths: int,
    operator: str,
    known_bots: Collection[str],
    package: str = "",
    version: str = "",
    source: str = MANUAL,
    detail: str = "",
    ts_ns: int | None = None,
) -> SecurityFinding:
    """Record a finding as open (an ``open`` row and a ``GOV_SECURITY_FINDING`` audit entry),
    or re-score one already open with another score.

    Args:
        bot_id: the bot it applies to (one of ``known_bots``) or ``desk`` (every bot).
        vulnerability_id: the advisory's id, or the finder's own.
        cvss_score_tenths: the CVSS base score in tenths (75 = 7.5), or :data:`UNSCORED`.
        operator: who records it.
        package, version: the affected dependency ("" when not one).
        source: where the finding comes from.
        detail: more text (optional).
        ts_ns: when (ns since the epoch); default the store's wall clock.

    Raises:
        EvidenceInputError: unknown bot, a score out of range, an empty id or operator.
        EvidenceStateError: the finding is already open with this score.
        StoreWriteError: the write failed.
    """
    _check_bot(bot_id, known_bots)
    _check_score(cvss_score_tenths)
    vulnerability_id = _required(vulnerability_id, "vulnerability id")
    operator = _required(operator, "operator")
    source = _required(source, "source")
    fid = finding_id_for(bot_id, package.strip(), version.strip(), vulnerability_id)
    known = get_finding(store, fid)
    rescored_from = None
    if known is not None and known.state is FindingState.OPEN:
        if known.cvss_score_tenths == cvss_score_tenths:
            raise EvidenceStateError(
                f"finding {fid} ({vulnerability_id}) is already open with CVSS {known.cvss_text}"
            )
        rescored_from = known.cvss_score_tenths
    finding = SecurityFinding(
        finding_id=fid,
        bot_id=bot_id,
        source=source,
        package=package.strip(),
        version=version.strip(),
        vulnerability_id=vulnerability_id,
        cvss_score_tenths=cvss_score_tenths,
        state=FindingState.OPEN,
        detail=detail,
        opened_ns=store.wall_clock_ns() if ts_ns is None else ts_ns,
        opened_by=operator,
    )
    _append_open(store, finding, rescored_from=rescored_from)
    return finding


def resolve_finding(
    store: EventStore,
    finding_id: str,
    *,
    operator: str,
    resolution: str,
    ts_ns: int | None = None,
) -> SecurityFinding:
    """Resolve an open finding (a ``resolved`` row and a ``GOV_SECURITY_FINDING_RESOLVED``
    audit entry).

    Args:
        finding_id: the finding.
        operator: who resolves it.
        resolution: what resolved it (``upgraded urllib3 to 2.2.2``), kept as the row's
            ``detail``.
        ts_ns: when (ns since the epoch); default the store's wall clock.

    Raises:
        EvidenceInputError: no such finding; empty operator or resolution.
        EvidenceStateError: the finding is not open.
        StoreWriteError: the write failed.
    """
    operator = _required(operator, "operator")
    resolution = _required(resolution, "resolution")
    known = get_finding(store, finding_id)
    if known is None:
        raise EvidenceInputError(f"no security finding {finding_id!r} in the store")
    if known.state is not FindingState.OPEN:
        raise EvidenceStateError(
            f"finding {finding_id} is not open (resolved by {known.resolved_by})"
        )
    when = store.wall_clock_ns() if ts_ns is None else ts_ns
    row = {
        "finding_id": finding_id,
        "state": FindingState.RESOLVED.value,
        "source": known.source,
        "package": known.package,
        "version": known.version,
        "vulnerability_id": known.vulnerability_id,
        "cvss_score_tenths": known.cvss_score_tenths,
        "bot_id": known.bot_id,
        "detail": resolution,
        "actor": operator,
        "ts_ns": when,
    }
    store.append_rows(schema.security_findings, [row], what=f"resolution of {finding_id}")
    store.audit(
        actor=operator,
        action=ACTION_RESOLVE,
        ts_ns=when,
        detail={
            "finding_id": finding_id,
            "bot_id": known.bot_id,
            "vulnerability_id": known.vulnerability_id,
            "resolution": resolution,
        },
    )
    return msgspec.structs.replace(
        known,
        state=FindingState.RESOLVED,
        resolved_ns=when,
        resolved_by=operator,
        resolution=resolution,
    )


# ---------------------------------------------------------------- audits


class ReportedVulnerability(msgspec.Struct, frozen=True, kw_only=True):
    """One vulnerability of one dependency as an audit reports it: ``package`` and
    ``version``, ``vulnerability_id`` and its ``aliases``, ``fix_versions``, ``description``,
    and ``cvss_score_tenths`` (None: the audit gives no score)."""

    package: str
    version: str
    vulnerability_id: str
    aliases: tuple[str, ...] = ()
    fix_versions: tuple[str, ...] = ()
    description: str = ""
    cvss_score_tenths: int | None = None


def ingest_report(
    store: EventStore,
    reported: Collection[ReportedVulnerability],
    *,
    source: str,
    operator: str,
    known_bots: Collection[str],
    bot_id: str = DESK,
    ts_ns: int | None = None,
    audit_detail: Mapping[str, object] | None = None,
    resolve_absent: str | None = None,
) -> IngestResult:
    """Record each reported vulnerability as an open finding of ``bot_id`` (``source`` its
    ``source``) and one ``GOV_SECURITY_AUDIT_INGESTED`` audit entry with the counts and
    ``audit_detail``.

    A finding already open is left as it is unless the report gives it another score (a
    re-score row); a vulnerability without a score opens as :data:`UNSCORED` (counts as above
    every threshold) and never overwrites a score already recorded. With ``resolve_absent``
    (the resolution text), every finding of ``bot_id`` from ``source`` open before and not in
    this report is resolved: the report is then taken as the whole audit of that environment.

    Raises:
        EvidenceInputError: unknown bot, a score out of range, an empty operator or source.
        StoreWriteError: a write failed (the findings recorded before it stay).
    """
    _check_bot(bot_id, known_bots)
    operator = _required(operator, "operator")
    source = _required(source, "source")
    for item in reported:
        if item.cvss_score_tenths is not None:
            _check_score(item.cvss_score_tenths)
    when = store.wall_clock_ns() if ts_ns is None else ts_ns
    opened: list[SecurityFinding] = []
    seen: set[str] = set()
    already = 0
    for item in reported:
        given = item.cvss_score_tenths
        fid = finding_id_for(bot_id, item.package, item.version, item.vulnerability_id)
        seen.add(fid)
        known = get_finding(store, fid)
        previous = (
            known.cvss_score_tenths
            if known is not None and known.state is FindingState.OPEN
            else None
        )
        if previous is not None and given in (None, previous):
            already += 1
            continue
        finding = SecurityFinding(
            finding_id=fid,
            bot_id=bot_id,
            source=source,
            package=item.package,
            version=item.version,
            vulnerability_id=item.vulnerability_id,
            cvss_score_tenths=UNSCORED if given is None else given,
            state=FindingState.OPEN,
            detail=json.dumps(
                {
                    "aliases": list(item.aliases),
                    "fix_versions": list(item.fix_versions),
                    "description": item.description,
                },
                sort_keys=True,
            ),
            opened_ns=when,
            opened_by=operator,
        )
        _append_open(store, finding, rescored_from=previous)
        opened.append(finding)
    resolved: list[SecurityFinding] = []
    if resolve_absent is not None:
        for stale in findings(store, bot_id=bot_id, open_only=True):
            if stale.bot_id == bot_id and stale.source == source and stale.finding_id not in seen:
                resolved.append(
                    resolve_finding(
                        store,
                        stale.finding_id,
                        operator=operator,
                        resolution=resolve_absent,
                        ts_ns=when,
                    )
                )
    store.audit(
        actor=operator,
        action=ACTION_INGEST,
        ts_ns=when,
        detail={
            **(audit_detail or {}),
            "bot_id": bot_id,
            "source": source,
            "vulnerabilities": len(reported),
            "opened": [f.finding_id for f in opened],
            "unscored": sum(1 for f in opened if f.cvss_score_tenths == UNSCORED),
            "already_open": already,
            "resolved": [f.finding_id for f in resolved],
        },
    )
    return IngestResult(
        opened=tuple(opened),
        already_open=already,
        skipped_dependencies=(),
        resolved=tuple(resolved),
    )


# ---------------------------------------------------------------- pip-audit


class _PipAuditVuln(msgspec.Struct):
    id: str
    fix_versions: list[str] = []
    aliases: list[str] = []
    description: str = ""


class _PipAuditDependency(msgspec.Struct):
    name: str
    version: str = ""
    vulns: list[_PipAuditVuln] = []
    skip_reason: str = ""


class _PipAuditReport(msgspec.Struct):
    dependencies: list[_PipAuditDependency]


def parse_pip_audit(payload: bytes | str) -> list[_PipAuditDependency]:
    """The dependencies of ``pip-audit --format json`` output: an object
    ``{"dependencies": [...], "fixes": [...]}`` (pip-audit 2.x), or the bare list of
    dependencies older releases printed. Each dependency is ``{"name", "version", "vulns":
    [{"id", "fix_versions", "aliases"?, "description"?}]}`` or, when not audited,
    ``{"name", "skip_reason"}``; other keys are ignored.

    Raises:
        EvidenceInputError: not JSON or not that shape (the message says where).
    """
    try:
        if isinstance(payload, bytes):
            payload = payload.decode()
        if payload.lstrip().startswith("["):
            return msgspec.json.decode(payload, type=list[_PipAuditDependency])
        return msgspec.json.decode(payload, type=_PipAuditReport).dependencies
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise EvidenceInputError(f"not pip-audit JSON output: {exc}") from None


def ingest_pip_audit(
    store: EventStore,
    payload: bytes | str,
    *,
    scores: Mapping[str, int],
    operator: str,
    known_bots: Collection[str],
    bot_id: str = DESK,
    ts_ns: int | None = None,
) -> IngestResult:
    """Record each vulnerability of a pip-audit JSON report as an open finding of ``bot_id``
    (default the whole desk: pip-audit audits the process's environment) through
    :func:`ingest_report`.

    A vulnerability's score is ``scores`` of its id, else of its first alias found there
    (``CVE-…``, ``GHSA-…``), in tenths; none: :data:`UNSCORED` (counts as above every
    threshold). Findings the report no longer lists are not resolved here: a resolution
    names its fix (:func:`resolve_finding`).

    Raises:
        EvidenceInputError: malformed report, unknown bot, a score out of range, an empty
            operator, or a ``scores`` key no vulnerability of the report carries (a typo
            would otherwise leave a finding unscored silently).
        StoreWriteError: a write failed (the findings recorded before it stay).
    """
    _check_bot(bot_id, known_bots)
    for key, tenths in scores.items():
        _check_score(tenths)
        if tenths == UNSCORED:
            raise EvidenceInputError(f"score of {key}: give a CVSS score, not 'unscored'")
    dependencies = parse_pip_audit(payload)
    named = {v.id for d in dependencies for v in d.vulns} | {
        a for d in dependencies for v in d.vulns for a in v.aliases
    }
    unused = sorted(set(scores) - named)
    if unused:
        raise EvidenceInputError(
            f"scores given for {', '.join(unused)}, which the report does not list"
        )
    skipped = tuple(f"{d.name}: {d.skip_reason}" for d in dependencies if d.skip_reason)
    reported = [
        ReportedVulnerability(
            package=dependency.name,
            version=dependency.version,
            vulnerability_id=vuln.id,
            aliases=tuple(vuln.aliases),
            fix_versions=tuple(vuln.fix_versions),
            description=vuln.description,
            cvss_score_tenths=next(
                (scores[k] for k in (vuln.id, *vuln.aliases) if k in scores), None
            ),
        )
        for dependency in dependencies
        for vuln in dependency.vulns
    ]
    result = ingest_report(
        store,
        reported,
        source=PIP_AUDIT,
        operator=operator,
        known_bots=known_bots,
        bot_id=bot_id,
        ts_ns=ts_ns,
        audit_detail={"dependencies": len(dependencies), "skipped_dependencies": list(skipped)},
    )
    return msgspec.structs.replace(result, skipped_dependencies=skipped)
