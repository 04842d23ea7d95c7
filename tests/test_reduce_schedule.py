"""The vectorized reduction schedules (row reductions rfactored into vector partials, column
reductions vectorized along the kept axis, full reductions) and softmax, against numpy."""
import numpy as np
import pytest

import graphc as gc

from conftest import assert_close

CASES = [  # (shape, axes, keepdims, dtype)
    ((64, 1000), -1, False, "float32"),     # row reduction, 4-vector partials
    ((7, 3, 40), -1, True, "float32"),      # row reduction, 8-lane partials, keepdims
    ((5, 37), -1, False, "float32"),        # odd row length: scalar loop
    ((300, 96), 0, False, "float32"),       # column reduction
    ((4, 50, 24), (0, 1), False, "float32"),  # column reduction over two axes
    ((33, 64), None, False, "float32"),     # everything, 0-d result
    ((33, 64), None, True, "float32"),      # everything, keepdims
    ((40, 64), -1, False, "int32"),         # ints stay serial and exact
    ((12, 32), -1, False, "float64"),
]


@pytest.mark.parametrize("shape,axes,keepdims,dtype", CASES)
@pytest.mark.parametrize("op", ["sum", "max", "mean"])
def test_reductions_match_numpy(op, shape, axes, keepdims, dtype, rng):
    x = (rng.integers(-9, 9, shape) if dtype == "int32" else rng.standard_normal(shape)).astype(dtype)
    fn = {"sum": gc.reduce_sum, "max": gc.reduce_max, "mean": gc.reduce_mean}[op]
    p = gc.placeholder(dtype, shape)
    with gc.Session() as sess:
        got = sess.run(fn(p, axis=axes, keepdims=keepdims), {p: x})
    ax = tuple(axes) if isinstance(axes, tuple) else axes
    if op == "mean" and dtype == "int32":
        total, count = x.sum(axis=ax, keepdims=keepdims), x.size // np.asarray(x.sum(axis=ax, keepdims=keepdims)).size
        want = np.trunc(total / count).astype(dtype)
    else:
        want = getattr(np, op)(x, axis=ax, keepdims=keepdims).astype(dtype)
    assert_close(got, want)


@pytest.mark.parametrize("shape", [(64, 1000), (3, 5, 17), (2, 8)])
def test_softmax_and_log_softmax_match_numpy(shape, rng):
    x = (3 * rng.standard_normal(shape)).astype("float32")
    p = gc.placeholder("float32", shape)
    with gc.Session() as sess:
        sm, lsm = sess.run([gc.softmax(p), gc.log_softmax(p)], {p: x})
    shifted = x - x.max(-1, keepdims=True)
    e = np.exp(shifted.astype("float64"))
    assert_close(sm, (e / e.sum(-1, keepdims=True)).astype("float32"))
    assert_close(lsm, (shifted - np.log(e.sum(-1, keepdims=True))).astype("float32"))
