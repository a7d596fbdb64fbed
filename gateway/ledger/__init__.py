"""Usage ledger: one durable record per served image, summed by client and provider.

`base` holds the record types and the `UsageLedger` protocol, `sqlite` the single-node backend,
`redis` the shared one (buffered in process while Redis is lost), `opener` picks the configured one.
"""

from __future__ import annotations

from gateway.ledger.base import UsageLedger, UsageRecord, UsageRow
from gateway.ledger.opener import open_ledger
from gateway.ledger.redis import RedisLedger
from gateway.ledger.sqlite import SqliteLedger

__all__ = ["RedisLedger", "SqliteLedger", "UsageLedger", "UsageRecord", "UsageRow", "open_ledger"]
