"""Matmul through graphc (TVM kernels) against numpy's BLAS, same process, 2 threads each.

Prints median GFLOP/s per shape and graphc/numpy. Run: .venv/bin/python benchmarks/bench_matmul.py
"""
import os

os.environ.setdefault("TVM_NUM_THREADS", "2")
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "2")

import time  # noqa: E402

import numpy as np  # noqa: E402

import graphc as gc  # noqa: E402

SHAPES = [(1024, 1024, 1024), (64, 784, 512), (128, 512, 512), (1, 256, 1024), (33, 17, 40), (128, 256, 256)]


def median_seconds(fn, repeat=20, warmup=3):
    """Median wall time of fn() over `repeat` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def graphc_matmul(m, k, n, rng):
    """A compiled graphc matmul of the shape, its inputs, and a check of its output against numpy."""
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    g = gc.Graph()
    with g.as_default():
        pa, pb = gc.placeholder(gc.float32, (m, k)), gc.placeholder(gc.float32, (k, n))
        c = gc.matmul(pa, pb)
    sess = gc.Session(graph=g)
    exe = sess.compiled(c, {pa: a, pb: b})
    got = exe.run([a, b])[0]
    np.testing.assert_allclose(got, a @ b, rtol=1e-3, atol=1e-3)
    return exe, a, b


def main():
    rng = np.random.default_rng(0)
    cases = [(shape, *graphc_matmul(*shape, rng)) for shape in SHAPES]
    # All graphc timings first, then all numpy ones: OpenBLAS threads spin for a while after each
    # call and would steal the cores from TVM's thread pool if the two were interleaved.
    t_gc = [median_seconds(lambda: exe.run([a, b])) for _, exe, a, b in cases]
    t_np = [median_seconds(lambda: a @ b) for _, _, a, b in cases]
    print(f"{'M x K x N':>18} {'graphc GFLOP/s':>15} {'numpy GFLOP/s':>14} {'graphc/numpy':>13}")
    for ((m, k, n), *_), tg, tn in zip(cases, t_gc, t_np):
        flops = 2.0 * m * n * k
        print(f"{f'{m}x{k}x{n}':>18} {flops / tg / 1e9:15.1f} {flops / tn / 1e9:14.1f} {tn / tg:13.2f}")


if __name__ == "__main__":
    main()
