"""MobileNetV2's depthwise layers (3x3, pads 1, + bias + ReLU6) in the channel-blocked layout against ONNX Runtime,
same process, one thread, thread CPU time: graphc's kernel (conv_blocked depthwise on [1, C/B, H, W, B], B the
target's float32 lanes, DEPTHWISE_BLOCKED schedule) beside ORT's time for the same layer's Conv node (ORT's own
NCHWc depthwise kernel, from its profiler; its layout reorders excluded). Median and min over RUNS runs each;
outputs checked against ORT's.

Run: .venv/bin/python benchmarks/bench_blocked_depthwise.py"""
import collections
import json
import os
import sys
import tempfile
import time

os.environ["TVM_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_conv import conv_model  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.codegen.target import current_target  # noqa: E402
from graphc.ops.blocked import block_channels, conv_blocked, pack_blocked_weights, unblock_channels  # noqa: E402

RUNS = 60  # after 5 warm-up runs
# (channels, H=W of the input, stride) of MobileNetV2's depthwise layers, in network order (repeats named once)
LAYERS = [(32, 112, 1), (96, 112, 2), (144, 56, 1), (144, 56, 2), (192, 28, 1), (192, 28, 2), (384, 14, 1),
          (576, 14, 1), (576, 14, 2), (960, 7, 1)]


def graphc_kernel(model, x, block):
    """(run the one kernel, its output unblocked) of the model's depthwise conv + bias + ReLU6, blocked."""
    w, b = (np.array(ort_init(model, name)) for name in ("w", "b"))
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    attrs = {a.name: list(a.ints) for a in conv.attribute if a.ints}
    c = x.shape[1]
    xb = block_channels(x, block)
    xp = gc.placeholder(gc.float32, xb.shape)
    y = conv_blocked(xp, gc.constant(pack_blocked_weights(w, block, c)), depthwise=True, strides=attrs["strides"],
                     pads=attrs["pads"])
    y = gc.minimum(gc.maximum(y + gc.constant(block_channels(b.reshape(1, c, 1, 1), block)), 0.0), 6.0)
    exe = gc.Session(graph=xp.graph).compiled([y], {xp: xb})
    executor = exe.executors.acquire()
    bufs, _ = executor._bind([xb] + exe._first_counters(), None)
    (f, args), = [(f, [bufs[i] for i in a]) for f, a in zip(executor.funcs, executor.calls)]
    f(*args)
    return (lambda: f(*args)), unblock_channels(exe.run([xb])[0], c)


def ort_init(model, name):
    from onnx import numpy_helper
    return numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == name))


def ort_conv_times(model, x):
    """(ORT's output, its Conv node's kernel times in seconds) over RUNS runs on one thread."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "p")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    feed = {model.graph.input[0].name: x}
    for _ in range(RUNS + 5):
        out = sess.run(None, feed)[0]
    times = collections.defaultdict(list)
    with open(sess.end_profiling()) as f:
        for e in json.load(f):
            if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and "Reorder" not in e["name"]:
                times[e["name"]].append(e["dur"] * 1e-6)
    (_, conv), = [(n, t) for n, t in times.items() if "Conv" in n or "conv" in n.lower()] or list(times.items())
    return out, np.array(conv[5:])


def main():
    block = current_target().vector_lanes(32)
    rng = np.random.default_rng(0)
    print(f"blocks of {block}; 1 thread, thread CPU time, ms, median / min of {RUNS} runs")
    print(f"{'layer':>22} | {'graphc':>15} | {'ORT':>15} | ORT/graphc (median)")
    for c, h, s in LAYERS:
        model, _ = conv_model(c, h, c, 3, s, rng, groups=c, relu6=True)
        x = rng.standard_normal((1, c, h, h)).astype(np.float32)
        run, got = graphc_kernel(model, x, block)
        times = []
        for _ in range(RUNS + 5):
            t = time.thread_time_ns()
            run()
            times.append((time.thread_time_ns() - t) * 1e-9)
        g = np.array(times[5:])
        want, o = ort_conv_times(model, x)
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
        print(f"{f'dw {c} @{h} s{s}':>22} | {np.median(g) * 1e3:6.3f} / {g.min() * 1e3:6.3f} | "
              f"{np.median(o) * 1e3:6.3f} / {o.min() * 1e3:6.3f} | {np.median(o) / np.median(g):5.2f}", flush=True)


if __name__ == "__main__":
    main()
