"""The fake withoutBG over real HTTP: auth, limits, sniffing, errors, rate limit, credits."""

from __future__ import annotations

import base64

import httpx
import pytest

from sandbox.options import WITHOUTBG_EXPIRED_KEY, WITHOUTBG_KEY, WITHOUTBG_KEY_2
from sandbox.server import SandboxOptions, SandboxUrls, running_sandbox
from tests.imaging import decode, encode
from tests.sandbox.helpers import corrupt_jpeg, subject_image

KEY = {"X-API-Key": WITHOUTBG_KEY}


def post_file(client: httpx.Client, url: str, data: bytes, field: str = "file",
              headers: dict[str, str] | None = None) -> httpx.Response:
    """POST `data` as a multipart file part."""
    files = {field: ("input.jpg", data, "image/jpeg")}
    return client.post(url, files=files, headers=KEY if headers is None else headers)


def test_missing_or_wrong_key_is_401(sandbox: SandboxUrls, client: httpx.Client) -> None:
    data = encode(subject_image())
    url = f"{sandbox.withoutbg}/v1.0/alpha-channel"
    for headers in ({}, {"X-API-Key": "not-a-key"}):
        answer = post_file(client, url, data, headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {"detail": "Invalid API Key"}
    log = client.get(f"{sandbox.withoutbg}/_sandbox/log").json()
    assert [entry["status"] for entry in log] == [401, 401]
    assert "not-a-key" not in str(log)


def test_expired_key_is_403(sandbox: SandboxUrls, client: httpx.Client) -> None:
    answer = post_file(client, f"{sandbox.withoutbg}/v1.0/alpha-channel",
                       encode(subject_image()), headers={"X-API-Key": WITHOUTBG_EXPIRED_KEY})
    assert answer.status_code == 403
    assert answer.json()["detail"].startswith("Credits Expired")


def test_alpha_channel_is_a_matte_at_input_size(sandbox: SandboxUrls, client: httpx.Client) -> None:
    answer = post_file(client, f"{sandbox.withoutbg}/v1.0/alpha-channel", encode(subject_image()))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    matte = decode(answer.content)
    assert matte.mode == "L"
    assert matte.size == (256, 192)
    assert matte.getpixel((2, 2)) < 30
    assert matte.getpixel((128, 96)) > 225


def test_matte_of_a_large_input_comes_back_at_input_resolution(
    sandbox: SandboxUrls, client: httpx.Client
) -> None:
    answer = post_file(client, f"{sandbox.withoutbg}/v1.0/alpha-channel",
                       encode(subject_image(1500, 700)))
    matte = decode(answer.content)
    assert matte.size == (1500, 700)
    assert matte.getpixel((5, 5)) < 30
    assert matte.getpixel((750, 350)) > 225


def test_cutout_accepts_the_older_image_field(sandbox: SandboxUrls, client: httpx.Client) -> None:
    answer = post_file(client, f"{sandbox.withoutbg}/v1.0/image-without-background",
                       encode(subject_image()), field="image")
    assert answer.status_code == 200
    cutout = decode(answer.content)
    assert cutout.mode == "RGBA"
    assert cutout.size == (256, 192)
    assert cutout.getpixel((2, 2))[3] < 30
    red, green, _, alpha = cutout.getpixel((128, 96))
    assert alpha > 225 and red > 150 and green < 90


def test_base64_endpoints(sandbox: SandboxUrls, client: httpx.Client) -> None:
    body = {"image": base64.b64encode(encode(subject_image())).decode()}
    cut = client.post(f"{sandbox.withoutbg}/v1.0/image-without-background-base64",
                      json=body, headers=KEY)
    mask = client.post(f"{sandbox.withoutbg}/v1.0/alpha-channel-base64", json=body, headers=KEY)
    assert cut.status_code == mask.status_code == 200
    cutout = decode(base64.b64decode(cut.json()["image"]))
    matte = decode(base64.b64decode(mask.json()["alpha_channel"]))
    assert (cutout.mode, cutout.size) == ("RGBA", (256, 192))
    assert (matte.mode, matte.size) == ("L", (256, 192))


def test_file_over_10_mb_is_413(sandbox: SandboxUrls, client: httpx.Client) -> None:
    data = b"\xff\xd8\xff\xe0" + b"\x00" * (10 * 1024 * 1024)
    answer = post_file(client, f"{sandbox.withoutbg}/v1.0/alpha-channel", data)
    assert answer.status_code == 413
    assert answer.json() == {"detail": "File size too large. Maximum file size is 10.0 MB"}


def test_unknown_format_is_415_whatever_the_content_type(
    sandbox: SandboxUrls, client: httpx.Client
) -> None:
    answer = post_file(client, f"{sandbox.withoutbg}/v1.0/alpha-channel", b"%PDF-1.7 not an image")
    assert answer.status_code == 415
    assert answer.json()["detail"].startswith("Unsupported Media Type")


@pytest.mark.parametrize("case", ["corrupt", "missing_field", "bad_base64"])
def test_validation_errors_are_422(sandbox: SandboxUrls, client: httpx.Client, case: str) -> None:
    if case == "corrupt":
        answer = post_file(client, f"{sandbox.withoutbg}/v1.0/alpha-channel", corrupt_jpeg())
    elif case == "missing_field":
        answer = client.post(f"{sandbox.withoutbg}/v1.0/alpha-channel",
                             files={"photo": ("a.jpg", b"x")}, headers=KEY)
    else:
        answer = client.post(f"{sandbox.withoutbg}/v1.0/alpha-channel-base64",
                             json={"image": "***"}, headers=KEY)
    assert answer.status_code == 422
    assert answer.json() == {"detail": "Validation Error"}


def test_rate_limit_per_key(sandbox: SandboxUrls, client: httpx.Client) -> None:
    url = f"{sandbox.withoutbg}/v1.0/alpha-channel"
    statuses = [post_file(client, url, b"not an image").status_code for _ in range(3)]
    assert statuses == [415, 415, 415]
    limited = post_file(client, url, b"not an image")
    assert limited.status_code == 429
    assert limited.json() == {"detail": "Rate limit (3 request/minute) exceeded"}
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    other = post_file(client, url, b"not an image", headers={"X-API-Key": WITHOUTBG_KEY_2})
    assert other.status_code == 415


def test_credits_are_spent_and_run_out() -> None:
    options = SandboxOptions(withoutbg_credits=1)
    with running_sandbox(options) as urls, httpx.Client(timeout=60) as client:
        before = client.get(f"{urls.withoutbg}/available-credit", headers=KEY).json()
        assert before["available_credits"] == 1
        assert before["expiration_date"] == options.withoutbg_expiration_date
        first = post_file(client, f"{urls.withoutbg}/v1.0/alpha-channel", encode(subject_image()))
        assert first.status_code == 200
        after = client.get(f"{urls.withoutbg}/available-credit", headers=KEY).json()
        assert after["available_credits"] == 0
        second = post_file(client, f"{urls.withoutbg}/v1.0/alpha-channel", encode(subject_image()))
        assert second.status_code == 402
        assert second.json() == {"detail": "Insufficient credit. Please top up API credits."}
        client.post(f"{urls.withoutbg}/_sandbox/reset").raise_for_status()
        reset = client.get(f"{urls.withoutbg}/available-credit", headers=KEY).json()
        assert reset["available_credits"] == 1


def test_available_credit_needs_a_key(sandbox: SandboxUrls, client: httpx.Client) -> None:
    assert client.get(f"{sandbox.withoutbg}/available-credit").status_code == 401


def test_fault_injection(sandbox: SandboxUrls, client: httpx.Client) -> None:
    base = sandbox.withoutbg
    fault = {"status": 503, "count": 2, "retry_after": 5}
    assert client.post(f"{base}/_sandbox/faults", json=fault).status_code == 200
    url = f"{base}/v1.0/alpha-channel"
    faulted = [post_file(client, url, b"not an image") for _ in range(2)]
    assert [a.status_code for a in faulted] == [503, 503]
    assert faulted[0].json()["detail"].startswith("Internal Server Error")
    assert faulted[0].headers["Retry-After"] == "5"
    assert post_file(client, url, b"not an image").status_code == 415
    client.post(f"{base}/_sandbox/faults", json={"status": 500, "count": 5})
    assert client.delete(f"{base}/_sandbox/faults").status_code == 204
    assert post_file(client, url, b"not an image").status_code == 415
    log = client.get(f"{base}/_sandbox/log").json()
    assert [entry["status"] for entry in log] == [503, 503, 415, 415]
    assert {entry["key_id"] for entry in log} == {log[0]["key_id"]}
    assert WITHOUTBG_KEY not in str(log)


def test_fault_spec_is_validated(sandbox: SandboxUrls, client: httpx.Client) -> None:
    bad = client.post(f"{sandbox.withoutbg}/_sandbox/faults", json={"status": 200})
    assert bad.status_code == 400
