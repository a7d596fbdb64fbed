"""A test Offer: builds a bare request for any provider and accepts any answer."""

from __future__ import annotations

import time

from gateway.postprocess import Answer, BadAnswer, plan_options
from gateway.router import Built
from providers.base import OutputOptions, Provider, ProviderRequest, ProviderResult


class Offer:
    """Builds a bare request for any provider; accepts any answer (records what it checked)."""

    def __init__(self, reject: set[str] | None = None) -> None:
        self.reject = reject or set()
        self.checked: list[str] = []

    def build(self, provider: Provider) -> Built:
        request = ProviderRequest(image=b"not-an-image", image_format="jpeg", width=8, height=6,
                                  request_id="req-1", deadline=time.monotonic() + 5)
        return Built(plan_options(OutputOptions(), provider.capabilities, False), request)

    def check(self, built: Built, result: ProviderResult) -> Answer:
        self.checked.append(result.provider)
        if result.provider in self.reject:
            raise BadAnswer("spoilt", provider=result.provider)
        return Answer("png", "image/png", 8, 6, "RGBA", True)
