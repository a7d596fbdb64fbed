"""budget_period: the spend key and time left, cached until the period ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.router import health


def _at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setattr(health.time, "time", lambda: when.timestamp())


@pytest.mark.parametrize("period", ["day", "month"])
def test_cached_key_rolls_over_at_the_period_end(monkeypatch: pytest.MonkeyPatch,
                                                 period: str) -> None:
    monkeypatch.setattr(health, "_current_periods", {})
    _at(monkeypatch, datetime(2026, 1, 31, 23, 59, 59, 500_000, tzinfo=UTC))
    key, left, ttl = health.budget_period(period)
    assert key == ("day:2026-01-31" if period == "day" else "month:2026-01")
    assert left == pytest.approx(0.5) and ttl == pytest.approx(86400.5)
    _at(monkeypatch, datetime(2026, 1, 31, 23, 59, 59, 900_000, tzinfo=UTC))
    assert health.budget_period(period)[:2] == (key, pytest.approx(0.1))
    _at(monkeypatch, datetime(2026, 2, 1, 0, 0, 0, 100_000, tzinfo=UTC))
    key, left, _ = health.budget_period(period)
    assert key == ("day:2026-02-01" if period == "day" else "month:2026-02")
    assert left == pytest.approx(86400 - 0.1 if period == "day" else 28 * 86400 - 0.1)


def test_explicit_time_is_not_cached() -> None:
    when = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert health.budget_period("month", when) == ("month:2026-12", 25.5 * 86400,
                                                   26.5 * 86400)
