"""Stride-2 windows over wide inputs take planes split by column phase with vector shuffles (codegen/lower/conv.py
_deinterleaved_planes, codegen/schedule/deinterleave.py): the depthwise conv, the max pool and the conv GEMM
(RGB stems), checked against the numpy reference over batch > 1, odd sizes, channel counts that are no
multiple of a vector, uneven pads, dilations and channel multipliers. Widths give 64-column planes: whole
vectors on AVX2 and AVX-512 alike."""
import numpy as np
import pytest

import graphc as gc
from graphc import reference

from conftest import assert_close, spy_conv_lowering

DEPTHWISE = [  # (x shape NCHW, w shape (C*multiplier, 1, kh, kw), dilations, pads [top, left, bottom, right])
    ((2, 11, 13, 126), (11, 1, 3, 3), (1, 1), (1, 1, 1, 1)),     # batch 2, odd rows, 11 channels
    ((1, 5, 17, 121), (10, 1, 3, 3), (2, 1), (0, 1, 2, 2)),      # multiplier 2, row dilation, uneven pads
    ((1, 4, 9, 120), (4, 1, 3, 3), (1, 3), (1, 3, 1, 3)),        # column dilation 3: taps in both phases
    ((1, 3, 10, 124), (3, 1, 5, 5), (1, 1), (2, 2, 2, 2)),       # 5x5
    ((1, 2, 2, 126), (2, 1, 1, 2), (1, 1), (0, 0, 0, 0)),        # 1x2 window, one output row: planes of one row
]


def _run(build, feed_shapes, rng):
    g = gc.Graph()
    with g.as_default():
        xs = [gc.placeholder(gc.float32, s) for s in feed_shapes]
        y = build(*xs)
        feed = {x: rng.standard_normal(x.shape).astype("float32") for x in xs}
        want = reference.evaluate([y], feed)[0]
        with gc.Session(graph=g) as sess:
            return sess.run(y, feed), want


@pytest.mark.parametrize("x_shape,w_shape,dilations,pads", DEPTHWISE)
def test_stride2_depthwise_on_split_planes(x_shape, w_shape, dilations, pads, rng, monkeypatch, tmp_path):
    used = spy_conv_lowering(monkeypatch, tmp_path, "_deinterleaved_planes")
    bias = rng.standard_normal((w_shape[0], 1, 1)).astype("float32")

    def build(x, w):
        y = gc.conv(x, w, strides=[2, 2], dilations=list(dilations), pads=list(pads), groups=x_shape[1])
        return gc.minimum(gc.relu(y + gc.constant(bias)), gc.constant(np.float32(6)))
    got, want = _run(build, [x_shape, w_shape], rng)
    assert used, "the planes were not split by column phase"
    assert_close(got, want)


def test_stride2_max_pool_on_split_planes(rng, monkeypatch, tmp_path):
    used = spy_conv_lowering(monkeypatch, tmp_path, "_deinterleaved_planes")
    got, want = _run(lambda x: gc.max_pool(x, [3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), [(2, 3, 21, 126)], rng)
    assert used, "the planes were not split by column phase"
    assert_close(got, want)


@pytest.mark.parametrize("x_shape,kernel,pad", [((2, 3, 15, 125), 3, 1),   # MobileNetV2's stem, odd sizes
                                                ((1, 3, 21, 122), 7, 3)])  # ResNet's
def test_stride2_conv_gemm_on_split_planes(x_shape, kernel, pad, rng, monkeypatch, tmp_path):
    used = spy_conv_lowering(monkeypatch, tmp_path, "_deinterleaved_planes")
    gemm = spy_conv_lowering(monkeypatch, tmp_path, "_conv2d_gemm")
    got, want = _run(lambda x, w: gc.relu(gc.conv(x, w, strides=[2, 2], pads=[pad] * 4)),
                     [x_shape, (8, 3, kernel, kernel)], rng)
    assert used and gemm, "the conv GEMM did not read planes split by column phase"
    assert_close(got, want)
