"""Routing: candidate filter, policies, dispatch with failover, circuit breaker (design §6)."""

from __future__ import annotations

from gateway.router.router import Router
from gateway.router.select import select
from gateway.router.types import Built, Dispatched, Offer, ProviderStatus, RouteHints

__all__ = ["Built", "Dispatched", "Offer", "ProviderStatus", "RouteHints", "Router", "select"]
