"""Graph neural network: a GCN layer (Kipf & Welling: relu(A_hat X W), A_hat = D^-1/2 (A + I) D^-1/2) and a
GraphSAGE-style layer (own features plus the mean of the neighbours', gathered along edges and summed per
node with unsorted_segment_sum), trained semi-supervised on Zachary's karate club (4 labeled nodes) and on
a 2,000-node stochastic block model, both made by networkx."""
import numpy as np

import graphc as gc
from .common import Result, loss_fell, start_session, train_loop

NAME, METRIC = "gnn", "accuracy"
BARS = {"karate": 0.90, "sbm": 0.95}


def karate():
    """Zachary's karate club: one-hot node features, 'club' labels, nodes 0, 1 (Mr. Hi) and 32, 33 labeled."""
    import networkx as nx
    g = nx.karate_club_graph()
    labels = np.array([g.nodes[v]["club"] != "Mr. Hi" for v in g], np.int32)
    labeled = np.zeros(len(labels), bool)
    labeled[[0, 1, 32, 33]] = True
    return g, np.eye(len(labels), dtype=np.float32), labels, labeled


def sbm(seed=0):
    """A 4-block stochastic block model of 2,000 nodes; node features are a weak, noisy hint of the block
    (a classifier on them alone gets about half right), and 10% of the nodes are labeled."""
    import networkx as nx
    sizes = [500] * 4
    p = np.full((4, 4), 0.0005) + np.eye(4) * 0.0095
    g = nx.stochastic_block_model(sizes, p.tolist(), seed=seed)
    labels = np.repeat(np.arange(4), sizes).astype(np.int32)
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(4, 16))
    features = (centers[labels] * 0.4 + rng.normal(size=(len(labels), 16))).astype(np.float32)
    labeled = rng.random(len(labels)) < 0.10
    return g, features, labels, labeled


def graph_arrays(g):
    """A_hat (dense), and the directed edge lists (src, dst) with each node's in-degree (at least 1)."""
    import networkx as nx
    n = g.number_of_nodes()
    a = nx.to_numpy_array(g, nodelist=range(n), dtype=np.float32) + np.eye(n, dtype=np.float32)
    d = 1.0 / np.sqrt(a.sum(1))
    edges = np.array(list(g.edges()), np.int32).reshape(-1, 2)
    src = np.concatenate([edges[:, 0], edges[:, 1]])
    dst = np.concatenate([edges[:, 1], edges[:, 0]])
    degree = np.maximum(np.bincount(dst, minlength=n), 1).astype(np.float32)
    return a * d[:, None] * d[None, :], src, dst, degree


def build(g, n_features, n_classes, hidden=16, seed=0):
    """GCN layer then SAGE layer; returns the graph's tensors (x placeholder, logits, loss, train op)."""
    a_hat, src, dst, degree = graph_arrays(g)
    n = len(a_hat)
    graph = gc.Graph()
    with graph.as_default():
        gc.set_random_seed(seed)
        glorot = gc.initializers.glorot_uniform_initializer()
        x = gc.placeholder(gc.float32, [n, n_features], name="x")
        labels = gc.placeholder(gc.int32, [n], name="labels")
        weight = gc.placeholder(gc.float32, [n], name="weight")  # 1/#labeled on labeled nodes, else 0
        w1 = gc.Variable(glorot([n_features, hidden]), name="gcn/w")
        b1 = gc.Variable(np.zeros(hidden, np.float32), name="gcn/b")
        w_self = gc.Variable(glorot([hidden, n_classes]), name="sage/w_self")
        w_neigh = gc.Variable(glorot([hidden, n_classes]), name="sage/w_neigh")
        b2 = gc.Variable(np.zeros(n_classes, np.float32), name="sage/b")
        h = gc.relu(gc.matmul(gc.constant(a_hat), gc.matmul(x, w1)) + b1)
        # project first, then aggregate: the same linear layer, with a narrower scatter
        messages = gc.gather(gc.matmul(h, w_neigh), gc.constant(src))
        neigh_mean = gc.unsorted_segment_sum(messages, gc.constant(dst), n) / gc.constant(degree[:, None])
        logits = gc.identity(gc.matmul(h, w_self) + neigh_mean + b2, name="logits")
        xent = gc.losses.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        decay = 5e-4 * (gc.reduce_sum(gc.square(w1)) + gc.reduce_sum(gc.square(w_self)) + gc.reduce_sum(gc.square(w_neigh)))
        loss = gc.reduce_sum(xent * weight) + decay
        train_op = gc.train.AdamOptimizer(0.01).minimize(loss)
        init = gc.global_variables_initializer()
    return dict(graph=graph, x=x, labels=labels, weight=weight, logits=logits, loss=loss, train_op=train_op,
                init=init)


def fit(dataset, steps, progress_bar):
    """Train on one dataset; returns (accuracy on unlabeled nodes, losses, session, model, features)."""
    g, features, labels, labeled = dataset
    m = build(g, features.shape[1], int(labels.max()) + 1)
    sess = start_session(m)
    feed = {m["x"]: features, m["labels"]: labels, m["weight"]: labeled / labeled.sum().astype(np.float32)}
    losses = train_loop(lambda i: sess.run([m["train_op"], m["loss"]], feed)[1], steps,
                        f"{NAME} {len(labels)} nodes", progress_bar).losses
    predicted = sess.run(m["logits"], {m["x"]: features}).argmax(1)
    return float((predicted == labels)[~labeled].mean()), losses, sess, m, features


def train(quick=False, steps=None, progress_bar=True):
    """Karate club then SBM, 200 Adam steps each (20 with quick)."""
    steps = steps or (20 if quick else 200)
    acc_k, losses_k, sess_k, _, _ = fit(karate(), steps, progress_bar)
    sess_k.close()
    acc_s, losses_s, sess, m, features = fit(sbm(), steps, progress_bar)
    value = f"karate {acc_k:.3f}, sbm {acc_s:.3f}"
    if quick:
        ok = loss_fell(losses_k) and loss_fell(losses_s)
        return Result(NAME, "loss", f"karate {losses_k[-1]:.3f}, sbm {losses_s[-1]:.3f}",
                      f"below karate {losses_k[0]:.3f}, sbm {losses_s[0]:.3f}", ok, losses_s, sess,
                      [m["logits"]], {m["x"]: features}, {"accuracy": value})
    ok = acc_k >= BARS["karate"] and acc_s >= BARS["sbm"]
    return Result(NAME, METRIC, value, "karate >= 0.90, sbm >= 0.95", ok, losses_s, sess, [m["logits"]],
                  {m["x"]: features}, {"karate_losses": f"{losses_k[0]:.3f} -> {losses_k[-1]:.3f}"})
