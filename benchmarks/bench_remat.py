"""Rematerialization under a memory budget: a 32-layer MLP (width 1024, batch 256) and the model zoo's
Transformer, one training step each, at budgets of 100%, 70%, 40% and 25% of the unconstrained arena:
arena bytes, step CPU time (median of process time, budgets timed round-robin, one kernel thread by
default), ratio to 100%, FLOPs recomputed, and the largest difference of the weights after one step
from the unconstrained run's (0: recomputation is exact).

`python benchmarks/bench_remat.py [--only mlp,transformer] [--repeat N] [--threads N] [--layers N --width N --batch N]`
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import graphc as gc  # noqa: E402
from graphc.passes.remat import RematError  # noqa: E402

FRACTIONS = (1.0, 0.7, 0.4, 0.25)


def mlp(layers, width, batch):
    """A relu MLP's SGD training step: (graph, fetches, feed)."""
    rng = np.random.default_rng(0)
    graph = gc.Graph()
    with graph.as_default():
        x = gc.placeholder(gc.float32, [batch, width])
        y = gc.placeholder(gc.int32, [batch])
        h = x
        for _ in range(layers):
            h = gc.relu(gc.matmul(h, gc.Variable((rng.standard_normal((width, width)) * np.sqrt(2 / width))
                                                   .astype("float32"))))
        loss = gc.reduce_mean(gc.losses.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
        train = gc.train.GradientDescentOptimizer(1e-3).minimize(loss)
        init = gc.global_variables_initializer()
    feed = {x: rng.standard_normal((batch, width)).astype("float32"), y: rng.integers(0, width, batch).astype("int32")}
    return graph, [train, loss], feed, init


def transformer(batch=32):
    """The zoo Transformer's Adam training step on numpy's docstrings."""
    from models.common import CharData, numpy_corpus
    from models.transformer import CONTEXT, build
    data = CharData(numpy_corpus())
    m = build(data.vocab, batch)
    x, y = data.batch(np.random.default_rng(0), batch, CONTEXT)
    return m["graph"], [m["train_op"], m["loss"]], {m["x"]: x, m["y"]: y, m["lr"]: np.float32(1e-3)}, m["init"]


def measure(name, graph, fetches, feed, init, repeat, threads=1):
    """One row per budget fraction. Every budget is compiled first, then their steps are timed in turn
    (round-robin, `repeat` rounds): on a shared machine the load drifts over minutes, and timing the
    budgets one after another measured that drift (ratios of 0.4-1.6 between identical runs). One thread by
    default: with more, a thread waiting at a barrier for a descheduled one spins, and the load's
    spin time counted as step time (the same step read 70-170 ms of CPU with 2 threads)."""
    rows, base, reference, runs = [], None, None, []
    for fraction in FRACTIONS:
        budget = None if fraction == 1.0 else int(base * fraction)
        sess = gc.Session(graph=graph, memory_budget=budget, num_threads=threads)
        sess.run(init)
        t0 = time.perf_counter()
        try:
            exe = sess.compiled(fetches, feed)
        except RematError as e:
            sess.close()
            rows.append((name, fraction, budget, None, None, None, None, None, str(e).split(": ")[1]))
            continue
        compile_s = time.perf_counter() - t0
        sess.run(fetches, feed)  # the first step: its updated weights are compared
        weights = [sess.run(v.value()) for v in _variables(graph)]
        sess.run(fetches, feed)  # warm-up
        if fraction == 1.0:
            base, reference = exe.arena_bytes, weights
        diff = max(float(np.abs(a - b).max()) for a, b in zip(weights, reference))
        flops = exe.remat.added_flops if exe.remat else 0
        runs.append((sess, []))
        rows.append([name, fraction, budget, exe.arena_bytes, runs[-1][1], None, flops, diff,
                     f"compile {compile_s:.0f} s" + (f", {exe.remat.method}" if exe.remat else "")])
    for _ in range(repeat):
        for sess, times in runs:
            t0 = time.process_time()
            sess.run(fetches, feed)
            times.append(time.process_time() - t0)
    for sess, _ in runs:
        sess.close()
    for row in rows:
        if row[3] is not None:
            row[4] = float(np.median(row[4]))
    base_step = rows[0][4]
    for row in rows:
        if row[3] is not None:
            row[5] = row[4] / base_step
    return rows


def _variables(graph):
    """Every variable of `graph`."""
    with graph.as_default():
        return gc.global_variables()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="mlp,transformer")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="kernel threads (CPU time counts their spin-waits)")
    args = parser.parse_args(argv)
    rows = []
    if "mlp" in args.only:
        rows += measure(f"MLP {args.layers}x{args.width}, batch {args.batch}",
                        *mlp(args.layers, args.width, args.batch), args.repeat, args.threads)
    if "transformer" in args.only:
        rows += measure("zoo transformer, batch 32", *transformer(), args.repeat, args.threads)
    print(f"{'model':32s} {'budget':>6s} {'arena MB':>9s} {'CPU ms':>8s} {'x 100%':>7s} {'+GFLOP':>7s} "
          f"{'max |dw|':>9s}  notes")
    for name, fraction, budget, arena, step, ratio, flops, diff, note in rows:
        if arena is None:
            print(f"{name:32s} {fraction:6.0%} {'-':>9s} {'-':>8s} {'-':>7s} {'-':>7s} {'-':>9s}  {note}")
            continue
        print(f"{name:32s} {fraction:6.0%} {arena / 2**20:9.2f} {step * 1e3:8.1f} {ratio:7.2f} {flops / 1e9:7.2f} "
              f"{diff:9.2g}  {note}")


if __name__ == "__main__":
    main()
