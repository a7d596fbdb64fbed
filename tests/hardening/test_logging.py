"""Logging set-up: levels, stderr only, secrets masked; a quiet command leaves INFO capturable."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import capture_logs

from gateway.logging import configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


def test_warning_level_hides_info_on_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", logging.WARNING, cache_loggers=False)
    log = structlog.get_logger("gateway.test")
    log.info("quiet_event")
    log.warning("loud_event", api_key="bgw_secret-key-0123456789")
    out, err = capsys.readouterr()
    assert out == ""
    assert "loud_event" in err and "quiet_event" not in err
    assert "bgw_secret" not in err


def test_a_quiet_configuration_leaves_info_events_capturable() -> None:
    """A WARNING-level command run in process (the CLI in tests) must not drop INFO for good."""
    configure_logging("json", logging.WARNING, cache_loggers=False)
    with capture_logs() as logs:
        structlog.get_logger("gateway.test").info("still_seen")
    assert [e["event"] for e in logs] == ["still_seen"]


def test_json_lines_mask_secrets_in_keys_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    import json
    from pathlib import Path

    configure_logging("json", logging.INFO, cache_loggers=False)
    structlog.get_logger("gateway.test").info(
        "event", detail="sent Bearer abc.def and Token xyz", client="bgw_AbCdEfGh12345678 here",
        plain="nothing to hide", count=3, where=Path("/tmp/x"), Authorization="anything",
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["detail"] == "sent *** and ***"
    assert line["client"] == "*** here"
    assert line["Authorization"] == "***"
    assert (line["plain"], line["count"]) == ("nothing to hide", 3)
    assert line["where"] == repr(Path("/tmp/x"))  # not JSON-native: its repr
    assert line["level"] == "info" and line["event"] == "event"
