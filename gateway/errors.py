"""Gateway errors: what the client gets, as RFC 9457 problem+json.

    GatewayError
    ├── ClientError                      4xx, raised before any provider is called
    │   ├── MissingImage                 400 missing_image
    │   ├── InvalidOption                400 invalid_option
    │   ├── InvalidImageUrl              400 invalid_image_url
    │   ├── Unauthorized                 401 unauthorized
    │   ├── PayloadTooLarge              413 payload_too_large
    │   ├── UnsupportedMediaType         415 unsupported_media_type
    │   ├── InvalidImage                 422 invalid_image
    │   ├── ImageTooLarge                422 image_too_large
    │   ├── TrimapMismatch               422 trimap_mismatch
    │   ├── UnsupportedOptions           422 unsupported_options
    │   ├── RateLimited                  429 rate_limited
    │   └── QuotaExceeded                429 quota_exceeded
    └── UpstreamError                    5xx, after routing
        ├── ProviderFailed               502 provider_error
        ├── NoProviderAvailable          503 no_provider_available
        └── ProviderTimedOut             504 provider_timeout
    JobsUnavailable                      503 jobs_unavailable (batch jobs need Redis state)
"""

from __future__ import annotations

from typing import ClassVar

import msgspec


class Attempt(msgspec.Struct, frozen=True):
    """One provider call in a request's trail."""

    provider: str
    outcome: str
    """`ok` or the ProviderError reason (`rate_limited`, `timeout`, …) or `skipped:<why>`."""
    latency_ms: float = 0.0


def format_attempts(attempts: list[Attempt] | tuple[Attempt, ...]) -> str:
    """`X-Attempts` header value: `withoutbg=rate_limited, local=ok`."""
    return ", ".join(f"{a.provider}={a.outcome}" for a in attempts)


class GatewayError(Exception):
    """Base of every error a client sees."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        attempts: tuple[Attempt, ...] = (),
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attempts = attempts
        self.retry_after = retry_after
        self.headers = headers or {}


class ClientError(GatewayError):
    """The request is at fault; no provider was called."""

    status = 400


class MissingImage(ClientError):
    """No image field in the request."""

    status, code, title = 400, "missing_image", "No image in the request"


class InvalidOption(ClientError):
    """An option has an unknown or malformed value."""

    status, code, title = 400, "invalid_option", "Invalid option"


class InvalidImageUrl(ClientError):
    """`image_url` refused (scheme, address, redirect, size, content)."""

    status, code, title = 400, "invalid_image_url", "Image URL refused"


class Unauthorized(ClientError):
    """Client key missing or wrong."""

    status, code, title = 401, "unauthorized", "Unauthorized"


class PayloadTooLarge(ClientError):
    """Body or image over `max_upload_bytes`."""

    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(ClientError):
    """Not one of the sniffed image formats we accept."""

    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class InvalidImage(ClientError):
    """The image cannot be decoded."""

    status, code, title = 422, "invalid_image", "Image cannot be decoded"


class ImageTooLarge(ClientError):
    """Over `max_megapixels` (decompression bombs included)."""

    status, code, title = 422, "image_too_large", "Image too large"


class TrimapMismatch(ClientError):
    """Trimap not decodable or not the image's size."""

    status, code, title = 422, "trimap_mismatch", "Trimap does not match the image"


class UnsupportedOptions(ClientError):
    """No provider can serve these options."""

    status, code, title = 422, "unsupported_options", "No provider can serve these options"


class RateLimited(ClientError):
    """The client is over its rate limit."""

    status, code, title = 429, "rate_limited", "Rate limit exceeded"


class QuotaExceeded(ClientError):
    """The client's monthly quota is spent."""

    status, code, title = 429, "quota_exceeded", "Quota exceeded"


class UpstreamError(GatewayError):
    """Every provider failed, timed out or was unavailable."""

    status = 502


class ProviderFailed(UpstreamError):
    """Every candidate failed with an unusable answer."""

    status, code, title = 502, "provider_error", "Provider error"


class NoProviderAvailable(UpstreamError):
    """All candidates rate limited, out of credits or cooling down."""

    status, code, title = 503, "no_provider_available", "No provider available"


class ProviderTimedOut(UpstreamError):
    """The deadline ran out."""

    status, code, title = 504, "provider_timeout", "Provider timed out"


class JobsUnavailable(GatewayError):
    """Batch jobs are not available: they need `[state] backend = "redis"`."""

    status, code, title = 503, "jobs_unavailable", "Jobs unavailable"
