"""1x1 stride-1 convs over whole register tiles of pixels take the plain GEMM kernel (codegen/lower/conv.py
_conv2d_1x1, scheduled as CONV_1X1 with its epilogue per register tile), checked against the numpy reference
interpreter with MobileNet's epilogues (bias + ReLU6, bias + residual add), odd channel counts, batch > 1;
pixel counts that are no whole number of tiles take it over zero-extended planes when a tile's input column
fits half the L1, else the general conv GEMM."""
import numpy as np
import pytest

import graphc as gc
from graphc import reference

from conftest import assert_close, spy_conv_lowering

CASES = [  # (x shape NCHW, output channels, epilogue)
    ((1, 16, 16, 16), 96, "relu6"),      # MobileNet's expansion: few input channels, many outputs
    ((2, 37, 16, 16), 13, "relu6"),      # odd channel counts (output rows padded to whole tiles), batch 2
    ((1, 144, 8, 8), 24, "residual"),    # MobileNet's projection with the residual add
    ((3, 9, 8, 8), 40, "none"),          # the conv alone, batch 3
    ((1, 16, 48, 48), 24, "relu6"),      # several chunks of pixels (9 of 256)
    ((2, 8, 40, 40), 12, "residual"),    # chunks (4 of 400 pixels) in each of 2 images
    ((1, 24, 14, 14), 40, "relu6"),      # pixels no whole number of tiles, few input channels: zero-extended
    ((2, 12, 10, 10), 30, "residual"),   # planes, the last tile's epilogue storing only the pixels there are
]


def _conv_graph(x_shape, c_out, epilogue, rng):
    w_val = rng.standard_normal((c_out, x_shape[1], 1, 1)).astype("float32")
    bias = rng.standard_normal((c_out, 1, 1)).astype("float32")
    x = gc.placeholder(gc.float32, x_shape)
    y = gc.conv(x, gc.constant(w_val))
    if epilogue == "relu6":
        y = gc.minimum(gc.relu(y + gc.constant(bias)), gc.constant(np.float32(6)))
    elif epilogue == "residual":
        y = y + gc.constant(bias) + gc.constant(rng.standard_normal((x_shape[0], c_out) + x_shape[2:]).astype("float32"))
    return x, y


@pytest.mark.parametrize("x_shape,c_out,epilogue", CASES)
def test_1x1_conv_matches_reference(x_shape, c_out, epilogue, rng, monkeypatch, tmp_path):
    used = spy_conv_lowering(monkeypatch, tmp_path, "_conv2d_1x1")
    g = gc.Graph()
    with g.as_default():
        x, y = _conv_graph(x_shape, c_out, epilogue, rng)
        feed = {x: rng.standard_normal(x_shape).astype("float32")}
        want = reference.evaluate([y], feed)[0]
        with gc.Session(graph=g) as sess:
            got = sess.run(y, feed)
    assert used, "the 1x1 GEMM kernel was not used"
    assert_close(got, want)


def test_1x1_conv_on_partial_tiles_of_many_channels_takes_the_conv_gemm(rng, monkeypatch, tmp_path):
    # a register tile's input column (320 channels x 16 pixels) exceeds half the L1
    used = spy_conv_lowering(monkeypatch, tmp_path, "_conv2d_1x1")
    g = gc.Graph()
    with g.as_default():
        x, y = _conv_graph((1, 320, 10, 10), 24, "relu6", rng)
        feed = {x: rng.standard_normal((1, 320, 10, 10)).astype("float32")}
        want = reference.evaluate([y], feed)[0]
        with gc.Session(graph=g) as sess:
            got = sess.run(y, feed)
    assert not used
    assert_close(got, want)


def test_1x1_conv_epilogue_runs_per_register_tile(monkeypatch):
    # the product is never stored: bias, ReLU6 and the residual read the GEMM's registers
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    g = gc.Graph()
    with g.as_default():
        x, y = _conv_graph((1, 32, 16, 16), 64, "residual", np.random.default_rng(0))
    exe = gc.compile(y, {x: ((1, 32, 16, 16), "float32")})
    ll = exe.module.mod.inspect_source("ll")
    assert "gather" not in ll
    assert len(exe.kernels) == 1
