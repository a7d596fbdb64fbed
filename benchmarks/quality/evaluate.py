"""Score providers on one sample through the gateway's real post-processing (runs in workers).

Per provider and sample, each a "method" row:
    NAME          bare result -> postprocess (full image scored; despill off)
    NAME+despill  the same result -> postprocess(despill=true)   (foreground colour error)
    NAME+clamp    the same result -> postprocess with the trimap emulated (clamp), band scored
    NAME+trimap   the provider called with the trimap (if it does trimaps natively), band scored
A provider that requires a trimap gets only the NAME+trimap rows (on the trimap tasks).
    true-alpha[+despill]  the exact alpha as a mask result: despill judged without matte errors
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import cv2
import msgspec
import numpy as np
from PIL import Image

from benchmarks.quality.dataset import load_pair, make_trimap
from benchmarks.quality.generate import Sample, make_sample
from benchmarks.quality.score import Prediction, Row, score_prediction
from gateway import quality
from gateway.postprocess import PostprocessJob, plan_options, postprocess
from providers.base import OutputOptions, Provider, ProviderRequest, ProviderResult
from providers.errors import ProviderError

_MAX_PIXELS = 50_000_000
#: Method name of the rows that post-process the exact alpha (no provider involved).
TRUE_ALPHA = "true-alpha"
_TIMEOUT_S = 300.0


class Task(msgspec.Struct, frozen=True):
    """One sample to score: a generated index, or an image path with a `.alpha.png` beside it."""

    index: int
    seed: int = 0
    path: str | None = None
    trimap: bool = False
    """Also run the trimap experiments (slow: closed-form matting of the band)."""


class Outcome(msgspec.Struct, frozen=True):
    """Rows scored for one task, and the provider failures met (names and reasons only)."""

    rows: list[Row]
    failures: list[str]


class ProviderSpec(msgspec.Struct, frozen=True):
    """Which providers a worker builds: the default local one, or names from a gateway config."""

    config_path: str | None = None
    names: tuple[str, ...] = ()


_PROVIDERS: list[Provider] = []
# One loop per worker process, made in the worker: an httpx client must stay on the loop it
# was first used on.
_LOOPS: list[asyncio.AbstractEventLoop] = []


def init_worker(spec: ProviderSpec, numba_cache: str) -> None:
    """Process-pool initializer: build the providers once per worker process."""
    import os

    os.environ.setdefault("NUMBA_CACHE_DIR", numba_cache)

    async def build() -> list[Provider]:
        return build_providers(spec)

    _LOOPS[:] = [asyncio.new_event_loop()]
    _PROVIDERS[:] = _LOOPS[0].run_until_complete(build())


def build_providers(spec: ProviderSpec) -> list[Provider]:
    """Every local engine found (classic, ONNX models present), or a gateway config's names."""
    if spec.config_path is None:
        from benchmarks.quality.engines import local_configs
        from providers.local.provider import LocalProvider

        return [LocalProvider(name, config) for name, config in local_configs(announce=False)]
    import httpx

    from gateway.settings import load_settings
    from providers.registry import build_provider

    enabled = load_settings(spec.config_path).enabled_providers()
    names = check_names(spec)
    client = httpx.AsyncClient(timeout=_TIMEOUT_S)
    return [build_provider(name, enabled[name], client) for name in names]


def check_names(spec: ProviderSpec) -> tuple[str, ...]:
    """The provider names to build (all enabled ones by default); ValueError names bad ones."""
    if spec.config_path is None:
        from benchmarks.quality.engines import local_configs

        return tuple(name for name, _ in local_configs())
    from gateway.settings import load_settings

    settings = load_settings(spec.config_path)
    enabled = settings.enabled_providers()
    names = spec.names or tuple(enabled)
    bad = [f"{n} ({settings.disabled.get(n, 'not configured')})" for n in names if n not in enabled]
    if bad:
        raise ValueError(f"providers not usable: {', '.join(bad)}")
    return names


def _encode_png(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError("cv2 could not encode a PNG")
    return data.tobytes()


def _decode_rgba(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    with Image.open(io.BytesIO(data)) as image:
        rgba = np.asarray(image.convert("RGBA"))
    return rgba[:, :, 3], rgba[:, :, :3]


def _finish(original: bytes, result: ProviderResult, job: PostprocessJob, seconds: float
            ) -> Prediction:
    """Post-process like the gateway does and decode the PNG answer."""
    processed = postprocess(original, result, job)
    alpha, rgb = _decode_rgba(processed.data)
    return Prediction(alpha=alpha.astype(np.float32) / 255.0, rgb=rgb, seconds=seconds)


def _job(provider: Provider, options: OutputOptions, trimap: bytes | None) -> PostprocessJob:
    plan = plan_options(options, provider.capabilities, has_trimap=trimap is not None)
    return PostprocessJob(options=options, emulate=plan.emulate, max_pixels=_MAX_PIXELS,
                          deadline=time.monotonic() + _TIMEOUT_S, trimap=trimap)


async def _call(provider: Provider, sample: Sample, original: bytes, trimap: bytes | None
                ) -> tuple[ProviderResult, float]:
    height, width = sample.alpha.shape
    request = ProviderRequest(
        image=original, image_format="png", width=width, height=height,
        request_id=f"bench-{sample.name}", deadline=time.monotonic() + _TIMEOUT_S, trimap=trimap,
    )
    started = time.perf_counter()
    result = await provider.remove_background(request)
    return result, time.perf_counter() - started


async def _evaluate(provider: Provider, sample: Sample, with_trimap: bool) -> list[Row]:
    original = _encode_png(sample.image)
    name = provider.name
    rows: list[Row] = []
    result: ProviderResult | None = None
    seconds = 0.0
    if not provider.capabilities.requires_trimap:
        result, seconds = await _call(provider, sample, original, None)
        rows += _plain_rows(provider, sample, original, result, seconds)
    if not with_trimap:
        return rows
    trimap8 = make_trimap(sample.alpha)
    trimap = _encode_gray(trimap8)
    band = quality.unknown_region(trimap8)
    if result is not None:
        clamp_job = PostprocessJob(options=OutputOptions(), emulate=frozenset({"trimap"}),
                                   max_pixels=_MAX_PIXELS, trimap=trimap,
                                   deadline=time.monotonic() + _TIMEOUT_S)
        rows.append(score_prediction(sample, f"{name}+clamp",
                                     _finish(original, result, clamp_job, seconds), band))
    if "trimap" in provider.capabilities.native:
        result, seconds = await _call(provider, sample, original, trimap)
        solved = _finish(original, result, _job(provider, OutputOptions(), trimap), seconds)
        rows.append(score_prediction(sample, f"{name}+trimap", solved, band))
    return rows


def _plain_rows(provider: Provider, sample: Sample, original: bytes, result: ProviderResult,
                seconds: float) -> list[Row]:
    """The bare result scored on the whole image, and its foreground colours with despill."""
    plain = _finish(original, result, _job(provider, OutputOptions(), None), seconds)
    row = score_prediction(sample, provider.name, plain)
    despilled = _finish(original, result, _job(provider, OutputOptions(despill=True), None), 0.0)
    return [row, msgspec.structs.replace(
        row, method=f"{provider.name}+despill",
        fg_error=quality.foreground_error(despilled.rgb, sample.foreground, sample.alpha),
        fg_error_edge=quality.foreground_error(
            despilled.rgb, sample.foreground, sample.alpha, _edge(sample)
        ),
    )]


def _encode_gray(gray: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", gray, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError("cv2 could not encode a PNG")
    return data.tobytes()


def _edge(sample: Sample) -> np.ndarray:
    return (sample.alpha > 0.5 / 255) & (sample.alpha < 254.5 / 255)


def _true_alpha_rows(sample: Sample) -> list[Row]:
    """Despill off/on applied to the exact alpha: the colour error left is despill's own."""
    original = _encode_png(sample.image)
    alpha8 = np.clip(sample.alpha * 255 + 0.5, 0, 255).astype(np.uint8)
    result = ProviderResult(data=_encode_gray(alpha8), media_type="image/png", kind="mask",
                            provider=TRUE_ALPHA)
    rows = []
    for despill, method in ((False, TRUE_ALPHA), (True, f"{TRUE_ALPHA}+despill")):
        job = PostprocessJob(options=OutputOptions(despill=despill),
                             emulate=frozenset({"despill"} if despill else ()),
                             max_pixels=_MAX_PIXELS, deadline=time.monotonic() + _TIMEOUT_S)
        prediction = _finish(original, result, job, 0.0)
        rows.append(Row(
            sample=sample.name, background=sample.background, method=method,
            sad=0.0, mse=0.0, gradient=0.0, connectivity=0.0, iou=1.0,
            partial_share_pred=0.0, partial_share_true=0.0,
            fg_error=quality.foreground_error(prediction.rgb, sample.foreground, sample.alpha),
            fg_error_edge=quality.foreground_error(
                prediction.rgb, sample.foreground, sample.alpha, _edge(sample)
            ),
            seconds=0.0,
        ))
    return rows


def run_task(task: Task) -> Outcome:
    """Score every worker provider on the task's sample (worker entry point)."""
    sample = load_pair(Path(task.path)) if task.path else make_sample(task.index, task.seed)
    rows: list[Row] = _true_alpha_rows(sample)
    failures: list[str] = []
    for provider in _PROVIDERS:
        try:
            rows += _LOOPS[0].run_until_complete(_evaluate(provider, sample, task.trimap))
        except ProviderError as exc:  # a vendor failure is a result to report, not a crash
            failures.append(f"{provider.name} on {sample.name}: {type(exc).__name__}")
    return Outcome(rows=rows, failures=failures)
