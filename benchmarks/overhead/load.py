"""Drive load with `wrk` (installed from Debian when missing) and a fixed multipart body."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import msgspec

from benchmarks.overhead.servers import pinned

_SCRIPT = r"""
local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
local key = os.getenv("BENCH_API_KEY")
if key ~= nil and key ~= "" then wrk.headers["x-api-key"] = key end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "mean_us": %f, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
    latency.max))
end
"""


class WrkResult(msgspec.Struct, frozen=True):
    """What `done()` reported for one wrk run (latencies in microseconds)."""

    requests: int
    duration_us: int
    connect_errors: int
    read_errors: int
    write_errors: int
    status_errors: int
    timeouts: int
    p50_us: int
    p90_us: int
    p99_us: int
    mean_us: float
    max_us: int

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / (self.duration_us / 1e6)

    @property
    def errors(self) -> int:
        """Every failed request: socket errors, timeouts and non-2xx/3xx answers."""
        return (self.connect_errors + self.read_errors + self.write_errors
                + self.status_errors + self.timeouts)


def ensure_wrk() -> str | None:
    """Path of `wrk`, installing Debian's package when missing; None when that fails."""
    found = shutil.which("wrk")
    if found or shutil.which("apt-get") is None:
        return found
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=300, env=env, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, timeout=300,
                       env=env, **quiet)
    except (subprocess.SubprocessError, OSError):
        return None
    return shutil.which("wrk")


def write_script(directory: Path) -> Path:
    """Write the Lua script that posts the body and prints the summary as JSON."""
    path = directory / "overhead.lua"
    path.write_text(_SCRIPT, encoding="utf-8")
    return path


def run_wrk(
    wrk: str, url: str, script: Path, body: Path, content_type: str, api_key: str | None,
    connections: int, duration_s: float, cpus: str | None,
) -> WrkResult:
    """One wrk run of `duration_s` seconds with `connections` keep-alive connections."""
    command = pinned([
        wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--timeout", "10s",
        "-s", str(script), url,
    ], cpus)
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_CONTENT_TYPE": content_type,
           "BENCH_API_KEY": api_key or ""}
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=duration_s + 60, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return msgspec.json.decode(line.removeprefix("BENCH_JSON "), type=WrkResult)
    raise RuntimeError(f"wrk printed no summary (exit {done.returncode}): {done.stderr[-500:]}")
