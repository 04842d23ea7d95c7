"""Elementwise arithmetic, comparisons and logic; variadic Max/Min/Sum/Mean."""
import numpy as np

import graphc as gc
from graphc import dtypes

from ..names import SAME_OPS
from . import CONVERTERS, const, converter


def _simple(op_type, fn):
    CONVERTERS[op_type] = lambda ctx, node, ins, attrs: fn(*ins)


for _same in SAME_OPS:  # (the exporter emits the same table the other way)
    _simple(_same.onnx_op, getattr(gc, _same.graphc_op))


@converter("Div")
def _div(ctx, node, ins, attrs):
    a, b = ins
    if a.dtype.is_integer:  # ONNX integer Div truncates toward zero
        q = gc.divide(gc.cast(a, dtypes.float64), gc.cast(b, dtypes.float64))
        return gc.cast(q, a.dtype)
    return gc.divide(a, b)


@converter("Pow")
def _pow(ctx, node, ins, attrs):
    a, b = ins
    if b.dtype != a.dtype:
        b = gc.cast(b, a.dtype)
    return gc.pow(a, b)


@converter("Mod")
def _mod(ctx, node, ins, attrs):
    a, b = ins
    if attrs.get("fmod", 0):
        return gc.subtract(a, gc.multiply(b, gc.cast(gc.cast(gc.divide(a, b), dtypes.int64), a.dtype))) \
            if a.dtype.is_floating else gc.subtract(a, gc.multiply(b, _div(ctx, node, ins, attrs)))
    return gc.floor_mod(a, b)


def _variadic(fn):
    def conv(ctx, node, ins, attrs):
        out = ins[0]
        for t in ins[1:]:
            out = fn(out, t)
        return out
    return conv


CONVERTERS["Max"] = _variadic(gc.maximum)
CONVERTERS["Min"] = _variadic(gc.minimum)
CONVERTERS["Sum"] = _variadic(gc.add)


@converter("Mean")
def _mean(ctx, node, ins, attrs):
    return gc.divide(_variadic(gc.add)(ctx, node, ins, attrs), const(len(ins), ins[0]))


@converter("IsInf")
def _is_inf(ctx, node, ins, attrs):
    x = ins[0]
    pos, neg = gc.equal(x, const(np.inf, x)), gc.equal(x, const(-np.inf, x))
    detect_pos, detect_neg = attrs.get("detect_positive", 1), attrs.get("detect_negative", 1)
    if detect_pos and detect_neg:
        return gc.logical_or(pos, neg)
    return pos if detect_pos else neg if detect_neg else gc.logical_and(pos, neg)  # the last: all False


@converter("BitShift")
def _bit_shift(ctx, node, ins, attrs):
    return (gc.left_shift if attrs["direction"] == "LEFT" else gc.right_shift)(*ins)
