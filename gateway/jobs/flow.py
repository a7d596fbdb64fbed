"""The one place batch items enter the removal flow, and how an item is retried.

`run_item` is the adapter: it builds a `RemovalCall` and hands it to `Runtime.remove`, the same
entry point the synchronous routes use (routing, failover, emulation, cache, ledger, quota), marked
`account_once`: an item that ran again after its worker died is recorded and charged once. If
the flow's API changes, only `run_item` changes. `run_with_retries` waits for rate-limit headroom
(503 `no_provider_available` with its Retry-After) and retries provider failures a bounded number
of times; client faults fail at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec

from gateway.api.options import RequestOptions
from gateway.auth import Client
from gateway.errors import (
    InvalidImageUrl,
    NoProviderAvailable,
    ProviderFailed,
    ProviderTimedOut,
    QuotaExceeded,
)
from gateway.router import RouteHints
from gateway.runtime import Runtime
from gateway.service import RemovalCall, Served
from gateway.settings import JobsSettings

#: Request ids of job items start with this (logs and the ledger tell them apart).
ITEM_REQUEST_PREFIX = "job-"
_MIN_WAIT_S = 0.5


def item_request_id(job_id: str, index: int) -> str:
    """The request id of one item: the same on every run of it (ledger key)."""
    return f"{ITEM_REQUEST_PREFIX}{job_id}-{index}"


async def run_item(
    runtime: Runtime, image: bytes, options: RequestOptions, client: Client | None,
    request_id: str,
) -> Served:
    """Remove one image's background through the gateway's removal flow."""
    hints = RouteHints(provider=options.provider, providers=options.providers,
                       fallback=options.fallback, policy=options.policy,
                       routing_key=options.routing_key)
    output = options.output
    if options.bg_image_url is not None:  # as `gateway.api.serving.serve` does for the sync API
        try:
            background = await runtime.fetch_url(options.bg_image_url)
        except InvalidImageUrl as exc:  # the fetcher's messages name `image_url`
            raise InvalidImageUrl(exc.detail.replace("image_url", "bg_image_url", 1)) from None
        output = msgspec.structs.replace(output, bg_image=background)
    call = RemovalCall(image=image, request_id=request_id, options=output, hints=hints,
                       client=client, account_once=True)
    return await runtime.remove(call, options.experiment)


class RetryPolicy(msgspec.Struct, frozen=True):
    """How long an item waits for headroom and how often it is retried."""

    attempts: int = 3
    delay_s: float = 1.0
    max_wait_s: float = 3600.0

    @classmethod
    def of(cls, settings: JobsSettings) -> RetryPolicy:
        """The policy `[jobs]` configures."""
        return cls(settings.item_attempts, settings.retry_delay_s, settings.max_wait_s)


async def check_quota(runtime: Runtime, client: Client | None) -> None:
    """Fail the item when its client has used up its monthly quota."""
    quota = client.settings.monthly_quota if client else None
    if client is None or quota is None:
        return
    if await runtime.auth.used_this_month(client) >= quota:
        raise QuotaExceeded(f"client {client.name!r} has used its monthly quota of {quota} images")


async def run_with_retries(
    runtime: Runtime, image: bytes, options: RequestOptions, client: Client | None,
    request_id: str, policy: RetryPolicy, on_wait: Callable[[float], None] | None = None,
    paid: bool = False,
) -> Served:
    """`run_item`, waiting out rate limits and retrying provider failures (see the docstring).

    `paid`: the item was charged by an earlier run (its worker died after accounting), so a
    quota that run spent does not refuse it now.
    """
    failures, waited = 0, 0.0
    while True:
        if not paid:
            await check_quota(runtime, client)
        try:
            return await run_item(runtime, image, options, client, request_id)
        except NoProviderAvailable as exc:
            delay = max(_MIN_WAIT_S, exc.retry_after or policy.delay_s)
            if waited + delay > policy.max_wait_s:
                raise
            waited += delay
        except (ProviderFailed, ProviderTimedOut):
            failures += 1
            if failures >= policy.attempts:
                raise
            delay = policy.delay_s * 2 ** (failures - 1)
        if on_wait is not None:
            on_wait(delay)
        await asyncio.sleep(delay)
