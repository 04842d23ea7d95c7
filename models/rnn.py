"""LSTM character language model on the docstrings of the installed numpy, unrolled over 64 steps in the
graph (TF1 static_rnn style: one cell applied 64 times, sharing its weights), trained with Adam and
gradients clipped by their global norm; samples a line from the trained model."""
import numpy as np

import graphc as gc
from graphc.compat.v1 import clip_by_global_norm
from .common import CharData, char_model_result, numpy_corpus, start_session, train_loop

NAME, METRIC = "rnn", "valid_xent"
STEPS_T, HIDDEN, EMBED = 64, 256, 32


class LSTMCell:
    """One LSTM cell: gates i, f, g, o from [x, h]; the input projection is applied to all steps at once."""

    def __init__(self, n_in, hidden):
        glorot = gc.initializers.glorot_uniform_initializer()
        self.hidden = hidden
        self.w_x = gc.Variable(glorot([n_in, 4 * hidden]), name="lstm/w_x")
        self.w_h = gc.Variable(glorot([hidden, 4 * hidden]), name="lstm/w_h")
        bias = np.zeros(4 * hidden, np.float32)
        bias[hidden:2 * hidden] = 1.0  # forget gate starts open
        self.b = gc.Variable(bias, name="lstm/b")

    def step(self, x_proj, h, c):
        """(h, c) after one step, from the projected input x_proj = x @ w_x + b."""
        i, f, g, o = gc.split(x_proj + gc.matmul(h, self.w_h), 4, axis=1)
        c = gc.sigmoid(f) * c + gc.sigmoid(i) * gc.tanh(g)
        return gc.sigmoid(o) * gc.tanh(c), c


def build(vocab, batch, seed=0, clip=1.0, steps_t=STEPS_T):
    """Training graph unrolled over steps_t, and a one-step graph (same weights) for sampling."""
    graph = gc.Graph()
    with graph.as_default():
        gc.set_random_seed(seed)
        glorot = gc.initializers.glorot_uniform_initializer()
        embedding = gc.Variable(gc.initializers.random_normal_initializer(stddev=0.1)([vocab, EMBED]), name="embedding")
        cell = LSTMCell(EMBED, HIDDEN)
        w_out = gc.Variable(glorot([HIDDEN, vocab]), name="out/w")
        b_out = gc.Variable(np.zeros(vocab, np.float32), name="out/b")

        x = gc.placeholder(gc.int32, [batch, steps_t], name="x")
        y = gc.placeholder(gc.int32, [batch, steps_t], name="y")
        x_proj = gc.reshape(gc.matmul(gc.reshape(gc.gather(embedding, x), [-1, EMBED]), cell.w_x) + cell.b,
                            [batch, steps_t, 4 * HIDDEN])
        h = c = gc.zeros([batch, HIDDEN])
        outputs = []
        # unstack (a split), not x_proj[:, t, :]: the gradient of 64 slices would be 64 full-size sums
        for x_t in gc.unstack(x_proj, axis=1):
            h, c = cell.step(x_t, h, c)
            outputs.append(h)
        logits = gc.matmul(gc.reshape(gc.stack(outputs, axis=1), [-1, HIDDEN]), w_out) + b_out
        loss = gc.reduce_mean(gc.losses.sparse_softmax_cross_entropy_with_logits(
            labels=gc.reshape(y, [-1]), logits=logits))
        variables = gc.trainable_variables()
        grads, norm = clip_by_global_norm(gc.gradients(loss, [v.value() for v in variables]), clip)
        train_op = gc.train.AdamOptimizer(3e-3).apply_gradients(list(zip(grads, variables)))

        # one step, for sampling and export: a character and the state in, next-character probabilities out
        char = gc.placeholder(gc.int32, [None], name="char")
        h_in = gc.placeholder(gc.float32, [None, HIDDEN], name="h")
        c_in = gc.placeholder(gc.float32, [None, HIDDEN], name="c")
        h_out, c_out = cell.step(gc.matmul(gc.gather(embedding, char), cell.w_x) + cell.b, h_in, c_in)
        probs = gc.softmax(gc.matmul(h_out, w_out) + b_out, name="probs")
        init = gc.global_variables_initializer()
    return dict(graph=graph, x=x, y=y, loss=loss, norm=norm, train_op=train_op, char=char, h=h_in, c=c_in,
                probs=probs, h_out=h_out, c_out=c_out, init=init)


def sample(sess, m, data, prompt="The ", length=80, seed=0):
    """A line drawn from the model, one character per Session.run of the one-step graph."""
    rng = np.random.default_rng(seed)
    h = np.zeros((1, HIDDEN), np.float32)
    c = np.zeros((1, HIDDEN), np.float32)
    out = list(prompt)
    char = data.index[prompt[0]]
    for k in range(len(prompt) + length - 1):
        p, h, c = sess.run([m["probs"], m["h_out"], m["c_out"]], {m["char"]: [char], m["h"]: h, m["c"]: c})
        if k + 1 < len(prompt):
            char = data.index[prompt[k + 1]]
            continue
        p = p[0].astype(np.float64) ** 1.25  # a little colder than the model, for readable text
        char = int(rng.choice(len(p), p=p / p.sum()))
        if data.chars[char] == "\n":
            break
        out.append(data.chars[char])
    return "".join(out)


def train(quick=False, steps=None, progress_bar=True, batch=32, seed=0, cpu_budget=None):
    """Adam on random 64-character windows; the bar is 35% below the unigram entropy on validation."""
    data = CharData(numpy_corpus())
    steps = steps or (10 if quick else 400)
    steps_t = 8 if quick else STEPS_T  # quick: 8 unrolled steps compile in a fraction of the time
    m = build(data.vocab, batch, seed, steps_t=steps_t)
    sess = start_session(m)
    rng = np.random.default_rng(seed)

    def step(i):
        x, y = data.batch(rng, batch, steps_t)
        return sess.run([m["train_op"], m["loss"]], {m["x"]: x, m["y"]: y})[1]

    trained = train_loop(step, steps, NAME, progress_bar, cpu_budget)
    feeds = {m["char"]: np.array([1, 2], np.int32), m["h"]: np.zeros((2, HIDDEN), np.float32),
             m["c"]: np.zeros((2, HIDDEN), np.float32)}
    text = sample(sess, m, data, length=20 if quick else 80)
    return char_model_result(NAME, quick, sess, m, data, batch, trained, text, feeds)
