"""The StateBackend contract, run against MemoryState and RedisState alike."""

from __future__ import annotations

import asyncio

import pytest
from limits import parse

from gateway.state import StateBackend
from gateway.state.base import SpendAdd
from gateway.state.base import StateBackend as Protocol


async def test_is_a_state_backend(state: StateBackend) -> None:
    assert isinstance(state, Protocol)
    assert await state.ping() is True
    assert state.limits_storage is not None


async def test_cooldown_extends_never_shortens_and_expires(state: StateBackend) -> None:
    await state.set_cooldown("p", 60.0, "rate_limited")
    await state.set_cooldown("p", 5.0, "unavailable")
    found = await state.get_cooldowns(["p", "q"])
    assert set(found) == {"p"}
    assert found["p"].reason == "rate_limited" and 55 < found["p"].remaining_s <= 60
    await state.set_cooldown("p", 120.0, "out_of_credits")
    assert (await state.get_cooldowns(["p"]))["p"].reason == "out_of_credits"
    await state.set_cooldown("short", 0.05, "rate_limited")
    await asyncio.sleep(0.1)
    assert await state.get_cooldowns(["short"]) == {}


async def test_failures_count_within_window_and_reset(state: StateBackend) -> None:
    assert [await state.add_failure("p", 60.0) for _ in range(3)] == [1, 2, 3]
    await state.reset_failures("p")
    assert await state.add_failure("p", 60.0) == 1
    await state.add_failure("w", 0.05)
    await asyncio.sleep(0.1)
    assert await state.add_failure("w", 0.05) == 1


async def test_circuit_open_half_open_claim_close(state: StateBackend) -> None:
    assert await state.get_open_circuits(["p"]) == set()
    await state.open_circuit("p", 0.05)
    assert await state.get_open_circuits(["p", "q"]) == {"p"}
    assert (await state.get_cooldowns(["p"]))["p"].reason == "circuit_open"
    await asyncio.sleep(0.1)
    assert await state.get_cooldowns(["p"]) == {}
    claims = await asyncio.gather(*(state.claim_trial("p", 10.0) for _ in range(5)))
    assert sorted(claims) == [False, False, False, False, True]
    await state.release_trial("p")
    assert await state.claim_trial("p", 10.0) is True
    await state.open_circuit("p", 30.0)  # a failed trial re-opens and frees the claim
    assert await state.claim_trial("p", 10.0) is True
    await state.close_circuit("p")
    assert await state.get_open_circuits(["p"]) == set()
    assert await state.add_failure("p", 60.0) == 1


async def test_latency_ewma(state: StateBackend) -> None:
    assert await state.get_latencies(["p"]) == {}
    assert await state.update_latency("p", 100.0, 0.5) == pytest.approx(100.0)
    assert await state.update_latency("p", 200.0, 0.5) == pytest.approx(150.0)
    assert await state.get_latencies(["p", "q"]) == {"p": pytest.approx(150.0)}


async def test_spend_per_period(state: StateBackend) -> None:
    assert await state.get_spend("p", "day:2030-01-01") == 0.0
    await asyncio.gather(*(state.add_spend("p", "day:2030-01-01", 0.1, 60.0) for _ in range(10)))
    assert await state.get_spend("p", "day:2030-01-01") == pytest.approx(1.0)
    assert await state.get_spend("p", "day:2030-01-02") == 0.0


async def test_read_health_and_record_served_match_the_single_operations(
    state: StateBackend,
) -> None:
    empty = await state.read_health(["p", "q"])
    assert (empty.cooldowns, empty.open_circuits, empty.latencies) == ({}, set(), {})
    assert (await state.read_health([])).latencies == {}
    await state.set_cooldown("p", 60.0, "rate_limited")
    await state.open_circuit("q", 30.0)
    await state.record_served("p", 100.0, 0.5, SpendAdd("day:2030-01-01", 0.25, 60.0))
    await state.record_served("p", 200.0, 0.5, SpendAdd("day:2030-01-01", 0.5, 60.0))
    await state.record_served("q", 40.0, 0.5, None)
    reads = await state.read_health(["p", "q", "r"])
    assert set(reads.cooldowns) == {"p", "q"}
    assert reads.cooldowns["p"].reason == "rate_limited"
    assert reads.cooldowns["q"].reason == "circuit_open"
    assert reads.open_circuits == {"q"}
    assert reads.latencies == {"p": pytest.approx(150.0), "q": pytest.approx(40.0)}
    assert await state.get_spend("p", "day:2030-01-01") == pytest.approx(0.75)
    assert await state.get_spend("q", "day:2030-01-01") == 0.0


async def test_counters(state: StateBackend) -> None:
    assert await state.get_counter("hits") == 0
    assert await state.incr("hits") == 1
    assert await state.incr("hits", 4) == 5
    assert await state.get_counter("hits") == 5
    await state.incr("brief", 1, ttl_s=0.05)
    await asyncio.sleep(0.1)
    assert await state.get_counter("brief") == 0


async def test_rate_limit_moving_window(state: StateBackend) -> None:
    limit = parse("3/minute")
    assert (await state.rate_window(limit, "p")).remaining == 3
    hits = await asyncio.gather(*(state.rate_hit(limit, "p") for _ in range(5)))
    assert sorted(hits) == [False, False, True, True, True]
    stats = await state.rate_window(limit, "p")
    assert stats.remaining == 0
    assert (await state.rate_window(limit, "other")).remaining == 3
