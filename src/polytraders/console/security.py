"""Request guards applied to every route of the console (an ASGI middleware, so a route added
later is covered without doing anything):

- a request that may change state (any method but GET, HEAD, OPTIONS) must come from the
  console's own origin: its ``Origin`` header, or without one its ``Referer``, must name the
  scheme, host and port the request was sent to, and ``Sec-Fetch-Site`` (when sent) must be
  ``same-origin`` or ``none``. A request with neither header is refused too (fail closed:
  browsers send ``Origin`` with every POST; API clients must send it);
- every response carries headers that keep pages out of frames and caches and forbid any
  script, style or form target from elsewhere (Content-Security-Policy ``default-src 'self'``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def cross_site_reason(scope: Scope) -> str | None:
    """Why an unsafe request is refused as not same-origin, or None when it may pass."""
    headers = Headers(scope=scope)
    expected = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {fetch_site})"
    origin = headers.get("origin")
    if origin is not None:
        if origin.lower() != expected:
            return f"cross-site request refused (Origin {origin} is not {expected})"
        return None
    referer = headers.get("referer")
    if referer is None:
        return "request refused: it has neither an Origin nor a Referer header"
    if _origin_of(referer) != expected:
        return f"cross-site request refused (Referer is not from {expected})"
    return None


class SameOriginMiddleware:
    """Refuses (403) unsafe requests that are not same-origin; adds the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        if scope["method"] not in SAFE_METHODS:
            reason = cross_site_reason(scope)
            if reason is not None:
                response = JSONResponse({"detail": reason}, status_code=403)
                await response(scope, receive, send_with_headers)
                return
        await self.app(scope, receive, send_with_headers)
