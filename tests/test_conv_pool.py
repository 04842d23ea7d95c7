"""2-D float max pools whose windows end inside the padded input take the stencil kernel
(codegen/lower/conv.py _max_pool2d_stencil: -inf padded planes, a NaN-keeping max over contiguous runs),
checked against the numpy reference over strides, dilations, uneven pads, NaN and -inf inputs."""
import numpy as np
import pytest

import graphc as gc
from graphc import reference

from conftest import assert_close

CASES = [  # (x shape NCHW, kernel, strides, dilations, pads [top, left, bottom, right], ceil_mode)
    ((1, 8, 20, 20), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), False),   # ResNet's 3x3 / 2 pool
    ((2, 3, 9, 13), (2, 2), (2, 2), (1, 1), (0, 0, 0, 0), False),    # TF1's 2x2 / 2, odd width
    ((1, 4, 11, 10), (3, 2), (1, 3), (2, 1), (2, 0, 1, 1), False),   # dilation, uneven pads, column stride 3
    ((1, 2, 7, 7), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), False),     # stride 1
]


def _pool(x_val, kernel, strides, dilations, pads, ceil_mode, relu=True):
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, x_val.shape)
        y = gc.max_pool(x, list(kernel), strides=list(strides), dilations=list(dilations), pads=list(pads),
                        ceil_mode=ceil_mode)
        y = gc.relu(y) if relu else y  # a fused epilogue
        want = reference.evaluate([y], {x: x_val})[0]
        with gc.Session(graph=g) as sess:
            got = sess.run(y, {x: x_val})
    return got, want


@pytest.mark.parametrize("x_shape,kernel,strides,dilations,pads,ceil_mode", CASES)
def test_max_pool_stencil_matches_reference(x_shape, kernel, strides, dilations, pads, ceil_mode, rng, monkeypatch,
                                            tmp_path):
    from graphc.codegen.lower import conv as lower_conv
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))  # lower every kernel here, not from the cache
    used = []
    real = lower_conv._max_pool2d_stencil
    monkeypatch.setattr(lower_conv, "_max_pool2d_stencil", lambda *a: used.append(1) or real(*a))
    x_val = rng.standard_normal(x_shape).astype("float32")
    got, want = _pool(x_val, kernel, strides, dilations, pads, ceil_mode)
    assert used, "the max-pool stencil was not used"
    assert_close(got, want)


def test_max_pool_keeps_nan_and_minus_inf(rng, monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    x_val = rng.standard_normal((1, 2, 8, 8)).astype("float32")
    x_val[0, 0, 3, 4] = np.nan        # NaN after larger values in its windows, and before them
    x_val[0, 0, 0, 0] = np.nan
    x_val[0, 1, :3, :3] = -np.inf     # a window of -inf and padding only
    got, want = _pool(x_val, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), False, relu=False)
    assert got[0, 1, 0, 0] == -np.inf
    assert np.isnan(got).sum() == np.isnan(want).sum() > 0
    np.testing.assert_array_equal(got, want)


def test_ceil_mode_window_past_the_end_takes_the_general_kernel(rng, monkeypatch, tmp_path):
    from graphc.codegen.lower import conv as lower_conv
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    used = []
    real = lower_conv._max_pool2d_stencil
    monkeypatch.setattr(lower_conv, "_max_pool2d_stencil", lambda *a: used.append(1) or real(*a))
    x_val = rng.standard_normal((1, 3, 9, 9)).astype("float32")
    got, want = _pool(x_val, (2, 2), (2, 2), (1, 1), (0, 0, 0, 0), True)
    assert not used
    assert_close(got, want)
