"""``polytraders shadow compare|list|show|review`` through the command line (the app mounted
here under the name the top-level CLI gives it: ``shadow``): what a comparison prints, writes
and records, reviewing its divergences, and the refusals with their exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from polytraders.commands.shadow import app as shadow_app
from polytraders.store import EventStore
from polytraders.store.shadow_comparisons import comparisons, unreviewed
from tests.backtest.shadow_data import STALE, STALE_LOOSE_MS, subset

cli = typer.Typer()
cli.add_typer(shadow_app, name="shadow")
runner = CliRunner()

RISK = (
    "risk.killswitch",
    "risk.compliancegate",
    "risk.markethaltguard",
    STALE,
    "risk.marketqualityguard",
    "risk.drawdownguard",
    "risk.exposureguard",
)


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _desks(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    baseline = folder / "baseline.toml"
    baseline.write_text("seed = 7\n")
    lines = ["seed = 7"]
    for bot in RISK:
        lines += ["[[risk]]", f'id = "{bot}"']
        if bot == STALE:
            lines += ["[risk.config]", f"max_book_age_ms = {STALE_LOOSE_MS}"]
    candidate = folder / "candidate.toml"
    candidate.write_text("\n".join(lines) + "\n")
    return baseline, candidate


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """One ``shadow compare`` into a fresh store: (folder, stdout, the comparison id)."""
    folder = tmp_path_factory.mktemp("shadow-cli")
    baseline, candidate = _desks(folder / "desks")
    code, out, err = _invoke(
        "shadow",
        "compare",
        "--baseline",
        str(baseline),
        "--candidate",
        str(candidate),
        "--data",
        str(subset()),
        "--out",
        str(folder / "out"),
        "--store",
        str(folder / "store" / "desk.sqlite"),
        "--operator",
        "ana",
    )
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("comparison sc-")
    return folder, out, first.split()[1]


@pytest.fixture
def store_copy(compared: tuple[Path, str, str], tmp_path: Path) -> str:
    """A copy of the compared store, for a test that writes to it."""
    folder, _, _ = compared
    shutil.copytree(folder / "store", tmp_path / "store")
    return str(tmp_path / "store" / "desk.sqlite")


def test_compare_prints_every_figure_per_bot(compared: tuple[Path, str, str]) -> None:
    _, out, comparison_id = compared
    for bot in RISK:
        assert f"\n{bot}  (config " in out
    stale = out.split(f"\n{STALE}  (config ")[1].split("\n\n")[0]
    assert "kappa 0." in stale and "95 % lower bound of verdict agreement" in stale
    assert "baseline \\ candidate APPROVE  REJECT RESHAPE    HALT  ABSENT" in stale
    assert "UNSAFE strat.maker_tight/" in stale
    assert "REJECT [RISK_STALEBOOK_TOO_OLD] → APPROVE" in stale
    assert "execution parity" in out and "orders" in out and "PnL" in out
    parity = out.split("execution parity")[1]
    assert parity.count(" pUSD ") == 2 and "USDT" not in parity  # PnL and exposure, labelled
    assert f"{comparison_id} recorded" in out


def test_compare_writes_the_outputs_and_records_the_comparison(
    compared: tuple[Path, str, str],
) -> None:
    folder, _, comparison_id = compared
    document = json.loads((folder / "out" / "comparison.json").read_text())
    assert document["comparison_id"] == comparison_id
    assert document["currency"] == "pUSD"
    stale = next(b for b in document["bots"] if b["bot_id"] == STALE)
    lines = (folder / "out" / "divergences.jsonl").read_text().splitlines()
    divergences = [json.loads(x) for x in lines if json.loads(x)["type"] == "divergence"]
    assert len(divergences) == stale["divergences"] == stale["unsafe_divergences"] > 0
    with EventStore.open(folder / "store" / "desk.sqlite", create=False) as store:
        rows = comparisons(store, comparison_id=comparison_id)
        assert {r.bot_id for r in rows} >= set(RISK)
        row = next(r for r in rows if r.bot_id == STALE)
        assert len(row.divergences) == len(divergences)
        assert len(unreviewed(store, rows)) == len(divergences)


def test_the_same_comparison_again_is_already_on_record(
    compared: tuple[Path, str, str], store_copy: str, tmp_path: Path
) -> None:
    _, _, comparison_id = compared
    baseline, candidate = _desks(tmp_path / "desks")
    code, out, err = _invoke(
        "shadow",
        "compare",
        "--baseline",
        str(baseline),
        "--candidate",
        str(candidate),
        "--data",
        str(subset()),
        "--store",
        store_copy,
        "--no-parity",
        "--json",
    )
    assert code == 0, err
    document = json.loads(out)
    assert document["comparison_id"] == comparison_id
    assert document["recorded"] is False
    assert document["parity"] is None and document["candidate"] is None


def test_list_show_and_review_a_divergence(
    compared: tuple[Path, str, str], store_copy: str
) -> None:
    _, _, comparison_id = compared
    code, out, _ = _invoke("shadow", "list", STALE, "--store", store_copy)
    assert code == 0
    assert out.startswith(comparison_id) and "reviewed 0)" in out
    code, out, _ = _invoke("shadow", "show", comparison_id, "--store", store_copy, "--json")
    assert code == 0
    shown = json.loads(out)["divergences"]
    first = shown[0]
    assert first["unsafe"] is True and first["verdicts"] == {}
    assert (
        json.loads(first["candidate"]["envelope"])["envelope_id"]
        == (first["candidate"]["envelope_id"])
    )
    code, out, err = _invoke(
        "shadow",
        "review",
        comparison_id,
        first["candidate"]["envelope_id"],
        "--incorrect",
        "--reviewer",
        "cyd",
        "--note",
        "30 s is too old here",
        "--store",
        store_copy,
    )
    assert code == 0, err
    assert "judged incorrect by cyd" in out
    code, out, _ = _invoke("shadow", "show", comparison_id, "--store", store_copy, "--bot", STALE)
    assert "[cyd: incorrect]" in out.splitlines()[1]
    code, out, _ = _invoke("shadow", "list", STALE, "--store", store_copy, "--json")
    assert json.loads(out)[0]["reviewed"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "sc-0000000000000000"), "no shadow comparison"),
        (
            ("review", "sc-0000000000000000", "run-x/e1", "--correct", "--reviewer", "cyd"),
            "no shadow comparison",
        ),
        (
            ("review", "sc-0000000000000000", "run-x/e1", "--reviewer", "cyd"),
            "exactly one of --correct and --incorrect",
        ),
        (("list", "risk.nosuchguard"), "unknown bot"),
    ],
)
def test_refusals_of_the_store_commands(
    store_copy: str, args: tuple[str, ...], message: str
) -> None:
    code, _, err = _invoke("shadow", *args, "--store", store_copy)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_refusals_of_compare(tmp_path: Path) -> None:
    baseline, candidate = _desks(tmp_path / "desks")
    broken = tmp_path / "broken.toml"
    broken.write_text('[[risk]]\nid = "risk.nosuchguard"\n')
    common = ("--data", str(subset()), "--no-store")
    code, _, err = _invoke(
        "shadow", "compare", "--baseline", str(broken), "--candidate", str(candidate), *common
    )
    assert code == 2 and err.startswith("error: --baseline:")
    code, _, err = _invoke(
        "shadow",
        "compare",
        "--baseline",
        str(baseline),
        "--candidate",
        str(candidate),
        "--data",
        str(tmp_path / "nothing"),
        "--no-store",
    )
    assert code == 2 and "comparison refused" in err
    code, _, err = _invoke(
        "shadow",
        "compare",
        "--baseline",
        str(baseline),
        "--candidate",
        str(candidate),
        *common,
        "--bucket-s",
        "0",
    )
    assert code == 2 and "--bucket-s 0" in err
