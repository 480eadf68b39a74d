"""User strategies are first-class in desk files: source, mode, config, identity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.backtest.desk_file import DeskFile, DeskFileError
from polytraders.cli import app

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "strategies" / "touch_quoter.py"
SYNTHETIC = "synthetic:normal?seed=3&markets=1"


def _desk(tmp_path: Path, text: str) -> Path:
    shutil.copy(EXAMPLE, tmp_path / "touch_quoter.py")
    path = tmp_path / "desk.toml"
    path.write_text(text)
    return path


def _envelopes(out: Path) -> list[dict]:
    lines = (out / "envelopes.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_a_desk_file_runs_a_user_strategy_with_its_mode_and_config(tmp_path: Path) -> None:
    desk = _desk(
        tmp_path,
        '[[strategies]]\nsource = "touch_quoter.py:TouchQuoter"\nmode = "SHADOW"\n'
        "[strategies.config]\nquote_size_shares_micros = 20_000_000\n",
    )
    out = tmp_path / "out"
    completed = runner.invoke(
        app, ["backtest", "--data", SYNTHETIC, "--desk", str(desk), "--out", str(out)]
    )
    assert completed.exit_code == 0, completed.output
    loaded = DeskFile.load(desk)
    version = (
        loaded.bot_class(loaded.strategies[0])
        .Config(quote_size_shares_micros=20_000_000)
        .config_version
    )
    mine = [e for e in _envelopes(out) if e["bot_id"] == "strat.touch_quoter"]
    assert mine, "the user strategy ran"
    assert {e["mode"] for e in mine} == {"SHADOW"}
    assert {e["config_version"] for e in mine} == {version}
    # a SHADOW strategy never trades
    result = json.loads((out / "result.json").read_text())
    assert result["orders"] == 0
    # the report records the desk that ran: the user strategy, its mode, its config
    page = (out / "report.html").read_text()
    assert "strat.touch_quoter" in page and "SHADOW" in page
    assert "strat.maker_tight" not in page


def test_strategy_option_keeps_the_desk_files_mode_and_config(tmp_path: Path) -> None:
    desk = _desk(
        tmp_path,
        '[[strategies]]\nid = "strat.touch_quoter"\nsource = "touch_quoter.py:TouchQuoter"\n'
        'mode = "ADVISORY"\n[strategies.config]\nstop_before_end_s = 120\n',
    )
    loaded = DeskFile.load(desk).with_strategy(f"{EXAMPLE}:TouchQuoter")
    (entry,) = loaded.strategies
    assert entry.mode.value == "ADVISORY"
    assert entry.config == {"stop_before_end_s": 120}
    # without an entry for it, the strategy runs ENFORCED with its defaults
    (plain,) = DeskFile().with_strategy(f"{EXAMPLE}:TouchQuoter").strategies
    assert plain.mode.value == "ENFORCED" and plain.config == {}


def test_run_id_covers_the_code_of_every_bot(tmp_path: Path) -> None:
    desk = _desk(tmp_path, '[[strategies]]\nsource = "touch_quoter.py:TouchQuoter"\n')
    first = DeskFile.load(desk).config_version
    # the same code elsewhere is the same desk
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(desk, other / "desk.toml")
    shutil.copy(tmp_path / "touch_quoter.py", other / "touch_quoter.py")
    assert DeskFile.load(other / "desk.toml").config_version == first
    # one changed byte in the strategy's code is another desk
    code = other / "touch_quoter.py"
    code.write_text(code.read_text() + "\n# changed\n")
    (other / "desk2.toml").write_text('[[strategies]]\nsource = "touch_quoter.py:TouchQuoter"\n')
    assert DeskFile.load(other / "desk2.toml").config_version != first
    canonical = DeskFile.load(desk).canonical()
    assert all(
        len(e["code_sha256"]) == 64
        for s in ("strategies", "risk", "execution")
        for e in canonical[s]
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[risk]]\nid = "risk.killswitch"\n[[risk]]\nid = "risk.killswitch"\n',
            "duplicate bot id risk.killswitch",
        ),
        ("risk = []\n", "allow_no_risk"),
        ('[[strategies]]\nsource = "missing.py:Nope"\n', "missing.py: no such file"),
        ('[[strategies]]\nsource = "touch_quoter.py:Nope"\n', "no class 'Nope'"),
        ('[[strategies]]\nsource = "touch_quoter.py"\n', "use FILE.py:Class"),
        (
            '[[strategies]]\nid = "strat.other"\nsource = "touch_quoter.py:TouchQuoter"\n',
            "bot_id is 'strat.touch_quoter'",
        ),
        ('[[risk]]\nsource = "touch_quoter.py:TouchQuoter"\n', "is a strategy bot, not risk"),
        (
            '[[strategies]]\nsource = "touch_quoter.py:TouchQuoter"\n'
            "[strategies.config]\nquote_size_shares_micros = 1\n",
            "quote_size_shares_micros",
        ),
        ('[[strategies]]\nmode = "ENFORCED"\n', "needs an id"),
    ],
)
def test_bad_desk_entries_are_refused_naming_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    desk = _desk(tmp_path, text)
    with pytest.raises(DeskFileError) as caught:
        DeskFile.load(desk)
    assert message in caught.value.one_line()
    completed = runner.invoke(
        app, ["backtest", "--data", SYNTHETIC, "--desk", str(desk), "--out", str(tmp_path / "o")]
    )
    assert completed.exit_code == 2
    (line,) = [ln for ln in completed.output.splitlines() if ln.strip()]
    assert line.startswith("error: ") and message in line
    assert not (tmp_path / "o").exists()


def test_a_strategy_that_fails_to_import_is_refused_with_its_error(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "desk.toml").write_text('[[strategies]]\nsource = "broken.py:Broken"\n')
    with pytest.raises(DeskFileError, match="RuntimeError: boom at import"):
        DeskFile.load(tmp_path / "desk.toml")


def test_an_empty_risk_chain_runs_only_when_allowed_and_is_bannered(tmp_path: Path) -> None:
    desk = _desk(tmp_path, "allow_no_risk = true\nrisk = []\n")
    out = tmp_path / "out"
    completed = runner.invoke(
        app, ["backtest", "--data", SYNTHETIC, "--desk", str(desk), "--out", str(out)]
    )
    assert completed.exit_code == 0, completed.output
    assert "NO RISK CHAIN" in completed.output
    # only the desk's own gate decides on intents (bot id "desk"), no risk bot
    assert {e["bot_id"] for e in _envelopes(out) if e["bot_class"] == "risk"} == {"desk"}
