"""`bg-gateway models pull|list|verify` against a loopback HTTP server (no internet)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gateway.cli import main
from providers.local.download import verify_file

BODY = bytes(range(256)) * 4096  # 1 MiB
MD5 = hashlib.md5(BODY).hexdigest()
SHA256 = hashlib.sha256(BODY).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    """/model: the file; /truncated: promises the whole file, sends half; else 404."""

    def do_GET(self) -> None:
        if self.path == "/model":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        elif self.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[: len(BODY) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Base URL of a file server on loopback."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_pull_with_the_right_hash_saves_and_lists(server: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["models", "pull", "my-model", "--url", f"{server}/model", "--sha256", SHA256,
                 "--dir", str(tmp_path)])
    assert code == 0
    assert _files(tmp_path) == ["my-model.onnx"]
    assert (tmp_path / "my-model.onnx").read_bytes() == BODY
    assert "verified" in capsys.readouterr().out
    # A catalogue name pulled from a mirror: listed as present.
    assert main(["models", "pull", "u2netp", "--url", f"{server}/model", "--md5", MD5,
                 "--dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["models", "list", "--dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    u2netp = next(line for line in listing.splitlines() if line.startswith("u2netp "))
    assert u2netp.split()[-1] == "yes" and "Apache-2.0" in u2netp
    bria = next(line for line in listing.splitlines() if line.startswith("bria-rmbg"))
    assert "NO" in bria and bria.split()[-1] == "-"


@pytest.mark.parametrize(("path", "digest", "message"), [
    ("/model", "0" * 32, "expected " + "0" * 32),
    ("/truncated", MD5, "bytes"),
    ("/missing", MD5, "HTTP 404"),
])
def test_failed_pulls_leave_no_file_and_exit_non_zero(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    path: str, digest: str, message: str,
) -> None:
    code = main(["models", "pull", "u2netp", "--url", f"{server}{path}", "--md5", digest,
                 "--dir", str(tmp_path)])
    assert code == 1
    assert _files(tmp_path) == []  # neither the model nor a partial download
    err = capsys.readouterr().err
    assert "error:" in err and message in err


def test_pull_refuses_unverifiable_and_unknown_models(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "pull", "mine", "--url", "http://127.0.0.1:9/x",
                 "--dir", str(tmp_path)]) == 2
    assert "--md5 or --sha256" in capsys.readouterr().err
    assert main(["models", "pull", "not-in-catalogue", "--dir", str(tmp_path)]) == 2
    assert "not in the catalogue" in capsys.readouterr().err
    assert _files(tmp_path) == []


def test_verify_reports_corrupt_and_missing_models(server: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "verify", "--dir", str(tmp_path)]) == 0
    assert "no catalogue model" in capsys.readouterr().out
    # Our 1 MiB file stands in for u2netp: its pinned upstream hash cannot match.
    (tmp_path / "u2netp.onnx").write_bytes(BODY)
    assert main(["models", "verify", "--dir", str(tmp_path)]) == 1
    assert "u2netp: CORRUPT" in capsys.readouterr().out
    assert main(["models", "verify", "silueta", "--dir", str(tmp_path)]) == 1
    assert "models pull silueta" in capsys.readouterr().out


def test_verify_file_accepts_the_right_digest(tmp_path: Path) -> None:
    path = tmp_path / "f.onnx"
    path.write_bytes(BODY)
    assert verify_file(path, "md5", MD5.upper())
    assert verify_file(path, "sha256", SHA256)
    assert not verify_file(path, "md5", "0" * 32)
    assert not verify_file(tmp_path / "absent.onnx", "md5", MD5)
