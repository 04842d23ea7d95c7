"""The packed-GEMM lowering's paths (panels, padded rows, unpacked few-row products, transposes,
broadcast batches, ints) against numpy."""
import numpy as np
import pytest

import graphc as gc

from conftest import assert_close

CASES = [  # (a shape, b shape, transpose_a, transpose_b, dtype)
    ((1, 784), (784, 512), False, False, "float32"),     # few rows: B read in place
    ((3, 20), (20, 10), False, False, "float32"),        # few rows, N not a multiple of 16
    ((101, 37), (37, 45), False, False, "float32"),      # padded rows and columns
    ((64, 128), (128, 256), False, False, "float32"),    # exact tiles, parallel
    ((40, 30), (50, 30), False, True, "float32"),        # transpose_b, packed
    ((30, 41), (30, 50), True, False, "float32"),        # transpose_a with padded rows
    ((2, 30, 17), (17, 50), False, False, "float32"),    # batch against a shared matrix
    ((3, 1, 20, 8), (2, 8, 19), False, False, "float64"),  # broadcast batch dims, float64
    ((5, 2, 16), (5, 16, 2), True, True, "float32"),     # batched, both transposed
    ((33, 12), (12, 18), False, False, "int32"),
]


@pytest.mark.parametrize("a_shape,b_shape,ta,tb,dtype", CASES)
def test_matmul_paths_match_numpy(a_shape, b_shape, ta, tb, dtype, rng):
    if dtype == "int32":
        a, b = rng.integers(-5, 5, a_shape).astype(dtype), rng.integers(-5, 5, b_shape).astype(dtype)
    else:
        a, b = rng.standard_normal(a_shape).astype(dtype), rng.standard_normal(b_shape).astype(dtype)
    pa, pb = gc.placeholder(dtype, a_shape), gc.placeholder(dtype, b_shape)
    c = gc.matmul(pa, pb, transpose_a=ta, transpose_b=tb)
    want = np.matmul(np.swapaxes(a, -1, -2) if ta else a, np.swapaxes(b, -1, -2) if tb else b)
    with gc.Session() as sess:
        assert_close(sess.run(c, {pa: a, pb: b}), want.astype(dtype))
