"""Time the full-resolution-master flow step by step against its floor (Pillow decode + encode).

The flow is what a request to a proxy-based vendor costs the gateway locally: validate the
upload, decode + resize + JPEG-encode the 1024 px proxy (`providers.withoutbg.prepare_upload`),
then `gateway.postprocess.postprocess` on the vendor's proxy-size mask: decode the original,
decode + upscale the matte, apply it, encode. The total is timed through the public functions;
the per-step split comes from a cProfile of the same calls (cumulative time of each step's
function, looked up by name: a rename shows up as a step at 0 and a large `other`).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import msgspec
from PIL import Image

from gateway.postprocess import PostprocessJob, inspect_image, postprocess
from gateway.postprocess.encode import _save
from providers.base import OutputFormat, OutputOptions, ProviderRequest, ProviderResult
from providers.images import proxy_size
from providers.withoutbg import prepare_upload
from providers.withoutbg_config import WithoutBGConfig

FORMATS: tuple[OutputFormat, ...] = ("png", "webp", "jpg")
T = TypeVar("T")
_MAX_PIXELS = 60_000_000
_MAX_BYTES = 1 << 30
_PROXY = WithoutBGConfig()
#: Flow step -> (module path suffix, function) whose cumulative time it is; flatten is jpg only.
STEP_FUNCTIONS: dict[str, tuple[str, str]] = {
    "validate": ("gateway/postprocess/validate.py", "inspect_image"),
    "proxy": ("providers/withoutbg.py", "prepare_upload"),
    "decode": ("gateway/postprocess/pipeline.py", "_decode_original"),
    "matte decode": ("gateway/postprocess/pipeline.py", "_decode_matte"),
    "matte upscale+apply": ("gateway/postprocess/steps.py", "apply_matte"),
    "flatten": ("gateway/postprocess/steps.py", "flatten"),
    "encode": ("gateway/postprocess/encode.py", "encode"),
}
STEPS: tuple[str, ...] = tuple(STEP_FUNCTIONS)


class FlowTiming(msgspec.Struct, frozen=True):
    """Median CPU seconds (wall too) of one size and format: the flow, its steps, the floor."""

    megapixels: int
    format: str
    flow_s: float
    steps_s: dict[str, float]
    floor_decode_s: float
    floor_encode_s: float
    flow_wall_s: float
    floor_wall_s: float

    @property
    def floor_s(self) -> float:
        """Pillow decode + encode of the same image alone."""
        return self.floor_decode_s + self.floor_encode_s

    @property
    def ratio(self) -> float:
        """Flow time over floor time."""
        return self.flow_s / self.floor_s


def mask_result(image_width: int, image_height: int, matte_png: Callable[[int, int], bytes]
                ) -> ProviderResult:
    """A vendor-like mask answer at the proxy size of an image of the given size."""
    width, height = proxy_size(image_width, image_height, _PROXY.proxy_long_side)
    return ProviderResult(data=matte_png(width, height), media_type="image/png", kind="mask",
                          provider="bench")


def request_for(data: bytes) -> ProviderRequest:
    """The ProviderRequest the gateway would build for `data` (JPEG)."""
    info = inspect_image(data, _MAX_BYTES, _MAX_PIXELS)
    return ProviderRequest(image=data, image_format=info.format, width=info.width,
                           height=info.height, request_id="bench", deadline=time.monotonic() + 600)


def job_for(output_format: OutputFormat) -> PostprocessJob:
    """The post-processing job of a plain cutout in `output_format` (format emulated)."""
    return PostprocessJob(options=OutputOptions(format=output_format),
                          emulate=frozenset({"format"} if output_format != "png" else ()),
                          max_pixels=_MAX_PIXELS, deadline=time.monotonic() + 600)


def run_flow(data: bytes, result: ProviderResult, output_format: OutputFormat) -> bytes:
    """The whole flow through the public functions; returns the encoded answer."""
    request = request_for(data)
    prepare_upload(request, _PROXY, "bench")
    return postprocess(data, result, job_for(output_format)).data


def _timed(action: Callable[[], T]) -> tuple[float, float, T]:
    """(CPU seconds of this process, wall seconds, value) of `action()`."""
    cpu, wall = time.process_time(), time.perf_counter()
    value = action()
    return time.process_time() - cpu, time.perf_counter() - wall, value


def flow_steps(data: bytes, result: ProviderResult, output_format: OutputFormat
               ) -> dict[str, float]:
    """CPU seconds spent in each step of one real flow run, read from a cProfile of it.

    The work is in C (Pillow, cv2, numpy), so the profiler's per-call overhead is negligible;
    `other` is the flow time no step function accounts for.
    """
    profiler = cProfile.Profile(time.process_time)
    started = time.process_time()
    profiler.runcall(run_flow, data, result, output_format)
    total = time.process_time() - started
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    seconds = dict.fromkeys(STEPS, 0.0)
    for (filename, _, function), (_, _, _, cumulative, _) in stats.items():
        for step, (suffix, name) in STEP_FUNCTIONS.items():
            if function == name and filename.replace("\\", "/").endswith(suffix):
                seconds[step] += cumulative
    seconds["other"] = max(0.0, total - sum(seconds.values()))
    return seconds


def floor(data: bytes, output_format: OutputFormat) -> tuple[float, float, float]:
    """CPU (decode s, encode s) and wall s of Pillow alone, RGB, with the gateway's encoder."""
    def decode() -> Image.Image:
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB")

    decode_s, decode_wall, image = _timed(decode)
    # The gateway's own Pillow save call (private on purpose: the floor must use exactly the
    # encoder settings the flow uses, whatever they are changed to).
    encode_s, encode_wall, _ = _timed(lambda: _save(image, output_format, lossless=False))
    return decode_s, encode_s, decode_wall + encode_wall


def measure(path: Path, megapixels: int, output_format: OutputFormat, repeats: int,
            matte_png: Callable[[int, int], bytes]) -> FlowTiming:
    """Median timings over `repeats` interleaved runs of flow, steps and floor."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        result = mask_result(image.width, image.height, matte_png)
    flows, flow_walls, floors_decode, floors_encode, floor_walls = [], [], [], [], []
    steps: dict[str, list[float]] = {name: [] for name in (*STEPS, "other")}
    for _ in range(repeats):
        cpu, wall, _ = _timed(lambda: run_flow(data, result, output_format))
        flows.append(cpu)
        flow_walls.append(wall)
        for name, value in flow_steps(data, result, output_format).items():
            steps.setdefault(name, []).append(value)
        decode_s, encode_s, wall = floor(data, output_format)
        floors_decode.append(decode_s)
        floors_encode.append(encode_s)
        floor_walls.append(wall)
    median = statistics.median
    return FlowTiming(
        megapixels=megapixels, format=output_format, flow_s=median(flows),
        steps_s={name: median(values) for name, values in steps.items() if values},
        floor_decode_s=median(floors_decode), floor_encode_s=median(floors_encode),
        flow_wall_s=median(flow_walls), floor_wall_s=median(floor_walls),
    )
