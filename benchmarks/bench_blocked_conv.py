"""MobileNetV2's group-1 1x1 convs in the channel-blocked layout (conv_blocked, CONV_BLOCKED rule), one kernel each
with its epilogue (bias + ReLU6 for expansions, bias + residual add for projections): thread CPU time per call,
1 thread, median and min over RUNS calls. With --ort-run (torch's MobileNetV2 profiled by onnxruntime in this
process, benchmarks/torch_models.py, needs the bench extra's torch) or --ort FILE (the output of such a per-node
profile, /work/wt/briefs/q_ort.py, taken in the same session) each layer's ORT node time is printed beside it.
Usage: .venv/bin/python benchmarks/bench_blocked_conv.py [--ort-run | --ort FILE] [--only SUBSTRING] [--runs N]"""
import argparse
import os
import re
import sys

os.environ["TVM_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.codegen.target import current_target  # noqa: E402
from graphc.ops.blocked import block_channels, conv_blocked, pack_blocked_weights  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import call_times, kernel_calls, ort_node_times  # noqa: E402

RUNS = 60
# (C_in, C_out, H=W, epilogue, ORT nodes of that layer in torch's MobileNetV2 export)
LAYERS = [
    (32, 16, 112, "bias", ["/3/body/body.3/Conv"]),
    (16, 96, 112, "relu6", ["/4/body/body.2/Clip"]),
    (96, 24, 56, "bias", ["/4/body/body.6/Conv"]),
    (24, 144, 56, "relu6", ["/5/body/body.2/Clip", "/6/body/body.2/Clip"]),
    (144, 24, 56, "residual", ["/5/body/body.6/Conv"]),
    (144, 32, 28, "bias", ["/6/body/body.6/Conv"]),
    (32, 192, 28, "relu6", [f"/{i}/body/body.2/Clip" for i in (7, 8, 9)]),
    (192, 32, 28, "residual", ["/7/body/body.6/Conv", "/8/body/body.6/Conv"]),
    (192, 64, 14, "bias", ["/9/body/body.6/Conv"]),
    (64, 384, 14, "relu6", [f"/{i}/body/body.2/Clip" for i in (10, 11, 12, 13)]),
    (384, 64, 14, "residual", [f"/{i}/body/body.6/Conv" for i in (10, 11, 12)]),
    (384, 96, 14, "bias", ["/13/body/body.6/Conv"]),
    (96, 576, 14, "relu6", [f"/{i}/body/body.2/Clip" for i in (14, 15, 16)]),
    (576, 96, 14, "residual", ["/14/body/body.6/Conv", "/15/body/body.6/Conv"]),
    (576, 160, 7, "bias", ["/16/body/body.6/Conv"]),
    (160, 960, 7, "relu6", [f"/{i}/body/body.2/Clip" for i in (17, 18, 19)]),
    (960, 160, 7, "residual", ["/17/body/body.6/Conv", "/18/body/body.6/Conv"]),
    (960, 320, 7, "bias", ["/19/body/body.6/Conv"]),
    (320, 1280, 7, "relu6", ["/22/Clip"]),
]


def layer_kernel(c_in, c_out, size, epilogue, block, rng):
    """kernel_calls' one call of the layer's conv kernel (its epilogue fused in), a list of one."""
    x_val = rng.standard_normal((1, c_in, size, size)).astype("float32")
    w = rng.standard_normal((c_out, c_in, 1, 1)).astype("float32") * 0.1
    bias = block_channels(rng.standard_normal((1, c_out, 1, 1)).astype("float32"), block)
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder("float32", block_channels(x_val, block).shape)
        y = conv_blocked(x, gc.constant(pack_blocked_weights(w, block)), strides=[1, 1], pads=[0, 0, 0, 0])
        y = y + gc.constant(bias)
        feeds = [block_channels(x_val, block)]
        inputs = [x]
        if epilogue == "relu6":
            y = gc.minimum(gc.maximum(y, 0.0), 6.0)
        elif epilogue == "residual":
            r = gc.placeholder("float32", tuple(y.shape))
            inputs.append(r)
            feeds.append(rng.standard_normal(tuple(y.shape)).astype("float32"))
            y = y + r
        exe = gc.Session(graph=g).compiled([y], dict(zip(inputs, feeds)))
    conv = [call for call in kernel_calls(exe, feeds) if "conv_blocked" in call[0]]
    assert len(conv) == 1, f"expected one conv_blocked kernel, got {[name for name, _, _ in conv]}"
    return conv


def ort_file_times(path):
    """{ORT node name: (median, min) ms} from q_ort.py's output."""
    times = {}
    for line in open(path):
        m = re.match(r"(\S+)_output_0_nchwc\s+med ([\d.]+) min ([\d.]+)", line)
        if m:
            times[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return times


def ort_run_times(runs):
    """{ORT node name: (median, min) ms} of onnxruntime's run of torch's MobileNetV2 here, 1 thread."""
    from torch_models import mobilenet_v2
    model, _ = mobilenet_v2()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    _, nodes = ort_node_times(model, {model.graph.input[0].name: x}, runs=runs)
    suffix = "_output_0_nchwc"  # ORT names its NCHWc nodes after their output
    return {name[:-len(suffix)]: (float(np.median(t)) * 1e3, float(t.min()) * 1e3)
            for name, (_, t) in nodes.items() if name.endswith(suffix)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ort", help="q_ort.py's output, taken in the same session")
    parser.add_argument("--ort-run", action="store_true", help="profile ORT's MobileNetV2 here (needs torch)")
    parser.add_argument("--only", default="", help="layers whose 'cin->cout@size' contains this")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed calls of each kernel (after 5 warm-up calls)")
    opts = parser.parse_args()
    ort = ort_file_times(opts.ort) if opts.ort else ort_run_times(opts.runs) if opts.ort_run else {}
    block = current_target().vector_lanes(32)
    rng = np.random.default_rng(0)
    print(f"target {current_target()} block {block}; ms median/min, 1 thread")
    print(f"{'layer':18s} {'epilogue':9s} {'graphc':>13s} {'ORT':>13s} {'ratio med/min':>14s}")
    for c_in, c_out, size, epilogue, nodes in LAYERS:
        name = f"{c_in}->{c_out}@{size}"
        if opts.only not in name:
            continue
        times = call_times(layer_kernel(c_in, c_out, size, epilogue, block, rng), opts.runs)[:, 0] * 1e3
        med, low = float(np.median(times)), float(times.min())
        peer = [ort[n] for n in nodes if n in ort]
        line = f"{name:18s} {epilogue:9s} {med:6.3f}/{low:6.3f}"
        if peer:
            o_med, o_min = min(p[0] for p in peer), min(p[1] for p in peer)
            line += f" {o_med:6.3f}/{o_min:6.3f}   {med / o_med:5.2f}/{low / o_min:5.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
