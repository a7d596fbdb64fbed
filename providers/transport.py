"""The HTTP transport shared by every vendor adapter: small connection pools filled in order."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


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
