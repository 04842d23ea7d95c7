"""2-D convs with constant weights take the direct conv over output-channel panels: passes/pack_conv_weights.py
packs the weights at compile time (conv_packed) and codegen/lower/conv.py _conv2d_direct computes a pixels x NR
register tile (CONV_DIRECT), checked against the numpy reference interpreter over strides, pads, odd sizes,
C_out not a multiple of the panel width, batch > 1 and a fused bias + ReLU + residual epilogue."""
import numpy as np
import pytest

import graphc as gc
from graphc import reference
from graphc.passes.pack_conv_weights import pack_conv_weights

from conftest import assert_close, spy_conv_lowering

CASES = [  # (x shape NCHW, w shape OIHW, strides, dilations, pads [top, left, bottom, right])
    ((1, 32, 14, 14), (32, 32, 3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),    # ResNet's stride-1 3x3
    ((2, 16, 15, 13), (20, 16, 3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),    # stride 2, odd sizes, C_out 20, batch 2
    ((1, 16, 7, 7), (24, 16, 3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),      # 49 pixels: a padded last tile
    ((1, 16, 11, 9), (16, 16, 5, 3), (1, 2), (2, 1), (2, 0, 1, 1)),     # 5x3 kernel, dilation, uneven pads
    ((1, 24, 9, 9), (16, 24, 3, 3), (3, 3), (1, 1), (0, 0, 0, 0)),      # stride 3, no padding
    ((2, 24, 7, 7), (40, 24, 1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),      # 1x1 on a small image (MobileNetV2's 7x7)
]


@pytest.mark.parametrize("x_shape,w_shape,strides,dilations,pads", CASES)
def test_direct_conv_matches_reference(x_shape, w_shape, strides, dilations, pads, rng, monkeypatch, tmp_path):
    from graphc.passes import winograd
    monkeypatch.setattr(winograd, "winograd_tile", lambda *shape: None)  # the 3x3 stride-1 cases would go to Winograd
    used = spy_conv_lowering(monkeypatch, tmp_path, "_conv2d_direct")
    x_val = rng.standard_normal(x_shape).astype("float32")
    w_val = rng.standard_normal(w_shape).astype("float32")
    bias = rng.standard_normal((w_shape[0], 1, 1)).astype("float32")
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, x_shape)
        y = gc.conv(x, gc.constant(w_val), strides=list(strides), dilations=list(dilations), pads=list(pads))
        residual = gc.placeholder(gc.float32, reference.evaluate([y], {x: x_val})[0].shape)
        y = gc.relu(y + gc.constant(bias)) + residual
        feed = {x: x_val, residual: rng.standard_normal(residual.shape).astype("float32")}
        want = reference.evaluate([y], feed)[0]
        with gc.Session(graph=g) as sess:
            got = sess.run(y, feed)
    assert used, "the direct conv was not used"
    assert_close(got, want)


def _ops_after_packing(x_shape, w_shape, constant=True, **attrs):
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, x_shape)
        w = gc.constant(np.ones(w_shape, "float32")) if constant else gc.placeholder(gc.float32, w_shape)
        y = gc.conv(x, w, **attrs)
    packed, _ = pack_conv_weights(g, [y], panel_width=16)
    return [n.op for n in packed.nodes]


def test_pack_conv_weights_takes_only_what_the_direct_conv_serves():
    assert "conv_packed" in _ops_after_packing((1, 16, 8, 8), (32, 16, 3, 3), pads=[1, 1, 1, 1])
    assert "conv" not in _ops_after_packing((1, 16, 8, 8), (32, 16, 3, 3), pads=[1, 1, 1, 1])
    # a 1x1 stride-1 conv whose 49 pixels would pad to 64 GEMM columns goes direct too
    assert "conv_packed" in _ops_after_packing((1, 16, 7, 7), (32, 16, 1, 1))
    # other 1x1 kernels (whole GEMM panels, little padding, strided, padded), grouped convs, the RGB stem and weights that change (training) keep the conv op
    for case in [((1, 16, 8, 8), (32, 16, 1, 1), True, {}), ((1, 16, 8, 8), (32, 16, 1, 1), True, {"strides": [2, 2]}),
                 ((1, 16, 14, 14), (32, 16, 1, 1), True, {}), ((1, 16, 14, 14), (32, 16, 1, 1), True, {"strides": [2, 2]}),
                 ((1, 16, 7, 7), (32, 16, 1, 1), True, {"pads": [1, 1, 1, 1]}),
                 ((1, 16, 8, 8), (32, 8, 3, 3), True, {"groups": 2}), ((1, 3, 8, 8), (32, 3, 7, 7), True, {}),
                 ((1, 16, 8, 8), (32, 16, 3, 3), False, {})]:
        ops = _ops_after_packing(case[0], case[1], case[2], **case[3])
        assert "conv" in ops and "conv_packed" not in ops, case
