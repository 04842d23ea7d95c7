"""Winograd convolution (graphc/ops/winograd.py, passes/winograd.py, codegen/lower/winograd.py): the transforms
against a direct conv in float64, the pass's choice of convs, and compiled convs with their fused epilogues
against numpy, on shapes that do not divide into tiles."""
import numpy as np
import pytest

import graphc as gc
import graphc.passes.winograd as winograd_pass
from graphc.ops.conv import _conv_ref
from graphc.ops.winograd import _reference as winograd_reference
from graphc.ops.winograd import transform_weights


def _direct(x, w, pads):
    return _conv_ref({"pads": pads}, x.astype(np.float64), w.astype(np.float64))


@pytest.mark.parametrize("m", [2, 4])
def test_transforms_compute_the_conv(m):
    """A^T [(G g G^T) * (B^T d B)] A over tiles is the 3x3 conv (float64 weights: only rounding differs)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 5, 7, 9)), rng.standard_normal((17, 5, 3, 3))
    for pads in ([0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0]):
        got = winograd_reference({"tile": m, "pads": pads, "c_out": 17}, x, transform_weights(w, m, 16))
        np.testing.assert_allclose(got, _direct(x, w, pads), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("m, bound", [(2, 2e-6), (4, 2e-5)])
def test_float32_error_on_resnet_like_layers(m, bound):
    """float32 Winograd against the float64 conv, relative to the output's largest value, with He-initialized
    weights and unit-variance inputs as in ResNet: F(2x2) stays near float32 rounding, F(4x4) loses about a
    decimal digit (measured 4e-7 and 5e-6 at 64 channels; the bounds leave room for other seeds)."""
    rng = np.random.default_rng(1)
    for c in (64, 256):
        x = rng.standard_normal((1, c, 14, 14)).astype(np.float32)
        w = (rng.standard_normal((c, c, 3, 3)) * np.sqrt(2 / (9 * c))).astype(np.float32)
        want = _direct(x, w, [1, 1, 1, 1])
        got = winograd_reference({"tile": m, "pads": [1, 1, 1, 1], "c_out": c}, x, transform_weights(w, m, 16))
        assert np.abs(got - want).max() <= bound * np.abs(want).max()


def _conv_net(x_val, w_val, pads, strides=(1, 1), residual=False, weights_fed=False):
    """conv + bias + ReLU (+ a residual add of the input) as a graph; returns (graph, output, feed, numpy result)."""
    g = gc.Graph()
    rng = np.random.default_rng(2)
    b_val = rng.standard_normal(w_val.shape[0]).astype(np.float32)
    with g.as_default():
        x = gc.placeholder(gc.float32, x_val.shape)
        w = gc.placeholder(gc.float32, w_val.shape) if weights_fed else gc.constant(w_val)
        y = gc.conv(x, w, strides=list(strides), pads=list(pads)) + gc.reshape(gc.constant(b_val), [1, -1, 1, 1])
        y = gc.relu(y + x) if residual else gc.relu(y)
    want = _conv_ref({"pads": list(pads), "strides": list(strides)}, x_val.astype(np.float64),
                     w_val.astype(np.float64)) + b_val.reshape(1, -1, 1, 1)
    want = np.maximum(want + x_val if residual else want, 0)
    feed = {x: x_val, **({w: w_val} if weights_fed else {})}
    return g, y, feed, want


def _run(g, y, feed):
    with gc.Session(graph=g) as sess:
        exe = sess.compiled(y, feed)
        return sess.run(y, feed), " ".join(exe.kernels)


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("shape, c_out, pads, residual", [
    ((1, 8, 9, 9), 8, [1, 1, 1, 1], True),      # 9x9: tiles do not divide the output; residual epilogue
    ((2, 16, 7, 10), 13, [0, 1, 1, 0], False),  # batch 2, odd C_out (not a vector of channels), uneven pads
    ((1, 32, 12, 12), 24, [0, 0, 0, 0], False),  # no padding
])
def test_compiled_winograd_conv_matches_numpy(monkeypatch, m, shape, c_out, pads, residual):
    monkeypatch.setattr(winograd_pass, "winograd_tile", lambda *_: m)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((c_out, shape[1], 3, 3)) * np.sqrt(2 / (9 * shape[1]))).astype(np.float32)
    g, y, feed, want = _conv_net(x, w, pads, residual=residual)
    got, kernels = _run(g, y, feed)
    assert "winograd" in kernels
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


@pytest.mark.parametrize("why, kwargs, w_shape", [
    ("stride 2", {"strides": (2, 2)}, (8, 8, 3, 3)),
    ("weights fed at run time", {"weights_fed": True}, (8, 8, 3, 3)),
    ("a 5x5 kernel", {}, (8, 8, 5, 5)),
])
def test_pass_leaves_other_convs_alone(monkeypatch, why, kwargs, w_shape):
    monkeypatch.setattr(winograd_pass, "winograd_tile", lambda *_: 2)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 8, 10, 10)).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    g, y, feed, want = _conv_net(x, w, [w_shape[2] // 2] * 4, **kwargs)
    got, kernels = _run(g, y, feed)
    assert "winograd" not in kernels, why
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_transformed_weights_are_reused_for_equal_weights():
    """A warm compile re-imports the same weights as new arrays: their transform is found by content, and other
    weights, tiles or panel widths are transformed afresh."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((17, 5, 3, 3)).astype(np.float32)
    first = winograd_pass.transformed_weights(w, 2, 16)
    np.testing.assert_array_equal(first, transform_weights(w, 2, 16))
    assert not first.flags.writeable
    assert winograd_pass.transformed_weights(w.copy(), 2, 16) is first
    other = w.copy()
    other[3, 1, 2, 0] += 1
    for args in ((other, 2, 16), (w, 4, 16), (w, 2, 8)):
        got = winograd_pass.transformed_weights(*args)
        assert got is not first
        np.testing.assert_array_equal(got, transform_weights(*args))


@pytest.mark.parametrize("shape, tile", [
    ((64, 64, 56, 56), 4), ((128, 128, 28, 28), 4),   # many tiles: F(4x4) measured fastest
    ((256, 256, 14, 14), 2), ((512, 512, 7, 7), 2),   # F(4x4) tied / lost: F(2x2)
    ((8, 64, 56, 56), None), ((64, 64, 5, 5), None),  # too few channels or outputs: the direct conv
])
def test_rule_takes_the_tile_measured_fastest(shape, tile):
    assert winograd_pass.winograd_tile(*shape) == tile
