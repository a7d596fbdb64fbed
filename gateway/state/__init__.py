"""Shared state backends: in memory (one instance) or Redis (several instances)."""

from __future__ import annotations

from gateway.settings import StateSettings
from gateway.state.base import Cooldown, StateBackend, StateUnavailable
from gateway.state.memory import MemoryState
from gateway.state.redis import RedisState, redacted_url

__all__ = [
    "Cooldown", "MemoryState", "RedisState", "StateBackend", "StateUnavailable", "open_state",
]


async def open_state(settings: StateSettings) -> StateBackend:
    """Build the configured backend; raise StateUnavailable when Redis cannot be reached."""
    if settings.backend == "memory":
        return MemoryState()
    state = RedisState(settings.redis_url, settings.key_prefix)
    where = redacted_url(settings.redis_url)
    if not await state.ping():
        await state.aclose()
        raise StateUnavailable(
            f"state backend redis at {where} is unreachable or refused the connection; "
            "start Redis or set [state] backend = \"memory\""
        )
    return state
