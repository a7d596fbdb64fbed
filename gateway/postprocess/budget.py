"""A per-process budget of megapixels in post-processing at once, with a deadline-bound queue.

Each pixel job holds its megapixels while it runs; a job that does not fit waits, first come
first served, until enough is released or its request's deadline passes (then 504
`provider_timeout`). A job larger than the whole budget runs alone. This bounds the memory of
concurrent large images and keeps the event loop (and `/health`) responsive.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from gateway.errors import ProviderTimedOut


class PixelBudget:
    """At most `megapixels` of post-processing at once in this process (0 = unbounded)."""

    def __init__(self, megapixels: float) -> None:
        self.capacity = int(megapixels * 1_000_000)
        self.in_use = 0
        self.peak = 0
        """The most pixels held at once since start (for tests and benchmarks)."""
        self._queue: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        """Jobs queued for capacity."""
        return len(self._queue)

    def _fits(self, pixels: int) -> bool:
        return self.in_use == 0 or self.in_use + pixels <= self.capacity

    @asynccontextmanager
    async def hold(self, pixels: int, deadline: float) -> AsyncIterator[None]:
        """Hold `pixels` (at most the budget) while the block runs; wait until `deadline`."""
        if self.capacity <= 0:
            yield
            return
        pixels = min(pixels, self.capacity)
        if self._queue or not self._fits(pixels):
            await self._wait(pixels, deadline)
        else:
            self.in_use += pixels
        self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            self.in_use -= pixels
            self._wake()

    async def _wait(self, pixels: int, deadline: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (pixels, future)
        self._queue.append(entry)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await future
        except BaseException as exc:
            if entry in self._queue:
                self._queue.remove(entry)
            if future.done() and not future.cancelled():
                self.in_use -= pixels  # granted just as we gave up: hand the pixels back
            future.cancel()
            self._wake()
            if isinstance(exc, TimeoutError):
                raise ProviderTimedOut(
                    "the request deadline ran out while waiting for post-processing capacity"
                ) from None
            raise

    def _wake(self) -> None:
        """Grant queued jobs in order while the head fits."""
        while self._queue and self._fits(self._queue[0][0]):
            pixels, future = self._queue.popleft()
            if future.done():
                continue
            self.in_use += pixels
            self.peak = max(self.peak, self.in_use)
            future.set_result(None)
