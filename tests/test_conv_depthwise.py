"""Depthwise 2-D convs (one input channel per group) take the depthwise stencil kernel
(codegen/lower/conv.py _conv2d_depthwise, scheduled as CONV_DEPTHWISE), checked against the numpy
reference interpreter over strides, dilations, asymmetric pads, channel multipliers and a fused
bias + ReLU6 epilogue (MobileNet's)."""
import numpy as np
import pytest

import graphc as gc
from graphc import reference

from conftest import assert_close, spy_conv_lowering

CASES = [  # (x shape NCHW, w shape (C*multiplier, 1, kh, kw), strides, dilations, pads [top, left, bottom, right])
    ((1, 32, 28, 28), (32, 1, 3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),    # MobileNet's stride-1 layer
    ((2, 24, 15, 17), (24, 1, 3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),    # stride 2 on odd sizes
    ((1, 8, 7, 7), (8, 1, 5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),        # 5x5 on a small plane
    ((1, 6, 13, 11), (12, 1, 3, 2), (1, 2), (2, 1), (0, 1, 2, 0)),     # multiplier 2, dilation, uneven pads
    ((1, 5, 9, 14), (5, 1, 3, 3), (2, 3), (1, 2), (1, 0, 1, 2)),       # column stride 3 with column dilation
]


@pytest.mark.parametrize("x_shape,w_shape,strides,dilations,pads", CASES)
def test_depthwise_conv_matches_reference(x_shape, w_shape, strides, dilations, pads, rng, monkeypatch, tmp_path):
    used = spy_conv_lowering(monkeypatch, tmp_path, "_conv2d_depthwise")
    x_val = rng.standard_normal(x_shape).astype("float32")
    w_val = rng.standard_normal(w_shape).astype("float32")
    bias = rng.standard_normal((w_shape[0], 1, 1)).astype("float32")
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, x_shape)
        w = gc.placeholder(gc.float32, w_shape)
        y = gc.conv(x, w, strides=list(strides), dilations=list(dilations), pads=list(pads), groups=x_shape[1])
        y = gc.minimum(gc.relu(y + gc.constant(bias)), gc.constant(np.float32(6)))
        feed = {x: x_val, w: w_val}
        want = reference.evaluate([y], feed)[0]
        with gc.Session(graph=g) as sess:
            got = sess.run(y, feed)
    assert used, "the depthwise kernel was not used"
    assert_close(got, want)


@pytest.mark.parametrize("size,merged", [(112, True), (14, False)])  # output rows 56 wide; 7 (under a vector)
def test_depthwise_epilogue_runs_per_channel(size, merged, rng, monkeypatch, tmp_path):
    """MobileNetV2's stride-2 layer: the bias + ReLU6 epilogue (with the crop of the wide rows) runs in the
    stencil's channel loop, right after that channel's product (schedule_conv_depthwise); outputs narrower
    than a vector keep their pass of their own. Either way the result matches the reference. Its planes
    split by column phase are padded by zeroing only their border (_copy_with_border), with no fill of the
    whole plane (decompose_padding's "pad_const" block)."""
    import tvm
    from graphc.codegen import build
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    scheduled, real = [], build.schedule_kernel
    monkeypatch.setattr(build, "schedule_kernel", lambda k, t: scheduled.append(real(k, t)) or scheduled[-1])
    x_val = rng.standard_normal((1, 96, size, size)).astype("float32")
    w_val = rng.standard_normal((96, 1, 3, 3)).astype("float32")
    bias = rng.standard_normal((96, 1, 1)).astype("float32")
    x = gc.placeholder(gc.float32, x_val.shape)
    y = gc.conv(x, gc.constant(w_val), strides=[2, 2], pads=[1, 1, 1, 1], groups=96)
    y = gc.minimum(gc.relu(y + gc.constant(bias)), gc.constant(np.float32(6)))
    want = reference.evaluate([y], {x: x_val})[0]
    with gc.Session() as sess:
        assert_close(sess.run(y, {x: x_val}), want)
    sch = tvm.s_tir.Schedule(scheduled[-1].func)
    root_loop = {name: sch.get(sch.get_loops(sch.get_sblock(name))[0]) for name in ("conv_depthwise_update", "minimum")}
    assert root_loop["conv_depthwise_update"].same_as(root_loop["minimum"]) == merged
    if size == 112:  # (the 14-wide input's planes are narrow: made by the strided copy, _row_planes)
        assert "stencil_pad_pad_const" not in scheduled[-1].func.script()
