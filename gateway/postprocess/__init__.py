"""Post-processing: input validation, option planning and the local image pipeline (design §5)."""

from gateway.postprocess.pipeline import (
    PostprocessJob,
    ProcessedImage,
    Step,
    build_steps,
    postprocess,
)
from gateway.postprocess.plan import Plan, plan_options
from gateway.postprocess.validate import ImageInfo, inspect_image, normalize_trimap

__all__ = [
    "ImageInfo",
    "Plan",
    "PostprocessJob",
    "ProcessedImage",
    "Step",
    "build_steps",
    "inspect_image",
    "normalize_trimap",
    "plan_options",
    "postprocess",
]
