"""Prometheus metrics on a private registry, plus a plain `/metrics` route handler.

Litestar's Prometheus integration (litestar.plugins.prometheus, 2.25) is not used: its
`PrometheusMiddleware` keeps metrics in a class-level dict registered on the global default
registry, and `PrometheusController` always renders that global registry. Two apps in one process
(tests, or a gateway plus a sandbox) would share or clash on those series. `GatewayMetrics` owns a
`CollectorRegistry` instead and `metrics_handler` serves exactly that registry.

Label values must stay low-cardinality: `route` is the route template (e.g.
`/v1/remove-background`), never a raw path; `client` is a configured client name.

`_created` series are switched off (process-wide, prometheus_client's own switch): they double
the exposition and no dashboard reads them. The content type is given without its charset,
which Litestar appends to every `text/*` answer (else it would appear twice).
"""

from __future__ import annotations

from typing import Literal

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()
#: The exposition's media type; Litestar adds `; charset=utf-8` itself.
CONTENT_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")

CircuitState = Literal["closed", "open", "half_open"]
CIRCUIT_STATES: tuple[str, ...] = ("closed", "open", "half_open")
#: Vendor calls take from ~100 ms (local, small) to a minute (large image, slow vendor).
PROVIDER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
#: Gateway overhead (parsing, routing, post-processing): milliseconds to a few seconds.
OVERHEAD_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class GatewayMetrics:
    """The gateway's Prometheus series on their own registry."""

    def __init__(self, namespace: str = "bg_gateway") -> None:
        """Create every series under `namespace` on a fresh registry."""
        self.registry = CollectorRegistry()
        reg = self.registry
        self._requests = Counter(
            "requests", "HTTP requests answered.", ["route", "status", "client"],
            namespace=namespace, registry=reg,
        )
        self._provider_latency = Histogram(
            "provider_latency_seconds", "Time spent in one provider call.",
            ["provider", "outcome"], namespace=namespace, registry=reg, buckets=PROVIDER_BUCKETS,
        )
        self._overhead = Histogram(
            "overhead_seconds", "Request time not spent waiting for a provider.",
            namespace=namespace, registry=reg, buckets=OVERHEAD_BUCKETS,
        )
        self._attempts = Counter(
            "provider_attempts", "Provider attempts by outcome reason.", ["provider", "reason"],
            namespace=namespace, registry=reg,
        )
        self._fallbacks = Counter(
            "fallbacks", "Moves to the next candidate, by the reason the previous failed.",
            ["reason"], namespace=namespace, registry=reg,
        )
        self._emulated = Counter(
            "emulated_steps", "Options done locally instead of by the provider.", ["step"],
            namespace=namespace, registry=reg,
        )
        self._cache = Counter(
            "cache_lookups", "Result cache lookups.", ["result"],
            namespace=namespace, registry=reg,
        )
        self._spend = Counter(
            "spend", "Vendor cost spent, in configured cost units.", ["provider"],
            namespace=namespace, registry=reg,
        )
        self._circuit = Enum(
            "circuit_state", "Circuit breaker state per provider.", ["provider"],
            states=list(CIRCUIT_STATES), namespace=namespace, registry=reg,
        )
        self._job_items = Counter(
            "job_items", "Batch-job items finished, by outcome.", ["outcome"],
            namespace=namespace, registry=reg,
        )
        self._job_item_latency = Histogram(
            "job_item_seconds", "Time from an item's start to its result (waits included).",
            namespace=namespace, registry=reg, buckets=PROVIDER_BUCKETS,
        )
        self._job_queue = Gauge(
            "job_queue_items", "Batch-job items in the queue, by state.", ["state"],
            namespace=namespace, registry=reg,
        )

    def observe_request(self, route: str, status: int | str, client: str) -> None:
        """Count one answered request."""
        self._requests.labels(route=route, status=str(status), client=client).inc()

    def observe_provider(self, provider: str, latency_s: float, outcome: str) -> None:
        """Record the latency of one provider call and how it ended (`ok`, `timeout`, ...)."""
        self._provider_latency.labels(provider=provider, outcome=outcome).observe(latency_s)

    def observe_overhead(self, seconds: float) -> None:
        """Record the gateway's own time for one request."""
        self._overhead.observe(seconds)

    def count_attempt(self, provider: str, reason: str) -> None:
        """Count one attempt on `provider` ending with `reason` (`ok`, `rate_limited`, ...)."""
        self._attempts.labels(provider=provider, reason=reason).inc()

    def count_fallback(self, reason: str) -> None:
        """Count one fallback to the next candidate."""
        self._fallbacks.labels(reason=reason).inc()

    def count_emulated(self, step: str) -> None:
        """Count one emulated post-processing step."""
        self._emulated.labels(step=step).inc()

    def count_cache(self, hit: bool) -> None:
        """Count one result-cache lookup."""
        self._cache.labels(result="hit" if hit else "miss").inc()

    def add_spend(self, provider: str, cost: float) -> None:
        """Add `cost` (>= 0) spent on `provider`."""
        if cost < 0:
            raise ValueError("cost must be >= 0")
        self._spend.labels(provider=provider).inc(cost)

    def set_circuit(self, provider: str, state: str) -> None:
        """Set the circuit state of `provider` (`closed`, `open`, `half_open`/`half-open`)."""
        self._circuit.labels(provider=provider).state(state.replace("-", "_"))

    def observe_job_item(self, outcome: str, seconds: float) -> None:
        """Count one finished batch-job item and its latency."""
        self._job_items.labels(outcome=outcome).inc()
        self._job_item_latency.observe(seconds)

    def set_job_queue(self, state: str, count: int) -> None:
        """Set the number of queue items in `state` (`queued`, `active`, `scheduled`)."""
        self._job_queue.labels(state=state).set(count)

    def render(self) -> tuple[bytes, str]:
        """The text exposition of every series and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE


def metrics_handler(metrics: GatewayMetrics, path: str = "/metrics") -> HTTPRouteHandler:
    """A GET route handler serving `metrics` (kept out of the OpenAPI schema)."""

    @get(path, include_in_schema=False, sync_to_thread=False)
    def serve_metrics() -> Response[bytes]:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return serve_metrics
