"""Winograd convolution where it is faster: a float32 3x3 stride-1 2-D conv with constant weights becomes a
conv2d_winograd (graphc/ops/winograd.py) over the weights transformed (U = G g G^T) and packed in GEMM panels
once, at compile time. A CPU target lists this pass (codegen/target.py) with its panel width; which layers it
takes (winograd_tile) comes from timing each ResNet-18 3x3 layer shape both ways (README, Winograd)."""
import collections
import hashlib
import threading

import numpy as np

from graphc.ops.conv import conv_op, spatial_attrs
from graphc.ops.winograd import transform_weights

from .dce import dce
from .rewrite import rebuild


WINOGRAD_MIN_CHANNELS = 16  # the smallest measured layer shapes (16 channels, 7x7 outputs)
WINOGRAD_MIN_SIZE = 7
WINOGRAD_F4_MIN_SIZE = 28  # F(4x4) from ResNet-18's 28x28 layers up
TRANSFORMED_CACHE_BYTES = 1 << 28  # transformed weights kept for later compiles (ResNet-18's take ~80 MB)

_transformed_cache = collections.OrderedDict()  # key of (weights, m, width) -> read-only U, least recent first
_transformed_lock = threading.Lock()


def transformed_weights(weights, m, panel_width):
    """transform_weights(weights, m, panel_width), read-only, reused while the same weights (by SHA-256 of their
    bytes: hashing is ~10x cheaper than the transform) are compiled again, e.g. a re-imported model."""
    weights = np.ascontiguousarray(weights)
    key = (hashlib.sha256(memoryview(weights).cast("B")).hexdigest(), weights.shape, weights.dtype.str, m,
           panel_width)
    with _transformed_lock:
        if key in _transformed_cache:
            _transformed_cache.move_to_end(key)
            return _transformed_cache[key]
    u = transform_weights(weights, m, panel_width)
    u.setflags(write=False)
    with _transformed_lock:
        _transformed_cache[key] = u
        while sum(v.nbytes for v in _transformed_cache.values()) > TRANSFORMED_CACHE_BYTES:
            _transformed_cache.popitem(last=False)
    return u


def winograd_tile(c_in, c_out, out_h, out_w):
    """The Winograd output tile m (2 or 4) for a 3x3 stride-1 conv of this shape, or None where the direct
    conv is as fast. Measured alone (batch 1, 1 thread, AVX2), F(2x2, 3x3) beat the direct conv on every
    ResNet-like shape from 16 channels at 56x56 to 512 at 7x7, and F(4x4, 3x3) beat F(2x2) by 20-30% at 56x56
    and 28x28, tied at 14x14 and lost at 7x7 (its 6x6 tiles mostly padding) (README, Winograd)."""
    if min(c_in, c_out) < WINOGRAD_MIN_CHANNELS or min(out_h, out_w) < WINOGRAD_MIN_SIZE:
        return None
    return 4 if min(out_h, out_w) >= WINOGRAD_F4_MIN_SIZE else 2


def _candidate(node, choose):
    """The tile `choose` picks for a conv node Winograd may replace, else None."""
    if node.opdef is not conv_op or len(node.inputs) != 2:
        return None
    x, w = node.inputs
    if not w.node.opdef.constant or str(x.dtype.name) != "float32" or x.shape is None or len(x.shape) != 4 \
            or any(v is None for v in x.shape) or tuple(w.shape[2:]) != (3, 3):
        return None
    k, s, d, p = spatial_attrs(node.attrs, 2, [3, 3])
    if int(node.attrs.get("groups", 1)) != 1 or s != [1, 1] or d != [1, 1]:
        return None
    out = node.outputs[0].shape
    return choose(int(x.shape[1]), int(w.shape[0]), int(out[2]), int(out[3]))


def winograd(graph, fetches, panel_width, choose=None):
    """The graph with each float32 3x3 stride-1 conv of constant weights that `choose(c_in, c_out, out_h,
    out_w)` gives a tile m for computed as conv2d_winograd F(m x m, 3x3), over its weights transformed and
    packed in `panel_width`-column panels; returns (graph, fetches)."""
    choose = choose or winograd_tile
    if not any(_candidate(n, choose) for n in graph.nodes):
        return graph, fetches

    def rule(node, inputs, g):
        m = _candidate(node, choose)
        if not m:
            return None
        x, w = inputs
        weights = np.asarray(w.node.attrs["value"])
        u = transformed_weights(weights, m, panel_width)
        const = g.create_node("constant", (), {"value": u}, w.node.name + "_winograd")
        _, _, _, pads = spatial_attrs(node.attrs, 2, [3, 3])
        wino = g.create_node("conv2d_winograd", (x, const.outputs[0]),
                             {"tile": m, "pads": [int(v) for v in pads], "c_out": int(weights.shape[0])},
                             node.name + "_winograd")
        return wino.outputs
    # the original weights, now read by nothing, are dropped (no buffer for them)
    return dce(*rebuild(graph, fetches, rule))
