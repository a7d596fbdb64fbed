"""Routing: candidate filter, policies, dispatch with failover, circuit breaker (design §6)."""

from __future__ import annotations

from gateway.router.router import Router
from gateway.router.select import select
from gateway.router.types import Dispatched, ProviderStatus, RouteHints

__all__ = ["Dispatched", "ProviderStatus", "RouteHints", "Router", "select"]
