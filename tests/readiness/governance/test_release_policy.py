"""The live node's start-up check of every bot against its release: what each node mode needs,
and each missing or invalid proof refused with its GOV_ code (a manifest for another config,
for other code, an expired one, a changed evidence file, a swapped signer list, a release not
reaching the mode, a bot not promoted)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.contracts.modes import Mode
from polytraders.readiness.governance.errors import GovernanceError
from polytraders.readiness.lifecycle import State
from polytraders.readiness.release_check import evidence_dir, manifest_path
from polytraders.readiness.release_policy import (
    NodeMode,
    check_bot,
    check_node,
    required_state,
)
from polytraders.readiness.release_subjects import desk_subjects
from polytraders.readiness.releases import PLAYBOOK_FILE
from polytraders.store import EventStore
from polytraders.store.promotions import PromotionOutcome, append_promotion
from polytraders.store.releases import releases
from tests.governed import DAY_NS, govern, release, signer_keys, write_signers

BOT = "risk.killswitch"


def _desk(**killswitch: object) -> DeskFile:
    desk = DeskFile()
    data = desk.model_dump(mode="json")
    for entry in data["risk"]:
        if entry["id"] == BOT:
            entry["config"] = {**entry["config"], **killswitch}
    return DeskFile.model_validate(data)


def _check(store_url: str, gov_dir: Path, desk: DeskFile, *, now_ns: int | None = None,
           node_mode: NodeMode = NodeMode.LIVE) -> dict[str, object]:  # fmt: skip
    subjects = desk_subjects(desk)[BOT]
    with EventStore.open(store_url) as store:
        check = check_bot(
            subjects,
            node_mode=node_mode,
            store=store,
            gov_dir=gov_dir,
            now_ns=time.time_ns() if now_ns is None else now_ns,
        )
    return {"allowed": check.allowed, "code": check.code, "detail": check.detail}


def test_what_each_node_mode_requires() -> None:
    assert required_state(NodeMode.LIVE, Mode.ENFORCED) is State.LIMITED_LIVE
    assert required_state(NodeMode.LIVE, Mode.SHADOW) is State.SHADOW
    assert required_state(NodeMode.LIVE, Mode.ADVISORY) is State.SHADOW
    assert required_state(NodeMode.LIVE, Mode.STUB) is None
    for node_mode in (NodeMode.PAPER, NodeMode.SHADOW):
        assert required_state(node_mode, Mode.ENFORCED) is None


def test_no_release_refuses_live_and_allows_paper(store_url: str, tmp_path: Path) -> None:
    desk = DeskFile()
    live = _check(store_url, tmp_path / "gov", desk)
    assert live["allowed"] is False and live["code"] == "GOV_RELEASE_MISSING"
    paper = _check(store_url, tmp_path / "gov", desk, node_mode=NodeMode.PAPER)
    assert paper["allowed"] is True


def test_a_release_without_its_signer_list_is_refused(store_url: str, tmp_path: Path) -> None:
    govern(store_url, tmp_path / "gov")
    (tmp_path / "gov" / "signers" / "1.json").unlink()
    assert _check(store_url, tmp_path / "gov", DeskFile())["code"] == "GOV_SIGNERS_MISSING"


def test_a_valid_release_allows_live(store_url: str, tmp_path: Path) -> None:
    govern(store_url, tmp_path / "gov")
    found = _check(store_url, tmp_path / "gov", DeskFile())
    assert found == {
        "allowed": True,
        "code": "GOV_RELEASE_SIGNED",
        "detail": found["detail"],
    }
    assert "release 1 to Limited live" in str(found["detail"])
    with EventStore.open(store_url) as store:
        checks = check_node(
            list(desk_subjects(DeskFile()).values()),
            node_mode=NodeMode.LIVE,
            store=store,
            gov_dir=tmp_path / "gov",
            now_ns=time.time_ns(),
            actor="node",
        )
        assert all(c.allowed for c in checks) and len(checks) == 9
        assert store.audit_log()[-1].action == "GOV_NODE_RELEASES_CHECKED"


def test_another_config_is_refused(store_url: str, tmp_path: Path) -> None:
    govern(store_url, tmp_path / "gov")
    other = _desk(daily_loss_halt_bps=400)
    found = _check(store_url, tmp_path / "gov", other)
    assert found["allowed"] is False and found["code"] == "GOV_MANIFEST_CONFIG_MISMATCH"


def test_an_expired_release_is_refused(store_url: str, tmp_path: Path) -> None:
    govern(store_url, tmp_path / "gov")
    later = time.time_ns() + 31 * DAY_NS  # the fixture's manifests expire after 30 days
    found = _check(store_url, tmp_path / "gov", DeskFile(), now_ns=later)
    assert found["code"] == "GOV_MANIFEST_EXPIRED"


def test_an_evidence_file_changed_by_a_byte_is_refused(store_url: str, tmp_path: Path) -> None:
    govern(store_url, tmp_path / "gov")
    playbook = evidence_dir(tmp_path / "gov", BOT, 1) / PLAYBOOK_FILE
    playbook.write_bytes(playbook.read_bytes() + b" ")
    assert _check(store_url, tmp_path / "gov", DeskFile())["code"] == (
        "GOV_MANIFEST_EVIDENCE_MISMATCH"
    )


def test_a_swapped_signer_list_is_refused(store_url: str, tmp_path: Path) -> None:
    gov_dir = tmp_path / "gov"
    govern(store_url, gov_dir)
    # someone replaces the whole list with their own three keys (a valid root on its own)
    (gov_dir / "signers" / "1.json").unlink()
    write_signers(gov_dir, signer_keys(), time.time_ns())
    assert _check(store_url, gov_dir, DeskFile())["code"] == "GOV_SIGNERS_PIN_MISMATCH"


def test_a_release_below_the_mode_or_a_bot_not_promoted_is_refused(
    store_url: str, tmp_path: Path
) -> None:
    govern(store_url, tmp_path / "gov", to_state=State.SHADOW)
    found = _check(store_url, tmp_path / "gov", DeskFile())
    assert found["code"] == "GOV_RELEASE_STAGE_TOO_LOW"
    shadow_desk = _desk()
    data = shadow_desk.model_dump(mode="json")
    for entry in data["risk"]:
        entry["mode"] = "SHADOW"
    assert _check(store_url, tmp_path / "gov", DeskFile.model_validate(data))["allowed"] is True


def test_a_valid_release_of_a_bot_not_promoted_is_refused(store_url: str, tmp_path: Path) -> None:
    govern(store_url, tmp_path / "gov")
    with EventStore.open(store_url) as store:
        append_promotion(
            store,
            bot_id=BOT,
            from_state="limited_live",
            to_state="shadow",
            outcome=PromotionOutcome.DEMOTED,
            reason_code="GOV_DEMOTED",
            evaluation_id="test",
            evidence_digest="0" * 64,
            actor="test",
            detail="demoted for the test",
            ts_ns=time.time_ns(),
        )
    assert _check(store_url, tmp_path / "gov", DeskFile())["code"] == "GOV_RELEASE_NOT_PROMOTED"


def test_the_release_is_read_from_the_store_not_the_manifest_file(
    store_url: str, tmp_path: Path
) -> None:
    govern(store_url, tmp_path / "gov")
    manifest_path(tmp_path / "gov", BOT, 1).unlink()  # the store keeps the signed envelope
    assert _check(store_url, tmp_path / "gov", DeskFile())["allowed"] is True


def test_a_secret_in_the_evidence_bundle_is_refused(store_url: str, tmp_path: Path) -> None:
    gov_dir = tmp_path / "gov"
    keys = govern(store_url, gov_dir)
    leaked = "private_key = 0x" + "4f" * 32  # what an operator pastes by mistake
    with EventStore.open(store_url) as store:
        subjects = desk_subjects(DeskFile())[BOT]
        with pytest.raises(GovernanceError) as refused:
            release(
                store, gov_dir, keys, subjects, desk=DeskFile(), to_state=State.GENERAL_LIVE,
                now_ns=time.time_ns(), playbook=f"# Playbook\n\n{leaked}\n",
            )  # fmt: skip
        assert refused.value.code == "GOV_MANIFEST_CREDENTIAL_IN_EVIDENCE"
        assert "4f" * 32 not in str(refused.value)
        assert store.audit_log()[-1].action == "GOV_MANIFEST_CREDENTIAL_IN_EVIDENCE"
        assert [r.sequence for r in releases(store, bot_id=BOT)] == [1]
