"""The evidence functions of the gates (:data:`MEASURES`, keyed by ``Gate.measure``).

Each takes a bot id and the :class:`ReadinessContext` and returns a
:class:`~polytraders.readiness.gates.Measurement`. Missing or insufficient data gives
Inconclusive, never Successful; a gate whose evidence source this release does not have yet
(the console) says so and stays Inconclusive, so it blocks. The signature gates and the
audit log's retention are measured in :mod:`polytraders.readiness.signature_gates`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec

from polytraders.bots.registry import bot_class
from polytraders.contracts.bot import bot_problems
from polytraders.contracts.envelope import decode_envelope
from polytraders.contracts.modes import Mode
from polytraders.contracts.reasons import load_lock, load_registry, registry_problems
from polytraders.feeds.open import open_source
from polytraders.optimize.references import FIXTURES
from polytraders.readiness.chaos_gate import chaos_suite
from polytraders.readiness.ci_evidence import ci_run_summary
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import (
    ChecklistItem,
    Evidence,
    EvidenceKind,
    ItemStatus,
    Phase,
    ScoreName,
    file_evidence,
    result_evidence,
)
from polytraders.readiness.gates import Measurement
from polytraders.readiness.lifecycle import State
from polytraders.readiness.packs import load_pack, pack_path, run_case
from polytraders.readiness.runtime_score import nearest_rank
from polytraders.readiness.scores import bot_score
from polytraders.readiness.shadow_gate import shadow_agreement
from polytraders.readiness.signature_gates import (
    audit_retention,
    final_risk_review,
    incident_playbook,
    multisig_approval,
    release_manifest_signed,
    reviewer_signoff,
    rollback_plan_tested,
)
from polytraders.readiness.spec import parse_sections
from polytraders.readiness.store_evidence import (
    DAY_NS,
    EnvelopeWindow,
    RunKind,
    bot_runs,
    emitted_codes,
    envelope_window,
    final_orders,
    kill_switch_trips_ns,
    utc_day,
)
from polytraders.store import RunRecord
from polytraders.store.alerts import firing_ns
from polytraders.store.allowance_checks import ACTION as ALLOWANCE_CHECKED
from polytraders.store.allowance_checks import allowance_checks
from polytraders.store.ci_runs import CiOutcome, ci_runs
from polytraders.store.incidents import ErrorOrigin, list_incidents
from polytraders.store.incidents import Severity as IncidentSeverity
from polytraders.store.promotions import PromotionOutcome, promotions
from polytraders.store.reviews import sample_ids, summarize

REGISTRY_FILE = "src/polytraders/contracts/reasons.toml"
LOCK_FILE = "src/polytraders/contracts/reasons.lock.json"


NO_STORE = Measurement(phase=Phase.INCONCLUSIVE, value="no data", detail="no event store")
"""What every store-backed gate measures without a store: no data, never a pass."""


def _from_items(items: Iterable[ChecklistItem], what: str) -> Measurement:
    """Successful when every item PASSes; Failed when one FAILs; otherwise Inconclusive."""
    chosen = list(items)
    passed = sum(1 for i in chosen if i.status is ItemStatus.PASS)
    failing = [i for i in chosen if i.status is ItemStatus.FAIL]
    pending = [i for i in chosen if i.status is ItemStatus.PENDING]
    evidence = tuple(dict.fromkeys(e for i in chosen for e in i.evidence))  # each piece once
    value = f"{passed}/{len(chosen)}"
    if failing:
        first = failing[0]
        return Measurement(
            phase=Phase.FAILED,
            value=value,
            detail=f"{what}: item {first.number} ({first.title}) fails: {first.detail}",
            evidence=evidence,
        )
    if pending:
        first = pending[0]
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value=value,
            detail=f"{what}: item {first.number} ({first.title}) is pending: {first.detail}",
            evidence=evidence,
        )
    return Measurement(
        phase=Phase.SUCCESSFUL, value=value, detail=f"{what}: all items pass", evidence=evidence
    )


def _score_items(
    name: ScoreName, numbers: Iterable[int] | None
) -> Callable[[str, ReadinessContext], Measurement]:
    """A measure over items ``numbers`` of score ``name`` (all items when None)."""

    def measure(bot_id: str, ctx: ReadinessContext) -> Measurement:
        score = bot_score(bot_id, name, ctx)
        items = score.items if numbers is None else [score.item(n) for n in numbers]
        label = f"{name.value.capitalize()} score" + (
            "" if numbers is None else f" items {', '.join(str(i.number) for i in items)}"
        )
        return _from_items(items, label)

    return measure


def _not_recorded_yet(what: str) -> Callable[[str, ReadinessContext], Measurement]:
    """A measure whose evidence source this release does not record yet: Inconclusive,
    saying which evidence is missing (it blocks, as missing data must)."""

    def measure(bot_id: str, ctx: ReadinessContext) -> Measurement:
        return Measurement(phase=Phase.INCONCLUSIVE, value="no data", detail=what)

    return measure


def spec_present(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """The bot's spec file exists."""
    evidence = file_evidence(ctx.repo, f"docs/bots/{bot_id}.md")
    found = evidence.result != "missing"
    return Measurement(
        phase=Phase.SUCCESSFUL if found else Phase.FAILED,
        value="present" if found else "missing",
        detail=f"docs/bots/{bot_id}.md {'exists' if found else 'does not exist'}",
        evidence=(evidence,),
    )


def reason_codes_registered(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Impl item 10 (every emitted code registered) and the contract check of the declared
    codes (registered, right prefix, owned by the bot or the desk)."""
    registry = load_registry()
    problems = [p for p in bot_problems(bot_class(bot_id), registry) if "reason code" in p]
    item = bot_score(bot_id, ScoreName.IMPL, ctx).item(10)
    declared = sorted(bot_class(bot_id).reason_codes)
    evidence = (
        file_evidence(ctx.repo, REGISTRY_FILE),
        result_evidence(
            EvidenceKind.CODE,
            f"{bot_id} reason_codes",
            {"declared": declared, "problems": problems},
            f"{len(declared)} declared, {len(problems)} problem(s)",
        ),
        *item.evidence,
    )
    if problems:
        return Measurement(
            phase=Phase.FAILED,
            value=f"{len(problems)} problem(s)",
            detail="; ".join(problems),
            evidence=evidence,
        )
    if item.status is not ItemStatus.PASS:
        phase = Phase.FAILED if item.status is ItemStatus.FAIL else Phase.INCONCLUSIVE
        return Measurement(
            phase=phase, value="emitted codes", detail=item.detail, evidence=evidence
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=f"{len(declared)} declared, all registered",
        detail="every declared and emitted code is registered to this bot or the desk",
        evidence=evidence,
    )


def reason_code_stability(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """The registry lint against the lock: no code reworded or removed (seed 001)."""
    problems = registry_problems(load_registry(), load_lock())
    evidence = (
        file_evidence(ctx.repo, REGISTRY_FILE),
        file_evidence(ctx.repo, LOCK_FILE),
        result_evidence(
            EvidenceKind.COMMAND, "polytraders reasons --check", problems, f"{len(problems)}"
        ),
    )
    if problems:
        return Measurement(
            phase=Phase.FAILED,
            value=f"{len(problems)} problem(s)",
            detail="; ".join(problems[:5]),
            evidence=evidence,
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value="0 rewords",
        detail="the registry agrees with its lock: no code reworded or removed",
        evidence=evidence,
    )


def user_message_coverage(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Every code the bot declares, and every code it emitted in the store, has a
    user_message (seed 001: 100 %)."""
    registry = load_registry()
    codes = set(bot_class(bot_id).reason_codes)
    evidence: list[Evidence] = [file_evidence(ctx.repo, REGISTRY_FILE)]
    if ctx.store is not None:
        emitted = emitted_codes(ctx.store, bot_id)
        evidence.append(
            result_evidence(
                EvidenceKind.STORE,
                f"distinct reason codes of envelopes where bot_id = {bot_id}",
                sorted(emitted),
                f"{len(emitted)} codes",
            )
        )
        codes |= emitted
    missing = sorted(c for c in codes if c not in registry or not registry[c].user_message)
    covered = len(codes) - len(missing)
    value = f"{covered}/{len(codes)}"
    if missing:
        return Measurement(
            phase=Phase.FAILED,
            value=value,
            detail=f"no user message for {', '.join(missing)}",
            evidence=tuple(evidence),
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=value,
        detail="every declared and emitted code has a plain-English user message"
        + ("" if ctx.store is not None else " (declared codes only: no event store)"),
        evidence=tuple(evidence),
    )


def ci_green_7_days(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """CI on main: at least one recorded run on each of the last 7 UTC days and none
    failed (seed 001: "100 % on main for 7 consecutive days")."""
    if ctx.store is None:
        return NO_STORE
    since_ns = ctx.now_ns - 7 * DAY_NS
    runs = [r for r in ci_runs(ctx.store, since_wall_ns=since_ns) if r.branch == "main"]
    runs = [r for r in runs if r.wall_ns <= ctx.now_ns]
    days = sorted({utc_day(r.wall_ns) for r in runs})
    failed = [r for r in runs if r.outcome is not CiOutcome.PASSED]
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"ci_runs where branch = main and wall_ns >= {since_ns}",
            [ci_run_summary(r) for r in runs],
            f"{len(runs)} runs on {len(days)} day(s)",
        ),
    )
    value = f"{len(runs) - len(failed)}/{len(runs)} passed on {len(days)}/7 days"
    if failed:
        worst = failed[-1]
        return Measurement(
            phase=Phase.FAILED,
            value=value,
            detail=f"{len(failed)} CI run(s) on main failed in the window, the latest on "
            f"commit {worst.commit_sha[:12]} ({worst.tests_failed} failed, "
            f"{worst.tests_errors} errors)",
            evidence=evidence,
        )
    wanted = {utc_day(ctx.now_ns - k * DAY_NS) for k in range(7)}
    if not wanted <= set(days):
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value=value,
            detail=f"CI on main recorded on {len(set(days) & wanted)} of the last 7 UTC days "
            "(a run every day is needed)",
            evidence=evidence,
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=value,
        detail="every CI run on main in the last 7 days passed, one or more each day",
        evidence=evidence,
    )


def synthetic_labeled(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """The bot's recorded timeline runs on a seeded synthetic feed that labels its source
    and every market synthetic (seed 000 stage 2)."""
    path = f"runs/optimizer/{bot_id}/timeline.json"
    evidence = file_evidence(ctx.repo, path)
    fixture = FIXTURES.get(bot_id)
    if fixture is None:
        return Measurement(
            phase=Phase.FAILED,
            value="no fixture",
            detail=f"{bot_id} has no synthetic fixture (optimize.references.FIXTURES)",
            evidence=(evidence,),
        )
    spec = fixture.data
    source = open_source(spec)
    labelled = bool(source.synthetic) and all(m.synthetic for m in source.markets)
    code = result_evidence(
        EvidenceKind.CODE,
        f"open_source({spec!r})",
        {"synthetic": bool(source.synthetic), "markets": len(source.markets)},
        "labelled synthetic" if labelled else "not labelled",
    )
    return Measurement(
        phase=Phase.SUCCESSFUL if labelled else Phase.FAILED,
        value="labelled" if labelled else "unlabelled",
        detail=f"fixture {spec}: source and {len(source.markets)} market(s) "
        + ("labelled synthetic" if labelled else "not all labelled synthetic"),
        evidence=(evidence, code),
    )


def limited_live_30_days(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Time since the recorded promotion to Limited live (seed 001: ≥ 30 days)."""
    if ctx.store is None:
        return NO_STORE
    since_ns = limited_live_since_ns(ctx, bot_id)
    rows = promotions(ctx.store, bot_id=bot_id)
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"promotions where bot_id = {bot_id}",
            [[r.row_id, r.to_state, r.outcome.value, r.ts_ns] for r in rows],
            f"{len(rows)} rows",
        ),
    )
    if since_ns is None:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="not in limited live",
            detail="no recorded promotion to Limited live",
            evidence=evidence,
        )
    days = (ctx.now_ns - since_ns) / DAY_NS
    ok = days >= 30
    return Measurement(
        phase=Phase.SUCCESSFUL if ok else Phase.INCONCLUSIVE,
        value=f"{days:.1f} days",
        detail=f"in Limited live for {days:.1f} days" + ("" if ok else " (30 needed)"),
        evidence=evidence,
    )


def limited_live_since_ns(ctx: ReadinessContext, bot_id: str) -> int | None:
    """When the bot's current stay in Limited live began (ns), or None when it is not in
    Limited live (its latest promoted/demoted row does not lead there)."""
    if ctx.store is None:
        return None
    moves = [
        r for r in promotions(ctx.store, bot_id=bot_id) if r.outcome is not PromotionOutcome.REFUSED
    ]
    if not moves or moves[-1].to_state != State.LIMITED_LIVE.value:
        return None
    return moves[-1].ts_ns


_LIVE_CLOCK = (RunKind.LIVE_CLOCK, RunKind.LIVE_VENUE)
MIN_LATENCY_SAMPLE = 100
"""Fewer live-clock decisions than this leave a p99 Inconclusive (one sample in 100 is the
p99 itself)."""


def _window_evidence(
    bot_id: str, since_ns: int, runs: list[RunRecord], window: EnvelopeWindow
) -> Evidence:
    return result_evidence(
        EvidenceKind.STORE,
        f"envelopes where bot_id = {bot_id} and ts_decided_ns >= {since_ns} "
        f"in {len(runs)} live-clock run(s)",
        {
            "runs": [f"{r.run_id}@{r.attempt}" for r in runs],
            "decisions": window.decisions,
            "errors": window.errors,
            "days": list(window.days),
            "modes": window.modes,
        },
        f"{window.decisions} decisions on {len(window.days)} day(s)",
    )


def _live_window(
    bot_id: str, ctx: ReadinessContext, days: int
) -> tuple[Evidence, EnvelopeWindow] | None:
    if ctx.store is None:
        return None
    since_ns = ctx.now_ns - days * DAY_NS
    runs = bot_runs(ctx.store, bot_id, _LIVE_CLOCK)
    window = envelope_window(ctx.store, bot_id, runs, since_ns=since_ns, until_ns=ctx.now_ns)
    return _window_evidence(bot_id, since_ns, runs, window), window


def p99_latency(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """p99 of the bot's decision latency in live-clock runs over the last 7 days against its
    documented SLO (``RUNTIME_BUDGET.decision_p99_us``; seed 001)."""
    found = _live_window(bot_id, ctx, 7)
    if found is None:
        return NO_STORE
    evidence, window = found
    slo_us = bot_class(bot_id).RUNTIME_BUDGET.decision_p99_us
    if window.decisions < MIN_LATENCY_SAMPLE:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value=f"{window.decisions} decisions",
            detail=f"{window.decisions} live-clock decisions in 7 days; a p99 needs "
            f"{MIN_LATENCY_SAMPLE} (backtests do not count: their latency is modelled)",
            evidence=(evidence,),
        )
    p99_ns = nearest_rank(list(window.latencies_ns), 99)
    ok = p99_ns <= slo_us * 1_000
    return Measurement(
        phase=Phase.SUCCESSFUL if ok else Phase.FAILED,
        value=f"p99 {p99_ns / 1_000:.1f} µs",
        detail=f"p99 {p99_ns / 1_000:.1f} µs over {window.decisions} decisions "
        f"({'within' if ok else 'above'} the {slo_us} µs SLO)",
        evidence=(evidence,),
    )


def error_rate_7_days(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """ERROR and QUARANTINE envelopes per decision in live-clock runs over the last 7 days
    (seed 001: < 0.1 %), measured only when decisions cover each of 7 UTC days."""
    found = _live_window(bot_id, ctx, 7)
    if found is None:
        return NO_STORE
    evidence, window = found
    if window.decisions == 0:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="0 decisions",
            detail="no live-clock decision in the last 7 days",
            evidence=(evidence,),
        )
    ppm = window.errors * 1_000_000 // window.decisions
    value = f"{window.errors}/{window.decisions} ({window.errors * 100 / window.decisions:.3f} %)"
    if window.errors * 1_000 >= window.decisions:  # ≥ 0.1 %: breached whatever the coverage
        return Measurement(
            phase=Phase.FAILED,
            value=value,
            detail=f"error rate {ppm} ppm ≥ 1,000 ppm (0.1 %)",
            evidence=(evidence,),
        )
    if len(window.days) < 7:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value=value,
            detail=f"decisions on {len(window.days)} of the 7 days; the rate needs all 7",
            evidence=(evidence,),
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=value,
        detail=f"error rate {ppm} ppm < 1,000 ppm over 7 days",
        evidence=(evidence,),
    )


def reconciliation_drift(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Recorded reconciliations of the live-venue runs the bot took part in over 30 days:
    none critical, and at least one on each of 30 UTC days (seed 001)."""
    if ctx.store is None:
        return NO_STORE
    since_ns = ctx.now_ns - 30 * DAY_NS
    rows = [
        (f"{r.run_id}@{r.attempt}", rec.wall_ns, rec.level)
        for r in bot_runs(ctx.store, bot_id, (RunKind.LIVE_VENUE,))
        for rec in ctx.store.reconciliations(r.ref)
        if since_ns <= rec.wall_ns <= ctx.now_ns
    ]
    days = {utc_day(wall_ns) for _, wall_ns, _ in rows}
    critical = [row for row in rows if row[2] == "critical"]
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"reconciliations of live-venue runs of {bot_id}, wall_ns >= {since_ns}",
            [list(row) for row in rows],
            f"{len(rows)} reconciliations on {len(days)} day(s)",
        ),
    )
    value = f"{len(critical)} critical of {len(rows)} on {len(days)}/30 days"
    if critical:
        return Measurement(
            phase=Phase.FAILED,
            value=value,
            detail=f"critical drift in {critical[-1][0]}",
            evidence=evidence,
        )
    if len(days) < 30:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value=value,
            detail=f"reconciliations on {len(days)} of 30 days; 30 days within tolerance needed",
            evidence=evidence,
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=value,
        detail="every reconciliation within tolerance for 30 days",
        evidence=evidence,
    )


def builder_code_bound(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Every order of the live-venue runs the bot took part in carries one non-empty builder
    code (seed 000 stage 3)."""
    if ctx.store is None:
        return NO_STORE
    runs = bot_runs(ctx.store, bot_id, (RunKind.LIVE_VENUE,))
    codes: dict[str, int] = {}
    for record in runs:
        for order in final_orders(ctx.store, record):
            codes[order.builder_code] = codes.get(order.builder_code, 0) + 1
    orders = sum(codes.values())
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"orders of {len(runs)} live-venue run(s) of {bot_id}, by builder code",
            codes,
            f"{orders} orders",
        ),
    )
    if orders == 0:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="0 orders",
            detail="no order recorded in a live-venue run the bot took part in",
            evidence=evidence,
        )
    bound = len(codes) == 1 and "" not in codes
    return Measurement(
        phase=Phase.SUCCESSFUL if bound else Phase.FAILED,
        value=f"{orders} orders, {len(codes)} builder code(s)",
        detail="every order carries the desk's builder code"
        if bound
        else f"orders without a builder code: {codes.get('', 0)}; distinct codes: {len(codes)}",
        evidence=evidence,
    )


def kill_switch_routing(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """A kill-switch trip recorded in an ended live-venue run the bot took part in, after
    which no order of the run stayed open (seed 000 stage 3)."""
    if ctx.store is None:
        return NO_STORE
    checked: list[tuple[str, int, list[str]]] = []
    for record in bot_runs(ctx.store, bot_id, (RunKind.LIVE_VENUE,)):
        trips = kill_switch_trips_ns(ctx.store, record)
        if not trips or record.ended_ns is None:
            continue
        still_open = [
            o.client_order_id for o in final_orders(ctx.store, record) if o.status.is_open
        ]
        checked.append((f"{record.run_id}@{record.attempt}", trips[0], still_open))
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"live-venue runs of {bot_id} with a kill-switch trip: orders left open",
            [list(row) for row in checked],
            f"{len(checked)} run(s) with a trip",
        ),
    )
    if not checked:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="no trip",
            detail="no ended live-venue run of this bot recorded a kill-switch trip",
            evidence=evidence,
        )
    leaks = [row for row in checked if row[2]]
    if leaks:
        return Measurement(
            phase=Phase.FAILED,
            value=f"{len(leaks)} run(s) left orders open",
            detail=f"{leaks[0][0]} left {len(leaks[0][2])} order(s) open after the trip",
            evidence=evidence,
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=f"{len(checked)} trip(s), 0 orders left open",
        detail="after each recorded trip every order of the run was closed",
        evidence=evidence,
    )


def wallet_allowance(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """The wallet allowance of the accounts the bot trades from (seed 000 stage 3): each
    account whose check a live-venue run of the bot started with must have its latest
    recorded check (at or before the evaluation's clock, with or without a run: a refused
    start has none) verified — collateral allowance to the CTF Exchange V2 (and for neg-risk
    markets the neg-risk exchange and adapter) above 0 and at least the balance
    (:mod:`polytraders.model.allowance`). Keyed by account, not run, so a later refused start
    of the same account fails the gate although no run of the bot recorded it."""
    if ctx.store is None:
        return NO_STORE
    runs = {(r.run_id, r.attempt) for r in bot_runs(ctx.store, bot_id, (RunKind.LIVE_VENUE,))}
    checks = [c for c in allowance_checks(ctx.store) if c.ts_ns <= ctx.now_ns]
    accounts = {c.check.account for c in checks if (c.run_id, c.attempt) in runs}
    latest = {c.check.account: c for c in checks if c.check.account in accounts}
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"audit_log where action = {ALLOWANCE_CHECKED}: the latest per account of the "
            f"{len(runs)} live-venue run(s) of {bot_id}",
            [
                [
                    c.ts_ns,
                    f"{c.run_id}@{c.attempt}" if c.run_id else "",
                    msgspec.to_builtins(c.check),
                ]
                for c in latest.values()
            ],
            f"{len(latest)} account(s)",
        ),
    )
    if not latest:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="no check",
            detail="no allowance check recorded for a live-venue run the bot took part in",
            evidence=evidence,
        )
    failing = [c.check for c in latest.values() if not c.check.verified]
    value = f"{len(latest) - len(failing)}/{len(latest)} account(s) verified"
    if failing:
        return Measurement(
            phase=Phase.FAILED, value=value, detail=failing[0].problem, evidence=evidence
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=value,
        detail="the latest allowance check of every account the bot traded from is verified",
        evidence=evidence,
    )


def wire_examples_replay(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Replay the spec's wire examples (section 21: envelopes the desk recorded on fixture
    cases, run id ``run-fixture-<bot>-<case>``): re-run each case through the desk and count
    the bot's reason codes that the recorded example does not hold or the bot does not
    declare (seed 001: 0 unexpected)."""
    relative = f"docs/bots/{bot_id}.md"
    spec = file_evidence(ctx.repo, relative)
    if spec.result == "missing":
        return Measurement(
            phase=Phase.FAILED, value="no spec", detail=f"{relative} is missing", evidence=(spec,)
        )
    sections = parse_sections((ctx.repo / relative).read_text(encoding="utf-8"))
    wire = next((sec for sec in sections if sec.number == 21), None)
    lines = [] if wire is None else [ln for ln in wire.body.splitlines() if ln.startswith("{")]
    if not lines:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="no examples",
            detail="section 21 holds no wire example to replay",
            evidence=(spec,),
        )
    declared = bot_class(bot_id).reason_codes
    prefix = f"run-fixture-{bot_id}-"
    unexpected: list[list[str]] = []
    replayed = 0
    for line in lines:
        recorded = decode_envelope(line)
        if not recorded.run_id.startswith(prefix):
            unexpected.append([recorded.envelope_id, "not a fixture-case envelope"])
            continue
        case = recorded.run_id.removeprefix(prefix)
        run = run_case(load_pack(pack_path(bot_id, case, ctx.repo)), Mode.ENFORCED)
        replayed += 1
        rerun = [e for e in run.bot_envelopes if e.sequence == recorded.sequence]
        got = set(rerun[0].reason_codes) if rerun else set()
        for code in sorted(got - set(recorded.reason_codes)):
            unexpected.append([recorded.envelope_id, code])
        for code in sorted(got - declared):
            unexpected.append([recorded.envelope_id, f"{code} (undeclared)"])
        if not rerun:
            unexpected.append([recorded.envelope_id, "no envelope at that sequence on replay"])
    evidence = (
        spec,
        result_evidence(
            EvidenceKind.TEST,
            f"replay of {len(lines)} wire example(s) of {bot_id} through the desk",
            unexpected,
            f"{len(unexpected)} unexpected",
        ),
    )
    if unexpected:
        return Measurement(
            phase=Phase.FAILED,
            value=f"{len(unexpected)} unexpected",
            detail="; ".join(f"{envelope}: {what}" for envelope, what in unexpected[:5]),
            evidence=evidence,
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=f"0 unexpected in {replayed} replayed",
        detail=f"{replayed} wire example(s) replayed with their recorded codes only",
        evidence=evidence,
    )


def no_p0_alerts(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """No P0 alert of the bot firing in the last 7 days (recorded Alertmanager firings),
    measured only over 7 days of shadow running (decisions in SHADOW mode on each day)."""
    found = _live_window(bot_id, ctx, 7)
    if found is None or ctx.store is None:
        return NO_STORE
    window_evidence, window = found
    since_ns = ctx.now_ns - 7 * DAY_NS
    firing = firing_ns(ctx.store, bot_id, severity="P0", start_ns=since_ns, end_ns=ctx.now_ns)
    evidence = (
        window_evidence,
        result_evidence(
            EvidenceKind.STORE,
            f"alert_firings where bot = {bot_id} and severity = P0, [{since_ns}, {ctx.now_ns})",
            firing,
            f"P0 firing for {firing // 1_000_000_000} s",
        ),
    )
    if firing > 0:
        return Measurement(
            phase=Phase.FAILED,
            value=f"P0 firing {firing / 3.6e12:.2f} h",
            detail="a P0 alert of this bot fired in the last 7 days",
            evidence=evidence,
        )
    shadow_days = len(window.days) if window.modes.get("SHADOW", 0) else 0
    if shadow_days < 7:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="0 P0",
            detail=f"no P0 firing, but shadow decisions on {shadow_days} of the 7 days: "
            "silence over too short a run proves nothing",
            evidence=evidence,
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value="0 P0 in 7 days",
        detail="no P0 alert fired over 7 days of shadow running",
        evidence=evidence,
    )


def incidents(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Incidents attributed to the bot since it entered Limited live, drills and
    venue-caused ones excluded (seed 001: 0 P1 — and so 0 P0 —, ≤ 2 P2; measured over at
    least 30 days)."""
    if ctx.store is None:
        return NO_STORE
    since_ns = limited_live_since_ns(ctx, bot_id)
    if since_ns is None:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="not in limited live",
            detail="no recorded promotion to Limited live: no window to count incidents in",
        )
    counted = [
        i
        for i in list_incidents(ctx.store, bot_id=bot_id)
        if not i.drill and i.error_origin is not ErrorOrigin.VENUE and i.opened_ns >= since_ns
    ]
    by_severity = {
        sev.value: sum(1 for i in counted if i.severity is sev) for sev in IncidentSeverity
    }
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"incidents where bot_id = {bot_id}, opened since {since_ns}, no drills, "
            "origin not venue",
            [[i.incident_id, i.severity.value, i.opened_ns] for i in counted],
            f"{len(counted)} incident(s)",
        ),
    )
    value = ", ".join(f"{n} {sev}" for sev, n in by_severity.items())
    if by_severity.get("P0", 0) or by_severity.get("P1", 0) or by_severity.get("P2", 0) > 2:
        return Measurement(
            phase=Phase.FAILED,
            value=value,
            detail="more incidents than 0 P0/P1 and 2 P2 since Limited live",
            evidence=evidence,
        )
    days = (ctx.now_ns - since_ns) / DAY_NS
    if days < 30:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value=value,
            detail=f"within bounds so far, over {days:.1f} of the 30 days",
            evidence=evidence,
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=value,
        detail=f"within 0 P1 and 2 P2 over {days:.1f} days of Limited live",
        evidence=evidence,
    )


REVIEW_SIZE = 100
"""Seed 001: "Manual review of 100 random REJECT/RESHAPE"."""


def false_positive_rate(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """The latest review sample of the bot: at least 100 decisions reviewed, at most 5 %
    judged incorrect (seed 001); the one-sided 95 % Clopper–Pearson upper bound is reported
    beside the point estimate (``../shared/research/governance.md`` §3: 5/100 → 10.2 %)."""
    if ctx.store is None:
        return NO_STORE
    samples = sample_ids(ctx.store, bot_id)
    if not samples:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="no review",
            detail="no review sample of this bot (polytraders review sample)",
        )
    summary = summarize(ctx.store, samples[-1])
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"review sample {summary.sample_id} of {bot_id}",
            [summary.drawn, summary.reviewed, summary.incorrect],
            f"{summary.incorrect} incorrect of {summary.reviewed} reviewed",
        ),
    )
    if summary.reviewed < REVIEW_SIZE or summary.fp_rate is None:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value=f"{summary.reviewed} reviewed",
            detail=f"{summary.reviewed} of the {REVIEW_SIZE} decisions needed are reviewed "
            f"(sample {summary.sample_id})",
            evidence=evidence,
        )
    ok = summary.incorrect * 100 <= 5 * summary.reviewed
    upper = summary.fp_upper_95 if summary.fp_upper_95 is not None else float("nan")
    value = (
        f"{summary.incorrect}/{summary.reviewed} = {summary.fp_rate * 100:.1f} % "
        f"(95 % upper bound {upper * 100:.1f} %)"
    )
    return Measurement(
        phase=Phase.SUCCESSFUL if ok else Phase.FAILED,
        value=value,
        detail=f"false-positive rate {'within' if ok else 'above'} 5 %",
        evidence=evidence,
    )


MEASURES: dict[str, Callable[[str, ReadinessContext], Measurement]] = {
    "spec_present": spec_present,
    "spec_parameters": _score_items(ScoreName.DOCS, (7, 8, 11)),
    "spec_thresholds": _score_items(ScoreName.DOCS, (9, 10)),
    "fixture_pack_present": _score_items(ScoreName.BACKTEST, (1,)),
    "docs_checklist": _score_items(ScoreName.DOCS, None),
    "impl_checklist": _score_items(ScoreName.IMPL, None),
    "search_space_declared": _score_items(ScoreName.BACKTEST, (3,)),
    "fixture_pack_passes": _score_items(ScoreName.IMPL, (5, 6, 7, 8)),
    "backtest_harness": _score_items(ScoreName.BACKTEST, None),
    "runner_integration": _score_items(ScoreName.IMPL, (13,)),
    "reason_codes_registered": reason_codes_registered,
    "reason_code_stability": reason_code_stability,
    "user_message_coverage": user_message_coverage,
    "ci_green_7_days": ci_green_7_days,
    "synthetic_labeled": synthetic_labeled,
    "limited_live_30_days": limited_live_30_days,
    "wire_examples_replay": wire_examples_replay,
    "no_p0_alerts": no_p0_alerts,
    "incidents": incidents,
    "false_positive_rate": false_positive_rate,
    "p99_latency": p99_latency,
    "error_rate_7_days": error_rate_7_days,
    "reconciliation_drift": reconciliation_drift,
    "builder_code_bound": builder_code_bound,
    "kill_switch_routing": kill_switch_routing,
    "shadow_agreement": shadow_agreement,
    "chaos_suite": chaos_suite,
    "console_page": _not_recorded_yet(
        "this release has no operator console, so no page declares its purpose"
    ),
    "reviewer_signoff": reviewer_signoff,
    "multisig_approval": multisig_approval,
    "release_manifest_signed": release_manifest_signed,
    "incident_playbook": incident_playbook,
    "rollback_plan_tested": rollback_plan_tested,
    "final_risk_review": final_risk_review,
    "wallet_allowance": wallet_allowance,
    "audit_retention": audit_retention,
}
"""Every gate's evidence function by name (``Gate.measure``)."""
