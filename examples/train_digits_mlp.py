"""A TF1-style MLP on scikit-learn's bundled digits (no download): only the import is graphc's.

Run: .venv/bin/python examples/train_digits_mlp.py [epochs]
"""
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import graphc.compat.v1 as tf


def digits():
    """Train/test split of the 8x8 digits, pixels scaled to [0, 1]."""
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    return train_test_split(x, data.target.astype(np.int32), test_size=0.25, random_state=0)


def train(epochs=30, batch_size=64, hidden=128, learning_rate=0.003, seed=0, progress=True):
    """Train the MLP; returns its test accuracy."""
    x_train, x_test, y_train, y_test = digits()
    tf.reset_default_graph()
    tf.set_random_seed(seed)

    x = tf.placeholder(tf.float32, [None, 64], name="x")
    y = tf.placeholder(tf.int32, [None], name="y")
    w1 = tf.Variable(tf.glorot_uniform_initializer()([64, hidden]), name="w1")
    b1 = tf.Variable(tf.zeros([hidden]), name="b1")
    w2 = tf.Variable(tf.glorot_uniform_initializer()([hidden, 10]), name="w2")
    b2 = tf.Variable(tf.zeros([10]), name="b2")
    h = tf.nn.relu(tf.matmul(x, w1) + b1)
    logits = tf.matmul(h, w2) + b2
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss)
    correct = tf.equal(tf.cast(tf.argmax(logits, axis=1), tf.int32), y)
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))

    rng = np.random.default_rng(seed)
    steps = epochs * (len(x_train) // batch_size)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        bar = tqdm(range(steps), desc="training", disable=not progress)
        for step in bar:
            if step % (len(x_train) // batch_size) == 0:
                order = rng.permutation(len(x_train))
            i = step % (len(x_train) // batch_size)
            idx = order[i * batch_size:(i + 1) * batch_size]
            _, loss_value = sess.run([train_op, loss], feed_dict={x: x_train[idx], y: y_train[idx]})
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss_value:.3f}")
        return float(sess.run(accuracy, feed_dict={x: x_test, y: y_test}))


if __name__ == "__main__":
    acc = train(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
    print(f"test accuracy: {acc:.4f}")
