"""Core provider types: options, capabilities, request, result and the Provider protocol."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import msgspec

OutputFormat = Literal["png", "jpg", "webp", "zip"]
Channels = Literal["rgba", "alpha"]
SizeName = Literal["preview", "medium", "hd", "full"]
ResultKind = Literal["cutout", "mask"]
ShadowType = Literal["drop", "3d", "car"]

#: Option names as used in `Capabilities.native`, `X-Emulated` and the router's filter.
OPTION_NAMES: tuple[str, ...] = (
    "format", "channels", "size", "crop", "crop_margin", "bg_color", "despill", "trimap",
    "roi", "scale", "position", "shadow", "bg_image", "zip",
)
#: Input formats the gateway sniffs and accepts.
IMAGE_FORMATS: frozenset[str] = frozenset({"jpeg", "png", "webp", "tiff", "bmp", "gif"})
#: Megapixel caps of the `size` option (`full` is bounded by `max_megapixels` only).
SIZE_MEGAPIXELS: dict[str, float | None] = {
    "preview": 0.25, "medium": 1.5, "hd": 4.0, "full": None,
}


class Margin(msgspec.Struct, frozen=True):
    """A crop margin: pixels or percent of the cropped box's longer side."""

    value: float
    unit: Literal["px", "%"]


class Length(msgspec.Struct, frozen=True):
    """A coordinate: pixels or percent of the image's width (x) or height (y)."""

    value: float
    unit: Literal["px", "%"]


class Roi(msgspec.Struct, frozen=True):
    """remove.bg's region of interest: only the subject inside (x1, y1)-(x2, y2) is kept."""

    x1: Length
    y1: Length
    x2: Length
    y2: Length


class OutputOptions(msgspec.Struct, frozen=True):
    """The normalised output options of one request (design section 4)."""

    format: OutputFormat = "png"
    channels: Channels = "rgba"
    size: SizeName = "full"
    crop: bool = False
    crop_margin: Margin | None = None
    bg_color: tuple[int, int, int, int] | None = None
    despill: bool = False
    roi: Roi | None = None
    scale: float | None = None
    """Subject size in percent of the canvas (10-100); None keeps its original size."""
    position: tuple[float, float] | None = None
    """Subject place (horizontal %, vertical %) on the canvas; None keeps it where it was."""
    shadow: bool = False
    shadow_opacity: int = 50
    shadow_type: ShadowType = "drop"
    """The shadow's look (remove.bg's `shadow_type`): offset `drop`, floor `3d`, contact `car`."""
    bg_image: bytes | None = None
    """An encoded background image, scaled to cover the output and centred."""

    def requested(self) -> frozenset[str]:
        """Names of the options that differ from the plain full-size RGBA PNG cutout."""
        names = set()
        if self.format == "zip":
            names.add("zip")
        elif self.format != "png":
            names.add("format")
        if self.channels != "rgba":
            names.add("channels")
        if self.size != "full":
            names.add("size")
        if self.crop:
            names.add("crop")
            if self.crop_margin is not None and self.crop_margin.value > 0:
                names.add("crop_margin")
        if self.bg_color is not None:
            names.add("bg_color")
        if self.despill:
            names.add("despill")
        for name, used in (("roi", self.roi is not None), ("scale", self.scale is not None),
                           ("position", self.position is not None), ("shadow", self.shadow),
                           ("bg_image", self.bg_image is not None)):
            if used:
                names.add(name)
        return frozenset(names)


class Capabilities(msgspec.Struct, frozen=True):
    """What a provider does natively and what it accepts; data only."""

    output: ResultKind
    native: frozenset[str] = frozenset()
    input_formats: frozenset[str] = IMAGE_FORMATS
    max_input_bytes: int | None = None
    max_megapixels: float | None = None
    cost: float = 0.0
    rate_limit: str | None = None
    requires_trimap: bool = False


class ProviderRequest(msgspec.Struct, frozen=True):
    """One call to one provider: sniffed image plus what the provider should do natively."""

    image: bytes
    image_format: str
    width: int
    height: int
    request_id: str
    deadline: float
    """Absolute `time.monotonic()` by which the answer must be back."""
    options: OutputOptions = OutputOptions()
    """Options the provider should apply itself; the default asks for the bare result."""
    trimap: bytes | None = None
    """Trimap as an 8-bit grayscale PNG of the image's size (0 bg, 255 fg, else unknown)."""


class ProviderResult(msgspec.Struct):
    """What a provider answered."""

    data: bytes
    media_type: str
    kind: ResultKind
    provider: str
    latency_s: float = 0.0
    cost: float = 0.0
    final: bool = False
    """True when `data` already satisfies every requested option (pass-through)."""
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    """A background-removal provider: one vendor account or the local engine."""

    name: str
    capabilities: Capabilities

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        """Return the cutout or matte for `request`, or raise a `ProviderError`."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads."""
        ...


@runtime_checkable
class SupportsHealth(Protocol):
    """A provider with a health endpoint."""

    async def health(self) -> bool:
        """True when the vendor says it is healthy."""
        ...


@runtime_checkable
class SupportsDetails(Protocol):
    """A provider with static facts worth listing (the local engine: engine, model, licence)."""

    def details(self) -> dict[str, str | bool | None]:
        """Facts for GET /v1/providers; no secrets."""
        ...


@runtime_checkable
class SupportsCredits(Protocol):
    """A provider with a credits endpoint."""

    async def credits(self) -> float | None:
        """Remaining credits, or None when the vendor does not say."""
        ...


class Budget(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Spend cap per period."""

    amount: float
    period: Literal["day", "month"] = "month"


class ProviderConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Fields every provider type shares (routing knobs included)."""

    enabled: bool | None = None
    """None: enabled when the provider has what it needs (its key); True: required."""
    priority: int = 50
    weight: float = 1.0
    cost: float = 0.0
    rate_limit: str | None = None
    budget: Budget | None = None
    timeout_s: float = 60.0
