"""Engine choice at start-up: auto falls back to classic with a reason, onnx stops start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from structlog.testing import capture_logs

from gateway.settings import SettingsError, parse_settings
from providers.local.choice import ModelUnavailable, choose_engine
from providers.local.classic import ClassicEngine
from providers.local.config import LocalConfig
from providers.local.onnx_engine import OnnxEngine
from providers.local.provider import LocalProvider
from tests.local.tiny_models import build
from tests.servers import ROOT


def test_auto_without_a_model_is_classic_with_one_log_line(tmp_path: Path) -> None:
    config = LocalConfig(model_dir=str(tmp_path))
    with capture_logs() as logs:
        provider = LocalProvider("local", config)
    assert isinstance(provider.engine, ClassicEngine)
    lines = [entry for entry in logs if entry["event"] == "local_engine"]
    assert len(lines) == 1
    assert lines[0]["engine"] == "classic"
    assert str(tmp_path) in lines[0]["reason"] and "models pull" in lines[0]["reason"]
    assert provider.details()["engine"] == "classic" and provider.details()["model"] is None


def test_auto_takes_the_first_catalogue_model_present(tmp_path: Path) -> None:
    build(tmp_path / "u2netp.onnx", "u2net", "saliency")
    build(tmp_path / "isnet-general-use.onnx", "isnet", "saliency")
    engine, choice = choose_engine("local", LocalConfig(model_dir=str(tmp_path)))
    assert isinstance(engine, OnnxEngine)
    assert (choice.engine, choice.model, choice.family) == ("onnx", "isnet-general-use", "isnet")
    assert choice.licence == "Apache-2.0" and choice.commercial is True


def test_model_dir_comes_from_the_environment(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    build(tmp_path / "u2netp.onnx", "u2net", "saliency")
    monkeypatch.setenv("BG_GATEWAY_MODEL_DIR", str(tmp_path))
    _, choice = choose_engine("local", LocalConfig(model="u2netp"))
    assert choice.engine == "onnx" and choice.path == str(tmp_path / "u2netp.onnx")
    assert choice.model_side == 320


def test_onnx_without_the_file_names_it_and_the_pull_command(tmp_path: Path) -> None:
    config = LocalConfig(engine="onnx", model="birefnet-general", model_dir=str(tmp_path))
    with pytest.raises(ModelUnavailable) as caught:
        LocalProvider("cutter", config)
    message = str(caught.value)
    assert str(tmp_path / "birefnet-general.onnx") in message
    assert "bg-gateway models pull birefnet-general" in message and "cutter" in message


def test_corrupt_file_is_a_clear_error_under_onnx_and_classic_under_auto(tmp_path: Path) -> None:
    (tmp_path / "isnet-general-use.onnx").write_bytes(b"truncated download")
    with pytest.raises(ModelUnavailable, match="corrupt or not an ONNX model"):
        choose_engine("local", LocalConfig(engine="onnx", model="isnet-general-use",
                                           model_dir=str(tmp_path)))
    engine, choice = choose_engine("local", LocalConfig(model_dir=str(tmp_path)))
    assert isinstance(engine, ClassicEngine)
    assert "corrupt" in choice.reason and "isnet-general-use" in choice.reason


def test_model_path_with_a_family(tmp_path: Path) -> None:
    path = build(tmp_path / "custom" / "mine.onnx", "bria", "saliency")
    _, choice = choose_engine("local", LocalConfig(engine="onnx", model_path=str(path),
                                                   model_family="bria"))
    assert (choice.engine, choice.model, choice.family, choice.model_side) == (
        "onnx", "mine", "bria", 1024)
    assert choice.licence is None


def test_bria_is_marked_non_commercial(tmp_path: Path) -> None:
    build(tmp_path / "bria-rmbg.onnx", "bria", "saliency")
    provider = LocalProvider("local", LocalConfig(model="bria-rmbg", model_dir=str(tmp_path)))
    details = provider.details()
    assert details["licence"] == "CC-BY-NC-4.0" and details["commercial_use"] is False


@pytest.mark.parametrize(("extra", "fragment"), [
    ({"model": "no-such-model"}, "unknown model 'no-such-model'"),
    ({"model_path": "/x.onnx"}, "needs `model_family`"),
    ({"model": "u2net", "model_path": "/x.onnx", "model_family": "u2net"}, "not both"),
    ({"model_path": "/x.onnx", "model_family": "resnet"}, "unknown model_family"),
    ({"engine": "onnx"}, "needs `model` or `model_path`"),
    ({"max_queue": -1}, "must be >= 0"),
])
def test_bad_local_keys_stop_start_up_naming_the_provider(extra: dict[str, object],
                                                          fragment: str) -> None:
    with pytest.raises(SettingsError, match=r"providers\.local") as caught:
        parse_settings({"providers": {"local": {"type": "local", **extra}}})
    assert fragment in str(caught.value)


def test_config_round_trip_keeps_every_key() -> None:
    raw = {"type": "local", "engine": "onnx", "model": "isnet-general-use", "max_concurrency": 2,
           "max_queue": 4, "intra_op_threads": 1, "refine": False, "model_dir": "/m"}
    config = msgspec.convert(raw, LocalConfig)
    assert msgspec.to_builtins(config) | raw == msgspec.to_builtins(config)


def test_serve_refuses_to_start_without_the_onnx_model(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[providers.local]\ntype = "local"\nengine = "onnx"\nmodel = "isnet-general-use"\n'
        f'model_dir = "{tmp_path}"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config), "--port", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "start-up failed" in done.stderr
    assert str(tmp_path / "isnet-general-use.onnx") in done.stderr
    assert "bg-gateway models pull isnet-general-use" in done.stderr
    assert "Traceback" not in done.stderr


def test_remove_in_process_refuses_a_missing_model_path(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    config = tmp_path / "gateway.toml"
    absent = tmp_path / "absent.onnx"
    config.write_text(f'[providers.local]\ntype = "local"\nengine = "onnx"\n'
                      f'model_path = "{absent}"\nmodel_family = "isnet"\n', encoding="utf-8")
    photo = tmp_path / "p.png"
    photo.write_bytes(b"not read before the check")
    code = main(["remove", str(photo), "-o", str(tmp_path / "out.png"), "--config", str(config)])
    assert code == 2
    assert str(absent) in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()
