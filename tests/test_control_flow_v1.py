"""tf.cond / tf.case / tf.while_loop: values and gradients against numpy and central differences."""
import numpy as np
import pytest

import graphc.compat.v1 as tf
from graphc.test import check_gradients


def test_cond_selects_per_run_and_differentiates():
    x = tf.placeholder(tf.float32, [3])
    flag = tf.placeholder(tf.bool, [])
    y = tf.cond(flag, lambda: x * x, lambda: tf.sin(x))
    g = tf.gradients(tf.reduce_sum(y), x)[0]
    xv = np.array([0.5, -1.0, 2.0], np.float32)
    with tf.Session() as sess:
        for f in (True, False):
            yv, gv = sess.run([y, g], {x: xv, flag: f})
            np.testing.assert_allclose(yv, xv * xv if f else np.sin(xv), rtol=1e-6)
            np.testing.assert_allclose(gv, 2 * xv if f else np.cos(xv), rtol=1e-6)

    def f(v):
        return tf.cond(tf.reduce_sum(v) > 0, lambda: (v * v, tf.exp(v)), lambda: (tf.sin(v), v))
    check_gradients(f, [np.array([0.3, 0.9, 1.2])], second_order=True)
    check_gradients(f, [np.array([-0.3, -0.9, 0.2])])


def test_case_and_static_cond():
    x = tf.placeholder(tf.int32, [])
    out = tf.case([(tf.less(x, 0), lambda: tf.constant(-1)), (tf.equal(x, 0), lambda: tf.constant(0))],
                  default=lambda: tf.constant(1))
    with tf.Session() as sess:
        assert [sess.run(out, {x: v}) for v in (-5, 0, 7)] == [-1, 0, 1]
    assert tf.cond(True, lambda: 1, lambda: 2) == 1


def test_while_loop_with_a_trip_count_the_graph_decides():
    def f(v):
        _, acc = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * v), [tf.constant(0), tf.ones_like(v)])
        return acc
    x = tf.placeholder(tf.float64, [2])
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(f(x), {x: [1.5, -2.0]}), np.array([1.5, -2.0]) ** 3)
    check_gradients(f, [np.array([1.5, -0.7])], second_order=True)


def test_data_dependent_while_loop_is_refused_clearly():
    n = tf.placeholder(tf.int32, [])
    with pytest.raises(NotImplementedError, match="run time"):
        tf.while_loop(lambda i: i < n, lambda i: i + 1, [tf.constant(0)])
