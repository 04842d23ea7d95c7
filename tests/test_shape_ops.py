"""The shape family's public API: indexing as numpy does (empty results too), the TF1 names, static
inference with unknown dims, and clear errors."""
import numpy as np
import pytest

import graphc
import graphc.compat.v1 as tf
from graphc.registry import get_op

from conftest import assert_close

KEYS = [np.s_[1], np.s_[-1], np.s_[1:3], np.s_[::-1], np.s_[::2, 1], np.s_[-2::-2, ..., 1:],
        np.s_[..., 0], np.s_[None, 1], np.s_[:, None, ::-3], np.s_[1, ..., None], np.s_[...],
        np.s_[3:0:-1, -1, 2:1], np.s_[10:], np.s_[-10:2]]


@pytest.mark.parametrize("unknown", [False, True])
def test_getitem_matches_numpy_basic_indexing(unknown):
    v = np.random.default_rng(0).standard_normal((4, 5, 6)).astype(np.float32)
    x = graphc.placeholder(graphc.float32, [None] * 3 if unknown else v.shape)
    outs = [x[k] for k in KEYS]
    if not unknown:
        for o, k in zip(outs, KEYS):
            assert tuple(o.shape) == v[k].shape, k
    with graphc.Session() as sess:
        got = sess.run(outs, {x: v})
    for g, k in zip(got, KEYS):
        assert_close(g, v[k])


def test_tf1_shape_ops_match_numpy():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 6)).astype(np.float32)
    idx = np.array([[2, 0], [1, 1]], np.int32)
    x = tf.placeholder(tf.float32, [None, 6])
    i = tf.placeholder(tf.int32, [2, 2])
    s1, s2, s3 = tf.split(x, 3, axis=1)
    p1, p2 = tf.split(x, [4, -1], 1)
    fetches = {
        "concat": tf.concat([x, x * 2.0], 0), "split": [s1, s2, s3, p1, p2],
        "stack": tf.stack([x, x + 1.0], axis=-1), "unstack": tf.unstack(x[:, :3], axis=1),
        "slice": tf.slice(x, [1, 2], [-1, 3]),
        "strided": tf.strided_slice(x, [0, 5], [2, 0], [1, -2], shrink_axis_mask=0, begin_mask=1),
        "gather": tf.gather(x, i, axis=1), "gather0": tf.gather(x, [1, 0, 1]),
        "one_hot": tf.one_hot(i, 4, on_value=2.0, off_value=-1.0, axis=1),
        "tile": tf.tile(x, [2, 1]), "shape": tf.shape(x), "size": tf.size(x), "rank": tf.rank(x),
        "bcast": tf.broadcast_to(x[:1], [3, 2, 6]), "identity": tf.identity(x),
        "expand": tf.expand_dims(x, 1), "squeeze": tf.squeeze(tf.expand_dims(x, -1), [2]),
    }
    with tf.Session() as sess:
        got = sess.run(fetches, {x: a, i: idx})
    hot = np.where(idx[:, None, :] == np.arange(4)[None, :, None], 2.0, -1.0).astype(np.float32)
    want = {
        "concat": np.concatenate([a, a * 2]), "split": np.split(a, 3, 1) + np.split(a, [4], 1),
        "stack": np.stack([a, a + 1], -1), "unstack": [a[:, j] for j in range(3)], "slice": a[1:, 2:5],
        "strided": a[:2, 5:0:-2], "gather": np.take(a, idx, 1), "gather0": a[[1, 0, 1]], "one_hot": hot,
        "tile": np.tile(a, [2, 1]), "shape": np.array(a.shape, np.int32), "size": np.array(a.size, np.int32),
        "rank": np.array(2, np.int32), "bcast": np.broadcast_to(a[:1], (3, 2, 6)), "identity": a,
        "expand": a[:, None], "squeeze": a,
    }
    for k, w in want.items():
        g = got[k]
        if isinstance(w, list):
            assert len(g) == len(w), k
            for gi, wi in zip(g, w):
                assert_close(gi, wi)
        else:
            assert_close(g, w)


def test_inference_with_unknown_dims_and_rank():
    x = graphc.placeholder(graphc.float32, [None, 4])
    u = graphc.placeholder(graphc.float32, None)
    assert graphc.concat([x, x], 0).shape == (None, 4)
    assert graphc.concat([x, x], 1).shape == (None, 8)
    assert [t.shape for t in graphc.split(x, 2, 1)] == [(None, 2), (None, 2)]
    assert [t.shape for t in graphc.split(x, [1, -1], 0)] == [(1, 4), (None, 4)]
    assert x[1:].shape == (None, 4) and x[:, 1:3].shape == (None, 2) and x[0].shape == (4,)
    assert graphc.squeeze(x).shape is None  # which unknown dims are 1 is known only when fed
    assert graphc.tile(x, [2, 3]).shape == (None, 12)
    assert graphc.shape(x).shape == (2,) and graphc.shape(u).shape == (None,)
    assert graphc.gather(x, [0, 1]).shape == (2, 4)
    assert u[1:].shape is None and graphc.expand_dims(u, 0).shape is None
    assert graphc.one_hot([1, 2], 3).dtype == graphc.float32  # TF's dtype defaults
    assert graphc.one_hot([1, 2], 3, on_value=5, off_value=0).dtype == graphc.int32
    assert graphc.gather(x, [2, 0, 1], axis=None).shape == (3, 4)


def test_shape_errors_are_clear():
    x = graphc.placeholder(graphc.float32, [2, 3], name="x")
    with pytest.raises(graphc.ShapeError, match="cannot squeeze dim 1"):
        graphc.squeeze(x, [1])
    with pytest.raises(graphc.ShapeError, match="out of range"):
        x[2]
    with pytest.raises(graphc.ShapeError, match="differ in dim 0"):
        graphc.concat([x, graphc.zeros([3, 3])], 1)
    with pytest.raises(graphc.ShapeError, match="do not add up"):
        graphc.split(x, [1, 1], 1)
    with pytest.raises(graphc.ShapeError, match="broadcast"):
        graphc.broadcast_to(x, [3, 3])
    with pytest.raises(TypeError, match="expected ints"):
        x[1.5]
    with pytest.raises(graphc.ShapeError, match="expected an integer dtype"):
        graphc.gather(x, graphc.zeros([2]))


def test_split_gradient_fills_unused_outputs_with_zeros():
    x = graphc.placeholder(graphc.float64, [None, 5])
    parts = graphc.split(x, [2, -1], 1)
    dy = graphc.placeholder(graphc.float64, [None, 2])
    (dx,) = get_op("split").gradient(parts[0].node, [dy, None])
    w = np.arange(6.0).reshape(3, 2)
    with graphc.Session() as sess:
        got = sess.run(dx, {x: np.zeros((3, 5)), dy: w})
    assert_close(got, np.concatenate([w, np.zeros((3, 3))], 1))
