"""`bg-gateway compare`: files through the same runner, a progress bar and a summary table."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import structlog

from gateway.compare.mattes import PairAgreement, QualityFigures
from gateway.compare.runner import CompareReport, ProviderOutcome
from gateway.compare_cli import add_compare_parser, format_table, run_compare, summarize
from sandbox.options import BACKGROUNDERASE_KEY, WITHOUTBG_KEY
from sandbox.server import SandboxUrls, running_sandbox
from tests.compare.conftest import png
from tests.synthetic import on_plain


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxUrls]:
    """The fake vendors on free loopback ports."""
    with running_sandbox() as urls:
        yield urls


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """The command configures structlog for a terminal; put the test set-up back afterwards."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bg-gateway")
    add_compare_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["compare", *argv])


def write_config(tmp_path: Path, urls: SandboxUrls) -> Path:
    config = tmp_path / "gateway.toml"
    config.write_text(f"""
[ledger]
path = "{tmp_path / 'usage.sqlite3'}"
[cache]
enabled = false
[providers.local]
type = "local"
[providers.withoutbg]
type = "withoutbg"
api_key = "{WITHOUTBG_KEY}"
base_url = "{urls.withoutbg}"
[providers.backgrounderase]
type = "backgrounderase"
api_key = "{BACKGROUNDERASE_KEY}"
base_url = "{urls.backgrounderase}"
""")
    return config


def test_compare_command_prints_a_table_and_writes_sheets(
    tmp_path: Path, sandbox: SandboxUrls, capsys: pytest.CaptureFixture[str],
    keep_logging: None,
) -> None:
    truth_dir = tmp_path / "truth"
    truth_dir.mkdir()
    images = []
    for seed in (1, 2):
        image, truth = on_plain(seed=seed, size=96)
        path = tmp_path / f"shot{seed}.png"
        image.save(path)
        images.append(str(path))
        if seed == 1:  # shot2 has no ground truth file
            matte = (truth * 255).round().astype(np.uint8)
            (truth_dir / "shot1.alpha.png").write_bytes(png(matte))
    sheet = tmp_path / "sheet.png"
    code = run_compare(parse([
        *images, "--providers", "local,withoutbg", "--ground-truth", str(truth_dir),
        "--sheet", str(sheet), "--config", str(write_config(tmp_path, sandbox)),
    ]))
    out, err = capsys.readouterr()
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["provider", "ok", "errors", "latency_ms", "cost", "SAD", "MSE",
                                "IoU", "agree_IoU"]
    table = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(table) == {"local", "withoutbg"}  # backgrounderase was not asked for
    for row in table.values():
        assert row[1:3] == ["2", "0"]
        assert float(row[7]) > 0.8  # mean IoU against shot1's ground truth
        assert float(row[8]) > 0.8  # shot2 has no ground truth: pairwise agreement
    assert "2/2" in err and "no ground truth" in err and "shot2.alpha.png" in err
    assert (tmp_path / "sheet.shot1.png").is_file() and (tmp_path / "sheet.shot2.png").is_file()


def test_summary_means_skip_missing_figures() -> None:
    def outcome(provider: str, quality: QualityFigures | None, ok: bool = True) -> ProviderOutcome:
        return ProviderOutcome(provider=provider, status="ok" if ok else "error", attempts=[],
                               latency_ms=100.0 if ok else None, cost=1.0 if ok else None,
                               quality=quality, error=None if ok else "provider_error")

    truth = QualityFigures(against="ground_truth", region="all", partial_share=0.0, sad=2.0,
                           mse=0.01, iou=0.9)
    pair = QualityFigures(against="pairwise", region="all", partial_share=0.0,
                          agreement={"b": PairAgreement(iou=0.5, sad=1.0, mad=0.1)})
    reports = [CompareReport("r1", 8, 8, True, [outcome("a", truth), outcome("b", None, False)]),
               CompareReport("r2", 8, 8, False, [outcome("a", pair), outcome("b", pair)])]
    a, b = summarize(reports)
    assert (a.ok, a.errors, a.cost, a.sad, a.iou, a.agreement_iou) == (2, 0, 2.0, 2.0, 0.9, 0.5)
    assert (b.ok, b.errors, b.sad, b.agreement_iou) == (1, 1, None, 0.5)
    text = format_table([a, b])
    assert text.splitlines()[2].split()[5:8] == ["-", "-", "-"]
