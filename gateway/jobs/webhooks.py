"""Webhooks: the status document POSTed when a job finishes, signed, to a checked address.

The body is signed with HMAC-SHA256 under `[jobs] webhook_secret`:
`X-Signature: sha256=<hex of HMAC(secret, raw body)>`. The URL passes the same address checks as
`image_url` (`gateway.fetch`; `[fetch] allow_private` applies) when the job is created and again
at each delivery, and the POST goes to the address that was checked (no DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

import httpx

from gateway.errors import InvalidOption
from gateway.fetch import Resolver, address_problem, redact, system_resolver
from gateway.settings import FetchSettings

_PORTS = {"http": 80, "https": 443}


class WebhookFailed(Exception):
    """One delivery failed (SAQ retries it with backoff)."""


def signature(secret: str, body: bytes) -> str:
    """`X-Signature` value of `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def checked_address(
    url: str, settings: FetchSettings, resolve: Resolver = system_resolver
) -> tuple[httpx.URL, str]:
    """The parsed URL and the address to POST to; InvalidOption naming `webhook_url` if refused."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise InvalidOption("option `webhook_url` is not a URL") from None
    if parsed.scheme not in _PORTS or not parsed.raw_host:
        raise InvalidOption("option `webhook_url` must be an http or https URL with a host")
    host = parsed.raw_host.decode("ascii")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = await resolve(host, parsed.port or _PORTS[parsed.scheme])
        except (OSError, UnicodeError):
            addresses = []
    if not addresses:
        raise InvalidOption(f"option `webhook_url`: host {host!r} does not resolve")
    if not settings.allow_private:
        for address in addresses:
            why = address_problem(ipaddress.ip_address(address.split("%", 1)[0]))
            if why is not None:
                raise InvalidOption(
                    f"option `webhook_url`: host {host!r} resolves to a {why} address "
                    "(allowed only with [fetch] allow_private = true)"
                )
    return parsed, addresses[0]


async def deliver(
    client: httpx.AsyncClient, url: str, body: bytes, secret: str | None,
    settings: FetchSettings, timeout_s: float,
) -> int:
    """POST `body` once to the checked address; the status, or WebhookFailed."""
    try:
        parsed, address = await checked_address(url, settings)
    except InvalidOption as exc:
        raise WebhookFailed(exc.detail) from None
    host = parsed.raw_host.decode("ascii")
    host_header = f"[{host}]" if ":" in host else host
    if parsed.port is not None:
        host_header = f"{host_header}:{parsed.port}"
    headers = {"Host": host_header, "Content-Type": "application/json",
               "User-Agent": settings.user_agent}
    if secret:
        headers["X-Signature"] = signature(secret, body)
    request = client.build_request(
        "POST", parsed.copy_with(host=address), content=body, headers=headers,
        timeout=timeout_s, extensions={"sni_hostname": host} if parsed.scheme == "https" else {},
    )
    try:
        response = await client.send(request)
    except httpx.HTTPError as exc:
        raise WebhookFailed(f"{redact(url)}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise WebhookFailed(f"{redact(url)} answered {response.status_code}")
    return response.status_code
