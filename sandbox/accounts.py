"""Per-key credits and a per-key moving-window rate limit, shared by the newer fake vendors."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class KeyAccounts:
    """The keys a fake vendor knows, what each has left, and its rate-limit window."""

    def __init__(self, vendor: str, keys: tuple[str, ...], credits: float, rate_limit: str) -> None:
        self.vendor = vendor
        self.keys = keys
        self.start_credits = credits
        self.item = parse(rate_limit)
        self.storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.credits: dict[str, float] = {}
        self.reset()

    def reset(self) -> None:
        """Every key back to its starting credits; empty windows."""
        self.credits = dict.fromkeys(self.keys, self.start_credits)
        self.storage.reset()

    def known(self, key: str | None) -> bool:
        """True for a key this vendor issued."""
        return key is not None and key in self.credits

    def hit(self, key: str, cost: int = 1) -> int | None:
        """Spend `cost` units of the window; None when allowed, else seconds to wait (>= 1)."""
        if self.limiter.hit(self.item, self.vendor, key, cost=cost):
            return None
        reset_at = self.limiter.get_window_stats(self.item, self.vendor, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def window(self, key: str) -> tuple[int, int, int]:
        """(limit, remaining, reset as Unix seconds) of the key's window."""
        stats = self.limiter.get_window_stats(self.item, self.vendor, key)
        return self.item.amount, stats.remaining, math.ceil(stats.reset_time)

    def take(self, key: str, amount: float) -> bool:
        """Reserve `amount` credits; False (nothing taken) when the key has fewer."""
        if self.credits[key] < amount:
            return False
        self.credits[key] -= amount
        return True

    def refund(self, key: str, amount: float) -> None:
        """Give back a reservation (failed calls charge nothing)."""
        self.credits[key] += amount
