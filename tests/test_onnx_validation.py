"""ONNX models whose attributes contradict their inputs are refused with OnnxImportError, as onnxruntime
refuses them (graphc once wrapped out-of-range axes modulo the rank and ignored kernel_shape)."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from graphc.onnx import import_model
from graphc.onnx.errors import OnnxImportError


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def _init(name, arr):
    return onnx.numpy_helper.from_array(np.asarray(arr), name)


F = TensorProto.FLOAT


def _cases():
    yield "LayerNormalization axis=3 on rank 3", _model(
        [helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"], axis=3)],
        [_vi("x", F, [2, 3, 4])], [_vi("y", F, [2, 3, 4])],
        [_init("s", np.ones(4, np.float32)), _init("b", np.zeros(4, np.float32))]), "axis=3"
    yield "Softmax axis=5 on rank 3", _model(
        [helper.make_node("Softmax", ["x"], ["y"], axis=5)], [_vi("x", F, [2, 3, 4])], [_vi("y", F, [2, 3, 4])]), "axis=5"
    yield "Softmax axis=-4 on rank 3, opset 11", _model(
        [helper.make_node("Softmax", ["x"], ["y"], axis=-4)], [_vi("x", F, [2, 3, 4])], [_vi("y", F, [2, 3, 4])],
        opset=11), "axis=-4"
    yield "Conv kernel_shape contradicting the weights", _model(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[5, 5])],
        [_vi("x", F, [1, 1, 8, 8])], [_vi("y", F, [1, 2, 6, 6])], [_init("w", np.ones((2, 1, 3, 3), np.float32))]), \
        "kernel_shape"
    yield "declared output dtype mismatching", _model(
        [helper.make_node("Add", ["x", "x"], ["y"])], [_vi("x", F, [3])], [_vi("y", TensorProto.INT64, [3])]), \
        "declared int64"


@pytest.mark.parametrize("what, model, says", list(_cases()), ids=[c[0] for c in _cases()])
def test_contradictory_model_is_refused_as_onnxruntime_refuses_it(what, model, says):
    with pytest.raises(Exception):  # onnxruntime refuses the model (at load or at its first run)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        sess.run(None, {i.name: np.ones([d.dim_value for d in i.type.tensor_type.shape.dim], np.float32)
                        for i in model.graph.input})
    with pytest.raises(OnnxImportError, match=says):
        import_model(model)
