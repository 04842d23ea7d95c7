"""tf.summary event files read back by TensorBoard's own reader; Chrome traces of traced runs."""
import json

import numpy as np
import pytest

import graphc.compat.v1 as tf
from graphc import summary
from graphc.timeline import Timeline

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402


def _reload(logdir):
    acc = event_accumulator.EventAccumulator(str(logdir), size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0, event_accumulator.IMAGES: 0})
    acc.Reload()
    return acc


def test_event_file_is_read_back_by_tensorboard(tmp_path):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.Variable(np.arange(3, dtype=np.float32).reshape(3, 1), name="w")
        with tf.name_scope("train"):
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w)))
            tf.summary.scalar("loss", loss)
        tf.summary.histogram("x_values", x)
        tf.summary.image("img", tf.reshape(x, [-1, 1, 3, 1]), max_outputs=2)
        merged = tf.summary.merge_all()
        init = tf.global_variables_initializer()
    rng = np.random.default_rng(0)
    feeds = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]
    with tf.Session(graph=g) as sess:
        sess.run(init)
        writer = tf.summary.FileWriter(str(tmp_path), sess.graph)
        for step, f in enumerate(feeds):
            s = sess.run(merged, feed_dict={x: f})
            assert isinstance(s, bytes)
            writer.add_summary(s, step)
        writer.flush()
        writer.close()
    acc = _reload(tmp_path)
    tags = acc.Tags()
    assert tags["scalars"] == ["train/loss"]
    assert tags["histograms"] == ["x_values"]
    assert sorted(tags["images"]) == ["img/image/0", "img/image/1"]
    assert tags["graph"]
    w_np = np.arange(3, dtype=np.float32).reshape(3, 1)
    got = [(e.step, e.value) for e in acc.Scalars("train/loss")]
    assert [s for s, _ in got] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in got], [np.mean((f @ w_np) ** 2) for f in feeds], rtol=1e-5)
    h = acc.Histograms("x_values")[-1].histogram_value
    assert h.num == 12 and np.isclose(h.min, feeds[-1].min()) and np.isclose(h.sum, feeds[-1].sum(), atol=1e-4)
    assert sum(h.bucket) == 12
    img = acc.Images("img/image/0")[-1]
    assert (img.width, img.height) == (3, 1) and img.encoded_image_string.startswith(b"\x89PNG")
    names = {n.name for n in acc.Graph().node}
    assert {"x", "w", "train/loss"} <= names


def test_merge_all_without_summaries_is_none():
    with tf.Graph().as_default():
        assert tf.summary.merge_all() is None


def test_scalar_summary_of_a_vector_is_refused():
    with tf.Graph().as_default() as g:
        s = tf.summary.scalar("v", tf.constant([1.0, 2.0]))
        with tf.Session(graph=g) as sess, pytest.raises(ValueError, match="needs a scalar"):
            sess.run(s)


def test_histogram_buckets_count_every_value():
    v = np.array([-3.0, -1e-13, 0.0, 0.0, 2.5, 2.5, 1e6])
    h = summary.histogram_proto(v)
    assert sum(h.bucket) == len(v) and h.num == len(v)
    # each value lies in its bucket: above the previous edge, at most the bucket's own edge
    edges = summary._bucket_limits()
    for x in v:
        i = np.searchsorted(edges, x, side="left")
        assert edges[i] >= x and (i == 0 or edges[i - 1] < x)
        assert edges[i] in list(h.bucket_limit)


def test_full_trace_lists_every_kernel():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [2, 3])
        y = tf.reduce_sum(tf.nn.relu(tf.matmul(x, tf.transpose(x))) + 1.0, axis=1)
        z = tf.nn.softmax(y)
    feed = {x: np.arange(6, dtype=np.float32).reshape(2, 3)}
    with tf.Session(graph=g) as sess:
        meta = tf.RunMetadata()
        out = sess.run(z, feed_dict=feed, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                       run_metadata=meta)
        plain = sess.run(z, feed_dict=feed)
        kernels = [c.kernel for c in sess.compiled(z, feed).plan.calls]
    np.testing.assert_array_equal(out, plain)
    trace = json.loads(Timeline(meta.step_stats).generate_chrome_trace_format())
    calls = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert kernels and [e["name"] for e in calls] == kernels
    assert all(e["dur"] >= 1 and e["ts"] > 0 for e in calls)
    starts = [e["ts"] for e in calls]
    assert starts == sorted(starts)


def test_untraced_run_leaves_metadata_empty():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [2])
        y = x * 2.0
    with tf.Session(graph=g) as sess:
        meta = tf.RunMetadata()
        sess.run(y, feed_dict={x: np.ones(2, np.float32)}, run_metadata=meta)
    assert meta.step_stats.dev_stats == []
