"""Router data: request hints, the dispatch result, provider status and the state snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import msgspec
from limits import RateLimitItem

from gateway.errors import Attempt
from gateway.postprocess.answer import Answer
from gateway.postprocess.plan import Plan
from gateway.state.base import Cooldown
from providers.base import Budget, Capabilities, Provider, ProviderRequest, ProviderResult

CircuitState = Literal["closed", "open", "half_open"]


class RouteHints(msgspec.Struct, frozen=True):
    """What the request asks of routing (pins, policy, key) and what the image is."""

    provider: str | None = None
    providers: tuple[str, ...] | None = None
    fallback: bool | None = None
    policy: str | None = None
    routing_key: str | None = None
    has_trimap: bool = False
    image_format: str = "jpeg"
    image_bytes: int = 0
    megapixels: float = 0.0


class Built(msgspec.Struct, frozen=True):
    """What one attempt sends: the option plan for its provider and the request built from it."""

    plan: Plan
    request: ProviderRequest


class Offer(Protocol):
    """The request as the router offers it to each candidate: build the call, check the answer."""

    def build(self, provider: Provider) -> Built:
        """The plan and provider request for `provider`."""
        ...

    def check(self, built: Built, result: ProviderResult) -> Answer:
        """The answer's header facts; raises a ProviderError (`bad_answer`) when unusable."""
        ...


class Dispatched(msgspec.Struct):
    """A successful dispatch: everything it built, the checked answer and the attempt trail."""

    provider: Provider
    plan: Plan
    request: ProviderRequest
    result: ProviderResult
    answer: Answer
    attempts: tuple[Attempt, ...]


class ProviderStatus(msgspec.Struct):
    """One provider as `GET /v1/providers` shows it."""

    name: str
    type: str
    enabled: bool
    capabilities: Capabilities | None
    cost: float
    priority: int
    circuit: CircuitState
    cooldown_s: float
    rate_limit: str | None
    headroom: int | None
    latency_ewma_ms: float | None
    spend: float
    budget: float | None
    disabled_reason: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    """An enabled provider with its routing knobs resolved from config and capabilities."""

    name: str
    provider: Provider
    capabilities: Capabilities
    type: str
    index: int
    """Position in the configuration (the last tie-break)."""
    priority: int
    weight: float
    cost: float
    rate_limit: str | None
    limit: RateLimitItem | None
    budget: Budget | None


class Health(msgspec.Struct, frozen=True):
    """One provider's dynamic state, read from the StateBackend before selection."""

    cooldown: Cooldown | None = None
    circuit: CircuitState = "closed"
    headroom: int | None = None
    """Rate-limit units left in the window; None when the provider has no limit."""
    rate_reset_s: float = 0.0
    """Seconds until the rate-limit window frees a unit."""
    spend: float = 0.0
    budget_reset_s: float = 0.0
    latency_ms: float | None = None


class Selection(msgspec.Struct, frozen=True):
    """Ordered candidates plus the ones skipped for now, and the earliest comeback."""

    candidates: tuple[Entry, ...]
    skipped: tuple[Attempt, ...]
    retry_after_s: float | None
    fallback: bool
