"""``polytraders readiness``, ``polytraders gates`` and ``polytraders promote``: judge a bot
from evidence (the four scores, the gates) and move it along its lifecycle.

- ``readiness [BOT_ID] [--json|--markdown] [--record]``: the status board (Docs x/27, Impl
  x/15, Runtime x/8, Backtest x/4, "done" only when all four are full), with each bot's
  recorded lifecycle state and the seed-000 stage its gates reach; with a bot id, every item
  with its status, detail and evidence. ``--record`` keeps each bot's scores in the store
  (``GOV_READINESS_RECORDED``, :mod:`polytraders.readiness.board_record`) for the console.
- ``readiness record-ci``: record a CI run's outcome for the checked-out commit (called by
  ``.ci/run`` after the tests; best effort there).
- ``gates check BOT_ID --to STATE|STAGE [--ci]``: evaluate the gates, print each with phase,
  value, threshold, window and evidence, record the evaluation; PASS only when every critical
  gate is Successful.
- ``gates history BOT_ID``: the bot's state and promotion history from the store.
- ``promote BOT_ID --to STATE``: record the transition(s) only when the gates pass.

Exit codes: 0 done (``gates check`` without ``--ci`` exits 0 whatever the verdict); 1 a failed
check with ``--ci``, a refused promotion, or a failed ``record-ci``; 2 bad input (one line).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from polytraders.bots.registry import BOTS, bot_class
from polytraders.commands.desk_option import load_desk
from polytraders.commands.operator import operator_name
from polytraders.commands.run import DEFAULT_STORE
from polytraders.readiness.board_record import board_of, record_board
from polytraders.readiness.context import (
    ReadinessContext,
    RepositoryNotFoundError,
    find_repository,
    git_commit,
)
from polytraders.readiness.evaluate import Evaluation, evaluate, record_evaluation
from polytraders.readiness.evidence import Evidence, Phase, Score, ScoreName
from polytraders.readiness.exchange_packs import optional_simulators
from polytraders.readiness.gates import GATES, gates_up_to, transition_gates
from polytraders.readiness.lifecycle import (
    STAGES,
    Stage,
    State,
    TargetError,
    parse_target,
    previous_state,
)
from polytraders.readiness.promote import current_state, promote
from polytraders.readiness.scores import all_scores
from polytraders.readiness.signature_gates import gate_waivers
from polytraders.store import EventStore, StoreError
from polytraders.store.ci_runs import JunitError, record_ci_run
from polytraders.store.promotions import promotions

console = Console(width=None if sys.stdout.isatty() else 200)
"""Piped output keeps whole rows (rich would wrap at 80 columns)."""

StoreOption = Annotated[
    str,
    typer.Option("--store", help="Event store: SQLite path/URL or postgresql+psycopg://…"),
]
RepoOption = Annotated[
    Path | None,
    typer.Option("--repo", help="Repository to judge (default: the one holding the cwd)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AsMarkdown = Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")]
OperatorOption = Annotated[
    str, typer.Option("--operator", help="Who acts (recorded; default: the login name).")
]
DeskOption = Annotated[
    Path | None,
    typer.Option(
        "--desk",
        help="The desk file whose bots' code and config signed statements are bound to "
        "(default: the default desk).",
    ),
]
GovDirOption = Annotated[
    Path,
    typer.Option(
        "--gov-dir", help="Governance directory: signer list, manifests, evidence bundles."
    ),
]
DEFAULT_GOV_DIR = Path("governance")


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


class _BoardGroup(TyperGroup):
    """``readiness [BOT_ID]`` and ``readiness record-ci``: a first argument that is not a
    sub-command is the bot id of the board."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's vendored Context
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            ctx.meta["readiness_bot_id"] = args[0]
            args = args[1:]
        return super().parse_args(ctx, args)


app = typer.Typer(
    name="readiness",
    cls=_BoardGroup,
    invoke_without_command=True,
    help="The four readiness scores of every bot (or one), computed from evidence.",
)
gates_app = typer.Typer(
    name="gates", help="Evaluate a bot's promotion gates from evidence.", no_args_is_help=True
)


def _context(
    store: EventStore | None,
    repo: Path | None,
    *,
    desk: Path | None = None,
    gov_dir: Path | None = None,
) -> ReadinessContext:
    """The evaluation's context; ``desk`` (None: the default desk) and ``gov_dir`` bind the
    signature gates to the bots' code and config (given together, or neither)."""
    try:
        root = find_repository(repo if repo is not None else Path.cwd())
    except RepositoryNotFoundError as exc:
        _fail(str(exc))
    desk_file = load_desk(desk) if gov_dir is not None else None
    return ReadinessContext(
        repo=root,
        store=store,
        now_ns=_now_ns(),
        commit=git_commit(root),
        desk=desk_file,
        gov_dir=gov_dir,
    )


def _open_store(url: str) -> EventStore:
    try:
        return EventStore.open(url)
    except StoreError as exc:
        _fail(f"--store: {exc}")


def _check_bot(bot_id: str) -> None:
    if bot_id not in BOTS:
        _fail(f"unknown bot {bot_id!r}; known bots: {', '.join(sorted(BOTS))}")


# ---------------------------------------------------------------------------- the board


def _stage_reached(bot_id: str, ctx: ReadinessContext) -> tuple[str, int, int]:
    """The highest seed-000 stage whose critical gates (and every earlier stage's) are
    Successful (warnings never hold a stage back), and how many of the 19 stage gates are
    Successful."""
    cls = bot_class(bot_id).bot_class
    gates = gates_up_to(STAGES[-1], cls)
    evaluation = evaluate(bot_id, gates, ctx, from_state="", target=STAGES[-1].value)
    blocking = {r.gate.gate_id for r in evaluation.results if r.blocks}
    reached = "none"
    for stage in STAGES:
        if any(g.gate_id in blocking for g in gates_up_to(stage, cls)):
            break
        reached = stage.value
    passed = sum(1 for r in evaluation.results if r.measurement.phase is Phase.SUCCESSFUL)
    return reached, passed, len(gates)


def _board_rows(bot_ids: list[str], ctx: ReadinessContext) -> list[dict[str, Any]]:
    rows = []
    for bot_id in bot_ids:
        scores = all_scores(bot_id, ctx)
        stage, gates_passed, gates_total = _stage_reached(bot_id, ctx)
        state = current_state(ctx.store, bot_id) if ctx.store is not None else State.IDEA_ONLY
        rows.append(
            {
                "bot_id": bot_id,
                "bot_class": bot_class(bot_id).bot_class.value,
                "state": state.value,
                "stage": stage,
                "stage_gates_passed": gates_passed,
                "stage_gates": gates_total,
                **{
                    name.value: {"passed": s.passed, "out_of": s.out_of}
                    for name, s in scores.items()
                },
                "done": all(s.complete for s in scores.values()),
                "scores": scores,
            }
        )
    return rows


def _score_json(score: Score) -> dict[str, Any]:
    return {
        "passed": score.passed,
        "out_of": score.out_of,
        "items": [
            {
                "number": i.number,
                "title": i.title,
                "status": i.status.value,
                "detail": i.detail,
                "evidence": [
                    {"kind": e.kind.value, "ref": e.ref, "digest": e.digest, "result": e.result}
                    for e in i.evidence
                ],
            }
            for i in score.items
        ],
    }


def _fraction(row: dict[str, Any], name: ScoreName) -> str:
    return f"{row[name.value]['passed']}/{row[name.value]['out_of']}"


@app.callback()
def readiness(
    ctx: typer.Context,
    store: StoreOption = DEFAULT_STORE,
    repo: RepoOption = None,
    as_json: AsJson = False,
    as_markdown: AsMarkdown = False,
    record: Annotated[
        bool,
        typer.Option("--record", help="Keep each bot's scores in the store (the console's board)."),
    ] = False,
    operator: OperatorOption = "",
) -> None:
    """The status board: every bot's Docs x/27, Impl x/15, Runtime x/8 and Backtest x/4 from
    evidence ("done" only when all four are full), its recorded lifecycle state and the stage
    its gates reach. `polytraders readiness BOT_ID` adds every item with its evidence;
    --record keeps the scores in the store for the operator console."""
    if ctx.invoked_subcommand is not None:
        return
    bot_id = ctx.meta.get("readiness_bot_id")
    if bot_id is not None:
        _check_bot(bot_id)
    if as_json and as_markdown:
        _fail("--json and --markdown exclude each other")
    event_store = _open_store(store)
    try:
        context = _context(event_store, repo)
        with optional_simulators(context):
            rows = _board_rows([bot_id] if bot_id else list(BOTS), context)
        if record:
            for row in rows:
                board = board_of(
                    row["bot_id"], row["scores"], commit=context.commit, computed_ns=context.now_ns
                )
                record_board(
                    event_store, board, actor=operator_name(operator), ts_ns=context.now_ns
                )
    except StoreError as exc:
        _fail(str(exc), 1)
    finally:
        event_store.close()
    if as_json:
        out = [
            {k: v for k, v in row.items() if k != "scores"}
            | {"scores": {n.value: _score_json(s) for n, s in row["scores"].items()}}
            for row in rows
        ]
        sys.stdout.write(json.dumps(out if bot_id is None else out[0], indent=2) + "\n")
        return
    headers = [
        "bot",
        "class",
        "state",
        "stage (gates)",
        "Docs",
        "Impl",
        "Runtime",
        "Backtest",
        "done",
    ]
    table_rows = [
        [
            row["bot_id"],
            row["bot_class"],
            row["state"],
            f"{row['stage']} ({row['stage_gates_passed']}/{row['stage_gates']})",
            _fraction(row, ScoreName.DOCS),
            _fraction(row, ScoreName.IMPL),
            _fraction(row, ScoreName.RUNTIME),
            _fraction(row, ScoreName.BACKTEST),
            "done" if row["done"] else "not done",
        ]
        for row in rows
    ]
    if as_markdown:
        _print_markdown(headers, table_rows)
        if bot_id is not None:
            for name, score in rows[0]["scores"].items():
                sys.stdout.write(
                    f"\n### {name.value.capitalize()} {score.passed}/{score.out_of}\n\n"
                )
                _print_markdown(
                    ["#", "item", "status", "detail", "evidence"],
                    [
                        [
                            str(i.number),
                            i.title,
                            i.status.value,
                            i.detail,
                            _evidence_text(i.evidence, "; "),
                        ]
                        for i in score.items
                    ],
                )
        return
    table = Table(title="Readiness (computed from evidence)")
    for header in headers:
        table.add_column(header, overflow="fold")
    for values in table_rows:
        table.add_row(*values)
    console.print(table)
    if bot_id is not None:
        for name, score in rows[0]["scores"].items():
            items = Table(title=f"{bot_id} {name.value.capitalize()} {score.passed}/{score.out_of}")
            for header in ("#", "item", "status", "detail", "evidence"):
                items.add_column(header, overflow="fold")
            for i in score.items:
                style = {"PASS": "green", "FAIL": "red", "PENDING": "yellow"}[i.status.value]
                items.add_row(
                    str(i.number),
                    i.title,
                    f"[{style}]{i.status.value}[/{style}]",
                    i.detail,
                    _evidence_text(i.evidence, "\n"),
                )
            console.print(items)


def _evidence_text(evidence: tuple[Evidence, ...], separator: str) -> str:
    return separator.join(f"{e.kind.value} {e.ref} {e.digest[:12]}" for e in evidence)


def _print_markdown(headers: list[str], rows: list[list[str]]) -> None:
    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|")

    sys.stdout.write("| " + " | ".join(headers) + " |\n")
    sys.stdout.write("|" + "---|" * len(headers) + "\n")
    for row in rows:
        sys.stdout.write("| " + " | ".join(cell(v) for v in row) + " |\n")


# ---------------------------------------------------------------------------- record-ci


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False, timeout=30
    )
    return out.stdout.strip() if out.returncode == 0 else ""


@app.command("record-ci")
def record_ci(
    exit_code: Annotated[
        int, typer.Option("--exit-code", help="The test command's exit status (0 = passed).")
    ],
    duration_ms: Annotated[
        int, typer.Option("--duration-ms", min=0, help="The test command's wall time (ms).")
    ] = 0,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", help="pytest's JUnit XML report (absent: no test ran)."),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    repo: RepoOption = None,
) -> None:
    """Record a CI run's outcome for the checked-out commit (Impl item 15, the 7-day gate)."""
    root = repo if repo is not None else Path.cwd()
    commit = git_commit(root)
    if not commit:
        _fail(f"{root} is not a git checkout: no commit to record", 1)
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD") or "HEAD"
    data = None
    if junit is not None:
        try:
            data = junit.read_bytes()
        except OSError as exc:
            _fail(f"--junit: {exc}", 1)
    event_store = _open_store(store)
    try:
        run = record_ci_run(
            event_store,
            commit_sha=commit,
            branch=branch,
            exit_code=exit_code,
            junit=data,
            duration_ms=duration_ms,
            host=socket.gethostname(),
        )
        event_store.audit(
            actor="ci",
            action="GOV_CI_RECORDED",
            ts_ns=time.time_ns(),
            detail={"commit_sha": commit, "branch": branch, "outcome": run.outcome.value},
        )
    except (StoreError, JunitError) as exc:
        _fail(str(exc), 1)
    finally:
        event_store.close()
    typer.echo(
        f"ci: {commit[:12]} on {branch}: {run.outcome.value} ({run.tests_passed} passed, "
        f"{run.tests_failed} failed, {run.tests_errors} errors, {run.tests_skipped} skipped) "
        f"recorded in {store}"
    )


# ---------------------------------------------------------------------------- gates


def _gates_for(bot_id: str, target: State | Stage) -> tuple[str, list[Any]]:
    cls = bot_class(bot_id).bot_class
    if isinstance(target, Stage):
        return "", gates_up_to(target, cls)
    before = previous_state(target)
    if before is None:
        _fail(f"{target.value} is not entered by a gated transition; use promote")
    return before.value, transition_gates(before, target, cls)


def _evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "evaluation_id": evaluation.evaluation_id,
        "bot_id": evaluation.bot_id,
        "from_state": evaluation.from_state,
        "target": evaluation.target,
        "commit": evaluation.commit,
        "ts_ns": evaluation.ts_ns,
        "verdict": "PASS" if evaluation.passed else "FAIL",
        "digest": evaluation.digest,
        "gates": [
            {
                "gate_id": r.gate.gate_id,
                "title": r.gate.title,
                "severity": r.gate.severity.value,
                "phase": r.measurement.phase.value,
                "value": r.measurement.value,
                "threshold": r.gate.threshold,
                "window": r.gate.window,
                "detail": r.measurement.detail,
                "blocks": r.blocks,
                "evidence_digest": r.evidence_digest,
                "evidence": [
                    {"kind": e.kind.value, "ref": e.ref, "digest": e.digest, "result": e.result}
                    for e in r.measurement.evidence
                ],
            }
            for r in evaluation.results
        ],
    }


def _print_evaluation(evaluation: Evaluation, *, as_markdown: bool) -> None:
    verdict = "PASS" if evaluation.passed else "FAIL"
    title = (
        f"{evaluation.bot_id} → {evaluation.target}: {verdict} "
        f"(evaluation {evaluation.evaluation_id}, digest {evaluation.digest[:16]})"
    )
    headers = ["gate", "severity", "phase", "value", "threshold", "window", "detail", "evidence"]
    rows = [
        [
            r.gate.gate_id,
            r.gate.severity.value,
            r.measurement.phase.value,
            r.measurement.value,
            r.gate.threshold,
            r.gate.window or "-",
            r.measurement.detail,
            "; ".join(dict.fromkeys(f"{e.kind.value} {e.ref}" for e in r.measurement.evidence))
            or "-",
        ]
        for r in evaluation.results
    ]
    if as_markdown:
        sys.stdout.write(f"**{title}**\n\n")
        _print_markdown(headers, rows)
        return
    table = Table(title=title)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row, r in zip(rows, evaluation.results, strict=True):
        style = (
            "green"
            if r.measurement.phase is Phase.SUCCESSFUL
            else ("yellow" if not r.blocks else "red")
        )
        row[2] = f"[{style}]{row[2]}[/{style}]"
        table.add_row(*row)
    console.print(table)
    typer.echo(f"verdict: {verdict}")


@gates_app.command("check")
def gates_check(
    bot_id: Annotated[str, typer.Argument(help="The bot, e.g. risk.killswitch.")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="A lifecycle state (shadow, limited_live, …) or a stage "
            "(demo-wired, shadow-ready, runtime-live, production-live).",
        ),
    ],
    ci: Annotated[bool, typer.Option("--ci", help="Exit 1 when the check fails.")] = False,
    as_json: AsJson = False,
    as_markdown: AsMarkdown = False,
    store: StoreOption = DEFAULT_STORE,
    repo: RepoOption = None,
    operator: OperatorOption = "",
    desk: DeskOption = None,
    gov_dir: GovDirOption = DEFAULT_GOV_DIR,
) -> None:
    """Evaluate every gate guarding the way to a state or stage from evidence and record the
    evaluation. PASS only when every critical gate is Successful (missing data is
    Inconclusive, never a pass); warnings are reported."""
    _check_bot(bot_id)
    try:
        target = parse_target(to)
    except TargetError as exc:
        _fail(f"--to: {exc}")
    if as_json and as_markdown:
        _fail("--json and --markdown exclude each other")
    from_state, gates = _gates_for(bot_id, target)
    event_store = _open_store(store)
    try:
        context = _context(event_store, repo, desk=desk, gov_dir=gov_dir)
        with optional_simulators(context):
            evaluation = evaluate(
                bot_id,
                gates,
                context,
                from_state=from_state,
                target=target.value,
                waivers=gate_waivers(bot_id, target, context)
                if isinstance(target, State)
                else None,
            )
        record_evaluation(event_store, evaluation, actor=operator_name(operator))
    except StoreError as exc:
        _fail(str(exc), 1)
    finally:
        event_store.close()
    if as_json:
        sys.stdout.write(json.dumps(_evaluation_json(evaluation), indent=2) + "\n")
    else:
        _print_evaluation(evaluation, as_markdown=as_markdown)
    if ci and not evaluation.passed:
        raise typer.Exit(1)


@gates_app.command("list")
def gates_list(as_json: AsJson = False) -> None:
    """Every gate as data: id, what it guards, how measured, threshold, window, severity."""
    rows: list[dict[str, Any]] = [
        {
            "gate_id": g.gate_id,
            "title": g.title,
            "transitions": [f"{a.value}->{b.value}" for a, b in g.transitions],
            "stage": g.stage.value if g.stage else "",
            "how_measured": g.how_measured,
            "threshold": g.threshold,
            "window": g.window,
            "severity": g.severity.value,
            "bot_classes": sorted(c.value for c in g.bot_classes),
            "source": g.source,
        }
        for g in GATES
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title=f"Promotion gates ({len(rows)})")
    for header in ("gate", "guards", "threshold", "window", "severity", "source"):
        table.add_column(header, overflow="fold")
    for row in rows:
        guards = ", ".join([*row["transitions"], *([row["stage"]] if row["stage"] else [])])
        table.add_row(
            row["gate_id"],
            guards,
            row["threshold"],
            row["window"] or "-",
            row["severity"],
            row["source"],
        )
    console.print(table)


@gates_app.command("history")
def gates_history(
    bot_id: Annotated[str, typer.Argument(help="The bot.")],
    as_json: AsJson = False,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """The bot's recorded lifecycle state and every promotion attempt."""
    _check_bot(bot_id)
    event_store = _open_store(store)
    try:
        state = current_state(event_store, bot_id)
        rows = promotions(event_store, bot_id=bot_id)
    finally:
        event_store.close()
    if as_json:
        out = {
            "bot_id": bot_id,
            "state": state.value,
            "history": [
                {
                    "from_state": r.from_state,
                    "to_state": r.to_state,
                    "outcome": r.outcome.value,
                    "reason_code": r.reason_code,
                    "evaluation_id": r.evaluation_id,
                    "evidence_digest": r.evidence_digest,
                    "actor": r.actor,
                    "detail": r.detail,
                    "ts_ns": r.ts_ns,
                }
                for r in rows
            ],
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    typer.echo(f"{bot_id}: {state.label}")
    for r in rows:
        typer.echo(
            f"  {r.ts_ns}  {r.from_state} → {r.to_state}  {r.outcome.value}  {r.reason_code}  "
            f"{r.evaluation_id}  {r.evidence_digest[:16]}  by {r.actor}: {r.detail}"
        )


def promote_command(
    bot_id: Annotated[str, typer.Argument(help="The bot, e.g. risk.killswitch.")],
    to: Annotated[str, typer.Option("--to", help="The lifecycle state wanted (e.g. shadow).")],
    operator: OperatorOption = "",
    as_json: AsJson = False,
    store: StoreOption = DEFAULT_STORE,
    repo: RepoOption = None,
    desk: DeskOption = None,
    gov_dir: GovDirOption = DEFAULT_GOV_DIR,
) -> None:
    """Promote a bot one lifecycle transition at a time up to --to, each recorded only when
    every critical gate of it is Successful (or waived by a valid signed waiver); stops at
    the first refusal (exit 1)."""
    _check_bot(bot_id)
    try:
        target = parse_target(to)
    except TargetError as exc:
        _fail(f"--to: {exc}")
    if isinstance(target, Stage):
        _fail(f"--to: {target.value} is a stage (a view of the gates); promote to a state")
    event_store = _open_store(store)
    try:
        context = _context(event_store, repo, desk=desk, gov_dir=gov_dir)
        with optional_simulators(context):
            steps = promote(bot_id, target, context, actor=operator_name(operator))
        state = current_state(event_store, bot_id)
    except TargetError as exc:
        _fail(str(exc))
    except StoreError as exc:
        _fail(str(exc), 1)
    finally:
        event_store.close()
    if as_json:
        out = {
            "bot_id": bot_id,
            "state": state.value,
            "steps": [
                {
                    "from_state": s.from_state.value,
                    "to_state": s.to_state.value,
                    "outcome": s.row.outcome.value,
                    "reason_code": s.row.reason_code,
                    "detail": s.row.detail,
                    **_evaluation_json(s.evaluation),
                }
                for s in steps
            ],
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        if not steps:
            typer.echo(f"{bot_id} is already {state.label}")
        for s in steps:
            _print_evaluation(s.evaluation, as_markdown=False)
            typer.echo(
                f"{s.row.reason_code}: {s.from_state.value} → {s.to_state.value}: {s.row.detail}"
            )
        typer.echo(f"{bot_id}: {state.label}")
    if steps and not steps[-1].promoted:
        raise typer.Exit(1)


def _now_ns() -> int:
    """The evaluation's clock: the wall clock (one place, so a test can control it)."""
    return time.time_ns()
