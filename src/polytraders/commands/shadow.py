"""``polytraders shadow``: shadow comparisons of a candidate desk with a baseline desk.

``compare`` runs the baseline desk over the data with the candidate desk's risk chain deciding
beside it on every intent (recorded, never applied), then the candidate desk on its own for the
execution parity (:mod:`polytraders.backtest.shadow_compare`); it prints per bot the confusion
table, the agreement on the verdict, on verdict plus codes and on the reshaped intent, Cohen's
κ, the one-sided 95 % lower bound of the verdict agreement, the unsafe divergences (candidate
more permissive), then the execution parity; ``--out DIR`` writes ``comparison.json`` and
``divergences.jsonl``; the comparison is recorded in the store (``--no-store``: not).
``list`` shows a bot's recorded comparisons, ``show`` one comparison's divergences with their
review state, ``review`` records a verdict on one divergence (the shadow-agreement gate needs
every divergence reviewed).

Exit codes: 0 done; 1 a desk's run failed (nothing compared); 2 refused input (desk file, data,
option, store, an unknown comparison or divergence), one line on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from polytraders.backtest.desk_file import DeskFile, DeskFileError
from polytraders.backtest.engine import RunRefusedError
from polytraders.backtest.shadow_compare import (
    ShadowCompareError,
    ShadowComparison,
    bot_json,
    compare_desks,
    record,
    write_outputs,
)
from polytraders.backtest.shadow_decisions import POLYMARKET_SIZE_STEP_MICROS, BotAgreement
from polytraders.backtest.shadow_parity import DEFAULT_BUCKET_S
from polytraders.commands.evidence_cli import (
    DEFAULT_STORE,
    JsonOption,
    StoreOption,
    known_bot,
    opened,
    print_json,
)
from polytraders.commands.failures import EXIT_FAILED, EXIT_REFUSED, fail
from polytraders.model.agreement import LABELS, percent_text
from polytraders.model.money import from_micros
from polytraders.store import EventStore, StoreError
from polytraders.store.errors import EvidenceInputError
from polytraders.store.lease import utc_text
from polytraders.store.reviews import ReviewVerdict
from polytraders.store.shadow_comparisons import (
    comparisons,
    divergence_verdicts,
    record_divergence_verdict,
)

app = typer.Typer(
    name="shadow",
    help="Shadow comparisons: a candidate desk's risk decisions beside a baseline desk's on "
    "the same events (agreement, Cohen's kappa, unsafe divergences, execution parity), "
    "recorded and reviewable.",
    no_args_is_help=True,
)

_SHOWN_DIVERGENCES = 10
"""Unsafe divergences printed per bot (all of them are in divergences.jsonl)."""


def _load(path: Path, option: str) -> DeskFile:
    try:
        return DeskFile.load(path)
    except DeskFileError as exc:
        fail(f"{option}: {exc.one_line()}", EXIT_REFUSED, exc)


def _confusion_lines(agreement: BotAgreement) -> list[str]:
    counts = agreement.confusion.as_dict()
    width = max(7, *(len(f"{n:,}") for row in counts.values() for n in row.values()))
    lines = ["    baseline \\ candidate " + " ".join(f"{label:>{width}}" for label in LABELS)]
    for base in LABELS:
        cells = " ".join(f"{counts[base][cand]:>{width},}" for cand in LABELS)
        lines.append(f"    {base:<22} {cells}")
    return lines


def _bot_lines(agreement: BotAgreement) -> list[str]:
    figures = bot_json(agreement)
    compared = agreement.compared
    lower = figures["agreement_lower_95"]
    codes_pct = percent_text(agreement.agree_codes / compared) if compared else "n/a"
    one_sided = ", ".join(
        f"{side} {reason} {n:,}"
        for side, reasons in agreement.one_sided.items()
        for reason, n in reasons.items()
        if n
    )
    lines = [
        f"{agreement.bot_id}  (config {agreement.baseline_config_version} → "
        f"{agreement.candidate_config_version})",
        f"  compared {compared:,}: verdict {agreement.agree_verdict:,} "
        f"({figures['agreement_pct']}), verdict + codes {agreement.agree_codes:,} ({codes_pct}), "
        f"reshaped alike {agreement.agree_reshape:,} of {agreement.both_reshape:,}",
        f"  kappa {figures['kappa'] or 'n/a'}; 95 % lower bound of verdict agreement "
        f"{percent_text(lower)}; divergences {len(agreement.divergences):,}, "
        f"unsafe {agreement.unsafe:,}; one-sided: {one_sided or 'none'}",
        *_confusion_lines(agreement),
    ]
    unsafe = [d for d in agreement.divergences if d.unsafe]
    for d in unsafe[:_SHOWN_DIVERGENCES]:
        lines.append(
            f"  UNSAFE {d.correlation_id}: {d.baseline.label} "
            f"[{','.join(d.baseline.reason_codes)}] → {d.candidate.label} "
            f"[{','.join(d.candidate.reason_codes)}]  ({d.candidate.envelope_id})"
        )
    if len(unsafe) > _SHOWN_DIVERGENCES:
        lines.append(f"  … {len(unsafe) - _SHOWN_DIVERGENCES:,} more unsafe (divergences.jsonl)")
    return lines


def _parity_lines(comparison: ShadowComparison) -> list[str]:
    parity = comparison.parity
    if parity is None:
        return ["execution parity: not computed (--no-parity)"]
    b, c, worst = parity.baseline, parity.candidate, parity.max_abs_diff
    return [
        f"execution parity (sampled every {parity.bucket_ns // 1_000_000_000} s of event time; "
        "baseline vs candidate desk, largest difference over time):",
        f"  orders {b.orders:,} vs {c.orders:,} (max diff {worst['orders']:,}); "
        f"fills {b.fills:,} vs {c.fills:,} (max diff {worst['fills']:,})",
        f"  PnL {from_micros(b.pnl_micros)} vs {from_micros(c.pnl_micros)} {comparison.currency} "
        f"(max diff {from_micros(worst['pnl_micros'])}); exposure at the end "
        f"{from_micros(b.exposure_micros)} vs {from_micros(c.exposure_micros)} "
        f"{comparison.currency} "
        f"(max diff {from_micros(worst['exposure_micros'])})",
    ]


def _summary(comparison: ShadowComparison) -> list[str]:
    lines = [
        f"comparison {comparison.comparison_id} on {comparison.data_source} "
        f"({utc_text(comparison.window_start_ns)} → {utc_text(comparison.window_end_ns)}), "
        f"seed {comparison.seed}, {comparison.wall_s:.1f} s",
        f"baseline run {comparison.baseline.run_id} ({comparison.baseline.status}); candidate "
        f"chain {comparison.shadow.run_id}"
        + (
            f"; candidate desk run {comparison.candidate.run_id} ({comparison.candidate.status})"
            if comparison.candidate is not None
            else ""
        ),
        *(f"note: {n}" for n in comparison.notes),
    ]
    for name, bots in (
        ("baseline", comparison.baseline_only_bots),
        ("candidate", comparison.candidate_only_bots),
    ):
        if bots:
            lines.append(f"only in the {name} chain (not compared): {', '.join(bots)}")
    for agreement in comparison.bots:
        lines.append("")
        lines.extend(_bot_lines(agreement))
    lines.append("")
    lines.extend(_parity_lines(comparison))
    return lines


@app.command("compare")
def compare(
    baseline: Annotated[
        Path, typer.Option("--baseline", help="The current desk file (TOML): the reference.")
    ],
    candidate: Annotated[
        Path, typer.Option("--candidate", help="The candidate desk file (TOML) under evaluation.")
    ],
    data: Annotated[str, typer.Option("--data", help="Feed to replay (see `run --help`).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for comparison.json and divergences.jsonl."),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not record the comparison.")
    ] = False,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of both desks (default: the baseline's)."),
    ] = None,
    operator: Annotated[
        str, typer.Option("--operator", help="Who runs the comparison (audited).")
    ] = "desk",
    bucket_s: Annotated[
        int, typer.Option("--bucket-s", help="Execution parity sampling interval (s).")
    ] = DEFAULT_BUCKET_S,
    no_parity: Annotated[
        bool,
        typer.Option("--no-parity", help="Skip the candidate desk's own run (decisions only)."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Compare a candidate desk's risk decisions with a baseline desk's on the same events,
    per bot, with the execution parity; record it and write the outputs."""
    base = _load(baseline, "--baseline")
    cand = _load(candidate, "--candidate")
    if bucket_s <= 0:
        fail(f"--bucket-s {bucket_s}: must be > 0")
    handle: EventStore | None = None
    if not no_store:
        try:
            handle = EventStore.open(store)
        except StoreError as exc:
            fail(f"--store: {exc}", EXIT_REFUSED, exc)
    try:
        try:
            comparison = compare_desks(
                data=data,
                baseline=base,
                candidate=cand,
                seed=seed,
                size_step_micros=POLYMARKET_SIZE_STEP_MICROS,
                bucket_s=bucket_s,
                parity=not no_parity,
            )
        except (RunRefusedError, ValueError) as exc:
            fail(f"comparison refused: {exc}", EXIT_REFUSED, exc)
        except ShadowCompareError as exc:
            fail(str(exc), EXIT_FAILED, exc)
        written: tuple[Path, Path] | None = None
        if out is not None:
            try:
                written = write_outputs(comparison, out)
            except OSError as exc:
                fail(f"--out {out}: {exc}", EXIT_FAILED, exc)
        recorded: bool | None = None
        if handle is not None:
            try:
                recorded = record(comparison, handle, actor=operator)
            except (StoreError, EvidenceInputError) as exc:
                fail(f"the comparison could not be recorded: {exc}", EXIT_FAILED, exc)
    finally:
        if handle is not None:
            handle.close()
    if as_json:
        print_json({**comparison.as_json(), "recorded": recorded})
        return
    for line in _summary(comparison):
        typer.echo(line)
    typer.echo("")
    if written is not None:
        typer.echo(f"outputs: {written[0]}  {written[1]}")
    if recorded is not None:
        state = "recorded" if recorded else "already on record (the same comparison)"
        typer.echo(f"store: {store}: {comparison.comparison_id} {state}")


@app.command("list")
def list_(
    bot: Annotated[str, typer.Argument(help="The bot whose comparisons are listed.")],
    store: StoreOption = DEFAULT_STORE,
    as_json: JsonOption = False,
) -> None:
    """A bot's recorded comparisons: window, agreement, kappa, divergences reviewed."""
    known_bot(bot, "BOT")
    with opened(store) as handle:
        rows = comparisons(handle, bot_id=bot)
        verdicts = divergence_verdicts(handle, [r.comparison_id for r in rows])
    documents: list[dict[str, Any]] = []
    for r in rows:
        reviewed = sum(1 for d in r.divergences if verdicts.get((r.comparison_id, *d.key)))
        documents.append(
            {
                "comparison_id": r.comparison_id,
                "data_source": r.data_source,
                "window_start_ns": r.window_start_ns,
                "window_end_ns": r.window_end_ns,
                "compared": r.compared,
                "agree_verdict": r.agree_verdict,
                "agree_strict": r.agree_strict,
                "kappa": r.kappa,
                "agreement_lower_95": r.confusion.lower_bound(),
                "divergences": len(r.divergences),
                "unsafe_divergences": r.unsafe_divergences,
                "reviewed": reviewed,
                "recorded_ns": r.ts_ns,
                "actor": r.actor,
            }
        )
    if as_json:
        print_json(documents)
        return
    if not documents:
        typer.echo(f"no shadow comparison of {bot} recorded")
        return
    for d in documents:
        agreement = d["agree_verdict"] / d["compared"] if d["compared"] else None
        typer.echo(
            f"{d['comparison_id']}  {utc_text(d['window_start_ns'])} → "
            f"{utc_text(d['window_end_ns'])}  {d['agree_verdict']:,}/{d['compared']:,} "
            f"({percent_text(agreement)}), kappa {d['kappa'] or 'n/a'}, divergences "
            f"{d['divergences']:,} (unsafe {d['unsafe_divergences']:,}, reviewed "
            f"{d['reviewed']:,})"
        )


@app.command("show")
def show(
    comparison_id: Annotated[str, typer.Argument(help="The comparison (sc-…).")],
    store: StoreOption = DEFAULT_STORE,
    bot: Annotated[str | None, typer.Option("--bot", help="Only this bot's divergences.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A recorded comparison's divergences with both envelopes and their review state."""
    with opened(store) as handle:
        rows = comparisons(handle, comparison_id=comparison_id, bot_id=bot)
        if not rows:
            fail(
                f"no shadow comparison {comparison_id!r} in the store"
                + (f" for {bot}" if bot else "")
            )
        verdicts = divergence_verdicts(handle, [comparison_id])
    items: list[dict[str, Any]] = []
    for r in rows:
        for d in r.divergences:
            current = verdicts.get((comparison_id, *d.key), {})
            items.append(
                {
                    "bot_id": d.bot_id,
                    "correlation_id": d.correlation_id,
                    "kind": d.kind,
                    "unsafe": d.unsafe,
                    "baseline": {
                        "verdict": d.baseline_verdict,
                        "reason_codes": list(d.baseline_codes),
                        "envelope_id": d.baseline_envelope_id,
                        "envelope": d.baseline_line,
                    },
                    "candidate": {
                        "verdict": d.candidate_verdict,
                        "reason_codes": list(d.candidate_codes),
                        "envelope_id": d.envelope_id,
                        "envelope": d.candidate_line,
                    },
                    "verdicts": {
                        who: {"verdict": v.verdict.value, "note": v.note, "ts_ns": v.ts_ns}
                        for who, v in sorted(current.items())
                    },
                }
            )
    if as_json:
        print_json({"comparison_id": comparison_id, "divergences": items})
        return
    typer.echo(f"{comparison_id}: {len(items):,} divergence(s)")
    for item in items:
        judged = ", ".join(f"{who}: {v['verdict']}" for who, v in item["verdicts"].items())
        base, cand = item["baseline"], item["candidate"]
        typer.echo(
            f"  {item['bot_id']}  {item['correlation_id']}  {item['kind']}"
            f"{' UNSAFE' if item['unsafe'] else ''}: {base['verdict']} "
            f"[{','.join(base['reason_codes'])}] → {cand['verdict']} "
            f"[{','.join(cand['reason_codes'])}]  {cand['envelope_id']}  "
            f"[{judged or 'not reviewed'}]"
        )


@app.command("review")
def review(
    comparison_id: Annotated[str, typer.Argument(help="The comparison (sc-…).")],
    envelope_id: Annotated[
        str, typer.Argument(help="The divergence's candidate (or baseline) envelope id.")
    ],
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who judged it (audited).")],
    store: StoreOption = DEFAULT_STORE,
    correct: Annotated[
        bool, typer.Option("--correct", help="The candidate's decision is acceptable.")
    ] = False,
    incorrect: Annotated[
        bool, typer.Option("--incorrect", help="The candidate decided wrongly.")
    ] = False,
    note: Annotated[str, typer.Option("--note", help="Why.")] = "",
) -> None:
    """Record a verdict (--correct or --incorrect) on one divergence of a comparison."""
    if correct == incorrect:
        fail("give exactly one of --correct and --incorrect")
    judged = ReviewVerdict.CORRECT if correct else ReviewVerdict.INCORRECT
    with opened(store) as handle:
        saved = record_divergence_verdict(
            handle, comparison_id, envelope_id, verdict=judged.value, reviewer=reviewer, note=note
        )
    typer.echo(f"{saved.envelope_id} of {comparison_id} judged {judged.value} by {saved.reviewer}")
