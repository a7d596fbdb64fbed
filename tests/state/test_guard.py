"""RedisGuard: one log line per outage, stand-in while lost, one probe at a time, recovery hook."""

from __future__ import annotations

import asyncio

from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from gateway.state.guard import RedisGuard, probe_all, share_outage_log


class FlakyRedis:
    """A remote that fails while `down`, and can be held mid-call."""

    def __init__(self) -> None:
        self.down = True
        self.calls = 0
        self.hold: asyncio.Event | None = None

    async def call(self) -> str:
        self.calls += 1
        if self.hold is not None:
            await self.hold.wait()
        if self.down:
            raise RedisConnectionError("refused")
        return "remote"

    async def ping(self) -> bool:
        return await self.call() == "remote"


async def local() -> str:
    return "local"


async def test_lost_logs_once_serves_locally_and_recovers_with_its_hook() -> None:
    redis = FlakyRedis()
    recovered: list[bool] = []
    guard = RedisGuard("cache", "redis://h:6379/0", redis.ping, retry_interval_s=0.0)

    async def hook() -> None:
        recovered.append(True)

    guard.on_recover = hook
    with capture_logs() as logs:
        assert [await guard.run(redis.call, local) for _ in range(3)] == ["local"] * 3
        assert guard.lost
        redis.down = False
        assert await guard.run(redis.call, local) == "remote"
        assert await guard.run(redis.call, local) == "remote"
    events = [(e["event"], e["backend"]) for e in logs]
    assert events == [("redis_lost", "cache"), ("redis_recovered", "cache")]
    assert recovered == [True] and not guard.lost


async def test_backends_on_one_redis_log_one_outage_together() -> None:
    redis, other = FlakyRedis(), FlakyRedis()

    class User:
        def __init__(self, guard: RedisGuard) -> None:
            self.guard = guard

    state, ledger, cache = (RedisGuard(name, url, server.ping, retry_interval_s=0.0)
                            for name, url, server in (("state", "redis://h/0", redis),
                                                      ("ledger", "redis://h/0", redis),
                                                      ("cache", "redis://other/0", other)))
    share_outage_log(User(state), User(ledger), User(cache), object())
    with capture_logs() as logs:
        for guard in (state, ledger, cache):
            assert await guard.run(redis.call, local) == "local"
        redis.down = False
        assert await state.run(redis.call, local) == "remote"  # ledger still lost: no line yet
        assert [e["event"] for e in logs] == ["redis_lost", "redis_lost"]
        assert await ledger.run(redis.call, local) == "remote"
    assert [(e["event"], e["backend"], e["url"]) for e in logs] == [
        ("redis_lost", "state", "redis://h/0"), ("redis_lost", "cache", "redis://other/0"),
        ("redis_recovered", "state", "redis://h/0")]
    assert logs[-1]["backends"] == ["state", "ledger"]


async def test_while_lost_redis_is_not_retried_before_the_interval() -> None:
    redis = FlakyRedis()
    guard = RedisGuard("state", "redis://h:6379/0", redis.ping, retry_interval_s=3600.0)
    for _ in range(5):
        assert await guard.run(redis.call, local) == "local"
    assert redis.calls == 1  # the first failure only


async def test_one_probe_at_a_time_while_lost() -> None:
    redis = FlakyRedis()
    guard = RedisGuard("ledger", "redis://h:6379/0", redis.ping, retry_interval_s=0.0)
    await guard.run(redis.call, local)
    assert guard.lost and redis.calls == 1
    redis.hold = asyncio.Event()
    probe = asyncio.create_task(guard.run(redis.call, local))
    await asyncio.sleep(0)
    assert redis.calls == 2  # the probe is in flight, held
    assert await guard.run(redis.call, local) == "local"
    assert redis.calls == 2  # no second probe meanwhile
    redis.down = False
    redis.hold.set()
    assert await probe == "remote" and not guard.lost


async def test_probe_all_reports_only_redis_users() -> None:
    redis = FlakyRedis()

    class User:
        def __init__(self, guard: RedisGuard | None) -> None:
            self.guard = guard

    lost = User(RedisGuard("state", "redis://h/0", redis.ping))
    assert await probe_all(lost, User(None), object()) == {"state": False}
    redis.down = False
    assert await probe_all(lost) == {"state": True}
