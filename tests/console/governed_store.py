"""A store for the promotion-path and readiness pages, recorded through the project's own
code: ``risk.killswitch``'s synthetic history (:mod:`tests.readiness.governance.history`), a
signer list and a release to General live signed by two of three approvers
(:mod:`tests.governed`), the bot promoted as far as its gates allow (``promote``: Idea only to
Built, refused at Shadow), its 19 stage gates evaluated and recorded, and its four readiness
scores recorded. The other eight library bots have nothing recorded. Console users as in the
shared store.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from polytraders.backtest.desk_file import DeskFile
from polytraders.bots.registry import bot_class
from polytraders.console.auth import hash_password
from polytraders.readiness.board_record import board_of, record_board
from polytraders.readiness.context import ReadinessContext, git_commit
from polytraders.readiness.evaluate import Evaluation, evaluate, record_evaluation
from polytraders.readiness.exchange_packs import optional_simulators
from polytraders.readiness.gates import gates_up_to
from polytraders.readiness.lifecycle import STAGES, State
from polytraders.readiness.promote import PromotionStep, promote
from polytraders.readiness.release_subjects import desk_subjects
from polytraders.readiness.releases import accept_signers
from polytraders.readiness.scores import all_scores
from polytraders.store import EventStore
from polytraders.store.console_users import add_user
from tests.conftest import REPO
from tests.console.support import CHEAP_HASHER, PASSWORD, T0_NS, USERS
from tests.governed import ACTOR, release, signer_keys, write_signers
from tests.readiness.governance.history import BOT, record_history

OPERATOR = "otto"
"""Who promoted, evaluated and recorded the board (a console operator)."""

EVALUATED_NS = T0_NS + 1_000_000_000
"""The clock of the promotion, the stage evaluation and the board (one second after the
history and the release)."""


class Governed(NamedTuple):
    """The store and what was recorded in it."""

    url: str
    commit: str
    steps: list[PromotionStep]
    evaluation: Evaluation


def build(directory: Path) -> Governed:
    """Record the module docstring's store under ``directory`` (a few seconds: the history's
    desk runs, mypy on the bot, its fixture pack and the simulator)."""
    url = str(directory / "governed.sqlite")
    commit = git_commit(REPO)
    EventStore.open(url).close()
    record_history(url, bot_id=BOT, commit=commit, now_ns=T0_NS)
    gov_dir = directory / "governance"
    desk = DeskFile()
    keys = signer_keys()
    write_signers(gov_dir, keys, T0_NS)
    with EventStore.open(url) as store:
        accept_signers(store, gov_dir, now_ns=T0_NS, actor=ACTOR)
        subjects = desk_subjects(desk)[BOT]
        release(
            store, gov_dir, keys, subjects, desk=desk, to_state=State.GENERAL_LIVE, now_ns=T0_NS
        )
        ctx = ReadinessContext(
            repo=REPO, store=store, now_ns=EVALUATED_NS, commit=commit, desk=desk, gov_dir=gov_dir
        )
        with optional_simulators(ctx):
            steps = promote(BOT, State.SHADOW, ctx, actor=OPERATOR)
            gates = gates_up_to(STAGES[-1], bot_class(BOT).bot_class)
            evaluation = evaluate(BOT, gates, ctx, from_state="", target=STAGES[-1].value)
        record_evaluation(store, evaluation, actor=OPERATOR)
        board = board_of(BOT, all_scores(BOT, ctx), commit=commit, computed_ns=EVALUATED_NS)
        record_board(store, board, actor=OPERATOR, ts_ns=EVALUATED_NS)
        for name, role in USERS.items():
            add_user(
                store,
                name=name,
                role=role,
                password_hash=hash_password(PASSWORD, CHEAP_HASHER),
                actor="test",
                ts_ns=T0_NS,
            )
    return Governed(url=url, commit=commit, steps=steps, evaluation=evaluation)
