"""Convolutions of ResNet-18 (batch 1, 3x224x224) through graphc's TVM kernels against ONNX Runtime,
same process, 2 threads each: every layer shape alone (Conv + bias + ReLU, weights constant), then
the whole network (models/onnx_zoo.py). Outputs are checked against ORT; medians and best of 25 runs (all graphc runs, then all ORT runs).

With --cpu-time both run on one thread and each run is measured in that thread's CPU time (best of
15): on a machine shared with other jobs, wall times mostly measure the other jobs.

--mobilenet times MobileNetV2's heaviest depthwise and 1x1 layers instead.

--winograd times each 3x3 stride-1 layer shape (ResNet-18's, and `--shapes C,HW C,HW ...`) as the direct conv
and as Winograd F(2x2, 3x3) and F(4x4, 3x3), forced by passes/winograd.py's rule,
against ORT, with each one's error relative to ORT's largest output.

--profile times every kernel call of the whole ResNet-18 (with --mobilenet: torch's MobileNetV2) on one thread in CPU time, in network order
(caches holding the previous layer's data) and repeated back to back (its own data cached, as when a
layer is timed alone): the difference is what the whole network pays for cold weights and activations.

Run: .venv/bin/python benchmarks/bench_conv.py [--layers-only | --model-only | --mobilenet | --profile | --winograd]
[--cpu-time]
"""
import os
import sys
import time

CPU_TIME = "--cpu-time" in sys.argv or "--profile" in sys.argv or "--winograd" in sys.argv
os.environ.setdefault("TVM_NUM_THREADS", "1" if CPU_TIME else "2")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.models.onnx_zoo import resnet18  # noqa: E402
from graphc.onnx import import_model  # noqa: E402
from graphc.runtime.executor import aligned_empty  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import kernel_calls, sample_seconds  # noqa: E402

THREADS = 1 if CPU_TIME else 2
# (C_in, H=W, C_out, kernel, stride) of every distinct conv in ResNet-18 at 224x224
LAYERS = [(3, 224, 64, 7, 2), (64, 56, 64, 3, 1), (64, 56, 128, 3, 2), (64, 56, 128, 1, 2), (128, 28, 128, 3, 1),
          (128, 28, 256, 3, 2), (128, 28, 256, 1, 2), (256, 14, 256, 3, 1), (256, 14, 512, 3, 2),
          (256, 14, 512, 1, 2), (512, 7, 512, 3, 1)]
# (C_in, H=W, C_out, kernel, stride, groups) of MobileNetV2's heaviest convs (depthwise and 1x1, + ReLU6): --mobilenet
MOBILENET_LAYERS = [(96, 112, 96, 3, 2, 96), (144, 56, 144, 3, 1, 144), (32, 112, 32, 3, 1, 32),
                    (144, 56, 144, 3, 2, 144), (192, 28, 192, 3, 1, 192), (576, 14, 576, 3, 1, 576),
                    (16, 112, 96, 1, 1, 1), (24, 56, 144, 1, 1, 1), (144, 56, 24, 1, 1, 1), (320, 7, 1280, 1, 1, 1),
                    (960, 7, 320, 1, 1, 1), (96, 14, 576, 1, 1, 1)]


def ort_session(model):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def conv_model(c_in, h, c_out, k, s, rng, groups=1, relu6=False):
    """An ONNX model of one Conv (bias) + Relu (Clip(0, 6), MobileNet's ReLU6, with `relu6`)."""
    w = (rng.standard_normal((c_out, c_in // groups, k, k)) * np.sqrt(2 / (c_in // groups * k * k))).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32) * 0.1
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[k, k], strides=[s, s], pads=[k // 2] * 4,
                              group=groups),
             helper.make_node("Clip", ["y", "zero", "six"], ["out"]) if relu6 else helper.make_node("Relu", ["y"], ["out"])]
    out_hw = (h + 2 * (k // 2) - k) // s + 1
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c_in, h, h])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, c_out, out_hw, out_hw])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")] +
                              ([numpy_helper.from_array(np.float32(v), n) for n, v in (("zero", 0), ("six", 6))]
                               if relu6 else []))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, 2.0 * c_out * c_in // groups * k * k * out_hw * out_hw


def graphc_runner(model, feed):
    """(run(), output, compile seconds) of the model compiled by graphc for `feed`'s shapes."""
    imp = import_model(model)
    (name, x), = feed.items()
    t = time.perf_counter()
    exe = gc.Session(graph=imp.graph).compiled(list(imp.outputs.values())[0], {imp.inputs[name]: x})
    compile_s = time.perf_counter() - t
    return (lambda: exe.run([x])), exe.run([x])[0], compile_s


def compare(label, model, flops, x):
    sess = ort_session(model)
    feed = {model.graph.input[0].name: x}
    want = sess.run(None, feed)[0]
    run, got, compile_s = graphc_runner(model, feed)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
    if CPU_TIME:
        g, o = (min(sample_seconds(fn, repeat=15, warmup=1, clock=time.thread_time))
                for fn in (run, lambda: sess.run(None, feed)))
        print(f"{label:>34} 1 thread, CPU time {flops / g / 1e9:7.1f} GFLOP/s {g * 1e3:8.2f} ms | ORT "
              f"{flops / o / 1e9:7.1f} GFLOP/s {o * 1e3:8.2f} ms | ORT/graphc time {o / g:5.2f} | compile "
              f"{compile_s:5.1f} s", flush=True)
        return g, o
    # the best run shows the kernel itself when other processes steal the cores
    # one runner after the other: ORT's threads spin after each run and would steal TVM's cores if they alternated
    t_gc, t_ort = (np.array(sample_seconds(fn, repeat=25, warmup=3)) for fn in (run, lambda: sess.run(None, feed)))
    for what, fn in (("median", np.median), ("best", np.min)):
        g, o = fn(t_gc), fn(t_ort)
        print(f"{label:>34} {what:>6} {flops / g / 1e9:7.1f} GFLOP/s {g * 1e3:8.2f} ms | ORT {flops / o / 1e9:7.1f} "
              f"GFLOP/s {o * 1e3:8.2f} ms | ORT/graphc time {o / g:5.2f}" +
              (f" | compile {compile_s:5.1f} s" if what == "best" else ""), flush=True)
    return t_gc, t_ort


def profile_network(rounds=9):
    """Each kernel call's best CPU time in network order and repeated back to back: ResNet-18, or torch's
    MobileNetV2 (benchmarks/torch_models.py) with --mobilenet."""
    if "--mobilenet" in sys.argv:
        from torch_models import mobilenet_v2
        model, _ = mobilenet_v2()
    else:
        model = resnet18()
    x = aligned_empty((1, 3, 224, 224), np.float32)
    x[...] = np.random.default_rng(0).standard_normal(x.shape)
    imp = import_model(model)
    feed = {imp.inputs[model.graph.input[0].name]: x}
    calls = kernel_calls(gc.Session(graph=imp.graph).compiled(list(imp.outputs.values())[0], feed), [x])

    def seconds(f, args):
        start = time.thread_time_ns()
        f(*args)
        return (time.thread_time_ns() - start) / 1e6
    in_order, repeated = np.full(len(calls), np.inf), np.full(len(calls), np.inf)
    for _ in range(rounds):  # both kinds sampled in every round, so the machine's load changes hit both
        in_order = np.minimum(in_order, [seconds(f, args) for _, f, args in calls])
        repeated = np.minimum(repeated, [(f(*args), seconds(f, args))[1] for _, f, args in calls])
    for (kernel, _, _), a, b in zip(calls, in_order, repeated):
        print(f"{kernel[:48]:48} in order {a:7.3f} ms  repeated {b:7.3f} ms  {a - b:+7.3f}")
    print(f"{'total':48} in order {in_order.sum():7.3f} ms  repeated {repeated.sum():7.3f} ms  "
          f"{in_order.sum() - repeated.sum():+7.3f}")


def winograd_layers(rng):
    """Each 3x3 stride-1 layer shape: ORT, the direct conv and Winograd (the pass's rule forced), in CPU time."""
    import graphc.passes.winograd as winograd_pass
    shapes = [(c, h) for c, h, co, k, s in LAYERS if k == 3 and s == 1 and c == co]
    if "--shapes" in sys.argv:
        shapes = [tuple(int(v) for v in a.split(",")) for a in sys.argv[sys.argv.index("--shapes") + 1:]]
    tiles = (None, 2, 4)
    rule = winograd_pass.winograd_tile
    try:
        for c, h in shapes:
            model, _ = conv_model(c, h, c, 3, 1, rng)
            x = aligned_empty((1, c, h, h), np.float32)
            x[...] = rng.standard_normal(x.shape)
            sess = ort_session(model)
            feed = {model.graph.input[0].name: x}
            want = sess.run(None, feed)[0]
            runs, line = {"ORT": lambda: sess.run(None, feed)}, []
            for m in tiles:
                winograd_pass.winograd_tile = lambda *_, m=m: m
                run, got, compile_s = graphc_runner(model, feed)
                runs[f"F({m}x{m})" if m else "direct"] = run
                line.append(f"error {np.abs(got - want).max() / np.abs(want).max():.1e} compile {compile_s:4.1f} s")
            ms = {k: min(sample_seconds(f, repeat=15, warmup=1, clock=time.thread_time)) * 1e3 for k, f in runs.items()}
            print(f"conv {c}x{h}x{h} -> {c} 3x3: " + " | ".join(f"{k} {v:6.3f} ms" for k, v in ms.items()) + " | " +
                  " | ".join(f"{k}: {e}" for k, e in zip(list(runs)[1:], line)), flush=True)
    finally:
        winograd_pass.winograd_tile = rule


def main():
    rng = np.random.default_rng(0)
    if "--profile" in sys.argv:
        return profile_network()
    if "--winograd" in sys.argv:
        return winograd_layers(rng)
    if "--model-only" not in sys.argv:
        layers = [ly + (1,) for ly in LAYERS] if "--mobilenet" not in sys.argv else MOBILENET_LAYERS
        for c_in, h, c_out, k, s, groups in layers:
            model, flops = conv_model(c_in, h, c_out, k, s, rng, groups, relu6="--mobilenet" in sys.argv)
            x = aligned_empty((1, c_in, h, h), np.float32)
            x[...] = rng.standard_normal(x.shape)
            compare(f"conv {c_in}x{h}x{h} -> {c_out} k{k} s{s}" + (f" g{groups}" if groups > 1 else ""),
                    model, flops, x)
    if "--layers-only" not in sys.argv and "--mobilenet" not in sys.argv:
        model = resnet18()
        x = aligned_empty((1, 3, 224, 224), np.float32)
        x[...] = rng.standard_normal(x.shape)
        compare("ResNet-18 batch 1 (whole model)", model, 2 * 1.82e9, x)


if __name__ == "__main__":
    main()
