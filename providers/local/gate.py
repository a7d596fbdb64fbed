"""Bounded inference: at most N computations at once, a bounded queue, refusal as `busy`.

A request is refused (ProviderBusy, so the router falls over to the next provider) when every
slot is taken and either `max_queue` requests already wait, or the expected wait (the queue
ahead of it times the recent compute time) would outlast its remaining deadline. Waiting holds
only the request's encoded bytes; decoded images and model activations exist only in a slot.

A slot is freed when its worker thread finishes, not when the waiting request is cancelled
(deadline, client gone): an abandoned computation still holds its memory until it ends.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from providers.errors import ProviderBusy

T = TypeVar("T")

#: Weight of the newest compute time in the moving average.
_ALPHA = 0.3


class InferenceGate:
    """Admission control and a slot count for CPU-heavy work run in worker threads."""

    def __init__(self, provider: str, concurrency: int, max_queue: int) -> None:
        self.provider = provider
        self.concurrency = concurrency
        self.max_queue = max_queue
        self.running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.seconds_ewma: float | None = None
        """Moving average of one computation's duration (None before the first)."""

    @property
    def waiting(self) -> int:
        """Requests queued for a slot right now."""
        return len(self._waiters)

    def admit(self, deadline: float) -> None:
        """ProviderBusy when the queue is full or the expected wait outlasts `deadline`."""
        if self.running < self.concurrency:
            return
        if self.waiting >= self.max_queue:
            raise ProviderBusy(f"{self.waiting} requests already wait for the local engine",
                               provider=self.provider)
        if self.seconds_ewma is not None:
            # The rounds of the queue ahead, plus the one running now, plus this request's own.
            rounds = math.ceil((self.waiting + 1) / self.concurrency) + 1
            expected = rounds * self.seconds_ewma
            if time.monotonic() + expected > deadline:
                raise ProviderBusy(f"expected wait {expected:.1f} s outlasts the deadline",
                                   provider=self.provider)

    async def run(self, function: Callable[[], T], deadline: float) -> T:
        """Admit, wait for a slot, run `function` in a worker thread; the slot ends with it."""
        self.admit(deadline)
        loop = asyncio.get_running_loop()
        if self.running < self.concurrency:
            self.running += 1
        else:
            ticket = loop.create_future()
            self._waiters.append(ticket)
            try:
                await ticket
            except BaseException:
                if ticket.done() and not ticket.cancelled():
                    self._release()  # handed a slot just as it was cancelled: pass it on
                else:
                    self._waiters.remove(ticket)
                raise
        work = loop.run_in_executor(None, self._timed, function)
        work.add_done_callback(self._finished)
        return await asyncio.shield(work)

    def _finished(self, work: asyncio.Future[T]) -> None:
        """Free the slot of a finished computation, awaited or abandoned."""
        if not work.cancelled():
            work.exception()  # retrieved: an abandoned failure is not an "unretrieved" warning
        self._release()

    def _timed(self, function: Callable[[], T]) -> T:
        """Run `function` (in a worker thread) and fold its duration into the average."""
        started = time.monotonic()
        result = function()
        took = time.monotonic() - started
        previous = self.seconds_ewma
        self.seconds_ewma = took if previous is None else _ALPHA * took + (1 - _ALPHA) * previous
        return result

    def _release(self) -> None:
        """Hand the slot to the first live waiter, or free it."""
        while self._waiters:
            ticket = self._waiters.popleft()
            if not ticket.done():
                ticket.set_result(None)
                return
        self.running -= 1
