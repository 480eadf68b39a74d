"""The committed optimizer evidence under ``runs/optimizer/<bot_id>/`` (seed 003, Backtest
checklist: a recorded envelope timeline checked in, and an optimizer reference run on file
with the winning parameters and the score it was tuned against).

- ``timeline.json``, for every bot of the library: the default desk run on the bot's synthetic
  fixture (:data:`FIXTURES`, a seeded synthetic spec) and the hashes of what it recorded: the
  whole envelope timeline (``envelopes_sha256``, as ``result.json`` has it) and the bot's own
  envelopes (SHA-256 of its lines of ``envelopes.jsonl``, in order), with its decision and
  reason-code counts. :func:`check_timelines` re-runs them (:func:`timelines`) and compares.
- ``reference.json``, for every bot with a non-empty ``SEARCH_SPACE``: the ``summary.json`` of
  a study on the shipped sample (:data:`REFERENCES`: score, trials; sampler ``tpe``, seed 7,
  batch 8, 75 % in sample, the default desk) without its ``environment`` section: winning
  parameters, score, data digest, seed, trials, sampler, in-sample and out-of-sample figures,
  Optuna's version.

:func:`regenerate` rewrites both (``polytraders reference-runs``); they are summaries and
hashes, a few KB each, never stores.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.bots.registry import BOTS
from polytraders.feeds.samples import POLYMARKET_SAMPLE, sample_path
from polytraders.optimize.optimizer import OptimizeRequest, optimize
from polytraders.optimize.outputs import summary
from polytraders.optimize.study import StudyProgress
from polytraders.optimize.tuned_desk import DeskSpec

TIMELINE_FILE = "timeline.json"
REFERENCE_FILE = "reference.json"
DEFAULT_DIR = Path("runs") / "optimizer"
SAMPLE_LABEL = f"data/samples/{POLYMARKET_SAMPLE}"
"""How reference runs name their data (the shipped sample; its digest identifies it)."""

_FIXTURE = "synthetic:{scenario}?seed=7&markets=2&duration_s=300"
FIXTURES: dict[str, str] = {
    "strat.maker_tight": _FIXTURE.format(scenario="normal"),
    "risk.killswitch": _FIXTURE.format(scenario="stale"),
    "risk.compliancegate": _FIXTURE.format(scenario="normal"),
    "risk.markethaltguard": _FIXTURE.format(scenario="tick_size_change"),
    "risk.stalebookguard": _FIXTURE.format(scenario="stale"),
    "risk.marketqualityguard": _FIXTURE.format(scenario="thin_book"),
    "risk.exposureguard": _FIXTURE.format(scenario="wide_spread"),
    "risk.drawdownguard": _FIXTURE.format(scenario="crossed_book"),
    "exec.smartrouter": _FIXTURE.format(scenario="tick_size_change"),
}
"""Each library bot's synthetic fixture (the scenario that exercises it most)."""


class Reference(msgspec.Struct, frozen=True, kw_only=True):
    """How a bot's reference study runs."""

    score: str
    trials: int


REFERENCES: dict[str, Reference] = {
    "strat.maker_tight": Reference(score="total_pnl", trials=16),
    "risk.killswitch": Reference(score="risk_guard", trials=6),
    "risk.markethaltguard": Reference(score="risk_guard", trials=6),
    "risk.stalebookguard": Reference(score="risk_guard", trials=6),
    "risk.marketqualityguard": Reference(score="risk_guard", trials=6),
    "risk.exposureguard": Reference(score="risk_guard", trials=6),
    "risk.drawdownguard": Reference(score="risk_guard", trials=6),
    "exec.smartrouter": Reference(score="total_pnl", trials=6),
}
"""The reference study of every bot with a non-empty search space (guards: ``risk_guard``)."""


def _own(lines: list[bytes], bot_id: str) -> dict[str, Any]:
    """Count and hash ``bot_id``'s lines of an ``envelopes.jsonl``."""
    own = hashlib.sha256()
    decisions: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    count = 0
    for line in lines:
        envelope = json.loads(line)
        if envelope["bot_id"] != bot_id:
            continue
        own.update(line)
        count += 1
        decisions[envelope["decision"]] += 1
        codes.update(envelope["reason_codes"])
    return {
        "bot_envelopes": count,
        "bot_envelopes_sha256": own.hexdigest(),
        "bot_decisions": dict(sorted(decisions.items())),
        "bot_reason_codes": dict(sorted(codes.items())),
    }


def timelines() -> dict[str, dict[str, Any]]:
    """Run the default desk on every fixture (once per distinct spec) and return each library
    bot's ``timeline.json`` content by bot id."""
    desk = DeskFile()
    documents: dict[str, dict[str, Any]] = {}
    for spec in sorted(set(FIXTURES.values())):
        with tempfile.TemporaryDirectory(prefix="polytraders-timeline-") as folder:
            outcome = run_desk(data=spec, desk_file=desk, out_dir=Path(folder) / "run")
            envelopes = Path(folder) / "run" / "envelopes.jsonl"
            lines = envelopes.read_bytes().splitlines(keepends=True)
        result = outcome.result
        for bot_id in sorted(b for b, s in FIXTURES.items() if s == spec):
            documents[bot_id] = {
                "bot_id": bot_id,
                "fixture": spec,
                "desk": "the default desk (polytraders run's)",
                "desk_version": desk.config_version,
                "status": result.status,
                "run_id": result.run_id,
                "envelopes": result.envelopes,
                "envelopes_sha256": result.envelopes_sha256,
                **_own(lines, bot_id),
            }
    return dict(sorted(documents.items()))


def reference(
    bot_id: str, *, jobs: int = 1, progress: StudyProgress | None = None
) -> dict[str, Any]:
    """Run ``bot_id``'s reference study (in a temporary folder) and return its
    ``reference.json`` content."""
    settings = REFERENCES[bot_id]
    with tempfile.TemporaryDirectory(prefix="polytraders-reference-") as folder:
        result = optimize(
            OptimizeRequest(
                bot_id=bot_id,
                desk=DeskSpec.of(DeskFile(), Path.cwd()),
                data=str(sample_path()),
                out_dir=folder,
                trials=settings.trials,
                score=settings.score,
                jobs=jobs,
            ),
            progress=progress,
        )
        document = summary(result)
    document.pop("environment")
    document["data"]["source"] = SAMPLE_LABEL
    document["regenerate"] = "polytraders reference-runs"
    return document


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def regenerate(
    folder: Path,
    *,
    jobs: int = 1,
    timelines_only: bool = False,
    progress: StudyProgress | None = None,
    announce: Callable[[str], object] | None = None,
) -> list[Path]:
    """Rewrite every ``timeline.json`` and (unless ``timelines_only``) every
    ``reference.json`` under ``folder``; returns the files written. ``announce(text)``
    (optional) is told what runs next."""
    written = []
    if announce is not None:
        announce(f"timelines: the default desk on {len(set(FIXTURES.values()))} fixtures")
    for bot_id, document in timelines().items():
        path = folder / bot_id / TIMELINE_FILE
        _write_json(path, document)
        written.append(path)
    if timelines_only:
        return written
    for bot_id in sorted(REFERENCES):
        if announce is not None:
            announce(f"{bot_id}: reference study ({REFERENCES[bot_id].trials} trials)")
        path = folder / bot_id / REFERENCE_FILE
        _write_json(path, reference(bot_id, jobs=jobs, progress=progress))
        written.append(path)
    return written


def check_timelines(folder: Path) -> list[str]:
    """Re-run every bot's fixture and compare with its committed ``timeline.json``; returns
    the differences (empty when every hash matches)."""
    problems = []
    fresh = timelines()
    for bot_id in sorted(BOTS):
        path = folder / bot_id / TIMELINE_FILE
        if bot_id not in fresh:
            problems.append(f"{bot_id}: no synthetic fixture in FIXTURES")
            continue
        if not path.is_file():
            problems.append(f"{bot_id}: no {path}")
            continue
        recorded = json.loads(path.read_text(encoding="utf-8"))
        for key in ("envelopes_sha256", "bot_envelopes_sha256", "envelopes", "bot_envelopes"):
            if recorded.get(key) != fresh[bot_id][key]:
                problems.append(
                    f"{bot_id}: {key} is {fresh[bot_id][key]}, recorded {recorded.get(key)} "
                    f"({path})"
                )
    return problems
