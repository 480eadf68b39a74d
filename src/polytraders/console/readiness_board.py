"""The readiness board as last recorded: every library bot's Docs, Impl, Runtime and Backtest
scores with each item that did not pass, from the ``GOV_READINESS_RECORDED`` audit entries
``polytraders readiness --record`` writes (:mod:`polytraders.readiness.board_record`).

Nothing is computed here: computing the Impl score runs mypy and the fixture packs through
the desk (seconds per bot), far too slow for a page. Every row says when it was computed, at
which commit and by whom; a bot without a recorded board says so and how to record one. Cost:
the last ``audit_window`` audit entries along the primary key, whatever the store's size.
"""

from __future__ import annotations

from pydantic import BaseModel

from polytraders.bots.registry import BOTS, bot_class
from polytraders.console.promotion_path import EvidenceRef
from polytraders.console.settings import ConsoleSettings
from polytraders.readiness.board_record import RecordedBoard, recorded_boards
from polytraders.readiness.evidence import ItemStatus, ScoreName
from polytraders.store import EventStore


class BoardItem(BaseModel):
    """A checklist item that did not pass (FAIL or PENDING) when the board was computed."""

    number: int
    title: str
    status: ItemStatus
    detail: str
    evidence: list[EvidenceRef]


class BoardScore(BaseModel):
    """One score as recorded: ``passed`` of ``out_of`` items, and the items not passing."""

    name: ScoreName
    passed: int
    out_of: int
    not_passing: list[BoardItem]


class BoardRow(BaseModel):
    """One bot's recorded board (``recorded`` False: none in the audit window; ``hint`` says
    how to record one). ``computed_ns`` and ``commit`` say when and what was judged."""

    bot_id: str
    bot_class: str
    recorded: bool
    computed_ns: int | None
    commit: str
    actor: str
    done: bool
    scores: list[BoardScore]
    hint: str


class ReadinessBoardView(BaseModel):
    """Every library bot's last recorded board, from the last ``audit_window`` entries."""

    audit_window: int
    bots_recorded: int
    rows: list[BoardRow]


def _row(bot_id: str, board: RecordedBoard | None) -> BoardRow:
    cls = bot_class(bot_id).bot_class.value
    if board is None:
        return BoardRow(
            bot_id=bot_id,
            bot_class=cls,
            recorded=False,
            computed_ns=None,
            commit="",
            actor="",
            done=False,
            scores=[],
            hint=f"no recorded board: run polytraders readiness {bot_id} --record",
        )
    scores = [
        BoardScore(
            name=name,
            passed=score.passed,
            out_of=score.out_of,
            not_passing=[
                BoardItem(
                    number=i.number,
                    title=i.title,
                    status=i.status,
                    detail=i.detail,
                    evidence=[
                        EvidenceRef(kind=e.kind.value, ref=e.ref, digest=e.digest, result=e.result)
                        for e in i.evidence
                    ],
                )
                for i in score.not_passing
            ],
        )
        for name in ScoreName
        if (score := board.scores.get(name)) is not None
    ]
    return BoardRow(
        bot_id=bot_id,
        bot_class=cls,
        recorded=True,
        computed_ns=board.computed_ns,
        commit=board.commit,
        actor=board.actor,
        done=len(scores) == len(ScoreName) and all(s.passed == s.out_of for s in scores),
        scores=scores,
        hint="",
    )


def readiness_board(store: EventStore, settings: ConsoleSettings) -> ReadinessBoardView:
    """Every library bot's last recorded board (module docstring).

    Raises:
        StoreError: the read failed.
        msgspec.ValidationError: a recorded entry is not a board.
    """
    boards = recorded_boards(store, window=settings.audit_window)
    rows = [_row(bot_id, boards.get(bot_id)) for bot_id in BOTS]
    return ReadinessBoardView(
        audit_window=settings.audit_window,
        bots_recorded=sum(1 for r in rows if r.recorded),
        rows=rows,
    )
