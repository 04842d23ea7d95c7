"""TE lowerings of graphc/ops/reduce.py."""
import numpy as np
from tvm import te, tirx, topi

from graphc.ops._base import normalize_axes, normalize_axis

from . import ieee, lowering


def _axes(node):
    return list(normalize_axes(node.attrs.get("axes"), len(node.inputs[0].shape)))


def acc_dtype(dtype):
    """The accumulator dtype of a sum of `dtype`: float16 sums in float32 (as numpy and BLAS do);
    float16 partial sums drift by ulps, about one bit per doubling of the length."""
    return "float32" if str(dtype) == "float16" else str(dtype)


def float16_safe_sum(x, axis, keepdims):
    """topi.sum, accumulated in acc_dtype (float32 for float16) and rounded back once."""
    acc = acc_dtype(x.dtype)
    if acc == str(x.dtype):
        return topi.sum(x, axis=axis, keepdims=keepdims)
    return topi.cast(topi.sum(topi.cast(x, acc), axis=axis, keepdims=keepdims), str(x.dtype))


def _extremum(topi_fn, nan_high):
    """topi.max / topi.min that keep NaN (and give -inf / +inf for rows of -inf / +inf): floats reduce
    their order keys (codegen/lower/ieee.py), where NaN is the largest (max) or smallest (min) key."""
    def fn(x, axis, keepdims):
        if not ieee.is_float(x.dtype):
            return topi_fn(x, axis=axis, keepdims=keepdims)
        keys = topi_fn(ieee.key_tensor(x, nan_high), axis=axis, keepdims=keepdims)
        return ieee.value_tensor(keys, x.dtype)
    return fn


@lowering("sum", "max", "min", "prod")
def lower_reduce(node, x):
    fn = {"sum": float16_safe_sum, "max": _extremum(topi.max, True), "min": _extremum(topi.min, False),
          "prod": topi.prod}[node.op]
    axes = _axes(node)
    if not axes:
        return topi.identity(x)
    return fn(x, axis=axes, keepdims=node.attrs.get("keepdims", False))


@lowering("mean")
def lower_mean(node, x):
    axes = _axes(node)
    total = float16_safe_sum(x, axes, node.attrs.get("keepdims", False)) if axes else topi.identity(x)
    count = int(np.prod([node.inputs[0].shape[a] for a in axes])) if axes else 1
    if str(x.dtype).startswith("float"):
        return te.compute(total.shape, lambda *i: total(*i) / tirx.const(count, x.dtype), name="mean")
    return te.compute(total.shape, lambda *i: tirx.truncdiv(total(*i), tirx.const(count, x.dtype)), name="mean")


@lowering("argmax", "argmin")
def lower_arg(node, x):
    axis = normalize_axis(node.attrs["axis"], len(node.inputs[0].shape))
    fn = topi.argmax if node.op == "argmax" else topi.argmin
    if ieee.is_float(x.dtype):  # the first NaN wins either way, as numpy
        x = ieee.key_tensor(x, nan_high=node.op == "argmax")
    out = fn(x, axis=axis, keepdims=node.attrs.get("keepdims", False))
    return topi.cast(out, node.attrs["output_type"].name)


@lowering("unreduce")
def lower_unreduce(node, dy, x):
    shape = node.inputs[1].shape
    axes = normalize_axes(node.attrs.get("axes"), len(shape))
    keep = node.attrs.get("keepdims", False)
    scale = int(np.prod([shape[a] for a in axes])) if node.attrs.get("mean") else 1

    def value(*idx):
        src = [0 if i in axes else v for i, v in enumerate(idx)] if keep else \
              [v for i, v in enumerate(idx) if i not in axes]
        v = dy(*src)
        return v / tirx.const(scale, dy.dtype) if scale != 1 else v
    return te.compute(tuple(shape), value, name="unreduce")


@lowering("sum_to")
def lower_sum_to(node, dy, like):
    out_shape = tuple(node.outputs[0].shape)
    in_shape = tuple(node.inputs[0].shape)
    lead = len(in_shape) - len(out_shape)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(out_shape) if d == 1 and in_shape[lead + i] != 1]
    if not axes:
        return topi.reshape(dy, out_shape)
    s = topi.sum(dy, axis=axes, keepdims=True)
    return topi.reshape(s, out_shape)


@lowering("broadcast_like")
def lower_broadcast_like(node, x, like):
    return topi.broadcast_to(x, tuple(node.outputs[0].shape))


PRODUCT = te.comm_reducer(lambda a, b: a * b, lambda t: tirx.const(1, t), name="product")


@lowering("cumsum", "cumprod")
def lower_cumulative(node, x):
    a = node.attrs
    shape = tuple(node.inputs[0].shape)
    axis = normalize_axis(a["axis"], len(shape))
    n = shape[axis]
    reducer = te.sum if node.op == "cumsum" else PRODUCT
    identity = tirx.const(0 if node.op == "cumsum" else 1, x.dtype)
    if n == 0:
        return topi.identity(x)
    r = te.reduce_axis((0, n), name="k")

    def value(*i):
        k, j = r, i[axis]
        if a["reverse"]:
            k, j = j, k
        inside = k < j if a["exclusive"] else k <= j  # which terms element i accumulates
        term = tirx.if_then_else(inside, x(*(i[:axis] + (r,) + i[axis + 1:])), identity)
        return reducer(term, axis=r)
    return te.compute(shape, value, name=node.op)
