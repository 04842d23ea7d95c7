"""The training steps of the model zoo's cnn, rnn and transformer for benchmarks/run.py (workloads g, h, i).

graphc runs the model exactly as graphc.models builds it (cnn without dropout, so that a step is
deterministic); TensorFlow's tf.compat.v1 (graph mode) and PyTorch eager run ports of it with the same
sizes, the same initial weights (read from graphc's session) and the same batch. Every step function
returns [loss]; every state function returns the trainable weights in graphc's layout, so run.py can
check the peers' first step against graphc's.
"""
import math

import numpy as np

import graphc as gc
from graphc.models import cnn, rnn, transformer
from graphc.models.common import CharData, digits, numpy_corpus, start_session

CNN_BATCH, CNN_LR = 64, 0.05
CHAR_BATCH, TRANSFORMER_LR = 32, 1e-3


class Zoo:
    """A zoo model's graphc training step, its initial weights by name and the batch every runner feeds."""

    def __init__(self, model, feed, batch):
        self.model, self.batch = model, batch
        self.sess = start_session(model)
        with model["graph"].as_default():
            self.variables = gc.trainable_variables()
        self.names = [v.op.name for v in self.variables]
        self.weights = dict(zip(self.names, self.sess.run([v.value() for v in self.variables])))
        self.feed = feed

    def step(self):
        """One graphc training step: [loss]."""
        return [self.sess.run([self.model["train_op"], self.model["loss"]], self.feed)[1]]

    def state(self):
        """graphc's trainable weights, in `names` order."""
        return self.sess.run([v.value() for v in self.variables])


def cnn_zoo():
    """graphc's cnn (no dropout) on one batch of digits at 16x16."""
    x_train, _, y_train, _ = digits(cnn.SIZE)
    x, y = x_train[:CNN_BATCH, None], y_train[:CNN_BATCH]
    m = cnn.build(dropout=0)
    return Zoo(m, {m["x"]: x, m["y"]: y, m["lr"]: np.float32(CNN_LR)}, (x, y))


def _char_batch(steps_t):
    data = CharData(numpy_corpus())
    return data, data.batch(np.random.default_rng(1), CHAR_BATCH, steps_t)


def rnn_zoo():
    """graphc's LSTM language model, 64 unrolled steps, batch 32."""
    data, (x, y) = _char_batch(rnn.STEPS_T)
    m = rnn.build(data.vocab, CHAR_BATCH)
    return Zoo(m, {m["x"]: x, m["y"]: y}, (x, y))


def transformer_zoo():
    """graphc's GPT-style decoder, 64-character windows, batch 32, a fixed learning rate."""
    data, (x, y) = _char_batch(transformer.CONTEXT)
    m = transformer.build(data.vocab, CHAR_BATCH)
    return Zoo(m, {m["x"]: x, m["y"]: y, m["lr"]: np.float32(TRANSFORMER_LR)}, (x, y))


# ---- TensorFlow tf.compat.v1 ports ----------------------------------------------------------------------
def _tf_finish(tf, session, graph, variables, loss, optimizer, feed, extra_updates=(), clip=None, to_graphc=None):
    """Minimize `loss` over `variables` (gradients clipped by global norm when `clip`); (step, state)."""
    with graph.as_default():
        grads = tf.gradients(loss, variables)
        if clip:
            grads, _ = tf.clip_by_global_norm(grads, clip)
        train = tf.group(optimizer.apply_gradients(list(zip(grads, variables))), *extra_updates)
        init = tf.global_variables_initializer()
    sess = session(graph)
    sess.run(init)
    read = (lambda: to_graphc(sess.run(variables))) if to_graphc else (lambda: sess.run(variables))
    return (lambda: [sess.run([train, loss], feed)[1]]), read


CONVS = ("conv1/w", "conv2/w")


def _hwio(w):
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))  # graphc's OIHW -> TensorFlow's HWIO


def cnn_tf(zoo, tf, session):
    """The cnn in NHWC (TensorFlow's CPU convolutions), weights transposed once at the start."""
    w, (x, y) = zoo.weights, zoo.batch
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.Variable(_hwio(w[k]) if k in CONVS else w[k]) for k in zoo.names]
        v = dict(zip(zoo.names, variables))
        px = tf.placeholder(tf.float32, [None, cnn.SIZE, cnn.SIZE, 1])
        py = tf.placeholder(tf.int32, [None])
        updates = []

        def block(h, conv, bn):
            h = tf.nn.conv2d(h, v[conv], strides=[1, 1, 1, 1], padding="SAME")
            mean, var = tf.nn.moments(h, [0, 1, 2], keepdims=True)
            for name, stat in (("mean", mean), ("var", var)):  # the moving statistics, as the cnn's BatchNorm
                moving = tf.Variable(np.zeros((1, 1, 1, h.shape[-1])) + (name == "var"), dtype=tf.float32)
                updates.append(tf.assign(moving, moving * 0.9 + tf.stop_gradient(stat) * 0.1))
            gamma, beta = (tf.reshape(v[f"{bn}/{p}"], [1, 1, 1, -1]) for p in ("gamma", "beta"))
            h = tf.nn.relu((h - mean) * tf.rsqrt(var + 1e-5) * gamma + beta)
            return tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")

        h = block(block(px, "conv1/w", "bn1"), "conv2/w", "bn2")
        h = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [-1, 256])  # graphc flattens NCHW
        h = tf.nn.relu(tf.matmul(h, v["fc1/w"]) + v["fc1/b"])
        logits = tf.matmul(h, v["fc2/w"]) + v["fc2/b"]
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=py, logits=logits))
        optimizer = tf.train.MomentumOptimizer(CNN_LR, 0.9)

    def to_graphc(values):
        return [a.transpose(3, 2, 0, 1) if k in CONVS else a for k, a in zip(zoo.names, values)]
    return _tf_finish(tf, session, graph, variables, loss, optimizer, {px: x.transpose(0, 2, 3, 1), py: y},
                      updates, to_graphc=to_graphc)


def _tf_variables(tf, zoo):
    variables = [tf.Variable(zoo.weights[k]) for k in zoo.names]
    return variables, dict(zip(zoo.names, variables))


def rnn_tf(zoo, tf, session):
    """The LSTM as TF1's static_rnn would unroll it: tf.unstack over time, one cell applied 64 times."""
    (x, y), hidden, steps_t = zoo.batch, rnn.HIDDEN, rnn.STEPS_T
    graph = tf.Graph()
    with graph.as_default():
        variables, v = _tf_variables(tf, zoo)
        px, py = tf.placeholder(tf.int32, x.shape), tf.placeholder(tf.int32, y.shape)
        embedded = tf.reshape(tf.gather(v["embedding"], px), [-1, rnn.EMBED])
        x_proj = tf.reshape(tf.matmul(embedded, v["lstm/w_x"]) + v["lstm/b"], [len(x), steps_t, 4 * hidden])
        h = c = tf.zeros([len(x), hidden])
        outputs = []
        for x_t in tf.unstack(x_proj, axis=1):
            i, f, g, o = tf.split(x_t + tf.matmul(h, v["lstm/w_h"]), 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            outputs.append(h)
        logits = tf.matmul(tf.reshape(tf.stack(outputs, axis=1), [-1, hidden]), v["out/w"]) + v["out/b"]
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.reshape(py, [-1]),
                                                                             logits=logits))
        optimizer = tf.train.AdamOptimizer(3e-3)
    return _tf_finish(tf, session, graph, variables, loss, optimizer, {px: x, py: y}, clip=1.0)


def _tf_layer_norm(tf, x, gamma, beta):
    mean, var = tf.nn.moments(x, [1], keepdims=True)
    return (x - mean) * tf.rsqrt(var + 1e-5) * gamma + beta


def transformer_tf(zoo, tf, session):
    """The decoder with TF1 ops: pre-LN blocks, causal softmax attention, exact (erf) GELU."""
    (x, y), d, heads, t = zoo.batch, transformer.D, transformer.HEADS, transformer.CONTEXT
    graph = tf.Graph()
    with graph.as_default():
        variables, v = _tf_variables(tf, zoo)
        px, py = tf.placeholder(tf.int32, x.shape), tf.placeholder(tf.int32, y.shape)
        mask = tf.constant(np.triu(np.full((t, t), -1e9, np.float32), 1))
        h = tf.reshape(tf.gather(v["embed/tokens"], px) + v["embed/positions"], [-1, d])
        for k in range(transformer.LAYERS):
            b = lambda name: v[f"b{k}/{name}"]  # noqa: E731
            a = _tf_layer_norm(tf, h, b("ln1/g"), b("ln1/b"))
            q, kk, vv = (tf.transpose(tf.reshape(p, [-1, t, heads, d // heads]), [0, 2, 1, 3])
                         for p in tf.split(tf.matmul(a, b("attn/w_qkv")), 3, axis=1))
            scores = tf.matmul(q, kk, transpose_b=True) * (1.0 / (d // heads) ** 0.5) + mask
            att = tf.reshape(tf.transpose(tf.matmul(tf.nn.softmax(scores), vv), [0, 2, 1, 3]), [-1, d])
            h = h + tf.matmul(att, b("attn/w_o"))
            u = tf.matmul(_tf_layer_norm(tf, h, b("ln2/g"), b("ln2/b")), b("mlp/w_up")) + b("mlp/b_up")
            u = 0.5 * u * (1.0 + tf.math.erf(u / math.sqrt(2.0)))
            h = h + tf.matmul(u, b("mlp/w_down")) + b("mlp/b_down")
        logits = tf.matmul(_tf_layer_norm(tf, h, v["ln_f/g"], v["ln_f/b"]), v["out/w"])
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.reshape(py, [-1]),
                                                                             logits=logits))
        optimizer = tf.train.AdamOptimizer(TRANSFORMER_LR, beta2=0.99)
    return _tf_finish(tf, session, graph, variables, loss, optimizer, {px: x, py: y})


# ---- PyTorch eager ports ----------------------------------------------------------------------------------
def _tf1_adam(torch, params, lr, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """TF1's Adam as graphc and TensorFlow run it (bias correction folded into the step size, epsilon
    outside the square root's correction): torch.optim.Adam scales epsilon differently."""
    slots = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    count = [0]

    def update():
        count[0] += 1
        lr_t = lr * math.sqrt(1 - beta2 ** count[0]) / (1 - beta1 ** count[0])
        with torch.no_grad():
            for p, (m, s) in zip(params, slots):
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                s.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                p.sub_(lr_t * m / (s.sqrt() + epsilon))
    return update


def _torch_params(torch, zoo):
    params = [torch.nn.Parameter(torch.from_numpy(zoo.weights[k].copy())) for k in zoo.names]
    return params, dict(zip(zoo.names, params))


def _torch_runner(torch, params, forward, update, clip=None):
    """(step, state) for a loss `forward()` over `params` and an optimizer `update()`."""
    def step():
        for p in params:
            p.grad = None
        loss = forward()
        loss.backward()
        if clip:  # TF's clip_by_global_norm: t * clip / max(norm, clip)
            norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
            scale = clip / torch.clamp(norm, min=clip)
            for p in params:
                p.grad.mul_(scale)
        update()
        return [loss.detach().numpy()]
    return step, lambda: [p.detach().numpy().copy() for p in params]


def cnn_torch(zoo, torch):
    """The cnn in PyTorch (NCHW, as graphc), momentum SGD."""
    F = torch.nn.functional
    params, v = _torch_params(torch, zoo)
    tx, ty = torch.from_numpy(zoo.batch[0]), torch.from_numpy(zoo.batch[1].astype(np.int64))
    moving = {bn: [torch.zeros(1, c, 1, 1), torch.ones(1, c, 1, 1)] for bn, c in (("bn1", 8), ("bn2", 16))}

    def block(h, conv, bn):
        h = F.conv2d(h, v[conv], padding=2)
        mean = h.mean((0, 2, 3), keepdim=True)
        var = ((h - mean) ** 2).mean((0, 2, 3), keepdim=True)
        with torch.no_grad():
            for stat, new in zip(moving[bn], (mean, var)):
                stat.mul_(0.9).add_(new, alpha=0.1)
        h = F.relu((h - mean) * torch.rsqrt(var + 1e-5) * v[f"{bn}/gamma"] + v[f"{bn}/beta"])
        return F.max_pool2d(h, 2, 2)

    def forward():
        h = block(block(tx, "conv1/w", "bn1"), "conv2/w", "bn2").reshape(-1, 256)
        h = F.relu(h @ v["fc1/w"] + v["fc1/b"])
        return F.cross_entropy(h @ v["fc2/w"] + v["fc2/b"], ty)
    return _torch_runner(torch, params, forward, torch.optim.SGD(params, lr=CNN_LR, momentum=0.9).step)


def rnn_torch(zoo, torch):
    """The LSTM unrolled in Python, one cell applied 64 times."""
    params, v = _torch_params(torch, zoo)
    x, y = (torch.from_numpy(a.astype(np.int64)) for a in zoo.batch)
    hidden = rnn.HIDDEN

    def forward():
        x_proj = (v["embedding"][x].reshape(-1, rnn.EMBED) @ v["lstm/w_x"] + v["lstm/b"]).reshape(len(x), -1, 4 * hidden)
        h = c = torch.zeros(len(x), hidden)
        outputs = []
        for x_t in x_proj.unbind(1):
            i, f, g, o = (x_t + h @ v["lstm/w_h"]).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        logits = torch.stack(outputs, 1).reshape(-1, hidden) @ v["out/w"] + v["out/b"]
        return torch.nn.functional.cross_entropy(logits, y.reshape(-1))
    return _torch_runner(torch, params, forward, _tf1_adam(torch, params, 3e-3), clip=1.0)


def transformer_torch(zoo, torch):
    """The decoder in PyTorch: F.layer_norm, softmax attention with the additive causal mask, F.gelu."""
    F = torch.nn.functional
    params, v = _torch_params(torch, zoo)
    x, y = (torch.from_numpy(a.astype(np.int64)) for a in zoo.batch)
    d, heads, t = transformer.D, transformer.HEADS, transformer.CONTEXT
    mask = torch.from_numpy(np.triu(np.full((t, t), -1e9, np.float32), 1))

    def forward():
        h = (v["embed/tokens"][x] + v["embed/positions"]).reshape(-1, d)
        for k in range(transformer.LAYERS):
            b = lambda name: v[f"b{k}/{name}"]  # noqa: E731
            a = F.layer_norm(h, (d,), b("ln1/g"), b("ln1/b"), 1e-5)
            q, kk, vv = ((p.reshape(-1, t, heads, d // heads).transpose(1, 2)) for p in (a @ b("attn/w_qkv")).chunk(3, 1))
            scores = q @ kk.transpose(2, 3) * (1.0 / (d // heads) ** 0.5) + mask
            h = h + (torch.softmax(scores, -1) @ vv).transpose(1, 2).reshape(-1, d) @ b("attn/w_o")
            u = F.gelu(F.layer_norm(h, (d,), b("ln2/g"), b("ln2/b"), 1e-5) @ b("mlp/w_up") + b("mlp/b_up"))
            h = h + u @ b("mlp/w_down") + b("mlp/b_down")
        logits = F.layer_norm(h, (d,), v["ln_f/g"], v["ln_f/b"], 1e-5) @ v["out/w"]
        return F.cross_entropy(logits, y.reshape(-1))
    return _torch_runner(torch, params, forward, _tf1_adam(torch, params, TRANSFORMER_LR, beta2=0.99))


ZOO = {"cnn": (cnn_zoo, cnn_tf, cnn_torch), "rnn": (rnn_zoo, rnn_tf, rnn_torch),
       "transformer": (transformer_zoo, transformer_tf, transformer_torch)}
