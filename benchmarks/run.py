"""graphc against its peers on CPU workloads, 2 threads for every runner.

Each workload is built with the same weights and inputs for every runner; before anything is timed,
every peer's outputs are checked against graphc's (rtol 1e-3). Then each runner is timed (median
after warm-up) and one table is printed: graphc's median, each peer's, and graphc/peer.

  (a) MLP 784-512-512-10, batch 64, inference          vs ONNX Runtime
  (b) ResNet-18, batch 1, 3x224x224, inference          vs ONNX Runtime
  (c) BERT-mini encoder (4 layers, d 256), seq 128      vs ONNX Runtime
  (d) MLP 784-512-512-10 training step, batch 128      vs TF 2.x (tf.compat.v1 graph mode), PyTorch eager
  (e) the TF1 snippet (x*y+z, reduce_sum, 3 gradients)  vs TF 2.x (tf.compat.v1 graph mode), PyTorch eager
  (f) the classic TF1 MNIST conv net, training step    vs TF 2.x (tf.compat.v1 graph mode)
  (g, h, i) training steps of graphc.models' cnn, rnn and transformer (benchmarks/zoo_steps.py)
                                                        vs TF 2.x (tf.compat.v1 graph mode), PyTorch eager
  (p..s) models exported by torch.onnx.export (benchmarks/torch_models.py), as users bring them:
  (p) ResNet-18 b1, (q) MobileNetV2 b1, (r) BERT-style encoder s128, (s) GPT-style causal decoder s128
                                                        vs ONNX Runtime

A workload whose model graphc cannot import or compile yet is reported as 'not available: <reason>';
a missing peer package likewise. Run: `make bench`, or .venv/bin/python benchmarks/run.py [--only a,d]
[--repeat N] [--runs N] [--cpu-time] (see --help). The header names the CPU and its vector extensions;
with --runs N each workload is timed N times and the table gives the median ratio and its min-max.

With --cpu-time every runner gets 1 thread and each run is measured in the process's CPU time: on a
machine shared with other jobs, wall-clock medians mostly measure the other jobs.
"""
import argparse
import os
import sys
import time
from dataclasses import dataclass

CPU_TIME = "--cpu-time" in sys.argv
THREADS = 1 if CPU_TIME else 2
os.environ.setdefault("TVM_NUM_THREADS", str(THREADS))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(THREADS))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import sample_seconds  # noqa: E402

RTOL = 1e-3
SETTLE_SECONDS = 0.3  # between runners: spinning worker threads of the last one go to sleep first


class NotAvailable(Exception):
    """A runner or workload that cannot run here (model not importable yet, package missing)."""


@dataclass
class Runner:
    """`run()` executes once and returns the outputs to compare (a list of arrays)."""
    name: str
    run: object


@dataclass
class Workload:
    key: str
    title: str
    build: object                   # () -> (graphc Runner, [peer Runner or (name, NotAvailable)])


# ---- runners ------------------------------------------------------------------------------------
def _graphc_onnx(model, feeds):
    """graphc running an ONNX model: import, compile for the feed shapes, run through the executable."""
    from graphc.onnx import import_model
    import graphc as gc
    try:
        imported = import_model(model)
    except Exception as e:
        raise NotAvailable(f"{type(e).__name__}: {str(e).splitlines()[0][:160]}") from None
    placeholders = [imported.inputs[n] for n in feeds]
    arrays = [feeds[n] for n in feeds]
    try:
        exe = gc.Session(graph=imported.graph).compiled(list(imported.outputs.values()),
                                                        dict(zip(placeholders, arrays)))
    except Exception as e:
        raise NotAvailable(f"compile failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}") from None
    return Runner("graphc", lambda: exe.run(arrays))


def _ort(model, feeds):
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise NotAvailable(f"onnxruntime is not installed ({e})") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return Runner("onnxruntime", lambda: sess.run(None, feeds))


def _onnx_workload(make_model, make_feeds):
    def build():
        model = make_model()
        feeds = make_feeds()
        peers = []
        try:
            peers.append(_ort(model, feeds))
        except NotAvailable as e:
            peers.append(("onnxruntime", e))
        return _graphc_onnx(model, feeds), peers
    return build


def _torch_workload(name):
    """A model of benchmarks/torch_models.py, exported by torch.onnx.export, for graphc and ONNX Runtime."""
    def build():
        import torch_models
        try:
            model, feeds = getattr(torch_models, name)()
        except ImportError as e:
            raise NotAvailable(f"torch is not installed ({e})") from None
        feeds = {k: _aligned(v) for k, v in feeds.items()}
        return _onnx_workload(lambda: model, lambda: feeds)()
    return build


def _aligned(a):
    """`a` copied into an aligned buffer (graphc reads it in place, as a caller's buffer would be)."""
    from graphc.runtime.executor import aligned_empty
    out = aligned_empty(a.shape, a.dtype)
    out[...] = a
    return out


def _rng_feed(shape, seed=1):
    from graphc.runtime.executor import aligned_empty
    x = aligned_empty(shape, np.float32)  # aligned: graphc reads it in place, as a caller's buffer would be
    x[...] = np.random.default_rng(seed).standard_normal(shape)
    return x


# ---- (d) MLP training step ------------------------------------------------------------------------
MLP_SIZES = (784, 512, 512, 10)
LEARNING_RATE = 0.01


def _mlp_params(seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        params.append((rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32))
        params.append(rng.uniform(-0.1, 0.1, n_out).astype(np.float32))
    return params


def _mlp_batch(batch=128, seed=1):
    rng = np.random.default_rng(seed)
    return _rng_feed((batch, MLP_SIZES[0]), seed), rng.integers(0, MLP_SIZES[-1], batch).astype(np.int32)


def _train_tf1_script(tf, name, session, params, x, labels):
    """The same TF1 training script for graphc.compat.v1 and TensorFlow's tf.compat.v1 (`tf`)."""
    g = tf.Graph()
    with g.as_default():
        px = tf.placeholder(tf.float32, [None, MLP_SIZES[0]])
        pl = tf.placeholder(tf.int32, [None])
        variables = [tf.Variable(p) for p in params]
        h = px
        for i in range(0, len(variables), 2):
            h = tf.matmul(h, variables[i]) + variables[i + 1]
            h = tf.nn.relu(h) if i + 2 < len(variables) else h
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=pl, logits=h))
        train = tf.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss)
        init = tf.global_variables_initializer()
    sess = session(g)
    sess.run(init)
    feed = {px: x, pl: labels}
    return Runner(name, lambda: [sess.run([train, loss], feed)[1]]), lambda: sess.run(variables)


def _train_graphc(params, x, labels):
    import graphc.compat.v1 as tf
    return _train_tf1_script(tf, "graphc", lambda g: tf.Session(graph=g), params, x, labels)


def _tf_v1():
    try:
        import tensorflow as tf
    except ImportError as e:
        raise NotAvailable(f"tensorflow is not installed ({e})") from None
    tf.compat.v1.disable_eager_execution()
    return tf.compat.v1


def _tf_session(tf, graph):
    config = tf.ConfigProto(inter_op_parallelism_threads=THREADS, intra_op_parallelism_threads=THREADS)
    return tf.Session(graph=graph, config=config)


def _train_tf(params, x, labels):
    tf = _tf_v1()
    return _train_tf1_script(tf, "tf1", lambda g: _tf_session(tf, g), params, x, labels)


def _torch():
    try:
        import torch
    except ImportError as e:
        raise NotAvailable(f"torch is not installed ({e})") from None
    torch.set_num_threads(THREADS)
    return torch


def _train_torch(params, x, labels):
    torch = _torch()
    ps = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in params]
    opt = torch.optim.SGD(ps, lr=LEARNING_RATE)
    tx, tl = torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))

    def step():
        opt.zero_grad(set_to_none=True)
        h = tx
        for i in range(0, len(ps), 2):
            h = h @ ps[i] + ps[i + 1]
            h = torch.relu(h) if i + 2 < len(ps) else h
        loss = torch.nn.functional.cross_entropy(h, tl)
        loss.backward()
        opt.step()
        return [loss.detach().numpy()]
    return Runner("torch", step), lambda: [p.detach().numpy().copy() for p in ps]


def _train_build():
    params, (x, labels) = _mlp_params(), _mlp_batch()
    ours, state = _train_graphc(params, x, labels)
    peers = []
    for name, make in (("tf1", _train_tf), ("torch", _train_torch)):
        try:
            peers.append(make(params, x, labels))
        except NotAvailable as e:
            peers.append((name, e))
    return (ours, state), peers


# ---- (f) conv-net training step ---------------------------------------------------------------------
CONVNET_BATCH = 128


def _convnet_params(seed=0):
    """Weights of the classic TF1 MNIST conv net: 5x5 conv 1->32, pool, 5x5 conv 32->64, pool, dense 1024, 10."""
    rng = np.random.default_rng(seed)
    shapes = [(5, 5, 1, 32), (32,), (5, 5, 32, 64), (64,), (7 * 7 * 64, 1024), (1024,), (1024, 10), (10,)]
    return [(rng.standard_normal(s) * (0.1 if len(s) > 1 else 0.01)).astype(np.float32) for s in shapes]


def _convnet_batch(batch=CONVNET_BATCH, seed=1):
    rng = np.random.default_rng(seed)
    return _rng_feed((batch, 28, 28, 1), seed), rng.integers(0, 10, batch).astype(np.int32)


def _train_convnet_script(tf, name, session, params, x, labels):
    """The same TF1 conv-net training script for graphc.compat.v1 and TensorFlow's tf.compat.v1 (`tf`)."""
    g = tf.Graph()
    with g.as_default():
        px = tf.placeholder(tf.float32, [None, 28, 28, 1])
        pl = tf.placeholder(tf.int32, [None])
        w1, b1, w2, b2, w3, b3, w4, b4 = [tf.Variable(p) for p in params]
        h = tf.nn.relu(tf.nn.conv2d(px, w1, strides=[1, 1, 1, 1], padding="SAME") + b1)
        h = tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
        h = tf.nn.relu(tf.nn.conv2d(h, w2, strides=[1, 1, 1, 1], padding="SAME") + b2)
        h = tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
        h = tf.nn.relu(tf.matmul(tf.reshape(h, [-1, 7 * 7 * 64]), w3) + b3)
        logits = tf.matmul(h, w4) + b4
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=pl, logits=logits))
        train = tf.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss)
        init = tf.global_variables_initializer()
        variables = [w1, b1, w2, b2, w3, b3, w4, b4]
    sess = session(g)
    sess.run(init)
    feed = {px: x, pl: labels}
    return Runner(name, lambda: [sess.run([train, loss], feed)[1]]), lambda: sess.run(variables)


def _convnet_build():
    import graphc.compat.v1 as gtf
    params, (x, labels) = _convnet_params(), _convnet_batch()
    ours = _train_convnet_script(gtf, "graphc", lambda g: gtf.Session(graph=g), params, x, labels)
    peers = []
    try:
        tf = _tf_v1()
        peers.append(_train_convnet_script(tf, "tf1", lambda g: _tf_session(tf, g), params, x, labels))
    except NotAvailable as e:
        peers.append(("tf1", e))
    return ours, peers


# ---- (g, h, i) training steps of the model zoo: cnn, rnn, transformer (ports in zoo_steps.py) ----------
def _zoo_build(name):
    """The workload build of one zoo model's training step: graphc's own model against its ports."""
    def build():
        import zoo_steps
        make_zoo, make_tf, make_torch = zoo_steps.ZOO[name]
        zoo = make_zoo()
        peers = []
        for peer, load, make in (("tf1", _tf_v1, lambda m: make_tf(zoo, m, lambda g: _tf_session(m, g))),
                                 ("torch", _torch, lambda m: make_torch(zoo, m))):
            try:
                step, state = make(load())
                peers.append((Runner(peer, step), state))
            except NotAvailable as e:
                peers.append((peer, e))
        return (Runner("graphc", zoo.step), zoo.state), peers
    return build


# ---- (e) the TF1 snippet --------------------------------------------------------------------------
SNIPPET_SHAPE = (3000, 4000)


def _snippet_values(shape=SNIPPET_SHAPE):
    return [_rng_feed(shape, seed) for seed in (10, 11, 12)]


def _snippet_graphc(values):
    import graphc.compat.v1 as tf
    g = tf.Graph()
    with g.as_default():
        x, y, z = (tf.placeholder(tf.float32) for _ in range(3))
        c = tf.reduce_sum(x * y + z)
        grads = tf.gradients(c, [x, y, z])
    sess = tf.Session(graph=g)
    feed = dict(zip((x, y, z), values))
    return Runner("graphc", lambda: sess.run([c] + grads, feed))


def _snippet_tf(values):
    tf = _tf_v1()
    g = tf.Graph()
    with g.as_default():
        x, y, z = (tf.placeholder(tf.float32) for _ in range(3))
        c = tf.reduce_sum(x * y + z)
        grads = tf.gradients(c, [x, y, z])
    sess = _tf_session(tf, g)
    feed = dict(zip((x, y, z), values))
    return Runner("tf1", lambda: sess.run([c] + grads, feed))


def _snippet_torch(values):
    torch = _torch()
    ts = [torch.from_numpy(v) for v in values]

    def run():
        x, y, z = (t.detach().requires_grad_() for t in ts)
        c = (x * y + z).sum()
        c.backward()
        return [c.detach().numpy(), x.grad.numpy(), y.grad.numpy(), z.grad.numpy()]
    return Runner("torch", run)


def _snippet_build(shape=SNIPPET_SHAPE):
    values = _snippet_values(shape)
    peers = []
    for name, make in (("tf1", _snippet_tf), ("torch", _snippet_torch)):
        try:
            peers.append(make(values))
        except NotAvailable as e:
            peers.append((name, e))
    return _snippet_graphc(values), peers


# ---- the workloads ----------------------------------------------------------------------------------
def workloads():
    from graphc.models import onnx_zoo as zoo
    return [
        Workload("a", "MLP inference b64", _onnx_workload(lambda: zoo.mlp(batch=64),
                                                          lambda: {"x": _rng_feed((64, 784))})),
        Workload("b", "ResNet-18 inference b1", _onnx_workload(lambda: zoo.resnet18(batch=1),
                                                               lambda: {"x": _rng_feed((1, 3, 224, 224))})),
        Workload("c", "BERT-mini encoder s128", _onnx_workload(lambda: zoo.bert_encoder(),
                                                               lambda: {"x": _rng_feed((1, 128, 256))})),
        Workload("d", "MLP training step b128", _train_build),
        Workload("e", "TF1 snippet 3000x4000", _snippet_build),
        Workload("f", "conv-net training step b128", _convnet_build),
        Workload("g", "zoo cnn training step b64", _zoo_build("cnn")),
        Workload("h", "zoo rnn (LSTM x64) step b32", _zoo_build("rnn")),
        Workload("i", "zoo transformer step b32", _zoo_build("transformer")),
        Workload("p", "torch ResNet-18 b1", _torch_workload("resnet18")),
        Workload("q", "torch MobileNetV2 b1", _torch_workload("mobilenet_v2")),
        Workload("r", "torch BERT encoder s128", _torch_workload("bert_encoder")),
        Workload("s", "torch GPT decoder s128", _torch_workload("gpt_decoder")),
    ]


def check_agreement(reference, values, who):
    """Raise AssertionError unless `values` match `reference` (graphc's outputs) to RTOL."""
    if len(reference) != len(values):
        raise AssertionError(f"{who}: {len(values)} outputs, graphc has {len(reference)}")
    for i, (want, got) in enumerate(zip(reference, values)):
        want, got = np.asarray(want, np.float64), np.asarray(got, np.float64)
        scale = float(np.abs(want).max()) if want.size else 0.0
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * 1e-2 * scale,
                                   err_msg=f"{who}: output {i} differs from graphc's")


def prepare(workload):
    """Build the workload's runners and check each peer against graphc (outputs of a first run,
    and for training the variables after that step). Returns (graphc Runner, [(name, Runner or
    NotAvailable)])."""
    built, peers = workload.build()
    ours, state = built if isinstance(built, tuple) else (built, None)
    reference = ours.run()
    ref_state = state() if state else None
    checked = []
    for p in peers:
        if isinstance(p, tuple) and isinstance(p[0], Runner):   # a training runner with its state
            runner, peer_state = p
            check_agreement(reference, runner.run(), runner.name)
            check_agreement(ref_state, peer_state(), runner.name + " (variables after one step)")
            checked.append((runner.name, runner))
        elif isinstance(p, tuple):                               # (name, NotAvailable)
            checked.append(p)
        else:
            check_agreement(reference, p.run(), p.name)
            checked.append((p.name, p))
    return ours, checked


ROUNDS = 3         # graphc and its peers take turns, so a slow spell of the machine hits all of them
MIN_SECONDS = 0.5  # per runner and round: millisecond workloads get hundreds of runs


def time_runners(runners, repeat, warmup):
    """{name: median seconds} of each runner's run(), timed in ROUNDS alternating turns."""
    clock = time.process_time if CPU_TIME else time.perf_counter
    samples = {name: [] for name, _ in runners}
    for r in range(ROUNDS):
        for name, runner in runners:
            time.sleep(SETTLE_SECONDS)
            samples[name] += sample_seconds(runner.run, repeat=max(1, repeat // ROUNDS),
                                            warmup=warmup if r == 0 else 1, clock=clock,
                                            min_seconds=MIN_SECONDS)
    return {name: float(np.median(t)) for name, t in samples.items()}


def cpu_description():
    """'<model> (LLVM: <cpu>), vector extensions: ...' of this machine, for the table's header."""
    model, flags = "unknown CPU", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown CPU":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = value.split()
    except OSError:
        pass
    vector = [f for f in flags if f in ("sse4_2", "avx", "avx2", "fma") or f.startswith(("avx512", "amx"))]
    from graphc.host import host_cpu
    return f"{model} (LLVM: {host_cpu()}), vector extensions: {' '.join(vector) or 'unknown'}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated workload keys (a..i, p..s); default all")
    ap.add_argument("--repeat", type=int, default=30, help="at least this many timed runs per runner, over 3 alternating rounds of at least 0.5 s each (median reported)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=1,
                    help="time each workload this many times: the table gives the median ratio and its min-max")
    ap.add_argument("--cpu-time", action="store_true",
                    help="1 thread per runner, timed in process CPU time (for a machine shared with other jobs)")
    args = ap.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    print(cpu_description(), flush=True)
    rows = []
    for w in workloads():
        if only and w.key not in only:
            continue
        print(f"({w.key}) {w.title}: building and checking ...", file=sys.stderr, flush=True)
        try:
            ours, peers = prepare(w)
        except NotAvailable as e:
            rows.append((w, f"not available: {e}", []))
            continue
        runners = [("graphc", ours)] + [(n, p) for n, p in peers if not isinstance(p, NotAvailable)]
        runs = [time_runners(runners, args.repeat, args.warmup) for _ in range(max(1, args.runs))]
        cols = [(name, p, []) if isinstance(p, NotAvailable) else
                (name, float(np.median([r[name] for r in runs])), [r["graphc"] / r[name] for r in runs])
                for name, p in peers]
        rows.append((w, float(np.median([r["graphc"] for r in runs])), cols))
        del ours, peers
    print(format_table(rows))
    clock = "process CPU time" if CPU_TIME else "wall time (only comparable on an otherwise idle machine)"
    runs = f"; ratio: median of {args.runs} runs [min-max]" if args.runs > 1 else ""
    print(f"{THREADS} thread(s) per runner, medians of {clock}{runs}; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    return rows


def format_table(rows):
    """The results as a text table; a peer column with several runs' ratios shows their median and min-max."""
    lines = [f"{'workload':<28} {'graphc ms':>10}  {'peer':<12} {'peer ms':>10} {'graphc/peer':>12}"]
    for w, ours, cols in rows:
        label = f"({w.key}) {w.title}"
        if isinstance(ours, str):
            lines.append(f"{label:<28} {ours}")
            continue
        if not cols:
            lines.append(f"{label:<28} {ours * 1e3:>10.3f}")
        for i, (name, t, *ratios) in enumerate(cols):
            head = f"{label:<28} {ours * 1e3:>10.3f}" if i == 0 else " " * 39
            ratios = ratios[0] if ratios else []
            if isinstance(t, NotAvailable):
                lines.append(f"{head}  {name:<12} not available: {t}")
                continue
            spread = f"  [{min(ratios):.2f}-{max(ratios):.2f}]" if len(ratios) > 1 else ""
            ratio = float(np.median(ratios)) if ratios else ours / t
            lines.append(f"{head}  {name:<12} {t * 1e3:>10.3f} {ratio:>12.2f}{spread}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
