"""The shared HTTP layer of the vendor adapters: one call, one error table, one log line.

    VendorHTTP.call(request, what, deadline) -> a 2xx httpx.Response, or raises
        no key configured          ProviderAuthError      (before any call)
        deadline spent             ProviderTimeout        (before any call)
        balance last reported 0    ProviderOutOfCredits   (before any call, once)
        transport timeout          ProviderTimeout
        connect / transport error  ProviderUnavailable
        non-2xx                    one `provider.http_error` log line (provider, path, status,
                                   code), then the class the vendor's ErrorMap names:
                                   DEFAULT_ERRORS + per-vendor overrides + a refinement by code;
                                   unlisted 5xx unavailable, other statuses protocol
`retry_after` comes from `Retry-After` (seconds or HTTP date) or, on 429 only, from
`X-RateLimit-Reset` (Unix seconds, or seconds from now when small). Credit headers are read into
`Credits`. Messages and log lines hold our words, the status and a sanitised vendor code (plain
lowercase words): never a vendor message, never a key.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx
import msgspec
import structlog

from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutOfCredits,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)

log = structlog.get_logger("providers.http")

ErrorTable = Mapping[int, type[ProviderError]]
#: What most vendors mean by these statuses; a vendor's table overrides single entries.
DEFAULT_ERRORS: ErrorTable = {
    400: ProviderProtocolError,
    401: ProviderAuthError,
    402: ProviderOutOfCredits,
    403: ProviderAuthError,
    429: ProviderRateLimited,
}
#: Reads a vendor's raw error code from (status, body); the shared layer sanitises it.
CodeReader = Callable[[int, bytes], object]
#: Refines the table's class for (status, code); None keeps it.
Refinement = Callable[[int, str | None], type[ProviderError] | None]
_CODE = re.compile(r"[a-z]+(?:[_.-][a-z]+)*")
_EPOCH = 1_000_000_000.0


def with_defaults(overrides: ErrorTable) -> dict[int, type[ProviderError]]:
    """DEFAULT_ERRORS with the vendor's `overrides` on top."""
    return {**DEFAULT_ERRORS, **overrides}


def safe_code(value: object) -> str | None:
    """`value` lowercased when it is plain words (`unknown_foreground`), else None.

    Letters only: anything key-shaped (digits, mixed tokens) never reaches a message or a log.
    """
    if not isinstance(value, str) or len(value) > 40:
        return None
    code = value.lower()
    return code if _CODE.fullmatch(code) else None


def json_object(body: bytes) -> dict[str, object] | None:
    """The body as a JSON object, None when it is not one."""
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None


def no_code(status: int, body: bytes) -> str | None:
    """For vendors whose error bodies carry no machine-readable code."""
    return None


def no_refinement(status: int, code: str | None) -> type[ProviderError] | None:
    """For vendors whose statuses alone say enough."""
    return None


@dataclass(frozen=True)
class ErrorMap:
    """How one vendor's non-2xx answers become ProviderErrors."""

    table: ErrorTable = field(default_factory=lambda: dict(DEFAULT_ERRORS))
    code: CodeReader = no_code
    refine: Refinement = no_refinement

    def error_for(self, response: httpx.Response, provider: str, what: str) -> ProviderError | None:
        """The ProviderError for a non-2xx answer (None for 2xx)."""
        status = response.status_code
        if status < 300:
            return None
        code = safe_code(self.code(status, response.content))
        error = self.refine(status, code) or self.table.get(status)
        if error is None:
            error = ProviderUnavailable if status >= 500 else ProviderProtocolError
        suffix = f" (code {code})" if code else ""
        return error(
            f"{provider}: {what} answered HTTP {status}{suffix}",
            provider, retry_after=retry_after_seconds(response.headers, status), status=status,
        )


#: Only the status decides: 429 rate limited, 5xx unavailable, anything else protocol.
BARE_ERRORS = ErrorMap(table={429: ProviderRateLimited})


def remaining(deadline: float, cap: float, provider: str = "") -> float:
    """Seconds left until `deadline` (monotonic), at most `cap`; raises when spent."""
    left = min(cap, deadline - time.monotonic())
    if left <= 0:
        raise ProviderTimeout(f"{provider or 'provider'}: deadline spent before the call", provider)
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


def retry_after_seconds(headers: httpx.Headers, status: int = 0) -> float | None:
    """`Retry-After` (seconds or HTTP date), else on 429 `X-RateLimit-Reset`; None when absent."""
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
    reset = header_number(headers, "x-ratelimit-reset") if status == 429 else None
    if reset is None:
        return None
    # Unix seconds (remove.bg) or, from vendors that send a small number, seconds from now.
    return max(0.0, reset - time.time()) if reset > _EPOCH else max(0.0, reset)


def header_number(headers: httpx.Headers, name: str) -> float | None:
    """A numeric header as a float, None when absent or not a finite number."""
    value = headers.get(name)
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    if number is None or number != number or abs(number) == float("inf"):
        return None
    return number


class CreditHeaders(msgspec.Struct, frozen=True):
    """Names of the headers in which a vendor reports credits (None: it does not)."""

    charged: str | None = None
    remaining: str | None = None


class Credits(msgspec.Struct, frozen=True):
    """Credits one answer reports: charged by this call, left on the account."""

    charged: float | None = None
    remaining: float | None = None


def attempt_cost(price: float, charged: float | None, estimate: float = 1.0) -> float:
    """The attempt's cost: `price` per vendor credit times the credits charged (or estimated)."""
    return price * (charged if charged is not None else estimate)


class VendorHTTP:
    """One vendor account's calls: key check, deadline, error mapping, log line, credit headers."""

    def __init__(
        self,
        provider: str,
        client: httpx.AsyncClient,
        errors: ErrorMap,
        timeout_s: float,
        api_key: str | None,
        credit_headers: CreditHeaders | None = None,
        keyless: bool = False,
    ) -> None:
        self.provider = provider
        self.errors = errors
        self.timeout_s = timeout_s
        self.api_key = api_key or ""
        self.credit_headers = credit_headers or CreditHeaders()
        self.remaining_credits: float | None = None
        """The balance the vendor reported on its last successful answer."""
        self._client = client
        self._keyless = keyless

    def check(self, deadline: float | None = None) -> None:
        """Raise before any work: no key, a spent deadline, or a balance last reported as 0."""
        if not self._keyless and not self.api_key:
            raise ProviderAuthError(f"{self.provider}: no API key configured", self.provider)
        if deadline is not None:
            remaining(deadline, self.timeout_s, self.provider)
        if self.remaining_credits is not None and self.remaining_credits <= 0:
            # Once: after the router's cooldown the next attempt asks the vendor again.
            self.remaining_credits = None
            raise ProviderOutOfCredits(
                f"{self.provider}: the vendor reported no credits left", self.provider
            )

    async def call(
        self,
        request: httpx.Request,
        what: str,
        deadline: float | None = None,
        cap_s: float | None = None,
        errors: ErrorMap | None = None,
    ) -> httpx.Response:
        """Send `request`; the 2xx response, or the mapped ProviderError (after one log line)."""
        self.check(deadline)
        timeout = min(self.timeout_s, cap_s or self.timeout_s)
        if deadline is not None:
            timeout = remaining(deadline, timeout, self.provider)
        response = await send(self._client, request, self.provider, timeout)
        error = (errors or self.errors).error_for(response, self.provider, what)
        if error is not None:
            log.warning(
                "provider.http_error", provider=self.provider, path=what,
                status=response.status_code, reason=error.reason, detail=error.message,
            )
            raise error
        if self.credit_headers.remaining:
            left = header_number(response.headers, self.credit_headers.remaining)
            self.remaining_credits = left if left is not None else self.remaining_credits
        return response

    def credits(self, response: httpx.Response) -> Credits:
        """The credits `response` reports in this vendor's credit headers."""
        names = self.credit_headers
        return Credits(
            charged=header_number(response.headers, names.charged) if names.charged else None,
            remaining=header_number(response.headers, names.remaining) if names.remaining else None,
        )

    async def healthy(self, request: httpx.Request, cap_s: float) -> bool:
        """True when `request` answers 2xx within `cap_s` seconds (never raises)."""
        try:
            await self.call(request, request.url.path, cap_s=cap_s)
        except ProviderError:
            return False
        return True
