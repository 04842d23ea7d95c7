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
