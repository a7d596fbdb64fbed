"""Routing policies: pure orderings of the eligible providers."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Mapping, Sequence

from gateway.router.types import Entry, Health

Order = Callable[[Sequence[Entry], Mapping[str, Health], "PolicyInput"], list[Entry]]


class PolicyInput:
    """What a policy may look at besides the entries and the snapshot."""

    __slots__ = ("allow_list", "exploration", "rng", "routing_key")

    def __init__(
        self,
        rng: random.Random,
        exploration: float = 0.0,
        routing_key: str | None = None,
        allow_list: Sequence[str] | None = None,
    ) -> None:
        self.rng = rng
        self.exploration = exploration
        self.routing_key = routing_key
        self.allow_list = allow_list


def _rank(entry: Entry) -> tuple[int, int]:
    return (entry.priority, entry.index)


def by_priority(entries: Sequence[Entry], _: Mapping[str, Health], how: PolicyInput) -> list[Entry]:
    """Provider `priority` (low first), ties by config order; an allow-list's order wins."""
    if how.allow_list:
        position = {name: i for i, name in enumerate(how.allow_list)}
        return sorted(entries, key=lambda e: (position.get(e.name, len(position)), *_rank(e)))
    return sorted(entries, key=_rank)


def by_cost(entries: Sequence[Entry], _: Mapping[str, Health], __: PolicyInput) -> list[Entry]:
    """Cost per image, ties by priority."""
    return sorted(entries, key=lambda e: (e.cost, *_rank(e)))


def by_latency(
    entries: Sequence[Entry], snapshot: Mapping[str, Health], how: PolicyInput
) -> list[Entry]:
    """Latency EWMA (untried first), with an `exploration` share sending a random other first."""
    def latency(entry: Entry) -> float:
        health = snapshot.get(entry.name)
        return 0.0 if health is None or health.latency_ms is None else health.latency_ms

    ordered = sorted(entries, key=lambda e: (latency(e), *_rank(e)))
    # Without exploration a provider that was slow once is never measured again.
    if len(ordered) > 1 and how.rng.random() < how.exploration:
        explored = ordered.pop(how.rng.randrange(1, len(ordered)))
        ordered.insert(0, explored)
    return ordered


def _unit_hash(key: str, name: str) -> float:
    """A stable number in (0, 1) for (key, name)."""
    digest = hashlib.sha256(f"{key}\x00{name}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2**64


def by_weight(
    entries: Sequence[Entry], _: Mapping[str, Health], how: PolicyInput
) -> list[Entry]:
    """Weighted random order; sticky per routing key (weighted rendezvous hashing)."""
    def score(entry: Entry) -> float:
        if entry.weight <= 0:
            return math.inf
        if how.routing_key is None:
            draw = 1.0 - how.rng.random()  # in (0, 1]
        else:
            draw = _unit_hash(how.routing_key, entry.name)
        # -ln(u)/w: the smallest wins with probability w / sum(w) (exponential race); with a
        # key, a provider leaving the pool only moves the keys that were on it.
        return -math.log(draw) / entry.weight

    scored = [(score(e), *_rank(e), e) for e in sorted(entries, key=_rank)]
    scored.sort(key=lambda item: item[:3])
    return [item[3] for item in scored]


ORDERS: Mapping[str, Order] = {
    "priority": by_priority,
    "cheapest": by_cost,
    "fastest": by_latency,
    "weighted": by_weight,
}
