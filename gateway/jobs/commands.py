"""`bg-gateway worker`: run one queue worker process (any number, on any machine)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from gateway.settings import load_settings


def add_worker_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `bg-gateway worker`."""
    worker = commands.add_parser(
        "worker", help="run a batch-job worker (needs [state] backend = \"redis\")",
        description="Take batch-job items from the Redis queue and run them through the "
        "removal flow. Start any number of them, on any machine that reaches the same Redis "
        "(and the same result store).",
    )
    worker.add_argument("--config", help="TOML config (default: $BG_GATEWAY_CONFIG or the "
                        "packaged config/gateway.toml)")
    worker.add_argument("--concurrency", type=int,
                        help="items at once (default: [jobs] worker_concurrency)")


def run_worker_command(args: argparse.Namespace) -> int:
    """Run the worker until SIGINT/SIGTERM; running items go back to the queue."""
    from gateway.jobs.worker import run_worker
    from gateway.logging import configure_logging
    from gateway.models_cli import check_onnx_providers

    settings = load_settings(args.config)
    configure_logging(settings.server.log_format)
    if settings.state.backend != "redis":
        print('start-up failed: a worker needs [state] backend = "redis" (config key '
              "`state.backend`)", file=sys.stderr)
        return 2
    problem = check_onnx_providers(settings, keep_sessions=True)
    if problem is not None:
        print(f"start-up failed: {problem}", file=sys.stderr)
        return 2
    asyncio.run(run_worker(settings, args.concurrency))
    return 0
