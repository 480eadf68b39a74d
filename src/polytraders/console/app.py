"""The console's FastAPI application over one open event store (``docs/console.md``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from polytraders import __version__
from polytraders.console import api, web
from polytraders.console.auth import PasswordCheck
from polytraders.console.security import SameOriginMiddleware
from polytraders.console.session import ConsoleState, SignInRequired
from polytraders.console.settings import ConsoleSettings
from polytraders.store import EventStore
from polytraders.store.errors import StoreError

STATIC_DIR = Path(__file__).parent / "static"


def create_app(
    store: EventStore,
    settings: ConsoleSettings,
    *,
    clock_ns: Callable[[], int] = time.time_ns,
    password_check: PasswordCheck | None = None,
) -> FastAPI:
    """The console app reading ``store``.

    Args:
        store: an open event store (the caller closes it).
        settings: secret, cookie flags, allowed hosts, limits.
        clock_ns: the wall clock (sessions, the sign-in limit); tests hand in their own.
        password_check: the password verifier (default: argon2 at its default cost).
    """
    app = FastAPI(
        title="Polytraders console",
        version=__version__,
        description="The operator console's JSON API: what its pages show (docs/console.md).",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN: not offline
        redoc_url=None,
    )
    app.state.console = ConsoleState(
        store, settings, clock_ns=clock_ns, password_check=password_check or PasswordCheck()
    )
    app.add_middleware(SameOriginMiddleware)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # the routers' routes go in as they are (their paths hold the prefix), not through
    # include_router, which wraps them: app.routes stays a flat list of every route, which
    # tests/console walks
    app.router.routes.extend([*api.router.routes, *web.router.routes])

    @app.exception_handler(SignInRequired)
    def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"/login?next={exc.next_path}", status_code=303)

    def _error(request: Request, status_code: int, detail: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": detail}, status_code=status_code)
        return web.TEMPLATES.TemplateResponse(
            request,
            "error.html",
            {"session": None, "nav": [], "status_code": status_code, "detail": detail},
            status_code=status_code,
        )

    @app.exception_handler(HTTPException)
    def _http(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        return _error(request, 422, "; ".join(str(e.get("msg", e)) for e in exc.errors()))

    @app.exception_handler(StoreError)
    def _store(request: Request, exc: StoreError) -> Response:
        return _error(request, 503, f"the event store cannot be read: {exc}")

    return app
