"""Provider errors: what failed, and may the router try the next provider.

    ProviderError                     fallback  reason
    ├── ProviderTimeout                  yes    timeout
    ├── ProviderUnavailable              yes    unavailable      (5xx, connect, DNS)
    ├── ProviderRateLimited              yes    rate_limited     (429; retry_after when sent)
    ├── ProviderOutOfCredits             yes    out_of_credits   (402, 403 expired)
    ├── ProviderAuthError                yes    auth             (our key is wrong)
    ├── ProviderProtocolError            yes    protocol         (odd body, our bad request)
    ├── ProviderBusy                     yes    busy             (local engine: queue full)
    └── ProviderRejected                 no     rejected         (vendor: image cannot be done)

Messages are ours, never a vendor's body and never anything key-shaped.
"""

from __future__ import annotations

from typing import ClassVar


class ProviderError(Exception):
    """Base of every provider failure."""

    fallback: ClassVar[bool] = True
    reason: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        provider: str = "",
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.retry_after = retry_after
        self.status = status


class ProviderTimeout(ProviderError):
    """The vendor did not answer in time."""

    reason = "timeout"


class ProviderUnavailable(ProviderError):
    """5xx, connection refused or reset, DNS failure."""

    reason = "unavailable"


class ProviderRateLimited(ProviderError):
    """The vendor's rate limit (429), or ours for this provider, is spent."""

    reason = "rate_limited"


class ProviderOutOfCredits(ProviderError):
    """No credits left, or the credits expired."""

    reason = "out_of_credits"


class ProviderAuthError(ProviderError):
    """The vendor rejected our key."""

    reason = "auth"


class ProviderProtocolError(ProviderError):
    """The vendor answered something we cannot use, or refused our (malformed) request."""

    reason = "protocol"


class ProviderBusy(ProviderError):
    """A local engine's inference queue is full, or would outlast the request's deadline."""

    reason = "busy"


class ProviderRejected(ProviderError):
    """The vendor says this image cannot be processed; another vendor would likely agree."""

    fallback = False
    reason = "rejected"
