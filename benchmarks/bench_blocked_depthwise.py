"""MobileNetV2's depthwise layers (3x3, pads 1, + bias + ReLU6) in the channel-blocked layout against ONNX Runtime,
same process, one thread, thread CPU time: graphc's kernel (conv_blocked depthwise on [1, C/B, H, W, B], B the
target's float32 lanes, DEPTHWISE_BLOCKED schedule) beside ORT's time for the same layer's Conv node (ORT's own
NCHWc depthwise kernel, from its profiler; its layout reorders excluded). Median and min over RUNS runs each;
outputs checked against ORT's.

--network: the depthwise layers of the whole MobileNetV2 (benchmarks/torch_models.py, needs the bench extra's torch)
in network order instead, each kernel call in turn (caches holding the previous layer's data, as in a run),
beside ORT's per-node time of the same layer in its own run of the network (both one thread).

Run: .venv/bin/python benchmarks/bench_blocked_depthwise.py [--network] [--runs N]"""
import argparse
import os
import sys

os.environ["TVM_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_conv import conv_model  # noqa: E402
from common import call_times, kernel_calls, ort_node_times  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.codegen.target import current_target  # noqa: E402
from graphc.ops.blocked import block_channels, conv_blocked, pack_blocked_weights, unblock_channels  # noqa: E402

RUNS = 60  # after 5 warm-up runs
# (channels, H=W of the input, stride) of MobileNetV2's depthwise layers, in network order (repeats named once)
LAYERS = [(32, 112, 1), (96, 112, 2), (144, 56, 1), (144, 56, 2), (192, 28, 1), (192, 28, 2), (384, 14, 1),
          (576, 14, 1), (576, 14, 2), (960, 7, 1)]


def graphc_kernel(model, x, block):
    """(kernel_calls of its one kernel, its output unblocked) of the model's depthwise conv + bias + ReLU6, blocked."""
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
    calls = kernel_calls(exe, [xb])
    assert len(calls) == 1, f"expected one kernel, got {[name for name, _, _ in calls]}"
    return calls, unblock_channels(exe.run([xb])[0], c)


def ort_init(model, name):
    from onnx import numpy_helper
    return numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == name))


def network(runs):
    """MobileNetV2's depthwise kernels in network order against ORT's nodes of the same layers."""
    from torch_models import mobilenet_v2

    from graphc.onnx import import_model
    model, _ = mobilenet_v2()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    imp = import_model(model)
    exe = gc.Session(graph=imp.graph).compiled(list(imp.outputs.values()), {imp.inputs[model.graph.input[0].name]: x})
    calls = kernel_calls(exe, [x])
    times = call_times(calls, runs)
    # a blocked depthwise kernel: an argument of packed depthwise weights [C/B, 1, kh, kw, B]
    ours = [(tuple(a[0].shape), times[:, k]) for k, (_, _, a) in enumerate(calls)
            if any(len(v.shape) == 5 and v.shape[1] == 1 and v.shape[0] == a[0].shape[1] for v in a[1:-1])]
    # ORT's node of each depthwise Conv (group > 1): fused with its Clip, named after the Clip's output
    consumers = {i: n for n in model.graph.node for i in n.input}
    _, node_times = ort_node_times(model, {model.graph.input[0].name: x}, runs=runs)
    theirs = []
    for n in model.graph.node:
        if n.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in n.attribute):
            clip = consumers.get(n.output[0])
            names = [clip.output[0], n.output[0]] if clip is not None else [n.output[0]]
            theirs.append(next((t for m, (_, t) in node_times.items() if any(m.startswith(nm) for nm in names)), None))
    if not ours:
        print("no blocked depthwise kernels: this graphc has no blocked_layout pass")
        return
    print(f"MobileNetV2 in network order; 1 thread, thread CPU time (ORT: its profiler's), ms, median / min of {runs}")
    for (shape, g), o in zip(ours, theirs):
        ort_text = "-" if o is None else f"{np.median(o) * 1e3:6.3f} / {o.min() * 1e3:6.3f}"
        print(f"{f'dw {shape[1] * shape[-1]} @{shape[2]}':>14} | {np.median(g) * 1e3:6.3f} / {g.min() * 1e3:6.3f} | "
              f"{ort_text}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", action="store_true", help="the layers in MobileNetV2's order (needs torch)")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of each kernel (after 5 warm-up runs)")
    opts = parser.parse_args()
    if opts.network:
        return network(opts.runs)
    block = current_target().vector_lanes(32)
    rng = np.random.default_rng(0)
    print(f"blocks of {block}; 1 thread, thread CPU time, ms, median / min of {opts.runs} runs")
    print(f"{'layer':>22} | {'graphc':>15} | {'ORT':>15} | ORT/graphc (median)")
    for c, h, s in LAYERS:
        model, _ = conv_model(c, h, c, 3, s, rng, groups=c, relu6=True)
        x = rng.standard_normal((1, c, h, h)).astype(np.float32)
        calls, got = graphc_kernel(model, x, block)
        g = call_times(calls, opts.runs)[:, 0]
        (want,), nodes = ort_node_times(model, {model.graph.input[0].name: x}, runs=opts.runs)
        # ORT's own NCHWc depthwise kernel: its Conv node, not the layout reorders around it
        (o,) = [t for name, (op, t) in nodes.items() if "Conv" in op and "Reorder" not in name]
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
        print(f"{f'dw {c} @{h} s{s}':>22} | {np.median(g) * 1e3:6.3f} / {g.min() * 1e3:6.3f} | "
              f"{np.median(o) * 1e3:6.3f} / {o.min() * 1e3:6.3f} | {np.median(o) / np.median(g):5.2f}", flush=True)


if __name__ == "__main__":
    main()
