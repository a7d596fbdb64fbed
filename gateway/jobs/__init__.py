"""Batch jobs: the jobs API, the SAQ queue integration and the worker entry point.

    routes.py   POST/GET/DELETE /v1/jobs…, archive, per-item results (thin handlers)
    inputs.py   reading a job's items, options and webhook from JSON or multipart
    core.py     `Jobs`: records + store + queue shared by routes and workers; one item's run
    flow.py     `run_item`: the one call into the removal flow; retries and waits for headroom
    queue.py    the SAQ queue (one SAQ job per item), enqueueing, depth
    worker.py   SAQ worker functions; `bg-gateway worker`; workers inside `serve`
    records.py  job and item records in Redis (atomic, once-only transitions)
    store.py    inputs and results with a TTL: a directory or S3
    webhooks.py signed status document to a checked address
"""

from gateway.jobs.core import Jobs
from gateway.jobs.routes import job_routes

__all__ = ["Jobs", "job_routes"]
