"""tf.data: Datasets feed the graph through iterators, one element per Session.run."""
import numpy as np
import pytest

import graphc.compat.v1 as tf


def test_one_shot_iterator_batches_and_ends():
    xs = np.arange(10, dtype=np.float32).reshape(5, 2)
    ys = np.arange(5, dtype=np.int32)
    it = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(2).make_one_shot_iterator()
    x, y = it.get_next()
    total = tf.reduce_sum(x) + tf.cast(tf.reduce_sum(y), tf.float32)
    with tf.Session() as sess:
        got = [sess.run([x, y, total]) for _ in range(3)]
        with pytest.raises(tf.errors.OutOfRangeError):
            sess.run(total)
    np.testing.assert_array_equal(np.concatenate([g[0] for g in got]), xs)
    np.testing.assert_array_equal(np.concatenate([g[1] for g in got]), ys)
    for g in got:  # one element per run, shared by every tensor that reads it
        assert g[2] == g[0].sum() + g[1].sum()


def test_initializable_iterator_shuffle_repeat_map():
    xs = np.arange(6, dtype=np.float32)
    ds = tf.data.Dataset.from_tensor_slices(xs).map(lambda v: v * 2.0 + 1.0).shuffle(6, seed=1).repeat(2).batch(4)
    it = ds.make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as sess:
        for _ in range(2):
            sess.run(it.initializer)
            values = np.concatenate([sess.run(nxt) for _ in range(3)])
            np.testing.assert_array_equal(np.sort(values), np.sort(np.concatenate([xs, xs]) * 2 + 1))
            with pytest.raises(tf.errors.OutOfRangeError):
                sess.run(nxt)
