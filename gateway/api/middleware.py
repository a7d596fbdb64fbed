"""Request context: a request id on every answer, and one log event per request.

A request still running when the server's graceful-shutdown period ends is cancelled by uvicorn;
before the answer started, the middleware answers it a problem+json 503 with its request id
(instead of uvicorn's plain-text 500) and counts it; `log_cut_requests` (an app shutdown hook)
logs how many were cut. Error answers (4xx/5xx) log their `error` code and the `client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import secrets
import time

import msgspec
import structlog
from litestar import Litestar
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import current_client
from gateway.errors import NoProviderAvailable

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A random per-process prefix plus a counter: unique across instances and restarts without a
# urandom syscall per request (uuid4 showed up at ~6% of the gateway's CPU in the profile).
_ID_PREFIX = secrets.token_hex(12)
_ID_COUNTER = itertools.count(1)
log = structlog.get_logger("gateway")


def new_request_id(presented: str | None) -> str:
    """Keep a sane client-sent `X-Request-Id`, else mint one."""
    if presented and _VALID_ID.match(presented):
        return presented
    return f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: assign the request id, stamp `X-Request-Id`, log the request."""
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers", ()))
        presented = headers.get(b"x-request-id", b"").decode("latin-1") or None
        request_id = new_request_id(presented)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["received_at"] = started
        status = 500
        started_answer = False
        client_token = current_client.set("anonymous")

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_answer
            if message["type"] == "http.response.start":
                status = message["status"]
                started_answer = True
                raw = list(message.get("headers", ()))
                if not any(k.lower() == b"x-request-id" for k, _ in raw):
                    raw.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = raw
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            if started_answer:
                raise
            # uvicorn cancels what still runs when the shutdown grace period is over.
            _count_cut(scope)
            status = SHUTDOWN_CUT.status
            state["error_code"] = SHUTDOWN_CUT.code
            with contextlib.suppress(Exception):  # the client may be gone already
                for message in _cut_answer(request_id):
                    await send(message)
        finally:
            client = current_client.get()
            current_client.reset(client_token)
            _observe(scope, status)
            if scope.get("path") not in ("/health", "/metrics"):
                fields = dict(state.get("log", {}))
                if status >= 400:
                    fields.setdefault("error", state.get("error_code"))
                    fields.setdefault("client", client)
                log.info(
                    "request",
                    request_id=request_id,
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    **fields,
                )

    return middleware


class _ShuttingDown(NoProviderAvailable):
    """The request was still running when the shutdown grace period ended (a documented 503)."""

    title = "The gateway is shutting down"


SHUTDOWN_CUT = _ShuttingDown(
    "the gateway stopped before this request finished (shutdown grace period over); "
    "retry it, on another instance if there is one", retry_after=1,
)


def _cut_answer(request_id: str) -> list[Message]:
    """The problem+json 503 for a request cut off at shutdown (built without the framework)."""
    body = msgspec.json.encode({
        "type": f"https://bg-gateway.dev/problems/{SHUTDOWN_CUT.code}",
        "title": SHUTDOWN_CUT.title, "status": SHUTDOWN_CUT.status,
        "detail": SHUTDOWN_CUT.detail, "code": SHUTDOWN_CUT.code, "request_id": request_id,
    })
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode("latin-1")),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
    ]
    return [
        {"type": "http.response.start", "status": SHUTDOWN_CUT.status, "headers": headers},
        {"type": "http.response.body", "body": body, "more_body": False},
    ]


def _count_cut(scope: Scope) -> None:
    app_state = scope["app"].state
    app_state["cut_requests"] = int(app_state.get("cut_requests", 0)) + 1


def log_cut_requests(app: Litestar) -> None:
    """Shutdown hook: say how many requests the end of the grace period cut off."""
    cut = int(app.state.get("cut_requests", 0))
    if cut:
        log.warning("shutdown_cut_requests", cut=cut,
                    detail="answered 503: still running when the shutdown grace period ended")


def _observe(scope: Scope, status: int) -> None:
    """Count the request in the app's metrics, labelled by route template and client."""
    runtime = getattr(scope["app"].state, "runtime", None)
    if runtime is not None:
        client = scope.get("state", {}).get("log", {}).get("client", "anonymous")
        runtime.metrics.observe_request(scope.get("path_template", "unmatched"), status, client)
