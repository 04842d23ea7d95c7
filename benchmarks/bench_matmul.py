"""Matmul (and row reductions / softmax) through graphc's TVM kernels against numpy, same process,
2 threads each. Checks every output against numpy, then prints median times over >= 20 runs.

Run: .venv/bin/python benchmarks/bench_matmul.py
"""
import os

os.environ.setdefault("TVM_NUM_THREADS", "2")
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "2")


import numpy as np  # noqa: E402

import graphc as gc  # noqa: E402
from common import median_seconds  # noqa: E402
from graphc.runtime.executor import aligned_empty  # noqa: E402

MATMULS = [(1024, 1024, 1024), (64, 784, 512), (128, 512, 512), (1, 256, 1024), (1, 784, 512), (33, 17, 40),
           (128, 256, 256)]
WEIGHT_MATMULS = [(64, 784, 512), (1, 256, 1024), (1, 784, 512)]  # B a constant: packed at compile time


def random_array(shape, rng):
    """float32 normal samples in a 64-byte-aligned array, which the executor reads in place."""
    x = aligned_empty(shape, np.float32)
    x[...] = rng.standard_normal(shape)
    return x


def compiled(build, arrays):
    """A compiled graphc function of placeholders shaped like `arrays`; returns (run(), its output)."""
    g = gc.Graph()
    with g.as_default():
        phs = [gc.placeholder(gc.float32, a.shape) for a in arrays]
        out = build(*phs)
    exe = gc.Session(graph=g).compiled(out, dict(zip(phs, arrays)))
    return (lambda: exe.run(arrays)), exe.run(arrays)[0]


def matmul_case(m, k, n, rng, weight=False):
    """(label, flops, graphc fn, numpy fn) for an M x K x N product, checked against numpy."""
    a, b = random_array((m, k), rng), random_array((k, n), rng)
    if weight:
        run, got = compiled(lambda pa: gc.matmul(pa, gc.constant(b)), [a])
    else:
        run, got = compiled(gc.matmul, [a, b])
    np.testing.assert_allclose(got, a @ b, rtol=1e-3, atol=1e-3)
    return f"matmul {m}x{k}x{n}" + (" (const B)" if weight else ""), 2.0 * m * n * k, run, lambda: a @ b


def numpy_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def unary_case(label, shape, build, reference, rng):
    """(label, None, graphc fn, numpy fn) for a one-input op, checked against numpy."""
    x = random_array(shape, rng)
    run, got = compiled(build, [x])
    np.testing.assert_allclose(got, reference(x), rtol=1e-3, atol=1e-5)
    return label, None, run, lambda: reference(x)


def main():
    rng = np.random.default_rng(0)
    cases = [matmul_case(*s, rng) for s in MATMULS] + [matmul_case(*s, rng, weight=True) for s in WEIGHT_MATMULS]
    cases += [unary_case("softmax 64x1000", (64, 1000), gc.softmax, numpy_softmax, rng),
              unary_case("reduce_sum 3000x4000 axis=-1", (3000, 4000), lambda p: gc.reduce_sum(p, axis=-1),
                         lambda x: x.sum(-1), rng),
              unary_case("reduce_max 3000x4000 axis=-1", (3000, 4000), lambda p: gc.reduce_max(p, axis=-1),
                         lambda x: x.max(-1), rng),
              unary_case("reduce_sum 3000x4000 axis=0", (3000, 4000), lambda p: gc.reduce_sum(p, axis=0),
                         lambda x: x.sum(0), rng)]
    # All graphc timings first, then all numpy ones: OpenBLAS threads spin for a while after each
    # call and would steal the cores from TVM's thread pool if the two were interleaved.
    t_gc = [median_seconds(run) for _, _, run, _ in cases]
    t_np = [median_seconds(ref) for _, _, _, ref in cases]
    print(f"{'case':>34} {'graphc':>16} {'numpy':>16} {'numpy/graphc time':>18}")
    for (label, flops, *_), tg, tn in zip(cases, t_gc, t_np):
        if flops:
            cols = f"{flops / tg / 1e9:9.1f} GFLOP/s {flops / tn / 1e9:9.1f} GFLOP/s"
        else:
            cols = f"{tg * 1e6:13.0f} us {tn * 1e6:13.0f} us"
        print(f"{label:>34} {cols} {tn / tg:18.2f}")


if __name__ == "__main__":
    main()
