"""Elementwise arithmetic, comparisons and logic; variadic Max/Min/Sum/Mean."""
import numpy as np

import graphc as gc
from graphc import dtypes

from . import CONVERTERS, const, converter


def _simple(op_type, fn):
    CONVERTERS[op_type] = lambda ctx, node, ins, attrs: fn(*ins)


for _op, _fn in {"Add": gc.add, "Sub": gc.subtract, "Mul": gc.multiply, "Abs": gc.abs, "Neg": gc.negative,
                 "Exp": gc.exp, "Log": gc.log, "Sqrt": gc.sqrt, "Reciprocal": gc.reciprocal,
                 "Sigmoid": gc.sigmoid, "Tanh": gc.tanh, "Relu": gc.relu, "Erf": gc.erf, "Sin": gc.sin,
                 "Cos": gc.cos, "Floor": gc.floor, "Ceil": gc.ceil, "Round": gc.round, "Sign": gc.sign,
                 "Equal": gc.equal, "Less": gc.less, "Greater": gc.greater, "LessOrEqual": gc.less_equal,
                 "GreaterOrEqual": gc.greater_equal, "And": gc.logical_and, "Or": gc.logical_or,
                 "Xor": gc.logical_xor, "Not": gc.logical_not, "Where": gc.where,
                 "Identity": gc.identity, "Tan": gc.tan, "Asin": gc.asin, "Acos": gc.acos, "Atan": gc.atan,
                 "BitwiseAnd": gc.bitwise_and, "BitwiseOr": gc.bitwise_or, "BitwiseXor": gc.bitwise_xor,
                 "BitwiseNot": gc.bitwise_not, "IsNaN": gc.is_nan, "Sinh": gc.sinh, "Cosh": gc.cosh, "Asinh": gc.asinh, "Acosh": gc.acosh, "Atanh": gc.atanh}.items():
    _simple(_op, _fn)


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
