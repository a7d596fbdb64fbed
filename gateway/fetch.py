"""Safe `image_url` fetching: no private addresses, no DNS rebinding, bounded size and time.

Each hop resolves the host once, refuses non-public addresses, then connects to that exact
address (Host header and TLS SNI keep the original name, so certificates are still checked
against it). Redirects are followed by hand so every hop is checked again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import httpx

from gateway.errors import InvalidImageUrl
from gateway.settings import FetchSettings
from providers.images import sniff_format

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""`(host, port) -> addresses`; the default asks the system resolver via `loop.getaddrinfo`."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in resolver order, without duplicates."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def redact(url: httpx.URL | str) -> str:
    """The URL without userinfo and query (which may carry credentials), for messages."""
    try:
        parsed = httpx.URL(str(url))
        return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<unparseable URL>"


def address_problem(address: IpAddress) -> str | None:
    """Why `address` is not a public unicast address (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None
        )
        if embedded is not None:
            return address_problem(embedded)
    checks = (
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "non-public"),
    )
    return next((why for bad, why in checks if bad), None)


def _parse_address(text: str) -> IpAddress:
    # Scope ids ("fe80::1%eth0") are not part of the address itself.
    return ipaddress.ip_address(text.split("%", 1)[0])


def _is_ip_literal(host: str) -> bool:
    try:
        _parse_address(host)
    except ValueError:
        return False
    return True


async def _pin(url: httpx.URL, settings: FetchSettings, resolve: Resolver) -> str:
    """Resolve `url`'s host once and return the checked address to connect to."""
    host = url.raw_host.decode("ascii")
    port = url.port or _DEFAULT_PORTS[url.scheme]
    try:
        if _is_ip_literal(host):
            addresses = [str(_parse_address(host))]
        else:
            addresses = await resolve(host, port)
    except (OSError, UnicodeError):
        raise InvalidImageUrl(f"image_url host {host!r} does not resolve") from None
    if not addresses:
        raise InvalidImageUrl(f"image_url host {host!r} does not resolve")
    parsed = [_parse_address(a) for a in addresses]
    if not settings.allow_private:
        # Any bad answer refuses: a name that mixes public and private records is an attack.
        for address in parsed:
            why = address_problem(address)
            if why is not None:
                raise InvalidImageUrl(
                    f"image_url host {host!r} resolves to a private address ({why})"
                )
    return str(parsed[0])


def _check_scheme(url: httpx.URL) -> None:
    if url.scheme not in _DEFAULT_PORTS:
        shown = url.scheme or "none"
        raise InvalidImageUrl(f"image_url scheme {shown!r} is not allowed (use http or https)")
    if not url.raw_host:
        raise InvalidImageUrl(f"image_url {redact(url)} has no host")


def _pinned_request(url: httpx.URL, address: str, settings: FetchSettings) -> httpx.Request:
    """A GET to `address` that still says `url`'s host in Host and in TLS SNI."""
    host = url.raw_host.decode("ascii")
    host_header = f"[{host}]" if ":" in host else host
    if url.port is not None:
        host_header = f"{host_header}:{url.port}"
    headers = {
        "Host": host_header,
        "User-Agent": settings.user_agent,
        "Accept": "image/*",
        # Plain bytes: the size limit counts what we hold in memory, not a compressed stream.
        "Accept-Encoding": "identity",
    }
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    return httpx.Request(
        "GET", url.copy_with(host=address), headers=headers, extensions=extensions
    )


async def _read_limited(response: httpx.Response, max_bytes: int, shown: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise InvalidImageUrl(f"image_url {shown} is too large ({declared} bytes > {max_bytes})")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise InvalidImageUrl(f"image_url {shown} is too large (more than {max_bytes} bytes)")
    return bytes(body)


@contextmanager
def _as_refusal(shown: str, doing: str) -> Iterator[None]:
    """Turn an httpx failure while talking to the URL's host into InvalidImageUrl."""
    try:
        yield
    except httpx.TimeoutException:
        raise InvalidImageUrl(f"image_url {shown} timed out") from None
    except httpx.HTTPError as exc:
        raise InvalidImageUrl(f"image_url {shown} {doing} ({type(exc).__name__})") from None


async def _follow(
    url: httpx.URL,
    settings: FetchSettings,
    max_bytes: int,
    client: httpx.AsyncClient,
    resolve: Resolver,
) -> bytes:
    for _hop in range(settings.max_redirects + 1):
        _check_scheme(url)
        address = await _pin(url, settings, resolve)
        request = _pinned_request(url, address, settings)
        shown = redact(url)
        with _as_refusal(shown, "could not be fetched"):
            response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise InvalidImageUrl(f"image_url {shown} redirects without a Location")
                url = url.join(location)
                continue
            if response.status_code != 200:
                raise InvalidImageUrl(
                    f"image_url {shown} answered HTTP status {response.status_code}"
                )
            with _as_refusal(shown, "failed while reading"):
                return await _read_limited(response, max_bytes, shown)
        finally:
            await response.aclose()
    raise InvalidImageUrl(f"image_url has too many redirects (more than {settings.max_redirects})")


async def fetch_image(
    url: str,
    settings: FetchSettings,
    max_bytes: int,
    client: httpx.AsyncClient | None = None,
    resolve: Resolver = system_resolver,
) -> bytes:
    """Download an image from a client-supplied URL, or raise InvalidImageUrl saying why.

    With `client=None` a fresh client is used per call, so a pooled TLS connection made for
    one name is never reused for another name on the same address; pass a client for tests.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise InvalidImageUrl("image_url is not a valid URL") from None
    _check_scheme(parsed)
    owned = client is None
    if client is None:
        # trust_env=False: an HTTP(S)_PROXY from the environment would undo the address pinning.
        client = httpx.AsyncClient(trust_env=False, timeout=settings.timeout_s)
    try:
        async with asyncio.timeout(settings.timeout_s):
            body = await _follow(parsed, settings, max_bytes, client, resolve)
    except TimeoutError:
        raise InvalidImageUrl(
            f"image_url {redact(parsed)} timed out after {settings.timeout_s:g}s"
        ) from None
    finally:
        if owned:
            await client.aclose()
    if sniff_format(body) is None:
        raise InvalidImageUrl(f"image_url {redact(parsed)} is not an image")
    return body
