"""The model catalogue: every known ONNX file with its family, pinned URL and hash, licence.

URLs and hashes are the ones the rembg reference implementation (v2.0.77) pins; a file is
stored as `<model name>.onnx` in the model directory, as rembg does. Sizes are approximate.
Licences are the weights' own (rembg's MIT licence does not cover them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

_RELEASE = "https://github.com/danielgatis/rembg/releases/download/v0.0.0/"
MODEL_DIR_ENV = "BG_GATEWAY_MODEL_DIR"
DEFAULT_MODEL_DIR = Path("~/.cache/bg-gateway/models")


class ModelUnavailable(ValueError):
    """`engine = "onnx"` but the model file is missing or unusable (a start-up error)."""


class ModelSpec(msgspec.Struct, frozen=True):
    """One downloadable model file."""

    name: str
    family: str
    url: str
    hash_algorithm: Literal["md5", "sha256"]
    hash: str
    size_mb: int
    licence: str
    commercial: bool
    good_for: str

    @property
    def file_name(self) -> str:
        """Name of the file in the model directory."""
        return f"{self.name}.onnx"


def _spec(name: str, family: str, upstream_file: str, digest: str, size_mb: int, licence: str,
          good_for: str, commercial: bool = True) -> ModelSpec:
    algorithm: Literal["md5", "sha256"] = "sha256" if len(digest) == 64 else "md5"
    return ModelSpec(name=name, family=family, url=_RELEASE + upstream_file,
                     hash_algorithm=algorithm, hash=digest, size_mb=size_mb, licence=licence,
                     commercial=commercial, good_for=good_for)


#: In order of preference: `engine = "auto"` without `model` takes the first one present.
CATALOGUE: dict[str, ModelSpec] = {
    s.name: s for s in (
        _spec("isnet-general-use", "isnet", "isnet-general-use.onnx",
              "fc16ebd8b0c10d971d3513d564d01e29", 179, "Apache-2.0",
              "general objects and people; good default at 1024 px"),
        _spec("birefnet-general-lite", "birefnet",
              "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
              "4fab47adc4ff364be1713e97b7e66334", 224, "MIT",
              "general use, finer edges than ISNet, slower"),
        _spec("birefnet-general", "birefnet", "BiRefNet-general-epoch_244.onnx",
              "7a35a0141cbbc80de11d9c9a28f52697", 973, "MIT",
              "best general quality; large and slow on CPU"),
        _spec("birefnet-portrait", "birefnet", "BiRefNet-portrait-epoch_150.onnx",
              "c3a64a6abf20250d090cd055f12a3b67", 973, "MIT", "portraits, hair"),
        _spec("birefnet-dis", "birefnet", "BiRefNet-DIS-epoch_590.onnx",
              "2d4d44102b446f33a4ebb2e56c051f2b", 973, "MIT",
              "dichotomous segmentation: thin structures, hard edges"),
        _spec("birefnet-hrsod", "birefnet", "BiRefNet-HRSOD_DHU-epoch_115.onnx",
              "c017ade5de8a50ff0fd74d790d268dda", 973, "MIT",
              "high-resolution salient objects"),
        _spec("birefnet-cod", "birefnet", "BiRefNet-COD-epoch_125.onnx",
              "f6d0d21ca89d287f17e7afe9f5fd3b45", 973, "MIT", "camouflaged objects"),
        _spec("birefnet-massive", "birefnet", "BiRefNet-massive-TR_DIS5K_TR_TEs-epoch_420.onnx",
              "33e726a2136a3d59eb0fdf613e31e3e9", 973, "MIT",
              "trained on a massive dataset; general use"),
        _spec("u2net", "u2net", "u2net.onnx", "60024c5c889badc19c04ad937298a77b", 176,
              "Apache-2.0", "general use at 320 px; soft edges"),
        _spec("u2netp", "u2net", "u2netp.onnx", "8e83ca70e441ab06c318d82300c84806", 5,
              "Apache-2.0", "tiny and fast; coarse mattes"),
        _spec("u2net_human_seg", "u2net", "u2net_human_seg.onnx",
              "c09ddc2e0104f800e3e1bb4652583d1f", 176, "Apache-2.0", "people only"),
        _spec("silueta", "u2net", "silueta.onnx", "55e59e0d8062d2f5d013f4725ee84782", 43,
              "Apache-2.0", "u2net reduced to a quarter of its size"),
        _spec("isnet-anime", "isnet-anime", "isnet-anime.onnx",
              "6f184e756bb3bd901c8849220a83e38e", 176, "Apache-2.0",
              "anime and illustration characters"),
        _spec("bria-rmbg", "bria", "bria-rmbg-2.0.onnx",
              "5b486f08200f513f460da46dd701db5fbb47d79b4be4b708a19444bcd4e79958", 1024,
              "CC-BY-NC-4.0", "high quality; NON-COMMERCIAL use only (commercial needs a "
              "BRIA agreement)", commercial=False),
    )
}


def lookup(name: str) -> ModelSpec:
    """The catalogue entry `name`; ValueError names the known ones otherwise."""
    try:
        return CATALOGUE[name]
    except KeyError:
        known = ", ".join(CATALOGUE)
        raise ValueError(f"unknown model {name!r} (known: {known})") from None


def model_dir(configured: str | None = None) -> Path:
    """`configured`, else $BG_GATEWAY_MODEL_DIR, else ~/.cache/bg-gateway/models (expanded)."""
    chosen = configured or os.environ.get(MODEL_DIR_ENV) or str(DEFAULT_MODEL_DIR)
    return Path(chosen).expanduser()


def model_file(name: str, directory: Path) -> Path:
    """Where catalogue model `name` lives in `directory`."""
    return directory / lookup(name).file_name


def present(directory: Path) -> list[ModelSpec]:
    """Catalogue models whose file is in `directory`, in order of preference."""
    return [s for s in CATALOGUE.values() if (directory / s.file_name).is_file()]
