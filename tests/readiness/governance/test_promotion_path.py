"""The signed promotion path end to end, as docs/governance.md walks it: three throwaway
signers, ``risk.killswitch`` taken from Built to Shadow to Limited live with the real gates,
signed statements and manifests, the live node against the CLOB v2 simulator refusing and
then starting, the audit chain verified and broken, and no private key anywhere.

Every step is a ``polytraders`` command. Two things are not the real thing and say so: the
evidence that takes days to gather (7 days of CI, 30 days of shadow comparisons, 7 days of
shadow running, the chaos suite) is the recorded synthetic history of
:mod:`tests.readiness.governance.history`, and the other eight bots of the desk get their
releases from :mod:`tests.governed` (so the live node can start at all). The commands' clock
is a controllable one set just after the history; the live node uses the wall clock.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from polytraders.backtest.desk_file import DeskFile
from polytraders.cli import app
from polytraders.commands import gov as gov_commands
from polytraders.commands import readiness as readiness_commands
from polytraders.commands.live import DESK_BUILDER
from polytraders.readiness.context import git_commit
from polytraders.readiness.governance.keys import load_key_file
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from tests.conftest import REPO
from tests.governed import release_desk
from tests.readiness.governance.history import record_history
from tests.venues.polymarket.conftest import live_env, throwaway_key

BOT = "risk.killswitch"
HOUR_NS = 3_600 * 1_000_000_000
DAY_NS = 24 * HOUR_NS
SCORES_OUT_OF = {"docs": 27, "impl": 15, "runtime": 8, "backtest": 4}
SIGNERS = {"ana": "approver,reviewer", "ben": "approver,risk_officer", "cleo": "approver"}


class _Clock:
    """The commands' clock (``gov`` and ``readiness``), set by the test; every reading moves
    it on by a millisecond, as time passes between two commands."""

    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        self.now_ns += 1_000_000
        return self.now_ns


def _history_clock() -> int:
    """A few minutes ahead of the wall clock, at least an hour into its UTC day (the
    history's rule), so the live node's records fall before the commands' clock."""
    now = time.time_ns() + 10 * 60 * 1_000_000_000
    return max(now, now - now % DAY_NS + HOUR_NS + 60 * 1_000_000_000)


@pytest.mark.slow
def test_the_signed_promotion_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commit = git_commit(REPO)
    if not commit:
        pytest.fail("the end-to-end test needs the repository as a git checkout")
    clock = _Clock(_history_clock())
    monkeypatch.setattr(gov_commands, "_now_ns", clock)
    monkeypatch.setattr(readiness_commands, "_now_ns", clock)
    monkeypatch.chdir(tmp_path)
    store, gov, keys = tmp_path / "desk.sqlite", tmp_path / "governance", tmp_path / "keys"
    outputs: list[str] = []

    def cli(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
        result = CliRunner().invoke(app, list(args), env=env)
        outputs.append(result.stdout + result.stderr)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result.stdout + result.stderr

    common = ["--store", str(store), "--gov-dir", str(gov)]
    evaluation = [*common, "--repo", str(REPO)]

    # 1. three signers; the signer list signed by two approvers and pinned in the store
    for name in SIGNERS:
        out = cli("gov", "keygen", "--signer", name, "--out", str(keys))
        assert "PRIVATE" not in out
        assert stat.S_IMODE(os.stat(keys / f"{name}.key").st_mode) == 0o600
    specs = [f"--signer={keys / n}.pub.json:{roles}" for n, roles in SIGNERS.items()]
    cli("gov", "signers", "init", "--gov-dir", str(gov), *specs)
    signers_file = str(gov / "signers" / "1.json")
    cli("gov", "signers", "sign", signers_file, "--key", str(keys / "ana.key"))
    cli("gov", "signers", "sign", signers_file, "--key", str(keys / "ben.key"))
    assert "version 1 verified" in cli("gov", "signers", "verify", "--gov-dir", str(gov))
    assert "GOV_SIGNERS_ACCEPTED" in cli("gov", "signers", "accept", *common)

    # 2. the evidence that takes days (recorded history), then Built with the real checklists
    record_history(store, bot_id=BOT, commit=commit, now_ns=clock.now_ns)
    out = cli("promote", BOT, "--to", "built", *evaluation)
    assert out.rstrip().endswith(f"{BOT}: Built")

    # 3. Built → Shadow: the reviewer's sign-off, then the manifest
    out = cli("gates", "check", BOT, "--to", "shadow", "--json", *evaluation)
    blocking = {g["gate_id"] for g in json.loads(out)["gates"] if g["blocks"]}
    assert blocking == {"reviewer_signoff"}  # console_page (no console yet) only warns
    playbook, rollback = tmp_path / "playbook.md", tmp_path / "rollback.md"
    playbook.write_text("# risk.killswitch incident playbook\n\n1. Trip the kill switch.\n")
    rollback.write_text("# risk.killswitch rollback plan\n\n1. Demote; return to release N-1.\n")
    notes = ["--playbook", str(playbook), "--rollback-plan", str(rollback)]
    assert "GOV_MANIFEST_NOT_CREATED" in cli(
        "gov", "manifest", "create", BOT, "--to", "shadow", *notes, *evaluation, code=1
    )
    signoff = _created(cli(
        "gov", "signoff", "create", BOT, "--kind", "reviewer_signoff", "--to", "shadow",
        "--statement", "spec, fixtures and thresholds reviewed", "--gov-dir", str(gov),
    ))  # fmt: skip
    cli("gov", "signoff", "sign", signoff, "--key", str(keys / "cleo.key"))  # not a reviewer
    assert "GOV_SIGNOFF_ROLE_MISSING" in cli("gov", "signoff", "verify", signoff, *common, code=1)
    cli("gov", "signoff", "sign", signoff, "--key", str(keys / "ana.key"))
    assert "GOV_SIGNOFF_RECORDED" in cli("gov", "signoff", "verify", signoff, *common)
    manifest_1 = _created(
        cli("gov", "manifest", "create", BOT, "--to", "shadow", *notes, *evaluation)
    )
    bundle = gov / "evidence" / BOT / "1"
    scores = json.loads((bundle / "scores.json").read_text())
    assert {name: score["out_of"] for name, score in scores.items()} == SCORES_OUT_OF
    gate_ids = {g["gate_id"] for g in json.loads((bundle / "gates.json").read_text())["gates"]}
    assert "reviewer_signoff" in gate_ids and (bundle / "incident_playbook.md").is_file()
    cli("gov", "manifest", "sign", manifest_1, "--key", str(keys / "ana.key"))
    assert "GOV_MANIFEST_THRESHOLD_NOT_MET" in cli(
        "gov", "manifest", "verify", manifest_1, *common, code=1
    )  # 1 of 3
    assert "already signed" in cli(
        "gov", "manifest", "sign", manifest_1, "--key", str(keys / "ana.key")
    )
    twice = tmp_path / "signed-twice.json"
    doc = json.loads(Path(manifest_1).read_text())
    doc["signatures"] = doc["signatures"] * 2  # the same key's signature filed twice
    twice.write_text(json.dumps(doc))
    assert "GOV_MANIFEST_DUPLICATE_SIGNATURE" in cli(
        "gov", "manifest", "verify", str(twice), *common, code=1
    )
    cli("gov", "manifest", "sign", manifest_1, "--key", str(keys / "ben.key"))
    assert "GOV_RELEASE_SIGNED" in cli("gov", "manifest", "verify", manifest_1, *common)
    out = cli("promote", BOT, "--to", "shadow", *evaluation)
    assert "GOV_PROMOTED: built → shadow" in out

    # 4. the desk's other bots are released to Limited live; the kill switch runs in SHADOW on
    #    a live node against the simulator (its release allows that), which checks the
    #    wallet's allowance on the venue
    shadow_desk = tmp_path / "shadow-desk.toml"
    shadow_desk.write_text('[[risk]]\nid = "risk.killswitch"\nmode = "SHADOW"\n' + _rest())
    approvers = {name: load_key_file(keys / f"{name}.key") for name in ("ana", "cleo")}
    release_desk(str(store), gov, approvers, skip=frozenset({BOT}))
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    env = live_env(key, account, DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, replay_interval_ms=100)
    with SimClobServer(settings, account) as sim:
        market_id = next(iter(sim.exchange.tokens.values())).market_id
        live = [
            "live", "--live", "--i-understand-this-trades-real-money", "--markets", market_id,
            "--clob-url", sim.url, "--ws-url", sim.ws_url + "/ws/market",
            "--user-ws-url", sim.ws_url + "/ws/user", "--duration-s", "2", *common,
        ]  # fmt: skip
        out = cli(*live, "--desk", str(shadow_desk), "--out", "out-1", "--run-id", "n1", env=env)
        assert "release: risk.killswitch (SHADOW): release 1 to Shadow" in out
        # ENFORCED needs Limited live: refused before anything is sent
        before = sim.sim_state()["orders_total"]
        out = cli(*live, "--out", "out-2", "--run-id", "n2", env=env, code=1)
        assert "refused: risk.killswitch (ENFORCED): GOV_RELEASE_STAGE_TOO_LOW" in out
        assert sim.sim_state()["orders_total"] == before

        # 5. Shadow → Limited live: every gate from evidence, then the second manifest
        clock.now_ns = max(clock.now_ns, time.time_ns()) + 60 * 1_000_000_000
        out = cli("gates", "check", BOT, "--to", "limited_live", "--json", *evaluation)
        gates = {g["gate_id"]: g for g in json.loads(out)["gates"]}
        assert gates["wallet_allowance"]["phase"] == "Successful"
        assert gates["audit_retention"]["phase"] == "Successful"
        assert json.loads(out)["verdict"] == "PASS"
        manifest_2 = _created(
            cli("gov", "manifest", "create", BOT, "--to", "limited_live", *notes, *evaluation)
        )
        for name in ("ana", "cleo"):
            cli("gov", "manifest", "sign", manifest_2, "--key", str(keys / f"{name}.key"))
        # refused: a changed config, an evidence file changed by a byte, expired
        other = tmp_path / "other-desk.toml"
        other.write_text(
            '[[risk]]\nid = "risk.killswitch"\n[risk.config]\ndaily_loss_halt_bps = 400\n' + _rest()
        )
        assert "GOV_MANIFEST_CONFIG_MISMATCH" in cli(
            "gov", "manifest", "verify", manifest_2, "--desk", str(other), *common, code=1
        )
        gates_file = gov / "evidence" / BOT / "2" / "gates.json"
        original = gates_file.read_bytes()
        gates_file.write_bytes(original.replace(b"Successful", b"Successfux", 1))
        assert "GOV_MANIFEST_EVIDENCE_MISMATCH" in cli(
            "gov", "manifest", "verify", manifest_2, *common, code=1
        )
        gates_file.write_bytes(original)
        saved = clock.now_ns
        clock.now_ns += 31 * DAY_NS
        assert "GOV_MANIFEST_EXPIRED" in cli(
            "gov", "manifest", "verify", manifest_2, *common, code=1
        )
        clock.now_ns = saved
        assert "GOV_RELEASE_SIGNED" in cli("gov", "manifest", "verify", manifest_2, *common)
        # an older manifest replayed after a newer one is refused
        assert "GOV_MANIFEST_REPLAYED" in cli(
            "gov", "manifest", "verify", manifest_1, *common, code=1
        )
        assert "GOV_PROMOTED: shadow → limited_live" in cli(
            "promote", BOT, "--to", "limited_live", *evaluation
        )
        # 6. the live node now runs the kill switch ENFORCED
        out = cli(*live, "--out", "out-3", "--run-id", "n3", env=env)
        assert "release: risk.killswitch (ENFORCED): release 2 to Limited live" in out

    # 7. the GOV_ log: intact, then broken by a direct edit of one row
    out = cli("gov", "log", "--verify", "--gov-only", "--store", str(store))
    for code in (
        "GOV_SIGNERS_ACCEPTED", "GOV_SIGNOFF_RECORDED", "GOV_MANIFEST_CREATED",
        "GOV_MANIFEST_THRESHOLD_NOT_MET", "GOV_RELEASE_SIGNED", "GOV_PROMOTED",
        "GOV_NODE_RELEASES_CHECKED", "GOV_WALLET_ALLOWANCE_CHECKED", "GOV_MANIFEST_REPLAYED",
    ):  # fmt: skip
        assert code in out, code
    assert "audit log chain intact" in out
    _assert_no_private_key(keys, tmp_path, outputs)
    with sqlite3.connect(store) as db:
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE action = 'GOV_RELEASE_SIGNED'")
    out = cli("gov", "log", "--verify", "--store", str(store), code=1)
    assert "audit log chain BROKEN" in out


def _created(out: str) -> str:
    """The path a ``create`` command printed first."""
    return next(w for w in out.replace(":", " ").split() if w.endswith(".json"))


def _rest() -> str:
    """The default desk's other bots, as desk-file TOML (the kill switch given before)."""
    desk = DeskFile()
    lines = []
    for section in ("strategies", "risk", "execution"):
        for entry in getattr(desk, section):
            bot_id = desk.bot_class(entry).bot_id
            if bot_id != BOT:
                lines.append(f'[[{section}]]\nid = "{bot_id}"\nmode = "{entry.mode.value}"\n')
    return "".join(lines)


def _assert_no_private_key(keys: Path, root: Path, outputs: list[str]) -> None:
    """No signer's private key (PEM body or raw bytes in hex) in any command output, store
    row, file of the governance directory, run output or envelope."""
    secrets: list[str] = []
    for key_file in keys.glob("*.key"):
        pem = key_file.read_text()
        secrets += [line for line in pem.splitlines() if line and "-----" not in line]
        private = serialization.load_pem_private_key(pem.encode(), password=None)
        raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        secrets.append(raw.hex())
    texts = list(outputs)
    with sqlite3.connect(root / "desk.sqlite") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            texts += [repr(row) for row in db.execute(f"SELECT * FROM {table}")]
    for path in root.rglob("*"):
        if path.is_file() and keys not in path.parents and path.suffix != ".sqlite":
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    for secret in secrets:
        assert not any(secret in text for text in texts), "a private key leaked"
