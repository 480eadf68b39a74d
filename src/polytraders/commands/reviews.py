"""``polytraders review``: reviews of sampled decisions (sample, verdict, show).

``sample`` draws a seeded random sample of a bot's reviewable decisions (a risk bot's REJECT
and RESHAPE, an execution bot's REFUSE, a strategy's PROPOSE) from the store's live-clock runs
(``--include-backtests``: every run); the same seed over the same store draws the same sample.
``verdict`` records a reviewer's judgement of one sampled decision (a later verdict of the same
reviewer supersedes theirs). ``show`` prints the sample with the false-positive rate and its
one-sided 95 % Clopper–Pearson upper bound. Rules: :mod:`polytraders.store.reviews`.

Exit codes: 0 done; 2 a bad option, an unknown bot or sample, an envelope not in the sample,
or a store problem (one line on stderr).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from polytraders.commands.evidence_cli import (
    DEFAULT_STORE,
    JsonOption,
    StoreOption,
    fail,
    known_bot,
    opened,
    print_json,
)
from polytraders.store.lease import utc_text
from polytraders.store.reviews import (
    MAX_SAMPLE,
    ReviewSample,
    ReviewSummary,
    ReviewVerdict,
    draw_sample,
    load_sample,
    record_verdict,
    summarize,
)

app = typer.Typer(
    name="review",
    help="Reviews of sampled decisions: draw a seeded sample, record verdicts, show the "
    "false-positive rate with its 95 % upper bound.",
    no_args_is_help=True,
)


def _pick_rows(sample: ReviewSample, summary: ReviewSummary | None) -> list[dict[str, Any]]:
    rows = []
    for p in sample.picks:
        current = summary.verdicts.get(p.key, {}) if summary is not None else {}
        rows.append(
            {
                "run_id": p.run_id,
                "attempt": p.attempt,
                "envelope_id": p.envelope_id,
                "decision": p.decision,
                "reason_codes": list(p.reason_codes),
                "verdicts": {
                    who: {"verdict": v.verdict.value, "note": v.note, "ts_ns": v.ts_ns}
                    for who, v in sorted(current.items())
                },
            }
        )
    return rows


@app.command("sample")
def sample(
    bot: Annotated[str, typer.Argument(help="The bot whose decisions are reviewed.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draw (0 ≤ seed < 2**63).")],
    operator: Annotated[str, typer.Option("--operator", help="Who draws it (audited).")],
    store: StoreOption = DEFAULT_STORE,
    n: Annotated[
        int, typer.Option("--n", help=f"How many decisions to draw (1..{MAX_SAMPLE}).")
    ] = 100,
    include_backtests: Annotated[
        bool,
        typer.Option(
            "--include-backtests", help="Draw from every recorded run, not only live-clock ones."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Draw a seeded random sample of BOT's reviewable decisions; prints the sample id and
    the drawn envelopes (run@attempt, envelope id, decision, codes)."""
    known_bot(bot, "BOT")
    with opened(store) as handle:
        drawn = draw_sample(
            handle, bot, n=n, seed=seed, operator=operator, live_only=not include_backtests
        )
    if as_json:
        print_json(
            {
                "sample_id": drawn.sample_id,
                "bot_id": drawn.bot_id,
                "seed": drawn.seed,
                "created": drawn.created,
                "picks": _pick_rows(drawn, None),
            }
        )
        return
    note = "" if drawn.created else " (already on record: the same draw)"
    typer.echo(f"{drawn.sample_id}: {len(drawn.picks)} decision(s) of {bot}, seed {seed}{note}")
    for p in drawn.picks:
        typer.echo(
            f"  {p.run_id}@{p.attempt}  {p.envelope_id}  {p.decision}  {','.join(p.reason_codes)}"
        )


@app.command("verdict")
def verdict(
    sample_id: Annotated[str, typer.Argument(help="The sample (rs-…).")],
    envelope_id: Annotated[str, typer.Argument(help="The sampled envelope's id.")],
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who judged it (audited).")],
    store: StoreOption = DEFAULT_STORE,
    correct: Annotated[bool, typer.Option("--correct", help="The decision was right.")] = False,
    incorrect: Annotated[
        bool, typer.Option("--incorrect", help="The decision was wrong (a false positive).")
    ] = False,
    note: Annotated[str, typer.Option("--note", help="Why.")] = "",
    attempt: Annotated[
        int | None,
        typer.Option(
            "--attempt", help="The envelope's run attempt, when the sample holds two of them."
        ),
    ] = None,
) -> None:
    """Record a verdict (--correct or --incorrect) on one decision of a sample."""
    if correct == incorrect:
        fail("give exactly one of --correct and --incorrect")
    judged = ReviewVerdict.CORRECT if correct else ReviewVerdict.INCORRECT
    with opened(store) as handle:
        record = record_verdict(
            handle,
            sample_id,
            envelope_id,
            verdict=judged.value,
            reviewer=reviewer,
            note=note,
            attempt=attempt,
        )
        summary = summarize(handle, sample_id)
    typer.echo(
        f"{record.envelope_id} ({record.run_id}@{record.attempt}) judged {judged.value} by "
        f"{reviewer}; {_rate_text(summary)}"
    )


def _rate_text(summary: ReviewSummary) -> str:
    if summary.fp_rate is None or summary.fp_upper_95 is None:
        return f"0 of {summary.drawn} reviewed"
    return (
        f"{summary.reviewed} of {summary.drawn} reviewed, {summary.incorrect} incorrect: "
        f"false-positive rate {summary.fp_rate:.1%} (95 % upper bound {summary.fp_upper_95:.1%})"
    )


@app.command("show")
def show(
    sample_id: Annotated[str, typer.Argument(help="The sample (rs-…).")],
    store: StoreOption = DEFAULT_STORE,
    as_json: JsonOption = False,
) -> None:
    """A sample's decisions with their current verdicts, and the false-positive rate with its
    one-sided 95 % Clopper–Pearson upper bound."""
    with opened(store) as handle:
        drawn = load_sample(handle, sample_id)
        if drawn is None:
            fail(f"no review sample {sample_id!r} in the store")
        summary = summarize(handle, sample_id)
    if as_json:
        print_json(
            {
                "sample_id": sample_id,
                "bot_id": drawn.bot_id,
                "seed": drawn.seed,
                "drawn_ns": drawn.drawn_ns,
                "drawn_by": drawn.drawn_by,
                "drawn": summary.drawn,
                "reviewed": summary.reviewed,
                "incorrect": summary.incorrect,
                "fp_rate": summary.fp_rate,
                "fp_upper_95": summary.fp_upper_95,
                "picks": _pick_rows(drawn, summary),
            }
        )
        return
    typer.echo(
        f"{sample_id}: {drawn.bot_id}, seed {drawn.seed}, drawn {utc_text(drawn.drawn_ns)} "
        f"by {drawn.drawn_by}"
    )
    for row in _pick_rows(drawn, summary):
        judged = ", ".join(f"{who}: {v['verdict']}" for who, v in row["verdicts"].items())
        typer.echo(
            f"  {row['run_id']}@{row['attempt']}  {row['envelope_id']}  {row['decision']}  "
            f"{','.join(row['reason_codes'])}  [{judged or 'not reviewed'}]"
        )
    typer.echo(_rate_text(summary))
