"""Sample the gateway's own `Server-Timing` header with sequential httpx requests."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import httpx
import msgspec

from benchmarks.overhead.inputs import CONTENT_TYPE


class TimingSample(msgspec.Struct, frozen=True):
    """Medians and p90s (ms) of the header parts and of the client-side wall time."""

    count: int
    wall_p50: float
    overhead_p50: float
    overhead_p90: float
    total_p50: float
    provider_p50: float
    emulated: tuple[str, ...]


def parse_server_timing(value: str) -> dict[str, float]:
    """`a;dur=1.5, b;dur=2` -> {"a": 1.5, "b": 2.0} (parts without a duration are skipped)."""
    parts: dict[str, float] = {}
    for part in value.split(","):
        name, _, params = part.strip().partition(";")
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "dur":
                parts[name.strip()] = float(number)
    return parts


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def sample_server_timing(url: str, body: Path, count: int) -> TimingSample:
    """POST the body `count` times, one at a time; summarise `Server-Timing` and wall time."""
    raw = body.read_bytes()
    walls: list[float] = []
    parts: list[dict[str, float]] = []
    emulated: set[str] = set()
    with httpx.Client(timeout=30.0) as client:
        for _ in range(count):
            started = time.perf_counter()
            response = client.post(url, content=raw, headers={"content-type": CONTENT_TYPE})
            walls.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            parts.append(parse_server_timing(response.headers.get("server-timing", "")))
            emulated.update(e for e in response.headers.get("x-emulated", "").split(",") if e)
    def column(name: str) -> list[float]:
        return [p.get(name, float("nan")) for p in parts]

    return TimingSample(
        count=count, wall_p50=statistics.median(walls),
        overhead_p50=statistics.median(column("overhead")), overhead_p90=_p90(column("overhead")),
        total_p50=statistics.median(column("total")),
        provider_p50=statistics.median(column("provider")), emulated=tuple(sorted(emulated)),
    )
