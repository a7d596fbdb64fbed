"""The removal flow shared by every route: validate, route, post-process, account."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import anyio.to_thread
import msgspec

from gateway.errors import Attempt, GatewayError
from gateway.postprocess import (
    ImageInfo,
    Plan,
    PostprocessJob,
    ProcessedImage,
    inspect_image,
    normalize_trimap,
    plan_options,
    postprocess,
)
from gateway.router import RouteHints, Router
from gateway.settings import Settings
from providers.base import OutputOptions, Provider, ProviderRequest


class RemovalJob(msgspec.Struct, frozen=True):
    """A validated request, ready to route."""

    image: bytes
    info: ImageInfo
    options: OutputOptions
    hints: RouteHints
    request_id: str
    trimap: bytes | None = None


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


class RemovalService:
    """Validate, route with failover, then post-process in a worker thread."""

    def __init__(self, settings: Settings, router: Router) -> None:
        self.settings = settings
        self.router = router

    async def validate(
        self, image: bytes, trimap: bytes | None, options: OutputOptions, hints: RouteHints,
        request_id: str,
    ) -> RemovalJob:
        """Reject client faults before any provider is called (sniff, limits, decode, trimap)."""
        server = self.settings.server
        max_pixels = int(server.max_megapixels * 1_000_000)
        # The decode check runs in the loop's default executor: one hop for image and trimap,
        # at about half the CPU of an anyio worker-thread hop (it is on every request).
        info, normalized = await asyncio.get_running_loop().run_in_executor(
            None, _check_inputs, image, trimap, server.max_upload_bytes, max_pixels
        )
        hints = msgspec.structs.replace(
            hints,
            has_trimap=normalized is not None,
            image_format=info.format,
            image_bytes=len(image),
            megapixels=info.width * info.height / 1_000_000,
        )
        return RemovalJob(image, info, options, hints, request_id, normalized)

    async def remove(self, job: RemovalJob) -> Removal:
        """Route `job` to a provider (with failover) and post-process the answer."""
        started = time.perf_counter()
        deadline = time.monotonic() + self.settings.routing.request_timeout_s
        plans: dict[str, Plan] = {}
        dispatched = await self.router.dispatch(
            self._builder(job, deadline, plans), job.hints, deadline
        )
        provider_done = time.perf_counter()
        plan = plans[dispatched.provider.name]
        post_job = PostprocessJob(
            options=job.options,
            emulate=plan.emulate,
            max_pixels=int(self.settings.server.max_megapixels * 1_000_000),
            deadline=deadline,
            trimap=job.trimap,
        )
        try:
            if dispatched.result.final and not plan.emulate:
                # A pass-through reads only the answer's header (~10 us): no pixel work, and
                # cheaper than the worker-thread hop (two GIL hand-offs) it would otherwise take.
                processed = postprocess(job.image, dispatched.result, post_job)
            else:
                processed = await anyio.to_thread.run_sync(
                    postprocess, job.image, dispatched.result, post_job
                )
        except GatewayError as exc:
            exc.attempts = dispatched.attempts
            raise
        finished = time.perf_counter()
        return Removal(
            image=processed,
            provider=dispatched.provider.name,
            attempts=dispatched.attempts,
            cost=dispatched.result.cost,
            provider_ms=_provider_ms(dispatched.attempts, provider_done - started),
            postprocess_ms=(finished - provider_done) * 1000,
            total_ms=(finished - started) * 1000,
        )

    @staticmethod
    def _builder(
        job: RemovalJob, deadline: float, plans: dict[str, Plan]
    ) -> Callable[[Provider], ProviderRequest]:
        def build(provider: Provider) -> ProviderRequest:
            plan = plan_options(job.options, provider.capabilities, job.trimap is not None)
            plans[provider.name] = plan
            return ProviderRequest(
                image=job.image,
                image_format=job.info.format,
                width=job.info.width,
                height=job.info.height,
                request_id=job.request_id,
                deadline=deadline,
                options=plan.native,
                trimap=job.trimap,
            )

        return build


def _check_inputs(
    image: bytes, trimap: bytes | None, max_bytes: int, max_pixels: int
) -> tuple[ImageInfo, bytes | None]:
    """Validate the image, then normalise the trimap to its size (blocking: run in a thread)."""
    info = inspect_image(image, max_bytes, max_pixels)
    if trimap is None:
        return info, None
    return info, normalize_trimap(trimap, info.width, info.height, max_bytes)


def _provider_ms(attempts: tuple[Attempt, ...], dispatch_s: float) -> float:
    """Time spent waiting on providers: the attempts' own latencies, else the dispatch time."""
    waited = sum(a.latency_ms for a in attempts)
    return waited if waited > 0 else dispatch_s * 1000
