"""A computed readiness board kept in the event store, so a reader that cannot compute one
(the operator console: the Impl score runs mypy and the fixture packs through the desk) shows
the last one recorded, saying when and at which commit.

``polytraders readiness --record`` writes, per bot, one audit entry ``GOV_READINESS_RECORDED``
whose detail is a :class:`RecordedBoard`: the four scores (passed, out of) and every item that
does not pass, with its status, detail and evidence. Passing items are counted, not listed.

Reading is bounded: :func:`recorded_boards` looks at the last ``window`` audit entries only
(the audit log has no index on its action; its primary key gives the range), so its cost never
grows with the store; a board recorded before that window is not found.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import sqlalchemy as sa

from polytraders.readiness.evidence import Evidence, ItemStatus, Score, ScoreName
from polytraders.store import EventStore, schema

READINESS_RECORDED = "GOV_READINESS_RECORDED"
"""The audit action (a registered GOV_ code) of a recorded board row."""


class RecordedItem(msgspec.Struct, frozen=True, kw_only=True):
    """A checklist item that did not pass (FAIL or PENDING) when the board was computed."""

    number: int
    title: str
    status: ItemStatus
    detail: str
    evidence: tuple[Evidence, ...] = ()


class RecordedScore(msgspec.Struct, frozen=True, kw_only=True):
    """One score as computed: items passed out of the checklist's size, and the others."""

    passed: int
    out_of: int
    not_passing: tuple[RecordedItem, ...]


class RecordedBoard(msgspec.Struct, frozen=True, kw_only=True):
    """One bot's board row as recorded (an audit entry's detail and its time and actor).

    Attributes:
        bot_id: the bot.
        commit: the commit judged ("" outside git).
        computed_ns: the evaluation's clock (ns since the epoch).
        scores: score name (``docs``, ``impl``, ``runtime``, ``backtest``) → score.
        actor, ts_ns: who recorded it and the audit entry's time (filled when read).
    """

    bot_id: str
    commit: str
    computed_ns: int
    scores: dict[ScoreName, RecordedScore]
    actor: str = ""
    ts_ns: int = 0


def board_of(
    bot_id: str, scores: Mapping[ScoreName, Score], *, commit: str, computed_ns: int
) -> RecordedBoard:
    """The record of ``bot_id``'s computed ``scores`` (every item that does not pass)."""
    return RecordedBoard(
        bot_id=bot_id,
        commit=commit,
        computed_ns=computed_ns,
        scores={
            name: RecordedScore(
                passed=score.passed,
                out_of=score.out_of,
                not_passing=tuple(
                    RecordedItem(
                        number=i.number,
                        title=i.title,
                        status=i.status,
                        detail=i.detail,
                        evidence=i.evidence,
                    )
                    for i in score.items
                    if i.status is not ItemStatus.PASS
                ),
            )
            for name, score in scores.items()
        },
    )


def record_board(store: EventStore, board: RecordedBoard, *, actor: str, ts_ns: int) -> None:
    """Write ``board`` as a ``GOV_READINESS_RECORDED`` audit entry.

    Raises:
        StoreWriteError: an empty actor, or the write failed.
    """
    detail = msgspec.to_builtins(board)
    for key in ("actor", "ts_ns"):
        detail.pop(key, None)
    store.audit(actor=actor, action=READINESS_RECORDED, ts_ns=ts_ns, detail=detail)


def recorded_boards(store: EventStore, *, window: int) -> dict[str, RecordedBoard]:
    """The latest board recorded of each bot among the last ``window`` audit entries.

    Raises:
        StoreError: the read failed.
        msgspec.ValidationError: a recorded detail is not a board (a corrupt entry).
    """
    a = schema.audit_log.c
    (last,) = store.select(sa.select(sa.func.max(a.row_id)))[0]
    if last is None:
        return {}
    rows = store.select(
        sa.select(a.ts_ns, a.actor, a.detail)
        .where(a.row_id > int(last) - window, a.action == READINESS_RECORDED)
        .order_by(a.row_id.desc())
    )
    found: dict[str, RecordedBoard] = {}
    for row in rows:
        board = msgspec.json.decode(row.detail, type=RecordedBoard)
        if board.bot_id not in found:
            found[board.bot_id] = msgspec.structs.replace(board, actor=row.actor, ts_ns=row.ts_ns)
    return found
