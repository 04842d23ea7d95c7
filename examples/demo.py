"""`make demo`: build a small graph, compile it to TVM kernels for this CPU, run it, check it."""
import time

import numpy as np

import graphc as gc

rng = np.random.default_rng(0)
x = gc.placeholder(gc.float32, [None, 64], name="x")
w1 = gc.constant(rng.standard_normal((64, 128)).astype("float32") * 0.1, name="w1")
b1 = gc.constant(np.zeros(128, "float32"), name="b1")
w2 = gc.constant(rng.standard_normal((128, 10)).astype("float32") * 0.1, name="w2")
h = gc.relu(gc.matmul(x, w1) + b1)
probs = gc.softmax(gc.matmul(h, w2))
top = gc.argmax(probs, axis=1)

xv = rng.standard_normal((32, 64)).astype("float32")
with gc.Session() as sess:
    t0 = time.perf_counter()
    p, t = sess.run([probs, top], {x: xv})
    compile_s = time.perf_counter() - t0
    exe = sess.compiled([probs, top], {x: xv})
    t0 = time.perf_counter()
    for _ in range(100):
        sess.run([probs, top], {x: xv})
    run_ms = (time.perf_counter() - t0) * 10

ref_h = np.maximum(xv @ w1.node.attrs["value"], 0)
ref = ref_h @ w2.node.attrs["value"]
ref = np.exp(ref - ref.max(1, keepdims=True)); ref /= ref.sum(1, keepdims=True)
print(f"MLP 64-128-10 on a batch of 32: {exe.num_kernels} TVM kernels {exe.kernels}")
print(f"first run (compile + run) {compile_s:.2f} s, then {run_ms:.3f} ms per run")
print(f"max |graphc - numpy| = {np.abs(p - ref).max():.2e}; predicted classes: {t[:8].tolist()} ...")
assert np.allclose(p, ref, atol=1e-5) and (t == ref.argmax(1)).all()
print("demo OK")
