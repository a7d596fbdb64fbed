"""The two ways `bg-gateway batch` runs: in this process, or as jobs on a running gateway."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from gateway.api.options import OPTION_KEYS, parse_options
from gateway.batch_cli import Outcome, Task, Tracker, write_atomically
from gateway.errors import GatewayError
from gateway.jobs.flow import RetryPolicy, run_with_retries
from gateway.runtime import Runtime
from gateway.settings import Settings

_POLL_S = 0.5


async def run_in_process(
    settings: Settings, todo: list[Task], options: list[tuple[str, str]], concurrency: int,
    tracker: Tracker,
) -> None:
    """Run every task through the removal flow here, `concurrency` at once."""
    parsed = parse_options(options, OPTION_KEYS)
    policy = RetryPolicy.of(settings.jobs)
    runtime = Runtime(settings)
    await runtime.start()
    gate = asyncio.Semaphore(max(1, concurrency))
    batch_id = uuid.uuid4().hex[:12]

    async def one(index: int, task: Task) -> None:
        async with gate:
            try:
                image = await asyncio.to_thread(task.source.read_bytes)
                served = await run_with_retries(runtime, image, parsed, None,
                                                f"batch-{batch_id}-{index}", policy)
                removal = served.removal
                await asyncio.to_thread(write_atomically, task.target, removal.image.data)
                tracker.done(Outcome(task, removal.provider, removal.cost))
            except GatewayError as exc:
                tracker.done(Outcome(task, error=f"{exc.code}: {exc.detail}"))
            except OSError as exc:
                tracker.done(Outcome(task, error=f"{type(exc).__name__}: {exc}"))

    try:
        await asyncio.gather(*(one(i, task) for i, task in enumerate(todo)))
    finally:
        await runtime.stop()


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{body.get('code')}: {body.get('detail')}"
    except ValueError:
        return f"HTTP {response.status_code}"


async def _submit(http: httpx.AsyncClient, chunk: list[Task],
                  options: list[tuple[str, str]]) -> str:
    images = await asyncio.gather(*(asyncio.to_thread(t.source.read_bytes) for t in chunk))
    files = [("image_file", (task.source.name, data)) for task, data in zip(chunk, images,
                                                                            strict=True)]
    response = await http.post("/v1/jobs", files=files, data=dict(options))
    if response.status_code != 202:
        raise RuntimeError(f"the gateway refused the job: {_problem(response)}")
    job_id: str = response.json()["id"]
    return job_id


async def _collect(http: httpx.AsyncClient, job_id: str, chunk: list[Task],
                   tracker: Tracker) -> None:
    """Poll one job; download each result as its item finishes."""
    seen: set[int] = set()
    while len(seen) < len(chunk):
        response = await http.get(f"/v1/jobs/{job_id}")
        if response.status_code != 200:
            raise RuntimeError(f"job {job_id}: {_problem(response)}")
        for item in response.json()["items"]:
            index, status = item["index"], item["status"]
            if index in seen or status in ("queued", "running"):
                continue
            seen.add(index)
            task = chunk[index]
            if status != "succeeded":
                error = item.get("error") or {"code": status, "detail": "not run"}
                tracker.done(Outcome(task, error=f"{error['code']}: {error['detail']}"))
                continue
            result = await http.get(f"/v1/jobs/{job_id}/items/{index}")
            if result.status_code != 200:
                tracker.done(Outcome(task, error=_problem(result)))
                continue
            await asyncio.to_thread(write_atomically, task.target, result.content)
            tracker.done(Outcome(task, result.headers.get("x-provider"),
                                 float(result.headers.get("x-cost") or 0)))
        if len(seen) < len(chunk):
            await asyncio.sleep(_POLL_S)


async def run_via_server(
    server: str, api_key: str | None, todo: list[Task], options: list[tuple[str, str]],
    chunk_size: int, tracker: Tracker,
) -> None:
    """Send the tasks as jobs of `chunk_size` images and fetch the results as they finish."""
    headers = {"X-API-Key": api_key} if api_key else {}
    chunks = [todo[i:i + chunk_size] for i in range(0, len(todo), max(1, chunk_size))]
    async with httpx.AsyncClient(base_url=server.rstrip("/"), headers=headers,
                                 timeout=120) as http:
        jobs = [(await _submit(http, chunk, options), chunk) for chunk in chunks]
        await asyncio.gather(*(_collect(http, job_id, chunk, tracker)
                               for job_id, chunk in jobs))
