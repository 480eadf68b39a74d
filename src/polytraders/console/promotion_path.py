"""The promotion path (seed 000's operator page) from what the store recorded: each library
bot's four stages with every gate's latest recorded result, the stage counts, the next-up
candidate, the signatures of each bot's latest release and the recent promotion activity.

Nothing is evaluated here (an evaluation runs mypy and the simulator): every phase is the one
a recorded evaluation (``polytraders gates check`` / ``promote``, table ``gate_evaluations``)
measured, shown with its time, commit and evaluation id. A bot's stage is derived from those
rows as ``polytraders readiness`` derives it from a fresh evaluation: the highest stage whose
critical gates, and every earlier stage's, are Successful. Waivers are not recorded with the
gate rows, so a waived gate counts as not passed here.

Cost on a big store (``docs/console.md`` "Queries"), per bot: its newest ``gate_rows_per_bot``
gate rows along the index ``(bot_id, ts_ns)``, its promotion rows along ``(bot_id, row_id)``
(the lifecycle state), its last release along ``(bot_id, sequence)``; desk-wide: the last
``audit_window`` audit entries along the primary key (the signer list's threshold and the GOV_
activity) and the newest promotion rows along the primary key. Nothing grows with the store.
"""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa
from pydantic import BaseModel

from polytraders.bots.registry import BOTS, bot_class
from polytraders.console.settings import ConsoleSettings
from polytraders.contracts.reasons import load_registry
from polytraders.readiness.evaluate import PHASE_CODES
from polytraders.readiness.evidence import Evidence, Phase
from polytraders.readiness.gates import Gate, Severity, stage_gates
from polytraders.readiness.lifecycle import STAGES, Stage
from polytraders.readiness.promote import current_state
from polytraders.readiness.release_check import SIGNERS_ACCEPTED
from polytraders.store import EventStore, schema
from polytraders.store.promotions import GateEvaluationRow
from polytraders.store.releases import last_release

RELEASE_GATES = frozenset({"multisig_approval", "release_manifest_signed"})
"""The signature gates measured on the bot's release: shown with k of n signatures."""

ACTIVITY_LIMIT = 20
"""How many recent activity entries the page lists."""


class EvidenceRef(BaseModel):
    """One piece of evidence a gate's value rests on (kind, reference, SHA-256, result)."""

    kind: str
    ref: str
    digest: str
    result: str


class Signatures(BaseModel):
    """The signatures of the bot's latest accepted release: ``signed`` distinct approvers of
    the ``threshold`` the latest accepted signer list asks (None: no list accepted in the
    audit window)."""

    release_sequence: int
    to_state: str
    signers: list[str]
    signed: int
    threshold: int | None
    recorded_ns: int


class GateView(BaseModel):
    """One gate of a stage with its latest recorded result (``phase`` None: not recorded in
    the bot's newest gate rows). ``recorded_ns``, ``commit_sha``, ``evaluation_id`` and
    ``target`` name the evaluation the figure comes from."""

    gate_id: str
    title: str
    critical: bool
    threshold: str
    window: str
    phase: Phase | None
    value: str
    evidence: list[EvidenceRef]
    evidence_digest: str
    evaluation_id: str
    target: str
    commit_sha: str
    recorded_ns: int | None
    signatures: Signatures | None


class StageView(BaseModel):
    """One of the bot's four stages: its gates, how many are Successful, whether it is
    reached (its and every earlier stage's critical gates Successful)."""

    stage: Stage
    number: int
    passed: int
    total: int
    reached: bool
    earlier_open: bool
    gates: list[GateView]


class BotPath(BaseModel):
    """One bot on the path. ``state`` is its recorded lifecycle state (promotions);
    ``reached`` the highest stage reached (None: none); ``next_stage`` and ``gates_to_go``
    what stands between it and the next stage; ``evaluated`` False when no gate row of it is
    recorded (``hint`` says how to record one)."""

    bot_id: str
    bot_class: str
    state: str
    evaluated: bool
    reached: Stage | None
    passed: int
    total: int
    next_stage: Stage | None
    gates_to_go: int
    last_recorded_ns: int | None
    hint: str
    stages: list[StageView]


class StageCount(BaseModel):
    """How many bots reached a stage (at it or beyond), from recorded evaluations."""

    stage: Stage
    bots: int


class NextUp(BaseModel):
    """The bot closest to its next stage: fewest critical gates still open up to it."""

    bot_id: str
    next_stage: Stage
    gates_to_go: int


class ActivityItem(BaseModel):
    """A recent promotion-related entry: a ``promotions`` row or a GOV_ audit entry naming a
    bot (per-gate audit entries are left out: the evaluation's ``GOV_GATES_CHECKED`` stands
    for them)."""

    ts_ns: int
    bot_id: str
    action: str
    actor: str
    reason_code: str
    recorded_in: str


class PromotionPathView(BaseModel):
    """The page: stage counts over every library bot, the average of Successful stage gates
    over the bots evaluated (``passed_sum`` / ``bots_evaluated`` of ``total_sum`` /
    ``bots_evaluated``), the next-up candidate, each bot, and the recent activity."""

    bots_listed: int
    bots_evaluated: int
    not_demo_wired: int
    stage_counts: list[StageCount]
    passed_sum: int
    total_sum: int
    average: str
    next_up: NextUp | None
    bots: list[BotPath]
    activity: list[ActivityItem]
    gate_rows_per_bot: int
    audit_window: int


def latest_gate_rows(
    store: EventStore, bot_id: str, gate_ids: set[str], *, window: int
) -> dict[str, GateEvaluationRow]:
    """Each gate's latest recorded row among the bot's newest ``window`` gate rows.

    Raises:
        StoreError: a read failed.
    """
    g = schema.gate_evaluations.c
    newest = store.select(
        sa.select(g.row_id, g.gate_id)
        .where(g.bot_id == bot_id)
        .order_by(g.ts_ns.desc(), g.row_id.desc())
        .limit(window)
    )
    chosen: dict[str, int] = {}
    for row in newest:
        if row.gate_id in gate_ids and row.gate_id not in chosen:
            chosen[row.gate_id] = int(row.row_id)
    if not chosen:
        return {}
    fields = GateEvaluationRow.__struct_fields__
    rows = store.select(
        sa.select(schema.gate_evaluations).where(g.row_id.in_(list(chosen.values())))
    )
    found = [
        GateEvaluationRow(**{k: v for k, v in row._asdict().items() if k in fields}) for row in rows
    ]
    return {row.gate_id: row for row in found}


def _recent_audit(store: EventStore, window: int, *conditions: Any) -> list[sa.Row[Any]]:
    """Audit entries among the last ``window`` matching ``conditions``, newest first."""
    a = schema.audit_log.c
    (last,) = store.select(sa.select(sa.func.max(a.row_id)))[0]
    if last is None:
        return []
    return store.select(
        sa.select(a.row_id, a.ts_ns, a.actor, a.action, a.detail)
        .where(a.row_id > int(last) - window, *conditions)
        .order_by(a.row_id.desc())
        .limit(ACTIVITY_LIMIT)
    )


def signer_threshold(store: EventStore, *, window: int) -> int | None:
    """The threshold of the latest signer list accepted in the last ``window`` audit entries.

    Raises:
        StoreError: the read failed.
    """
    rows = _recent_audit(store, window, schema.audit_log.c.action == SIGNERS_ACCEPTED)
    if not rows:
        return None
    return int(msgspec.json.decode(rows[0].detail)["threshold"])


def _evidence(row: GateEvaluationRow) -> list[EvidenceRef]:
    pieces = msgspec.json.decode(row.evidence_json, type=list[Evidence])
    return [
        EvidenceRef(kind=e.kind.value, ref=e.ref, digest=e.digest, result=e.result) for e in pieces
    ]


def _gate_view(
    gate: Gate, row: GateEvaluationRow | None, signatures: Signatures | None
) -> GateView:
    if row is None:
        return GateView(
            gate_id=gate.gate_id,
            title=gate.title,
            critical=gate.severity is Severity.CRITICAL,
            threshold=gate.threshold,
            window=gate.window,
            phase=None,
            value="",
            evidence=[],
            evidence_digest="",
            evaluation_id="",
            target="",
            commit_sha="",
            recorded_ns=None,
            signatures=signatures,
        )
    return GateView(
        gate_id=gate.gate_id,
        title=gate.title,
        critical=row.critical,
        threshold=row.threshold,
        window=row.window,
        phase=Phase(row.phase),
        value=row.value,
        evidence=_evidence(row),
        evidence_digest=row.evidence_digest,
        evaluation_id=row.evaluation_id,
        target=row.to_state,
        commit_sha=row.commit_sha,
        recorded_ns=row.ts_ns,
        signatures=signatures,
    )


def _blocks(gate: GateView) -> bool:
    return gate.critical and gate.phase is not Phase.SUCCESSFUL


def bot_path(store: EventStore, bot_id: str, *, window: int, threshold: int | None) -> BotPath:
    """One bot's path from its recorded gate rows, state and latest release.

    Raises:
        KeyError: not a library bot.
        StoreError: a read failed.
    """
    cls = bot_class(bot_id).bot_class
    per_stage = [(stage, stage_gates(stage, cls)) for stage in STAGES]
    wanted = {g.gate_id for _, gates in per_stage for g in gates}
    rows = latest_gate_rows(store, bot_id, wanted, window=window)
    release = last_release(store, bot_id)
    signatures = (
        None
        if release is None
        else Signatures(
            release_sequence=release.sequence,
            to_state=release.to_state,
            signers=list(release.signers),
            signed=len(release.signers),
            threshold=threshold,
            recorded_ns=release.ts_ns,
        )
    )
    stages: list[StageView] = []
    open_before = False
    reached: Stage | None = None
    next_stage: Stage | None = None
    gates_to_go = 0
    for stage, gates in per_stage:
        views = [
            _gate_view(g, rows.get(g.gate_id), signatures if g.gate_id in RELEASE_GATES else None)
            for g in gates
        ]
        stage_open = any(_blocks(v) for v in views)
        is_reached = not open_before and not stage_open
        if is_reached:
            reached = stage
        elif next_stage is None:
            next_stage = stage
            gates_to_go = sum(1 for s in stages for v in s.gates if _blocks(v)) + sum(
                1 for v in views if _blocks(v)
            )
        stages.append(
            StageView(
                stage=stage,
                number=stage.number,
                passed=sum(1 for v in views if v.phase is Phase.SUCCESSFUL),
                total=len(views),
                reached=is_reached,
                earlier_open=open_before,
                gates=views,
            )
        )
        open_before = open_before or stage_open
    return BotPath(
        bot_id=bot_id,
        bot_class=cls.value,
        state=current_state(store, bot_id).value,
        evaluated=bool(rows),
        reached=reached,
        passed=sum(s.passed for s in stages),
        total=sum(s.total for s in stages),
        next_stage=next_stage,
        gates_to_go=gates_to_go,
        last_recorded_ns=max((r.ts_ns for r in rows.values()), default=None),
        hint=""
        if rows
        else f"no recorded evaluation: run polytraders gates check {bot_id} "
        f"--to {STAGES[-1].value}",
        stages=stages,
    )


def _action_text(code: str, detail: dict[str, Any]) -> str:
    """What a GOV_ audit entry says happened, in a few words."""
    if code == "GOV_PROMOTION_ATTEMPTED":
        return f"attempted {detail.get('from_state')} → {detail.get('to_state')}"
    if code == "GOV_GATES_CHECKED":
        return f"gates checked for {detail.get('target')}: {detail.get('verdict')}"
    if code == "GOV_RELEASE_SIGNED":
        signers = ", ".join(str(s) for s in detail.get("signers", []))
        return (
            f"release {detail.get('sequence')} to {detail.get('to_state')} accepted, "
            f"signed by {signers}"
        )
    if code == "GOV_READINESS_RECORDED":
        scores = detail.get("scores", {})
        return "readiness recorded: " + ", ".join(
            f"{name.capitalize()} {s.get('passed')}/{s.get('out_of')}" for name, s in scores.items()
        )
    entry = load_registry().get(code)
    return entry.user_message if entry is not None else code


def activity(store: EventStore, *, window: int) -> list[ActivityItem]:
    """The newest promotion rows and GOV_ audit entries naming a bot (among the last
    ``window`` entries), newest first; an audit entry that mirrors a promotion row (same
    time, bot and code) is listed once, as the row.

    Raises:
        StoreError: a read failed.
    """
    p = schema.promotions.c
    promoted = store.select(
        sa.select(schema.promotions).order_by(p.row_id.desc()).limit(ACTIVITY_LIMIT)
    )
    items = [
        ActivityItem(
            ts_ns=row.ts_ns,
            bot_id=row.bot_id,
            action=f"{row.outcome} {row.from_state} → {row.to_state}: {row.detail}",
            actor=row.actor,
            reason_code=row.reason_code,
            recorded_in="promotions",
        )
        for row in promoted
    ]
    mirrored = {(i.ts_ns, i.bot_id, i.reason_code) for i in items}
    a = schema.audit_log.c
    audited = _recent_audit(
        store,
        window,
        a.action.like("GOV\\_%", escape="\\"),
        a.action.not_in(list(PHASE_CODES.values())),
        a.detail.like('%"bot_id":%'),
    )
    for row in audited:
        try:
            detail = msgspec.json.decode(row.detail)
        except msgspec.DecodeError:  # free text that happens to quote "bot_id"
            continue
        bot_id = detail.get("bot_id") if isinstance(detail, dict) else None
        if not isinstance(bot_id, str) or (row.ts_ns, bot_id, row.action) in mirrored:
            continue
        items.append(
            ActivityItem(
                ts_ns=row.ts_ns,
                bot_id=bot_id,
                action=_action_text(row.action, detail),
                actor=row.actor,
                reason_code=row.action,
                recorded_in="audit log",
            )
        )
    items.sort(key=lambda i: i.ts_ns, reverse=True)
    return items[:ACTIVITY_LIMIT]


def _tenths(numerator: int, denominator: int) -> str:
    """``numerator / denominator`` rounded half up to one decimal, exactly ("14", "13.5")."""
    tenths = (numerator * 20 + denominator) // (denominator * 2)
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"


def promotion_path(store: EventStore, settings: ConsoleSettings) -> PromotionPathView:
    """The promotion path of every library bot (module docstring).

    Raises:
        StoreError: a read failed.
    """
    window = settings.audit_window
    threshold = signer_threshold(store, window=window)
    bots = [
        bot_path(store, bot_id, window=settings.gate_rows_per_bot, threshold=threshold)
        for bot_id in BOTS
    ]
    evaluated = [b for b in bots if b.evaluated]
    passed_sum = sum(b.passed for b in evaluated)
    total_sum = sum(b.total for b in evaluated)
    candidates = [b for b in evaluated if b.next_stage is not None]
    best = min(candidates, key=lambda b: (b.gates_to_go, -b.passed, b.bot_id), default=None)
    return PromotionPathView(
        bots_listed=len(bots),
        bots_evaluated=len(evaluated),
        not_demo_wired=sum(1 for b in bots if b.reached is None),
        stage_counts=[
            StageCount(
                stage=stage,
                bots=sum(
                    1 for b in bots if b.reached is not None and b.reached.number >= stage.number
                ),
            )
            for stage in STAGES
        ],
        passed_sum=passed_sum,
        total_sum=total_sum,
        average=(
            f"{_tenths(passed_sum, len(evaluated))}/{_tenths(total_sum, len(evaluated))}"
            if evaluated
            else "no recorded evaluation"
        ),
        next_up=None
        if best is None or best.next_stage is None
        else NextUp(bot_id=best.bot_id, next_stage=best.next_stage, gates_to_go=best.gates_to_go),
        bots=bots,
        activity=activity(store, window=window),
        gate_rows_per_bot=settings.gate_rows_per_bot,
        audit_window=window,
    )
