"""Casts, constants and tensor metadata (Shape, Size); Dropout at inference."""
import numpy as np

import graphc as gc
from graphc import dtypes

from . import BIG, OnnxImportError, axis_in_range, converter, ints, np_dtype, rank_of
from .shape import slice_static


_FLOAT8 = ("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz")


def cast_saturating(x, dtype, saturate=True):
    """`x` cast to `dtype`; a float8 target with `saturate` takes out-of-range values (and inf) to its
    largest finite value, as ONNX's Cast and QuantizeLinear do (NaN stays NaN)."""
    dtype = dtypes.as_dtype(dtype)
    return gc.cast(x, dtype, saturate=bool(saturate) and dtype.name in _FLOAT8 and x.dtype.is_floating)


@converter("Cast")
def _cast(ctx, node, ins, attrs):
    return cast_saturating(ins[0], np_dtype(attrs["to"]), attrs.get("saturate", 1))


@converter("CastLike")
def _cast_like(ctx, node, ins, attrs):
    return cast_saturating(ins[0], ins[1].dtype, attrs.get("saturate", 1))


@converter("Constant")
def _constant(ctx, node, ins, attrs):
    import onnx
    for key in ("value", "sparse_value"):
        if key in attrs:
            if key == "sparse_value":
                raise OnnxImportError("sparse Constant values are not supported")
            return gc.constant(onnx.numpy_helper.to_array(attrs[key]))
    for key, dt in (("value_float", np.float32), ("value_int", np.int64), ("value_floats", np.float32),
                    ("value_ints", np.int64)):
        if key in attrs:
            return gc.constant(np.asarray(attrs[key], dt))
    raise OnnxImportError(f"Constant node {node.name!r} has none of the value attributes graphc supports")


@converter("ConstantOfShape")
def _constant_of_shape(ctx, node, ins, attrs):
    import onnx
    shape = ints(ctx.static(ins[0], "ConstantOfShape shape")) if ins[0].shape != (0,) else []
    value = onnx.numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
    return gc.constant(np.full(shape, value.reshape(()), value.dtype))


@converter("Shape")
def _shape(ctx, node, ins, attrs):
    x = ins[0]
    start, end = attrs.get("start", 0), attrs.get("end", None)
    if x.shape is not None and all(d is not None for d in x.shape):
        return gc.constant(np.asarray(x.shape, np.int64)[start:end])
    s = gc.shape(x, out_type=dtypes.int64)
    if start == 0 and end is None:
        return s
    return slice_static(s, [start], [BIG if end is None else end], [0], [1])


@converter("Size")
def _size(ctx, node, ins, attrs):
    x = ins[0]
    if x.shape is not None and all(d is not None for d in x.shape):
        return gc.constant(np.asarray(int(np.prod(x.shape)), np.int64))
    return gc.size(x, out_type=dtypes.int64)



@converter("Dropout")
def _dropout(ctx, node, ins, attrs):
    y = gc.identity(ins[0])
    if len(node.output) > 1 and node.output[1]:
        return [y, gc.constant(np.ones(ins[0].shape, bool))]
    return y


def _static_dims(x, what):
    if x.shape is None or None in x.shape:
        raise OnnxImportError(f"{what} needs its input's shape known at import time")
    return tuple(x.shape)


@converter("Range")
def _range(ctx, node, ins, attrs):
    # the output's length depends on the values, so they must be static (graphc shapes are static)
    start, limit, delta = (np.asarray(ctx.static(t, f"Range {n}")).reshape(())
                           for t, n in zip(ins, ("start", "limit", "delta")))
    n = max(int(np.ceil((float(limit) - float(start)) / float(delta))), 0)
    return gc.constant((start + np.arange(n) * delta).astype(ins[0].dtype.np))


@converter("EyeLike")
def _eye_like(ctx, node, ins, attrs):
    x = ins[0]
    rows, cols = _static_dims(x, "EyeLike")
    dtype = np_dtype(attrs["dtype"]) if "dtype" in attrs else x.dtype.np
    return gc.constant(np.eye(rows, cols, attrs.get("k", 0), dtype=dtype))


@converter("Trilu")
def _trilu(ctx, node, ins, attrs):
    x = ins[0]
    rows, cols = _static_dims(x, "Trilu")[-2:]
    k = int(np.asarray(ctx.static(ins[1], "Trilu k")).reshape(())) if len(ins) > 1 and ins[1] is not None else 0
    keep = np.tri(rows, cols, k - 1, dtype=bool) == 0 if attrs.get("upper", 1) else np.tri(rows, cols, k, dtype=bool)
    return gc.where(gc.constant(keep), x, gc.zeros_like(x))


@converter("NonZero")
def _non_zero(ctx, node, ins, attrs):
    value = ctx.static(ins[0], "NonZero input (its output's shape depends on the values)")
    return gc.constant(np.asarray(np.nonzero(value), np.int64).reshape(np.ndim(value), -1))


@converter("Compress")
def _compress(ctx, node, ins, attrs):
    x, cond = ins
    keep = np.nonzero(np.asarray(ctx.static(cond, "Compress condition")).astype(bool))[0].astype(np.int64)
    axis = attrs.get("axis")
    if axis is None:
        x, axis = gc.reshape(x, [-1]), 0
    return gc.gather(x, gc.constant(keep), axis=axis_in_range(axis, rank_of(x, node)))
