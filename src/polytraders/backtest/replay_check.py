"""Replay regression: run a recorded data set twice through the backtest engine, each run in its
own process under a different ``PYTHONHASHSEED``, and check the two envelope timelines are
byte-identical and that every bot's reason codes are those of a committed baseline (seed 001,
Built → Shadow: "wire examples replay cleanly … 0 unexpected reason codes"; issue 15 item 2).

A **baseline** (``DIR/baseline.json``, :class:`ReplayBaseline`) holds, for one data set, desk
and seed: the reason-code counts per bot (envelopes by ``bot_id``, plus the paper venue's
order rejections under the bot id ``venue``), the timeline's SHA-256 and envelope count, the
desk's config version (bots, configs, code digests and seed), its *declared* version (the
same without code digests and seed: what the desk file says of bots, venue and desk), each
bot's code digest, the data's digest, the run's status and the polytraders version that
recorded it.

The **check** (:func:`check_replay`) fails when:

1. the two runs' timelines differ (file bytes, ``envelopes_sha256``, or ``result.json`` apart
   from its wall-time figures): nondeterminism;
2. a run ended FAILED or INTERRUPTED;
3. a bot emits a code its baseline entry does not hold, or a bot absent from the baseline
   emits codes: each such code is **unexpected** and named with its bot and count;
4. the data digest, the seed and the declared desk equal the baseline's (the same data and
   desk) and a code's count changed (a code that vanished is a change to 0) or the run's
   status changed: the replay is nondeterministic across versions or a behaviour changed.
   The report names the bots whose code changed since the baseline (the usual cause) and
   what to run to record a new baseline when the change is intended.

When the data, the seed or the declared desk differ from the baseline's, the check says which
and reports count changes for information only; unexpected codes still fail (that is how a
candidate desk is checked against the codes the current one is known to emit).

Each run is ``python -m polytraders.backtest.replay_check --data … --out … [--desk …]
[--seed N]`` (:func:`worker_main`): :func:`~polytraders.backtest.engine.run_desk`, the same
engine and outputs as ``polytraders backtest``, with the desk's seed optionally replaced.
The two runs go concurrently.
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

import polytraders
from polytraders import __version__
from polytraders.backtest.desk_file import DeskFile, DeskFileError
from polytraders.backtest.result import VENUE_BOT_ID
from polytraders.contracts.canonical import config_version
from polytraders.feeds.digest import data_digest

BASELINE_FILE = "baseline.json"
"""The baseline's file name inside its folder."""
BASELINE_FORMAT = 1
"""Version of the baseline file's layout."""
WALL_FIELDS = frozenset({"wall_s", "events_per_s"})
"""``result.json`` figures that measure the machine, not the run (left out of comparisons)."""
_FAILED_STATUSES = frozenset({"FAILED", "INTERRUPTED"})
_HASH_SEED_MAX = 4_294_967_295
"""The largest ``PYTHONHASHSEED`` Python accepts."""

Counts = dict[str, dict[str, int]]
"""bot id → reason code → count."""


class ReplayError(ValueError):
    """The check could not run: unusable data, desk file, seed or baseline, or a run that wrote
    no timeline. One line naming the file or option and what is wrong."""


class ReplayBaseline(msgspec.Struct, kw_only=True):
    """A committed baseline (module docstring); ``reason_codes`` is bot id → code → count."""

    format: int = BASELINE_FORMAT
    polytraders_version: str
    data: str
    data_digest: str
    seed: int
    desk_config_version: str
    desk_declared_version: str
    bot_code_sha256: dict[str, str]
    run_id: str
    status: str
    envelopes: int
    envelopes_sha256: str
    reason_codes: Counts


class DeskIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """What identifies a desk for the check: ``config_version`` (16 hex digits over bots,
    configs, code digests and seed: :attr:`DeskFile.config_version`), ``declared_version``
    (the same without code digests and seed) and ``code_sha256`` (bot id → digest of its
    source files)."""

    config_version: str
    declared_version: str
    code_sha256: dict[str, str]


class TimelineRun(msgspec.Struct, frozen=True, kw_only=True):
    """One run of the check.

    Fields:
        hash_seed: its ``PYTHONHASHSEED``.
        out_dir: where it wrote result.json and envelopes.jsonl.
        run_id, status, status_detail: from result.json.
        envelopes: lines of envelopes.jsonl.
        envelopes_sha256: result.json's digest of the timeline.
        file_sha256: SHA-256 of envelopes.jsonl as read back.
        wall_s: the process's wall time (s).
    """

    hash_seed: int
    out_dir: Path
    run_id: str
    status: str
    status_detail: str
    envelopes: int
    envelopes_sha256: str
    file_sha256: str
    wall_s: float


class CountChange(msgspec.Struct, frozen=True, kw_only=True):
    """A bot's code whose count differs from the baseline's (``observed`` 0: vanished)."""

    bot_id: str
    code: str
    baseline: int
    observed: int


class UnexpectedCode(msgspec.Struct, frozen=True, kw_only=True):
    """A code the baseline does not hold for ``bot_id`` (``count`` times in the replay)."""

    bot_id: str
    code: str
    count: int


class ReplayReport(msgspec.Struct, kw_only=True):
    """What :func:`check_replay` found; ``passed`` is True when ``failures`` is empty.

    Fields:
        baseline_dir: the baseline's folder.
        runs: both runs.
        identical: both timelines byte-identical (and result.json apart from wall figures).
        run_differences: how the two runs differ (empty when identical).
        reason_codes: the replay's counts (bot → code → count).
        unexpected: codes not in the baseline (always failures).
        count_changes: counts that differ from the baseline's.
        counts_enforced: True when the data, seed and declared desk are the baseline's, so a
            count change fails.
        input_differences: how the data, seed, desk or version differ from the baseline's.
        code_changes: bots whose code digest differs from the baseline's (or that it lacks).
        timeline_matches_baseline: the replay's ``envelopes_sha256`` is the baseline's.
        failures: one line per reason the check fails.
    """

    baseline_dir: str
    runs: list[TimelineRun]
    identical: bool
    run_differences: list[str]
    reason_codes: Counts
    unexpected: list[UnexpectedCode]
    count_changes: list[CountChange]
    counts_enforced: bool
    input_differences: list[str]
    code_changes: list[str]
    timeline_matches_baseline: bool
    failures: list[str]

    @property
    def passed(self) -> bool:
        """True when nothing failed."""
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON types (paths as strings), ``passed`` included."""
        document: dict[str, Any] = msgspec.to_builtins(self, enc_hook=str)
        document["passed"] = self.passed
        return document


# ---------------------------------------------------------------------------- inputs
def load_desk(path: Path | None, seed: int | None = None) -> DeskFile:
    """The desk file at ``path`` (None: the default desk), its seed replaced by ``seed``.

    Raises:
        ReplayError: the desk file is refused, or ``seed`` is outside the desk's limits.
    """
    try:
        desk = DeskFile() if path is None else DeskFile.load(path)
    except DeskFileError as exc:
        raise ReplayError(exc.one_line()) from exc
    if seed is None:
        return desk
    limits = DeskFile.model_fields["seed"].metadata
    low = next(m.ge for m in limits if hasattr(m, "ge"))
    high = next(m.le for m in limits if hasattr(m, "le"))
    if not low <= seed <= high:
        raise ReplayError(f"--seed {seed}: outside [{low}, {high}]")
    return desk.model_copy(update={"seed": seed})


def desk_identity(desk: DeskFile) -> DeskIdentity:
    """The desk's config version, declared version and per-bot code digests.

    Raises:
        BotSourceError: a user bot's source cannot be loaded.
    """
    canonical = desk.canonical()
    canonical.pop("seed")  # compared on its own
    codes: dict[str, str] = {}
    for section in ("strategies", "risk", "execution"):
        for raw in canonical[section]:
            raw.pop("source")
            codes[str(raw["id"])] = str(raw.pop("code_sha256"))
    return DeskIdentity(
        config_version=desk.config_version,
        declared_version=config_version(canonical),
        code_sha256=dict(sorted(codes.items())),
    )


# ---------------------------------------------------------------------------- runs
class _Started(msgspec.Struct, frozen=True):
    process: Any
    out_dir: Path
    hash_seed: int
    started: float


def _start_run(
    *, data: str, desk: Path | None, out_dir: Path, hash_seed: int, seed: int | None
) -> _Started:
    command = [
        sys.executable, "-m", "polytraders.backtest.replay_check",
        "--data", data, "--out", str(out_dir),
    ]  # fmt: skip
    if desk is not None:
        command += ["--desk", str(desk)]
    if seed is not None:
        command += ["--seed", str(seed)]
    # the run imports the same polytraders as this process, wherever that lies
    source_root = str(Path(polytraders.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (source_root, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed), "PYTHONPATH": path}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return _Started(process, out_dir, hash_seed, time.perf_counter())


def _finish_run(started: _Started) -> TimelineRun:
    output, _ = started.process.communicate()
    wall_s = time.perf_counter() - started.started
    result_file = started.out_dir / "result.json"
    envelopes_file = started.out_dir / "envelopes.jsonl"
    if started.process.returncode != 0 or not result_file.is_file():
        last = " ".join(output.strip().splitlines()[-1:]) or "no output"
        raise ReplayError(
            f"the run under PYTHONHASHSEED={started.hash_seed} wrote no timeline "
            f"(exit {started.process.returncode}): {last}"
        )
    result = json.loads(result_file.read_text(encoding="utf-8"))
    digest = hashlib.sha256()
    lines = 0
    with envelopes_file.open("rb") as stream:
        for line in stream:
            digest.update(line)
            lines += 1
    return TimelineRun(
        hash_seed=started.hash_seed,
        out_dir=started.out_dir,
        run_id=str(result["run_id"]),
        status=str(result["status"]),
        status_detail=str(result.get("status_detail", "")),
        envelopes=lines,
        envelopes_sha256=str(result["envelopes_sha256"]),
        file_sha256=digest.hexdigest(),
        wall_s=round(wall_s, 3),
    )


def run_timelines(
    *,
    data: str,
    desk: Path | None,
    work_dir: Path,
    hash_seeds: Sequence[int],
    seed: int | None = None,
) -> list[TimelineRun]:
    """Run the backtest once per hash seed, each in its own process (concurrently), writing
    ``work_dir/run-<i>/``; returns the runs in ``hash_seeds`` order.

    Raises:
        ReplayError: a run wrote no timeline (the data or desk refused, the process crashed).
    """
    started = [
        _start_run(
            data=data, desk=desk, out_dir=work_dir / f"run-{i}", hash_seed=hash_seed, seed=seed
        )
        for i, hash_seed in enumerate(hash_seeds)
    ]
    runs: list[TimelineRun] = []
    error: ReplayError | None = None
    for run in started:  # wait for every process, even after one failed
        try:
            runs.append(_finish_run(run))
        except ReplayError as exc:
            error = error or exc
    if error is not None:
        raise error
    return runs


def pick_hash_seeds() -> tuple[int, int]:
    """Two different random ``PYTHONHASHSEED`` values (1 … 2³²−1; 0 would turn hash
    randomisation off)."""
    first = 1 + secrets.randbelow(_HASH_SEED_MAX)
    second = first
    while second == first:
        second = 1 + secrets.randbelow(_HASH_SEED_MAX)
    return first, second


def _result_without_wall(out_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((out_dir / "result.json").read_text(encoding="utf-8"))
    return {k: v for k, v in document.items() if k not in WALL_FIELDS}


def run_differences(first: TimelineRun, second: TimelineRun) -> list[str]:
    """How two runs of the same inputs differ: the timeline's bytes, its recorded digests,
    and result.json's fields apart from :data:`WALL_FIELDS` (empty list: identical)."""
    problems: list[str] = []
    for run in (first, second):
        if run.file_sha256 != run.envelopes_sha256:
            problems.append(
                f"PYTHONHASHSEED={run.hash_seed}: envelopes.jsonl hashes to "
                f"{run.file_sha256[:16]}…, result.json says {run.envelopes_sha256[:16]}…"
            )
    if first.envelopes_sha256 != second.envelopes_sha256:
        problems.append(
            f"envelopes_sha256 {first.envelopes_sha256[:16]}… (PYTHONHASHSEED="
            f"{first.hash_seed}) != {second.envelopes_sha256[:16]}… (PYTHONHASHSEED="
            f"{second.hash_seed})"
        )
    files = (first.out_dir / "envelopes.jsonl", second.out_dir / "envelopes.jsonl")
    if not filecmp.cmp(*files, shallow=False):
        problems.append(
            f"envelopes.jsonl differ: {first.envelopes:,} and {second.envelopes:,} lines"
            + _first_difference(*files)
        )
    results = (_result_without_wall(first.out_dir), _result_without_wall(second.out_dir))
    keys = sorted(
        k for k in results[0].keys() | results[1].keys() if results[0].get(k) != results[1].get(k)
    )
    if keys:
        problems.append(f"result.json differs in {', '.join(keys)}")
    return problems


def _first_difference(a: Path, b: Path) -> str:
    with a.open("rb") as left, b.open("rb") as right:
        for number, (x, y) in enumerate(zip(left, right, strict=False), start=1):
            if x != y:
                return f"; first at line {number}"
    return "; one is a prefix of the other"


# ---------------------------------------------------------------------------- counts
class _EnvelopeCodes(msgspec.Struct):
    bot_id: str
    reason_codes: list[str]


def reason_code_counts(out_dir: Path) -> Counts:
    """bot id → reason code → count over a run's ``envelopes.jsonl`` (every envelope, every
    code; a bot that decided without codes maps to ``{}``), plus the paper venue's order
    rejections from ``result.json``'s ``refusals_by_bot`` under the bot id ``venue``; bots and
    codes sorted.

    Raises:
        OSError: the files cannot be read; msgspec.DecodeError: a malformed envelope line.
    """
    decoder = msgspec.json.Decoder(_EnvelopeCodes)
    counts: dict[str, Counter[str]] = {}
    with (out_dir / "envelopes.jsonl").open("rb") as stream:
        for line in stream:
            envelope = decoder.decode(line)
            counts.setdefault(envelope.bot_id, Counter()).update(envelope.reason_codes)
    result = json.loads((out_dir / "result.json").read_text(encoding="utf-8"))
    for row in result.get("refusals_by_bot", []):
        if row.get("bot_id") == VENUE_BOT_ID:
            counts.setdefault(VENUE_BOT_ID, Counter())[str(row["reason_code"])] += int(row["count"])
    return {bot: dict(sorted(codes.items())) for bot, codes in sorted(counts.items())}


def compare_counts(
    baseline: Mapping[str, Mapping[str, int]], observed: Mapping[str, Mapping[str, int]]
) -> tuple[list[UnexpectedCode], list[CountChange]]:
    """(codes the baseline does not hold for their bot, counts that differ from the
    baseline's), each sorted by bot and code. A code present in both with another count, or in
    the baseline only (observed 0), is a change; a code in ``observed`` only is unexpected."""
    unexpected: list[UnexpectedCode] = []
    changes: list[CountChange] = []
    for bot in sorted(baseline.keys() | observed.keys()):
        known = baseline.get(bot, {})
        seen = observed.get(bot, {})
        for code in sorted(known.keys() | seen.keys()):
            if code not in known:
                unexpected.append(UnexpectedCode(bot_id=bot, code=code, count=seen[code]))
            elif known[code] != seen.get(code, 0):
                changes.append(
                    CountChange(
                        bot_id=bot, code=code, baseline=known[code], observed=seen.get(code, 0)
                    )
                )
    return unexpected, changes


# ---------------------------------------------------------------------------- baseline
def baseline_path(directory: Path) -> Path:
    """The baseline file inside ``directory``."""
    return directory / BASELINE_FILE


def load_baseline(directory: Path) -> ReplayBaseline:
    """Read ``directory/baseline.json``.

    Raises:
        ReplayError: missing, unreadable, malformed, or of another format version.
    """
    path = baseline_path(directory)
    try:
        baseline = msgspec.json.decode(path.read_bytes(), type=ReplayBaseline)
    except OSError as exc:
        raise ReplayError(f"--baseline {directory}: cannot read {path}: {exc.strerror}") from exc
    except msgspec.DecodeError as exc:
        raise ReplayError(f"--baseline {directory}: {path} is not a baseline: {exc}") from exc
    if baseline.format != BASELINE_FORMAT:
        raise ReplayError(
            f"--baseline {directory}: format {baseline.format}, this version reads "
            f"{BASELINE_FORMAT}"
        )
    return baseline


def write_baseline(baseline: ReplayBaseline, directory: Path) -> Path:
    """Write ``directory/baseline.json`` (sorted keys, 2-space indent, newline-terminated:
    diffs of a re-recorded baseline show exactly the counts that moved); returns its path.

    Raises:
        OSError: the folder cannot be created or the file written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = baseline_path(directory)
    text = json.dumps(msgspec.to_builtins(baseline), indent=2, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def record_baseline(
    *, data: str, desk: Path | None, work_dir: Path, seed: int | None = None
) -> ReplayBaseline:
    """Run the backtest once (in its own process, as the check does) and describe it as a
    baseline. ``data`` is recorded as given (for the reader); the check compares the digest.

    Raises:
        ReplayError: unusable desk, seed or data, or the run wrote no timeline.
    """
    desk_file = load_desk(desk, seed)
    identity = desk_identity(desk_file)
    digest = _digest(data)
    (run,) = run_timelines(
        data=data, desk=desk, work_dir=work_dir, hash_seeds=pick_hash_seeds()[:1], seed=seed
    )
    if run.status in _FAILED_STATUSES:
        raise ReplayError(f"the run ended {run.status} ({run.status_detail}): no baseline")
    return ReplayBaseline(
        polytraders_version=__version__,
        data=data,
        data_digest=digest,
        seed=desk_file.seed,
        desk_config_version=identity.config_version,
        desk_declared_version=identity.declared_version,
        bot_code_sha256=identity.code_sha256,
        run_id=run.run_id,
        status=run.status,
        envelopes=run.envelopes,
        envelopes_sha256=run.envelopes_sha256,
        reason_codes=reason_code_counts(run.out_dir),
    )


def _digest(data: str) -> str:
    try:
        return data_digest(data)
    except OSError as exc:
        raise ReplayError(f"--data {data}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------------------- the check
def input_differences(
    baseline: ReplayBaseline, identity: DeskIdentity, digest: str, seed: int
) -> tuple[list[str], list[str], bool]:
    """(how the inputs differ from the baseline's, bots whose code changed, whether counts
    are enforced: same data digest, seed and declared desk)."""
    differences: list[str] = []
    if baseline.data_digest != digest:
        differences.append(
            f"data digest {digest} differs from the baseline's {baseline.data_digest} "
            f"({baseline.data})"
        )
    if baseline.seed != seed:
        differences.append(f"seed {seed} differs from the baseline's {baseline.seed}")
    if baseline.desk_declared_version != identity.declared_version:
        differences.append(
            f"the desk ({identity.declared_version}: bots, configs, venue) differs from the "
            f"baseline's ({baseline.desk_declared_version})"
        )
    enforced = not differences
    if baseline.polytraders_version != __version__:
        differences.append(
            f"polytraders {__version__} replays a baseline recorded by "
            f"{baseline.polytraders_version}"
        )
    code_changes = [
        f"{bot}: code {digest_now[:12]}… (baseline "
        f"{baseline.bot_code_sha256.get(bot, 'absent')[:12]}…)"
        for bot, digest_now in identity.code_sha256.items()
        if baseline.bot_code_sha256.get(bot) != digest_now
    ]
    return differences, code_changes, enforced


def check_replay(
    *,
    data: str,
    desk: Path | None,
    baseline_dir: Path,
    work_dir: Path,
    seed: int | None = None,
    hash_seeds: tuple[int, int] | None = None,
) -> ReplayReport:
    """Run ``data`` through the desk twice (separate processes, different hash seeds) and
    compare the runs with each other and with the baseline in ``baseline_dir`` (module
    docstring for what fails).

    Args:
        data: the data set, as ``polytraders backtest --data`` takes it.
        desk: the desk file (None: the default desk).
        baseline_dir: the folder holding ``baseline.json``.
        work_dir: where the two runs write their outputs (``run-0``, ``run-1``).
        seed: replaces the desk's seed (None: the desk file's).
        hash_seeds: the two ``PYTHONHASHSEED`` values (None: two random different ones);
            they must differ and lie in 1 … 2³²−1.

    Raises:
        ReplayError: unusable baseline, desk, seed, data or hash seeds, or a run that wrote
            no timeline.
    """
    baseline = load_baseline(baseline_dir)
    desk_file = load_desk(desk, seed)
    identity = desk_identity(desk_file)
    digest = _digest(data)
    seeds = hash_seeds if hash_seeds is not None else pick_hash_seeds()
    if seeds[0] == seeds[1] or not all(1 <= s <= _HASH_SEED_MAX for s in seeds):
        raise ReplayError(f"hash seeds {seeds}: need two different values in 1 … {_HASH_SEED_MAX}")
    first, second = run_timelines(
        data=data, desk=desk, work_dir=work_dir, hash_seeds=seeds, seed=seed
    )
    failures: list[str] = []
    differences = run_differences(first, second)
    failures += [f"nondeterministic: {d}" for d in differences]
    for run in (first, second):
        if run.status in _FAILED_STATUSES:
            failures.append(
                f"the run under PYTHONHASHSEED={run.hash_seed} ended {run.status}: "
                f"{run.status_detail}"
            )
    observed = reason_code_counts(first.out_dir)
    unexpected, changes = compare_counts(baseline.reason_codes, observed)
    failures += [
        f"unexpected reason code {u.code} from {u.bot_id} ({u.count:,} times; not in the baseline)"
        for u in unexpected
    ]
    inputs, code_changes, enforced = input_differences(baseline, identity, digest, desk_file.seed)
    if enforced:
        because = f" (bots whose code changed: {'; '.join(code_changes)})" if code_changes else ""
        failures += [
            f"count changed on the baseline's data and desk: {c.bot_id} {c.code} "
            f"{c.baseline:,} → {c.observed:,}{because}"
            for c in changes
        ]
        if first.status != baseline.status:
            failures.append(f"the run ended {first.status}, the baseline's {baseline.status}")
    return ReplayReport(
        baseline_dir=str(baseline_dir),
        runs=[first, second],
        identical=not differences,
        run_differences=differences,
        reason_codes=observed,
        unexpected=unexpected,
        count_changes=changes,
        counts_enforced=enforced,
        input_differences=inputs,
        code_changes=code_changes,
        timeline_matches_baseline=first.envelopes_sha256 == baseline.envelopes_sha256,
        failures=failures,
    )


# ---------------------------------------------------------------------------- the run process
def worker_main(argv: Sequence[str] | None = None) -> int:
    """One run of the check (``python -m polytraders.backtest.replay_check``): the backtest
    engine over ``--data`` with ``--desk`` (default desk) and ``--seed`` (the desk's own when
    absent), outputs in ``--out``. Exit 0 when the outputs were written, whatever the run's
    status (the check reads it from result.json); 2 with one line on stderr when refused."""
    from polytraders.backtest.engine import RunRefusedError, run_desk

    parser = argparse.ArgumentParser(prog="python -m polytraders.backtest.replay_check")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--desk", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        desk = load_desk(args.desk, args.seed)
        run_desk(data=args.data, desk_file=desk, out_dir=args.out)
    except (ReplayError, RunRefusedError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(worker_main())
