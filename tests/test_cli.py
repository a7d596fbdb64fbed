"""The `bg-gateway` command: remove in-process, keys, help and config errors."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import structlog
from PIL import Image

from gateway.cli import main
from gateway.keys import hash_client_key
from tests.synthetic import on_plain


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`remove` configures logging for its process; put the test process's set-up back."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


def write_config(tmp_path: Path) -> Path:
    """A local-only config with a private ledger."""
    path = tmp_path / "g.toml"
    path.write_text(
        f'[ledger]\npath = "{tmp_path / "u.sqlite3"}"\n[providers.local]\ntype = "local"\n'
    )
    return path


def test_remove_in_process_writes_the_cutout(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    image, _ = on_plain(seed=2, size=192)
    source = tmp_path / "photo.jpg"
    image.save(source, quality=95)
    out = tmp_path / "out.webp"
    code = main(["remove", str(source), "-o", str(out), "--format", "webp", "--crop",
                 "--bg-color", "white", "--config", str(write_config(tmp_path))])
    assert code == 0
    result = Image.open(io.BytesIO(out.read_bytes()))
    assert result.format == "WEBP" and result.width < image.width
    assert "via local" in capsys.readouterr().err


def test_remove_reports_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "notes.jpg"
    source.write_text("not an image")
    code = main(["remove", str(source), "-o", str(tmp_path / "x.png"),
                 "--config", str(write_config(tmp_path))])
    assert code == 1
    assert "unsupported_media_type" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_remove_with_unreachable_server(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "p.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(source)
    code = main(["remove", str(source), "-o", str(tmp_path / "o.png"),
                 "--server", "http://127.0.0.1:1"])
    assert code == 1 and "cannot reach" in capsys.readouterr().err


def test_keys_new_prints_key_and_matching_hash(capsys: pytest.CaptureFixture) -> None:
    assert main(["keys", "new", "shop"]) == 0
    out = capsys.readouterr().out
    key = next(word for word in out.split() if word.startswith("bgw_"))
    assert "[clients.shop]" in out and hash_client_key(key) in out


def test_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[server]\nport = "x"\n')
    assert main(["serve", "--config", str(path)]) == 2
    assert "server.port" in capsys.readouterr().err


def test_help_lists_every_command(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("serve", "remove", "sandbox", "compare", "keys"):
        assert command in out


def test_serve_fails_loudly_without_redis(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "g.toml"
    path.write_text(
        '[state]\nbackend = "redis"\nredis_url = "redis://127.0.0.1:1/0"\n'
        f'[ledger]\npath = "{tmp_path / "u.sqlite3"}"\n[providers.local]\ntype = "local"\n'
    )
    assert main(["serve", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unreachable" in err and "Traceback" not in err


def test_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == "bg-gateway 0.1.0"


def test_remove_pipes_stdin_to_stdout_and_logs_to_stderr(tmp_path: Path) -> None:
    """`bg-gateway remove - -o -`: image in on stdin, cutout out on stdout, nothing else there."""
    image, _ = on_plain(seed=4, size=128)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "remove", "-", "-o", "-",
         "--config", str(write_config(tmp_path))],
        input=buffer.getvalue(), capture_output=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    result = Image.open(io.BytesIO(done.stdout))
    assert result.format == "PNG" and result.mode == "RGBA" and result.size == image.size
    assert b"via local" in done.stderr
