"""The digits MLP trained data-parallel on N processes, Horovod-style: every rank takes its slice of each
global batch, gradients are averaged across ranks (in buckets, while the backward pass runs) and every rank
applies the same update.

Run: graphc launch -n 2 python examples/train_distributed.py [epochs]
     (alone, `python examples/train_distributed.py` is a 1-process job)
"""
import sys
import time

import numpy as np

import graphc.compat.v1 as tf
import graphc.distributed as hvd
from train_digits_mlp import digits


def train(epochs=20, global_batch=128, hidden=128, learning_rate=0.003, seed=0):
    """Train on this rank's shards; returns (test accuracy, training samples per second over all ranks)."""
    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    if global_batch % size:
        raise SystemExit(f"the global batch {global_batch} does not split evenly over {size} processes")
    x_train, x_test, y_train, y_test = digits()
    tf.set_random_seed(seed + rank)  # the ranks start apart; broadcast_global_variables makes them agree

    x = tf.placeholder(tf.float32, [None, 64], name="x")
    y = tf.placeholder(tf.int32, [None], name="y")
    w1 = tf.Variable(tf.glorot_uniform_initializer()([64, hidden]), name="w1")
    b1 = tf.Variable(tf.zeros([hidden]), name="b1")
    w2 = tf.Variable(tf.glorot_uniform_initializer()([hidden, 10]), name="w2")
    b2 = tf.Variable(tf.zeros([10]), name="b2")
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2) + b2
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train_op = hvd.DistributedOptimizer(tf.train.AdamOptimizer(learning_rate)).minimize(loss)
    mean_loss = hvd.allreduce(loss)  # the global batch's loss, for the log
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.cast(tf.argmax(logits, axis=1), tf.int32), y), tf.float32))

    rng = np.random.default_rng(seed)  # the same permutation on every rank: each takes its slice
    per_rank, steps_per_epoch = global_batch // size, len(x_train) // global_batch
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(hvd.broadcast_global_variables(0))
        start, samples = None, 0
        for epoch in range(epochs):
            order = rng.permutation(len(x_train))
            for i in range(steps_per_epoch):
                idx = order[i * global_batch + rank * per_rank:i * global_batch + (rank + 1) * per_rank]
                _, value = sess.run([train_op, mean_loss], {x: x_train[idx], y: y_train[idx]})
                if start is None:
                    start = time.perf_counter()  # after the first step, which compiles
                else:
                    samples += global_batch
            if rank == 0 and (epoch % 5 == 4 or epoch == epochs - 1):
                print(f"epoch {epoch + 1:3d}  loss {value:.4f}", flush=True)
        rate = samples / (time.perf_counter() - start)
        return float(sess.run(accuracy, {x: x_test, y: y_test})), rate


if __name__ == "__main__":
    acc, rate = train(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
    if hvd.rank() == 0:
        print(f"{hvd.size()} processes: test accuracy {acc:.4f}, {rate:.0f} training samples/s")
