"""Bounded inference: slots, the queue, `busy` refusals, and abandoned work keeping its slot."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from providers.errors import ProviderBusy
from providers.local.gate import InferenceGate


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (politely) until `condition()` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.005)


def _blocker(release: threading.Event, value: str) -> Callable[[], str]:
    def work() -> str:
        assert release.wait(10)
        return value
    return work


async def test_a_full_queue_is_busy_and_the_queue_drains_in_order() -> None:
    gate = InferenceGate("local", concurrency=1, max_queue=1)
    release = threading.Event()
    far = time.monotonic() + 60
    first = asyncio.create_task(gate.run(_blocker(release, "first"), far))
    await _until(lambda: gate.running == 1)
    second = asyncio.create_task(gate.run(lambda: "second", far))
    await _until(lambda: gate.waiting == 1)
    with pytest.raises(ProviderBusy) as caught:
        await gate.run(lambda: "third", far)
    assert caught.value.reason == "busy" and caught.value.fallback
    assert caught.value.provider == "local"
    release.set()
    assert await first == "first" and await second == "second"
    assert gate.running == 0 and gate.waiting == 0
    assert gate.seconds_ewma is not None


async def test_an_expected_wait_past_the_deadline_is_busy() -> None:
    gate = InferenceGate("local", concurrency=1, max_queue=10)
    release = threading.Event()
    running = asyncio.create_task(gate.run(_blocker(release, "x"), time.monotonic() + 60))
    await _until(lambda: gate.running == 1)
    gate.seconds_ewma = 5.0  # as if each inference took 5 s
    with pytest.raises(ProviderBusy, match="deadline"):
        gate.admit(time.monotonic() + 3.0)
    gate.admit(time.monotonic() + 30.0)  # enough time: admitted
    release.set()
    await running


async def test_a_free_slot_admits_even_a_tight_deadline() -> None:
    gate = InferenceGate("local", concurrency=2, max_queue=0)
    gate.seconds_ewma = 100.0
    assert await gate.run(lambda: 7, time.monotonic() + 0.5) == 7


async def test_abandoned_work_keeps_its_slot_until_the_thread_ends() -> None:
    gate = InferenceGate("local", concurrency=1, max_queue=0)
    release = threading.Event()
    task = asyncio.create_task(gate.run(_blocker(release, "x"), time.monotonic() + 60))
    await _until(lambda: gate.running == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The computation still runs (and holds its memory): no second one may start.
    assert gate.running == 1
    with pytest.raises(ProviderBusy):
        gate.admit(time.monotonic() + 60)
    release.set()
    await _until(lambda: gate.running == 0)


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    gate = InferenceGate("local", concurrency=1, max_queue=1)
    release = threading.Event()
    far = time.monotonic() + 60
    first = asyncio.create_task(gate.run(_blocker(release, "a"), far))
    await _until(lambda: gate.running == 1)
    waiter = asyncio.create_task(gate.run(lambda: "b", far))
    await _until(lambda: gate.waiting == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert gate.waiting == 0
    release.set()
    assert await first == "a"
    assert gate.running == 0


async def test_failures_free_the_slot() -> None:
    gate = InferenceGate("local", concurrency=1, max_queue=0)

    def boom() -> None:
        raise ValueError("bad image")

    with pytest.raises(ValueError, match="bad image"):
        await gate.run(boom, time.monotonic() + 60)
    assert gate.running == 0
