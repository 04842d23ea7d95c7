"""Indexing and the TF-style shape API, against numpy."""
import numpy as np
import pytest

import graphc as gc
import graphc.compat.v1 as tf

from conftest import assert_close

X = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6)
KEYS = [(1,), (slice(None), 2), (-1, slice(1, 4), slice(None, None, -2)), (Ellipsis, 3), (None, 0, Ellipsis),
        (slice(None), None, slice(3, 0, -1), -2), (0, -1, -1)]


@pytest.mark.parametrize("key", KEYS, ids=str)
def test_getitem_matches_numpy(key):
    x = gc.placeholder(gc.float32, (None, 5, 6))
    with gc.Session() as sess:
        assert_close(sess.run(x[key], {x: X}), np.require(X[key], requirements="C"))


def test_tf_shape_functions():
    x = tf.placeholder(tf.float32, [2, 5, 6])
    idx = tf.placeholder(tf.int32, [3])
    fetches = {
        "concat": tf.concat([x, x * 2], axis=1),
        "split": tf.split(x, [1, 4], axis=1),
        "stack": tf.stack([x[0], x[1]], axis=2),
        "unstack": tf.unstack(x, axis=0),
        "slice": tf.slice(x, [0, 1, 2], [-1, 2, 3]),
        "strided": tf.strided_slice(x, [0, 0, 1], [2, 5, 6], [1, 2, 2], shrink_axis_mask=1),
        "gather": tf.gather(x, idx, axis=1),
        "one_hot": tf.one_hot(idx, 5),
        "tile": tf.tile(x[:, :1, :], [1, 3, 1]),
        "expand": tf.expand_dims(x, -1),
        "squeeze": tf.squeeze(tf.expand_dims(x, 0)),
        "shape": tf.shape(x),
        "broadcast": tf.broadcast_to(x[0, 0], [3, 6]),
    }
    iv = np.array([4, 0, 2], np.int32)
    with tf.Session() as sess:
        out = sess.run(fetches, {x: X, idx: iv})
    assert_close(out["concat"], np.concatenate([X, X * 2], 1))
    assert [o.shape for o in out["split"]] == [(2, 1, 6), (2, 4, 6)]
    assert_close(out["split"][1], X[:, 1:])
    assert_close(out["stack"], np.stack([X[0], X[1]], 2))
    assert_close(out["unstack"][1], X[1])
    assert_close(out["slice"], X[0:, 1:3, 2:5])
    assert_close(out["strided"], X[0, 0:5:2, 1:6:2])
    assert_close(out["gather"], X[:, iv])
    assert_close(out["one_hot"], np.eye(5, dtype=np.float32)[iv])
    assert_close(out["tile"], np.tile(X[:, :1], (1, 3, 1)))
    assert_close(out["expand"], X[..., None])
    assert_close(out["squeeze"], X)
    assert_close(out["shape"], np.array([2, 5, 6], np.int32))
    assert_close(out["broadcast"], np.broadcast_to(X[0, 0], (3, 6)).copy())


def test_shape_errors_name_the_problem():
    x = gc.placeholder(gc.float32, (2, 3))
    with pytest.raises(gc.ShapeError, match="do not add up"):
        gc.split(x, [1, 1], axis=1)
    with pytest.raises(gc.ShapeError, match="cannot squeeze dim 0 of size 2"):
        gc.squeeze(x, [0])
    with pytest.raises(gc.ShapeError, match="cannot reshape"):
        gc.reshape(x, [4, 2])
