"""Tiny ONNX graphs with each family's input/output names and shapes, built with `onnx`.

`weighted_abs`: output channel 0 = sum_c w_c * |x_c| (a known, non-linear function of the
pre-processed input, so mean, scale and channel order all show in the matte).
`saliency`: output = clip(8 * max_c(-x_c), 0, 1), 1 where some channel is clearly darker than
the middle: a real, if crude, matte of a saturated product on a light studio backdrop (0).
A second output (the negation) checks that the engine takes the first one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: (input name, first output name) per family, as the real models name them.
NAMES: dict[str, tuple[str, str]] = {
    "u2net": ("input.1", "1959"),
    "isnet": ("input_image", "output_image"),
    "isnet-anime": ("img", "mask"),
    "birefnet": ("input_image", "output_image"),
    "bria": ("pixel_values", "alphas"),
}
SIDES: dict[str, int] = {"u2net": 320, "isnet": 1024, "isnet-anime": 1024, "birefnet": 1024,
                         "bria": 1024}
WEIGHTS = (1.0, 2.0, 4.0)


def build(path: Path, family: str, kind: Literal["weighted_abs", "saliency"],
          half: bool = False) -> Path:
    """Write a tiny model of `family`'s interface computing `kind` to `path` (float16 when
    `half`: the input is cast to float32 inside, as half-precision exports take float16)."""
    input_name, output_name = NAMES[family]
    side = SIDES[family]
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    if kind == "weighted_abs":
        weights = numpy_helper.from_array(np.array(WEIGHTS, np.float32).reshape(1, 3, 1, 1), "w")
        nodes = [helper.make_node("Abs", [input_name], ["a"]),
                 helper.make_node("Mul", ["a", "w"], ["m"]),
                 helper.make_node("ReduceSum", ["m", "axes"], [output_name], keepdims=1)]
        initializers = [weights, axes]
    else:
        nodes = [helper.make_node("Neg", [input_name], ["n"]),
                 helper.make_node("ReduceMax", ["n", "axes"], ["r"], keepdims=1),
                 helper.make_node("Mul", ["r", "gain"], ["g"]),
                 helper.make_node("Clip", ["g", "zero", "one"], [output_name])]
        initializers = [axes, *(numpy_helper.from_array(np.array(v, np.float32), n)
                                for n, v in (("gain", 8.0), ("zero", 0.0), ("one", 1.0)))]
    nodes.append(helper.make_node("Neg", [output_name], ["second"]))
    input_type = TensorProto.FLOAT
    if half:
        input_type = TensorProto.FLOAT16
        nodes.insert(0, helper.make_node("Cast", ["half_in"], [input_name], to=TensorProto.FLOAT))
        input_name = "half_in"
    graph = helper.make_graph(
        nodes, f"tiny-{family}-{kind}",
        [helper.make_tensor_value_info(input_name, input_type, [1, 3, side, side])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [1, 1, side, side]),
         helper.make_tensor_value_info("second", TensorProto.FLOAT, [1, 1, side, side])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8  # readable by every onnxruntime the project allows
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
