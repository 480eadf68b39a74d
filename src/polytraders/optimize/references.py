"""The committed optimizer evidence under ``runs/optimizer/<bot_id>/`` (seed 003, Backtest
checklist: a recorded envelope timeline checked in, and an optimizer reference run on file
with the winning parameters and the score it was tuned against).

- ``timeline.json``, for every bot of the library: a desk run on the bot's fixture
  (:data:`FIXTURES`: a seeded synthetic spec, or for the crypto guards the Binance sample, and
  the desk that runs it, the default desk unless the bot is not in it) and the hashes of what
  it recorded: the whole envelope timeline (``envelopes_sha256``, as ``result.json`` has it)
  and the bot's own envelopes (SHA-256 of its lines of ``envelopes.jsonl``, in order), with its
  decision and reason-code counts.
  :func:`check_timelines` re-runs them (:func:`timelines`) and compares.
- ``reference.json``, for every bot with a non-empty ``SEARCH_SPACE``: the ``summary.json`` of
  a study (:data:`REFERENCES`: score, trials, the shipped sample, the desk and the in-sample
  percent; sampler ``tpe``, seed 7, batch 8) without its ``environment`` section: winning
  parameters, score, data digest, seed, trials, sampler, in-sample and out-of-sample figures,
  Optuna's version.

Desk files are named relative to the repository (``examples/…``): regenerating and checking
the evidence needs a clone or an editable install (a wheel ships no examples).

:func:`regenerate` rewrites both (``polytraders reference-runs``, ``--bot`` for some bots);
they are summaries and hashes, a few KB each, never stores.
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
from polytraders.optimize.space import load_ranges
from polytraders.optimize.study import StudyProgress
from polytraders.optimize.tuned_desk import DeskSpec

TIMELINE_FILE = "timeline.json"
REFERENCE_FILE = "reference.json"
DEFAULT_DIR = Path("runs") / "optimizer"
BINANCE_SAMPLE = "binance/usdm_btcusdt_20240808.gz"
"""The crypto strategies' reference data: BTCUSDT perpetual, 2024-08-08 23:54:16–00:00:01 UTC."""
GUARDED_BINANCE_DESK = "examples/desk_binance_guarded.toml"
"""The crypto guards' desk: strat.ema_cross with every crypto guard and an assumed funding rate."""
REPOSITORY = Path(__file__).resolve().parents[3]
"""The repository the desk files of :data:`FIXTURES` and :data:`REFERENCES` are named in."""
DEFAULT_DESK_LABEL = "the default desk (polytraders run's)"


class Fixture(msgspec.Struct, frozen=True, kw_only=True):
    """A bot's timeline fixture: ``data`` (a synthetic spec, or a shipped sample's name as
    :func:`~polytraders.feeds.samples.sample_path` takes it) run by ``desk`` (a desk file
    relative to :data:`REPOSITORY`; "" for the default desk)."""

    data: str
    desk: str = ""

    @property
    def synthetic(self) -> bool:
        """Whether ``data`` is a synthetic spec (else a shipped sample)."""
        return self.data.startswith("synthetic:")

    def data_path(self) -> str:
        """What :func:`~polytraders.backtest.engine.run_desk` reads: the spec, or the sample's
        path.

        Raises:
            FileNotFoundError: the sample is not shipped.
        """
        return self.data if self.synthetic else str(sample_path(self.data))

    def label(self) -> str:
        """How ``timeline.json`` names the data: the spec, or ``data/samples/<name>``."""
        return self.data if self.synthetic else f"data/samples/{self.data}"


_FIXTURE = "synthetic:{scenario}?seed=7&markets=2&duration_s={duration_s}"


def _synthetic(scenario: str, desk: str = "", *, duration_s: int = 300) -> Fixture:
    return Fixture(data=_FIXTURE.format(scenario=scenario, duration_s=duration_s), desk=desk)


FIXTURES: dict[str, Fixture] = {
    "strat.maker_tight": _synthetic("normal"),
    "risk.killswitch": _synthetic("stale"),
    "risk.compliancegate": _synthetic("normal"),
    "risk.markethaltguard": _synthetic("tick_size_change"),
    "risk.stalebookguard": _synthetic("stale"),
    "risk.marketqualityguard": _synthetic("thin_book"),
    "risk.exposureguard": _synthetic("wide_spread"),
    "risk.drawdownguard": _synthetic("crossed_book"),
    "exec.smartrouter": _synthetic("tick_size_change"),
    # 20 minutes: the signal strategies warm up for 20 bars of 10 s before any signal
    "strat.ema_cross": _synthetic("normal", "examples/desk_ema_cross.toml", duration_s=1_200),
    "strat.mean_reversion": _synthetic(
        "normal", "examples/desk_mean_reversion.toml", duration_s=1_200
    ),
    "exec.twap": _synthetic("normal", "examples/desk_twap.toml", duration_s=1_200),
    # the crypto guards refuse Polymarket tokens: the guarded crypto desk on the BTCUSDT
    # perpetual recording, with its assumed funding rate (the recording has none)
    **dict.fromkeys(
        (
            "risk.fundingguard",
            "risk.leverageguard",
            "risk.marginguard",
            "risk.netexposureguard",
        ),
        Fixture(data=BINANCE_SAMPLE, desk=GUARDED_BINANCE_DESK),
    ),
}
"""Each library bot's fixture (the synthetic scenario that exercises it most; the crypto guards:
the Binance sample) and the desk that runs it (the bots outside the default desk: their example
desk)."""


class Reference(msgspec.Struct, frozen=True, kw_only=True):
    """How a bot's reference study runs: ``score`` and ``trials``, on ``data`` (a shipped
    sample, :func:`~polytraders.feeds.samples.sample_path`) with ``desk`` (a desk file relative
    to :data:`REPOSITORY`, "" for the default desk), ``in_sample_pct`` of it in sample, and
    ``ranges`` (a ranges file relative to :data:`REPOSITORY`, "" for the bot's own ranges:
    :func:`~polytraders.optimize.space.load_ranges`) and ``min_fills`` (a trial with fewer
    fills in sample fails; 0: no minimum)."""

    score: str
    trials: int
    data: str = POLYMARKET_SAMPLE
    desk: str = ""
    in_sample_pct: int = 75
    ranges: str = ""
    min_fills: int = 0


REFERENCES: dict[str, Reference] = {
    "strat.maker_tight": Reference(score="total_pnl", trials=16),
    "risk.killswitch": Reference(score="risk_guard", trials=6),
    "risk.markethaltguard": Reference(score="risk_guard", trials=6),
    "risk.stalebookguard": Reference(score="risk_guard", trials=6),
    "risk.marketqualityguard": Reference(score="risk_guard", trials=6),
    "risk.exposureguard": Reference(score="risk_guard", trials=6),
    "risk.drawdownguard": Reference(score="risk_guard", trials=6),
    "exec.smartrouter": Reference(score="total_pnl", trials=6),
    "exec.twap": Reference(score="total_pnl", trials=6, desk="examples/desk_twap.toml"),
    # the Binance sample spans under 6 minutes: half of it out of sample leaves the signals
    # room to warm up (75 % would leave 86 s), the ranges files size bars and regime
    # thresholds to it (the bots' own ranges warm up longer than a half and never trade), and
    # a trial must make a round trip (2 fills) to count: not trading scores 0, which beat
    # every losing trial of mean_reversion and made "no trade" the best parameters
    "strat.ema_cross": Reference(
        score="total_pnl",
        trials=32,
        data=BINANCE_SAMPLE,
        desk="examples/desk_binance.toml",
        in_sample_pct=50,
        ranges="examples/ranges/ema_cross_binance.toml",
        min_fills=2,
    ),
    "strat.mean_reversion": Reference(
        score="total_pnl",
        trials=32,
        data=BINANCE_SAMPLE,
        desk="examples/desk_mean_reversion_binance.toml",
        in_sample_pct=50,
        ranges="examples/ranges/mean_reversion_binance.toml",
        min_fills=2,
    ),
    **{
        bot_id: Reference(
            score="risk_guard",
            trials=6,
            data=BINANCE_SAMPLE,
            desk=GUARDED_BINANCE_DESK,
            in_sample_pct=50,
        )
        for bot_id in (
            "risk.fundingguard",
            "risk.leverageguard",
            "risk.marginguard",
            "risk.netexposureguard",
        )
    },
}
"""The reference study of every bot with a non-empty search space (guards: ``risk_guard``)."""


def _desk(name: str) -> tuple[DeskFile, str]:
    """The desk file ``name`` (relative to :data:`REPOSITORY`; "" the default desk) and how
    the evidence names it.

    Raises:
        DeskFileError: the file is missing or invalid.
    """
    if not name:
        return DeskFile(), DEFAULT_DESK_LABEL
    return DeskFile.load(REPOSITORY / name), name


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
    """Run every fixture (once per distinct data and desk) and return each library bot's
    ``timeline.json`` content by bot id.

    Raises:
        DeskFileError: a fixture's desk file is missing or invalid.
    """
    documents: dict[str, dict[str, Any]] = {}
    for fixture in sorted(set(FIXTURES.values()), key=lambda f: (f.data, f.desk)):
        desk, label = _desk(fixture.desk)
        with tempfile.TemporaryDirectory(prefix="polytraders-timeline-") as folder:
            outcome = run_desk(
                data=fixture.data_path(), desk_file=desk, out_dir=Path(folder) / "run"
            )
            envelopes = Path(folder) / "run" / "envelopes.jsonl"
            lines = envelopes.read_bytes().splitlines(keepends=True)
        result = outcome.result
        for bot_id in sorted(b for b, f in FIXTURES.items() if f == fixture):
            documents[bot_id] = {
                "bot_id": bot_id,
                "fixture": fixture.label(),
                "desk": label,
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
    ``reference.json`` content.

    Raises:
        DeskFileError: its desk file is missing or invalid.
        FileNotFoundError: its sample is not shipped.
        RangesError: its ranges file cannot be read or applied.
    """
    settings = REFERENCES[bot_id]
    desk, _ = _desk(settings.desk)
    ranges = (
        load_ranges(REPOSITORY / settings.ranges, BOTS[bot_id].SEARCH_SPACE)
        if settings.ranges
        else ()
    )
    base_dir = (REPOSITORY / settings.desk).parent if settings.desk else Path.cwd()
    with tempfile.TemporaryDirectory(prefix="polytraders-reference-") as folder:
        result = optimize(
            OptimizeRequest(
                bot_id=bot_id,
                desk=DeskSpec.of(desk, base_dir),
                data=str(sample_path(settings.data)),
                out_dir=folder,
                trials=settings.trials,
                score=settings.score,
                jobs=jobs,
                in_sample_pct=settings.in_sample_pct,
                ranges=ranges,
                min_fills=settings.min_fills,
            ),
            progress=progress,
        )
        document = summary(result)
    document.pop("environment")
    document["data"]["source"] = f"data/samples/{settings.data}"
    if settings.desk:
        document["desk_file"] = settings.desk
    if settings.ranges:
        document["ranges_file"] = settings.ranges
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
    bots: tuple[str, ...] = (),
    progress: StudyProgress | None = None,
    announce: Callable[[str], object] | None = None,
) -> list[Path]:
    """Rewrite the ``timeline.json`` and (unless ``timelines_only``) the ``reference.json`` of
    ``bots`` (every library bot when empty) under ``folder``; returns the files written.
    ``announce(text)`` (optional) is told what runs next. Every fixture is re-run whichever
    bots are named (seconds); only the named bots' studies run.

    Raises:
        ValueError: a name in ``bots`` is not a library bot.
    """
    unknown = sorted(set(bots) - set(BOTS))
    if unknown:
        raise ValueError(f"not library bots: {', '.join(unknown)}")
    chosen = set(bots or BOTS)
    written = []
    if announce is not None:
        announce(f"timelines: {len(set(FIXTURES.values()))} fixtures")
    for bot_id, document in timelines().items():
        if bot_id not in chosen:
            continue
        path = folder / bot_id / TIMELINE_FILE
        _write_json(path, document)
        written.append(path)
    if timelines_only:
        return written
    for bot_id in sorted(chosen & set(REFERENCES)):
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
            problems.append(f"{bot_id}: no fixture in FIXTURES")
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
