"""Mixed precision (graphc.train.mixed_precision, passes/mixed_precision.py): low-precision products
against numpy, float32 elsewhere, and dynamic loss scaling (a skipped step on overflow, growth)."""
import ml_dtypes
import numpy as np
import pytest

import graphc as gc
from graphc.train import MIXED_PRECISION


def _rounded(a, dtype):
    return a.astype(dtype).astype(np.float32)


@pytest.mark.parametrize("dtype, low, rtol", [("bfloat16", ml_dtypes.bfloat16, 2.0 ** -7),
                                              ("float16", np.float16, 2.0 ** -9)])
def test_products_compute_in_the_low_precision_dtype(dtype, low, rtol):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((24, 40)).astype("float32"), rng.standard_normal((40, 16)).astype("float32")
    x, w = gc.placeholder(gc.float32, a.shape), gc.placeholder(gc.float32, b.shape)
    y = gc.matmul(x, w)
    s = gc.reduce_sum(gc.exp(y * 0.01))  # a float32 reduction around the product
    gc.get_default_graph().add_to_collection(MIXED_PRECISION, dtype)
    with gc.Session() as sess:
        got, total = sess.run([y, s], {x: a, w: b})
    want = _rounded(a, low).astype(np.float64) @ _rounded(b, low).astype(np.float64)
    assert got.dtype == np.float32
    if dtype == "float16":  # float16's result is a float16 value; bfloat16's the float32 accumulator
        np.testing.assert_array_equal(got, _rounded(got, low))
        np.testing.assert_allclose(got, want, rtol=2 * rtol * np.sqrt(a.shape[1]), atol=rtol * np.abs(want).max())
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert not np.array_equal(got, (a @ b).astype(np.float32))  # not the float32 product
    np.testing.assert_allclose(total, np.exp(got.astype(np.float64) * 0.01).sum(), rtol=1e-5)


def test_conv_computes_in_float16():
    rng = np.random.default_rng(1)
    a, k = rng.standard_normal((2, 3, 10, 10)).astype("float32"), rng.standard_normal((4, 3, 3, 3)).astype("float32")
    x, w = gc.placeholder(gc.float32, a.shape), gc.placeholder(gc.float32, k.shape)
    y = gc.conv(x, w)
    gx, gw = gc.gradients(gc.reduce_sum(y * y), [x, w])
    with gc.Session() as sess:
        want = sess.run([y, gx, gw], {x: _rounded(a, np.float16), w: _rounded(k, np.float16)})
    gc.get_default_graph().add_to_collection(MIXED_PRECISION, "float16")
    with gc.Session() as sess:
        got = sess.run([y, gx, gw], {x: a, w: k})
    for g, r in zip(got, want):  # forward and both backward convs
        np.testing.assert_array_equal(g, _rounded(g, np.float16))
        np.testing.assert_allclose(g, r, rtol=2e-2, atol=2e-2 * np.abs(r).max())


def _linear_model(optimizer, **scaling):
    rng = np.random.default_rng(2)
    x = gc.placeholder(gc.float32, [16, 8])
    y = gc.placeholder(gc.float32, [16, 4])
    w = gc.Variable((rng.standard_normal((8, 4)) * 0.1).astype("float32"))
    loss = gc.reduce_mean(gc.square(gc.matmul(x, w) - y))
    opt = gc.train.mixed_precision(optimizer, "float16", **scaling)
    train = opt.minimize(loss)
    feed = {x: rng.standard_normal((16, 8)).astype("float32"), y: rng.standard_normal((16, 4)).astype("float32")}
    return opt, w, loss, train, feed


def test_overflow_skips_the_step_and_lowers_the_scale():
    opt, w, loss, train, feed = _linear_model(gc.train.MomentumOptimizer(0.1, 0.9), initial_scale=1e30)
    with gc.Session() as sess:
        sess.run(gc.global_variables_initializer())
        before = sess.run(w.value())
        slots = [v for v in gc.global_variables() if "Momentum" in v.var_name]
        sess.run(train, feed)   # the scaled gradients overflow float16
        np.testing.assert_array_equal(sess.run(w.value()), before)
        for slot in slots:
            np.testing.assert_array_equal(sess.run(slot.value()), 0.0)
        assert sess.run(opt.loss_scale.value()) == np.float32(0.5e30)
        assert sess.run(opt.good_steps.value()) == 0


def test_good_steps_apply_the_unscaled_gradient_and_grow_the_scale():
    lr = 0.1
    opt, w, loss, train, feed = _linear_model(gc.train.GradientDescentOptimizer(lr), initial_scale=1024.0,
                                              growth_interval=2)
    x, y = list(feed.values())
    with gc.Session() as sess:
        sess.run(gc.global_variables_initializer())
        w0 = sess.run(w.value()).astype(np.float64)
        sess.run(train, feed)
        grad = 2 * x.T.astype(np.float64) @ (x @ w0 - y) / y.size  # the float32 model's gradient
        np.testing.assert_allclose(sess.run(w.value()), w0 - lr * grad, rtol=0, atol=2e-3 * lr * np.abs(grad).max() + 1e-6)
        assert sess.run(opt.loss_scale.value()) == 1024.0 and sess.run(opt.good_steps.value()) == 1
        sess.run(train, feed)
        assert sess.run(opt.loss_scale.value()) == 2048.0 and sess.run(opt.good_steps.value()) == 0


def test_bad_arguments_are_clear_errors():
    opt = gc.train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="float16 or bfloat16"):
        gc.train.mixed_precision(opt, "float64")
    with pytest.raises(ValueError, match="backoff"):
        gc.train.mixed_precision(opt, "float16", backoff=2.0)
