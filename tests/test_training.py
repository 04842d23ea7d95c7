"""Variables, optimizers, Saver and a short digits training run, against numpy."""
import os
import sys

import numpy as np
import pytest

import graphc as gc
import graphc.compat.v1 as tf

from conftest import assert_close

W0 = np.array([[0.5, -1.0], [2.0, 0.25], [-0.5, 1.5]], np.float32)
XS = [np.array([[1.0, 2.0, -1.0]], np.float32), np.array([[0.5, -1.0, 2.0]], np.float32),
      np.array([[-1.5, 0.0, 1.0]], np.float32)]


def _grad(w, x):
    """d/dw of sum((x @ w)^2)."""
    return 2 * x.T @ (x @ w)


def numpy_steps(kind, **kw):
    w = W0.astype(np.float64)
    slots = {"acc": np.zeros_like(w), "m": np.zeros_like(w), "v": np.zeros_like(w), "ms": np.ones_like(w),
             "mom": np.zeros_like(w)}
    lr = kw["lr"]
    for t, x in enumerate(XS, start=1):
        g = _grad(w, x.astype(np.float64))
        if kind == "sgd":
            w = w - lr * g
        elif kind == "momentum":
            slots["acc"] = kw["momentum"] * slots["acc"] + g
            step = g + kw["momentum"] * slots["acc"] if kw.get("nesterov") else slots["acc"]
            w = w - lr * step
        elif kind == "adam":
            b1, b2, eps = 0.9, 0.999, 1e-8
            slots["m"] = b1 * slots["m"] + (1 - b1) * g
            slots["v"] = b2 * slots["v"] + (1 - b2) * g * g
            w = w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * slots["m"] / (np.sqrt(slots["v"]) + eps)
        elif kind == "rmsprop":
            slots["ms"] = 0.9 * slots["ms"] + 0.1 * g * g
            slots["mom"] = kw["momentum"] * slots["mom"] + lr * g / np.sqrt(slots["ms"] + 1e-10)
            w = w - slots["mom"]
    return w


OPTIMIZERS = {
    "sgd": (lambda: tf.train.GradientDescentOptimizer(0.05), {"lr": 0.05}),
    "momentum": (lambda: tf.train.MomentumOptimizer(0.05, 0.9), {"lr": 0.05, "momentum": 0.9}),
    "nesterov": (lambda: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
                 {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "adam": (lambda: tf.train.AdamOptimizer(0.1), {"lr": 0.1}),
    "rmsprop": (lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.5), {"lr": 0.01, "momentum": 0.5}),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_match_numpy(name):
    make, kw = OPTIMIZERS[name]
    w = tf.Variable(W0, name="w")
    x = tf.placeholder(tf.float32, [1, 3])
    loss = tf.reduce_sum(tf.square(tf.matmul(x, w)))
    train_op = make().minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for xv in XS:
            sess.run(train_op, {x: xv})
        got = sess.run(w)
    kind = "momentum" if name == "nesterov" else name
    np.testing.assert_allclose(got, numpy_steps(kind, **kw), rtol=1e-4, atol=1e-5)


def test_loss_fetched_with_the_update_is_the_pre_update_loss():
    w = tf.Variable(W0, name="w")
    x = tf.placeholder(tf.float32, [1, 3])
    loss = tf.reduce_sum(tf.square(tf.matmul(x, w)))
    train_op = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _, before = sess.run([train_op, loss], {x: XS[0]})
        after = sess.run(loss, {x: XS[0]})
    assert_close(before, np.float32(((XS[0] @ W0) ** 2).sum()))
    assert after < before


def test_variable_semantics():
    v = gc.Variable(np.zeros(3, np.float32), name="v")
    inc = v.assign_add(np.ones(3, np.float32))
    with gc.Session() as sess:
        with pytest.raises(gc.FailedPreconditionError, match="uninitialized variable 'v'"):
            sess.run(v)
        sess.run(v.initializer)
        assert_close(sess.run(inc), np.ones(3, np.float32))           # an assign returns the new value
        assert_close(sess.run(inc), np.full(3, 2, np.float32))
        storage = sess.variables["v"]
        sess.run(v.assign([7, 8, 9]))
        assert sess.variables["v"].same_as(storage)                   # updated in place
        assert_close(sess.run(v * 2.0), np.array([14, 16, 18], np.float32))
    with pytest.raises(gc.ShapeError, match="does not fit variable"):
        v.assign(np.zeros(4, np.float32))


def test_saver_round_trip_and_errors(tmp_path):
    w = tf.Variable(W0, name="w")
    b = tf.Variable(np.arange(2, dtype=np.float32), name="b")
    saver = tf.train.Saver()
    path = str(tmp_path / "model.safetensors")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(w.assign(W0 * 3))
        assert saver.save(sess, path) == path
    with tf.Session() as sess:
        saver.restore(sess, path)
        assert_close(sess.run(w), W0 * 3)
        assert_close(sess.run(b), np.arange(2, dtype=np.float32))
        with pytest.raises(gc.train.SaverError, match="does not exist"):
            saver.restore(sess, str(tmp_path / "missing"))
        (tmp_path / "junk").write_bytes(b"not a checkpoint")
        with pytest.raises(gc.train.SaverError, match="not a readable safetensors"):
            saver.restore(sess, str(tmp_path / "junk"))
    tf.reset_default_graph()
    tf.Variable(np.zeros((2, 2), np.float32), name="w")
    with tf.Session() as sess, pytest.raises(gc.train.SaverError, match=r"'w' is float32\[2, 2\] in the graph"):
        tf.train.Saver().restore(sess, path)
    tf.reset_default_graph()
    tf.Variable(np.zeros(1, np.float32), name="other")
    with tf.Session() as sess, pytest.raises(gc.train.SaverError, match="no value for variable 'other'"):
        tf.train.Saver().restore(sess, path)


def test_losses_match_numpy(rng):
    logits = rng.standard_normal((4, 5)).astype(np.float32) * 30   # large: must stay finite
    labels = np.array([0, 4, 2, 2], np.int32)
    dense = np.eye(5, dtype=np.float32)[labels]
    lg, lb = tf.constant(logits), tf.constant(labels)
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    z = (rng.random((4, 5)) < 0.5).astype(np.float32)
    with tf.Session() as sess:
        sparse, dense_v1, sig, mse, l2 = sess.run([
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lb, logits=lg),
            tf.nn.softmax_cross_entropy_with_logits(labels=tf.constant(dense), logits=lg),
            tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(z), logits=lg),
            tf.losses.mean_squared_error(tf.constant(dense), lg),
            tf.nn.l2_loss(lg)])
    assert_close(sparse, -log_p[np.arange(4), labels])
    assert_close(dense_v1, -log_p[np.arange(4), labels])
    np.testing.assert_allclose(sig, np.maximum(logits, 0) - logits * z + np.log1p(np.exp(-np.abs(logits))),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mse, ((logits - dense) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(l2, (logits.astype(np.float64) ** 2).sum() / 2, rtol=1e-5)


def test_initializers_are_seeded():
    def draw():
        tf.reset_default_graph()
        tf.set_random_seed(3)
        return [tf.glorot_uniform_initializer()([20, 30]), tf.truncated_normal_initializer(stddev=2.0)([1000])]
    a, b = draw(), draw()
    np.testing.assert_array_equal(a[0], b[0])
    assert np.abs(a[0]).max() <= np.sqrt(6 / 50) and np.abs(a[1]).max() <= 4.0


def test_digits_mlp_trains():
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    from train_digits_mlp import train
    assert train(epochs=6, progress=False) >= 0.90
