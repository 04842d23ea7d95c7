"""Reductions (axes an attribute until opset 13 for ReduceSum, 18 for the rest) and ArgMax/ArgMin."""
import numpy as np

import graphc as gc
from graphc import dtypes

from . import BIG, CONVERTERS, OnnxImportError, Versions, axis_in_range, const, ints, rank_of
from .shape import axes_attr, axes_input, slice_static


def _reduce_axes(ctx, node, ins, attrs, axes_of):
    axes = list(axes_of(ctx, node, ins, attrs) or [])
    if not axes:
        if attrs.get("noop_with_empty_axes", 0):
            return None, True
        return None, False
    return axes, False


def _reduce(fn, input_from=18, pre=None, post=None):
    """A reduction's converters: its axes an attribute before opset `input_from`, an input from it on."""
    def version(axes_of):
        def conv(ctx, node, ins, attrs):
            x = ins[0]
            axes, noop = _reduce_axes(ctx, node, ins, attrs, axes_of)
            if noop:
                return gc.identity(x) if pre is None else pre(x)
            y = fn(x if pre is None else pre(x), axis=axes, keepdims=bool(attrs.get("keepdims", 1)))
            return y if post is None else post(y)
        return conv
    return Versions.of((1, version(axes_attr)), (input_from, version(axes_input)))


CONVERTERS["ReduceSum"] = _reduce(gc.reduce_sum, input_from=13)
CONVERTERS["ReduceMean"] = _reduce(gc.reduce_mean)
def _extremum(fn, largest):
    def reduce(x, axis, keepdims):
        rank = len(x.shape)
        axes = range(rank) if axis is None else [axis_in_range(a, rank, "axes entry") for a in axis]
        if 0 in [x.shape[a] for a in axes]:  # over nothing: the identity, -inf for max as ONNX says
            shape = [1 if a in axes else d for a, d in enumerate(x.shape) if keepdims or a not in axes]
            if None in shape:
                raise OnnxImportError(f"{'ReduceMax' if largest else 'ReduceMin'} over an empty axis needs "
                                      f"the other dims known at import time")
            dt = x.dtype.np
            info = np.finfo(dt) if dt.kind == "f" else (np.iinfo(dt) if dt.kind in "iu" else None)
            value = (not largest) if info is None else (-np.inf if largest else np.inf) if dt.kind == "f" \
                else (info.min if largest else info.max)
            return gc.constant(np.full(shape, value, dt))
        if x.dtype.is_bool:  # max is any, min is all
            return gc.cast(fn(gc.cast(x, dtypes.uint8), axis=axis, keepdims=keepdims), dtypes.bool_)
        return fn(x, axis=axis, keepdims=keepdims)
    return reduce


CONVERTERS["ReduceMax"] = _reduce(_extremum(gc.reduce_max, True))
CONVERTERS["ReduceMin"] = _reduce(_extremum(gc.reduce_min, False))
CONVERTERS["ReduceProd"] = _reduce(gc.reduce_prod)
CONVERTERS["ReduceSumSquare"] = _reduce(gc.reduce_sum, pre=gc.square)
CONVERTERS["ReduceL1"] = _reduce(gc.reduce_sum, pre=gc.abs)
CONVERTERS["ReduceL2"] = _reduce(gc.reduce_sum, pre=gc.square, post=gc.sqrt)
CONVERTERS["ReduceLogSum"] = _reduce(gc.reduce_sum, post=gc.log)


def _log_sum_exp(x, axis, keepdims):
    if x.shape is not None and 0 in [x.shape[a] for a in (axis if axis is not None else range(len(x.shape)))]:
        return gc.log(gc.reduce_sum(gc.exp(x), axis=axis, keepdims=keepdims))  # empty: log(0) = -inf
    m = gc.reduce_max(x, axis=axis, keepdims=True)  # subtract the max so exp cannot overflow
    y = gc.add(gc.log(gc.reduce_sum(gc.exp(gc.subtract(x, m)), axis=axis, keepdims=True)), m)
    return y if keepdims else gc.squeeze(y, axis=axis if axis is not None else list(range(len(x.shape))))


CONVERTERS["ReduceLogSumExp"] = _reduce(_log_sum_exp)


def _arg(fn):
    def conv(ctx, node, ins, attrs):
        x, axis, keep = ins[0], attrs.get("axis", 0), bool(attrs.get("keepdims", 1))
        if not attrs.get("select_last_index", 0):
            return fn(x, axis=axis, keepdims=keep, output_type=dtypes.int64)
        axis = axis_in_range(axis, rank_of(x, node))
        dim = x.shape[axis]
        if dim is None:
            raise OnnxImportError("select_last_index=1 needs the reduced dim known at import time")
        # the last extremum is the first one in the reversed tensor
        rev = slice_static(x, [-1], [-BIG], [axis], [-1])
        return gc.subtract(const(dim - 1, gc.constant(np.int64(0))),
                           fn(rev, axis=axis, keepdims=keep, output_type=dtypes.int64))
    return conv


CONVERTERS["ArgMax"] = _arg(gc.argmax)
CONVERTERS["ArgMin"] = _arg(gc.argmin)


def _cumulative(fn):
    def conv(ctx, node, ins, attrs):
        axis = int(np.asarray(ctx.static(ins[1], f"{node.op_type} axis")).reshape(()))
        return fn(ins[0], axis=axis, exclusive=bool(attrs.get("exclusive", 0)), reverse=bool(attrs.get("reverse", 0)))
    return conv


CONVERTERS["CumSum"] = _cumulative(gc.cumsum)
CONVERTERS["CumProd"] = _cumulative(gc.cumprod)
