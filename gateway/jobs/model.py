"""What a batch job is made of: its meta record, item records and the public status document."""

from __future__ import annotations

from typing import Literal

import msgspec

from gateway.errors import Attempt, GatewayError

JobStatus = Literal["queued", "running", "done", "cancelled"]
ItemStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class ItemError(msgspec.Struct, frozen=True, omit_defaults=True):
    """Why an item failed: the problem the synchronous API would have answered."""

    code: str
    status: int
    title: str
    detail: str
    attempts: tuple[Attempt, ...] = ()

    @classmethod
    def of(cls, exc: GatewayError) -> ItemError:
        """The item error for a gateway error."""
        return cls(exc.code, exc.status, exc.title, exc.detail, exc.attempts)


class ItemResult(msgspec.Struct, frozen=True):
    """How an item's result was made (its bytes are in the result store)."""

    media_type: str
    width: int
    height: int
    provider: str
    attempts: tuple[Attempt, ...]
    emulated: tuple[str, ...]
    cost: float
    provider_ms: float
    postprocess_ms: float
    total_ms: float
    request_id: str
    cache_hit: bool = False
    foreground: tuple[int, int, int, int] | None = None
    """The subject's (top, left, width, height) in the result, when measured."""


class ItemRecord(msgspec.Struct, frozen=True, omit_defaults=True):
    """One item as Redis keeps it."""

    status: ItemStatus = "queued"
    url: str | None = None
    """The item's `image_url` (fetched by the worker); None when its bytes are in the store."""
    result: ItemResult | None = None
    error: ItemError | None = None
    started_at: float | None = None
    finished_at: float | None = None


class JobMeta(msgspec.Struct, frozen=True):
    """What a job was created with (never changes)."""

    id: str
    owner: str
    """The client name (`anonymous` without client auth); other clients get 404."""
    total: int
    options: tuple[tuple[str, str], ...]
    """The unified options as sent (key, value), parsed again by each worker."""
    created_at: float
    webhook_url: str | None = None


class JobCounts(msgspec.Struct, frozen=True):
    """A job's live counters."""

    status: JobStatus
    done: int
    succeeded: int
    failed: int
    cancelled: int
    finished_at: float | None


class ItemErrorView(msgspec.Struct, frozen=True):
    """`error` of an item in the status document."""

    code: str
    status: int
    detail: str


class ItemView(msgspec.Struct, frozen=True, omit_defaults=True):
    """One item in the status document."""

    index: int
    status: ItemStatus
    provider: str | None = None
    cost: float | None = None
    error: ItemErrorView | None = None
    result_url: str | None = None


class JobView(msgspec.Struct, frozen=True, omit_defaults=True):
    """`GET /v1/jobs/{id}` and the webhook body."""

    id: str
    status: JobStatus
    total: int
    done: int
    succeeded: int
    failed: int
    cancelled: int
    items: list[ItemView]
    created_at: str
    finished_at: str | None = None


class JobCreated(msgspec.Struct, frozen=True):
    """The `202` answer of `POST /v1/jobs`."""

    id: str
    status: JobStatus
    total: int
