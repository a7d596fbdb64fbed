"""HTTP plumbing of the adapters: httpx exceptions -> ProviderErrors, and the pooled transport."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import httpx

from providers.errors import (
    ProviderError,
    ProviderProtocolError,
    ProviderTimeout,
    ProviderUnavailable,
)

ErrorTable = Mapping[int, type[ProviderError]]


def remaining(deadline: float, cap: float) -> float:
    """Seconds left until `deadline` (monotonic), at most `cap`; raises when spent."""
    left = min(cap, deadline - time.monotonic())
    if left <= 0:
        raise ProviderTimeout("deadline spent before the call")
    return left


async def send(
    client: httpx.AsyncClient, request: httpx.Request, provider: str, timeout: float
) -> httpx.Response:
    """Send `request` with `timeout` seconds and map transport failures to ProviderErrors."""
    request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
    try:
        response = await client.send(request)
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(f"{provider}: no answer within {timeout:.1f}s", provider) from exc
    except httpx.TransportError as exc:
        raise ProviderUnavailable(
            f"{provider}: connection failed ({type(exc).__name__})", provider
        ) from exc
    return response


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """Parse `Retry-After` (seconds or HTTP date) into seconds, None when absent or bad."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def raise_for_status(
    response: httpx.Response, provider: str, table: ErrorTable, what: str
) -> None:
    """Raise the ProviderError `table` names for a non-2xx status; 5xx defaults to unavailable."""
    status = response.status_code
    if status < 300:
        return
    error = table.get(status)
    if error is None:
        error = ProviderUnavailable if status >= 500 else ProviderProtocolError
    raise error(
        f"{provider}: {what} answered HTTP {status}",
        provider,
        retry_after=retry_after_seconds(response.headers),
        status=status,
    )
