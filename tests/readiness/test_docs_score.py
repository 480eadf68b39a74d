"""The Docs score on the real specs (all nine bots 27/27) and on edited copies: deleting a
section, or making a checked section disagree with the code, fails exactly that item."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from polytraders.bots.registry import BOTS
from polytraders.contracts.reasons import load_registry
from polytraders.readiness.docs_score import CHECKED_SECTIONS, docs_score
from polytraders.readiness.evidence import EvidenceKind, ItemStatus, sha256_hex
from polytraders.readiness.spec import SECTION_TITLES
from tests.conftest import REPO
from tests.readiness.conftest import context


def _failed(repo: Path, bot_id: str) -> dict[int, str]:
    score = docs_score(bot_id, context(repo))
    return {i.number: i.detail for i in score.items if i.status is not ItemStatus.PASS}


def _span(text: str, number: int) -> tuple[int, int]:
    """Where section ``number`` (heading and body) lies in ``text``."""
    start = re.search(rf"^## {number}\. ", text, re.MULTILINE)
    assert start is not None
    after = re.search(r"^## \d+\. ", text[start.end() :], re.MULTILINE)
    return start.start(), start.end() + after.start() if after else len(text)


def _edit_section(spec: Path, number: int, edit: Callable[[str], str]) -> None:
    text = spec.read_text(encoding="utf-8")
    start, end = _span(text, number)
    changed = edit(text[start:end])
    assert changed != text[start:end], "the edit changed nothing"
    spec.write_text(text[:start] + changed + text[end:], encoding="utf-8")


@pytest.mark.parametrize("bot_id", list(BOTS))
def test_every_bot_scores_27_of_27_on_the_repository(bot_id: str) -> None:
    score = docs_score(bot_id, context(REPO))
    assert [i.detail for i in score.items if i.status is not ItemStatus.PASS] == []
    assert (score.passed, score.out_of) == (27, 27)
    digest = sha256_hex((REPO / "docs" / "bots" / f"{bot_id}.md").read_bytes())
    for item in score.items:
        assert item.title == SECTION_TITLES[item.number - 1]
        assert item.evidence[0].digest == digest
        if item.number in CHECKED_SECTIONS:
            assert len(item.evidence) == 2, item.number
            assert item.evidence[1].kind in (EvidenceKind.CODE, EvidenceKind.FILE)
            assert item.evidence[1].digest


@pytest.mark.parametrize(
    ("bot_id", "number"),
    [
        ("risk.killswitch", 1),
        ("risk.killswitch", 13),
        ("risk.compliancegate", 27),
        ("strat.maker_tight", 7),
        ("strat.maker_tight", 21),
        ("exec.smartrouter", 18),
    ],
)
def test_deleting_one_section_lowers_docs_by_exactly_that_item(
    repo_copy: Path, bot_id: str, number: int
) -> None:
    _edit_section(repo_copy / "docs" / "bots" / f"{bot_id}.md", number, lambda _: "")
    assert _failed(repo_copy, bot_id) == {
        number: f"section {number} ({SECTION_TITLES[number - 1]}) is missing"
    }
    assert docs_score(bot_id, context(repo_copy)).passed == 26


def test_a_changed_default_in_section_8_fails_item_8(repo_copy: Path) -> None:
    spec = repo_copy / "docs" / "bots" / "risk.killswitch.md"
    _edit_section(
        spec, 8, lambda s: s.replace('"daily_loss_halt_bps": 500', '"daily_loss_halt_bps": 600')
    )
    failed = _failed(repo_copy, "risk.killswitch")
    assert list(failed) == [8]
    assert "`daily_loss_halt_bps` is 600 in the spec, 500 in the code" in failed[8]


def test_a_removed_reason_code_fails_item_13(repo_copy: Path) -> None:
    spec = repo_copy / "docs" / "bots" / "risk.killswitch.md"
    _edit_section(
        spec, 13, lambda s: re.sub(r"^\| `RISK_KILLSWITCH_FEED_LOST` \|.*\n", "", s, flags=re.M)
    )
    failed = _failed(repo_copy, "risk.killswitch")
    assert failed == {13: "section 13: codes missing: RISK_KILLSWITCH_FEED_LOST"}


def _message(code: str) -> str:
    return load_registry()[code].user_message


EDITS: list[tuple[str, int, Callable[[str], str], str]] = [
    (
        "risk.killswitch",
        2,
        lambda s: s.replace("{HALT, KILL_SWITCH}", "{HALT}"),
        "states capabilities {HALT}, the class declares {HALT, KILL_SWITCH}",
    ),
    (
        "exec.smartrouter",
        2,
        lambda s: s.replace("`bot_class = execution`", "`bot_class = risk`"),
        "states bot_class = risk, the class declares execution",
    ),
    (
        "strat.maker_tight",
        7,
        lambda s: s.replace(
            "| `refresh_ticks` | `int` | `3` | [1, 20] |",
            "| `refresh_ticks` | `int` | `3` | [1, 30] |",
        ),
        "`refresh_ticks` hard limits '[1, 30]' in the spec, [1, 20] in the Config",
    ),
    (
        "risk.stalebookguard",
        7,
        lambda s: s.replace(
            "| `max_book_age_ms` | `int` | `15000` |", "| `max_book_age_ms` | `float` | `15000` |"
        ),
        "`max_book_age_ms` type float in the spec, int in the Config",
    ),
    (
        "strat.maker_tight",
        7,
        lambda s: s.replace(
            "| `ack_grace_ms` | `int` | `5_000` |", "| `ack_grace_ms` | `int` | `5_001` |"
        ),
        "`ack_grace_ms` default 5001 in the spec, 5000 in the Config",
    ),
    (
        "exec.smartrouter",
        8,
        lambda s: s.replace("`fb654bd374e1344d`", "`fb654bd374e1344e`"),
        "states config version fb654bd374e1344e, the defaults' is fb654bd374e1344d",
    ),
    (
        "risk.drawdownguard",
        11,
        lambda s: s.replace('"step": 50', '"step": 25', 1),
        "in SEARCH_SPACE",
    ),
    (
        "exec.smartrouter",
        12,
        lambda s: s.replace("ENFORCED, QUARANTINE", "QUARANTINE", 1),
        "states mode_support = STUB, SHADOW, ADVISORY, QUARANTINE",
    ),
    (
        "exec.smartrouter",
        13,
        lambda s: s.replace("| `EXEC_ROUTED` | info |", "| `EXEC_ROUTED` | warning |"),
        "`EXEC_ROUTED` severity warning in the spec, info registered",
    ),
    (
        "risk.compliancegate",
        14,
        lambda s: s.replace(
            _message("RISK_COMPLIANCE_WATCHLIST"), "This market is on a list; order flagged."
        ),
        "`RISK_COMPLIANCE_WATCHLIST` message differs from the registry's",
    ),
    (
        "risk.exposureguard",
        18,
        lambda s: s.replace("| `reject_rate_max_bps` | 100 |", "| `reject_rate_max_bps` | 200 |"),
        "`reject_rate_max_bps` is '200' in the spec, 100 in RUNTIME_BUDGET",
    ),
    (
        "risk.markethaltguard",
        21,
        lambda s: s.replace('"bot_id":"risk.markethaltguard"', '"bot_id":"risk.killswitch"', 1),
        "line 1 is an envelope of risk.killswitch",
    ),
    (
        "strat.maker_tight",
        21,
        lambda s: s.replace('"latency_ns":0}', '"latency_ns":"zero"}', 1),
        "line 1 is not a ReportEnvelope",
    ),
    (
        "strat.maker_tight",
        22,
        lambda s: s.replace("{normal,warning,hard,failure}", "{normal,warning,hard}"),
        "the path listing names normal, warning, hard; the folder holds failure, hard, normal, "
        "warning",
    ),
]


@pytest.mark.parametrize(("bot_id", "number", "edit", "expected"), EDITS)
def test_a_checked_section_that_disagrees_with_the_code_fails_its_item(
    repo_copy: Path, bot_id: str, number: int, edit: Callable[[str], str], expected: str
) -> None:
    _edit_section(repo_copy / "docs" / "bots" / f"{bot_id}.md", number, edit)
    failed = _failed(repo_copy, bot_id)
    assert list(failed) == [number]
    assert expected in failed[number]


def test_an_extra_fixture_file_fails_item_22(repo_copy: Path) -> None:
    folder = repo_copy / "tests" / "fixtures" / "bots" / "risk.killswitch"
    (folder / "stress.json").write_text(json.dumps({"bot_id": "risk.killswitch"}))
    failed = _failed(repo_copy, "risk.killswitch")
    assert failed == {
        22: "section 22: the items listing names normal, warning, hard, failure; the folder "
        "holds failure, hard, normal, stress, warning"
    }


def test_a_renamed_or_emptied_section_fails(repo_copy: Path) -> None:
    spec = repo_copy / "docs" / "bots" / "risk.markethaltguard.md"
    _edit_section(spec, 3, lambda s: s.replace("## 3. Owner", "## 3. Owners"))
    _edit_section(spec, 16, lambda s: "## 16. Safe fallback\n\n")
    assert _failed(repo_copy, "risk.markethaltguard") == {
        3: "section 3 is titled 'Owners', expected 'Owner'",
        16: "section 16 (Safe fallback) is empty",
    }


def test_a_missing_spec_fails_every_item(repo_copy: Path) -> None:
    (repo_copy / "docs" / "bots" / "risk.drawdownguard.md").unlink()
    score = docs_score("risk.drawdownguard", context(repo_copy))
    assert score.passed == 0
    assert {i.detail for i in score.items} == {"docs/bots/risk.drawdownguard.md is missing"}
    assert all(i.evidence[0].result == "missing" for i in score.items)
