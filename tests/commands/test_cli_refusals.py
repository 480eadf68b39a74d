"""Bad options are refused before anything runs: a non-zero exit and one line naming the option."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.contracts.reasons import load_registry

runner = CliRunner()
SYNTHETIC = "synthetic:normal?seed=3&markets=1"


def _refused(args: list[str], *needles: str) -> str:
    completed = runner.invoke(app, args)
    assert completed.exit_code == 2, completed.output
    lines = [ln for ln in completed.output.splitlines() if ln.strip()]
    assert len(lines) == 1, completed.output
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


@pytest.mark.parametrize("speed", ["0", "-2"])
def test_speed_must_be_positive(tmp_path: Path, speed: str) -> None:
    _refused(
        ["run", "--data", SYNTHETIC, "--speed", speed, "--out", str(tmp_path / "o")], "--speed"
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("port", ["0", "70000"])
def test_metrics_port_out_of_range(tmp_path: Path, port: str) -> None:
    _refused(
        ["run", "--data", SYNTHETIC, "--metrics-port", port, "--out", str(tmp_path / "o")],
        f"--metrics-port {port}",
        "out of range",
    )


def test_busy_metrics_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _refused(
            ["run", "--data", SYNTHETIC, "--metrics-port", str(port), "--out", str(tmp_path / "o")],
            f"--metrics-port {port}",
        )


def test_out_pointing_at_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "result.txt"
    target.write_text("mine")
    _refused(["backtest", "--data", SYNTHETIC, "--out", str(target)], "--out", "is a file")
    assert target.read_text() == "mine"


def test_out_holding_other_files_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "home"
    target.mkdir()
    (target / "thesis.tex").write_text("precious")
    _refused(["backtest", "--data", SYNTHETIC, "--out", str(target)], "thesis.tex")
    assert (target / "thesis.tex").read_text() == "precious"


def test_venue_polymarket_refuses_options_it_does_not_take(tmp_path: Path) -> None:
    for option, value in (("--data", SYNTHETIC), ("--speed", "2")):
        _refused(["run", "--venue", "polymarket", option, value, "--paper"], option, "live")
    _refused(["run", "--venue", "polymarket", "--realtime", "--paper"], "--realtime")
    # --desk, --strategy and --metrics-port reach the live command, which refuses bad ones
    common = ["--paper", "--markets", "0xabc", "--out", str(tmp_path / "o")]
    _refused(
        ["run", "--venue", "polymarket", "--desk", "x.toml", *common], "x.toml: invalid desk file"
    )
    _refused(["run", "--venue", "polymarket", "--strategy", "x.py:X", *common], "x.py")
    _refused(
        ["run", "--venue", "polymarket", "--metrics-port", "70000", *common],
        "--metrics-port 70000",
        "out of range",
    )
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    _refused(
        ["run", "--venue", "polymarket", "--paper", "--markets", "0xabc", "--out",
         str(tmp_path / "mine")],
        "thesis.tex",
    )  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # nothing else was made


def test_unknown_venue_is_refused() -> None:
    _refused(["run", "--venue", "kraken"], "--venue kraken")


def test_debug_prints_the_traceback(tmp_path: Path) -> None:
    completed = runner.invoke(
        app, ["--debug", "run", "--data", SYNTHETIC, "--metrics-port", "0", "--out", str(tmp_path)]
    )
    assert completed.exit_code == 2
    # a refusal raised by our own check has no exception behind it; a desk-file error does
    desk = tmp_path / "bad.toml"
    desk.write_text("seed = -1\n")
    completed = runner.invoke(
        app, ["--debug", "run", "--desk", str(desk), "--out", str(tmp_path / "o")]
    )
    assert completed.exit_code == 2
    assert "Traceback" in completed.output
    assert completed.output.strip().splitlines()[-1].startswith("error: ")


def test_rerun_into_the_same_out_replaces_every_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for _ in range(2):
        completed = runner.invoke(app, ["backtest", "--data", SYNTHETIC, "--out", str(out)])
        assert completed.exit_code == 0, completed.output
        result = json.loads((out / "result.json").read_text())
        digest = hashlib.sha256((out / "envelopes.jsonl").read_bytes()).hexdigest()
        assert digest == result["envelopes_sha256"]
    assert sorted(p.name for p in out.iterdir()) == [
        "envelopes.jsonl",
        "fills.csv",
        "report.html",
        "result.json",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left


def test_version_option() -> None:
    completed = runner.invoke(app, ["--version"])
    assert completed.exit_code == 0
    from polytraders import __version__

    assert completed.output.strip() == __version__


def test_reasons_piped_prints_one_code_per_line() -> None:
    completed = runner.invoke(app, ["reasons"])  # CliRunner's stdout is not a terminal
    assert completed.exit_code == 0
    lines = completed.output.splitlines()
    registry = load_registry()
    assert len(lines) == len(registry)
    codes = [line.split("\t")[0] for line in lines]
    assert codes == list(registry)
    assert all(len(line.split("\t")) == 4 for line in lines)


def test_default_data_resolves_outside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    from polytraders.feeds.samples import sample_path
    from polytraders.simclob.server import SimSettings

    assert (sample_path() / "books.parquet").is_file()
    assert SimSettings().data_path == sample_path()


@pytest.mark.parametrize(
    ("store", "needle"),
    [
        ("mysql://user@127.0.0.1/db", "mysql"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/test", "127.0.0.1:1"),
    ],
)
def test_a_bad_store_is_refused_in_one_line(tmp_path: Path, store: str, needle: str) -> None:
    _refused(["run", "--data", SYNTHETIC, "--store", store, "--out", str(tmp_path / "o")], needle)
    assert not (tmp_path / "o").exists()


def test_a_store_path_that_cannot_be_a_file_is_refused(tmp_path: Path) -> None:
    # (read-only folders and files are refused too: tests/store/test_open_failures.py checks
    # them as an unprivileged user, since root ignores permissions)
    (tmp_path / "plain").write_text("")
    _refused(
        ["run", "--data", SYNTHETIC, "--store", str(tmp_path / "plain" / "desk.sqlite"),
         "--out", str(tmp_path / "o")],
        "plain",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ("nowhere/at/all", "nowhere/at/all"),
        ("synthetic:nonsense?seed=1", "nonsense"),
    ],
)
def test_bad_data_is_refused_and_nothing_recorded_earlier_is_lost(
    tmp_path: Path, data: str, needle: str
) -> None:
    store = str(tmp_path / "desk.sqlite")
    first = runner.invoke(
        app, ["run", "--data", SYNTHETIC, "--store", store, "--out", str(tmp_path / "a")]
    )
    assert first.exit_code == 0, first.output
    _refused(["run", "--data", data, "--store", store, "--out", str(tmp_path / "a")], needle)
    # the earlier run's outputs and its record are untouched
    result = json.loads((tmp_path / "a" / "result.json").read_text())
    digest = hashlib.sha256((tmp_path / "a" / "envelopes.jsonl").read_bytes()).hexdigest()
    assert digest == result["envelopes_sha256"]
    from polytraders.store import EventStore

    with EventStore.open(store) as recorded:
        (run,) = recorded.runs()
        assert run.status.value == "COMPLETED"
        assert recorded.check_integrity(run.ref) == []


def test_a_store_inside_out_is_refused_in_every_mode(tmp_path: Path) -> None:
    """Each run replaces --out's contents whole: a SQLite store in there would be deleted."""
    out = tmp_path / "out"
    store = str(out / "desk.sqlite")
    _refused(["run", "--data", SYNTHETIC, "--out", str(out), "--store", store], "inside --out")
    _refused(["backtest", "--data", SYNTHETIC, "--out", str(out), "--store", store], "--store")
    _refused(
        ["run", "--venue", "polymarket", "--paper", "--markets", "0xabc", "--out", str(out),
         "--store", f"sqlite:///{store}"],
        "inside --out",
    )  # fmt: skip
    assert not out.exists()
