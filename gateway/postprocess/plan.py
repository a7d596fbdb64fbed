"""Split the requested options between the vendor (native) and local emulation."""

from __future__ import annotations

import msgspec

from providers.base import Capabilities, OutputOptions


class Plan(msgspec.Struct, frozen=True):
    """What to ask the vendor for and which option names to emulate locally."""

    native: OutputOptions
    emulate: frozenset[str]


def plan_options(options: OutputOptions, capabilities: Capabilities, has_trimap: bool) -> Plan:
    """All-or-nothing: the vendor does every requested option, or none and we emulate them."""
    requested = options.requested() | ({"trimap"} if has_trimap else set())
    if requested <= capabilities.native:
        return Plan(native=options, emulate=frozenset())
    # A vendor's crop or size would misalign the trimap and the later local steps, so partial
    # native use is not safe: ask for the bare full-size result and emulate everything.
    emulate = requested - (capabilities.native & {"trimap"})
    return Plan(native=OutputOptions(), emulate=frozenset(emulate))
