"""FakeProvider: a scripted Provider for router and route tests (records every call)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence

from PIL import Image

from providers.base import Capabilities, ProviderRequest, ProviderResult
from providers.errors import ProviderError

#: A script step: a result, an error instance, an error class (built with our name), or None
#: for the default answer.
Step = ProviderResult | ProviderError | type[ProviderError] | None


def _matte_png(request: ProviderRequest, kind: str) -> bytes:
    """A real PNG of the request's size: opaque centre box, transparent border (corners clear)."""
    try:
        with Image.open(io.BytesIO(request.image)) as opened:
            source = opened.convert("RGB")
    except (OSError, ValueError):
        source = Image.new("RGB", (max(request.width, 1), max(request.height, 1)), (90, 140, 200))
    width, height = source.size
    matte = Image.new("L", (width, height), 0)
    matte.paste(255, (width // 4, height // 4, width - width // 4, height - height // 4))
    out = matte if kind == "mask" else source.convert("RGBA")
    if kind != "mask":
        out.putalpha(matte)
    buffer = io.BytesIO()
    out.save(buffer, format="PNG")
    return buffer.getvalue()


class FakeProvider:
    """Follows `script` call by call, then answers with a real centre-box cutout or mask."""

    def __init__(
        self,
        name: str,
        capabilities: Capabilities | None = None,
        script: Sequence[Step] = (),
        delay_s: float = 0.0,
        cost: float = 0.0,
    ) -> None:
        self.name = name
        self.capabilities = capabilities or Capabilities(output="cutout", cost=cost)
        self.script = list(script)
        self.delay_s = delay_s
        self.cost = cost
        self.calls: list[ProviderRequest] = []
        self.closed = False

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        """Record the call, wait `delay_s`, then play the next script step."""
        self.calls.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        step = self.script.pop(0) if self.script else None
        if isinstance(step, type) and issubclass(step, ProviderError):
            raise step(f"scripted {step.reason}", provider=self.name)
        if isinstance(step, ProviderError):
            raise step
        if isinstance(step, ProviderResult):
            return step
        kind = self.capabilities.output
        data = await asyncio.to_thread(_matte_png, request, kind)
        return ProviderResult(
            data=data, media_type="image/png", kind=kind, provider=self.name, cost=self.cost,
        )

    async def aclose(self) -> None:
        """Mark closed."""
        self.closed = True
