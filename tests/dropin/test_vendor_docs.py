"""The vendor documents' own examples, run unchanged but for base URL and key, over real HTTP.

The gateway runs under uvicorn on loopback with the real local engine; the Python examples use
`requests` as the documents do, the shell examples use the real `curl`.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.dropin.conftest import CLIENT_KEY, client_auth, dropin_app, dropin_settings
from tests.servers import serve_in_thread
from tests.synthetic import iou, on_plain

requests = pytest.importorskip("requests")
CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway with the local engine and one client key, on a loopback port."""
    tmp = tmp_path_factory.mktemp("gateway")
    settings = dropin_settings(tmp, {**client_auth(), "providers": {"local": {"type": "local"}}})
    with serve_in_thread(dropin_app(settings, None)) as url:
        yield url


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, np.ndarray]:
    """A working directory holding `input.jpg` (a product on a studio backdrop) and its truth."""
    image, truth = on_plain(4, size=192)
    image.save(tmp_path / "input.jpg", quality=95)
    shutil.copy(tmp_path / "input.jpg", tmp_path / "image.jpg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WITHOUTBG_API_KEY", CLIENT_KEY)
    return tmp_path, truth


def _matte_matches(path: Path, truth: np.ndarray) -> None:
    with Image.open(path) as image:
        assert image.size == (truth.shape[1], truth.shape[0])
        alpha = image.getchannel("A") if image.mode == "RGBA" else image.convert("L")
        matte = np.asarray(alpha)
    assert iou(matte, truth) > 0.85


def test_reference_python_example(base_url: str, workdir: tuple[Path, np.ndarray]) -> None:
    """API reference page, "Python Example" (files={"image": …})."""
    # --- from the document ---
    url = f"{base_url}/v1.0/image-without-background"
    headers = {"X-API-Key": CLIENT_KEY}

    with open("input.jpg", "rb") as image_file:
        files = {"image": image_file}
        response = requests.post(url, headers=headers, files=files)

        if response.status_code == 200:
            with open("output.png", "wb") as output_file:
                output_file.write(response.content)
        else:
            print(f"Error: {response.json()}")
    # --- end ---
    assert response.status_code == 200
    _matte_matches(workdir[0] / "output.png", workdir[1])


def test_binary_page_streaming_example(base_url: str, workdir: tuple[Path, np.ndarray]) -> None:
    """Background Removal (Binary) page, "Python (requests, stream to disk)"."""
    # --- from the document ---
    with open("input.jpg", "rb") as f:
        r = requests.post(
            f"{base_url}/v1.0/image-without-background",
            headers={"X-API-Key": os.environ["WITHOUTBG_API_KEY"]},
            files={"file": f},
            timeout=60,
            stream=True,
        )

    r.raise_for_status()
    with open("no-bg.png", "wb") as out:
        for chunk in r.iter_content(chunk_size=8192):
            out.write(chunk)
    # --- end ---
    _matte_matches(workdir[0] / "no-bg.png", workdir[1])


def _proxy_workflow(base_url: str, long_side: int) -> None:
    """Alpha Matte page, "Recommended workflow — Python", with `1024` as `long_side`."""
    # --- from the document ---
    API_KEY = os.environ["WITHOUTBG_API_KEY"]

    # 1. Keep original
    orig = Image.open("input.jpg").convert("RGB")
    orig_w, orig_h = orig.size

    # 2. Resize proxy to max 1024px, encode JPEG q=90
    scale = min(1.0, long_side / max(orig_w, orig_h))
    proxy = orig.resize((round(orig_w * scale), round(orig_h * scale)), Image.LANCZOS)
    buf = io.BytesIO()
    proxy.save(buf, format="JPEG", quality=90)
    buf.seek(0)

    # 3. Request the binary matte
    r = requests.post(
        f"{base_url}/v1.0/alpha-channel",
        headers={"X-API-Key": API_KEY},
        files={"file": ("proxy.jpg", buf, "image/jpeg")},
        timeout=60,
    )
    r.raise_for_status()

    # 4. Decode matte and upscale to original dimensions
    matte = Image.open(io.BytesIO(r.content)).convert("L")
    matte = matte.resize((orig_w, orig_h), Image.BICUBIC)

    # 5. Apply straight alpha to the full-resolution original
    orig.putalpha(matte)
    orig.save("output.png")
    # --- end ---


@pytest.mark.parametrize("long_side", [1024, 96])
def test_alpha_matte_proxy_workflow(
    base_url: str, workdir: tuple[Path, np.ndarray], long_side: int
) -> None:
    """The 1024 proxy -> matte -> bicubic upscale -> putalpha flow (96 makes the upscale real)."""
    _proxy_workflow(base_url, long_side)
    with Image.open("input.jpg") as original, Image.open("output.png") as output:
        assert output.mode == "RGBA" and output.size == original.size
        # Straight alpha: the RGB is the original's, untouched by the matte.
        same = np.abs(np.asarray(output.convert("RGB"), np.int16)
                      - np.asarray(original.convert("RGB"), np.int16))
        assert same.max() == 0
    _matte_matches(workdir[0] / "output.png", workdir[1])


def test_throttled_batch_function(base_url: str, workdir: tuple[Path, np.ndarray]) -> None:
    """Binary page, "Throttled Batch (Python)": its `remove_background` on one file."""
    api = f"{base_url}/v1.0/image-without-background"
    headers = {"X-API-Key": os.environ["WITHOUTBG_API_KEY"]}

    # --- from the document (API/HEADERS as locals) ---
    def remove_background(path: str, out_path: str, max_retries: int = 5) -> None:
        for attempt in range(max_retries):
            with open(path, "rb") as f:
                r = requests.post(api, headers=headers, files={"file": f}, timeout=60)
            if r.status_code == 200:
                with open(out_path, "wb") as out:
                    out.write(r.content)
                return
            if r.status_code == 429:
                raise AssertionError(f"unexpected 429 on attempt {attempt}")
            r.raise_for_status()
        raise RuntimeError(f"Failed after {max_retries} retries: {path}")
    # --- end ---

    remove_background("input.jpg", "input.jpg".replace(".jpg", "-no-bg.png"))
    _matte_matches(workdir[0] / "input-no-bg.png", workdir[1])


def _curl(*args: str) -> subprocess.CompletedProcess[str]:
    assert CURL is not None
    return subprocess.run([CURL, "-sS", *args], capture_output=True, text=True, timeout=60,
                          check=False)


@needs_curl
def test_withoutbg_curl_examples(base_url: str, workdir: tuple[Path, np.ndarray]) -> None:
    """Binary cURL, alpha cURL, base64 cURL and the credits cURL."""
    key = f"X-API-Key: {CLIENT_KEY}"
    done = _curl("-X", "POST", "-H", key, "-F", "file=@input.jpg", "--output", "no-bg.png",
                 f"{base_url}/v1.0/image-without-background")
    assert done.returncode == 0
    _matte_matches(workdir[0] / "no-bg.png", workdir[1])
    done = _curl("-X", "POST", f"{base_url}/v1.0/alpha-channel", "-H", key,
                 "-F", "file=@input.jpg", "--output", "alpha-mask.png")
    assert done.returncode == 0
    _matte_matches(workdir[0] / "alpha-mask.png", workdir[1])
    encoded = base64.b64encode((workdir[0] / "input.jpg").read_bytes()).decode("ascii")
    done = _curl("-X", "POST", f"{base_url}/v1.0/image-without-background-base64",
                 "-H", key, "-H", "Content-Type: application/json",
                 "-d", json.dumps({"image": encoded}))
    (workdir[0] / "b64.png").write_bytes(base64.b64decode(json.loads(done.stdout)["image"]))
    _matte_matches(workdir[0] / "b64.png", workdir[1])
    credits = json.loads(_curl("-X", "GET", f"{base_url}/available-credit", "-H", key).stdout)
    assert set(credits) == {"available_credits", "expiration_date"}


@needs_curl
def test_withoutbg_error_handling_script(base_url: str, workdir: tuple[Path, np.ndarray]) -> None:
    """"cURL with error handling": a non-image upload fails with a JSON `detail` on stderr."""
    (workdir[0] / "input.jpg").write_bytes(b"this is not an image")
    script = (
        "set -euo pipefail\n"
        f"API={base_url}/v1.0/image-without-background\n"
        'http_code=$(curl -sS -w "%{http_code}" -o no-bg.png \\\n'
        '  -H "X-API-Key: $WITHOUTBG_API_KEY" \\\n'
        '  -F "file=@input.jpg" "$API")\n'
        'if [ "$http_code" != "200" ]; then\n'
        '  echo "Request failed with status: $http_code" >&2\n'
        "  cat no-bg.png >&2   # error body is JSON\n"
        "  rm -f no-bg.png\n"
        "  exit 1\n"
        "fi\n"
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 1
    status_line, body = done.stderr.split("\n", 1)
    assert status_line == "Request failed with status: 415"
    assert json.loads(body) == {
        "detail": "Unsupported Media Type. Supported formats are: JPEG, PNG, WebP, TIFF, BMP, GIF."
    }


@needs_curl
def test_backgrounderase_curl_examples(base_url: str, workdir: tuple[Path, np.ndarray]) -> None:
    """The flags page's three curl examples (`-f`, multipart flags, `-o`)."""
    key = f"x-api-key: {CLIENT_KEY}"
    basic = _curl("-f", f"{base_url}/v2", "-H", key, "-F", "image_file=@image.jpg",
                  "-o", "output.png")
    assert basic.returncode == 0
    _matte_matches(workdir[0] / "output.png", workdir[1])
    cropped = _curl("-f", f"{base_url}/v2", "-H", key, "-F", "image_file=@image.jpg",
                    "-F", "format=png", "-F", "channels=rgba", "-F", "size=hd",
                    "-F", "crop=true", "-F", "despill=true", "-o", "cropped.png")
    assert cropped.returncode == 0
    with Image.open("cropped.png") as image:
        assert image.mode == "RGBA"
        assert image.width < workdir[1].shape[1] and image.height < workdir[1].shape[0]
    blue = _curl("-f", f"{base_url}/v2", "-H", key, "-F", "image_file=@image.jpg",
                 "-F", "format=webp", "-F", "channels=rgba", "-F", "size=medium",
                 "-F", "bg_color=blue", "-F", "despill=true", "-o", "output.webp")
    assert blue.returncode == 0
    with Image.open("output.webp") as image:
        assert image.format == "WEBP"
        red, green, b, *_ = image.convert("RGBA").getpixel((0, 0))
        assert b > 200 and red < 40 and green < 40
    refused = _curl("-f", f"{base_url}/v2", "-H", "x-api-key: wrong",
                    "-F", "image_file=@image.jpg", "-o", "nothing.png")
    assert refused.returncode == 22  # curl -f: HTTP error


@needs_curl
def test_removebg_sample_curl(base_url: str, workdir: tuple[Path, np.ndarray]) -> None:
    """remove.bg's sample request, then its JSON answer and its error shape."""
    done = _curl("-H", f"X-API-Key: {CLIENT_KEY}", "-F", "image_file=@input.jpg",
                 "-F", "size=auto", "-f", f"{base_url}/v1.0/removebg", "-o", "no-bg.png")
    assert done.returncode == 0
    _matte_matches(workdir[0] / "no-bg.png", workdir[1])
    with open("input.jpg", "rb") as image_file:
        answer = requests.post(
            f"{base_url}/v1.0/removebg",
            headers={"X-Api-Key": CLIENT_KEY, "Accept": "application/json"},
            files={"image_file": image_file}, data={"size": "auto"}, timeout=60,
        )
    data = answer.json()["data"]
    subject = workdir[1] > 0.04
    rows, cols = np.flatnonzero(subject.any(axis=1)), np.flatnonzero(subject.any(axis=0))
    assert abs(data["foreground_top"] - rows[0]) <= 3
    assert abs(data["foreground_left"] - cols[0]) <= 3
    assert abs(data["foreground_width"] - (cols[-1] - cols[0] + 1)) <= 6
    assert abs(data["foreground_height"] - (rows[-1] - rows[0] + 1)) <= 6
    denied = requests.post(f"{base_url}/v1.0/removebg", headers={"X-Api-Key": "wrong"},
                           data={"image_url": "https://example.com/a.jpg"}, timeout=60)
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["code"] == "auth_failed"
