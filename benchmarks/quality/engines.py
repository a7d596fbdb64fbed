"""The local engines a benchmark run can use: classic always, plus every ONNX model present."""

from __future__ import annotations

import sys

from providers.local.config import LocalConfig
from providers.local.models import CATALOGUE, model_dir, present


def local_configs(announce: bool = True) -> list[tuple[str, LocalConfig]]:
    """(provider name, config): `local` (classic) and `local-<model>` per model in the dir."""
    directory = model_dir()
    configs = [("local", LocalConfig(engine="classic"))]
    found = present(directory)
    configs += [(f"local-{spec.name}", LocalConfig(engine="onnx", model=spec.name))
                for spec in found]
    if announce and not found:
        first = next(iter(CATALOGUE))
        print(f"[quality] no ONNX model in {directory}: ONNX engines skipped "
              f"(`bg-gateway models pull {first}` adds one)", file=sys.stderr)
    return configs
