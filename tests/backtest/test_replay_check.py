"""The replay regression check (issue 15 item 2): the shipped sample replays byte-identically in
two processes with different PYTHONHASHSEEDs and matches the committed baseline
``runs/replay/default``; a bot that emits a code the baseline lacks fails the check, named."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from polytraders.backtest.replay_check import (
    ReplayBaseline,
    TimelineRun,
    compare_counts,
    desk_identity,
    input_differences,
    load_baseline,
    load_desk,
    run_differences,
)
from polytraders.commands.replay import app as replay_app
from tests.conftest import REPO

BASELINE_DIR = REPO / "runs" / "replay" / "default"
runner = CliRunner()


def _cli() -> typer.Typer:
    """``polytraders replay`` mounted as cli.py mounts its sub-apps."""
    app = typer.Typer()
    app.add_typer(replay_app, name="replay")

    @app.command()
    def version() -> None:  # a second command keeps ``replay`` a sub-command
        """Unused."""

    return app


def test_the_shipped_sample_replays_identically_and_matches_the_committed_baseline(
    polymarket_sample: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    completed = runner.invoke(
        _cli(),
        [
            "replay", "check", "--data", str(polymarket_sample), "--baseline", str(BASELINE_DIR),
            "--json", "--work-dir", str(work),
        ],
    )  # fmt: skip
    assert completed.exit_code == 0, completed.output
    report = json.loads(completed.output)
    assert report["passed"] is True
    assert report["identical"] is True
    first, second = report["runs"]
    assert first["hash_seed"] != second["hash_seed"]
    assert (work / "run-0" / "envelopes.jsonl").read_bytes() == (
        work / "run-1" / "envelopes.jsonl"
    ).read_bytes()
    # the same data, seed and desk as the committed baseline: counts are enforced, and equal
    assert report["counts_enforced"] is True
    assert report["count_changes"] == [] and report["unexpected"] == []
    baseline = load_baseline(BASELINE_DIR)
    assert report["reason_codes"] == baseline.reason_codes
    # counted independently of the check: every code of every envelope line, by bot
    counted: dict[str, dict[str, int]] = {}
    for line in (work / "run-0" / "envelopes.jsonl").open():
        envelope = json.loads(line)
        bot = counted.setdefault(envelope["bot_id"], {})
        for code in envelope["reason_codes"]:
            bot[code] = bot.get(code, 0) + 1
    venue = {k: v for k, v in baseline.reason_codes.items() if k == "venue"}
    assert {**counted, **venue} == baseline.reason_codes


_DOUBLE = '''
"""A test double: strat.maker_tight that also reports STRAT_INVENTORY_LIMIT (registered and
declared by the bot) whenever it places quotes."""

from polytraders.bots.strategy.maker_tight import MakerTight
from polytraders.contracts.decisions import Proposal


class ExtraCode(MakerTight):
    def decide(self, event, view, /):
        proposal = super().decide(event, view)
        if "STRAT_QUOTES_PLACED" in proposal.reason_codes:
            codes = (*proposal.reason_codes, "STRAT_INVENTORY_LIMIT")
            return Proposal(intents=proposal.intents, reason_codes=codes)
        return proposal
'''


def test_a_new_reason_code_in_a_bots_output_fails_the_check_naming_it(
    polymarket_sample: Path, tmp_path: Path
) -> None:
    (tmp_path / "double.py").write_text(textwrap.dedent(_DOUBLE))
    desk = tmp_path / "desk.toml"
    desk.write_text('[[strategies]]\nsource = "double.py:ExtraCode"\n')
    completed = runner.invoke(
        _cli(),
        [
            "replay", "check", "--data", str(polymarket_sample), "--baseline", str(BASELINE_DIR),
            "--desk", str(desk),
        ],
    )  # fmt: skip
    assert completed.exit_code == 1, completed.output
    text = " ".join(completed.output.split())
    assert "unexpected reason code STRAT_INVENTORY_LIMIT from strat.maker_tight" in text
    assert "timelines byte-identical" in text
    # the double declares the same bot and config: only its code differs from the baseline's
    assert "code changed since the baseline: strat.maker_tight" in text
    fails = [line for line in completed.output.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1, completed.output


def test_compare_counts_names_unexpected_codes_and_changes() -> None:
    baseline = {"risk.a": {"RISK_X": 3, "RISK_Y": 1}, "strat.s": {}}
    observed = {"risk.a": {"RISK_X": 3, "RISK_Z": 2}, "strat.s": {"STRAT_N": 1}, "exec.e": {}}
    unexpected, changes = compare_counts(baseline, observed)
    assert [(u.bot_id, u.code, u.count) for u in unexpected] == [
        ("risk.a", "RISK_Z", 2),
        ("strat.s", "STRAT_N", 1),
    ]
    assert [(c.bot_id, c.code, c.baseline, c.observed) for c in changes] == [
        ("risk.a", "RISK_Y", 1, 0)
    ]
    assert compare_counts(baseline, baseline) == ([], [])


def test_a_baseline_lacking_a_code_makes_it_unexpected() -> None:
    baseline = load_baseline(BASELINE_DIR)
    edited = {bot: dict(codes) for bot, codes in baseline.reason_codes.items()}
    count = edited["risk.stalebookguard"].pop("RISK_STALEBOOK_TOO_OLD")
    unexpected, changes = compare_counts(edited, baseline.reason_codes)
    assert [(u.bot_id, u.code, u.count) for u in unexpected] == [
        ("risk.stalebookguard", "RISK_STALEBOOK_TOO_OLD", count)
    ]
    assert changes == []


def _baseline(**changes: object) -> ReplayBaseline:
    identity = desk_identity(load_desk(None))
    fields: dict[str, object] = {
        "polytraders_version": "0.1.0",
        "data": "d",
        "data_digest": "abc",
        "seed": 7,
        "desk_config_version": identity.config_version,
        "desk_declared_version": identity.declared_version,
        "bot_code_sha256": identity.code_sha256,
        "run_id": "run-x",
        "status": "COMPLETED",
        "envelopes": 1,
        "envelopes_sha256": "0" * 64,
        "reason_codes": {},
        **changes,
    }
    return ReplayBaseline(**fields)  # type: ignore[arg-type]


def test_counts_are_enforced_only_on_the_baselines_data_seed_and_desk() -> None:
    identity = desk_identity(load_desk(None))
    same, code_changes, enforced = input_differences(_baseline(), identity, "abc", 7)
    assert enforced and code_changes == []
    assert all("polytraders" in line for line in same)  # at most a version note
    other_seed = input_differences(_baseline(), identity, "abc", 8)
    assert other_seed[2] is False and "seed 8 differs" in other_seed[0][0]
    other_data = input_differences(_baseline(), identity, "def", 7)
    assert other_data[2] is False and "data digest def" in other_data[0][0]
    stale_code = dict(identity.code_sha256, **{"risk.killswitch": "f" * 64})
    _, changed, enforced = input_differences(
        _baseline(bot_code_sha256=stale_code), identity, "abc", 7
    )
    assert enforced  # the same declared desk: a code change is a behaviour change to explain
    assert len(changed) == 1 and changed[0].startswith("risk.killswitch")


def _run(out_dir: Path, lines: list[bytes], hash_seed: int) -> TimelineRun:
    import hashlib

    out_dir.mkdir()
    (out_dir / "envelopes.jsonl").write_bytes(b"".join(lines))
    digest = hashlib.sha256(b"".join(lines)).hexdigest()
    (out_dir / "result.json").write_text(
        json.dumps({"run_id": "r", "envelopes_sha256": digest, "wall_s": hash_seed})
    )
    return TimelineRun(
        hash_seed=hash_seed,
        out_dir=out_dir,
        run_id="r",
        status="COMPLETED",
        status_detail="",
        envelopes=len(lines),
        envelopes_sha256=digest,
        file_sha256=digest,
        wall_s=0.0,
    )


def test_run_differences_finds_one_changed_byte(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", [b'{"x":1}\n', b'{"x":2}\n'], 1)
    b = _run(tmp_path / "b", [b'{"x":1}\n', b'{"x":3}\n'], 2)
    same = _run(tmp_path / "c", [b'{"x":1}\n', b'{"x":2}\n'], 3)
    assert run_differences(a, same) == []  # wall_s differs: not a difference
    problems = run_differences(a, b)
    assert any("first at line 2" in p for p in problems)
    assert any(p.startswith("envelopes_sha256") for p in problems)
    assert any("result.json differs in envelopes_sha256" in p for p in problems)


_PACK_TIMELINE = """
import sys
from polytraders.contracts.envelope import encode_envelope
from polytraders.readiness.packs import CASES, load_pack, pack_path, run_case
from polytraders.bots.registry import BOTS
for bot_id in sorted(BOTS):
    for case in CASES:
        run = run_case(load_pack(pack_path(bot_id, case)))
        for envelope in run.envelopes:
            sys.stdout.buffer.write(encode_envelope(envelope) + b"\\n")
"""


def test_wire_example_cases_replay_identically_under_different_hash_seeds() -> None:
    """Every bot's fixture cases (whose envelopes are the specs' section-21 wire examples)
    give byte-identical envelopes in two processes with different PYTHONHASHSEEDs: the part of
    the replay check the in-process spec tests and the wire_examples_replay gate cannot see."""
    outputs = []
    for hash_seed in ("101", "202"):
        completed = subprocess.run(
            [sys.executable, "-c", _PACK_TIMELINE],
            env={**_env(), "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
        assert completed.returncode == 0, completed.stderr
        outputs.append(completed.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") >= 36  # nine bots × four cases, at least one envelope each


def _env() -> dict[str, str]:
    import os

    src = str(REPO / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, str(REPO)])}


@pytest.mark.parametrize("seeds", ["1", "3,3", "a,b"])
def test_bad_hash_seeds_are_refused(seeds: str, tmp_path: Path) -> None:
    completed = runner.invoke(
        _cli(),
        [
            "replay", "check", "--data", "synthetic:normal?seed=1&markets=1",
            "--baseline", str(BASELINE_DIR), "--hash-seeds", seeds,
        ],
    )  # fmt: skip
    assert completed.exit_code == 2, completed.output


def test_a_missing_baseline_is_refused(tmp_path: Path) -> None:
    completed = runner.invoke(
        _cli(),
        ["replay", "check", "--data", "synthetic:normal?seed=1", "--baseline", str(tmp_path)],
    )
    assert completed.exit_code == 2
    assert "cannot read" in completed.output
