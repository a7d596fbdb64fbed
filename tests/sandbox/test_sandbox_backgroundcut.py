"""The fake BackgroundCut v3 over real HTTP: token auth, file space, matting checks, public URLs."""

from __future__ import annotations

import httpx
import pytest
from PIL import Image, ImageDraw

from sandbox.options import BACKGROUNDCUT_KEY
from sandbox.server import SandboxOptions, SandboxUrls, running_sandbox
from tests.imaging import decode, encode
from tests.sandbox.helpers import subject_image

AUTH = {"Authorization": f"Token {BACKGROUNDCUT_KEY}"}


def trimap(width: int = 256, height: int = 192, band: int = 6) -> Image.Image:
    """Black background, white core of the subject ellipse, grey band around its outline."""
    tri = Image.new("L", (width, height), 0)
    box = (width * 0.3, height * 0.25, width * 0.7, height * 0.75)
    draw = ImageDraw.Draw(tri)
    draw.ellipse((box[0] - band, box[1] - band, box[2] + band, box[3] + band), fill=128)
    draw.ellipse((box[0] + band, box[1] + band, box[2] - band, box[3] - band), fill=255)
    return tri


def upload(client: httpx.Client, base: str, key: str, data: bytes) -> httpx.Response:
    """Upload `data` under `key`."""
    return client.post(f"{base}/v3/file-ops/upload/", headers=AUTH,
                       files={"file": ("f.jpg", data, "image/jpeg")}, data={"key": key})


def process(client: httpx.Client, base: str, **body: object) -> httpx.Response:
    """Call matting with defaults for the source and trimap keys."""
    payload = {"input_key": "t/photo.jpg", "trimap_key": "t/trimap.jpg",
               "output_key": "t/result.png", "output_type": "rgba", **body}
    return client.post(f"{base}/v3/tools/ai/matting/process/", headers=AUTH, json=payload)


def upload_pair(client: httpx.Client, base: str, tri: Image.Image | None = None) -> None:
    """Upload a valid source and trimap."""
    assert upload(client, base, "t/photo.jpg", encode(subject_image())).status_code == 200
    assert upload(client, base, "t/trimap.jpg", encode(tri or trimap())).status_code == 200


@pytest.mark.parametrize("header", [None, "Token wrong", f"Bearer {BACKGROUNDCUT_KEY}"])
def test_auth_is_token_scheme(sandbox: SandboxUrls, client: httpx.Client,
                              header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    answer = client.post(f"{sandbox.backgroundcut}/v3/file-ops/upload/", headers=headers,
                         files={"file": ("f.jpg", b"x")}, data={"key": "k.jpg"})
    assert answer.status_code == 401
    assert "detail" in answer.json()


def test_rgba_matting_and_public_url_without_auth(
    sandbox: SandboxUrls, client: httpx.Client
) -> None:
    base = sandbox.backgroundcut
    upload_pair(client, base)
    answer = process(client, base, output_compression=90)
    assert answer.status_code == 200
    assert answer.json() == {"output_key": "t/result.png"}
    url = client.post(f"{base}/v3/file-ops/get-public-url/", headers=AUTH,
                      json={"key": "t/result.png"}).json()["url"]
    assert url.startswith(f"{base}/public/")
    download = httpx.get(url)  # no Authorization header
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    cutout = decode(download.content)
    assert (cutout.mode, cutout.size) == ("RGBA", (256, 192))
    assert cutout.getpixel((2, 2))[3] == 0  # trimap black: clamped
    assert cutout.getpixel((128, 96))[3] == 255  # trimap white: clamped
    assert cutout.getpixel((128, 96))[0] > 150


def test_mask_output_is_a_grayscale_jpeg(sandbox: SandboxUrls, client: httpx.Client) -> None:
    base = sandbox.backgroundcut
    upload_pair(client, base)
    answer = process(client, base, output_key="t/mask.jpg", output_type="mask")
    assert answer.status_code == 200
    url = client.post(f"{base}/v3/file-ops/get-public-url/", headers=AUTH,
                      json={"key": "t/mask.jpg"}).json()["url"]
    mask = decode(httpx.get(url).content)
    assert (mask.format, mask.mode, mask.size) == ("JPEG", "L", (256, 192))
    assert mask.getpixel((2, 2)) < 10 and mask.getpixel((128, 96)) > 245


@pytest.mark.parametrize(("output_key", "output_type"), [
    ("t/result.jpg", "rgba"), ("t/result.png", "mask"), ("t/result", "rgba"),
    ("t/result.png", "cutout"),
])
def test_output_key_must_match_output_type(
    sandbox: SandboxUrls, client: httpx.Client, output_key: str, output_type: str
) -> None:
    upload_pair(client, sandbox.backgroundcut)
    answer = process(client, sandbox.backgroundcut, output_key=output_key, output_type=output_type)
    assert answer.status_code == 400


def test_source_and_trimap_checks(sandbox: SandboxUrls, client: httpx.Client) -> None:
    base = sandbox.backgroundcut
    upload_pair(client, base)
    upload(client, base, "t/photo.png", encode(subject_image(), "PNG"))
    upload(client, base, "t/rgb-trimap.jpg", encode(trimap().convert("RGB")))
    upload(client, base, "t/small-trimap.jpg", encode(trimap(128, 96)))
    cases = [{"input_key": "t/photo.png"}, {"trimap_key": "t/rgb-trimap.jpg"},
             {"trimap_key": "t/small-trimap.jpg"}]
    for body in cases:
        answer = process(client, base, **body)
        assert answer.status_code == 400, body
        assert answer.json()["detail"]


def test_missing_keys_and_fields(sandbox: SandboxUrls, client: httpx.Client) -> None:
    base = sandbox.backgroundcut
    assert process(client, base).status_code == 404
    answer = client.post(f"{base}/v3/tools/ai/matting/process/", headers=AUTH,
                         json={"input_key": "t/photo.jpg"})
    assert answer.status_code == 400
    no_key = client.post(f"{base}/v3/file-ops/upload/", headers=AUTH,
                         files={"file": ("f.jpg", b"x")})
    assert no_key.status_code == 400
    url = client.post(f"{base}/v3/file-ops/get-public-url/", headers=AUTH, json={"key": "nope"})
    assert url.status_code == 404
    assert httpx.get(f"{base}/public/unknown-token").status_code == 404


def test_files_are_per_key_space(sandbox: SandboxUrls, client: httpx.Client) -> None:
    upload_pair(client, sandbox.backgroundcut)
    client.post(f"{sandbox.backgroundcut}/_sandbox/reset").raise_for_status()
    assert process(client, sandbox.backgroundcut).status_code == 404


def test_credits_run_out() -> None:
    with running_sandbox(SandboxOptions(backgroundcut_credits=1, instant=True)) as urls, \
            httpx.Client(timeout=60) as client:
        upload_pair(client, urls.backgroundcut)
        assert process(client, urls.backgroundcut).status_code == 200
        answer = process(client, urls.backgroundcut)
        assert answer.status_code == 402
        assert answer.json() == {"detail": "Insufficient credits."}


def test_fault_injection_with_path_filter(sandbox: SandboxUrls, client: httpx.Client) -> None:
    base = sandbox.backgroundcut
    fault = {"status": 504, "count": 1, "paths": ["/v3/tools/"]}
    client.post(f"{base}/_sandbox/faults", json=fault).raise_for_status()
    upload_pair(client, base)  # uploads are not affected
    answer = process(client, base)
    assert answer.status_code == 504
    assert answer.json() == {"detail": "Processing timed out."}
    assert process(client, base).status_code == 200
    log = client.get(f"{base}/_sandbox/log").json()
    assert [(entry["route"], entry["status"]) for entry in log][-2:] == [
        ("/v3/tools/ai/matting/process/", 504), ("/v3/tools/ai/matting/process/", 200),
    ]
    assert BACKGROUNDCUT_KEY not in str(log)


def test_truncated_jpeg_is_400_and_costs_nothing() -> None:
    with running_sandbox(SandboxOptions(backgroundcut_credits=1)) as urls, \
            httpx.Client(timeout=60) as client:
        base = urls.backgroundcut
        upload_pair(client, base)
        truncated = encode(subject_image())[:600]
        upload(client, base, "t/truncated.jpg", truncated)
        assert process(client, base, input_key="t/truncated.jpg").status_code == 400
        assert process(client, base).status_code == 200
