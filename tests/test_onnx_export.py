"""ONNX export: graphc graphs written as ONNX, checked, and run by onnxruntime against graphc's outputs."""
import numpy as np
import onnx
import pytest

import graphc
from graphc.onnx import export, import_model
from graphc.onnx.exporter import OnnxExportError

ort = pytest.importorskip("onnxruntime")


def _mlp(rng):
    g = graphc.Graph()
    with g.as_default():
        x = graphc.placeholder(graphc.float32, (None, 4), name="x")
        w1 = graphc.constant(rng.standard_normal((4, 8)).astype(np.float32))
        b1 = graphc.constant(rng.standard_normal(8).astype(np.float32))
        w2 = graphc.constant(rng.standard_normal((8, 3)).astype(np.float32))
        h = graphc.relu(graphc.matmul(x, w1) + b1)
        logits = graphc.matmul(h, w2, transpose_b=False)
        y = graphc.softmax(logits)
        s = graphc.reduce_mean(graphc.tanh(logits), axis=1, keepdims=True)
    return g, x, [y, s]


def test_mlp_roundtrip_through_onnxruntime(tmp_path):
    rng = np.random.default_rng(0)
    g, x, fetches = _mlp(rng)
    path = str(tmp_path / "mlp.onnx")
    model = export(fetches, path, [x])
    onnx.checker.check_model(onnx.load(path))
    feed = rng.standard_normal((5, 4)).astype(np.float32)
    with graphc.Session(graph=g) as sess:
        ours = sess.run(fetches, {x: feed})
    theirs = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": feed})
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # and back into graphc
    imp = import_model(model)
    with graphc.Session(graph=imp.graph) as sess:
        again = sess.run(list(imp.outputs.values()), {imp.inputs["x"]: feed})
    for a, b in zip(ours, again):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_transposes_reshape_and_reductions(tmp_path):
    rng = np.random.default_rng(1)
    g = graphc.Graph()
    with g.as_default():
        a = graphc.placeholder(graphc.float32, (3, 4), name="a")
        b = graphc.placeholder(graphc.float32, (5, 4), name="b")
        m = graphc.matmul(a, b, transpose_b=True)
        r = graphc.reshape(graphc.transpose(m), [15])
        out = [graphc.reduce_sum(r, axis=0), graphc.reduce_max(m, axis=[1]), graphc.exp(r) - 1.0]
    path = str(tmp_path / "m.onnx")
    export(out, path, [a, b])
    feeds = {"a": rng.standard_normal((3, 4)).astype(np.float32), "b": rng.standard_normal((5, 4)).astype(np.float32)}
    with graphc.Session(graph=g) as sess:
        ours = sess.run(out, {a: feeds["a"], b: feeds["b"]})
    theirs = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5)


def test_unfed_placeholder_is_an_error(tmp_path):
    g = graphc.Graph()
    with g.as_default():
        x = graphc.placeholder(graphc.float32, (2,), name="x")
        y = graphc.exp(x)
    with pytest.raises(OnnxExportError, match="x"):
        export(y, str(tmp_path / "bad.onnx"), [])
