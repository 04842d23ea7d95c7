"""Mixture-of-experts classifier on scikit-learn's digits: a linear router picks the top 2 of 8 expert
MLPs per example; each expert takes at most `capacity` examples of a batch (GShard-style dispatch and
combine tensors, all matmuls; an example over an expert's capacity skips that expert); an auxiliary
load-balancing loss (Switch Transformer's E * sum_e f_e P_e, f_e over both choices) keeps the experts evenly used."""
import numpy as np

import graphc as gc
from .common import Result, digits, quick_result, start_session, train_loop

NAME, METRIC = "moe", "test_accuracy"
EXPERTS, TOP, HIDDEN, CLASSES = 8, 2, 64, 10


def capacity(batch, factor):
    """Examples one expert may take from a batch: factor x its even share of the top-2 assignments."""
    return int(np.ceil(factor * batch * TOP / EXPERTS))


def build(batch, eval_batch, seed=0, train_factor=1.25, eval_factor=2.0, balance_weight=0.2):
    """Router, experts, the training step at `batch` and an inference output at `eval_batch`."""
    graph = gc.Graph()
    with graph.as_default():
        gc.set_random_seed(seed)
        glorot = gc.initializers.glorot_uniform_initializer()
        router = gc.Variable(gc.initializers.random_normal_initializer(stddev=0.01)([64, EXPERTS]), name="router")
        w1 = gc.Variable(glorot([EXPERTS, 64, HIDDEN]), name="experts/w1")
        b1 = gc.Variable(np.zeros((EXPERTS, 1, HIDDEN), np.float32), name="experts/b1")
        w2 = gc.Variable(glorot([EXPERTS, HIDDEN, CLASSES]), name="experts/w2")
        b2 = gc.Variable(np.zeros((EXPERTS, 1, CLASSES), np.float32), name="experts/b2")

        def forward(x, n, cap):
            """Logits [n, 10], router probabilities [n, E], and each example's chosen experts [n, 2]."""
            gate_logits = gc.matmul(x, router)
            probs = gc.softmax(gate_logits)
            top_logits, top_experts = gc.top_k(gate_logits, TOP)
            top_gates = gc.softmax(top_logits)                                   # [n, 2], renormalized
            choice = gc.stop_gradient(gc.one_hot(top_experts, EXPERTS))          # [n, 2, E]
            # position of each assignment in its expert's queue: first choices first, then second ones
            flat = gc.reshape(gc.transpose(choice, [1, 0, 2]), [TOP * n, EXPERTS])
            position = gc.transpose(gc.reshape(gc.cumsum(flat, axis=0) - flat, [TOP, n, EXPERTS]), [1, 0, 2])
            kept = choice * gc.cast(gc.less(position, float(cap)), gc.float32)  # over capacity: dropped
            slot = gc.one_hot(gc.cast(gc.reduce_sum(position * choice, axis=2), gc.int32), cap)  # [n, 2, cap]
            dispatch = gc.reduce_sum(gc.expand_dims(kept, 3) * gc.expand_dims(slot, 2), axis=1)  # [n, E, cap]
            combine = gc.reduce_sum(gc.expand_dims(kept * gc.expand_dims(top_gates, 2), 3)
                                    * gc.expand_dims(slot, 2), axis=1)
            expert_in = gc.matmul(gc.reshape(dispatch, [n, EXPERTS * cap]), x, transpose_a=True)  # [E*cap, 64]
            h = gc.relu(gc.matmul(gc.reshape(expert_in, [EXPERTS, cap, 64]), w1) + b1)
            expert_out = gc.matmul(h, w2) + b2                                   # [E, cap, 10]
            logits = gc.matmul(gc.reshape(combine, [n, EXPERTS * cap]),
                               gc.reshape(expert_out, [EXPERTS * cap, CLASSES]))
            return logits, probs, top_experts

        x = gc.placeholder(gc.float32, [batch, 64], name="x")
        y = gc.placeholder(gc.int32, [batch], name="y")
        logits, probs, top_experts = forward(x, batch, capacity(batch, train_factor))
        xent = gc.reduce_mean(gc.losses.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        # fraction of the top-2 assignments each expert receives (both choices: the load that is measured)
        assigned = gc.reduce_mean(gc.reduce_sum(gc.one_hot(top_experts, EXPERTS), axis=1), axis=0) / TOP
        balance = EXPERTS * gc.reduce_sum(assigned * gc.reduce_mean(probs, axis=0))
        loss = xent + balance_weight * balance
        train_op = gc.train.AdamOptimizer(3e-3).minimize(loss)
        x_eval = gc.placeholder(gc.float32, [eval_batch, 64], name="x_eval")
        eval_logits, _, eval_experts = forward(x_eval, eval_batch, capacity(eval_batch, eval_factor))
        eval_probs = gc.softmax(eval_logits, name="probs")
        init = gc.global_variables_initializer()
    return dict(graph=graph, x=x, y=y, loss=loss, balance=balance, train_op=train_op, x_eval=x_eval,
                probs=eval_probs, experts=eval_experts, init=init)


def train(quick=False, steps=None, progress_bar=True, batch=128, seed=0):
    """Adam on shuffled batches; test accuracy and the coefficient of variation of the experts' load."""
    x_train, x_test, y_train, y_test = digits()
    x_train, x_test = x_train.reshape(-1, 64), x_test.reshape(-1, 64)
    steps = steps or (20 if quick else 600)
    m = build(batch, len(x_test), seed)
    sess = start_session(m)
    rng = np.random.default_rng(seed)

    def step(i):
        idx = rng.choice(len(x_train), batch, replace=False)
        return sess.run([m["train_op"], m["loss"]], {m["x"]: x_train[idx], m["y"]: y_train[idx]})[1]

    trained = train_loop(step, steps, NAME, progress_bar)
    probs, experts = sess.run([m["probs"], m["experts"]], {m["x_eval"]: x_test})
    accuracy = float((probs.argmax(1) == y_test).mean())
    load = np.bincount(experts.reshape(-1), minlength=EXPERTS)
    cv = float(load.std() / load.mean())
    extra = {"test_accuracy": f"{accuracy:.4f}", "expert_load": load.tolist(), "load_cv": f"{cv:.3f}", **trained.times()}
    feeds = {m["x_eval"]: x_test}
    if quick:
        return quick_result(NAME, trained.losses, sess, [m["probs"]], feeds, extra)
    return Result(NAME, METRIC, f"{accuracy:.4f}, load_cv={cv:.3f}", ">= 0.96, load_cv <= 0.3",
                  accuracy >= 0.96 and cv <= 0.3, trained.losses, sess, [m["probs"]], feeds, extra)
