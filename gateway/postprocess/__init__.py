"""Post-processing: input probe, answer checks, option planning, the image pipeline (design §5)."""

from gateway.postprocess.answer import Answer, BadAnswer, check_answer, read_answer
from gateway.postprocess.budget import PixelBudget
from gateway.postprocess.orient import Upright, make_upright
from gateway.postprocess.pipeline import (
    PostprocessJob,
    ProcessedImage,
    Step,
    build_steps,
    pass_through,
    postprocess,
)
from gateway.postprocess.plan import Plan, plan_options
from gateway.postprocess.validate import (
    ImageInfo,
    check_decodes,
    inspect_image,
    normalize_trimap,
    probe_image,
)

__all__ = [
    "Answer",
    "BadAnswer",
    "ImageInfo",
    "PixelBudget",
    "Plan",
    "PostprocessJob",
    "ProcessedImage",
    "Step",
    "Upright",
    "build_steps",
    "check_answer",
    "check_decodes",
    "inspect_image",
    "make_upright",
    "normalize_trimap",
    "pass_through",
    "plan_options",
    "postprocess",
    "probe_image",
    "read_answer",
]
