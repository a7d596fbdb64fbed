"""Safe image_url fetching, over real HTTP on loopback; refusals happen before any connection."""

from __future__ import annotations

import contextlib
import io
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from PIL import Image

from gateway.errors import InvalidImageUrl
from gateway.fetch import Resolver, address_problem, fetch_image
from gateway.settings import FetchSettings
from providers.images import sniff_format

MB = 1024 * 1024
LOCAL = FetchSettings(allow_private=True, timeout_s=5.0)
STRICT = FetchSettings(timeout_s=5.0)
PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:4700:4700::1111"


def png_bytes(size: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


IMAGE = png_bytes()


class Handler(BaseHTTPRequestHandler):
    """Routes: /image.png /hops/N /big /big-declared /slow /text /missing /image-as-text."""

    server: Server

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers.get("Host", ""))
        # The gateway hangs up on purpose when a body is too large or too slow.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route()

    def _send(self, status: int, body: bytes, content_type: str = "image/png") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        path = self.path
        if path == "/image.png":
            self._send(200, IMAGE)
        elif path == "/image-as-text":
            self._send(200, IMAGE, "text/plain")
        elif path.startswith("/hops/"):
            left = int(path.rsplit("/", 1)[1])
            if left == 0:
                self._send(200, IMAGE)
                return
            self.send_response(302)
            self.send_header("Location", f"/hops/{left - 1}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/big":
            # No Content-Length: only counting the streamed bytes can stop this one.
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = IMAGE + b"\0" * (64 * 1024 - len(IMAGE))
            for _ in range(20 * MB // len(chunk)):
                self.wfile.write(chunk)
        elif path == "/big-declared":
            self.send_response(200)
            self.send_header("Content-Length", str(20 * MB))
            self.end_headers()
            self.wfile.write(IMAGE)
        elif path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(IMAGE)))
            self.end_headers()
            self.wfile.write(IMAGE[:10])
            self.wfile.flush()
            self.server.release.wait(10)
        elif path == "/text":
            self._send(200, b"hello, not an image", "text/plain")
        else:
            self._send(404, b"not found", "text/plain")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    hosts: list[str]
    release: threading.Event


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.hosts = []
    httpd.release = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def base(server: Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def no_connection_client() -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    """A client that records and fails any request it is asked to send."""
    attempted: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempted.append(request)
        raise AssertionError(f"a connection to {request.url.host} was attempted")

    return httpx.AsyncClient(transport=httpx.MockTransport(handler)), attempted


def fake_resolver(table: dict[str, list[str]], calls: list[str]) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return table[host]

    return resolve


async def refused(url: str, settings: FetchSettings = STRICT, max_bytes: int = 10 * MB) -> str:
    client, attempted = no_connection_client()
    async with client:
        with pytest.raises(InvalidImageUrl) as caught:
            await fetch_image(url, settings, max_bytes, client)
    assert attempted == []
    assert caught.value.status == 400 and caught.value.code == "invalid_image_url"
    return caught.value.detail


# --- refused before any connection ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/image.png", "loopback"),
        ("http://10.0.0.1/image.png", "private"),
        ("http://[::1]/image.png", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://2130706433/", "loopback"),  # decimal 127.0.0.1
        ("http://localhost/image.png", "loopback"),
    ],
)
async def test_private_addresses_are_refused_before_connecting(url: str, why: str) -> None:
    detail = await refused(url)
    assert "resolves to a private address" in detail
    assert why in detail


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "gopher://x/"])
async def test_other_schemes_are_refused(url: str) -> None:
    detail = await refused(url)
    assert "scheme" in detail


async def test_credentials_never_appear_in_messages() -> None:
    detail = await refused("ftp://user:hunter2@example.com/a.png?token=s3cr3t")
    assert "hunter2" not in detail and "s3cr3t" not in detail
    detail = await refused("http://user:hunter2@127.0.0.1/a.png?token=s3cr3t")
    assert "hunter2" not in detail and "s3cr3t" not in detail


async def test_a_name_with_any_private_record_is_refused() -> None:
    client, attempted = no_connection_client()
    calls: list[str] = []
    resolve = fake_resolver({"mixed.test": [PUBLIC_V4, "192.168.1.5"]}, calls)
    async with client:
        with pytest.raises(InvalidImageUrl, match="private address"):
            await fetch_image("http://mixed.test/a.png", STRICT, MB, client, resolve)
    assert attempted == []


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://localhost:8080/admin",
        "http://[::1]/",
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(target: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.host == PUBLIC_V4, "only the checked public address is contacted"
        return httpx.Response(302, headers={"Location": target})

    calls: list[str] = []
    resolve = fake_resolver({"public.test": [PUBLIC_V4], "localhost": ["127.0.0.1"]}, calls)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(InvalidImageUrl, match="resolves to a private address"):
            await fetch_image("http://public.test/start", STRICT, MB, client, resolve)
    assert len(seen) == 1


# --- pinning: one lookup per hop, connect to that address, keep Host and SNI ---------------


@pytest.mark.parametrize(("address", "url_host"), [(PUBLIC_V4, PUBLIC_V4), (PUBLIC_V6, PUBLIC_V6)])
async def test_https_connects_to_the_checked_address_with_host_and_sni(
    address: str, url_host: str
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=IMAGE)

    calls: list[str] = []
    resolve = fake_resolver({"images.test": [address]}, calls)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        body = await fetch_image("https://images.test:8443/cat.png", STRICT, MB, client, resolve)
    assert sniff_format(body) == "png"
    assert calls == ["images.test"]
    (request,) = seen
    assert request.url.host == url_host
    assert request.url.port == 8443
    assert request.headers["Host"] == "images.test:8443"
    assert request.extensions["sni_hostname"] == "images.test"


async def test_real_http_uses_the_pinned_address_and_original_host(server: Server) -> None:
    port = server.server_address[1]
    calls: list[str] = []
    resolve = fake_resolver({"images.test": ["127.0.0.1"]}, calls)
    server.hosts.clear()
    body = await fetch_image(f"http://images.test:{port}/hops/2", LOCAL, MB, None, resolve)
    assert sniff_format(body) == "png"
    assert calls == ["images.test"] * 3, "one lookup per hop, never a second one"
    assert server.hosts == [f"images.test:{port}"] * 3


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """HTTPS on loopback with a self-signed certificate for `images.test` only."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=images.test",
         "-addext", "subjectAltName=DNS:images.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.hosts = []
    httpd.release = threading.Event()
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, cert
    httpd.shutdown()
    httpd.server_close()


async def test_real_tls_verifies_the_name_not_the_pinned_address(
    tls_server: tuple[Server, Path],
) -> None:
    httpd, cert = tls_server
    port = httpd.server_address[1]
    trust = ssl.create_default_context(cafile=str(cert))
    calls: list[str] = []
    resolve = fake_resolver({"images.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}, calls)
    async with httpx.AsyncClient(verify=trust) as client:
        url = f"https://images.test:{port}/image.png"
        assert sniff_format(await fetch_image(url, LOCAL, MB, client, resolve)) == "png"
    assert httpd.hosts[-1] == f"images.test:{port}"
    # Same address, a name the certificate does not cover: the TLS check must refuse it.
    async with httpx.AsyncClient(verify=trust) as client:
        with pytest.raises(InvalidImageUrl, match="could not be fetched"):
            await fetch_image(f"https://other.test:{port}/image.png", LOCAL, MB, client, resolve)


# --- real HTTP on loopback (allow_private=true so the other checks are what refuse) --------


async def test_image_is_accepted_when_private_is_allowed(base: str) -> None:
    body = await fetch_image(f"{base}/image.png", LOCAL, MB)
    with Image.open(io.BytesIO(body)) as image:
        assert image.size == (48, 48)
        assert image.getpixel((0, 0)) == (200, 30, 30)


async def test_content_is_sniffed_not_taken_from_content_type(base: str) -> None:
    assert sniff_format(await fetch_image(f"{base}/image-as-text", LOCAL, MB)) == "png"


async def test_the_loopback_server_is_refused_without_allow_private(base: str) -> None:
    assert "private address" in await refused(f"{base}/image.png")


async def test_five_redirects_are_followed(base: str) -> None:
    assert sniff_format(await fetch_image(f"{base}/hops/5", LOCAL, MB)) == "png"


async def test_six_redirects_are_too_many(base: str) -> None:
    with pytest.raises(InvalidImageUrl, match="too many redirects"):
        await fetch_image(f"{base}/hops/6", LOCAL, MB)


async def test_streamed_body_over_the_limit_is_refused(base: str) -> None:
    with pytest.raises(InvalidImageUrl, match="too large") as caught:
        await fetch_image(f"{base}/big", LOCAL, 10 * MB)
    assert "more than 10485760 bytes" in caught.value.detail


async def test_declared_length_over_the_limit_is_refused_before_reading(base: str) -> None:
    with pytest.raises(InvalidImageUrl, match="too large"):
        await fetch_image(f"{base}/big-declared", LOCAL, 10 * MB)


async def test_body_exactly_at_the_limit_is_accepted(base: str) -> None:
    assert await fetch_image(f"{base}/image.png", LOCAL, len(IMAGE)) is not None
    with pytest.raises(InvalidImageUrl, match="too large"):
        await fetch_image(f"{base}/image.png", LOCAL, len(IMAGE) - 1)


async def test_slow_body_times_out(base: str) -> None:
    settings = FetchSettings(allow_private=True, timeout_s=0.3)
    with pytest.raises(InvalidImageUrl, match="timed out"):
        await fetch_image(f"{base}/slow", settings, MB)


async def test_text_body_is_not_an_image(base: str) -> None:
    with pytest.raises(InvalidImageUrl, match="is not an image"):
        await fetch_image(f"{base}/text", LOCAL, MB)


async def test_http_error_status_is_named(base: str) -> None:
    with pytest.raises(InvalidImageUrl, match="HTTP status 404") as caught:
        await fetch_image(f"http://user:hunter2@{base.removeprefix('http://')}/nope", LOCAL, MB)
    assert "hunter2" not in caught.value.detail


async def test_unresolvable_host_is_refused() -> None:
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        raise OSError("Name or service not known")

    with pytest.raises(InvalidImageUrl, match="does not resolve"):
        await fetch_image("http://nowhere.test/a.png", STRICT, MB, None, resolve)
    assert calls == ["nowhere.test"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        (PUBLIC_V4, True),
        (PUBLIC_V6, True),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("fc00::1", False),
        ("fe80::1", False),
        ("2002:0a00:0001::", False),  # 6to4 wrapping 10.0.0.1
        ("240.0.0.1", False),
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    import ipaddress

    assert (address_problem(ipaddress.ip_address(address)) is None) is public
