"""Where job inputs and results live until their TTL: a directory (`file`) or S3 (`s3`).

Keys look like `{job_id}/in/{index}` and `{job_id}/out/{index}`. A write replaces the whole
object (a re-run of an item after a worker died writes the same key again, never a second copy).
Every call is blocking I/O run in a worker thread. `sweep` deletes what is older than the TTL.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

from gateway.settings import JobsSettings

_KEY = re.compile(r"^[0-9a-f]{32}/(in|out)/\d+$")


def input_key(job_id: str, index: int) -> str:
    """Store key of an item's input image."""
    return f"{job_id}/in/{index}"


def result_key(job_id: str, index: int) -> str:
    """Store key of an item's result."""
    return f"{job_id}/out/{index}"


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a job store key: {key!r}")
    return key


class ResultStore(Protocol):
    """Job inputs and results, kept until the TTL."""

    async def put(self, key: str, data: bytes) -> None:
        """Write (or replace) one object."""
        ...

    async def get(self, key: str) -> bytes | None:
        """One object's bytes; None when absent."""
        ...

    async def delete(self, key: str) -> None:
        """Remove one object (absent is fine)."""
        ...

    async def sweep(self, older_than_s: float) -> int:
        """Delete every object written more than `older_than_s` ago; returns how many jobs."""
        ...


class FileStore:
    """A directory per job under `root` (single node, or a shared volume)."""

    def __init__(self, root: str | Path) -> None:
        """Keep objects under `root` (created when missing)."""
        self.root = Path(root)

    def _put(self, key: str, data: bytes) -> None:
        path = self.root / _checked(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
        os.utime(self.root / key.split("/", 1)[0])

    async def put(self, key: str, data: bytes) -> None:
        """Write atomically (temporary file, then rename)."""
        await asyncio.to_thread(self._put, key, data)

    def _get(self, key: str) -> bytes | None:
        try:
            return (self.root / _checked(key)).read_bytes()
        except FileNotFoundError:
            return None

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None."""
        return await asyncio.to_thread(self._get, key)

    async def delete(self, key: str) -> None:
        """Remove the object."""
        await asyncio.to_thread((self.root / _checked(key)).unlink, True)

    def _sweep(self, older_than_s: float) -> int:
        if not self.root.is_dir():
            return 0
        cutoff, removed = time.time() - older_than_s, 0
        for job_dir in self.root.iterdir():
            if job_dir.is_dir() and job_dir.stat().st_mtime < cutoff:
                shutil.rmtree(job_dir, ignore_errors=True)
                removed += 1
        return removed

    async def sweep(self, older_than_s: float) -> int:
        """Delete job directories not written to for `older_than_s`."""
        return await asyncio.to_thread(self._sweep, older_than_s)


class S3Store:
    """Objects in an S3-compatible bucket (workers on several machines)."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        """Use a boto3 S3 `client` (thread-safe) on `bucket` under `prefix`."""
        self._s3 = client
        self._bucket = bucket
        self._prefix = prefix

    @classmethod
    def from_settings(cls, settings: JobsSettings) -> S3Store:
        """Build the boto3 client from `[jobs]` (credentials: the usual AWS_* variables)."""
        try:
            import boto3
        except ImportError:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "[jobs] result_store = \"s3\" needs boto3: pip install 'bg-gateway[jobs-s3]'"
            ) from None
        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url,
                              region_name=settings.s3_region)
        return cls(client, settings.s3_bucket, settings.s3_prefix)

    async def put(self, key: str, data: bytes) -> None:
        """PUT the object (replaces it)."""
        await asyncio.to_thread(self._s3.put_object, Bucket=self._bucket,
                                Key=self._prefix + _checked(key), Body=data)

    def _get(self, key: str) -> bytes | None:
        try:
            answer = self._s3.get_object(Bucket=self._bucket, Key=self._prefix + _checked(key))
        except self._s3.exceptions.NoSuchKey:
            return None
        data: bytes = answer["Body"].read()
        return data

    async def get(self, key: str) -> bytes | None:
        """GET the object, or None."""
        return await asyncio.to_thread(self._get, key)

    async def delete(self, key: str) -> None:
        """DELETE the object."""
        await asyncio.to_thread(self._s3.delete_object, Bucket=self._bucket,
                                Key=self._prefix + _checked(key))

    def _sweep(self, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        jobs: set[str] = set()
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=self._prefix)
        for page in pages:
            old = [o["Key"] for o in page.get("Contents", [])
                   if o["LastModified"].timestamp() < cutoff]
            for start in range(0, len(old), 1000):
                chunk = old[start:start + 1000]
                self._s3.delete_objects(Bucket=self._bucket, Delete={
                    "Objects": [{"Key": key} for key in chunk], "Quiet": True})
            jobs.update(key[len(self._prefix):].split("/", 1)[0] for key in old)
        return len(jobs)

    async def sweep(self, older_than_s: float) -> int:
        """Delete objects older than `older_than_s` (S3 has no per-object TTL)."""
        return await asyncio.to_thread(self._sweep, older_than_s)


def open_store(settings: JobsSettings) -> ResultStore:
    """The store `[jobs] result_store` names."""
    if settings.result_store == "s3":
        return S3Store.from_settings(settings)
    return FileStore(settings.result_path)
