"""The console's HTML pages (Jinja2, server-rendered): sign in and out, home, reason codes,
runs, one run, users, promotion path, readiness board, shadow mode (with the review form),
desk status (with the kill-switch forms; its live part is polled by the one packaged script,
``static/desk-status.js``). Each page renders its registered purpose
(:mod:`polytraders.console.pages`) and the same models the JSON API returns."""

from __future__ import annotations

import hmac
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from polytraders.console.auth import NS_PER_S
from polytraders.console.desk_status import DeskStatusView, desks
from polytraders.console.pages import PAGES, Page, page
from polytraders.console.promotion_path import promotion_path
from polytraders.console.queries import MAX_PAGE, NotFoundError
from polytraders.console.readiness_board import readiness_board
from polytraders.console.session import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    ConsoleState,
    Session,
    changing,
    console_state,
    current_session,
    page_role,
    page_viewer,
)
from polytraders.console.shadow_view import shadow_view
from polytraders.console.sources import Source
from polytraders.contracts.reasons import Severity
from polytraders.desk.checkpoints import (
    CheckpointError,
    KillSwitchStateError,
    reset_kill_switch,
    trip_kill_switch,
)
from polytraders.model.events import TradingState
from polytraders.model.money import from_micros
from polytraders.store.console_users import ConsoleRole, find_user
from polytraders.store.errors import EvidenceInputError, StoreWriteError
from polytraders.store.lease import utc_text
from polytraders.store.records import RunStatus
from polytraders.store.shadow_comparisons import record_divergence_verdict

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters["utc"] = lambda ns: "—" if ns is None else utc_text(int(ns))
TEMPLATES.env.filters["micros"] = lambda value: "—" if value is None else from_micros(int(value))

_E = TypeVar("_E", bound=StrEnum)

LOGIN_FORM_MAX_AGE_S = 30 * 60
"""How long a sign-in form stays valid."""

RUN_STATES = [status.value for status in RunStatus] + ["ABANDONED"]

router = APIRouter(include_in_schema=False)

Viewer = Annotated[Session, Depends(page_viewer)]
State = Annotated[ConsoleState, Depends(console_state)]


def render(
    request: Request,
    page_id: str,
    session: Session | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The page ``page_id`` rendered with its registry entry, the navigation the session's
    role may open, and ``context``."""
    shown = page(page_id)
    nav = [
        p
        for p in PAGES
        if p.nav and session is not None and (p.role is None or session.user.role.allows(p.role))
    ]
    return TEMPLATES.TemplateResponse(
        request,
        f"{page_id}.html",
        {"page": shown, "nav": nav, "session": session, "csrf_field": CSRF_FIELD, **context},
        status_code=status_code,
    )


def _cookie(response: Response, state: ConsoleState, name: str, value: str, **kw: Any) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=state.settings.secure_cookies,
        **kw,
    )


def _choice(kind: type[_E], value: str, what: str) -> _E | None:
    """A form's select value: empty is "any" (None), else one of ``kind`` (422 otherwise)."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError as exc:
        choices = ", ".join(member.value for member in kind)
        raise HTTPException(status_code=422, detail=f"{what} must be one of {choices}") from exc


def _safe_next(next_path: str) -> str:
    """Only a path of this site (never ``//host``, a URL, a backslash or a control character,
    which browsers drop: ``/<tab>/host``) is a redirect target."""
    if (
        next_path.startswith("/")
        and not next_path.startswith("//")
        and "\\" not in next_path
        and all(ord(char) > 0x20 for char in next_path)
    ):
        return next_path
    return "/"


def _login_form(
    request: Request, state: ConsoleState, next_path: str, error: str = "", status_code: int = 200
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = render(
        request,
        "login",
        None,
        status_code=status_code,
        login_token=nonce,
        next_path=_safe_next(next_path),
        error=error,
    )
    token = state.signer.sign("login", {"nonce": nonce, "iat_ns": state.clock_ns()})
    _cookie(response, state, LOGIN_COOKIE, token, max_age=LOGIN_FORM_MAX_AGE_S, path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: State, next: str = "/") -> Response:
    """The sign-in form (a signed-in visitor goes on to ``next``)."""
    if current_session(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_form(request, state, next)


def _login_token_valid(request: Request, state: ConsoleState, login_token: str) -> bool:
    payload = state.signer.unsign("login", request.cookies.get(LOGIN_COOKIE, ""))
    if payload is None:
        return False
    nonce, iat_ns = payload.get("nonce"), payload.get("iat_ns")
    if not isinstance(nonce, str) or not isinstance(iat_ns, int):
        return False
    fresh = 0 <= state.clock_ns() - iat_ns <= LOGIN_FORM_MAX_AGE_S * NS_PER_S
    return fresh and hmac.compare_digest(nonce, login_token)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    state: State,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    login_token: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the sign-in form: its token (a form of this console, not older than 30 min),
    the sign-in limit per name and per client address, then the password."""
    if not _login_token_valid(request, state, login_token):
        return _login_form(
            request, state, next, "This sign-in form expired; sign in again.", status_code=403
        )
    address = request.client.host if request.client else "unknown"
    keys = (f"user:{name}", f"address:{address}")
    if state.limiter.blocked(keys):
        return _login_form(
            request,
            state,
            next,
            "Too many failed sign-ins: wait 15 minutes before trying again.",
            status_code=429,
        )
    user = find_user(state.store, name)
    if not state.password_check.verify(None if user is None else user.password_hash, password):
        state.limiter.failed(keys)
        return _login_form(request, state, next, "Wrong name or password.", status_code=401)
    assert user is not None
    state.limiter.forget(keys[0])
    _, cookie = state.signer.issue(name=user.name, version=user.version, now_ns=state.clock_ns())
    response = RedirectResponse(_safe_next(next), status_code=303)
    _cookie(response, state, SESSION_COOKIE, cookie, max_age=state.settings.session_max_age_s)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    state: State, session: Annotated[Session, Depends(changing(ConsoleRole.VIEWER))]
) -> Response:
    """End the session (its cookie is void from now on, also if it was copied)."""
    state.sign_out(session.claims)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, state: State, session: Viewer) -> HTMLResponse:
    """The console's pages and the store it reads."""
    shown: list[Page] = [
        p for p in PAGES if p.nav and (p.role is None or session.user.role.allows(p.role))
    ]
    return render(
        request,
        "home",
        session,
        pages=shown,
        store_url=state.store.url,
        secret_source=state.settings.secret_source,
    )


@router.get("/reason-codes", response_class=HTMLResponse)
def reason_codes(
    request: Request,
    state: State,
    session: Viewer,
    q: Annotated[str, Query(max_length=200)] = "",
    severity: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    """The registry, searchable, with counts per source in the latest runs."""
    view = state.data.reason_codes(query=q, severity=_choice(Severity, severity, "severity"))
    return render(
        request, "reason-codes", session, view=view, severities=list(Severity), sources=Source
    )


@router.get("/runs", response_class=HTMLResponse)
def runs(
    request: Request,
    state: State,
    session: Viewer,
    status: Annotated[str, Query(max_length=32)] = "",
    source: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    """Every run attempt, newest first, filtered by status and source."""
    listed = state.data.runs(state=status or None, source=_choice(Source, source, "source"))
    return render(
        request,
        "runs",
        session,
        runs=listed,
        status=status,
        source=source,
        states=RUN_STATES,
        sources=list(Source),
    )


@router.get("/runs/{ref}", response_class=HTMLResponse)
def run(
    request: Request,
    state: State,
    session: Viewer,
    ref: str,
    bot: str | None = None,
    code: str | None = None,
    decision: str | None = None,
    after: int = -1,
    limit: int = 50,
) -> HTMLResponse:
    """One run attempt: record, integrity, counts and a page of its decisions."""
    try:
        detail = state.data.run(ref)
        envelopes = state.data.envelopes(
            ref,
            bot=bot or None,
            code=code or None,
            decision=decision or None,
            after=max(after, -1),
            limit=min(max(limit, 1), MAX_PAGE),
        )
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return render(request, "run", session, detail=detail, envelopes=envelopes)


@router.get("/users", response_class=HTMLResponse)
def users(
    request: Request,
    state: State,
    session: Annotated[Session, Depends(page_role(ConsoleRole.ADMIN))],
) -> HTMLResponse:
    """The console's users and roles (admin)."""
    return render(request, "users", session, users=state.data.users())


@router.get("/promotion-path", response_class=HTMLResponse)
def promotion_path_page(request: Request, state: State, session: Viewer) -> HTMLResponse:
    """Seed 000's promotion path from the recorded gate evaluations."""
    view = promotion_path(state.store, state.settings)
    return render(request, "promotion-path", session, view=view)


@router.get("/readiness", response_class=HTMLResponse)
def readiness_page(request: Request, state: State, session: Viewer) -> HTMLResponse:
    """The readiness board as last recorded."""
    return render(request, "readiness", session, view=readiness_board(state.store, state.settings))


@router.get("/shadow", response_class=HTMLResponse)
def shadow(
    request: Request,
    state: State,
    session: Viewer,
    bot: Annotated[str, Query(max_length=200)] = "",
    comparison: Annotated[str, Query(max_length=100)] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> HTMLResponse:
    """Shadow comparisons per bot and one comparison's divergences with a review form."""
    try:
        view = shadow_view(
            state.store,
            bot=bot or None,
            comparison_id=comparison or None,
            offset=offset,
            limit=limit,
        )
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    reviewer = session.user.role.allows(ConsoleRole.REVIEWER)
    return render(request, "shadow", session, view=view, may_review=reviewer)


@router.post("/shadow/review")
def shadow_review(
    state: State,
    session: Annotated[Session, Depends(changing(ConsoleRole.REVIEWER))],
    comparison_id: Annotated[str, Form(max_length=100)],
    envelope_id: Annotated[str, Form(max_length=200)],
    verdict: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Record the signed-in reviewer's verdict on one divergence (the path of ``polytraders
    shadow review``; audited ``GOV_SHADOW_DIVERGENCE_REVIEWED`` with the user)."""
    try:
        record_divergence_verdict(
            state.store,
            comparison_id,
            envelope_id,
            verdict=verdict,
            reviewer=session.user.name,
            note=note.strip(),
            ts_ns=state.clock_ns(),
        )
    except EvidenceInputError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    target = f"/shadow?comparison={quote(comparison_id)}#{quote(envelope_id)}"
    return RedirectResponse(target, status_code=303)


def _desk_page(state: ConsoleState, run: str) -> DeskStatusView:
    try:
        return desks(state.store, run or None, state.settings.per_run_envelopes)
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


@router.get("/desk-status", response_class=HTMLResponse)
def desk_status(
    request: Request,
    state: State,
    session: Viewer,
    run: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """The latest desks and one desk's status, with the kill-switch forms (operator)."""
    view = _desk_page(state, run)
    operator = session.user.role.allows(ConsoleRole.OPERATOR)
    return render(
        request,
        "desk-status",
        session,
        view=view,
        may_operate=operator,
        trading_states=list(TradingState),
    )


@router.get("/desk-status/live", response_class=HTMLResponse)
def desk_status_live(
    request: Request,
    state: State,
    session: Viewer,
    run: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """The live part of the desk-status page alone (what its script polls)."""
    view = _desk_page(state, run)
    return TEMPLATES.TemplateResponse(request, "desk-status-live.html", {"view": view})


def _kill_switch_done(run: str) -> Response:
    return RedirectResponse(f"/desk-status?run={quote(run)}", status_code=303)


def _kill_switch_refused(exc: Exception) -> HTTPException:
    """A refused kill-switch command: 409 for the switch's or the run's state, 422 for a
    missing reason."""
    if isinstance(exc, KillSwitchStateError | StoreWriteError):
        return HTTPException(status_code=409, detail=str(exc))
    return HTTPException(status_code=422, detail=str(exc))


@router.post("/desk-status/kill-switch/trip")
def kill_switch_trip(
    state: State,
    session: Annotated[Session, Depends(changing(ConsoleRole.OPERATOR))],
    run: Annotated[str, Form(max_length=200)],
    reason: Annotated[str, Form(max_length=2000)],
) -> Response:
    """Trip the desk's kill switch as ``polytraders kill-switch trip`` does (an operator
    checkpoint row and its audit entry, the signed-in user as the operator)."""
    try:
        trip_kill_switch(
            state.store, run, operator=session.user.name, reason=reason, ts_ns=state.clock_ns()
        )
    except (CheckpointError, StoreWriteError) as exc:
        raise _kill_switch_refused(exc) from exc
    return _kill_switch_done(run)


@router.post("/desk-status/kill-switch/reset")
def kill_switch_reset(
    state: State,
    session: Annotated[Session, Depends(changing(ConsoleRole.OPERATOR))],
    run: Annotated[str, Form(max_length=200)],
    reason: Annotated[str, Form(max_length=2000)],
    trading_state: Annotated[TradingState, Form()] = TradingState.ACTIVE,
) -> Response:
    """Reset the desk's kill switch as ``polytraders kill-switch reset`` does (the desk then
    trades in ``trading_state``; the signed-in user as the operator)."""
    try:
        reset_kill_switch(
            state.store,
            run,
            operator=session.user.name,
            reason=reason,
            ts_ns=state.clock_ns(),
            trading_state=trading_state,
        )
    except (CheckpointError, StoreWriteError) as exc:
        raise _kill_switch_refused(exc) from exc
    return _kill_switch_done(run)
