"""The removal flow, top to bottom: validate → cache → dispatch → post-process → account.

`RemovalService.remove_one(call)` is the one entry point for "validate and remove one image with
these options for this client": the unified and drop-in routes (through `gateway.api.serving`),
`/v1/compare`, the experiments' mirror copies and background workers all call it (experiments
wrap it from outside, in `Runtime.remove`). Reading the request body and shaping the answer are
the HTTP layer's; everything between is here, in the order it runs:

1. **validate**: a header probe of the image (format, size, orientation, megapixels; no pixel
   decoded unless the structure check cannot vouch for the file), the trimap normalised, the
   client's allowed providers applied, and every option and routing constraint checked against
   the configured providers. Client faults end here, before the cache or any provider.
2. **cache**: keyed by the input, the options and the request's provider constraints, so a cached
   result is used only by requests whose constraints its provider was chosen under.
3. **dispatch**: the router walks the candidates; each attempt builds its request, calls the
   provider and checks the answer from its header (`bad_answer` falls over to the next one).
   An EXIF-rotated original is turned upright first, once, so every provider sees the same
   geometry.
4. **post-process**: a pass-through answer goes out as is (no pixel decoded); anything else runs
   the pipeline in a worker thread, within the process's pixel budget.
5. **account**: ledger, client quota, metrics.

The deadline is set once, in `validate`, and bounds everything after it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio.to_thread
import msgspec
import numpy as np

from gateway.auth import Client, ClientAuth
from gateway.cache import CachedResult, ResultCache, cache_key
from gateway.errors import Attempt, GatewayError, InvalidOption
from gateway.ledger import UsageLedger, UsageRecord
from gateway.metrics import GatewayMetrics
from gateway.postprocess import (
    Answer,
    ImageInfo,
    PixelBudget,
    PostprocessJob,
    ProcessedImage,
    Upright,
    check_answer,
    check_decodes,
    make_upright,
    normalize_trimap,
    pass_through,
    plan_options,
    postprocess,
    probe_image,
)
from gateway.postprocess.foreground import foreground_of
from gateway.postprocess.option_checks import check_options
from gateway.router import Built, Dispatched, RouteHints, Router
from gateway.settings import Settings
from providers.base import OutputOptions, Provider, ProviderRequest, ProviderResult

#: Ledger name prefix of answers a vendor was paid for but the client was not billed.
UNBILLED_PREFIX = "unbilled:"

class RemovalCall(msgspec.Struct, frozen=True, kw_only=True):
    """What a caller asks for: one image, its options and routing wishes, for one client."""

    image: bytes
    request_id: str
    options: OutputOptions = OutputOptions()
    hints: RouteHints = RouteHints()
    trimap: bytes | None = None
    client: Client | None = None
    use_cache: bool = True
    """False: always call a provider (`Cache-Control: no-store`, comparisons, mirror copies)."""
    ledger_client: str | None = None
    """The name the ledger records when there is no client (e.g. `mirror:<experiment>`)."""
    bill_empty: bool = True
    """False: an answer with no subject is not billed to the client (remove.bg's
    `unknown_foreground`); the ledger keeps its vendor cost under `unbilled:<client>`."""
    account_once: bool = False
    """Record and charge this request id at most once, however often it ran (a job item that
    ran again after its worker died); honoured when the service has a `claim_once`."""


class RemovalJob(msgspec.Struct, frozen=True):
    """A validated call, ready for the cache and the router."""

    call: RemovalCall
    info: ImageInfo
    hints: RouteHints
    """The call's hints narrowed to the client's providers, plus the image's facts."""
    trimap: bytes | None
    """The trimap normalised to an 8-bit PNG of the image's displayed size."""
    deadline: float
    """Absolute `time.monotonic()` by which the answer must be ready (set once, here)."""
    started: float
    """`time.perf_counter()` when validation began."""

    @property
    def client_name(self) -> str:
        """The client as the ledger and the logs name it."""
        call = self.call
        return call.client.name if call.client else call.ledger_client or "anonymous"


class Removal(msgspec.Struct):
    """What the gateway answers for one image, with its accounting."""

    image: ProcessedImage
    provider: str
    attempts: tuple[Attempt, ...]
    cost: float
    provider_ms: float
    postprocess_ms: float
    total_ms: float

    @property
    def overhead_ms(self) -> float:
        """Time the gateway itself added: total minus the provider call."""
        return max(0.0, self.total_ms - self.provider_ms)


class Served(msgspec.Struct):
    """A removal plus how it was served."""

    removal: Removal
    cache_hit: bool
    client: str
    experiment: str | None = None
    variant: str | None = None


class RemovalService:
    """The removal flow (module docstring) over the runtime's router, cache, ledger and limits."""

    def __init__(
        self, settings: Settings, router: Router, *, ledger: UsageLedger, auth: ClientAuth,
        metrics: GatewayMetrics, cache: ResultCache | None = None,
        budget: PixelBudget | None = None,
    ) -> None:
        self.settings = settings
        self.router = router
        self.ledger = ledger
        self.auth = auth
        self.metrics = metrics
        self.cache = cache
        self.budget = budget or PixelBudget(settings.server.pixel_budget_mp)
        self.max_pixels = int(settings.server.max_megapixels * 1_000_000)
        self.claim_once: Callable[[str], Awaitable[bool]] | None = None
        """True the first time a request id is accounted (set by the jobs feature)."""

    async def remove_one(self, call: RemovalCall) -> Served:
        """Validate, answer from the cache or dispatch and post-process, then account."""
        job = await self.validate(call)
        hit = False
        try:
            if self.cache is not None and call.use_cache:
                key = cache_key(call.image, job.trimap, call.options, cache_scope(job.hints))
                found, hit = await self.cache.get_or_compute(
                    key, lambda: self.remove(job), to_entry=_to_cache
                )
                removal = _from_cache(found) if isinstance(found, CachedResult) else found
            else:
                removal = await self.remove(job)
        except GatewayError as exc:
            for attempt in exc.attempts:
                self.metrics.count_attempt(attempt.provider, attempt.outcome)
            raise
        billed = call.bill_empty or await self._has_subject(removal, call.options)
        await self.account(job, removal, hit, billed=billed)
        return Served(removal, hit, job.client_name)

    async def validate(self, call: RemovalCall) -> RemovalJob:
        """Reject client faults before the cache or any provider (see the module docstring)."""
        started = time.perf_counter()
        hints = restrict_to_client(call.hints, call.client)
        server = self.settings.server
        info, whole = probe_image(call.image, server.max_upload_bytes, self.max_pixels)
        check_options(call.options, info.width, info.height, server.max_upload_bytes,
                      self.max_pixels)
        trimap = None
        if not whole or call.trimap is not None:
            trimap = await anyio.to_thread.run_sync(
                _check_pixels, call.image, info, call.trimap, whole, server.max_upload_bytes,
                self.max_pixels,
            )
        hints = msgspec.structs.replace(
            hints, has_trimap=trimap is not None, image_format=info.format,
            image_bytes=len(call.image), megapixels=info.pixels / 1_000_000,
        )
        self.router.candidates(hints)
        deadline = time.monotonic() + self.settings.routing.request_timeout_s
        return RemovalJob(call, info, hints, trimap, deadline, started)

    async def remove(self, job: RemovalJob) -> Removal:
        """Dispatch with failover, then post-process: a fresh answer, no cache."""
        upright = await self._upright(job)
        offer = _Offer(job, upright, self.max_pixels)
        dispatched = await self.router.dispatch(offer, job.hints, job.deadline)
        provider_done = time.perf_counter()
        try:
            processed = await self._postprocess(job, upright, dispatched)
        except GatewayError as exc:
            raise type(exc)(exc.detail, attempts=dispatched.attempts,
                            retry_after=exc.retry_after, headers=exc.headers) from exc
        finished = time.perf_counter()
        return Removal(
            image=processed,
            provider=dispatched.provider.name,
            attempts=dispatched.attempts,
            cost=dispatched.result.cost,
            provider_ms=_provider_ms(dispatched.attempts, provider_done - job.started),
            postprocess_ms=(finished - provider_done) * 1000,
            total_ms=(finished - job.started) * 1000,
        )

    async def _upright(self, job: RemovalJob) -> Upright | None:
        """An EXIF-rotated original, decoded once and turned upright (None when it is upright)."""
        if job.info.orientation == 1:
            return None
        async with self.budget.hold(job.info.pixels, job.deadline):
            return await anyio.to_thread.run_sync(
                make_upright, job.call.image, job.info, self.max_pixels
            )

    async def _postprocess(
        self, job: RemovalJob, upright: Upright | None, dispatched: Dispatched
    ) -> ProcessedImage:
        """Pass the answer through, or finish it locally within the pixel budget."""
        plan, result = dispatched.plan, dispatched.result
        if result.final and not plan.emulate:
            return pass_through(result, dispatched.answer)
        post_job = PostprocessJob(
            options=job.call.options, emulate=plan.emulate, max_pixels=self.max_pixels,
            deadline=job.deadline, trimap=job.trimap,
        )
        original: bytes | np.ndarray = upright.rgb if upright else job.call.image
        size = (job.info.width, job.info.height)
        async with self.budget.hold(job.info.pixels, job.deadline):
            return await anyio.to_thread.run_sync(postprocess, original, result, post_job, size)

    async def account(
        self, job: RemovalJob, removal: Removal, hit: bool, *, billed: bool = True
    ) -> None:
        """Ledger and the client's quota (once per request id for `account_once`), metrics.

        An answer the client is not `billed` for leaves its quota alone; the ledger still
        records what the vendor cost the gateway, under `unbilled:<client>`.
        """
        call = job.call
        name = job.client_name if billed else UNBILLED_PREFIX + job.client_name
        # One claim gates both: an item re-run after a crash must neither bill nor count twice.
        if not call.account_once or self.claim_once is None or await self.claim_once(
            call.request_id
        ):
            await self.ledger.record(UsageRecord(
                request_id=call.request_id, client=name, provider=removal.provider,
                cost=0.0 if hit else removal.cost, emulated=removal.image.emulated,
                cache_hit=hit, timestamp=time.time(),
            ))
            if billed:
                await self.auth.charge(call.client)
        self._observe(removal, hit)

    async def _has_subject(self, removal: Removal, options: OutputOptions) -> bool:
        """Does the answer hold a subject? Measures (and keeps) its box if the pipeline did not."""
        image = removal.image
        if image.foreground is None:  # pass-through or cached: decode the answer once
            box = await anyio.to_thread.run_sync(
                foreground_of, image.data, image.media_type, options.channels == "alpha"
            )
            removal.image = image = msgspec.structs.replace(image, foreground=box)
        assert image.foreground is not None
        return image.foreground[2] > 0 and image.foreground[3] > 0

    def _observe(self, removal: Removal, hit: bool) -> None:
        metrics = self.metrics
        metrics.count_cache(hit)
        if hit:
            return
        last = len(removal.attempts) - 1
        for index, attempt in enumerate(removal.attempts):
            metrics.count_attempt(attempt.provider, attempt.outcome)
            metrics.observe_provider(attempt.provider, attempt.latency_ms / 1000, attempt.outcome)
            if attempt.outcome != "ok" and index < last:
                metrics.count_fallback(attempt.outcome)
        for step in removal.image.emulated:
            metrics.count_emulated(step)
        metrics.add_spend(removal.provider, removal.cost)
        metrics.observe_overhead(removal.overhead_ms / 1000)


class _Offer:
    """The job as the router offers it to each candidate: its request, and its answer check."""

    __slots__ = ("image", "image_format", "job", "max_pixels")

    def __init__(self, job: RemovalJob, upright: Upright | None, max_pixels: int) -> None:
        self.job = job
        self.max_pixels = max_pixels
        self.image = upright.data if upright else job.call.image
        self.image_format = upright.format if upright else job.info.format

    def build(self, provider: Provider) -> Built:
        job = self.job
        plan = plan_options(job.call.options, provider.capabilities, job.trimap is not None)
        request = ProviderRequest(
            image=self.image, image_format=self.image_format, width=job.info.width,
            height=job.info.height, request_id=job.call.request_id, deadline=job.deadline,
            options=plan.native, trimap=job.trimap,
        )
        return Built(plan, request)

    def check(self, built: Built, result: ProviderResult) -> Answer:
        info = self.job.info
        passes = result.final and not built.plan.emulate
        return check_answer(result, built.plan.native, passes, (info.width, info.height),
                            self.max_pixels)


def _check_pixels(
    image: bytes, info: ImageInfo, trimap: bytes | None, whole: bool, max_bytes: int,
    max_pixels: int,
) -> bytes | None:
    """The decoding checks validation needs (blocking: run in a worker thread)."""
    if not whole:
        check_decodes(image, info, max_pixels)
    if trimap is None:
        return None
    return normalize_trimap(trimap, info.width, info.height, max_bytes)


def restrict_to_client(hints: RouteHints, client: Client | None) -> RouteHints:
    """Apply the client's `allowed_providers` to the request's pins."""
    allowed = client.settings.allowed_providers if client else None
    if not allowed:
        return hints
    if hints.provider and hints.provider not in allowed:
        raise InvalidOption(f"option `provider`: `{hints.provider}` is not allowed for this client")
    wanted = hints.providers or allowed
    kept = tuple(name for name in wanted if name in allowed)
    if not kept:
        raise InvalidOption("option `providers`: none of them is allowed for this client")
    return msgspec.structs.replace(hints, providers=kept)


def cache_scope(hints: RouteHints) -> str | None:
    """The provider constraints a cached result was made under (part of its key).

    A result is reused only by requests with the same pin, fallback and allow-list, so its
    provider always satisfies the request that reads it. None when there are none.
    """
    if hints.providers is None and hints.fallback is None:
        return hints.provider
    parts = (f"provider={hints.provider or ''}", f"fallback={hints.fallback}",
             f"providers={','.join(hints.providers or ())}")
    return ";".join(parts)


def _from_cache(entry: CachedResult) -> Removal:
    image = ProcessedImage(entry.data, entry.media_type, entry.width, entry.height, entry.emulated)
    return Removal(image=image, provider=entry.provider, attempts=(Attempt("cache", "hit"),),
                   cost=0.0, provider_ms=0.0, postprocess_ms=0.0, total_ms=0.0)


def _to_cache(removal: Removal) -> CachedResult:
    return CachedResult(
        data=removal.image.data, media_type=removal.image.media_type, width=removal.image.width,
        height=removal.image.height, provider=removal.provider, emulated=removal.image.emulated,
    )


def _provider_ms(attempts: tuple[Attempt, ...], dispatch_s: float) -> float:
    """Time spent waiting on providers: the attempts' own latencies, else the dispatch time."""
    waited = sum(a.latency_ms for a in attempts)
    return waited if waited > 0 else dispatch_s * 1000
