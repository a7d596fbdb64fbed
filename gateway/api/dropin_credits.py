"""What a client has left, for the drop-ins that report a balance (remove.bg, Clipdrop)."""

from __future__ import annotations

from gateway.auth import Client
from gateway.runtime import Runtime

#: The balance reported when neither a client quota nor any vendor reports a number.
UNLIMITED_CREDITS = 1_000_000


async def credits_left(runtime: Runtime, client: Client | None) -> float:
    """Images `client` may still process this month, else the vendors' reported credits.

    A client with a monthly quota: the quota minus what the gateway charged it this month (the
    count the gateway enforces). Otherwise the gateway has no balance of its own: the sum of
    what the vendors with a credits endpoint report (cached), or UNLIMITED_CREDITS.
    """
    quota = client.settings.monthly_quota if client else None
    if client is not None and quota is not None:
        return float(max(0, quota - await runtime.auth.used_this_month(client)))
    reported = [n for n in (await runtime.credits()).values() if n is not None]
    return float(sum(reported)) if reported else float(UNLIMITED_CREDITS)
