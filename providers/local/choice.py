"""Which engine a local provider runs: `auto`, `onnx` or `classic`, decided once at start-up.

    engine = "classic"  -> classic
    engine = "onnx"     -> the model file must exist and load; else ModelUnavailable (start-up
                           stops, naming the file and the `bg-gateway models pull` command)
    engine = "auto"     -> the model (configured, or the first catalogue model present in the
                           model directory) when it loads; else classic, and the reason why
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from providers.local.classic import ClassicEngine
from providers.local.config import LocalConfig
from providers.local.engine import MatteEngine
from providers.local.families import family
from providers.local.models import CATALOGUE, ModelUnavailable, lookup, model_dir, present
from providers.local.onnx_engine import ModelLoadError, OnnxEngine

__all__ = ["EngineChoice", "ModelUnavailable", "choose_engine"]


class EngineChoice(msgspec.Struct, frozen=True):
    """What a local provider runs and why; shown by GET /v1/providers and logged at start-up."""

    engine: str
    """`onnx` or `classic`."""
    reason: str
    model: str | None = None
    family: str | None = None
    licence: str | None = None
    commercial: bool | None = None
    path: str | None = None
    model_side: int | None = None
    """Square input side of the model (what its matte is upscaled from)."""


class _Target(msgspec.Struct, frozen=True):
    """The model file a provider would use, with what is known about it."""

    model: str
    family: str
    path: Path
    licence: str | None
    commercial: bool | None
    pull_hint: str


def _target(config: LocalConfig) -> _Target | None:
    """The configured model file, or the first catalogue model present (auto); None if none."""
    if config.model_path is not None:
        path = Path(config.model_path).expanduser()
        return _Target(model=path.stem, family=config.model_family or "", path=path,
                       licence=None, commercial=None,
                       pull_hint="point `model_path` at a compatible ONNX file")
    directory = model_dir(config.model_dir)
    if config.model is not None:
        spec = lookup(config.model)
    else:
        found = present(directory)
        if not found:
            return None
        spec = found[0]
    return _Target(model=spec.name, family=spec.family, path=directory / spec.file_name,
                   licence=spec.licence, commercial=spec.commercial,
                   pull_hint=f"fetch it with `bg-gateway models pull {spec.name}`")


def choose_engine(name: str, config: LocalConfig) -> tuple[MatteEngine, EngineChoice]:
    """The engine provider `name` runs and why; ModelUnavailable when `onnx` cannot load."""
    classic = ClassicEngine(config.work_long_side)
    if config.engine == "classic":
        return classic, EngineChoice(engine="classic", reason="engine = \"classic\"")
    target = _target(config)
    if target is None:
        directory = model_dir(config.model_dir)
        first = next(iter(CATALOGUE))
        return classic, EngineChoice(
            engine="classic",
            reason=f"no model file in {directory} (`bg-gateway models pull {first}` adds one)")
    spec = family(target.family)
    try:
        engine = OnnxEngine(target.path, spec, config.intra_op_threads)
    except ModelLoadError as exc:
        if config.engine == "onnx":
            raise ModelUnavailable(
                f"provider {name}: {exc}; {target.pull_hint}") from None
        return classic, EngineChoice(engine="classic", reason=f"{exc}; {target.pull_hint}")
    return engine, EngineChoice(
        engine="onnx", reason=f"model file {target.path} loaded", model=target.model,
        family=spec.name, licence=target.licence, commercial=target.commercial,
        path=str(target.path), model_side=spec.size)
