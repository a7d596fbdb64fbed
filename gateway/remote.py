"""`bg-gateway remove`: run one removal in-process or against a running gateway."""

from __future__ import annotations

import httpx
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.settings import Settings

Outcome = tuple[int, bytes, str]


def _files(image: bytes, trimap: bytes | None) -> dict[str, tuple[str, bytes]]:
    files = {"image_file": ("image", image)}
    if trimap is not None:
        files["trimap_file"] = ("trimap", trimap)
    return files


def _outcome(response: httpx.Response) -> Outcome:
    if response.status_code == 200:
        headers = response.headers
        summary = (f"{headers.get('x-width')}x{headers.get('x-height')} "
                   f"{headers.get('content-type')} via {headers.get('x-provider')}"
                   f" (emulated: {headers.get('x-emulated') or 'none'})")
        return 200, response.content, summary
    try:
        problem = response.json()
        message = f"{problem.get('code')}: {problem.get('detail')}"
    except ValueError:
        message = f"HTTP {response.status_code}"
    return response.status_code, b"", message


async def remove_in_process(
    settings: Settings, image: bytes, trimap: bytes | None, options: list[tuple[str, str]]
) -> Outcome:
    """Run the full gateway in this process (no socket) for one image."""
    async with AsyncTestClient(app=create_app(settings), timeout=600) as client:
        response = await client.post(
            "/v1/remove-background", files=_files(image, trimap), data=dict(options)
        )
    return _outcome(response)


def remove_via_server(
    server: str, image: bytes, trimap: bytes | None, options: list[tuple[str, str]]
) -> Outcome:
    """POST one image to a running gateway."""
    url = server.rstrip("/") + "/v1/remove-background"
    try:
        response = httpx.post(url, files=_files(image, trimap), data=dict(options), timeout=600)
    except httpx.HTTPError as exc:
        return 0, b"", f"cannot reach {server}: {type(exc).__name__}"
    return _outcome(response)
