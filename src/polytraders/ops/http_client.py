"""An ``httpx.Client`` whose answers are freed as soon as they are dropped.

Why: httpx's client wraps every response's stream in a ``BoundSyncStream`` that holds the
response back (encode/httpx#3733, httpx 0.28–0.29), so every response — headers, request,
and its whole body — is a reference cycle, freed only by a garbage collection of the
generation it reached. A long-lived process that polls keeps them for a while: in a live
session against the CLOB simulator (``python -m bench live_rss``) each trade poll's answer
(``GET /data/trades``, about 750 trades and 800 KiB of JSON, once a second) lived through the
decoding's collections into the oldest generation and waited for a full collection (12 in
15 minutes), and the memory glibc had in use swung between 50 and 62 MiB with them
(docs/performance.md, "Memory of a live session").

:class:`HttpClient` replaces the stream of a response it has read (``stream=False``, the
default of ``get``/``post``/``request``) by an empty one: the body stays in
``response.content``, and nothing refers back to the response. A streamed response keeps its
stream (it is not read yet).
"""

from __future__ import annotations

from typing import Any

import httpx


class HttpClient(httpx.Client):
    """``httpx.Client`` whose read responses hold no reference cycle (module docstring)."""

    def send(
        self, request: httpx.Request, *, stream: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """``httpx.Client.send``; a read response gets an empty stream in place of the spent,
        bound one."""
        response = super().send(request, stream=stream, **kwargs)
        if not stream:
            response.stream = httpx.ByteStream(b"")
        return response
