"""GPT-style decoder on the docstrings of the installed numpy: token and position embeddings, pre-LN blocks
of causal multi-head self-attention and a GELU MLP, a final layer norm, next-character cross-entropy;
Adam with a linear warmup then cosine decay of the learning rate (fed per step)."""
import numpy as np

import graphc as gc
from .common import CharData, char_model_result, numpy_corpus, start_session, train_loop, with_precision
from .rnn import STEPS_T as CONTEXT  # same windows as the LSTM, so their losses compare

NAME, METRIC = "transformer", "valid_xent"
D, HEADS, LAYERS = 64, 4, 2


class Block:
    """x + attention(ln1(x)), then x + mlp(ln2(x)); weights created once, applied to any batch."""

    def __init__(self, k):
        glorot = gc.initializers.glorot_uniform_initializer()
        self.ln1 = (gc.Variable(np.ones(D, np.float32), name=f"b{k}/ln1/g"), gc.Variable(np.zeros(D, np.float32), name=f"b{k}/ln1/b"))
        self.ln2 = (gc.Variable(np.ones(D, np.float32), name=f"b{k}/ln2/g"), gc.Variable(np.zeros(D, np.float32), name=f"b{k}/ln2/b"))
        self.w_qkv = gc.Variable(glorot([D, 3 * D]), name=f"b{k}/attn/w_qkv")
        self.w_o = gc.Variable(glorot([D, D]) * (0.5 / LAYERS ** 0.5), name=f"b{k}/attn/w_o")
        self.w_up = gc.Variable(glorot([D, 4 * D]), name=f"b{k}/mlp/w_up")
        self.b_up = gc.Variable(np.zeros(4 * D, np.float32), name=f"b{k}/mlp/b_up")
        self.w_down = gc.Variable(glorot([4 * D, D]) * (0.5 / LAYERS ** 0.5), name=f"b{k}/mlp/w_down")
        self.b_down = gc.Variable(np.zeros(D, np.float32), name=f"b{k}/mlp/b_down")

    def __call__(self, x, mask):
        """x: [B*T, D] rows of [B, T] positions; mask: [T, T] additive causal mask."""
        dh = D // HEADS
        h = gc.layer_norm(x, *self.ln1)
        q, k, v = (gc.transpose(gc.reshape(t, [-1, CONTEXT, HEADS, dh]), [0, 2, 1, 3])
                   for t in gc.split(gc.matmul(h, self.w_qkv), 3, axis=1))        # [B, H, T, dh]
        scores = gc.matmul(q, k, transpose_b=True) * (1.0 / dh ** 0.5) + mask
        heads = gc.matmul(gc.softmax(scores), v)                                   # [B, H, T, dh]
        x = x + gc.matmul(gc.reshape(gc.transpose(heads, [0, 2, 1, 3]), [-1, D]), self.w_o)
        h = gc.nn.gelu(gc.matmul(gc.layer_norm(x, *self.ln2), self.w_up) + self.b_up)
        return x + gc.matmul(h, self.w_down) + self.b_down


def build(vocab, batch, seed=0):
    """Training step at `batch` windows, and next-character probabilities for any number of windows."""
    graph = gc.Graph()
    with graph.as_default():
        gc.set_random_seed(seed)
        normal = gc.initializers.random_normal_initializer
        tokens = gc.Variable(normal(stddev=0.1)([vocab, D]), name="embed/tokens")
        positions = gc.Variable(normal(stddev=0.02)([CONTEXT, D]), name="embed/positions")
        blocks = [Block(k) for k in range(LAYERS)]
        ln_f = (gc.Variable(np.ones(D, np.float32), name="ln_f/g"), gc.Variable(np.zeros(D, np.float32), name="ln_f/b"))
        w_out = gc.Variable(gc.initializers.glorot_uniform_initializer()([D, vocab]), name="out/w")
        mask = gc.constant(np.triu(np.full((CONTEXT, CONTEXT), -1e9, np.float32), 1))

        def forward(ids):
            x = gc.reshape(gc.gather(tokens, ids) + positions, [-1, D])
            for block in blocks:
                x = block(x, mask)
            return gc.matmul(gc.layer_norm(x, *ln_f), w_out)                       # [B*T, vocab]

        x = gc.placeholder(gc.int32, [batch, CONTEXT], name="x")
        y = gc.placeholder(gc.int32, [batch, CONTEXT], name="y")
        lr = gc.placeholder(gc.float32, [], name="lr")
        loss = gc.reduce_mean(gc.losses.sparse_softmax_cross_entropy_with_logits(
            labels=gc.reshape(y, [-1]), logits=forward(x)))
        train_op = with_precision(gc.train.AdamOptimizer(lr, beta2=0.99)).minimize(loss)
        ids = gc.placeholder(gc.int32, [None, CONTEXT], name="ids")
        probs = gc.softmax(forward(ids), name="probs")
        init = gc.global_variables_initializer()
    return dict(graph=graph, x=x, y=y, lr=lr, loss=loss, train_op=train_op, ids=ids, probs=probs, init=init)


def learning_rate(step, steps, peak=3e-3, warmup=50):
    """Linear warmup to `peak`, then cosine decay to a tenth of it."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress_ = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * progress_)))


def sample(sess, m, data, prompt="The ", length=80, seed=0):
    """A line drawn from the model; each character re-runs the window of the last CONTEXT characters."""
    rng = np.random.default_rng(seed)
    out = [data.index[c] for c in prompt]
    for _ in range(length):
        window = ([0] * CONTEXT + out)[-CONTEXT:]
        p = sess.run(m["probs"], {m["ids"]: np.array([window], np.int32)})[-1].astype(np.float64) ** 1.25
        out.append(int(rng.choice(len(p), p=p / p.sum())))
        if data.chars[out[-1]] == "\n":
            out.pop()
            break
    return data.decode(out)


def train(quick=False, steps=None, progress_bar=True, batch=32, seed=0, cpu_budget=None):
    """Adam with warmup on random windows; the bar is 35% below the unigram entropy on validation."""
    data = CharData(numpy_corpus())
    steps = steps or (10 if quick else 400)
    m = build(data.vocab, batch, seed)
    sess = start_session(m)
    rng = np.random.default_rng(seed)

    def step(i):
        x, y = data.batch(rng, batch, CONTEXT)
        return sess.run([m["train_op"], m["loss"]], {m["x"]: x, m["y"]: y, m["lr"]: learning_rate(i, steps)})[1]

    trained = train_loop(step, steps, NAME, progress_bar, cpu_budget)
    feeds = {m["ids"]: data.batch(np.random.default_rng(2), 2, CONTEXT, "valid")[0]}
    text = sample(sess, m, data, length=10 if quick else 80)
    return char_model_result(NAME, quick, sess, m, data, batch, trained, text, feeds)
