"""conv_blocked from a plain NCHW input of few channels (a network's stem) into the blocked layout: the
CONV_BLOCKED_NCHW schedule (codegen/schedule/cpu.py; register tiles of pixels x channel blocks over broadcast
taps, padded input rows made per output row), checked against the numpy reference interpreter over odd sizes,
strides 1 and 2, dilation, uneven pads, output channels not a multiple of the block, batch 2, blocks of 8 and 16,
1 and 2 threads, with the fused epilogue: bias + clip (ReLU6) + a residual add of a blocked tensor."""
import pytest

import graphc as gc
from graphc import reference
from graphc.codegen.schedule import cpu
from graphc.ops.blocked import block_channels, conv_blocked, pack_blocked_weights

from conftest import assert_close

CASES = [  # (x shape NCHW, C_out, kernel, strides, dilations, pads [top, left, bottom, right], block)
    ((1, 3, 32, 32), 32, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 8),    # MobileNetV2's stem, smaller
    ((2, 3, 15, 13), 20, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 8),    # batch 2, odd sizes, 20 channels: 3 blocks
    ((1, 3, 30, 31), 64, (7, 7), (2, 2), (1, 1), (3, 3, 3, 3), 8),    # ResNet's 7x7 stem, smaller
    ((1, 1, 11, 10), 8, (5, 5), (1, 1), (1, 1), (2, 1, 0, 2), 8),     # stride 1, uneven pads, one channel
    ((1, 2, 12, 12), 12, (3, 3), (1, 1), (2, 2), (2, 2, 2, 2), 8),    # dilation 2
    ((2, 3, 9, 9), 16, (3, 3), (1, 1), (1, 1), (0, 0, 0, 0), 8),      # no padding: no padded rows
    ((1, 4, 17, 23), 40, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 16),   # blocks of 16 (AVX-512's), C_out 40
    ((1, 3, 8, 7), 8, (1, 1), (2, 2), (1, 1), (0, 0, 0, 0), 8),       # 1x1 at stride 2
]


@pytest.mark.parametrize("x_shape,c_out,kernel,strides,dilations,pads,block", CASES)
def test_blocked_stem_conv_matches_reference(x_shape, c_out, kernel, strides, dilations, pads, block, rng,
                                             monkeypatch):
    _check(x_shape, c_out, kernel, strides, dilations, pads, block, rng, monkeypatch)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_blocked_stem_conv_serial_and_parallel(threads, rng, monkeypatch):
    monkeypatch.setenv("TVM_NUM_THREADS", threads)  # the target's thread count: the parallel row loop or none
    _check((2, 3, 33, 29), 24, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 8, rng, monkeypatch)


def _check(x_shape, c_out, kernel, strides, dilations, pads, block, rng, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")  # schedule afresh, so the spy sees the rule run
    tiles, real = [], cpu._stem_tile
    monkeypatch.setattr(cpu, "_stem_tile", lambda *a: tiles.append(real(*a)) or tiles[-1])
    w = rng.standard_normal((c_out, x_shape[1]) + kernel).astype("float32")
    bias = rng.standard_normal((1, c_out, 1, 1)).astype("float32")
    x_val = rng.standard_normal(x_shape).astype("float32") * 2
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, x_shape)
        y = conv_blocked(x, gc.constant(pack_blocked_weights(w, block, 1, blocked_input=False)),
                         strides=list(strides), dilations=list(dilations), pads=list(pads))
        y = gc.minimum(gc.maximum(y + gc.constant(block_channels(bias, block)), 0.0), 6.0)
        residual = gc.placeholder(gc.float32, y.shape)
        y = y + residual
        feed = {x: x_val, residual: rng.standard_normal(tuple(y.shape)).astype("float32")}
        want = reference.evaluate([y], feed)[0]
        with gc.Session(graph=g) as sess:
            got = sess.run(y, feed)
    assert tiles, "the CONV_BLOCKED_NCHW schedule did not run"
    assert_close(got, want)
