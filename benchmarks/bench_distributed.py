"""Data-parallel training (graphc.distributed) on this machine, and a cost model for larger clusters.

1. The MLP 784-512-512-10 training step (SGD) at global batch 256: 1 process x 2 threads against
   2 processes x 1 thread (`graphc launch -n 2`, 128 samples each): samples/s and the fraction of the
   step spent in communication (the allreduce host calls, including waiting for the other rank).
2. The ring-allreduce cost model, 2(N-1)/N x gradient bytes / bandwidth + 2(N-1) x latency per step,
   applied with the measured 1-process step times of an MLP, a small CNN and a one-block Transformer
   (models written here: the model zoo is not part of this branch) at 8 and 64 processes on 25 Gb/s.

Run: .venv/bin/python benchmarks/bench_distributed.py [--steps N] [--skip-cost-model]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

GLOBAL_BATCH = 256
MLP_SIZES = (784, 512, 512, 10)
BANDWIDTH_BITS = 25e9   # 25 Gb/s Ethernet
LATENCY_S = 5e-6        # per message hop (RDMA-class Ethernet; TCP is ~5-10x more)


def mlp(tf, x_dim=MLP_SIZES[0]):
    """(input placeholder, labels placeholder, loss) of the MLP 784-512-512-10."""
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, x_dim])
    y = tf.placeholder(tf.int32, [None])
    h = x
    for i, (n_in, n_out) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:])):
        w = tf.Variable((rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32))
        h = tf.matmul(h, w) + tf.Variable(np.zeros(n_out, np.float32))
        h = tf.nn.relu(h) if i + 2 < len(MLP_SIZES) else h
    return x, y, tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))


def cnn(tf):
    """A small CNN on 32x32x3 images: conv 3x3x32, pool, conv 3x3x64, pool, dense 10."""
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, 32, 32, 3])
    y = tf.placeholder(tf.int32, [None])
    k1 = tf.Variable((rng.standard_normal((3, 3, 3, 32)) * 0.2).astype(np.float32))
    k2 = tf.Variable((rng.standard_normal((3, 3, 32, 64)) * 0.06).astype(np.float32))
    w = tf.Variable((rng.standard_normal((8 * 8 * 64, 10)) * 0.02).astype(np.float32))
    h = tf.nn.max_pool(tf.nn.relu(tf.nn.conv2d(x, k1, 1, "SAME")), 2, 2, "VALID")
    h = tf.nn.max_pool(tf.nn.relu(tf.nn.conv2d(h, k2, 1, "SAME")), 2, 2, "VALID")
    logits = tf.matmul(tf.reshape(h, [-1, 8 * 8 * 64]), w)
    return x, y, tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))


def transformer(tf, seq=64, d=256, ff=1024, vocab_out=10):
    """One Transformer encoder block (single-head attention, layer norms, ReLU MLP) on [batch, seq, d]."""
    import graphc
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, seq, d])
    y = tf.placeholder(tf.int32, [None])
    var = lambda *shape: tf.Variable((rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32))
    wq, wk, wv, wo, w1, w2, wc = var(d, d), var(d, d), var(d, d), var(d, d), var(d, ff), var(ff, d), var(d, vocab_out)
    flat = tf.reshape(x, [-1, d])
    q, k, v = (tf.reshape(tf.matmul(flat, w), [-1, seq, d]) for w in (wq, wk, wv))
    attn = tf.nn.softmax(tf.matmul(q, tf.transpose(k, [0, 2, 1])) * (1.0 / np.sqrt(d)))
    h = tf.reshape(tf.matmul(attn, v), [-1, d])
    h = graphc.layer_norm(flat + tf.matmul(h, wo))
    h = h + tf.matmul(tf.nn.relu(tf.matmul(h, w1)), w2)
    pooled = tf.reduce_mean(tf.reshape(h, [-1, seq, d]), axis=1)
    logits = tf.matmul(pooled, wc)
    return x, y, tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))


def _train_step(build, batch, feed_shape, distributed):
    """(session, fetches, feed, gradient bytes) of one SGD step of model `build` on `batch` samples."""
    import graphc.compat.v1 as tf
    import graphc.distributed as hvd
    tf.reset_default_graph()
    x, y, loss = build(tf)
    opt = tf.train.GradientDescentOptimizer(0.01)
    train = (hvd.DistributedOptimizer(opt) if distributed else opt).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(hvd.rank() if distributed else 0)
    feed = {x: rng.standard_normal((batch,) + feed_shape).astype(np.float32), y: rng.integers(0, 10, batch).astype(np.int32)}
    grad_bytes = sum(int(np.prod(v.shape)) * 4 for v in tf.trainable_variables())
    return sess, [train, loss], feed, grad_bytes


def worker(steps):
    """One rank of the MLP measurement: prints (rank 0) a JSON line with step seconds and communication share."""
    import graphc.distributed as hvd
    hvd.init()
    sess, fetches, feed, _ = _train_step(mlp, GLOBAL_BATCH // hvd.size(), (MLP_SIZES[0],), distributed=True)
    for _ in range(5):
        sess.run(fetches, feed)
    times = []
    for _ in range(steps):  # a fixed count: every rank runs the same number of collectives
        t = time.perf_counter()
        sess.run(fetches, feed)
        times.append(time.perf_counter() - t)
    exe = sess.compiled(fetches, feed)
    per_call = exe.profile(feed, repeat=steps, variables=sess.variables)
    comm = sum(s for name, s in per_call.items() if "allreduce" in name)
    if hvd.rank() == 0:
        print(json.dumps({"processes": hvd.size(), "threads": int(os.environ.get("TVM_NUM_THREADS", "0")),
                          "step_s": float(np.median(times)), "comm_fraction": comm / sum(per_call.values())}))


def _measure(processes, threads, steps):
    env = dict(os.environ, TVM_NUM_THREADS=str(threads))
    me = [sys.executable, os.path.abspath(__file__), "--worker", "--steps", str(steps)]
    cmd = me if processes == 1 else [sys.executable, "-m", "graphc.cli", "launch", "-n", str(processes),
                                     "--threads", str(threads)] + me
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        raise RuntimeError(f"{processes} process run failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(lines[-1])


def ring_allreduce_seconds(nbytes, n, bandwidth_bits=BANDWIDTH_BITS, latency_s=LATENCY_S):
    """Time of a ring allreduce of `nbytes` over `n` processes: 2(N-1)/N x bytes / bandwidth + 2(N-1) x latency."""
    return 2 * (n - 1) / n * nbytes * 8 / bandwidth_bits + 2 * (n - 1) * latency_s


def cost_model(per_rank_batch=32):
    """Measured 1-process step times of three models, and the model's scaling at 8 and 64 processes."""
    from common import median_seconds
    models = [("MLP 784-512-512-10", mlp, (MLP_SIZES[0],)), ("CNN 32x32 conv32-conv64-fc", cnn, (32, 32, 3)),
              ("Transformer block d256 seq64", transformer, (64, 256))]
    print(f"\ncost model: ring allreduce on {BANDWIDTH_BITS / 1e9:g} Gb/s, {LATENCY_S * 1e6:g} us per hop; compute = "
          f"measured 1-process step, batch {per_rank_batch} per process, {os.environ.get('TVM_NUM_THREADS', '?')} threads")
    print(f"{'model':32s} {'grad MB':>8s} {'step ms':>8s} " + " ".join(
        f"{f'N={n} comm ms':>13s} {f'N={n} eff':>9s} {f'N={n} overlap':>12s}" for n in (8, 64)))
    for name, build, shape in models:
        sess, fetches, feed, grad_bytes = _train_step(build, per_rank_batch, shape, distributed=False)
        step = median_seconds(lambda: sess.run(fetches, feed), repeat=10, warmup=2)
        cells = []
        for n in (8, 64):
            comm = ring_allreduce_seconds(grad_bytes, n)
            # no overlap: compute then communicate; full overlap (buckets in flight during backward): the larger
            cells.append(f"{comm * 1e3:13.2f} {step / (step + comm):9.0%} {step / max(step, comm):12.0%}")
        print(f"{name:32s} {grad_bytes / 1e6:8.2f} {step * 1e3:8.2f} " + " ".join(cells))


def main():
    """Print the 1x2 vs 2x1 comparison and the cost model table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--skip-cost-model", action="store_true")
    args = p.parse_args()
    if args.worker:
        return worker(args.steps)
    print(f"data-parallel MLP {'-'.join(map(str, MLP_SIZES))} training step (SGD), global batch {GLOBAL_BATCH}")
    rows = [_measure(1, 2, args.steps), _measure(2, 1, args.steps)]
    base = GLOBAL_BATCH / rows[0]["step_s"]
    for r in rows:
        rate = GLOBAL_BATCH / r["step_s"]
        print(f"  {r['processes']} process(es) x {r['threads']} thread(s): {rate:8.0f} samples/s  "
              f"({rate / base:.2f}x)  step {r['step_s'] * 1e3:.2f} ms, communication {r['comm_fraction']:.0%} of it")
    if not args.skip_cost_model:
        cost_model()


if __name__ == "__main__":
    main()
