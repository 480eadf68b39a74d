"""``polytraders readiness BOT --record`` keeps the computed board in the store: the audit
entry ``GOV_READINESS_RECORDED`` read back by :func:`recorded_boards` holds the scores the
command printed, every item that does not pass with its evidence, the commit and the
operator; a bounded window that ends before the entry does not find it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from polytraders.commands import readiness as readiness_commands
from polytraders.readiness.board_record import READINESS_RECORDED, recorded_boards
from polytraders.readiness.context import git_commit
from polytraders.readiness.evidence import ScoreName
from polytraders.store import EventStore
from tests.conftest import REPO

BOT = "risk.killswitch"


def test_the_recorded_board_is_the_one_printed(tmp_path: Path) -> None:
    url = str(tmp_path / "desk.sqlite")
    EventStore.open(url).close()
    result = CliRunner().invoke(
        readiness_commands.app,
        [BOT, "--record", "--json", "--store", url, "--repo", str(REPO), "--operator", "otto"],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    with EventStore.open(url, create=False) as store:
        (entry,) = [e for e in store.audit_log() if e.action == READINESS_RECORDED]
        board = recorded_boards(store, window=10)[BOT]
        assert recorded_boards(store, window=0) == {}
    assert (board.actor, board.commit) == ("otto", git_commit(REPO))
    assert board.ts_ns == board.computed_ns == entry.ts_ns
    for name in ScoreName:
        score, shown = board.scores[name], printed["scores"][name.value]
        assert (score.passed, score.out_of) == (shown["passed"], shown["out_of"])
        assert [(i.number, i.status.value, i.detail) for i in score.not_passing] == [
            (i["number"], i["status"], i["detail"]) for i in shown["items"] if i["status"] != "PASS"
        ]
        assert [[e.ref for e in i.evidence] for i in score.not_passing] == [
            [e["ref"] for e in i["evidence"]] for i in shown["items"] if i["status"] != "PASS"
        ]
    assert any(score.not_passing for score in board.scores.values())  # no runtime evidence
