"""The ONNX Runtime engine: one inference session per model file per process, reused."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from providers.local.families import Family, postprocess, preprocess

if TYPE_CHECKING:
    from onnxruntime import InferenceSession


class ModelLoadError(ValueError):
    """The model file is missing or ONNX Runtime cannot load it."""


_SESSIONS: dict[tuple[str, int, int, int], InferenceSession] = {}
_SESSIONS_LOCK = threading.Lock()


def execution_providers() -> list[str]:
    """CUDA first when this onnxruntime build has it, CPU always."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    chosen = ["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []
    return [*chosen, "CPUExecutionProvider"]


def load_session(path: Path, intra_op_threads: int = 0) -> InferenceSession:
    """The cached InferenceSession of `path` (built on first use); ModelLoadError when unusable."""
    import onnxruntime

    try:
        stat = path.stat()
    except OSError as exc:
        raise ModelLoadError(f"model file {path} does not exist") from exc
    # Keyed by size and mtime too: a file replaced by `models pull` gets a fresh session.
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, intra_op_threads)
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = intra_op_threads
            options.inter_op_num_threads = 1
            try:
                session = onnxruntime.InferenceSession(
                    str(path), sess_options=options, providers=execution_providers())
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise ModelLoadError(
                    f"model file {path} cannot be loaded by ONNX Runtime "
                    f"({type(exc).__name__}); it is corrupt or not an ONNX model") from exc
            _SESSIONS[key] = session
    return session


def forget_sessions() -> None:
    """Drop every cached session (tests; a parent process handing over to workers)."""
    with _SESSIONS_LOCK:
        _SESSIONS.clear()


class OnnxEngine:
    """A salient-object model run by ONNX Runtime, with its family's pre- and post-processing."""

    name = "onnx"

    def __init__(self, path: Path, spec: Family, intra_op_threads: int = 0) -> None:
        self.path = path
        self.family = spec
        session = load_session(path, intra_op_threads)
        self._session = session
        first = session.get_inputs()[0]
        self._input: str = first.name
        self._output: str = session.get_outputs()[0].name
        # Half-precision exports exist; they take the same numbers as float16.
        self._dtype = np.float16 if first.type == "tensor(float16)" else np.float32

    def matte(self, rgb: np.ndarray) -> np.ndarray:
        """Matte (uint8 HxW, 255 = foreground) of `rgb` (uint8 HxWx3), the same size."""
        height, width = rgb.shape[:2]
        tensor = preprocess(rgb, self.family).astype(self._dtype, copy=False)
        (output,) = self._session.run([self._output], {self._input: tensor})
        return postprocess(output, self.family, width, height)
