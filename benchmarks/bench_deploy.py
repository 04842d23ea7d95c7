"""What a deployment sees: load + first run time of an artifact in a fresh process, memory over many
load/run/free cycles, and memory over many compiled signatures then Session.close().

    python benchmarks/bench_deploy.py            # all three, with the figures the README quotes
    python benchmarks/bench_deploy.py load|cycles|signatures [N] [--no-trim]

Each measurement runs in its own process, so it starts from a clean heap.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def rss_mb():
    """This process's resident memory in MB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def small_mlp_artifact(path, sizes=(8, 16, 4), batch=3):
    """Export a dense-ReLU-dense artifact to `path` (in its own graph); returns the input array."""
    import graphc as gc
    rng = np.random.default_rng(0)
    with gc.Graph().as_default():
        x = gc.placeholder(gc.float32, (None, sizes[0]), name="x")
        h = gc.relu(gc.matmul(x, gc.constant(rng.standard_normal(sizes[:2]).astype(np.float32))))
        y = gc.matmul(h, gc.constant(rng.standard_normal(sizes[1:]).astype(np.float32)), name="y")
        xv = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        gc.compile(y, {x: xv}).export(path)
    return xv


def onnx_mlp_artifact(path):
    """The 784-512-512-10 ONNX MLP of models/onnx_zoo.py compiled to `path` (batch 1)."""
    import onnx

    import graphc as gc
    import graphc.onnx  # noqa: F401  (gc.onnx)
    from models.onnx_zoo import mlp
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(mlp(batch=1), os.path.join(tmp, "mlp.onnx"))
        with gc.Graph().as_default():
            _, inputs, outputs = gc.onnx.import_model(os.path.join(tmp, "mlp.onnx"))
            gc.compile(outputs, {inputs["x"]: np.zeros((1, 784), np.float32)}).export(path)


FIRST_RUN = """
import time; t0 = time.perf_counter()
import sys, numpy as np, graphc.runtime
r = graphc.runtime.load(sys.argv[1]); r.run({"x": np.ones((1, 784), np.float32)})
print(time.perf_counter() - t0, time.process_time())
"""


def bench_load(repeat=5):
    """Median seconds from interpreter start (after Python itself) to the first result of the MLP artifact."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mlp.gca")
        onnx_mlp_artifact(path)
        env = {k: v for k, v in os.environ.items() if k != "TVM_NUM_THREADS"}
        runs = [subprocess.run([sys.executable, "-c", FIRST_RUN, path], env=env, check=True, capture_output=True,
                               text=True).stdout.split() for _ in range(repeat)]
    wall, cpu = (np.array([float(r[k]) for r in runs]) for k in (0, 1))
    # CPU time (interpreter start included) is the figure a busy machine distorts least
    print(f"load + first run of the 784-512-512-10 MLP artifact in a fresh process, imports included: "
          f"median {np.median(wall):.3f} s wall (min {wall.min():.3f}), {np.median(cpu):.3f} s CPU over {repeat}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def bench_cycles(n=5000):
    """RSS before and after `n` load/run/free cycles of a small artifact in this process."""
    import gc

    import graphc.runtime
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "small.gca")
        # compiled in another process: this one is a deployment, with TVM's runtime library alone
        subprocess.run([sys.executable, __file__, "export-small", path], check=True)
        xv = np.load(path + ".x.npy")
        graphc.runtime.load(path).run({"x": xv})  # first use: libraries, thread pool
        gc.collect()
        start = rss_mb()
        t0 = time.perf_counter()
        for _ in range(n):
            r = graphc.runtime.load(path)
            r.run({"x": xv})
            del r
        gc.collect()
        end = rss_mb()
    maps = sum("graphc-load-" in line for line in open("/proc/self/maps"))
    print(f"{n} load/run/free cycles: RSS {start:.0f} -> {end:.0f} MB ({end - start:+.1f} MB), "
          f"{(time.perf_counter() - t0) / n * 1e3:.2f} ms per cycle, {maps} artifact mappings left")


def bench_signatures(n=200, trim=True):
    """RSS before, after compiling `n` feed signatures in one Session, and after close()."""
    import graphc as gc
    from graphc.runtime import compiler
    if not trim:  # to see what the compile-time peak leaves behind without malloc_trim
        compiler.release_freed_memory = lambda: None
        from graphc.runtime import host
        host.release_freed_memory = lambda: None
    os.environ["GRAPHC_CACHE_DIR"] = tempfile.mkdtemp(prefix="graphc-bench-cache-")  # compile for real
    rng = np.random.default_rng(0)
    x = gc.placeholder(gc.float32, (None, 64), name="x")
    y = gc.relu(gc.matmul(x, gc.constant(rng.standard_normal((64, 64)).astype(np.float32))) + 1.0)
    sess = gc.Session(cache_size=max(n, 1))
    sess.run(y, {x: np.ones((1, 64), np.float32)})  # the compiler's libraries are loaded and warm
    start = rss_mb()
    t0 = time.perf_counter()
    peak = start
    for b in range(2, n + 2):
        sess.run(y, {x: np.ones((b, 64), np.float32)})
        peak = max(peak, rss_mb())
    compiled = rss_mb()
    sess.close()
    end = rss_mb()
    print(f"{n} signatures compiled{'' if trim else ' (no malloc_trim)'}: RSS {start:.0f} -> {compiled:.0f} "
          f"MB (peak {peak:.0f}), after close() {end:.0f} MB ({end - start:+.1f} MB); "
          f"{(time.perf_counter() - t0) / n:.2f} s per signature")


def main(argv):
    if not argv:
        for cmd in (["load"], ["cycles"], ["signatures"]):
            subprocess.run([sys.executable, __file__] + cmd, check=True)
        return
    what, rest = argv[0], [a for a in argv[1:] if not a.startswith("--")]
    n = int(rest[0]) if rest and rest[0].isdigit() else None
    if what == "load":
        bench_load(*([n] if n else []))
    elif what == "export-small":
        np.save(rest[0] + ".x.npy", small_mlp_artifact(rest[0]))
    elif what == "cycles":
        bench_cycles(*([n] if n else []))
    elif what == "signatures":
        bench_signatures(n or 200, trim="--no-trim" not in argv)
    else:
        raise SystemExit(f"unknown measurement {what!r}; expected load, cycles or signatures")


if __name__ == "__main__":
    main(sys.argv[1:])
