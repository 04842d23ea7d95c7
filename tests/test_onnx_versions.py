"""ONNX converters by opset version, the name table shared with the exporter, memoized static values."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc as gc
from graphc.onnx import import_model
from graphc.onnx.convert import CONVERTERS, Versions
from graphc.onnx.errors import OnnxImportError
from graphc.onnx.exporter import EMITTERS, OPSET
from graphc.onnx.importer import Context
from graphc.onnx.names import SAME_OPS


def test_the_largest_version_not_above_the_models_opset_is_picked():
    v = Versions("Op")
    v.add(1, "v1")
    v.add(10, "v10")
    assert [v.for_opset(n) for n in (1, 9, 10, 13)] == ["v1", "v1", "v10", "v10"]
    with pytest.raises(ValueError, match="ONNX op Op has two converters from opset 10"):
        v.add(10, "again")
    late = Versions("Late")
    late.add(18, "v18")
    with pytest.raises(OnnxImportError, match="ONNX op Late is supported from opset 18; the model has opset 17"):
        late.for_opset(17)


def _top_k_model(opset):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6])
    outs = [helper.make_tensor_value_info(n, t, [2, 3]) for n, t in (("v", TensorProto.FLOAT), ("i", TensorProto.INT64))]
    if opset < 10:  # k is an attribute before opset 10, an input from 10 on
        nodes, inits = [helper.make_node("TopK", ["x"], ["v", "i"], k=3)], []
    else:
        nodes = [helper.make_node("TopK", ["x", "k"], ["v", "i"])]
        inits = [helper.make_tensor("k", TensorProto.INT64, [1], [3])]
    m = helper.make_model(helper.make_graph(nodes, "top_k", [x], outs, inits),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("opset", [9, 13])
def test_top_k_reads_k_where_its_opset_puts_it(opset):
    imp = import_model(_top_k_model(opset))
    xv = np.random.default_rng(0).permutation(12).astype("float32").reshape(2, 6)
    with gc.Session(graph=imp.graph) as sess:
        values, indices = sess.run([imp.outputs["v"], imp.outputs["i"]], {imp.inputs["x"]: xv})
    want = np.argsort(-xv, axis=1)[:, :3]
    np.testing.assert_array_equal(indices, want)
    np.testing.assert_array_equal(values, np.take_along_axis(xv, want, axis=1))


def test_importer_and_exporter_share_one_name_table():
    for same in SAME_OPS:
        assert same.onnx_op in CONVERTERS
        assert (same.graphc_op in EMITTERS) == (same.since <= OPSET), same


def test_static_values_are_evaluated_once(monkeypatch):
    calls = []
    evaluate = gc.reference.evaluate
    monkeypatch.setattr(gc.reference, "evaluate", lambda t, known=None: calls.append((t, known)) or evaluate(t, known))
    g = gc.Graph()
    with g.as_default():
        t = gc.constant(np.arange(4, dtype="int64")) + 1
        fed = gc.placeholder(gc.float32, [2])
    ctx = Context(13, g)
    first = ctx.static(t, "test value")
    assert ctx.static(t, "test value") is first and ctx.maybe_static(t) is first and len(calls) == 1
    np.testing.assert_array_equal(first, [1, 2, 3, 4])
    assert ctx.maybe_static(fed) is None and ctx.maybe_static(fed) is None and len(calls) == 2
    with g.as_default():
        u = t * 2
    np.testing.assert_array_equal(ctx.static(u, "test value"), [2, 4, 6, 8])
    assert calls[-1][1] == {t: first}  # t's known value is fed, not evaluated again


@pytest.mark.parametrize("opset", [11, 13])
def test_axes_are_an_attribute_before_opset_13_and_an_input_from_it(opset):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 1])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    if opset < 13:
        nodes = [helper.make_node("ReduceSum", ["x"], ["s"], axes=[1]), helper.make_node("Unsqueeze", ["s"], ["y"], axes=[0])]
        inits = []
    else:
        zero = helper.make_tensor("zero", TensorProto.INT64, [1], [0])
        nodes = [helper.make_node("ReduceSum", ["x", "axes"], ["s"]), helper.make_node("Unsqueeze", ["s", "zero"], ["y"])]
        inits = [axes, zero]
    m = helper.make_model(helper.make_graph(nodes, "axes", [x], [y], inits), opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    imp = import_model(m)
    xv = np.arange(6, dtype="float32").reshape(2, 3)
    with gc.Session(graph=imp.graph) as sess:
        got = sess.run(imp.outputs["y"], {imp.inputs["x"]: xv})
    np.testing.assert_array_equal(got, xv.sum(axis=1, keepdims=True)[None])


@pytest.mark.parametrize("opset", [11, 13])
def test_softmax_and_split_follow_their_opset(opset):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2, 3])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
            for n, shape in (("p", [2, 2, 3]), ("a", [2, 2, 1]), ("b", [2, 2, 2]))]
    if opset < 13:
        split, inits = [helper.make_node("Split", ["x"], ["a", "b"], axis=2, split=[1, 2])], []
    else:
        split = [helper.make_node("Split", ["x", "sizes"], ["a", "b"], axis=2)]
        inits = [helper.make_tensor("sizes", TensorProto.INT64, [2], [1, 2])]
    nodes = [helper.make_node("Softmax", ["x"], ["p"], axis=1)] + split
    m = helper.make_model(helper.make_graph(nodes, "v", [x], outs, inits), opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    imp = import_model(m)
    xv = np.random.default_rng(1).standard_normal((2, 2, 3)).astype("float32")
    with gc.Session(graph=imp.graph) as sess:
        p, a, b = sess.run([imp.outputs[n] for n in "pab"], {imp.inputs["x"]: xv})
    flat = xv.reshape(2, 6) if opset < 13 else None  # before 13: softmax over all dims from axis 1 on
    e = np.exp(xv - xv.max(axis=1, keepdims=True)) if opset >= 13 else np.exp(flat - flat.max(axis=1, keepdims=True))
    want = (e / e.sum(axis=1, keepdims=True)).reshape(2, 2, 3)
    np.testing.assert_allclose(p, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(a, xv[:, :, :1])
    np.testing.assert_array_equal(b, xv[:, :, 1:])
