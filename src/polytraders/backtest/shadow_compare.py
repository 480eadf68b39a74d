"""Shadow comparison: a candidate desk's risk chain decides beside a baseline desk on the same
event stream, their decisions are compared intent by intent, per bot, and both desks'
execution is compared side by side.

:func:`compare_desks` runs, with the backtest engine (:func:`polytraders.backtest.engine.run_desk`,
no second event loop), in this process, over the same data with the same seed on the simulated
clock:

1. **Decisions**: the baseline desk with the candidate desk's risk chain as its shadow
   (:class:`~polytraders.desk.shadow_chain.ShadowChain`): every intent the baseline's
   strategies propose goes through the candidate's chain first, then the baseline's own, on
   the same view and clock; the candidate's decisions are recorded, never applied (the
   control/candidate pattern of GitHub Scientist, the desk's SHADOW mode). A
   :class:`~polytraders.backtest.shadow_decisions.DecisionTap` on each chain keeps the
   decisions and :func:`~polytraders.backtest.shadow_decisions.compare_decisions` pairs them by
   intent id (the envelopes' ``correlation_id``).
2. **Execution parity** (unless ``parity=False``): the candidate desk on its own over the same
   data (the feed is read afresh and yields the same events at the same times: feeds are
   deterministic), then :func:`~polytraders.backtest.shadow_parity.execution_parity` compares
   orders, fills, PnL and exposure of the two runs over time.

Why the decisions are not paired between the two independent runs of step 2: once one desk
approves an order the other rejects, their strategies see different open orders and positions
and propose different intents from then on (on the shipped sample, a stale-book threshold
changed from 15 s to 30 s leaves 22 of 4,108 intents comparable that way). Shadowing pairs
every intent, which is what seed 001's "side-by-side replay … identical decision" measures.

**Desks with different strategies.** Decisions are compared on the baseline's intents: the
candidate's risk chain judges what the baseline's strategies propose, whatever the candidate's
own strategies are (they only shape step 2, and a note says the strategies differ). Within the
pairing, a decision made on one side only (the other chain stopped the intent before that bot)
is one-sided (``not_reached``): reported apart, never counted as agreement or disagreement.
Risk bots of one desk only are listed by name, not compared.

**Outputs** (:func:`write_outputs`): ``comparison.json`` (every figure, the parity series) and
``divergences.jsonl`` (one JSON object per divergence with both envelopes' exact JSON lines,
then one per one-sided item with its one envelope).

The comparison id is ``sc-`` + 16 hex digits of SHA-256 over the canonical JSON
(:func:`~polytraders.contracts.canonical.canonical_sha256`) of the baseline run id (which derives
from the baseline's config version, the data's digest and the seed), the candidate desk's
config version and the size step: the same comparison has the same id wherever it runs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import RunOutcome, run_desk
from polytraders.backtest.result import utc_iso
from polytraders.backtest.shadow_decisions import (
    POLYMARKET_SIZE_STEP_MICROS,
    BotAgreement,
    DecisionRecord,
    DecisionTap,
    Divergence,
    OneSided,
    compare_decisions,
)
from polytraders.backtest.shadow_parity import (
    DEFAULT_BUCKET_S,
    ExecutionParity,
    execution_parity,
)
from polytraders.contracts.canonical import canonical_json, canonical_sha256
from polytraders.feeds.digest import data_digest
from polytraders.model.agreement import LABELS, decimal_text, percent_text
from polytraders.model.money import from_micros
from polytraders.model.quote import PUSD
from polytraders.store.event_store import EventStore
from polytraders.store.records import RunStatus
from polytraders.store.shadow_comparisons import (
    ShadowComparisonRow,
    StoredDivergence,
    record_comparison,
)

COMPARISON_FILE = "comparison.json"
DIVERGENCES_FILE = "divergences.jsonl"


class ShadowCompareError(RuntimeError):
    """A desk's run did not complete (FAILED or INTERRUPTED): its decisions are partial, so
    nothing is compared. The message names the run, the desk and why."""


class SideRun(msgspec.Struct, frozen=True, kw_only=True):
    """One run: ``run_id``, ``config_version`` (of the desk whose decisions it holds),
    ``status`` (COMPLETED or HALTED) and its detail, ``events``, ``envelopes`` and
    ``envelopes_sha256``, ``wall_s``. For the shadow chain: its run id, the candidate's config
    version, the baseline run's status and events, its own envelopes."""

    run_id: str
    config_version: str
    status: str
    status_detail: str
    events: int
    envelopes: int
    envelopes_sha256: str
    wall_s: float


class ShadowComparison(msgspec.Struct, frozen=True, kw_only=True):
    """A whole comparison.

    Fields:
        comparison_id: ``sc-…`` (module docstring).
        data_source: the data as given; ``data_digest`` its bytes' digest.
        seed: the seed both desks ran with.
        size_step_micros: the size step reshaped intents are rounded to.
        baseline: the baseline desk's run (with the shadow attached).
        shadow: the candidate's chain beside it (its decisions).
        candidate: the candidate desk's own run (None without parity).
        window_start_ns, window_end_ns: event time covered (first and last event).
        bots: per bot present in both chains, its agreement (baseline chain order).
        baseline_only_bots, candidate_only_bots: risk bots that decided in one chain only.
        parity: orders, fills, PnL and exposure over time (None without parity).
        notes: what the comparison changed or noticed (e.g. a desk file's own seed overridden).
        wall_s: wall time of the whole comparison.
        currency: the quote currency of the parity's money (the baseline run's,
            ``BacktestResult.currency``: ``pUSD`` or e.g. ``USDT``).
    """

    comparison_id: str
    data_source: str
    data_digest: str
    seed: int
    size_step_micros: int
    baseline: SideRun
    shadow: SideRun
    candidate: SideRun | None
    window_start_ns: int
    window_end_ns: int
    bots: tuple[BotAgreement, ...]
    baseline_only_bots: tuple[str, ...]
    candidate_only_bots: tuple[str, ...]
    parity: ExecutionParity | None
    notes: tuple[str, ...]
    wall_s: float
    currency: str = PUSD

    def bot(self, bot_id: str) -> BotAgreement:
        """The agreement of one bot.

        Raises:
            KeyError: the bot was not compared.
        """
        for agreement in self.bots:
            if agreement.bot_id == bot_id:
                return agreement
        raise KeyError(bot_id)

    def as_json(self) -> dict[str, Any]:
        """The ``comparison.json`` document (money as exact decimal strings, proportions as
        decimal strings, the lower bound as a float)."""
        return {
            "comparison_id": self.comparison_id,
            "data_source": self.data_source,
            "data_digest": self.data_digest,
            "seed": self.seed,
            "size_step_micros": self.size_step_micros,
            "window_start_ns": self.window_start_ns,
            "window_start_utc": utc_iso(self.window_start_ns),
            "window_end_ns": self.window_end_ns,
            "window_end_utc": utc_iso(self.window_end_ns),
            "baseline": msgspec.to_builtins(self.baseline),
            "shadow": msgspec.to_builtins(self.shadow),
            "candidate": msgspec.to_builtins(self.candidate),
            "bots": [bot_json(b) for b in self.bots],
            "baseline_only_bots": list(self.baseline_only_bots),
            "candidate_only_bots": list(self.candidate_only_bots),
            "currency": self.currency,
            "parity": parity_json(self.parity) if self.parity is not None else None,
            "notes": list(self.notes),
            "wall_s": round(self.wall_s, 3),
        }

    def divergence_lines(self) -> Iterator[bytes]:
        """The ``divergences.jsonl`` lines: every divergence (bots in order), then every
        one-sided item."""
        for agreement in self.bots:
            for divergence in agreement.divergences:
                yield _line(divergence_json(self.comparison_id, divergence))
        for agreement in self.bots:
            for item in agreement.one_sided_items:
                yield _line(one_sided_json(self.comparison_id, item))


def _line(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _decision_json(record: DecisionRecord) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "envelope_id": record.envelope_id,
        "decision": record.decision,
        "verdict": record.label,
        "reason_codes": list(record.reason_codes),
        "mode": record.mode,
        "envelope": record.line,
    }


def divergence_json(comparison_id: str, divergence: Divergence) -> dict[str, Any]:
    """One divergence as a ``divergences.jsonl`` object: ids, kind, unsafe flag, and both
    decisions with their envelopes' exact JSON lines (``envelope``)."""
    return {
        "type": "divergence",
        "comparison_id": comparison_id,
        "bot_id": divergence.bot_id,
        "correlation_id": divergence.correlation_id,
        "ts_event_ns": divergence.ts_event_ns,
        "time_utc": utc_iso(divergence.ts_event_ns),
        "kind": divergence.kind,
        "unsafe": divergence.unsafe,
        "baseline": _decision_json(divergence.baseline),
        "candidate": _decision_json(divergence.candidate),
    }


def one_sided_json(comparison_id: str, item: OneSided) -> dict[str, Any]:
    """One one-sided item: the side that decided, why the other did not, that envelope."""
    return {
        "type": "one_sided",
        "comparison_id": comparison_id,
        "bot_id": item.bot_id,
        "correlation_id": item.correlation_id,
        "ts_event_ns": item.decision.ts_event_ns,
        "side": item.side,
        "reason": item.reason,
        item.side: _decision_json(item.decision),
    }


def bot_json(agreement: BotAgreement) -> dict[str, Any]:
    """One bot's figures: confusion table, the three agreements, κ, the lower bound, unsafe
    divergences, one-sided counts."""
    confusion = agreement.confusion
    lower = confusion.lower_bound()
    return {
        "bot_id": agreement.bot_id,
        "compared": agreement.compared,
        "agree_verdict": agreement.agree_verdict,
        "agree_codes": agreement.agree_codes,
        "both_reshape": agreement.both_reshape,
        "agree_reshape": agreement.agree_reshape,
        "agreement": decimal_text(confusion.agreement()),
        "agreement_pct": percent_text(confusion.agreement()),
        "kappa": agreement.kappa_text,
        "agreement_lower_95": lower,
        "divergences": len(agreement.divergences),
        "unsafe_divergences": agreement.unsafe,
        "one_sided": agreement.one_sided,
        "labels": list(LABELS),
        "confusion": confusion.as_dict(),
    }


def parity_json(parity: ExecutionParity) -> dict[str, Any]:
    """The parity as JSON: money as decimal strings (in the comparison's ``currency``)."""

    def side(figures: Any) -> dict[str, Any]:
        return {
            "run_id": figures.run_id,
            "status": figures.status,
            "orders": figures.orders,
            "fills": figures.fills,
            "volume_usd": from_micros(figures.volume_micros),
            "pnl_usd": from_micros(figures.pnl_micros),
            "exposure_usd": from_micros(figures.exposure_micros),
        }

    return {
        "bucket_s": parity.bucket_ns // 1_000_000_000,
        "baseline": side(parity.baseline),
        "candidate": side(parity.candidate),
        "max_abs_diff": {
            "orders": parity.max_abs_diff["orders"],
            "fills": parity.max_abs_diff["fills"],
            "pnl_usd": from_micros(parity.max_abs_diff["pnl_micros"]),
            "exposure_usd": from_micros(parity.max_abs_diff["exposure_micros"]),
        },
        "columns": [
            "ts_ns",
            "orders_baseline",
            "orders_candidate",
            "fills_baseline",
            "fills_candidate",
            "pnl_usd_baseline",
            "pnl_usd_candidate",
            "exposure_usd_baseline",
            "exposure_usd_candidate",
        ],
        "points": [
            [
                p.ts_ns,
                *p.orders,
                *p.fills,
                *(from_micros(v) for v in p.pnl_micros),
                *(from_micros(v) for v in p.exposure_micros),
            ]
            for p in parity.points
        ],
    }


def comparison_id(
    baseline_run_id: str, candidate_config_version: str, size_step_micros: int
) -> str:
    """``sc-`` + 16 hex digits identifying the comparison (module docstring)."""
    identity = {
        "baseline_run_id": baseline_run_id,
        "candidate_config_version": candidate_config_version,
        "size_step_micros": size_step_micros,
    }
    return "sc-" + canonical_sha256(identity)[:16]


def _checked(outcome: RunOutcome, what: str) -> SideRun:
    if outcome.status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
        raise ShadowCompareError(
            f"the run {outcome.result.run_id} of {what} ended {outcome.status.value}"
            f"{': ' + outcome.status_detail if outcome.status_detail else ''}; "
            "its decisions are partial, nothing was compared"
        )
    result = outcome.result
    return SideRun(
        run_id=result.run_id,
        config_version=result.config_version,
        status=outcome.status.value,
        status_detail=outcome.status_detail,
        events=result.events,
        envelopes=result.envelopes,
        envelopes_sha256=result.envelopes_sha256,
        wall_s=result.wall_s,
    )


def _strategies(desk: DeskFile) -> str:
    """The desk's strategies as compared: ids, code digests, modes and configs."""
    return canonical_json(
        [
            [e["id"], e["code_sha256"], e["mode"], e["config"]]
            for e in desk.canonical()["strategies"]
        ]
    )


def compare_desks(
    *,
    data: str | Path,
    baseline: DeskFile,
    candidate: DeskFile,
    seed: int | None = None,
    size_step_micros: int = POLYMARKET_SIZE_STEP_MICROS,
    bucket_s: int = DEFAULT_BUCKET_S,
    parity: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ShadowComparison:
    """Compare ``candidate`` with ``baseline`` over ``data`` (module docstring).

    Args:
        data: anything :func:`polytraders.feeds.open_source` accepts.
        baseline: the current desk (its strategies propose, its decisions are the reference).
        candidate: the desk under evaluation (its risk chain shadows the baseline's).
        seed: the seed both desks run with (default: the baseline's); a desk file whose own
            seed differs runs with this one, and a note says so.
        size_step_micros: size step of the reshaped-intent comparison (default Polymarket's).
        bucket_s: parity sampling interval in event-time seconds.
        parity: also run the candidate desk on its own for the execution parity.
        progress: told ``"decisions"`` / ``"parity"`` as each run starts.

    Raises:
        RunRefusedError: the data (or a desk) cannot be run; nothing ran.
        ShadowCompareError: a run FAILED or was INTERRUPTED.
        ValueError: ``size_step_micros`` or ``bucket_s`` not positive, ``seed`` out of range.
    """
    if size_step_micros <= 0 or bucket_s <= 0:
        raise ValueError("size_step_micros and bucket_s must be positive")
    started = time.perf_counter()
    chosen = baseline.seed if seed is None else seed
    if not 0 <= chosen <= 2**63 - 1:
        raise ValueError(f"the seed must lie in [0, 2**63), got {chosen}")
    notes: list[str] = []
    desks: dict[str, DeskFile] = {}
    for which, given in (("baseline", baseline), ("candidate", candidate)):
        if given.seed != chosen:
            notes.append(f"the {which} desk file's seed {given.seed} was replaced by {chosen}")
        desks[which] = given.model_copy(update={"seed": chosen}) if given.seed != chosen else given
    if _strategies(desks["baseline"]) != _strategies(desks["candidate"]):
        notes.append(
            "the desks' strategies differ: decisions are compared on the baseline's intents; "
            "the candidate's strategies shape only the execution parity"
        )
    b_tap, c_tap = DecisionTap(), DecisionTap()
    if progress is not None:
        progress("decisions")
    main = run_desk(
        data=data,
        desk_file=desks["baseline"],
        fill_bounds=False,
        sinks=[b_tap],
        shadow_desk=desks["candidate"],
        shadow_sinks=[c_tap],
    )
    base_side = _checked(main, "the baseline desk")
    shadow_side = SideRun(
        run_id=main.shadow_run_id,
        config_version=desks["candidate"].config_version,
        status=base_side.status,
        status_detail=base_side.status_detail,
        events=base_side.events,
        envelopes=main.shadow_envelopes,
        envelopes_sha256=main.shadow_envelopes_sha256,
        wall_s=base_side.wall_s,
    )
    own: RunOutcome | None = None
    if parity:
        if progress is not None:
            progress("parity")
        own = run_desk(data=data, desk_file=desks["candidate"], fill_bounds=False)
    cand_side = _checked(own, "the candidate desk") if own is not None else None
    ticks = {t.token_id: t.tick_size for m in main.markets for t in m.tokens}
    bots = compare_decisions(b_tap, c_tap, ticks=ticks, size_step=size_step_micros)
    result = main.result
    return ShadowComparison(
        comparison_id=comparison_id(
            base_side.run_id, desks["candidate"].config_version, size_step_micros
        ),
        data_source=str(data),
        data_digest=data_digest(data),
        seed=chosen,
        size_step_micros=size_step_micros,
        baseline=base_side,
        shadow=shadow_side,
        candidate=cand_side,
        window_start_ns=result.first_event_ns,
        window_end_ns=result.last_event_ns,
        bots=tuple(bots),
        baseline_only_bots=tuple(b for b in b_tap.bots if b not in c_tap.bots),
        candidate_only_bots=tuple(b for b in c_tap.bots if b not in b_tap.bots),
        parity=execution_parity(main, own, bucket_s=bucket_s) if own is not None else None,
        notes=tuple(notes),
        wall_s=time.perf_counter() - started,
        currency=result.currency,
    )


def write_outputs(comparison: ShadowComparison, out_dir: Path) -> tuple[Path, Path]:
    """Write ``comparison.json`` and ``divergences.jsonl`` into ``out_dir`` (created if
    needed); each file is written beside its final name and renamed into place, so a reader
    never sees half a file. Returns both paths.

    Raises:
        OSError: the folder or a file cannot be written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, chunks in (
        (
            COMPARISON_FILE,
            iter(
                [(json.dumps(comparison.as_json(), indent=2, ensure_ascii=False) + "\n").encode()]
            ),
        ),
        (DIVERGENCES_FILE, comparison.divergence_lines()),
    ):
        final = out_dir / name
        staging = out_dir / f".{name}.{os.getpid()}.tmp"
        try:
            with staging.open("wb") as stream:
                for chunk in chunks:
                    stream.write(chunk)
            staging.replace(final)
        finally:
            staging.unlink(missing_ok=True)
        written.append(final)
    return written[0], written[1]


def _stored(divergence: Divergence) -> StoredDivergence:
    base, cand = divergence.baseline, divergence.candidate
    return StoredDivergence(
        run_id=cand.run_id,
        envelope_id=cand.envelope_id,
        bot_id=divergence.bot_id,
        correlation_id=divergence.correlation_id,
        ts_event_ns=divergence.ts_event_ns,
        kind=divergence.kind,
        unsafe=divergence.unsafe,
        baseline_verdict=base.label,
        candidate_verdict=cand.label,
        baseline_codes=base.reason_codes,
        candidate_codes=cand.reason_codes,
        baseline_run_id=base.run_id,
        baseline_envelope_id=base.envelope_id,
        baseline_line=base.line,
        candidate_line=cand.line,
    )


def bot_rows(
    comparison_id: str,
    bots: Sequence[BotAgreement],
    *,
    data_source: str,
    window_start_ns: int,
    window_end_ns: int,
) -> list[ShadowComparisonRow]:
    """Per-bot agreements as ``shadow_comparisons`` rows of one comparison."""
    return [
        ShadowComparisonRow(
            comparison_id=comparison_id,
            bot_id=b.bot_id,
            baseline_config_version=b.baseline_config_version,
            candidate_config_version=b.candidate_config_version,
            data_source=data_source,
            window_start_ns=window_start_ns,
            window_end_ns=window_end_ns,
            confusion=b.confusion,
            agree_strict=b.agree_codes,
            both_reshape=b.both_reshape,
            agree_reshape=b.agree_reshape,
            one_sided=b.one_sided,
            divergences=tuple(_stored(d) for d in b.divergences),
        )
        for b in bots
    ]


def store_rows(comparison: ShadowComparison) -> list[ShadowComparisonRow]:
    """The comparison as ``shadow_comparisons`` rows, one per bot compared."""
    return bot_rows(
        comparison.comparison_id,
        comparison.bots,
        data_source=comparison.data_source,
        window_start_ns=comparison.window_start_ns,
        window_end_ns=comparison.window_end_ns,
    )


def record(
    comparison: ShadowComparison, store: EventStore, *, actor: str, ts_ns: int | None = None
) -> bool:
    """Record the comparison in ``store``
    (:func:`~polytraders.store.shadow_comparisons.record_comparison`); False when it was
    already on record.

    Raises:
        EvidenceInputError: an empty actor, or no bot was compared (nothing to record).
        StoreError: a read or write failed.
    """
    return record_comparison(store, store_rows(comparison), actor=actor, ts_ns=ts_ns)
