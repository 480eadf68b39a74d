"""Run an asyncio feed client on a background thread for the desk's synchronous loop.

The desk is single-threaded and deterministic; live feeds are asynchronous. A
:class:`BackgroundFeed` owns one event loop on one daemon thread; the client's ``sink``
pushes into a thread-safe queue that the desk drains with :meth:`BackgroundFeed.poll` at its
own pace, so nothing in the desk ever blocks on the network.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class _Runnable(Protocol):
    async def run(self) -> None: ...
    def stop(self) -> None: ...


class BackgroundFeed(Generic[T]):
    """Owns a thread + loop running ``factory(push)``'s client.

    Args:
        factory: builds the client given the ``push`` function its sink must call.
        name: thread name.
    """

    def __init__(self, factory: Callable[[Callable[[T], None]], _Runnable], name: str) -> None:
        self._queue: queue.SimpleQueue[T] = queue.SimpleQueue()
        self.client = factory(self._queue.put)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._started = threading.Event()
        self.error: BaseException | None = None

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._started.set()
        try:
            loop.run_until_complete(self.client.run())
        except BaseException as exc:  # reported through .error; the desk decides
            self.error = exc
            raise
        finally:
            loop.close()

    def start(self) -> BackgroundFeed[T]:
        """Start the thread; returns self."""
        self._thread.start()
        self._started.wait(5)
        return self

    def call(self, fn: Callable[[], Awaitable[object]]) -> object:
        """Run a coroutine on the feed's loop and wait for its result (≤ 10 s)."""
        if self._loop is None:
            raise RuntimeError("feed not started")
        return asyncio.run_coroutine_threadsafe(_wrap(fn), self._loop).result(10)

    def poll(self) -> list[T]:
        """Everything received since the last poll, in arrival order (never blocks)."""
        out: list[T] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the client and join the thread."""
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.client.stop)
        self._thread.join(timeout_s)


async def _wrap(fn: Callable[[], Awaitable[object]]) -> object:
    return await fn()
