"""The autodiff pass: TF1 semantics of gradients, against numpy."""
import numpy as np
import pytest

import graphc as gc
import graphc.compat.v1 as tf

from conftest import assert_close


def test_tf1_slide_snippet():
    np.random.seed(0)
    N, D = 3000, 4000
    with tf.device('/cpu:0'):
        x = tf.placeholder(tf.float32)
        y = tf.placeholder(tf.float32)
        z = tf.placeholder(tf.float32)
        a = x * y
        b = a + z
        c = tf.reduce_sum(b)
    grad_x, grad_y, grad_z = tf.gradients(c, [x, y, z])
    with tf.Session() as sess:
        values = {x: np.random.randn(N, D), y: np.random.randn(N, D), z: np.random.randn(N, D)}
        out = sess.run([c, grad_x, grad_y, grad_z], feed_dict=values)
        c_val, grad_x_val, grad_y_val, grad_z_val = out
    xv, yv, zv = (values[t].astype(np.float32) for t in (x, y, z))
    np.testing.assert_allclose(c_val, (xv * yv + zv).astype(np.float64).sum(), rtol=1e-4)
    assert_close(grad_x_val, yv)
    assert_close(grad_y_val, xv)
    assert_close(grad_z_val, np.ones_like(zv))


def test_product_of_sums_at_a_point():
    x, y, z = (gc.placeholder(gc.float32, ()) for _ in range(3))
    f = (x + y) * (x + z)
    grads = gc.gradients(f, [x, y, z])
    with gc.Session() as sess:
        got = sess.run(grads, {x: -2.0, y: 5.0, z: -4.0})
    assert [float(v) for v in got] == [-3.0, -6.0, 3.0]


def test_unrelated_input_and_integer_input_get_none():
    x = gc.placeholder(gc.float32, (3,))
    u = gc.placeholder(gc.float32, (3,))
    i = gc.placeholder(gc.int32, (3,))
    y = gc.reduce_sum(x * gc.cast(i, gc.float32))
    gx, gu, gi = gc.gradients(y, [x, u, i])
    assert gu is None and gi is None
    with gc.Session() as sess:
        assert_close(sess.run(gx, {x: np.ones(3, np.float32), i: np.array([1, 2, 3], np.int32)}),
                     np.array([1, 2, 3], np.float32))


def test_broadcasting_gradients_have_input_shapes(rng):
    x = gc.placeholder(gc.float32, (None, 4))
    b = gc.placeholder(gc.float32, (4,))
    s = gc.placeholder(gc.float32, ())
    y = gc.reduce_sum((x + b) * s)
    gx, gb, gs = gc.gradients(y, [x, b, s])
    xv, bv = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    with gc.Session() as sess:
        gxv, gbv, gsv = sess.run([gx, gb, gs], {x: xv, b: bv, s: 2.0})
    assert_close(gxv, np.full((5, 4), 2, np.float32))
    assert_close(gbv, np.full(4, 10, np.float32))
    assert_close(gsv, np.float32((xv + bv).sum()))


def test_stop_gradient_and_grad_ys(rng):
    x = gc.placeholder(gc.float32, (3,))
    y = x * gc.stop_gradient(x)          # d/dx = stop(x) only
    gy = gc.placeholder(gc.float32, (3,))
    (g,) = gc.gradients(y, [x], grad_ys=[gy])
    xv, gyv = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    with gc.Session() as sess:
        assert_close(sess.run(g, {x: xv, gy: gyv}), xv * gyv)


def test_second_derivative(rng):
    x = gc.placeholder(gc.float64, (4,))
    y = gc.reduce_sum(gc.sin(x) * x)
    (g,) = gc.gradients(y, [x])
    (h,) = gc.gradients(gc.reduce_sum(g), [x])   # diagonal Hessian: 2cos x - x sin x
    xv = rng.standard_normal(4)
    with gc.Session() as sess:
        gv, hv = sess.run([g, h], {x: xv})
    assert_close(gv, np.cos(xv) * xv + np.sin(xv))
    assert_close(hv, 2 * np.cos(xv) - xv * np.sin(xv))


def test_gradients_through_matmul_softmax(rng):
    from graphc.test import check_gradients
    w = rng.standard_normal((4, 3))
    x = rng.standard_normal((5, 4))
    check_gradients(lambda a, b: gc.log_softmax(gc.matmul(a, b)), [x, w], second_order=True)


def test_error_for_op_without_gradient():
    from graphc.registry import get_op
    x = gc.placeholder(gc.float32, (3,))
    y = gc.floor_mod(x, 2.0)
    assert get_op("floor_mod").differentiable is False
    (g,) = gc.gradients(gc.reduce_sum(y), [x])
    assert g is None


def test_gradients_rejects_tensors_of_other_graphs():
    x = gc.placeholder(gc.float32, (3,))
    g2 = gc.Graph()
    with g2.as_default():
        y = gc.placeholder(gc.float32, (3,))
    with pytest.raises(gc.GraphError):
        gc.gradients(gc.reduce_sum(x), [y])
