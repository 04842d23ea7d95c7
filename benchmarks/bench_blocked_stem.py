"""Stem convs (a few-channel NCHW image into the channel-blocked layout, conv_blocked's CONV_BLOCKED_NCHW kernel):
graphc's blocked kernel beside graphc's NCHW conv kernel for the same layer and onnxruntime's per-node time for
it (its NCHWc conv, which also writes channel-blocked output), 1 thread, thread CPU time of each call, median and
min over RUNS calls. Layers: MobileNetV2's stem (3->32, 3x3, stride 2, pads 1, 224x224, ReLU6) and ResNet-18's
(3->64, 7x7, stride 2, pads 3, ReLU). Run: .venv/bin/python benchmarks/bench_blocked_stem.py"""
import os
import sys

os.environ["TVM_NUM_THREADS"] = "1"  # before graphc starts TVM's thread pool

import numpy as np  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.codegen.target import cpu_target  # noqa: E402
from graphc.ops.blocked import block_channels, conv_blocked, pack_blocked_weights  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import call_times, kernel_calls, ort_node_times  # noqa: E402

RUNS = 100
LAYERS = [  # (name, C_in, C_out, image size, kernel, stride, pad, activation)
    ("MobileNetV2 stem 3->32 3x3 s2 @224", 3, 32, 224, 3, 2, 1, "relu6"),
    ("ResNet-18 stem 3->64 7x7 s2 @224", 3, 64, 224, 7, 2, 3, "relu"),
]


def _activation(y, kind):
    return gc.minimum(gc.relu(y), gc.constant(np.float32(6))) if kind == "relu6" else gc.relu(y)


def kernel_times(graph, fetch, feeds, runs=RUNS):
    """Each kernel call's (name, median ms, min ms) of thread CPU time over `runs` calls (after 5 warm-up)."""
    calls = kernel_calls(gc.Session(graph=graph).compiled([fetch], feeds), feeds.values())
    times = call_times(calls, runs) * 1e3
    return [(name, float(np.median(times[:, k])), float(times[:, k].min())) for k, (name, _, _) in enumerate(calls)]


def graphc_times(c_in, c_out, size, k, s, p, act, w, bias, x_val):
    """(blocked kernel, NCHW kernel): (median, min) ms of graphc's conv + bias + activation kernel."""
    block = cpu_target().vector_lanes(32)
    result = []
    for blocked in (True, False):
        g = gc.Graph()
        with g.as_default():
            x = gc.placeholder(gc.float32, x_val.shape)
            if blocked:
                y = conv_blocked(x, gc.constant(pack_blocked_weights(w, block, 1, blocked_input=False)),
                                 strides=[s, s], pads=[p] * 4)
                y = _activation(y + gc.constant(block_channels(bias.reshape(1, -1, 1, 1), block)), act)
            else:
                y = _activation(gc.conv(x, gc.constant(w), strides=[s, s], pads=[p] * 4)
                                + gc.constant(bias.reshape(-1, 1, 1)), act)
        calls = kernel_times(g, y, {x: x_val})
        conv = [c for c in calls if "conv" in c[0]]
        assert len(conv) == 1, f"expected one conv kernel, got {calls}"
        result.append(conv[0][1:])
    return result


def ort_times(c_in, c_out, size, k, s, p, act, w, bias, x_val):
    """onnxruntime's (median, min) ms for the conv node (its activation fused in) of the layer, 1 thread."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    out = (size + 2 * p - k) // s + 1
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], strides=[s, s], pads=[p] * 4, kernel_shape=[k, k])]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")]
    if act == "relu6":
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["y"]))
        inits += [numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(6), "hi")]
    else:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    model = helper.make_model(
        helper.make_graph(nodes, "stem", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_val.shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c_out, out, out])], inits),
        opset_imports=[helper.make_opsetid("", 13)], ir_version=8)  # (an IR version this onnxruntime reads)
    onnx.checker.check_model(model)
    _, nodes = ort_node_times(model, {"x": x_val}, runs=RUNS)
    conv = [(name, op, t * 1e3) for name, (op, t) in nodes.items() if "Conv" in op]
    assert len(conv) == 1, f"expected one conv node, got {list(nodes)}"
    others = {op: float(np.median(t * 1e3)) for name, (op, t) in nodes.items() if "Conv" not in op}
    return (float(np.median(conv[0][2])), float(conv[0][2].min())), conv[0][1], others


def main():
    rng = np.random.default_rng(0)
    print(f"1 thread, thread CPU time per call, ms median / min over {RUNS} calls; target {cpu_target().mcpu}, "
          f"blocks of {cpu_target().vector_lanes(32)}")
    print(f"{'layer':38s} {'graphc blocked':>16s} {'graphc NCHW':>16s} {'onnxruntime':>16s}  blocked/ORT (med, min)")
    for name, c_in, c_out, size, k, s, p, act in LAYERS:
        w = rng.standard_normal((c_out, c_in, k, k)).astype("float32") * 0.1
        bias = rng.standard_normal(c_out).astype("float32")
        x_val = rng.standard_normal((1, c_in, size, size)).astype("float32")
        args = (c_in, c_out, size, k, s, p, act, w, bias, x_val)
        blocked, nchw = graphc_times(*args)
        ort_conv, ort_op, ort_others = ort_times(*args)
        cell = lambda t: f"{t[0]:.3f} / {t[1]:.3f}"  # noqa: E731
        print(f"{name:38s} {cell(blocked):>16s} {cell(nchw):>16s} {cell(ort_conv):>16s}  "
              f"{blocked[0] / ort_conv[0]:.2f}, {blocked[1] / ort_conv[1]:.2f}   (ORT node {ort_op}; "
              f"its other nodes, not counted: {', '.join(f'{k} {v:.3f}' for k, v in ort_others.items()) or 'none'})")


if __name__ == "__main__":
    main()
