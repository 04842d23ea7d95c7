"""pad (all modes) and the ONNX normalization/image converters against numpy and onnxruntime."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from graphc.errors import ShapeError

from conftest import assert_close, onnx_matches_onnxruntime


@pytest.mark.parametrize("mode", ["constant", "reflect", "symmetric", "edge", "wrap"])
@pytest.mark.parametrize("pads", [((1, 2), (3, 0)), ((2, 2), (0, 3)), ((0, 1), (1, 1))])
def test_pad_modes_match_numpy(mode, pads, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    ph = graphc.placeholder(graphc.float32, (3, 4))
    with graphc.Session() as sess:
        got = sess.run(graphc.pad(ph, pads, mode=mode.upper()), {ph: x})
    assert_close(got, np.pad(x, pads, mode=mode))


def test_pad_rejects_negative_paddings_and_unknown_modes():
    x = graphc.placeholder(graphc.float32, (3, 4))
    with pytest.raises(ShapeError, match="negative"):
        graphc.pad(x, [[-1, 0], [0, 0]])
    with pytest.raises(ValueError, match="mode"):
        graphc.pad(x, [[1, 0], [0, 0]], mode="circular")
    with pytest.raises(ShapeError, match="exceeds"):
        graphc.pad(x, [[3, 0], [0, 0]], mode="REFLECT")


def test_reflect_pad_gradient_matches_central_differences(rng):
    x0 = rng.standard_normal((3, 4))
    w = rng.standard_normal((6, 6))
    x = graphc.placeholder(graphc.float64, (3, 4))
    loss = graphc.reduce_sum(graphc.pad(x, [[1, 2], [1, 1]], mode="REFLECT") * graphc.constant(w))
    (dx,) = graphc.gradients(loss, [x])
    with graphc.Session() as sess:
        got = sess.run(dx, {x: x0})
    want = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        e = np.zeros_like(x0)
        e[i] = 1e-6
        f = lambda v: (np.pad(v, [[1, 2], [1, 1]], mode="reflect") * w).sum()  # noqa: E731
        want[i] = (f(x0 + e) - f(x0 - e)) / 2e-6
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


# ---- ONNX converters against onnxruntime ---------------------------------------------------------
ort = pytest.importorskip("onnxruntime")


def _check_vs_ort(node, inputs, feeds, outputs, inits=(), opset=18):
    g = helper.make_graph([node], "t", inputs, outputs, initializer=list(inits))
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx_matches_onnxruntime(model, feeds, rtol=1e-4, atol=1e-5)


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_layer_normalization_with_unknown_batch_and_statistics_outputs(rng):
    x = rng.standard_normal((5, 3, 8)).astype(np.float32)
    inits = [numpy_helper.from_array(rng.standard_normal((3, 8)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal((3, 8)).astype(np.float32), "b")]
    node = helper.make_node("LayerNormalization", ["x", "w", "b"], ["y", "mean", "inv"], axis=1, epsilon=1e-3)
    _check_vs_ort(node, [_vi("x", [None, 3, 8])], {"x": x},
                  [_vi("y", [None, 3, 8]), _vi("mean", [None, 1, 1]), _vi("inv", [None, 1, 1])], inits, opset=17)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_resize_with_scales_initializer(mode, rng):
    x = rng.standard_normal((1, 2, 5, 4)).astype(np.float32)
    inits = [numpy_helper.from_array(np.array([1, 1, 1.6, 0.5], np.float32), "scales")]
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode=mode)
    _check_vs_ort(node, [_vi("x", [1, 2, 5, 4])], {"x": x}, [_vi("y", [1, 2, 8, 2])], inits)


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_bilinear(padding, rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    grid = rng.uniform(-1.3, 1.3, (2, 3, 2, 2)).astype(np.float32)
    node = helper.make_node("GridSample", ["x", "grid"], ["y"], padding_mode=padding, mode="linear")
    _check_vs_ort(node, [_vi("x", [2, 3, 4, 5]), _vi("grid", [2, 3, 2, 2])], {"x": x, "grid": grid},
                  [_vi("y", [2, 3, 3, 2])], opset=20)


def test_col2im_with_strides_and_pads(rng):
    x = rng.standard_normal((1, 2 * 4, 9)).astype(np.float32)
    inits = [numpy_helper.from_array(np.array([5, 5], np.int64), "image"),
             numpy_helper.from_array(np.array([2, 2], np.int64), "block")]
    node = helper.make_node("Col2Im", ["x", "image", "block"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1])
    _check_vs_ort(node, [_vi("x", [1, 8, 9])], {"x": x}, [_vi("y", [1, 2, 5, 5])], inits)
