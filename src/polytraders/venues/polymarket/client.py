"""The official ``py-clob-client-v2`` client with our HTTP transport.

:class:`ClobHttpClient` subclasses ``py_clob_client_v2.ClobClient`` and keeps everything the
library does — endpoints, request bodies (``order_to_json_v2``), L2 HMAC headers, pagination
— and replaces only its three transport methods (``_get``/``_post``/``_delete``), because the
library's module-level ``httpx.Client`` (1) drops the response headers we need
(``Retry-After`` on 429), (2) has no configurable time-out, and (3) logs response bodies. It
also turns off ``post_order``'s 30 s polling of ``/data/trades`` after a fill
(``_resolve_transactions_hashes``): fills come from the user channel and ``/data/trades``.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
from py_clob_client_v2 import ClobClient
from py_clob_client_v2.clob_types import ApiCreds

from polytraders.ops.http_client import HttpClient


class ClobRequestError(Exception):
    """A CLOB request failed: ``status`` (0 when no answer), ``message`` (venue text) and
    ``retry_after`` (the raw header or None)."""

    def __init__(self, status: int, message: str, retry_after: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        for key in ("error", "errorMsg", "message"):
            if body.get(key):
                extra = f" ({body['code']})" if body.get("code") else ""
                return f"{body[key]}{extra}"
    return json.dumps(body)[:500]


RequestObserver = Callable[[str, str, int, float], None]
"""Told of every request when it ends: ``(method, url, status, elapsed_s)``, ``status`` 0 when
no answer came (transport failure or time-out)."""


class ClobHttpClient(ClobClient):  # type: ignore[misc]
    """``ClobClient`` with a private ``httpx.Client`` (time-out ``timeout_s``; an
    :class:`~polytraders.ops.http_client.HttpClient`, whose answers are freed when dropped).

    Raises :class:`ClobRequestError` on any non-200 answer or transport failure. Every request
    is reported to :attr:`request_observer` when set (e.g. the venue latency metrics).
    """

    request_observer: RequestObserver | None = None

    def __init__(
        self,
        host: str,
        *,
        chain_id: int,
        private_key: str,
        creds: ApiCreds,
        signature_type: int = 0,
        funder: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(
            host,
            chain_id,
            key=private_key,
            creds=creds,
            signature_type=signature_type,
            funder=funder or None,
        )
        # TCP_NODELAY: a request written in several segments must not wait for the peer's
        # delayed ACK (Nagle); the same stall cost the simulator ~40 ms per response
        transport = httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        self._http = HttpClient(
            timeout=timeout_s, headers={"User-Agent": "polytraders"}, transport=transport
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _request(self, method: str, endpoint: str, headers: Any, data: Any, params: Any) -> Any:
        merged = {"Content-Type": "application/json", **(headers or {})}
        content = data.encode() if isinstance(data, str) else None
        started = time.perf_counter()
        try:
            if content is None and data is not None:
                response = self._http.request(
                    method, endpoint, headers=merged, json=data, params=params
                )
            else:
                response = self._http.request(
                    method, endpoint, headers=merged, content=content, params=params
                )
        except httpx.HTTPError as exc:
            self._observe(method, endpoint, 0, started)
            raise ClobRequestError(0, f"{type(exc).__name__}: {exc}") from exc
        self._observe(method, endpoint, response.status_code, started)
        if response.status_code != 200:
            raise ClobRequestError(
                response.status_code, _message(response), response.headers.get("Retry-After")
            )
        try:
            return response.json()
        except ValueError:
            return response.text

    def _observe(self, method: str, endpoint: str, status: int, started: float) -> None:
        if self.request_observer is not None:
            self.request_observer(method, endpoint, status, time.perf_counter() - started)

    def _get(self, endpoint: str, headers: Any = None, params: Any = None) -> Any:
        return self._request("GET", endpoint, headers, None, params)

    def _post(
        self, endpoint: str, headers: Any = None, data: Any = None, params: Any = None
    ) -> Any:
        return self._request("POST", endpoint, headers, data, params)

    def _delete(
        self, endpoint: str, headers: Any = None, data: Any = None, params: Any = None
    ) -> Any:
        return self._request("DELETE", endpoint, headers, data, params)

    def _resolve_transactions_hashes(self, response: Any) -> Any:
        return response
