"""LeNet-5-style convolutional network on scikit-learn's digits upsampled to 16x16: two 5x5 convolutions,
each with batch normalization (batch statistics in training, moving averages in inference), ReLU and 2x2
max pooling, then two dense layers with dropout between them. Layout NCHW, graphc's native conv/max_pool."""
import numpy as np

import graphc as gc
from .common import Result, digits, quick_result, start_session, train_loop, with_precision

NAME, METRIC, TARGET = "cnn", "test_accuracy", ">= 0.97"
SIZE = 16


class BatchNorm:
    """Batch normalization over N, H, W of NCHW activations, with moving statistics for inference."""

    def __init__(self, channels, name, momentum=0.9, epsilon=1e-5):
        self.gamma = gc.Variable(np.ones((1, channels, 1, 1), np.float32), name=f"{name}/gamma")
        self.beta = gc.Variable(np.zeros((1, channels, 1, 1), np.float32), name=f"{name}/beta")
        self.mean = gc.Variable(np.zeros((1, channels, 1, 1), np.float32), trainable=False, name=f"{name}/mean")
        self.var = gc.Variable(np.ones((1, channels, 1, 1), np.float32), trainable=False, name=f"{name}/var")
        self.momentum, self.epsilon, self.updates = momentum, epsilon, []

    def __call__(self, x, training):
        """Normalized x; in training also records the moving-average updates (self.updates)."""
        if training:
            mean = gc.reduce_mean(x, axis=[0, 2, 3], keepdims=True)
            var = gc.reduce_mean(gc.square(x - mean), axis=[0, 2, 3], keepdims=True)
            m = self.momentum
            self.updates += [gc.assign(self.mean, self.mean * m + gc.stop_gradient(mean) * (1 - m)),
                             gc.assign(self.var, self.var * m + gc.stop_gradient(var) * (1 - m))]
        else:
            mean, var = self.mean.value(), self.var.value()
        return (x - mean) * gc.rsqrt(var + self.epsilon) * self.gamma + self.beta


def build(seed=0, dropout=0.25):
    """The network with its training loss/step and an inference output sharing the weights (dropout=0: none,
    so that a training step is deterministic, as the benchmark against TensorFlow and PyTorch needs)."""
    graph = gc.Graph()
    with graph.as_default():
        gc.set_random_seed(seed)
        he = gc.initializers.random_normal_initializer
        x = gc.placeholder(gc.float32, [None, 1, SIZE, SIZE], name="x")
        y = gc.placeholder(gc.int32, [None], name="y")
        lr = gc.placeholder(gc.float32, [], name="lr")
        w1 = gc.Variable(he(stddev=np.sqrt(2 / 25))([8, 1, 5, 5]), name="conv1/w")
        w2 = gc.Variable(he(stddev=np.sqrt(2 / 200))([16, 8, 5, 5]), name="conv2/w")
        w3 = gc.Variable(he(stddev=np.sqrt(2 / 256))([256, 120]), name="fc1/w")
        b3 = gc.Variable(np.zeros(120, np.float32), name="fc1/b")
        w4 = gc.Variable(he(stddev=np.sqrt(1 / 120))([120, 10]), name="fc2/w")
        b4 = gc.Variable(np.zeros(10, np.float32), name="fc2/b")
        bn1, bn2 = BatchNorm(8, "bn1"), BatchNorm(16, "bn2")

        def forward(images, training):
            h = gc.conv(images, w1, pads=[2, 2, 2, 2])                                    # 8 x 16 x 16
            h = gc.max_pool(gc.relu(bn1(h, training)), [2, 2], strides=[2, 2])           # 8 x 8 x 8
            h = gc.conv(h, w2, pads=[2, 2, 2, 2])                                         # 16 x 8 x 8
            h = gc.max_pool(gc.relu(bn2(h, training)), [2, 2], strides=[2, 2])           # 16 x 4 x 4
            h = gc.relu(gc.matmul(gc.reshape(h, [-1, 256]), w3) + b3)
            if training and dropout:  # a fresh mask every Session.run
                h = gc.dropout(h, rate=dropout)
            return gc.matmul(h, w4) + b4

        logits = forward(x, training=True)
        loss = gc.reduce_mean(gc.losses.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        step = with_precision(gc.train.MomentumOptimizer(lr, 0.9)).minimize(loss)
        train_op = gc.group(step, *bn1.updates, *bn2.updates)
        probs = gc.softmax(forward(x, training=False), name="probs")
        init = gc.global_variables_initializer()
    return dict(graph=graph, x=x, y=y, lr=lr, loss=loss, train_op=train_op, probs=probs, init=init)


def train(quick=False, steps=None, progress_bar=True, batch=64, seed=0):
    """SGD with momentum and a cosine learning rate; test accuracy on the held-out quarter."""
    x_train, x_test, y_train, y_test = digits(SIZE)
    x_train, x_test = x_train[:, None], x_test[:, None]
    steps = steps or (15 if quick else 400)
    m = build(seed)
    sess = start_session(m)
    rng = np.random.default_rng(seed)

    def step(i):
        idx = rng.choice(len(x_train), batch, replace=False)
        lr = 0.05 * 0.5 * (1 + np.cos(np.pi * i / steps))
        return sess.run([m["train_op"], m["loss"]], {m["x"]: x_train[idx], m["y"]: y_train[idx], m["lr"]: lr})[1]

    trained = train_loop(step, steps, NAME, progress_bar)
    accuracy = float((sess.run(m["probs"], {m["x"]: x_test}).argmax(1) == y_test).mean())
    feeds = {m["x"]: x_test[:8]}
    extra = {"test_accuracy": f"{accuracy:.4f}", **trained.times()}
    if quick:
        return quick_result(NAME, trained.losses, sess, [m["probs"]], feeds, extra)
    return Result(NAME, METRIC, accuracy, TARGET, accuracy >= 0.97, trained.losses, sess, [m["probs"]], feeds, extra)
