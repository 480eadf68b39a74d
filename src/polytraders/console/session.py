"""Who is asking: the console's per-process state and the FastAPI dependencies that admit a
request (a valid session, the role a route needs, and for every state change the session's
CSRF token).

- pages: :func:`page_viewer` and :func:`page_role` send a visitor without a session to the
  sign-in page (303) and refuse a role too low (403);
- API reads: :func:`api_role` answers 401 without a session, 403 for a role too low;
- state changes (every non-GET route but the sign-in form): :func:`changing` answers 401
  without a session, 403 for a role too low or a missing or wrong CSRF token (form field
  ``csrf_token`` or header ``X-CSRF-Token``).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote

import msgspec
from fastapi import Depends, HTTPException, Request

from polytraders.console.auth import (
    NS_PER_S,
    LoginLimiter,
    PasswordCheck,
    SessionClaims,
    Signer,
)
from polytraders.console.queries import ConsoleData
from polytraders.console.settings import ConsoleSettings
from polytraders.store import EventStore
from polytraders.store.console_users import ConsoleRole, ConsoleUser, find_user

SESSION_COOKIE = "polytraders_session"
LOGIN_COOKIE = "polytraders_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """A signed-in request: the user as stored now, the session's claims and its CSRF
    token."""

    user: ConsoleUser
    claims: SessionClaims
    csrf_token: str


class SignInRequired(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A page needs a session: the handler redirects to the sign-in page, back to ``next``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class ConsoleState:
    """Everything one console process holds: its reads, signer, password check, sign-in
    limit, wall clock and the sessions signed out since it started."""

    def __init__(
        self,
        store: EventStore,
        settings: ConsoleSettings,
        *,
        clock_ns: Callable[[], int],
        password_check: PasswordCheck,
    ) -> None:
        self.store = store
        self.settings = settings
        self.data = ConsoleData(store, settings)
        self.signer = Signer(settings.secret)
        self.password_check = password_check
        self.clock_ns = clock_ns
        self.limiter = LoginLimiter(
            clock_ns=clock_ns,
            max_failures=settings.login_max_failures,
            window_ns=settings.login_window_s * NS_PER_S,
        )
        self._signed_out: dict[str, int] = {}
        """session id → its issue time, for sessions signed out in this process."""
        self._lock = threading.Lock()

    @property
    def max_age_ns(self) -> int:
        """A session's lifetime from sign-in."""
        return self.settings.session_max_age_s * NS_PER_S

    def sign_out(self, claims: SessionClaims) -> None:
        """Void the session ``claims`` (until it would have expired anyway)."""
        now_ns = self.clock_ns()
        with self._lock:
            self._signed_out[claims.sid] = claims.iat_ns
            for sid, iat_ns in list(self._signed_out.items()):
                if now_ns - iat_ns > self.max_age_ns:
                    del self._signed_out[sid]

    def session(self, cookie: str | None) -> Session | None:
        """The session of a cookie value, or None: missing, forged, expired, signed out, or
        its user changed or removed since it signed in.

        Raises:
            StoreError: the user could not be read.
        """
        if not cookie:
            return None
        claims = self.signer.claims(cookie)
        if claims is None:
            return None
        now_ns = self.clock_ns()
        if not 0 <= now_ns - claims.iat_ns <= self.max_age_ns:
            return None
        with self._lock:
            if claims.sid in self._signed_out:
                return None
        user = find_user(self.store, claims.name)
        if user is None or user.version != claims.version:
            return None
        return Session(user=user, claims=claims, csrf_token=self.signer.csrf_token(claims.sid))


def console_state(request: Request) -> ConsoleState:
    """The app's :class:`ConsoleState`."""
    state: ConsoleState = request.app.state.console
    return state


def current_session(request: Request) -> Session | None:
    """The request's session, or None."""
    return console_state(request).session(request.cookies.get(SESSION_COOKIE))


def _next_path(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return quote(request.url.path + query, safe="/")


def _refuse_role(session: Session, role: ConsoleRole) -> None:
    if not session.user.role.allows(role):
        raise HTTPException(
            status_code=403,
            detail=f"this needs the {role.value} role; {session.user.name} is "
            f"{session.user.role.value}",
        )


def page_role(role: ConsoleRole) -> Callable[[Request], Session]:
    """A page dependency: the session, with at least ``role``."""

    def dependency(request: Request) -> Session:
        session = current_session(request)
        if session is None:
            raise SignInRequired(_next_path(request))
        _refuse_role(session, role)
        return session

    return dependency


page_viewer = page_role(ConsoleRole.VIEWER)


def api_role(role: ConsoleRole) -> Callable[[Request], Session]:
    """An API-read dependency: the session, with at least ``role`` (401 / 403)."""

    def dependency(request: Request) -> Session:
        session = current_session(request)
        if session is None:
            raise HTTPException(status_code=401, detail="sign in first")
        _refuse_role(session, role)
        return session

    return dependency


api_viewer = api_role(ConsoleRole.VIEWER)


def changing(role: ConsoleRole) -> Callable[..., Awaitable[Session]]:
    """A state-change dependency: the session, with at least ``role``, and the session's
    CSRF token in the form field or the header (401 / 403)."""

    async def dependency(
        request: Request, session: Annotated[Session | None, Depends(current_session)]
    ) -> Session:
        if session is None:
            raise HTTPException(status_code=401, detail="sign in first")
        _refuse_role(session, role)
        token = request.headers.get(CSRF_HEADER)
        if token is None:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
        if token is None or not hmac.compare_digest(token, session.csrf_token):
            raise HTTPException(status_code=403, detail="missing or wrong CSRF token")
        return session

    return dependency
