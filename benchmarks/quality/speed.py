"""Seconds per image and peak RSS of each local engine, at 1 MP and 12 MP, one fresh process each.

Engines: classic always; every catalogue model in the model directory; and, when the `onnx`
package is installed, a SYNTHETIC model with the ISNet interface (1024 px in, 1024 px matte out:
a fixed soft disc, so refinement sees a realistic edge band), ISNet's parameter count (44 M) and a
64-channel activation at full input size, but only a few GFLOP of random convolutions. It is not
a real model: its numbers time the code around a model (pre-processing, ONNX Runtime, LANCZOS
resampling, edge refinement, PNG) and show memory of ISNet's order, not ISNet's inference cost.

    python -m benchmarks.quality.speed [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import msgspec
import numpy as np

from benchmarks.common import table
from benchmarks.quality.engines import local_configs
from benchmarks.quality.generate import make_sample
from providers.base import ProviderRequest
from providers.local.config import LocalConfig

SIZES: dict[str, tuple[int, int]] = {"1 MP": (1216, 832), "12 MP": (4000, 3000)}
SYNTHETIC = "synthetic-onnx (NOT a real model)"


def synthetic_model(path: Path) -> Path:
    """Write the synthetic ISNet-interface graph (random weights, seeded) to `path`."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    layers = [(3, 32, 3, 2), (32, 64, 3, 2), (64, 64, 3, 1), (64, 64, 3, 1), (64, 1, 1, 1)]
    nodes, weights, current = [], [], "input_image"
    for index, (c_in, c_out, kernel, stride) in enumerate(layers):
        weight = rng.normal(0, 0.2, (c_out, c_in, kernel, kernel)).astype(np.float32)
        weights.append(numpy_helper.from_array(weight, f"w{index}"))
        out = f"c{index}"
        nodes.append(helper.make_node("Conv", [current, f"w{index}"], [out], strides=[stride] * 2,
                                      pads=[kernel // 2] * 4))
        current = out
        if index < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [current], [f"r{index}"]))
            current = f"r{index}"
    weights.append(numpy_helper.from_array(np.array([1, 1, 4, 4], np.float32), "scales"))
    nodes.append(helper.make_node("Resize", [current, "", "scales"], ["up"], mode="linear"))
    # Random weights give a noisy matte whose "edge band" covers the whole photo; a real model's
    # matte is a subject with an outline. So the output is a fixed soft disc plus a trace of the
    # network (which still has to run), giving refinement a realistic band to work on.
    yy, xx = np.mgrid[0:1024, 0:1024].astype(np.float32)
    distance = np.hypot(yy - 512, xx - 512) - 360
    disc = (1 / (1 + np.exp(np.clip(distance / 3, -30, 30)))).astype(np.float32)[None, None]
    weights += [numpy_helper.from_array(disc, "disc"),
                numpy_helper.from_array(np.array(1e-3, np.float32), "trace")]
    # ISNet-sized memory: a 64-channel activation at the full 1024 px input (256 MiB, as a
    # real model's first stages have) and 44 M parameters (176 MB, ISNet's count), both cheap
    # to compute; their outputs join the trace so nothing is pruned.
    wide = rng.normal(0, 0.1, (64, 3, 1, 1)).astype(np.float32)
    narrow = rng.normal(0, 0.1, (1, 64, 1, 1)).astype(np.float32)
    params = rng.normal(0, 0.01, (1024, 43_000)).astype(np.float32)
    weights += [numpy_helper.from_array(wide, "wide"), numpy_helper.from_array(narrow, "narrow"),
                numpy_helper.from_array(params, "params"),
                numpy_helper.from_array(np.array([0, 0, 0, 0], np.int64), "row_start"),
                numpy_helper.from_array(np.array([1, 1, 1, 1024], np.int64), "row_end"),
                numpy_helper.from_array(np.array([1, 1024], np.int64), "row_shape")]
    nodes += [helper.make_node("Conv", ["input_image", "wide"], ["full64"]),
              helper.make_node("Relu", ["full64"], ["full64r"]),
              helper.make_node("Conv", ["full64r", "narrow"], ["full1"]),
              helper.make_node("Slice", ["input_image", "row_start", "row_end"], ["row4"]),
              helper.make_node("Reshape", ["row4", "row_shape"], ["row"]),
              helper.make_node("MatMul", ["row", "params"], ["mixed"]),
              helper.make_node("ReduceMean", ["mixed"], ["mixed_mean"], keepdims=0),
              helper.make_node("Add", ["up", "full1"], ["both"]),
              helper.make_node("Add", ["both", "mixed_mean"], ["all"]),
              helper.make_node("Mul", ["all", "trace"], ["small"]),
              helper.make_node("Add", ["disc", "small"], ["output_image"])]
    graph = helper.make_graph(
        nodes, "synthetic-isnet",
        [helper.make_tensor_value_info("input_image", TensorProto.FLOAT, [1, 3, 1024, 1024])],
        [helper.make_tensor_value_info("output_image", TensorProto.FLOAT, [1, 1, 1024, 1024])],
        initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _photo(size: tuple[int, int]) -> bytes:
    """A generated composite resized to `size`, as PNG bytes."""
    sample = make_sample(1)
    image = cv2.resize(sample.image, size, interpolation=cv2.INTER_CUBIC)
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_PNG_COMPRESSION, 1])
    assert ok
    return data.tobytes()


def _request(data: bytes, size: tuple[int, int]) -> ProviderRequest:
    return ProviderRequest(image=data, image_format="png", width=size[0], height=size[1],
                           request_id="bench", deadline=time.monotonic() + 600)


def measure(config: LocalConfig, size: tuple[int, int], repeats: int,
            concurrent: int = 1) -> tuple[float, float]:
    """(seconds per image, peak RSS MiB) in this (fresh) process; runs in a worker."""
    from providers.local.provider import LocalProvider

    provider = LocalProvider("bench", config)
    data = _photo(size)

    async def run() -> float:
        await provider.remove_background(_request(data, size))  # warm-up: session, caches
        started = time.perf_counter()
        for _ in range(repeats):
            await asyncio.gather(*(provider.remove_background(_request(data, size))
                                   for _ in range(concurrent)))
        return (time.perf_counter() - started) / (repeats * concurrent)

    seconds = asyncio.run(run())
    return seconds, peak_rss_mib()


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it does not inherit the
    high-water mark of the parent that forked the worker)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fresh(config: LocalConfig, size: tuple[int, int], repeats: int,
           concurrent: int = 1) -> tuple[float, float]:
    """`measure` in a new process, so peak RSS belongs to this measurement alone."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measure, config, size, repeats, concurrent).result()


def engines(directory: Path) -> list[tuple[str, LocalConfig]]:
    """Every engine present, plus the synthetic model when `onnx` is installed."""
    found = local_configs()
    try:
        path = synthetic_model(directory / "synthetic.onnx")
    except ImportError:
        print("[speed] `onnx` not installed: synthetic model skipped", file=sys.stderr)
        return found
    return [*found, (SYNTHETIC, LocalConfig(engine="onnx", model_path=str(path),
                                            model_family="isnet"))]


def run(repeats: int = 3) -> str:
    """Markdown: per engine and size, seconds per image and peak RSS; then 8 concurrent at 1 MP."""
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as scratch:
        found = engines(Path(scratch))
        for name, config in found:
            for label, size in SIZES.items():
                seconds, peak = _fresh(config, size, repeats)
                rows.append([name, label, seconds, peak])
                print(f"[speed] {name} {label}: {seconds:.2f} s, {peak:.0f} MiB", file=sys.stderr)
        speed = table(["engine", "image", "s / image", "peak RSS MiB"], rows)
        concurrency: list[list[object]] = []
        neural = [(n, c) for n, c in found if c.engine == "onnx"]
        for name, config in neural:
            for slots in (1, 8):
                bounded = msgspec.structs.replace(config, max_concurrency=slots, max_queue=16)
                seconds, peak = _fresh(bounded, SIZES["1 MP"], 1, concurrent=8)
                concurrency.append([name, slots, seconds, peak])
    parts = [speed]
    if concurrency:
        parts += ["8 concurrent 1 MP requests in one process (the provider called directly, "
                  "`max_concurrency` 1 vs 8):",
                  table(["engine", "max_concurrency", "s / image", "peak RSS MiB"], concurrency)]
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality.speed",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    print(run(parser.parse_args(argv).repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())

