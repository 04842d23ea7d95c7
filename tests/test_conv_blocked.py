"""conv_blocked's group-1 form (input blocked [N, C/B, H, W, B], codegen/lower/blocked.py _conv2d_blocked) under its
CONV_BLOCKED register-tile schedule, checked against the numpy reference interpreter: 1x1 and kxk kernels, strides
1/2/3, pads, dilation, odd sizes, channel counts not a multiple of B, batch 2, with the epilogue fused per tile
(bias + ReLU6 clip, bias + residual add of a blocked tensor), and input channels in chunks (big weights)."""
import numpy as np
import pytest

import graphc as gc
from graphc import reference
from graphc.codegen.lower import blocked as lower_blocked
from graphc.codegen.target import current_target
from graphc.ops.blocked import block_channels, conv_blocked, pack_blocked_weights

from conftest import assert_close

CASES = [  # (x shape NCHW, C_out, kernel, strides, dilations, pads [top, left, bottom, right])
    ((1, 32, 14, 14), 16, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),     # MobileNetV2's 1x1 at 14x14
    ((2, 13, 9, 11), 21, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),      # odd sizes, partial blocks in and out, batch 2
    ((1, 24, 7, 7), 40, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),       # 7x7 image: 49 pixels, 5 output blocks
    ((1, 20, 9, 9), 24, (1, 1), (2, 2), (1, 1), (0, 0, 0, 0)),       # 1x1 stride 2 (a ResNet downsample)
    ((2, 16, 15, 13), 20, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),     # 3x3 stride 1, padded
    ((1, 12, 17, 17), 24, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),     # 3x3 stride 2
    ((1, 8, 23, 21), 16, (7, 7), (2, 2), (1, 1), (3, 3, 3, 3)),      # 7x7 stride 2 (ResNet's stem shape)
    ((1, 16, 11, 9), 9, (5, 3), (1, 2), (2, 1), (2, 0, 1, 1)),       # 5x3 kernel, dilation, uneven pads
    ((1, 24, 9, 9), 16, (3, 3), (3, 3), (1, 1), (0, 0, 0, 0)),       # stride 3, no padding
    # weights of a tile's output blocks over half the L1: the input blocks taken in chunks
    ((2, 64, 10, 9), 24, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    ((1, 400, 7, 7), 48, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
    ((1, 128, 6, 5), 136, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),     # weights over half the L2: output blocks outer
]


def _blocked_conv(x_val, w_val, strides, dilations, pads, epilogue, rng):
    """(got, want) of conv_blocked on blocked x_val with `epilogue` fused: 'clip' (bias + ReLU6), 'residual' (bias +
    a blocked tensor) or 'none' (the conv's own result)."""
    block = current_target().vector_lanes(32)
    bias = rng.standard_normal((1, w_val.shape[0], 1, 1)).astype("float32")
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, block_channels(x_val, block).shape)
        y = conv_blocked(x, gc.constant(pack_blocked_weights(w_val, block)), strides=list(strides),
                         dilations=list(dilations), pads=list(pads))
        feed = {x: block_channels(x_val, block)}
        if epilogue != "none":
            y = y + gc.constant(block_channels(bias, block))
        if epilogue == "clip":
            y = gc.minimum(gc.maximum(y, 0.0), 6.0)
        elif epilogue == "residual":
            residual = gc.placeholder(gc.float32, y.shape)
            feed[residual] = rng.standard_normal(tuple(y.shape)).astype("float32")
            y = y + residual
        want = reference.evaluate([y], feed)[0]
        with gc.Session(graph=g) as sess:
            got = sess.run(y, feed)
    return got, want


@pytest.mark.parametrize("epilogue", ["clip", "residual"])
@pytest.mark.parametrize("x_shape,c_out,kernel,strides,dilations,pads", CASES)
def test_blocked_conv_matches_reference(x_shape, c_out, kernel, strides, dilations, pads, epilogue, rng,
                                        monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))  # lowered and scheduled afresh
    tiles, real = [], lower_blocked.blocked_conv_tile
    monkeypatch.setattr(lower_blocked, "blocked_conv_tile", lambda *a: tiles.append(real(*a)) or tiles[-1])
    x_val = rng.standard_normal(x_shape).astype("float32")
    w_val = rng.standard_normal((c_out, x_shape[1]) + kernel).astype("float32")
    got, want = _blocked_conv(x_val, w_val, strides, dilations, pads, epilogue, rng)
    assert tiles, "the blocked conv was not lowered"
    assert_close(got, want)


@pytest.mark.parametrize("oh,ow,blocks,registers", [(7, 7, 20, 12), (14, 14, 48, 12), (112, 112, 2, 12),
                                                    (7, 7, 40, 28), (13, 11, 7, 12), (1, 1, 1, 12)])
def test_register_tile_divides_the_output_and_fits_the_registers(oh, ow, blocks, registers):
    ty, tx, r = lower_blocked.blocked_conv_tile(oh, ow, blocks, registers, 3)
    assert oh % ty == 0 and blocks % r == 0 and tx <= ow and r <= 3
    assert ty * tx * r <= registers
    if (oh, ow, blocks) == (14, 14, 48):  # a 14-wide row with 48 blocks fills the AVX2 registers (2x2 pixels x 3)
        assert ty * tx * r == registers


@pytest.mark.parametrize("x_shape,c_out,kernel,strides,pads", [((1, 16, 7, 7), 24, (1, 1), (1, 1), (0, 0, 0, 0)),
                                                              ((2, 8, 9, 9), 16, (3, 3), (2, 2), (1, 1, 1, 1))])
def test_blocked_conv_without_epilogue(x_shape, c_out, kernel, strides, pads, rng):
    """The conv's result is the kernel's output: the register tile's store (and, for rows computed wider than
    the image, the crop) is placed per tile on its own."""
    x_val = rng.standard_normal(x_shape).astype("float32")
    w_val = rng.standard_normal((c_out, x_shape[1]) + kernel).astype("float32")
    got, want = _blocked_conv(x_val, w_val, strides, (1, 1), pads, "none", rng)
    assert_close(got, want)


def test_blocked_region_of_two_convs_with_its_edges(rng):
    """A MobileNetV2-style block as the blocked-layout pass writes it: to_blocked, a 1x1 expansion + bias + ReLU6, a
    1x1 projection + bias + the block's input (residual), from_blocked; kernels fused as the compiler chooses."""
    from graphc.ops.blocked import from_blocked, to_blocked
    block = current_target().vector_lanes(32)
    x_val = rng.standard_normal((2, 12, 9, 9)).astype("float32")
    w1, w2 = (rng.standard_normal(s).astype("float32") for s in ((40, 12, 1, 1), (12, 40, 1, 1)))
    b1, b2 = (rng.standard_normal((1, c, 1, 1)).astype("float32") for c in (40, 12))
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, x_val.shape)
        xb = to_blocked(x, block)
        h = conv_blocked(xb, gc.constant(pack_blocked_weights(w1, block)), strides=[1, 1], pads=[0, 0, 0, 0])
        h = gc.minimum(gc.maximum(h + gc.constant(block_channels(b1, block)), 0.0), 6.0)
        y = conv_blocked(h, gc.constant(pack_blocked_weights(w2, block)), strides=[1, 1], pads=[0, 0, 0, 0])
        y = from_blocked(y + gc.constant(block_channels(b2, block)) + xb, 12)
        want = reference.evaluate([y], {x: x_val})[0]
        with gc.Session(graph=g) as sess:
            got = sess.run(y, {x: x_val})
    assert_close(got, want)
