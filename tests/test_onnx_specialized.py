"""ONNX models with shape/axes inputs fed at run time: one compiled graph per value, cached."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from graphc.errors import FeedError
from graphc.onnx import SpecializedModel, import_model
from graphc.onnx.errors import StaticInputError


def _reshape_sum_model():
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("ReduceSum", ["r", "axes"], ["y"], keepdims=0)]
    graph = helper.make_graph(nodes, "g", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6]),
        helper.make_tensor_value_info("shape", TensorProto.INT64, [2]),
        helper.make_tensor_value_info("axes", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_shape_and_axes_inputs_are_fed_and_specialized_per_value():
    model = _reshape_sum_model()
    with pytest.raises(StaticInputError):
        import_model(model)  # without values, the importer cannot know the shapes
    m = SpecializedModel(model)
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    cases = [([3, 4], [0]), ([3, 4], [1]), ([4, 3], [1]), ([3, 4], [0])]
    for shape, axes in cases:
        got, = m.run({"x": x, "shape": np.array(shape, np.int64), "axes": np.array(axes, np.int64)})
        np.testing.assert_allclose(got, x.reshape(shape).sum(axis=axes[0]))
    assert sorted(m.static_inputs) == ["axes", "shape"]
    assert m.signatures == 3  # the fourth run reused the first one's graph
    m.run({"x": x + 1, "shape": np.array([3, 4], np.int64), "axes": np.array([0], np.int64)})
    assert m.signatures == 3


def test_lru_bound_and_missing_feed():
    m = SpecializedModel(_reshape_sum_model(), max_signatures=2)
    x = np.ones((2, 6), np.float32)
    for shape in ([3, 4], [4, 3], [6, 2]):
        m.run({"x": x, "shape": np.array(shape, np.int64), "axes": np.array([1], np.int64)})
    assert m.signatures == 2
    with pytest.raises(FeedError, match="not fed"):
        m.run({"x": x})
