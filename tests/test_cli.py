"""The `bg-gateway` command: remove in-process, keys, help and config errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gateway.cli import main
from gateway.keys import hash_client_key
from tests.synthetic import on_plain


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
    assert "via local" in capsys.readouterr().out


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
