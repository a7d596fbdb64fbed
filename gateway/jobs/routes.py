"""The jobs API: create, read, fetch one result, download all results, cancel.

A job belongs to the client that created it (`anonymous` without client auth); any other client
gets 404, as for a job that does not exist. Reads identify the client without spending its rate
limit (polling is cheap); creating a job is admitted like any request.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Annotated

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import PathParameter
from redis.exceptions import RedisError

from gateway.api.problems import problem_response
from gateway.api.responses import removal_headers, removal_response
from gateway.auth import Client
from gateway.errors import JobsUnavailable
from gateway.jobs.core import Jobs
from gateway.jobs.inputs import read_job
from gateway.jobs.model import ItemRecord, JobCreated, JobMeta
from gateway.jobs.queue import enqueue_items
from gateway.jobs.store import input_key, result_key
from gateway.jobs.webhooks import checked_address
from gateway.postprocess import ProcessedImage
from gateway.runtime import runtime_of
from gateway.service import Removal
from gateway.settings import Settings

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
_PUT_AT_ONCE = 16
JobId = Annotated[str, PathParameter()]
Index = Annotated[int, PathParameter()]


def jobs_of(request: Request) -> Jobs:
    """The app's jobs service, or 503 `jobs_unavailable` without Redis state."""
    jobs: Jobs = request.app.state["jobs"]
    if not jobs.available:
        raise JobsUnavailable(
            "batch jobs need a shared queue: set [state] backend = \"redis\" (config key "
            f"`state.backend`, now {jobs.settings.state.backend!r})"
        )
    return jobs


@contextlib.contextmanager
def reachable() -> Iterator[None]:
    """Redis lost mid-request: a 503 `jobs_unavailable` with Retry-After, not a 500."""
    try:
        yield
    except RedisError:
        raise JobsUnavailable("the job queue (Redis) is not reachable now; retry later",
                              retry_after=5) from None


def owner_name(client: Client | None) -> str:
    """The name a job is owned under."""
    return client.name if client is not None else "anonymous"


async def _owned(request: Request, job_id: JobId) -> tuple[Jobs, JobMeta]:
    jobs = jobs_of(request)
    client = runtime_of(request).auth.identify(request.headers)
    with reachable():
        meta = await jobs.records.meta(job_id) if _JOB_ID.match(job_id) else None
    if meta is None or meta.owner != owner_name(client):
        raise NotFoundException(f"no job {job_id[:40]!r} for this client")
    return jobs, meta


def _json(value: object, status: int = 200, headers: dict[str, str] | None = None
          ) -> Response[bytes]:
    return Response(msgspec.json.encode(value), status_code=status,
                    media_type="application/json", headers=headers)


async def create_job(request: Request) -> Response[bytes]:
    """Queue every item of a new job; 202 with its id and `Location`."""
    jobs = jobs_of(request)
    runtime = runtime_of(request)
    client, rate_headers = await runtime.authenticate(request.headers)
    given = await read_job(request, jobs.settings)
    if given.webhook_url:
        await checked_address(given.webhook_url, jobs.settings.fetch)
    job_id = uuid.uuid4().hex
    gate = asyncio.Semaphore(_PUT_AT_ONCE)

    async def put(index: int, data: bytes) -> None:
        async with gate:
            await jobs.store.put(input_key(job_id, index), data)

    await asyncio.gather(*(put(i, data) for i, data in enumerate(given.images)
                           if data is not None))
    meta = JobMeta(id=job_id, owner=owner_name(client), total=len(given.images),
                   options=given.options, created_at=time.time(), webhook_url=given.webhook_url)
    with reachable():
        await jobs.records.create(meta, [ItemRecord(url=url) for url in given.urls])
        await enqueue_items(jobs.queue, jobs.settings, job_id, meta.total)
    location = f"/v1/jobs/{job_id}"
    return _json(JobCreated(job_id, "queued", meta.total), 202,
                 {"Location": location, **rate_headers})


async def job_status(request: Request, job_id: JobId) -> Response[bytes]:
    """The job's status document."""
    jobs, meta = await _owned(request, job_id)
    with reachable():
        view = await jobs.records.view(meta)
    if view is None:
        raise NotFoundException(f"no job {job_id!r} for this client")
    return _json(view)


async def item_result(request: Request, job_id: JobId, index: Index) -> Response[bytes]:
    """One item's result, as the synchronous API would have answered it."""
    jobs, _ = await _owned(request, job_id)
    with reachable():
        record = await jobs.records.item(job_id, index)
    if record is None:
        raise NotFoundException(f"job {job_id!r} has no item {index}")
    if record.status == "failed" and record.error is not None:
        error = record.error
        return problem_response(request, error.status, error.code, error.title, error.detail,
                                error.attempts)
    result = record.result
    data = await jobs.store.get(result_key(job_id, index)) if result is not None else None
    if result is None or data is None:
        raise NotFoundException(f"item {index} is {record.status}: no result (yet)")
    removal = Removal(
        image=ProcessedImage(data, result.media_type, result.width, result.height,
                             result.emulated, foreground=result.foreground),
        provider=result.provider, attempts=result.attempts, cost=result.cost,
        provider_ms=result.provider_ms, postprocess_ms=result.postprocess_ms,
        total_ms=result.total_ms,
    )
    headers = {**removal_headers(removal, result.request_id),
               "X-Cache": "hit" if result.cache_hit else "miss"}
    return removal_response(request, removal, result.request_id, headers)


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    # Stored, not deflated: PNG, JPEG and WebP are compressed already.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()


async def job_archive(request: Request, job_id: JobId) -> Response[bytes]:
    """A ZIP of every result so far (`00000.png`, … by item index)."""
    jobs, meta = await _owned(request, job_id)
    files: list[tuple[str, bytes]] = []
    with reachable():
        records = await jobs.records.items(job_id)
    for index, record in sorted(records.items()):
        if record.status != "succeeded" or record.result is None:
            continue
        data = await jobs.store.get(result_key(job_id, index))
        if data is not None:
            files.append((f"{index:05d}{_EXTENSIONS.get(record.result.media_type, '')}", data))
    body = await asyncio.to_thread(_zip, files)
    disposition = f'attachment; filename="job-{meta.id}.zip"'
    return Response(body, media_type="application/zip",
                    headers={"Content-Disposition": disposition})


async def cancel_job(request: Request, job_id: JobId) -> Response[bytes]:
    """Cancel the items not yet started; running items finish. Answers the status document."""
    jobs, meta = await _owned(request, job_id)
    with reachable():
        if await jobs.records.cancel(job_id, time.time()) == 1:
            await jobs.job_finished(meta)
        view = await jobs.records.view(meta)
    return _json(view)


def job_routes(settings: Settings) -> list[HTTPRouteHandler]:
    """The jobs API's handlers (the create route's body limit comes from `[jobs]`)."""
    # base64 in JSON inflates images by 4/3; the rest is slack for options and multipart framing.
    body_limit = settings.jobs.max_job_bytes * 4 // 3 + 1024 * 1024
    return [
        post("/v1/jobs", status_code=202, request_max_body_size=body_limit,
             summary="Create a batch job (JSON items or multipart image_file parts)")(create_job),
        get("/v1/jobs/{job_id:str}", summary="A job's status and items")(job_status),
        get("/v1/jobs/{job_id:str}/items/{index:int}",
            summary="One item's result, as the synchronous API answers it")(item_result),
        get("/v1/jobs/{job_id:str}/archive", summary="ZIP of the results so far")(job_archive),
        delete("/v1/jobs/{job_id:str}", status_code=200,
               summary="Cancel the items not yet started")(cancel_job),
    ]
