"""What a client has left, for the drop-ins that report a balance (remove.bg, Clipdrop)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from gateway.auth import Client
from gateway.runtime import Runtime

#: The balance reported when neither a client quota nor any vendor reports a number.
UNLIMITED_CREDITS = 1_000_000


def month_start(now: float) -> float:
    """Unix time of the start of `now`'s calendar month (UTC), the quota's period."""
    moment = datetime.fromtimestamp(now, UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


async def images_this_month(runtime: Runtime, client: Client) -> int:
    """Images billed to `client` this calendar month (UTC), from the usage ledger.

    The ledger holds one record per image served to the client, cache hits included (the quota
    counts them too); answers it was not billed for are under `unbilled:<client>` and not counted.
    """
    rows = await runtime.ledger.summarize(client.name, month_start(time.time()), None)
    recorded = sum(row.images for row in rows)
    # The quota counter is what admission enforces: a ledger that lost sight of records (its
    # Redis unreachable) must not report credits the client cannot spend.
    return max(recorded, await runtime.auth.used_this_month(client))


async def credits_left(runtime: Runtime, client: Client | None) -> float:
    """Images `client` may still process this month, else the vendors' reported credits.

    A client with a monthly quota: the quota minus the images the ledger billed it this month.
    Otherwise the gateway has no balance of its own: the sum of what the vendors with a credits
    endpoint report (cached), or UNLIMITED_CREDITS.
    """
    quota = client.settings.monthly_quota if client else None
    if client is not None and quota is not None:
        return float(max(0, quota - await images_this_month(runtime, client)))
    reported = [n for n in (await runtime.credits()).values() if n is not None]
    return float(sum(reported)) if reported else float(UNLIMITED_CREDITS)
