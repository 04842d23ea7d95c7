"""Compile times: a 28-step unrolled LSTM training step (cold), and ResNet-18 imported from ONNX (cold, then
warm: a new Session in the same process compiling it again from the kernel cache).

Unrolled recurrences lower to the same kernel at every time step; graphc compiles each distinct kernel
once (codegen/build.py share_identical_kernels), so compile time follows the distinct kernels, not the steps.
Run: python benchmarks/bench_compile.py [--steps 28]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("GRAPHC_CACHE_DIR", tempfile.mkdtemp(prefix="graphc-bench-compile-"))  # cold: empty cache

import graphc as gc  # noqa: E402


def lstm_training_graph(steps=28, batch=128, inputs=28, hidden=128, classes=10, seed=0):
    """(train_op, loss, feed) of an LSTM classifier unrolled over `steps`, as TF1's static_rnn builds it."""
    rng = np.random.default_rng(seed)
    x = gc.placeholder(gc.float32, [batch, steps, inputs], name="x")
    y = gc.placeholder(gc.float32, [batch, classes], name="y")
    w = gc.Variable(rng.normal(0, 0.1, (inputs + hidden, 4 * hidden)).astype("float32"), name="lstm_w")
    b = gc.Variable(np.zeros(4 * hidden, "float32"), name="lstm_b")
    w_out = gc.Variable(rng.normal(0, 0.1, (hidden, classes)).astype("float32"), name="w_out")
    h = gc.zeros([batch, hidden])
    c = gc.zeros([batch, hidden])
    for x_t in gc.unstack(x, steps, 1):
        z = gc.matmul(gc.concat([x_t, h], 1), w) + b
        i, j, f, o = gc.split(z, 4, axis=1)
        c = c * gc.sigmoid(f + 1.0) + gc.sigmoid(i) * gc.tanh(j)
        h = gc.tanh(c) * gc.sigmoid(o)
    logits = gc.matmul(h, w_out)
    loss = gc.reduce_mean(gc.losses.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
    train = gc.train.AdamOptimizer(1e-3).minimize(loss)
    feed = {x: rng.normal(size=(batch, steps, inputs)).astype("float32"),
            y: np.eye(classes, dtype="float32")[rng.integers(0, classes, batch)]}
    return train, loss, feed


def _timed(fn):
    """(result, wall seconds, CPU seconds) of fn(): on a shared machine wall time mostly measures other jobs."""
    start, cpu_start = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - start, time.process_time() - cpu_start


def resnet18_compile_times():
    """(cold, warm) (wall, CPU) seconds to compile ResNet-18 b1 from ONNX."""
    from graphc.models import onnx_zoo
    from graphc.onnx import import_model
    model = onnx_zoo.resnet18(batch=1)
    times = []
    for _ in range(2):
        imported = import_model(model)
        x = next(iter(imported.inputs.values()))
        sess = gc.Session(graph=imported.graph)
        _, wall, cpu = _timed(lambda: sess.compiled(list(imported.outputs.values()),
                                                    {x: np.zeros((1, 3, 224, 224), "float32")}))
        times.append((wall, cpu))
    return times


def main():
    """Print the compile times: LSTM training step (kernel calls, distinct kernels), ResNet-18 cold and warm."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=28)
    args = p.parse_args()
    (cold, cold_cpu), (warm, warm_cpu) = resnet18_compile_times()
    print(f"ResNet-18 b1 from ONNX: cold compile {cold:.1f} s wall, {cold_cpu:.1f} s CPU; "
          f"warm {warm:.1f} s wall, {warm_cpu:.1f} s CPU")
    train, loss, feed = lstm_training_graph(args.steps)
    with gc.Session() as sess:
        sess.run(gc.global_variables_initializer())
        start, cpu_start = time.perf_counter(), time.process_time()
        exe = sess.compiled([train, loss], feed)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        # CPU seconds: on a shared machine wall time mostly measures the other jobs
        print(f"LSTM {args.steps} steps, training: cold compile {seconds:.1f} s wall, {cpu:.1f} s CPU, "
              f"{exe.num_kernels} kernel calls, {len(set(exe.kernels))} distinct kernels")


if __name__ == "__main__":
    main()
