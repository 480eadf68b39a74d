"""``polytraders security``: security findings in the event store, the evidence of seed 001's
demotion condition "a security finding above CVSS 7.0".

``record`` opens a finding of a bot (or the whole ``desk``) with its CVSS score (``--cvss``;
without one the finding is unscored and counts as above 7.0 until scored: fail closed);
recording an open finding again with another score re-scores it. ``resolve`` closes one with
what fixed it. ``list`` prints the findings open (or all, ``--all``) at a time, of a bot
(its own and the desk's). ``ingest-pip-audit`` records every vulnerability of a
``pip-audit --format json`` report (pip-audit gives no scores: pass them with ``--cvss
ID=SCORE``, the id or any alias). Rules: :mod:`polytraders.store.security_findings`.
``audit`` matches the installed distributions (or a requirements file's pins) against an
offline OSV database file (``--db``) and records what it finds, scored from the records' CVSS
vectors (:mod:`polytraders.ops.osv_audit`); without ``--db`` it says it skipped and records
nothing. ``scan`` looks for private keys, API secrets and passphrases in files, folders and SQLite
stores (rules and allowlist: :mod:`polytraders.ops.secret_scan`) and exits 1 on a finding.

Exit codes: 0 done; 1 refused because of a finding's state (resolving one not open,
recording one already open with the same score), ``audit`` found a vulnerability scored
7.0 or more or unscored, or ``scan`` found a secret; 2 a bad option,
an unreadable or malformed report or allowlist, or a store problem (one line on stderr).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Annotated

import typer

from polytraders.bots.registry import BOTS
from polytraders.commands.evidence_cli import (
    DEFAULT_STORE,
    JsonOption,
    StoreOption,
    fail,
    known_bot,
    opened,
    print_json,
)
from polytraders.ops.osv_audit import (
    AuditInputError,
    audit,
    file_digest,
    installed_distributions,
    load_database,
    pinned_requirements,
)
from polytraders.ops.secret_scan import AllowlistError, load_allowlist, scan_paths
from polytraders.store.errors import EvidenceInputError
from polytraders.store.incidents import DESK
from polytraders.store.lease import utc_text
from polytraders.store.security_findings import (
    MANUAL,
    OSV_AUDIT,
    UNSCORED,
    SecurityFinding,
    cvss_text,
    finding_id_for,
    findings,
    get_finding,
    ingest_pip_audit,
    ingest_report,
    parse_cvss,
    record_finding,
    resolve_finding,
)

app = typer.Typer(
    name="security",
    help="Security findings (CVSS-scored) of bots or the desk: record, resolve, list, ingest "
    "a pip-audit report, audit dependencies offline against an OSV database file; scan files "
    "and stores for secrets. A finding above CVSS 7.0 open for "
    "24 h demotes a bot in General live.",
    no_args_is_help=True,
)

SKIPPED_AUDIT = (
    "security audit: skipped: no vulnerability database given (--db FILE); nothing recorded"
)
HIGH_TENTHS = 70
"""``audit`` exits 1 on a finding scored at least this (7.0, CVSS "high") or unscored."""

DEFAULT_ALLOWLIST = Path(".secrets-allowlist.toml")
"""The reviewed allowlist ``scan`` reads when present in the working folder."""

OperatorOption = Annotated[str, typer.Option("--operator", help="Who records it (audited).")]
TsOption = Annotated[
    int | None,
    typer.Option("--ts-ns", help="When (ns since the epoch); default: the store's clock now."),
]


def _score(text: str, where: str) -> int:
    try:
        return parse_cvss(text)
    except EvidenceInputError as exc:
        fail(f"{where}: {exc}")


def _as_json(f: SecurityFinding) -> dict[str, object]:
    return {
        "finding_id": f.finding_id,
        "bot_id": f.bot_id,
        "state": f.state.value,
        "source": f.source,
        "package": f.package,
        "version": f.version,
        "vulnerability_id": f.vulnerability_id,
        "cvss": None if f.cvss_score_tenths == UNSCORED else f.cvss_text,
        "opened_ns": f.opened_ns,
        "opened_by": f.opened_by,
        "resolved_ns": f.resolved_ns,
        "resolved_by": f.resolved_by,
        "resolution": f.resolution,
    }


def _line(f: SecurityFinding) -> str:
    what = f"{f.package} {f.version} " if f.package else ""
    state = (
        f"open since {utc_text(f.opened_ns)}"
        if f.resolved_ns is None
        else f"resolved {utc_text(f.resolved_ns)} ({f.resolution})"
    )
    return f"{f.finding_id}  {f.bot_id}  {what}{f.vulnerability_id}  CVSS {f.cvss_text}  {state}"


@app.command("record")
def record(
    vulnerability_id: Annotated[
        str, typer.Argument(help="The advisory's id (PYSEC-…, GHSA-…, CVE-…) or your own.")
    ],
    operator: OperatorOption,
    bot: Annotated[
        str, typer.Option("--bot", help=f"The bot it applies to, or {DESK!r} (every bot).")
    ] = DESK,
    cvss: Annotated[
        str | None,
        typer.Option("--cvss", help="CVSS base score 0.0–10.0; omitted: unscored (counts > 7.0)."),
    ] = None,
    package: Annotated[str, typer.Option("--package", help="The affected dependency.")] = "",
    version: Annotated[
        str, typer.Option("--package-version", help="The dependency's version.")
    ] = "",
    detail: Annotated[str, typer.Option("--detail", help="More text.")] = "",
    store: StoreOption = DEFAULT_STORE,
    ts_ns: TsOption = None,
) -> None:
    """Record a finding as open (or re-score an open one)."""
    known_bot(bot, "--bot")
    tenths = UNSCORED if cvss is None else _score(cvss, "--cvss")
    with opened(store) as handle:
        finding = record_finding(
            handle,
            bot_id=bot,
            vulnerability_id=vulnerability_id,
            cvss_score_tenths=tenths,
            operator=operator,
            known_bots=BOTS,
            package=package,
            version=version,
            source=MANUAL,
            detail=detail,
            ts_ns=ts_ns,
        )
    typer.echo(f"recorded {_line(finding)}")
    if tenths == UNSCORED:
        typer.echo("unscored: it counts as above CVSS 7.0 until a score is recorded (fail closed)")


@app.command("resolve")
def resolve(
    finding_id: Annotated[str, typer.Argument(help="The finding (sec-…).")],
    operator: OperatorOption,
    resolution: Annotated[
        str, typer.Option("--resolution", help="What fixed it (e.g. upgraded urllib3 to 2.2.2).")
    ],
    store: StoreOption = DEFAULT_STORE,
    ts_ns: TsOption = None,
) -> None:
    """Resolve an open finding."""
    with opened(store) as handle:
        finding = resolve_finding(
            handle, finding_id, operator=operator, resolution=resolution, ts_ns=ts_ns
        )
    typer.echo(f"resolved {_line(finding)}")


@app.command("list")
def list_(
    store: StoreOption = DEFAULT_STORE,
    bot: Annotated[
        str | None,
        typer.Option("--bot", help="Only the findings applying to this bot (its own and desk's)."),
    ] = None,
    at_ns: Annotated[
        int | None, typer.Option("--at-ns", help="As they stood then (ns); default: now.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Resolved findings too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The findings open (or all) at a time, oldest first."""
    if bot is not None:
        known_bot(bot, "--bot")
    with opened(store) as handle:
        rows = findings(handle, bot_id=bot, at_ns=at_ns, open_only=not all_)
        where = handle.url
    if as_json:
        print_json([_as_json(f) for f in rows])
        return
    if not rows:
        typer.echo(f"no {'' if all_ else 'open '}security finding in {where}")
        return
    for f in rows:
        typer.echo(_line(f))
    typer.echo(f"{len(rows)} finding(s) in {where}")


@app.command("ingest-pip-audit")
def ingest(
    file: Annotated[str, typer.Argument(help="pip-audit --format json output (- for stdin).")],
    operator: Annotated[
        str, typer.Option("--operator", help="Who records it (audited).")
    ] = "pip-audit",
    bot: Annotated[
        str, typer.Option("--bot", help=f"The bot the audited environment serves, or {DESK!r}.")
    ] = DESK,
    cvss: Annotated[
        list[str] | None,
        typer.Option("--cvss", help="ID=SCORE for a vulnerability id or alias; repeatable."),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    ts_ns: TsOption = None,
) -> None:
    """Record every vulnerability of a pip-audit JSON report as an open finding."""
    known_bot(bot, "--bot")
    scores: dict[str, int] = {}
    for item in cvss or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--cvss {item!r}: expected ID=SCORE (e.g. GHSA-xxxx=7.5)")
        scores[key.strip()] = _score(value, f"--cvss {item!r}")
    try:
        payload = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"{file}: {exc.strerror or exc}")
    with opened(store) as handle:
        result = ingest_pip_audit(
            handle,
            payload,
            scores=scores,
            operator=operator,
            known_bots=BOTS,
            bot_id=bot,
            ts_ns=ts_ns,
        )
    for finding in result.opened:
        typer.echo(f"open {_line(finding)}")
    unscored = sum(1 for f in result.opened if f.cvss_score_tenths == UNSCORED)
    typer.echo(
        f"{len(result.opened)} finding(s) recorded ({unscored} unscored: counted as above CVSS "
        f"7.0 until scored), {result.already_open} already open"
    )
    for skipped in result.skipped_dependencies:
        typer.echo(f"not audited by pip-audit: {skipped}")


@app.command("audit")
def audit_(
    db: Annotated[
        Path | None,
        typer.Option("--db", help="OSV database file: a .json list of records or a .zip of them."),
    ] = None,
    requirements: Annotated[
        Path | None,
        typer.Option(
            "--requirements",
            help="Audit this file's name==version pins; default: the installed distributions.",
        ),
    ] = None,
    bot: Annotated[
        str, typer.Option("--bot", help=f"The bot the audited environment serves, or {DESK!r}.")
    ] = DESK,
    operator: Annotated[
        str, typer.Option("--operator", help="Who records it (audited).")
    ] = "osv-audit",
    store: StoreOption = DEFAULT_STORE,
    ts_ns: TsOption = None,
) -> None:
    """Audit dependencies offline against an OSV database file, record the findings (and
    resolve those no longer found), print them; exit 1 on one scored 7.0+ or unscored."""
    if db is None:
        typer.echo(SKIPPED_AUDIT)
        return
    known_bot(bot, "--bot")
    try:
        digest = file_digest(db)
        distributions = (
            installed_distributions() if requirements is None else pinned_requirements(requirements)
        )
        reported = audit(distributions, load_database(db))
    except AuditInputError as exc:
        fail(str(exc))
    label = f"{db.name} ({digest[:23]})"
    with opened(store) as handle:
        result = ingest_report(
            handle,
            reported,
            source=OSV_AUDIT,
            operator=operator,
            known_bots=BOTS,
            bot_id=bot,
            ts_ns=ts_ns,
            audit_detail={
                "database": db.name,
                "database_digest": digest,
                "distributions": len(distributions),
                "inventory": "installed" if requirements is None else str(requirements),
            },
            resolve_absent=f"no longer found by the OSV audit against {label}",
        )
        recorded = [
            get_finding(handle, finding_id_for(bot, r.package, r.version, r.vulnerability_id))
            for r in reported
        ]
    high = 0
    if reported:
        typer.echo(f"{'package':<24} {'version':<12} {'id':<24} {'fixed in':<20} score")
    for item, finding in zip(reported, recorded, strict=True):
        tenths = UNSCORED if finding is None else finding.cvss_score_tenths
        high += tenths == UNSCORED or tenths >= HIGH_TENTHS
        fixed = ", ".join(item.fix_versions) or "-"
        typer.echo(
            f"{item.package:<24} {item.version:<12} {item.vulnerability_id:<24} {fixed:<20} "
            f"{cvss_text(tenths)}"
        )
    for finding in result.resolved:
        typer.echo(
            f"resolved {finding.finding_id}  {finding.package} {finding.version} "
            f"{finding.vulnerability_id}: no longer found"
        )
    typer.echo(
        f"{len(reported)} vulnerability(ies) in {len(distributions)} distribution(s) against "
        f"{label}: {high} scored 7.0 or more or unscored; {len(result.opened)} recorded, "
        f"{result.already_open} already open, {len(result.resolved)} resolved"
    )
    if high:
        raise typer.Exit(code=1)


@app.command("scan")
def scan(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or folders (recursively; SQLite stores too); default: .", show_default=False
        ),
    ] = None,
    allowlist: Annotated[
        Path | None,
        typer.Option(
            "--allowlist",
            help=f"Reviewed allowlist (TOML); default: {DEFAULT_ALLOWLIST} when it exists.",
        ),
    ] = None,
) -> None:
    """Look for private keys, API secrets and passphrases; print path:line and the kind of
    each (the value only as a fingerprint) and exit 1 on any finding not allowlisted."""
    try:
        if allowlist is not None:
            entries = load_allowlist(allowlist)
        elif DEFAULT_ALLOWLIST.is_file():
            entries = load_allowlist(DEFAULT_ALLOWLIST)
        else:
            entries = []
        report = scan_paths(paths or [Path(".")], entries)
    except AllowlistError as exc:
        fail(str(exc))
    except (OSError, sqlite3.Error) as exc:
        fail(f"scan: {exc}")
    for finding in report.findings:
        typer.echo(finding.line())
    for entry in report.unused:
        typer.echo(f"warning: allowlist entry {entry.fingerprint} ({entry.path}) matched nothing")
    typer.echo(
        f"{len(report.findings)} finding(s) in {report.files} file(s) "
        f"({len(report.allowed)} allowlisted, {report.skipped} binary file(s) skipped)"
    )
    if report.findings:
        raise typer.Exit(code=1)
