"""Real `bg-gateway serve` processes for the integration tests (started in parallel, logs to files).

Unlike `tests.servers.gateway_process`, stderr goes to a file: a busy gateway cannot block on a
full pipe, and the test reads the whole log after the process ended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers import ROOT, free_port

STARTUP_TIMEOUT_S = 90.0


@dataclass
class GatewayProc:
    """One running gateway process."""

    base: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        """Everything the process wrote to stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout_s: float = 40.0) -> int:
        """SIGTERM, wait for the exit and return the exit code (negative: killed by a signal)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def gateway_processes(configs: Sequence[Path], log_dir: Path) -> Iterator[list[GatewayProc]]:
    """Start one gateway per config at once, wait until all answer /health; stop them after."""
    procs: list[GatewayProc] = []
    try:
        for index, config in enumerate(configs):
            port = free_port()
            log_path = log_dir / f"gateway-{index}-{port}.log"
            with log_path.open("wb") as log_file:
                process = subprocess.Popen(
                    [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config),
                     "--port", str(port)],
                    cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=log_file,
                )
            procs.append(GatewayProc(f"http://127.0.0.1:{port}", process, log_path))
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        waiting = list(procs)
        while waiting:
            for proc in list(waiting):
                if proc.process.poll() is not None:
                    raise RuntimeError(
                        f"gateway exited with {proc.process.returncode}: {proc.log_text()[-2000:]}"
                    )
                if _healthy(proc.base):
                    waiting.remove(proc)
            if waiting and time.monotonic() > deadline:
                raise RuntimeError("gateway did not start")
            time.sleep(0.1)
        yield procs
    finally:
        for proc in procs:
            if proc.process.poll() is None:
                proc.process.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait(timeout=10)


def established_connections(port: int) -> int:
    """TCP connections in state ESTABLISHED whose local port is `port` (Linux /proc)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":
                count += 1
    return count
