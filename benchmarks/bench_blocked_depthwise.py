"""MobileNetV2's depthwise layers (3x3, pads 1, + bias + ReLU6) in the channel-blocked layout against ONNX Runtime,
same process, one thread, thread CPU time: graphc's kernel (conv_blocked depthwise on [1, C/B, H, W, B], B the
target's float32 lanes, DEPTHWISE_BLOCKED schedule) beside ORT's time for the same layer's Conv node (ORT's own
NCHWc depthwise kernel, from its profiler; its layout reorders excluded). Median and min over RUNS runs each;
outputs checked against ORT's.

--network: the depthwise layers of the whole MobileNetV2 (benchmarks/torch_models.py, needs the bench extra's torch)
in network order instead, each kernel call in turn (caches holding the previous layer's data, as in a run),
beside ORT's per-node time of the same layer in its own run of the network (both one thread).

Run: .venv/bin/python benchmarks/bench_blocked_depthwise.py [--network]"""
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


def ort_node_times(model, x):
    """{node name: kernel times in seconds} of ORT's run of `model` on one thread, RUNS runs after 5."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "p")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    feed = {model.graph.input[0].name: x}
    for _ in range(RUNS + 5):
        sess.run(None, feed)
    times = collections.defaultdict(list)
    with open(sess.end_profiling()) as f:
        for e in json.load(f):
            if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
                times[e["name"][:-len("_kernel_time")]].append(e["dur"] * 1e-6)
    return {name: np.array(t[5:]) for name, t in times.items()}


def network():
    """MobileNetV2's depthwise kernels in network order against ORT's nodes of the same layers."""
    from torch_models import mobilenet_v2

    from graphc.onnx import import_model
    model, _ = mobilenet_v2()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    imp = import_model(model)
    exe = gc.Session(graph=imp.graph).compiled(list(imp.outputs.values()), {imp.inputs[model.graph.input[0].name]: x})
    executor = exe.executors.acquire()
    bufs, _ = executor._bind([x] + exe._first_counters(), None)
    calls = [(f, [bufs[i] for i in a]) for f, a in zip(executor.funcs, executor.calls)]
    times = np.zeros((RUNS + 5, len(calls)))
    for r in range(RUNS + 5):
        for k, (f, args) in enumerate(calls):
            t = time.thread_time_ns()
            f(*args)
            times[r, k] = (time.thread_time_ns() - t) * 1e-9
    # a blocked depthwise kernel: an argument of packed depthwise weights [C/B, 1, kh, kw, B]
    ours = [(tuple(a[0].shape), times[5:, k]) for k, (_, a) in enumerate(calls)
            if any(len(v.shape) == 5 and v.shape[1] == 1 and v.shape[0] == a[0].shape[1] for v in a[1:-1])]
    # ORT's node of each depthwise Conv (group > 1): fused with its Clip, named after the Clip's output
    consumers = {i: n for n in model.graph.node for i in n.input}
    node_times = ort_node_times(model, x)
    theirs = []
    for n in model.graph.node:
        if n.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in n.attribute):
            clip = consumers.get(n.output[0])
            names = [clip.output[0], n.output[0]] if clip is not None else [n.output[0]]
            theirs.append(next((t for m, t in node_times.items() if any(m.startswith(nm) for nm in names)), None))
    if not ours:
        print("no blocked depthwise kernels: this graphc has no blocked_layout pass")
        return
    print(f"MobileNetV2 in network order; 1 thread, thread CPU time (ORT: its profiler's), ms, median / min of {RUNS}")
    for (shape, g), o in zip(ours, theirs):
        ort_text = "-" if o is None else f"{np.median(o) * 1e3:6.3f} / {o.min() * 1e3:6.3f}"
        print(f"{f'dw {shape[1] * shape[-1]} @{shape[2]}':>14} | {np.median(g) * 1e3:6.3f} / {g.min() * 1e3:6.3f} | "
              f"{ort_text}", flush=True)


def main():
    if "--network" in sys.argv:
        return network()
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
