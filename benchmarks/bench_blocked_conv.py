"""MobileNetV2's group-1 1x1 convs in the channel-blocked layout (conv_blocked, CONV_BLOCKED rule), one kernel each
with its epilogue (bias + ReLU6 for expansions, bias + residual add for projections): thread CPU time per call,
1 thread, median and min over RUNS calls. With --ort FILE (the output of ORT's per-node profile of MobileNetV2,
/work/wt/briefs/q_ort.py, taken in the same session) each layer's ORT node time is printed beside it.
Usage: .venv/bin/python benchmarks/bench_blocked_conv.py [--ort FILE] [--only SUBSTRING]"""
import argparse
import os
import re
import time

os.environ["TVM_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.codegen.target import current_target  # noqa: E402
from graphc.ops.blocked import block_channels, conv_blocked, pack_blocked_weights  # noqa: E402

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
    """The compiled conv kernel of one layer and its bound arguments."""
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
    executor = exe.executors.acquire()
    bufs, _ = executor._bind(feeds + exe._first_counters(), None)
    calls = [(c.kernel, f, [bufs[i] for i in args])
             for c, f, args in zip(executor.plan.calls, executor.funcs, executor.calls)]
    return [(f, a) for name, f, a in calls if "conv_blocked" in name]


def time_call(f, args):
    """(median, min) thread CPU ms of f(*args) over RUNS calls, after warm-up calls."""
    for _ in range(5):
        f(*args)
    t = []
    for _ in range(RUNS):
        start = time.thread_time_ns()
        f(*args)
        t.append((time.thread_time_ns() - start) / 1e6)
    return float(np.median(t)), float(np.min(t))


def ort_times(path):
    """{ORT node name: (median, min)} from q_ort.py's output."""
    times = {}
    for line in open(path):
        m = re.match(r"(\S+)_output_0_nchwc\s+med ([\d.]+) min ([\d.]+)", line)
        if m:
            times[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ort", help="q_ort.py's output, taken in the same session")
    parser.add_argument("--only", default="", help="layers whose 'cin->cout@size' contains this")
    opts = parser.parse_args()
    ort = ort_times(opts.ort) if opts.ort else {}
    block = current_target().vector_lanes(32)
    rng = np.random.default_rng(0)
    print(f"target {current_target()} block {block}; ms median/min, 1 thread")
    print(f"{'layer':18s} {'epilogue':9s} {'graphc':>13s} {'ORT':>13s} {'ratio med/min':>14s}")
    for c_in, c_out, size, epilogue, nodes in LAYERS:
        name = f"{c_in}->{c_out}@{size}"
        if opts.only not in name:
            continue
        (f, args), = layer_kernel(c_in, c_out, size, epilogue, block, rng)
        med, low = time_call(f, args)
        peer = [ort[n] for n in nodes if n in ort]
        line = f"{name:18s} {epilogue:9s} {med:6.3f}/{low:6.3f}"
        if peer:
            o_med, o_min = min(p[0] for p in peer), min(p[1] for p in peer)
            line += f" {o_med:6.3f}/{o_min:6.3f}   {med / o_med:5.2f}/{low / o_min:5.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
