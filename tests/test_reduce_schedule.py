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


@pytest.mark.parametrize("shape,axes,line", [((6, 40), -1, (0,)), ((40, 6), 0, (slice(None), 0)),
                                             ((3, 5, 16), (0, 2), (slice(None), 0))])
def test_max_and_min_of_infinite_rows_are_infinite(shape, axes, line, rng):
    """A row of -inf has max -inf (and of +inf min +inf), not the finite lowest float (topi's identity)."""
    lo, hi = rng.standard_normal(shape).astype("float32"), rng.standard_normal(shape).astype("float32")
    lo[line], hi[line] = -np.inf, np.inf
    p, q = gc.placeholder("float32", shape), gc.placeholder("float32", shape)
    with gc.Session() as sess:
        got_max, got_min = sess.run([gc.reduce_max(p, axis=axes), gc.reduce_min(q, axis=axes)], {p: lo, q: hi})
    np.testing.assert_array_equal(got_max, lo.max(axis=axes))
    np.testing.assert_array_equal(got_min, hi.min(axis=axes))


def test_float16_sums_accumulate_in_float32(rng):
    """float16 sums (and softmax's) round once at the end, as numpy's do, not at every partial sum."""
    x = rng.random((8, 300)).astype("float16")
    p = gc.placeholder("float16", x.shape)
    with gc.Session() as sess:
        got_sum, got_softmax = sess.run([gc.reduce_sum(p, axis=-1), gc.softmax(p)], {p: x})
    np.testing.assert_array_equal(got_sum, x.sum(axis=-1))
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(got_softmax.astype("float32"), e / e.sum(-1, keepdims=True), rtol=1e-3, atol=0)


@pytest.mark.parametrize("shape", [(4, 128, 128), (128, 10), (3, 7), (2, 5, 33)])
def test_row_softmax_matches_numpy(shape):
    """softmax and log_softmax over the last axis (max, sum of exp and output per row in one loop), with a
    fused scale/shift prologue and -inf entries (masked scores)."""
    rng = np.random.default_rng(0)
    xv = (rng.standard_normal(shape) * 3).astype(np.float32)
    xv.reshape(-1, shape[-1])[:, 0] = -np.inf
    x = gc.placeholder(gc.float32, list(shape))
    with gc.Session() as sess:
        soft, log_soft = sess.run([gc.nn.softmax(x * 0.125 + 1.0), gc.nn.log_softmax(x)], {x: xv})
    z = xv.astype(np.float64) * 0.125 + 1.0
    e = np.exp(z - z.max(-1, keepdims=True))
    np.testing.assert_allclose(soft, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)
    shifted = xv.astype(np.float64) - xv.max(-1, keepdims=True)
    np.testing.assert_allclose(log_soft, shifted - np.log(np.exp(shifted).sum(-1, keepdims=True)), rtol=1e-5, atol=1e-5)
