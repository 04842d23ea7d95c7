"""A 2-D conv's input and weight gradients at sizes that take the conv GEMM kernels (codegen/lower/conv.py:
conv_transpose as a flipped-kernel conv, conv_weight_grad as a per-channel GEMM), against the numpy
reference interpreter, over strides, dilations, asymmetric pads and kernel shapes."""
import numpy as np
import pytest

import graphc as gc
from graphc import reference

from conftest import assert_close

CASES = [  # (x shape NCHW, w shape OIHW, strides, dilations, pads [top, left, bottom, right])
    ((4, 8, 12, 12), (16, 8, 5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),   # the classic 5x5 'SAME' layer
    ((4, 6, 11, 13), (12, 6, 3, 3), (2, 2), (1, 1), (1, 0, 1, 1)),   # stride 2, uneven pads and sizes
    ((6, 5, 14, 10), (8, 5, 3, 2), (1, 2), (2, 1), (0, 1, 2, 0)),    # dilation, mixed strides
    ((8, 16, 9, 9), (32, 16, 1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),      # 1x1 kernel
    ((4, 3, 16, 16), (8, 3, 4, 4), (2, 2), (1, 1), (3, 3, 3, 3)),     # pads past the kernel's reach
]


@pytest.mark.parametrize("x_shape,w_shape,strides,dilations,pads", CASES)
def test_conv_gradients_match_reference(x_shape, w_shape, strides, dilations, pads, rng, monkeypatch, tmp_path):
    from graphc.codegen.lower import conv as lower_conv
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))  # lower every kernel here, not from the cache
    used = []
    for name in ("_conv_transpose_as_conv", "_conv2d_weight_grad_gemm"):
        real = getattr(lower_conv, name)
        monkeypatch.setattr(lower_conv, name, lambda *a, _real=real, _name=name: used.append(_name) or _real(*a))
    x_val = rng.standard_normal(x_shape).astype("float32")
    w_val = rng.standard_normal(w_shape).astype("float32")
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, x_shape)
        w = gc.placeholder(gc.float32, w_shape)
        y = gc.conv(x, w, strides=list(strides), dilations=list(dilations), pads=list(pads))
        weights = gc.constant(rng.standard_normal(tuple(y.shape)).astype("float32"))
        dx, dw = gc.gradients(gc.reduce_sum(y * weights), [x, w])
        feed = {x: x_val, w: w_val}
        want = reference.evaluate([dx, dw], feed)
        with gc.Session(graph=g) as sess:
            exe = sess.compiled([dx, dw], feed)
            got = sess.run([dx, dw], feed)
    assert any("conv_transpose" in k for k in exe.kernels) and any("conv_weight_grad" in k for k in exe.kernels)
    assert set(used) == {"_conv_transpose_as_conv", "_conv2d_weight_grad_gemm"}  # the GEMM paths ran
    for gv, wv in zip(got, want):
        assert_close(gv, wv)


@pytest.mark.parametrize("x_shape,kernel,pads", [((2, 3, 8, 8), (2, 2), (0, 0, 0, 0)),
                                                 ((2, 3, 7, 9), (2, 2), (0, 0, 1, 1)),   # 'SAME' on odd sizes
                                                 ((2, 2, 9, 9), (3, 3), (1, 1, 1, 1)),
                                                 ((3, 5, 6, 9), (2, 3), (0, 0, 0, 0))])  # exact tiling, 2x3
def test_tiled_max_pool_gradient_matches_reference(x_shape, kernel, pads, rng):
    """Pooling windows that tile the input (stride = kernel) take max_pool_grad's one-window path."""
    x_val = rng.standard_normal(x_shape).astype("float32")
    x_val[0, 0, :2, :2] = 1.5  # a tie: the gradient goes to the first maximum only
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, x_shape)
        y = gc.max_pool(x, kernel_shape=list(kernel), strides=list(kernel), pads=list(pads))
        weights = gc.constant(rng.standard_normal(tuple(y.shape)).astype("float32"))
        (dx,) = gc.gradients(gc.reduce_sum(y * weights), [x])
        want = reference.evaluate([dx], {x: x_val})
        with gc.Session(graph=g) as sess:
            got = sess.run([dx], {x: x_val})
    assert_close(got[0], want[0])
