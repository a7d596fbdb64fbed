"""Client keys, rate limits, quotas and provider allow-lists."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from gateway.auth import (
    AuthSettings,
    Client,
    ClientAuth,
    ClientSettings,
    MemoryQuotaCounter,
    RateWindows,
    presented_key,
)
from gateway.errors import QuotaExceeded, RateLimited, Unauthorized
from gateway.keys import hash_client_key
from gateway.state import MemoryState, RedisState

ALICE_KEY = "bgw_alice-secret-key-0123456789"
BOB_KEY = "bgw_bob-secret-key-9876543210"
WRONG_KEY = "bgw_not-a-real-key-5555555555"


def make_auth(
    required: bool = False,
    rate_limit: str | None = None,
    monthly_quota: int | None = None,
    windows: RateWindows | None = None,
    key_prefix: str = "bg-gateway:",
    clock: float | None = None,
) -> ClientAuth:
    clients = {
        "alice": ClientSettings(
            key_sha256=hash_client_key(ALICE_KEY),
            rate_limit=rate_limit,
            monthly_quota=monthly_quota,
            allowed_providers=("local", "withoutbg"),
        ),
        "bob": ClientSettings(key_sha256=hash_client_key(BOB_KEY).upper()),
    }
    return ClientAuth(
        AuthSettings(required=required),
        clients,
        windows or MemoryState(),
        MemoryQuotaCounter(),
        key_prefix=key_prefix,
        clock=(lambda: clock) if clock is not None else datetime.now(UTC).timestamp,
    )


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-API-Key", ALICE_KEY),
        ("x-api-key", ALICE_KEY),
        ("X-Api-Key", ALICE_KEY),
        ("Authorization", f"Bearer {ALICE_KEY}"),
        ("authorization", f"bearer  {ALICE_KEY} "),
    ],
)
def test_every_header_spelling_identifies_the_client(header: str, value: str) -> None:
    client = make_auth(required=True).identify({header: value})
    assert client is not None
    assert client.name == "alice"


def test_uppercase_hash_in_config_still_matches() -> None:
    client = make_auth().identify({"X-API-Key": BOB_KEY})
    assert client is not None and client.name == "bob"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": WRONG_KEY},
        {"Authorization": f"Bearer {WRONG_KEY}"},
        {"X-API-Key": ""},
        {"X-API-Key": ALICE_KEY[:-1]},
    ],
)
@pytest.mark.parametrize("required", [False, True])
def test_wrong_key_is_401_even_when_not_required(headers: dict[str, str], required: bool) -> None:
    with pytest.raises(Unauthorized) as caught:
        make_auth(required=required).identify(headers)
    assert caught.value.status == 401
    assert caught.value.code == "unauthorized"
    presented = next(iter(headers.values())).removeprefix("Bearer ")
    if presented:
        assert presented not in str(caught.value)
        assert presented not in caught.value.detail
        assert presented not in repr(caught.value.headers)


def test_missing_key_is_anonymous_when_not_required() -> None:
    assert make_auth(required=False).identify({"Accept": "image/png"}) is None


def test_non_bearer_authorization_counts_as_no_key() -> None:
    assert presented_key({"Authorization": "Basic dXNlcjpwYXNz"}) is None
    assert make_auth(required=False).identify({"Authorization": "Basic dXNlcjpwYXNz"}) is None


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_missing_key_is_401_when_required(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthorized) as caught:
        make_auth(required=True).identify(headers)
    assert caught.value.status == 401


def test_required_without_clients_is_a_config_error() -> None:
    with pytest.raises(ValueError, match=r"auth\.required"):
        ClientAuth(AuthSettings(required=True), {}, MemoryState(), MemoryQuotaCounter())


def test_no_clients_configured_means_auth_is_off() -> None:
    auth = ClientAuth(AuthSettings(), {}, MemoryState(), MemoryQuotaCounter())
    assert auth.identify({"Authorization": "Bearer something-for-another-proxy"}) is None


async def test_rate_limit_429_with_retry_after_and_ratelimit_headers() -> None:
    auth = make_auth(rate_limit="2/minute")
    alice = auth.identify({"X-API-Key": ALICE_KEY})
    first = await auth.admit(alice)
    assert first["RateLimit-Limit"] == "2"
    assert first["RateLimit-Remaining"] == "1"
    assert 0 < int(first["RateLimit-Reset"]) <= 60
    second = await auth.admit(alice)
    assert second["RateLimit-Remaining"] == "0"
    with pytest.raises(RateLimited) as caught:
        await auth.admit(alice)
    error = caught.value
    assert (error.status, error.code) == (429, "rate_limited")
    assert error.retry_after is not None and 1 <= error.retry_after <= 60
    assert error.headers["Retry-After"] == str(error.retry_after)
    assert error.headers["RateLimit-Limit"] == "2"
    assert error.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(error.headers["RateLimit-Reset"]) <= 60


async def test_rate_limits_are_per_client_and_anonymous_is_unlimited() -> None:
    auth = make_auth(rate_limit="2/minute")
    alice = auth.identify({"X-API-Key": ALICE_KEY})
    bob = auth.identify({"X-API-Key": BOB_KEY})
    for _ in range(2):
        await auth.admit(alice)
    with pytest.raises(RateLimited):
        await auth.admit(alice)
    for _ in range(5):
        assert await auth.admit(bob) == {}
        assert await auth.admit(None) == {}


async def test_quota_counts_only_charged_images_and_then_refuses() -> None:
    auth = make_auth(monthly_quota=2)
    alice = auth.identify({"X-API-Key": ALICE_KEY})
    assert alice is not None
    for _ in range(5):
        await auth.admit(alice)  # admitted but failed requests do not eat quota
    await auth.charge(alice)
    await auth.admit(alice)
    await auth.charge(alice)
    assert await auth.used_this_month(alice) == 2
    with pytest.raises(QuotaExceeded) as caught:
        await auth.admit(alice)
    error = caught.value
    assert (error.status, error.code) == (429, "quota_exceeded")
    assert error.retry_after is not None and error.retry_after >= 1
    assert error.headers["Retry-After"] == str(error.retry_after)
    assert ALICE_KEY not in str(error)


async def test_quota_is_per_calendar_month_utc() -> None:
    counters = MemoryQuotaCounter()
    now = {"t": datetime(2025, 1, 31, 23, 59, tzinfo=UTC).timestamp()}
    settings = ClientSettings(key_sha256=hash_client_key(ALICE_KEY), monthly_quota=1)
    auth = ClientAuth(
        AuthSettings(), {"alice": settings}, MemoryState(), counters, clock=lambda: now["t"]
    )
    alice = Client("alice", settings)
    await auth.admit(alice)
    await auth.charge(alice)
    with pytest.raises(QuotaExceeded) as caught:
        await auth.admit(alice)
    assert caught.value.retry_after == 60
    now["t"] = datetime(2025, 2, 1, 0, 0, 1, tzinfo=UTC).timestamp()
    await auth.admit(alice)
    assert await auth.used_this_month(alice) == 0


async def test_charge_and_admit_ignore_anonymous() -> None:
    auth = make_auth(monthly_quota=0)
    await auth.charge(None)
    assert await auth.admit(None) == {}


def test_allowed_providers() -> None:
    auth = make_auth()
    alice = auth.identify({"X-API-Key": ALICE_KEY})
    bob = auth.identify({"X-API-Key": BOB_KEY})
    assert auth.allowed(alice, "local")
    assert auth.allowed(alice, "withoutbg")
    assert not auth.allowed(alice, "backgroundcut")
    assert auth.allowed(bob, "backgroundcut")
    assert auth.allowed(None, "backgroundcut")


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ({"key_sha256": "abc"}, "key_sha256"),
        ({"key_sha256": "g" * 64}, "key_sha256"),
        ({"key_sha256": "a" * 64, "rate_limit": "lots"}, "rate_limit"),
        ({"key_sha256": "a" * 64, "monthly_quota": -1}, "monthly_quota"),
        ({"key_sha256": "a" * 64, "key": "plain"}, "key"),
        ({"rate_limit": "2/minute"}, "key_sha256"),
    ],
)
def test_client_settings_validation(raw: dict[str, object], where: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=where):
        msgspec.convert(raw, ClientSettings)




async def test_rate_limit_on_real_redis(redis_prefix: str) -> None:
    url = "redis://127.0.0.1:6379/15"
    state, other_state = RedisState(url, redis_prefix), RedisState(url, redis_prefix)
    auth = make_auth(rate_limit="2/minute", windows=state, key_prefix=redis_prefix)
    alice = auth.identify({"X-API-Key": ALICE_KEY})
    try:
        assert (await auth.admit(alice))["RateLimit-Remaining"] == "1"
        assert (await auth.admit(alice))["RateLimit-Remaining"] == "0"
        with pytest.raises(RateLimited) as caught:
            await auth.admit(alice)
        assert int(caught.value.headers["Retry-After"]) >= 1
        # A second gateway instance on the same Redis shares the window.
        other = make_auth(rate_limit="2/minute", windows=other_state, key_prefix=redis_prefix)
        with pytest.raises(RateLimited):
            await other.admit(alice)
    finally:
        await state.aclose()
        await other_state.aclose()
    client = aioredis.Redis.from_url(url)
    try:
        stored = [key async for key in client.scan_iter(match=f"*{redis_prefix}*")]
    finally:
        await client.aclose()
    assert stored, "the window lives in Redis under the test prefix"


async def test_rate_limit_degrades_to_per_process_when_redis_is_unreachable() -> None:
    """No Redis listens on the port: admit() still counts (in process) and never raises."""
    state = RedisState("redis://127.0.0.1:1/0", "bg-test-lost:")
    auth = make_auth(rate_limit="2/minute", windows=state)
    alice = auth.identify({"X-API-Key": ALICE_KEY})
    try:
        assert (await auth.admit(alice))["RateLimit-Remaining"] == "1"
        assert (await auth.admit(alice))["RateLimit-Remaining"] == "0"
        with pytest.raises(RateLimited):
            await auth.admit(alice)
        assert state.lost
    finally:
        await state.aclose()


@pytest.mark.parametrize(("required", "warned"), [(False, True), (True, False)])
def test_clients_without_required_auth_warn_at_start_up(required: bool, warned: bool) -> None:
    with capture_logs() as logs:
        make_auth(required=required)
        ClientAuth(AuthSettings(), {}, MemoryState(), MemoryQuotaCounter())  # no clients: quiet
    warnings = [e for e in logs if e["event"] == "auth_not_required"]
    assert len(warnings) == (1 if warned else 0)
    if warned:
        assert warnings[0]["log_level"] == "warning" and warnings[0]["clients"] == 2
