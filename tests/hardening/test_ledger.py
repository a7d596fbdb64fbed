"""Usage ledger: record, summarize by client/provider/time, durability, sharing via Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis
import redis.asyncio

from gateway.ledger import (
    RedisLedger,
    SqliteLedger,
    UsageLedger,
    UsageRecord,
    UsageRow,
    open_ledger,
)
from gateway.settings import LedgerSettings

REDIS_URL = "redis://127.0.0.1:6379/15"
T0 = 1_700_000_000.0


def rec(request_id: str, client: str, provider: str, cost: float, at: float,
        hit: bool = False) -> UsageRecord:
    """A record `at` seconds after T0."""
    return UsageRecord(
        request_id=request_id, client=client, provider=provider, cost=cost,
        emulated=("crop", "bg_color"), cache_hit=hit, timestamp=T0 + at,
    )


RECORDS = (
    rec("r1", "alice", "withoutbg", 1.0, 0),
    rec("r2", "alice", "withoutbg", 1.0, 10),
    rec("r3", "alice", "local", 0.0, 20),
    rec("r4", "alice", "withoutbg", 0.0, 30, hit=True),
    rec("r5", "bob", "backgroundcut", 0.5, 15),
    rec("r6", "bob", "backgroundcut", 0.5, 100),
)




@pytest.fixture(params=["sqlite", "redis"])
async def ledgers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[], UsageLedger]]:
    """A factory of ledgers that share one backing store (a second instance = a restart)."""
    opened: list[UsageLedger] = []
    if request.param == "sqlite":
        path = tmp_path / "nested" / "usage.sqlite3"

        def make() -> UsageLedger:
            opened.append(SqliteLedger(path))
            return opened[-1]
    else:
        prefix = request.getfixturevalue("redis_prefix")

        def make() -> UsageLedger:
            opened.append(RedisLedger.from_url(REDIS_URL, prefix))
            return opened[-1]

    yield make
    for ledger in opened:
        await ledger.aclose()


async def test_summarize_sums_by_client_and_provider(ledgers: Callable[[], UsageLedger]) -> None:
    ledger = ledgers()
    assert isinstance(ledger, UsageLedger)
    for r in RECORDS:
        await ledger.record(r)
    rows = await ledger.summarize(None, None, None)
    assert rows == [
        UsageRow(client="alice", provider="local", images=1, cost=0.0, cache_hits=0),
        UsageRow(client="alice", provider="withoutbg", images=3, cost=2.0, cache_hits=1),
        UsageRow(client="bob", provider="backgroundcut", images=2, cost=1.0, cache_hits=0),
    ]


async def test_summarize_filters_client_and_half_open_range(
    ledgers: Callable[[], UsageLedger],
) -> None:
    ledger = ledgers()
    for r in RECORDS:
        await ledger.record(r)
    assert await ledger.summarize("bob", None, None) == [
        UsageRow(client="bob", provider="backgroundcut", images=2, cost=1.0, cache_hits=0),
    ]
    # [T0+10, T0+30): r2, r3, r5 — r1 is before, r4 sits exactly on the excluded end.
    rows = await ledger.summarize(None, T0 + 10, T0 + 30)
    assert [(r.client, r.provider, r.images) for r in rows] == [
        ("alice", "local", 1), ("alice", "withoutbg", 1), ("bob", "backgroundcut", 1),
    ]
    assert await ledger.summarize("alice", T0 + 25, None) == [
        UsageRow(client="alice", provider="withoutbg", images=1, cost=0.0, cache_hits=1),
    ]
    assert await ledger.summarize("nobody", None, None) == []
    assert await ledger.summarize(None, T0 + 1000, None) == []


async def test_records_are_visible_to_a_second_instance(
    ledgers: Callable[[], UsageLedger],
) -> None:
    writer = ledgers()
    for r in RECORDS[:3]:
        await writer.record(r)
    await writer.aclose()  # SQLite: a restart; Redis: another gateway instance
    reader = ledgers()
    await reader.record(RECORDS[3])
    rows = await reader.summarize("alice", None, None)
    assert sum(r.images for r in rows) == 4
    assert sum(r.cost for r in rows) == pytest.approx(2.0)


async def test_repeated_record_counts_once(ledgers: Callable[[], UsageLedger]) -> None:
    ledger = ledgers()
    await ledger.record(RECORDS[0])
    await ledger.record(RECORDS[0])
    rows = await ledger.summarize(None, None, None)
    assert [(r.images, r.cost) for r in rows] == [(1, 1.0)]


async def test_redis_instances_share_records(redis_prefix: str) -> None:
    first = RedisLedger.from_url(REDIS_URL, redis_prefix)
    second = RedisLedger.from_url(REDIS_URL, redis_prefix)
    try:
        await first.record(RECORDS[0])
        await second.record(RECORDS[1])
        await second.record(RECORDS[4])
        for ledger in (first, second):
            rows = await ledger.summarize(None, None, None)
            assert [(r.client, r.images) for r in rows] == [("alice", 2), ("bob", 1)]
    finally:
        await first.aclose()
        await second.aclose()


async def test_open_ledger_builds_the_configured_backend(tmp_path: Path) -> None:
    sqlite = open_ledger(LedgerSettings(path=str(tmp_path / "a" / "u.sqlite3")))
    assert isinstance(sqlite, SqliteLedger)
    await sqlite.record(RECORDS[0])
    assert (tmp_path / "a" / "u.sqlite3").exists()
    await sqlite.aclose()
    redis_ledger = open_ledger(LedgerSettings(backend="redis", redis_url=REDIS_URL))
    assert isinstance(redis_ledger, RedisLedger)
    await redis_ledger.aclose()


@pytest.mark.parametrize("page_size", [1, 2, 3, 50])
async def test_redis_paging_counts_ties_once(redis_prefix: str, page_size: int) -> None:
    ledger = RedisLedger(redis.asyncio.Redis.from_url(REDIS_URL), redis_prefix, page_size)
    try:
        # 7 records share one timestamp so page boundaries fall inside the tie group.
        stamps = [0, 5, 5, 5, 5, 5, 5, 5, 9, 9, 12]
        for i, at in enumerate(stamps):
            await ledger.record(rec(f"p{i}", "alice", "local", 1.0, at))
        rows = await ledger.summarize("alice", None, None)
        assert [(r.images, r.cost) for r in rows] == [(11, 11.0)]
        rows = await ledger.summarize("alice", T0 + 5, T0 + 12)
        assert [r.images for r in rows] == [9]
    finally:
        await ledger.aclose()


async def test_sqlite_group_commit_under_concurrency(tmp_path: Path) -> None:
    import asyncio
    import sqlite3

    ledger = SqliteLedger(tmp_path / "burst.sqlite3")
    await asyncio.gather(*(
        ledger.record(rec(f"b{i}", f"c{i % 3}", "local", 0.5, i)) for i in range(300)
    ))
    rows = await ledger.summarize(None, None, None)
    assert sum(row.images for row in rows) == 300
    assert sum(row.cost for row in rows) == pytest.approx(150.0)
    await ledger.aclose()
    with pytest.raises(sqlite3.ProgrammingError):
        await ledger.record(rec("late", "c0", "local", 0.0, 1))
    reopened = SqliteLedger(tmp_path / "burst.sqlite3")
    assert sum(row.images for row in await reopened.summarize(None, None, None)) == 300
    await reopened.aclose()


async def test_redis_ledger_buffers_while_redis_is_unreachable() -> None:
    """Nothing listens on the port: records are kept in process and still counted."""
    ledger = RedisLedger.from_url("redis://127.0.0.1:1/0", "bg-test-lost:")
    try:
        await ledger.record(rec("r1", "alice", "local", 1.0, 0))
        await ledger.record(rec("r2", "alice", "local", 2.0, 5))
        assert ledger.guard.lost
        rows = await ledger.summarize("alice", None, None)
    finally:
        await ledger.aclose()
    assert [(r.client, r.provider, r.images, r.cost) for r in rows] == [("alice", "local", 2, 3.0)]
