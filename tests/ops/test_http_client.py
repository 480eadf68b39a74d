"""``HttpClient`` frees a read answer by reference counting (no ``BoundSyncStream`` cycle) and
leaves a streamed one readable."""

from __future__ import annotations

import gc

import httpx

from polytraders.ops.http_client import HttpClient

BODY = b'{"data": [' + b",".join(b'{"id": "%d"}' % i for i in range(1_000)) + b"]}"


def _client() -> HttpClient:
    return HttpClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=BODY))
    )


def _responses() -> int:
    return sum(isinstance(o, httpx.Response) for o in gc.get_objects())


def test_read_answers_are_freed_without_the_collector() -> None:
    with _client() as client:
        gc.collect()
        gc.disable()
        try:
            before = _responses()
            for _ in range(10):
                assert len(client.get("http://venue/data/trades").json()["data"]) == 1_000
            left = _responses() - before
        finally:
            gc.enable()
    assert left == 0


def test_a_streamed_answer_is_still_read_from_its_stream() -> None:
    with _client() as client, client.stream("GET", "http://venue/data/trades") as response:
        assert b"".join(response.iter_bytes()) == BODY
