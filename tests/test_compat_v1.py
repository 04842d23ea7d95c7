"""A TF1-style script runs with only its import changed."""
import numpy as np

import graphc.compat.v1 as tf

from conftest import assert_close


def test_tf1_style_mlp_forward():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, shape=[None, 3], name="x")
    w = tf.constant(np.arange(6, dtype=np.float32).reshape(3, 2))
    h = tf.nn.relu(tf.matmul(x, w) - 4.0)
    out = tf.reduce_mean(tf.nn.softmax(h), axis=1)
    with tf.device("/cpu:0"):
        total = tf.reduce_sum(h)
    with tf.Session() as sess:
        xv = np.random.default_rng(0).random((4, 3)).astype(np.float32)
        o, t = sess.run([out, total], feed_dict={x: xv})
    hv = np.maximum(xv @ np.arange(6, dtype=np.float32).reshape(3, 2) - 4, 0)
    e = np.exp(hv - hv.max(1, keepdims=True))
    assert_close(o, (e / e.sum(1, keepdims=True)).mean(1))
    assert_close(t, hv.sum())
    assert tf.get_default_graph() is x.graph


def _np_same_pads(n, k, s):
    total = max(0, (-(-n // s) - 1) * s + k - n)
    return total // 2, total - total // 2


def _np_windows(x, kh, kw, s, padding, fill):
    """NHWC x as (N, OH, OW, kh, kw, C) windows, TF's SAME / VALID rule, `fill` in the padding."""
    if padding == "SAME":
        (t, b), (l, r) = _np_same_pads(x.shape[1], kh, s), _np_same_pads(x.shape[2], kw, s)
    else:
        t = b = l = r = 0
    xp = np.pad(x, [(0, 0), (t, b), (l, r), (0, 0)], constant_values=fill)
    oh, ow = (xp.shape[1] - kh) // s + 1, (xp.shape[2] - kw) // s + 1
    return np.stack([np.stack([xp[:, i * s:i * s + kh, j * s:j * s + kw, :] for j in range(ow)], 1)
                     for i in range(oh)], 1)


def test_tf1_conv2d_and_pools_nhwc():
    tf.reset_default_graph()
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    fv = rng.standard_normal((3, 2, 3, 4)).astype(np.float32)
    x = tf.placeholder(tf.float32, shape=[None, 7, 6, 3])
    outs = [tf.nn.conv2d(x, fv, strides=[1, 2, 2, 1], padding="SAME"),
            tf.nn.conv2d(x, fv, strides=1, padding="VALID"),
            tf.nn.max_pool(x, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME"),
            tf.nn.avg_pool(x, ksize=[1, 3, 2, 1], strides=[1, 2, 2, 1], padding="SAME")]
    with tf.Session() as sess:
        got = sess.run(outs, feed_dict={x: xv})
    for s, padding, g in ((2, "SAME", got[0]), (1, "VALID", got[1])):
        win = _np_windows(xv, 3, 2, s, padding, 0.0)
        assert_close(g, np.einsum("nhwijc,ijco->nhwo", win, fv))
    assert_close(got[2], _np_windows(xv, 3, 3, 2, "SAME", -np.inf).max(axis=(3, 4)))
    ones = _np_windows(np.ones_like(xv), 3, 2, 2, "SAME", 0.0).sum(axis=(3, 4))
    assert_close(got[3], _np_windows(xv, 3, 2, 2, "SAME", 0.0).sum(axis=(3, 4)) / ones)
