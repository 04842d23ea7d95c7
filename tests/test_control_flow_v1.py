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


def _numpy_grow(x, bound):
    """numpy oracle: x multiplied by 1.5 until its sum reaches bound; (x, steps)."""
    steps = 0
    while x.sum() < bound:
        x, steps = x * np.float32(1.5), steps + 1
    return x, steps


def test_data_dependent_while_loop_runs_as_a_loop():
    x = tf.placeholder(tf.float32, [None])
    bound = tf.placeholder(tf.float32, [])
    out, steps = tf.while_loop(lambda v, i: tf.reduce_sum(v) < bound, lambda v, i: (v * 1.5, i + 1),
                               [x, tf.constant(0)])
    with tf.Session() as sess:
        for xv, b in [(np.array([0.5, 1.0, 2.0], np.float32), 100.0), (np.array([3.0, 1.0], np.float32), 5000.0),
                      (np.array([9.0], np.float32), 1.0)]:
            want, n = _numpy_grow(xv, b)
            got, got_n = sess.run([out, steps], {x: xv, bound: b})
            np.testing.assert_allclose(got, want, rtol=1e-6)
            assert got_n == n
        exe = sess.compiled([out, steps], {x: np.ones(3, np.float32), bound: 10.0})
    # not unrolled: one loop op, its body compiled once, whatever the trip count
    assert [n.op for n in exe.graph.nodes].count("while_loop") == 1
    assert sum("while" in k for k in exe.kernels) == 1


def test_run_time_loop_reads_captured_tensors_and_variables_and_nests():
    n = tf.placeholder(tf.int32, [])
    w = tf.Variable(np.array([[0.5, -0.2], [0.1, 0.9]], np.float32))
    h0 = tf.placeholder(tf.float32, [2])

    def outer_body(i, h, total):
        # an inner loop whose trip count is the outer counter: sums 0 + 1 + ... + i
        _, s = tf.while_loop(lambda j, acc: j <= i, lambda j, acc: (j + 1, acc + j), [tf.constant(0), tf.constant(0)])
        return i + 1, tf.tanh(tf.matmul(h[None, :], w)[0] + tf.cast(s, tf.float32)), total + s
    _, h, total = tf.while_loop(lambda i, h, t: i < n, outer_body, [tf.constant(0), h0, tf.constant(0)])
    hv, wv = np.array([0.3, -0.4], np.float32), None
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        wv = sess.run(w)
        for steps in (0, 1, 4):
            want_h, want_t = hv, 0
            for i in range(steps):
                s = sum(range(i + 1))
                want_h, want_t = np.tanh(want_h @ wv + s), want_t + s
            got_h, got_t = sess.run([h, total], {n: steps, h0: hv})
            np.testing.assert_allclose(got_h, want_h, rtol=1e-5, atol=1e-6)
            assert got_t == want_t


def test_run_time_loop_maximum_iterations_and_structures():
    bound = tf.placeholder(tf.float32, [])
    limit = tf.placeholder(tf.int32, [])
    state = (tf.constant(1.0), {"count": tf.constant(0)})
    out = tf.while_loop(lambda s: s[0] < bound, lambda s: (s[0] * 2.0, {"count": s[1]["count"] + 1}), [state],
                        maximum_iterations=limit)
    with tf.Session() as sess:
        for b, lim in [(100.0, 50), (100.0, 3), (0.5, 9)]:
            v, count = 1.0, 0
            while v < b and count < lim:
                v, count = v * 2.0, count + 1
            got = sess.run(out, {bound: b, limit: lim})
            assert got[0][0] == v and got[0][1]["count"] == count


def test_gradients_through_a_run_time_loop():
    """The trip count is fixed by a fed bound at run time; first and second order against differences."""
    def f(x, w, bound):
        out, _ = tf.while_loop(lambda v, i: tf.reduce_sum(v) < tf.cast(bound, tf.float64),
                               lambda v, i: (v * w + tf.sin(v), i + 1), [x, tf.constant(0)])
        return out * w
    for b in (1, 25):  # no iteration, several
        check_gradients(f, [np.array([0.4, 0.7, 0.2]), np.array([1.3, 1.1, 1.2]), np.array(b, np.int32)],
                        second_order=True)


def test_run_time_loop_errors_name_the_problem():
    n = tf.placeholder(tf.int32, [])
    with pytest.raises(ValueError, match="keeps its shape"):
        tf.while_loop(lambda v: tf.reduce_sum(v) < tf.cast(n, tf.float32), lambda v: tf.concat([v, v], 0),
                      [tf.ones([2])])
    with pytest.raises(ValueError, match="keeps its dtype"):
        tf.while_loop(lambda i: i < n, lambda i: tf.cast(i, tf.float32), [tf.constant(0)])


def test_map_fn_over_rows():
    x = tf.placeholder(tf.float32, [3, 2])
    y = tf.map_fn(lambda row: tf.reduce_sum(row * row), x)
    xv = np.arange(6, dtype=np.float32).reshape(3, 2)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: xv}), (xv * xv).sum(1))


def test_a_run_time_loop_is_not_exported_as_an_artifact(tmp_path):
    from graphc.runtime.artifact import ArtifactError
    from graphc.runtime.compiler import compile
    n = tf.placeholder(tf.int32, [])
    out = tf.while_loop(lambda i: i < n, lambda i: i + 2, [tf.constant(0)])
    exe = compile(out, {n: np.array(5, np.int32)})
    np.testing.assert_equal(exe.run({n: np.array(5, np.int32)})[0], 6)
    with pytest.raises(ArtifactError, match="host op while_loop"):
        exe.export(str(tmp_path / "loop.gca"))


@pytest.mark.slow  # compiles the loop's body and its gradient's: about a minute on a shared machine
def test_random_draws_in_a_run_time_loop_differ_per_iteration_and_run():
    """Each iteration of a run-time loop draws anew, each run too; a new Session repeats the sequence (TF1's
    seed rules), and the gradient's recomputed iterations see the same dropout masks as the forward pass."""
    n = tf.placeholder(tf.int32, [])
    w = tf.placeholder(tf.float32, [16])
    row = tf.cast(tf.range(0, 4), tf.float32)

    def body(i, rows):
        mask = tf.reshape(tf.cast(tf.equal(row, tf.cast(i, tf.float32)), tf.float32), [4, 1])
        return i + 1, rows + mask * tf.nn.dropout(w, keep_prob=0.5, seed=3)
    _, rows = tf.while_loop(lambda i, rows: i < n, body, [tf.constant(0), tf.zeros([4, 16])])
    grad = tf.gradients(tf.reduce_sum(rows), w)[0]
    wv = np.arange(1, 17, dtype=np.float32)
    runs = []
    for _ in range(2):
        with tf.Session() as sess:
            runs.append([sess.run([rows, grad], {n: 4, w: wv}) for _ in range(3)])
    for (r0, g0), (r1, g1) in zip(*runs):  # the same sequence in a new Session
        np.testing.assert_array_equal(r0, r1)
        np.testing.assert_array_equal(g0, g1)
    for rows_v, grad_v in runs[0]:
        kept = rows_v != 0
        np.testing.assert_allclose(rows_v[kept], (2 * np.broadcast_to(wv, (4, 16)))[kept])   # scaled by 1/keep
        np.testing.assert_allclose(grad_v, 2 * kept.sum(0))                                 # the same masks
    masks = np.concatenate([(r != 0) for r, _ in runs[0]])
    assert len({m.tobytes() for m in masks}) == 12  # 12 masks of 16 draws: every iteration and run differs
