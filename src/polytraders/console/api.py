"""The console's JSON API under ``/api/``: what the pages show, from the same
:class:`~polytraders.console.queries.ConsoleData` calls. Reads need a session (cookie) with the
role of the page they mirror; the OpenAPI schema is at ``/api/openapi.json`` and documents
the refusals (401, 403, 404: :class:`Problem`; 422: FastAPI's validation errors) as well as
the answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from polytraders.console.desk_status import DeskStatusView, desks
from polytraders.console.pages import PAGES
from polytraders.console.promotion_path import PromotionPathView, promotion_path
from polytraders.console.queries import (
    CODE_PATTERN,
    MAX_PAGE,
    EnvelopePage,
    NotFoundError,
    ReasonCodesView,
    RunDetail,
    RunSummary,
    UserSummary,
)
from polytraders.console.readiness_board import ReadinessBoardView, readiness_board
from polytraders.console.session import ConsoleState, Session, api_role, api_viewer, console_state
from polytraders.console.shadow_view import ShadowView, shadow_view
from polytraders.console.sources import Source
from polytraders.contracts.reasons import Severity
from polytraders.store.console_users import ConsoleRole


class Problem(BaseModel):
    """A refusal: why the request was not answered."""

    detail: str


router = APIRouter(
    prefix="/api",
    tags=["console"],
    responses={
        401: {"model": Problem, "description": "No session (sign in first)."},
        403: {"model": Problem, "description": "The user's role is too low."},
    },
)
NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": Problem, "description": "No such run attempt, comparison or desk."}
}

Viewer = Annotated[Session, Depends(api_viewer)]
State = Annotated[ConsoleState, Depends(console_state)]


class Me(BaseModel):
    """The signed-in user."""

    name: str
    role: ConsoleRole


class PageInfo(BaseModel):
    """A registered page (``docs/console.md`` "Pages")."""

    page_id: str
    title: str
    path: str
    purpose: str
    when_to_use: str
    role: ConsoleRole | None


@router.get("/me")
def me(session: Viewer) -> Me:
    """Who is signed in, with which role."""
    return Me(name=session.user.name, role=session.user.role)


@router.get("/pages")
def pages(session: Viewer) -> list[PageInfo]:
    """Every registered page with what it is for and when to use it."""
    return [
        PageInfo(
            page_id=p.page_id,
            title=p.title,
            path=p.path,
            purpose=p.purpose,
            when_to_use=p.when_to_use,
            role=p.role,
        )
        for p in PAGES
    ]


@router.get("/reason-codes")
def reason_codes(
    session: Viewer,
    state: State,
    q: Annotated[str, Query(max_length=200, description="Text to find (any case).")] = "",
    severity: Severity | None = None,
) -> ReasonCodesView:
    """The reason-code registry, filtered, with counts per source in the latest runs."""
    return state.data.reason_codes(query=q, severity=severity)


@router.get("/runs")
def runs(
    session: Viewer,
    state: State,
    status: Annotated[
        str | None, Query(max_length=32, description="A run status or ABANDONED.")
    ] = None,
    source: Source | None = None,
) -> list[RunSummary]:
    """Every run attempt, newest first, optionally of one status and one source."""
    return state.data.runs(state=status, source=source)


@router.get("/runs/{ref}", responses=NOT_FOUND)
def run(session: Viewer, state: State, ref: str) -> RunDetail:
    """One run attempt (``RUN_ID`` or ``RUN_ID@N``): record, counts, integrity."""
    try:
        return state.data.run(ref)
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


@router.get("/runs/{ref}/envelopes", responses=NOT_FOUND)
def envelopes(
    session: Viewer,
    state: State,
    ref: str,
    bot: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[
        str | None, Query(pattern=CODE_PATTERN, description="A reason code (UPPER_SNAKE).")
    ] = None,
    decision: Annotated[str | None, Query(max_length=32)] = None,
    after: Annotated[int, Query(ge=-1, description="Sequence the page starts after.")] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> EnvelopePage:
    """A page of a run's decisions, filtered by bot, reason code and decision."""
    try:
        return state.data.envelopes(
            ref, bot=bot, code=code, decision=decision, after=after, limit=limit
        )
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


@router.get("/users")
def users(
    session: Annotated[Session, Depends(api_role(ConsoleRole.ADMIN))], state: State
) -> list[UserSummary]:
    """The console's users and roles (admin)."""
    return state.data.users()


@router.get("/promotion-path")
def promotion_path_api(session: Viewer, state: State) -> PromotionPathView:
    """Every bot's four stages from its recorded gate evaluations, stage counts, next-up
    candidate, release signatures and recent promotion activity."""
    return promotion_path(state.store, state.settings)


@router.get("/readiness")
def readiness_api(session: Viewer, state: State) -> ReadinessBoardView:
    """Every bot's last recorded Docs, Impl, Runtime and Backtest scores with the items not
    passing."""
    return readiness_board(state.store, state.settings)


@router.get("/shadow", responses=NOT_FOUND)
def shadow(
    session: Viewer,
    state: State,
    bot: Annotated[str | None, Query(max_length=200)] = None,
    comparison: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> ShadowView:
    """Shadow comparisons per bot and one comparison's divergences with their verdicts."""
    try:
        return shadow_view(
            state.store, bot=bot, comparison_id=comparison, offset=offset, limit=limit
        )
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


@router.get("/desk-status", responses=NOT_FOUND)
def desk_status(
    session: Viewer,
    state: State,
    run: Annotated[str | None, Query(max_length=200, description="RUN_ID or RUN_ID@N.")] = None,
) -> DeskStatusView:
    """The latest desks and the status of one (default: the newest running one)."""
    try:
        return desks(state.store, run, state.settings.per_run_envelopes)
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
