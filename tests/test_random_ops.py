"""Random ops: new draws on every run, TF1's seed rules, tensor arguments, moments, dropout."""
import numpy as np
import pytest

import graphc.compat.v1 as tf
from graphc import reference


def _runs(fetch, n=2, feed=None):
    with tf.Session() as sess:
        return [sess.run(fetch, feed) for _ in range(n)]


def test_draws_anew_on_every_run_and_repeat_across_sessions_with_seeds():
    tf.set_random_seed(5)
    a = tf.random_normal([4, 3])
    b = tf.random_normal([4, 3])       # op seed from the graph: differs from a
    c = tf.random_uniform([6], seed=7)
    first, second = _runs([a, b, c]), _runs([a, b, c])
    for k in range(3):
        assert not np.array_equal(first[0][k], first[1][k]), "a second run must draw new values"
        np.testing.assert_array_equal(first[0][k], second[0][k])  # same seeds, same sequence
        np.testing.assert_array_equal(first[1][k], second[1][k])
    assert not np.array_equal(first[0][0], first[0][1]), "two ops with the graph seed must differ"


def test_kernel_matches_the_hash_reference_for_each_run():
    a = tf.random_uniform([3, 5], seed=3)
    counter = a.node.inputs[0]
    with tf.Session() as sess:
        for run in range(3):
            got = sess.run(a)
            want = reference.evaluate(a, {counter: np.array(run, np.int64)})
            np.testing.assert_array_equal(got, want)


def test_op_seed_alone_repeats_and_no_seed_differs_between_graphs():
    def draw(seed):
        tf.reset_default_graph()
        return _runs(tf.random_normal([5], seed=seed), 1)[0]
    np.testing.assert_array_equal(draw(11), draw(11))
    assert not np.array_equal(draw(11), draw(12))
    assert not np.array_equal(draw(None), draw(None))


def test_tensor_arguments_shape_and_stddev():
    z = tf.placeholder(tf.float32, [None, 3])
    eps = tf.random_normal(tf.shape(z), stddev=1 / tf.sqrt(tf.constant(4.0)), seed=1)
    u = tf.random_uniform([tf.shape(z)[0], 2], minval=tf.constant(-1.0), maxval=3.0, seed=2)
    with tf.Session() as sess:
        e, uv = sess.run([eps, u], {z: np.zeros((5000, 3), np.float32)})
    assert e.shape == (5000, 3) and uv.shape == (5000, 2)
    assert abs(e.std() - 0.5) < 0.02 and abs(e.mean()) < 0.02
    assert uv.min() >= -1 and uv.max() < 3 and abs(uv.mean() - 1) < 0.05


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_moments(dtype):
    n = 200000
    fetch = [tf.random_uniform([n], dtype=dtype, seed=1), tf.random_normal([n], 1.0, 2.0, dtype=dtype, seed=2),
             tf.truncated_normal([n], dtype=dtype, seed=3)]
    u, g, t = (x.astype(np.float64) for x in _runs(fetch, 1)[0])
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.003
    assert abs(g.mean() - 1) < 0.02 and abs(g.std() - 2) < 0.02
    assert abs(((g - 1) / 2) ** 3).mean() < 1.7 and abs((((g - 1) / 2) ** 4).mean() - 3) < 0.1
    assert np.abs(t).max() <= 2.0 and abs(t.mean()) < 0.01
    assert abs(t.std() - 0.8796) < 0.01  # a standard normal cut at two sigma


def test_integer_uniform():
    v = _runs(tf.random_uniform([10000], 3, 9, dtype=tf.int32, seed=4), 1)[0]
    assert v.dtype == np.int32 and v.min() == 3 and v.max() == 8
    assert np.all(np.abs(np.bincount(v - 3) / 10000 - 1 / 6) < 0.02)


def test_multinomial_frequencies():
    p = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    s = tf.multinomial(tf.constant(np.log(p), tf.float32), 20000, seed=3)
    a, b = _runs(s)
    assert a.dtype == np.int64 and a.shape == (2, 20000) and not np.array_equal(a, b)
    for row in range(2):
        np.testing.assert_allclose(np.bincount(a[row], minlength=3) / 20000, p[row], atol=0.015)


def test_random_shuffle_permutes_rows_every_run():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    a, b = _runs(tf.random_shuffle(tf.constant(x), seed=1))
    assert not np.array_equal(a, b) and not np.array_equal(a, x)
    for r in (a, b):
        np.testing.assert_array_equal(np.sort(r[:, 0]), x[:, 0])
        np.testing.assert_array_equal(r[:, 1], r[:, 0] + 1)


def test_dropout_keep_prob_and_rate_and_gradient():
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 50])
    keep = tf.placeholder(tf.float32)
    y = tf.nn.dropout(x, keep)
    y2 = tf.nn.dropout(x, rate=0.75)
    dx = tf.gradients(tf.reduce_sum(y * 3.0), x)[0]
    xv = np.ones((400, 50), np.float32)
    with tf.Session() as sess:
        v1, g1 = sess.run([y, dx], {x: xv, keep: 0.5})
        v2 = sess.run(y, {x: xv, keep: 0.5})
        r = sess.run(y2, {x: xv})
        full = sess.run(y, {x: xv, keep: 1.0})
    assert set(np.unique(v1)) == {0.0, 2.0} and abs((v1 > 0).mean() - 0.5) < 0.02
    assert not np.array_equal(v1, v2)
    np.testing.assert_array_equal(g1, (v1 > 0) * 3.0 / 0.5)  # mask * dy / keep_prob, the same run's mask
    assert set(np.unique(r)) == {0.0, 4.0} and abs((r > 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(full, xv)


def test_variable_initialized_from_a_random_op_draws_once():
    tf.set_random_seed(1)
    w = tf.Variable(tf.random_normal([3, 4]))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b = sess.run(w), sess.run(w)
    np.testing.assert_array_equal(a, b)
    assert a.std() > 0.1


def test_no_gradient_through_draws():
    m = tf.placeholder(tf.float32, [])
    y = tf.random_normal([3], mean=m, seed=1)
    g = tf.gradients(tf.reduce_sum(y), m)[0]
    with tf.Session() as sess:
        assert sess.run(g, {m: 0.5}) == pytest.approx(3.0)  # through the mean only
