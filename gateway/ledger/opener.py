"""Build the configured usage ledger."""

from __future__ import annotations

from gateway.ledger.base import UsageLedger
from gateway.ledger.redis import RedisLedger
from gateway.ledger.sqlite import SqliteLedger
from gateway.settings import LedgerSettings


def open_ledger(settings: LedgerSettings) -> UsageLedger:
    """Build the ledger `settings` asks for (SQLite opens its file now; Redis connects lazily)."""
    if settings.backend == "redis":
        return RedisLedger.from_url(settings.redis_url, settings.key_prefix)
    return SqliteLedger(settings.path)
