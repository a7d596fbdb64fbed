"""`bg-gateway batch`: folders and globs, in process and through a server, resumable, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from sandbox.server import SandboxUrls
from tests.integration.kit import (
    REDIS_URL,
    config_data,
    product_jpeg,
    running_gateway,
    settings_for,
    withoutbg,
    write_config,
)


def _inputs(root: Path) -> Path:
    (root / "shots" / "more").mkdir(parents=True)
    for i in range(3):
        (root / "shots" / f"p{i}.jpg").write_bytes(product_jpeg(seed=i, size=40))
    (root / "shots" / "more" / "p3.jpg").write_bytes(product_jpeg(seed=3, size=40))
    (root / "shots" / "notes.txt").write_text("not an image")
    return root / "shots"


def test_in_process_batch_resumes_and_reports_failures(
    tmp_path: Path, vendors: SandboxUrls, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder in process: outputs keep the layout; a broken image fails the run; resumable."""
    shots = _inputs(tmp_path)
    (shots / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    config = write_config(tmp_path / "c.toml",
                          config_data(tmp_path, {"withoutbg": withoutbg(vendors)}))
    out = tmp_path / "out"
    args = ["batch", str(shots), "-o", str(out), "--config", str(config), "--format", "webp"]
    assert main(args) == 1
    report = capsys.readouterr().err
    assert "broken.jpg" in report and "unsupported_media_type" in report
    assert "4 written, 0 skipped" in report and "withoutbg" in report
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.webp"))
    assert written == ["more/p3.webp", "p0.webp", "p1.webp", "p2.webp"]
    assert not list(out.rglob("*.part"))

    (shots / "broken.jpg").unlink()
    assert main(args) == 0
    assert "0 written, 4 skipped" in capsys.readouterr().err


def test_batch_through_a_server_jobs_api(
    tmp_path: Path, vendors: SandboxUrls, redis_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--server: the images go as jobs (chunks of 2) and the results come back as files."""
    shots = _inputs(tmp_path)
    shared = {"redis_url": REDIS_URL, "key_prefix": redis_prefix}
    settings = settings_for(
        tmp_path, {"withoutbg": withoutbg(vendors, cost=0.25)},
        state={"backend": "redis", **shared},
        jobs={"workers_in_process": 1, "result_path": str(tmp_path / "results"),
              "heartbeat_s": 2, "sweep_s": 1},
    )
    out = tmp_path / "out"
    with running_gateway(settings) as base:
        code = main(["batch", str(shots / "*.jpg"), str(shots / "more"), "-o", str(out),
                     "--server", base, "--chunk", "2"])
    report = capsys.readouterr().err
    assert code == 0, report
    assert sorted(p.name for p in out.glob("*.png")) == ["p0.png", "p1.png", "p2.png", "p3.png"]
    assert "4 written" in report and "cost 1\n" in report and "withoutbg" in report


def test_worker_needs_redis_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bg-gateway worker` on memory state stops at once, naming the setting."""
    config = write_config(tmp_path / "c.toml",
                          config_data(tmp_path, {"local": {"type": "local"}}))
    assert main(["worker", "--config", str(config)]) == 2
    assert "state.backend" in capsys.readouterr().err


def test_batch_of_a_missing_path_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that names nothing is an error, before any work."""
    assert main(["batch", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")]) == 1
    assert "nowhere" in capsys.readouterr().err
