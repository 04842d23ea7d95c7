"""Fusion and memory planning on the MLP 784-512-512-10 (batch 128): kernels, planned arena bytes
and median step time at opt level 0 (one op per kernel, no planning) against 3.

Run: .venv/bin/python benchmarks/bench_fusion.py
"""
import os

os.environ.setdefault("TVM_NUM_THREADS", "2")

import numpy as np  # noqa: E402

import graphc.compat.v1 as tf  # noqa: E402
from common import median_seconds  # noqa: E402


def build(seed=0):
    """The MLP's inference output, its training step, and a feed."""
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, [None, 784])
    labels = tf.placeholder(tf.int32, [None])
    h = x
    for i, (a, b) in enumerate([(784, 512), (512, 512), (512, 10)]):
        h = tf.matmul(h, tf.Variable(tf.glorot_uniform_initializer()([a, b]))) + tf.Variable(tf.zeros([b]))
        h = tf.nn.relu(h) if i < 2 else h
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=h))
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    rng = np.random.default_rng(seed)
    feed = {x: rng.random((128, 784), np.float32), labels: rng.integers(0, 10, 128).astype(np.int32)}
    return h, [train, loss], feed


def main():
    rows = []
    for name in ("forward", "training step"):
        for level in (0, 3):
            logits, step, feed = build()
            fetches = logits if name == "forward" else step
            with tf.Session(opt_level=level) as sess:
                sess.run(tf.global_variables_initializer())
                exe = sess.compiled(fetches, feed)
                ms = 1e3 * median_seconds(lambda: sess.run(fetches, feed))
                rows.append((name, level, exe.num_kernels, exe.arena_bytes or exe.unplanned_bytes,
                             exe.unplanned_bytes, ms))
    print(f"{'graph':>14} {'opt':>4} {'kernels':>8} {'memory bytes':>13} {'unplanned':>10} {'median ms':>10}")
    for name, level, k, mem, unplanned, ms in rows:
        print(f"{name:>14} {level:>4} {k:>8} {mem:>13} {unplanned:>10} {ms:>10.3f}")


if __name__ == "__main__":
    main()
