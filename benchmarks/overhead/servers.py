"""Start the instant upstream and a real `bg-gateway serve` process, each pinned to a core."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from sandbox.options import BACKGROUNDERASE_KEY

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
UPSTREAM_PATH = "/v2"
GATEWAY_PATH = "/v1/remove-background"


@dataclass(frozen=True)
class Layout:
    """Which CPU each process may use (None: let the OS schedule it)."""

    gateway: str | None
    upstream: str | None
    load: str | None

    def describe(self) -> str:
        """One line for the report."""
        if self.gateway is None:
            return "no CPU pinning (taskset unavailable or fewer than 2 CPUs)"
        return (f"gateway on CPU {self.gateway}, upstream on CPU {self.upstream}, "
                f"wrk on CPU {self.load}")


def default_layout() -> Layout:
    """Gateway alone on CPU 0; the upstream and the light wrk client share CPU 1."""
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return Layout(None, None, None)
    return Layout(gateway="0", upstream="1", load="1")


def pinned(command: list[str], cpus: str | None) -> list[str]:
    """`command` prefixed with `taskset -c cpus` when pinning."""
    return ["taskset", "-c", cpus, *command] if cpus is not None else command


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process `pid` (all its threads) so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free loopback port (closed again right away)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds_tree(pid: int) -> float:
    """`cpu_seconds` of `pid` and its child processes (uvicorn's workers)."""
    total = cpu_seconds(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    with contextlib.suppress(OSError):
        for child in children.read_text().split():
            with contextlib.suppress(OSError):
                total += cpu_seconds_tree(int(child))
    return total


def gateway_config(upstream_port: int, gateway_port: int, ledger_dir: Path, workers: int = 1,
                   redis_url: str | None = None) -> str:
    """TOML: only BackgroundErase at the upstream, cache off, JSON logs, ledger in `ledger_dir`;
    with `redis_url`, state on Redis (needed by `workers` > 1)."""
    state = ""
    if redis_url is not None:
        prefix = f"bg-bench-{gateway_port}:"
        state = f'[state]\nbackend = "redis"\nredis_url = "{redis_url}"\nkey_prefix = "{prefix}"\n'
    return f"""\
[server]
host = "127.0.0.1"
port = {gateway_port}
log_format = "json"
workers = {workers}

{state}
[routing]
policy = "priority"
fallback = true

[cache]
enabled = false

[ledger]
path = "{ledger_dir / 'usage.sqlite3'}"

[providers.backgrounderase]
type = "backgrounderase"
api_key = "{BACKGROUNDERASE_KEY}"
base_url = "http://127.0.0.1:{upstream_port}"
timeout_s = 30
"""


@dataclass(frozen=True)
class Running:
    """Base URLs and pids of the running upstream and gateways (by variant name)."""

    upstream_url: str
    upstream_pid: int
    gateway_urls: dict[str, str]
    gateway_pids: dict[str, int]


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url}: not ready within {timeout_s:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _start(command: list[str], log: Path, ready_url: str,
           timeout_s: float = 30.0) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT)
    try:
        _wait_ready(ready_url, process, timeout_s)
    except RuntimeError:
        _stop(process)
        raise
    return process


@contextlib.contextmanager
def running_servers(
    layout: Layout, workdir: Path, ledger_dirs: dict[str, Path],
    workers: dict[str, int] | None = None, redis_url: str | None = None,
) -> Iterator[Running]:
    """Start the upstream, then one gateway per `ledger_dirs` entry; stop them all on exit.

    A gateway named in `workers` runs that many worker processes on Redis state (`redis_url`),
    unpinned (every core)."""
    workdir.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        upstream_port = free_port()
        upstream_url = f"http://127.0.0.1:{upstream_port}"
        processes.append(_start(
            pinned([sys.executable, "-m", "benchmarks.overhead.upstream", str(upstream_port)],
                   layout.upstream),
            workdir / "upstream.log", upstream_url + "/v2/health",
        ))
        urls: dict[str, str] = {}
        pids: dict[str, int] = {}
        for name, ledger_dir in ledger_dirs.items():
            port = free_port()
            ledger_dir.mkdir(parents=True, exist_ok=True)
            config = workdir / f"gateway-{name}.toml"
            count = (workers or {}).get(name, 1)
            config.write_text(gateway_config(upstream_port, port, ledger_dir, count,
                                             redis_url if count > 1 else None),
                              encoding="utf-8")
            urls[name] = f"http://127.0.0.1:{port}"
            process = _start(
                pinned([str(VENV_BIN / "bg-gateway"), "serve", "--config", str(config)],
                       layout.gateway if count == 1 else None),
                workdir / f"gateway-{name}.log", urls[name] + "/ready",
                # uvicorn restarts a worker that is slow to import on a busy machine
                30.0 if count == 1 else 180.0,
            )
            processes.append(process)
            pids[name] = process.pid
        yield Running(upstream_url, processes[0].pid, urls, pids)
    finally:
        for process in reversed(processes):
            _stop(process)
