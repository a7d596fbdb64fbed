"""HTTP plumbing of the adapters: httpx exceptions -> ProviderErrors, and the pooled transport."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
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


class _Released(httpx.AsyncByteStream):
    """A response body that gives its pool slot back when closed."""

    def __init__(self, stream: httpx.AsyncByteStream, busy: list[int], index: int) -> None:
        self._stream = stream
        self._busy = busy
        self._index: int | None = index

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._index is not None:
                self._busy[self._index] -= 1
                self._index = None


class PooledTransport(httpx.AsyncBaseTransport):
    """Several small connection pools, filled one after another.

    httpcore's pool checks every connection (a `select` on each idle socket, plus an O(n) idle
    count per connection) each time a request starts or ends, so its cost per request grows with
    the square of its size. Pools of at most `per_pool` connections keep that small under load,
    and filling the first pool first keeps a quiet gateway on one warm connection per vendor.
    """

    def __init__(
        self, max_connections: int = 200, per_pool: int = 8, keepalive_expiry: float = 5.0
    ) -> None:
        self._per_pool = per_pool
        self._max_pools = max(1, -(-max_connections // per_pool))
        self._limits = httpx.Limits(
            max_connections=per_pool, max_keepalive_connections=per_pool,
            keepalive_expiry=keepalive_expiry,
        )
        self._ssl = httpx.create_ssl_context()
        self._pools: list[httpx.AsyncHTTPTransport] = []
        self._busy: list[int] = []

    def _pick(self) -> int:
        for index, busy in enumerate(self._busy):
            if busy < self._per_pool:
                return index
        if len(self._pools) < self._max_pools:
            self._pools.append(httpx.AsyncHTTPTransport(verify=self._ssl, limits=self._limits))
            self._busy.append(0)
            return len(self._pools) - 1
        return min(range(len(self._busy)), key=self._busy.__getitem__)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send on the first pool with a free slot; the slot is held until the body is closed."""
        index = self._pick()
        self._busy[index] += 1
        try:
            response = await self._pools[index].handle_async_request(request)
        except BaseException:
            self._busy[index] -= 1
            raise
        if isinstance(response.stream, httpx.AsyncByteStream):
            response.stream = _Released(response.stream, self._busy, index)
        else:  # not streamed: nothing holds the connection
            self._busy[index] -= 1
        return response

    async def aclose(self) -> None:
        """Close every pool."""
        for pool in self._pools:
            await pool.aclose()
