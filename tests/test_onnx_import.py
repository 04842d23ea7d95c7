"""ONNX import: small models against onnxruntime, opset variants, and clear errors for malformed files."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from graphc.onnx import OnnxImportError, import_model

ort = pytest.importorskip("onnxruntime")


def _model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "t", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def _check_vs_ort(model, feeds):
    imp = import_model(model)
    with graphc.Session(graph=imp.graph) as sess:
        got = sess.run(list(imp.outputs.values()), {imp.inputs[k]: v for k, v in feeds.items()})
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_mlp_with_initializers_and_unknown_batch():
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b")
    m = _model([helper.make_node("Gemm", ["x", "w", "b"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
                helper.make_node("Softmax", ["r"], ["y"], axis=1)],
               [_vi("x", ["N", 4])], [_vi("y", ["N", 3])], [w, bias])
    imp = import_model(m)
    assert imp.inputs["x"].shape == (None, 4)
    for n in (2, 5):
        _check_vs_ort(m, {"x": rng.standard_normal((n, 4)).astype(np.float32)})


@pytest.mark.parametrize("opset", [7, 11, 13, 18])
def test_reduce_and_squeeze_axes_as_attr_or_input_by_opset(opset):
    x = np.random.default_rng(1).standard_normal((2, 1, 3)).astype(np.float32)
    inits, sq_in, red_in, sq_attr, red_attr = [], ["x"], ["s"], {}, {}
    if opset >= 13:
        inits.append(numpy_helper.from_array(np.array([1], np.int64), "sq_axes"))
        sq_in.append("sq_axes")
    else:
        sq_attr["axes"] = [1]
    if opset >= 18:
        inits.append(numpy_helper.from_array(np.array([-1], np.int64), "red_axes"))
        red_in.append("red_axes")
    else:
        red_attr["axes"] = [-1]
    m = _model([helper.make_node("Squeeze", sq_in, ["s"], **sq_attr),
                helper.make_node("ReduceMean", red_in, ["y"], keepdims=0, **red_attr)],
               [_vi("x", [2, 1, 3])], [_vi("y", [2])], inits, opset=opset)
    _check_vs_ort(m, {"x": x})


def test_reshape_shape_from_a_shape_chain_is_constant_folded():
    m = _model([helper.make_node("Shape", ["x"], ["s"]),
                helper.make_node("Gather", ["s", "i"], ["d0"], axis=0),
                helper.make_node("Concat", ["d0", "m1"], ["shape"], axis=0),
                helper.make_node("Reshape", ["x", "shape"], ["y"])],
               [_vi("x", [2, 3, 4])], [_vi("y", [2, 12])],
               [numpy_helper.from_array(np.array([-3], np.int64), "i"),
                numpy_helper.from_array(np.array([-1], np.int64), "m1")])
    _check_vs_ort(m, {"x": np.arange(24, dtype=np.float32).reshape(2, 3, 4)})


def test_slice_opset9_attrs_and_opset13_inputs_agree():
    x = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    m9 = _model([helper.make_node("Slice", ["x"], ["y"], starts=[1, -4], ends=[1000, -1], axes=[0, 2])],
                [_vi("x", [3, 4, 5])], [_vi("y", ["a", "b", "c"])], opset=9)
    _check_vs_ort(m9, {"x": x})
    inits = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
             (("st", [3, 0]), ("en", [-1000, 4]), ("ax", [1, 2]), ("sp", [-2, 2]))]
    m13 = _model([helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])],
                 [_vi("x", [3, 4, 5])], [_vi("y", ["a", "b", "c"])], inits)
    _check_vs_ort(m13, {"x": x})


def test_clip_attr_opset6_style_and_input_style():
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    m = _model([helper.make_node("Clip", ["x"], ["y"], min=-1.0, max=2.0)], [_vi("x", [3, 4])],
               [_vi("y", [3, 4])], opset=7)
    _check_vs_ort(m, {"x": x})
    inits = [numpy_helper.from_array(np.array(-1.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(2.0, np.float32), "hi")]
    m = _model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], [_vi("x", [3, 4])], [_vi("y", [3, 4])], inits)
    _check_vs_ort(m, {"x": x})


# ---- malformed files ---------------------------------------------------------------------------
def _good_bytes():
    return _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2])], [_vi("y", [2])]).SerializeToString()


def test_truncated_file(tmp_path):
    p = tmp_path / "t.onnx"
    p.write_bytes(_good_bytes()[:-7])
    with pytest.raises(OnnxImportError, match="not a readable ONNX model|invalid"):
        import_model(str(p))


def test_random_bytes(tmp_path):
    p = tmp_path / "r.onnx"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(OnnxImportError):
        import_model(str(p))


def test_missing_file(tmp_path):
    with pytest.raises(OnnxImportError, match="does not exist"):
        import_model(str(tmp_path / "none.onnx"))


def test_cycle():
    m = _model([helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
               [_vi("x", [2])], [_vi("b", [2])])
    with pytest.raises(OnnxImportError, match="invalid|topologically"):
        import_model(m)


def test_undefined_input_or_missing_initializer():
    m = _model([helper.make_node("Add", ["x", "w"], ["y"])], [_vi("x", [2])], [_vi("y", [2])])
    with pytest.raises(OnnxImportError, match="w"):
        import_model(m)


@pytest.mark.parametrize("opset", [5, 40])
def test_unsupported_opset(opset):
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2])], [_vi("y", [2])], opset=opset)
    with pytest.raises(OnnxImportError, match=f"opset {opset}"):
        import_model(m)


def test_unsupported_op_names_node_op_and_opset():
    m = _model([helper.make_node("Det", ["x"], ["y"], name="mydet")], [_vi("x", [2, 2])], [_vi("y", [])],
               opset=13)
    with pytest.raises(OnnxImportError, match=r"mydet.*Det.*opset 13"):
        import_model(m)


def test_variables_option_not_available_yet():
    with pytest.raises(NotImplementedError, match="training"):
        import_model(onnx.load_from_string(_good_bytes()), variables=True)
