"""Quantization: QuantizeLinear, DequantizeLinear (per tensor, per axis, blocked), DynamicQuantizeLinear,
MatMulInteger, QLinearMatMul; compositions of cast, round, clip and integer matmul. BitCast."""
import numpy as np

import graphc as gc
from graphc import dtypes

from . import OnnxImportError, axis_in_range, converter, np_dtype, rank_of
from .tensor import cast_saturating

_INT_RANGES = {"uint8": (0, 255), "int8": (-128, 127), "uint16": (0, 65535), "int16": (-32768, 32767),
               "uint4": (0, 15), "int4": (-8, 7), "uint2": (0, 3), "int2": (-2, 1)}


def _scalar(value, dtype):
    return gc.constant(np.asarray(value, dtypes.as_dtype(dtype).np))


def _clip(x, lo, hi):
    return gc.minimum(gc.maximum(x, _scalar(lo, x.dtype)), _scalar(hi, x.dtype))


def _broadcastable(v, x, axis, block_size, node):
    """Scale or zero point `v` shaped to broadcast against `x`: a scalar, a 1-D tensor along `axis`, or
    (blocked) a tensor of x's rank whose dim `axis` has one entry per block, repeated block_size times."""
    if v.shape is None:
        raise OnnxImportError(f"the rank of {v.name} must be known")
    if len(v.shape) == 0 or (len(v.shape) == 1 and v.shape[0] == 1):
        return gc.reshape(v, [])
    rank = rank_of(x, node)
    axis = axis_in_range(axis, rank)
    if not block_size:
        shape = [1] * rank
        shape[axis] = -1
        return gc.reshape(v, shape)
    if x.shape[axis] is None:
        raise OnnxImportError(f"blocked quantization needs dim {axis} of {x.name} known")
    index = np.arange(x.shape[axis], dtype=np.int64) // block_size
    return gc.gather(v, gc.constant(index), axis=axis)


@converter("QuantizeLinear")
def _quantize_linear(ctx, node, ins, attrs):
    x, scale = ins[0], ins[1]
    zp = ins[2] if len(ins) > 2 else None
    axis, block = attrs.get("axis", 1), attrs.get("block_size", 0)
    if zp is not None:
        out = zp.dtype
    else:
        out = dtypes.as_dtype(np_dtype(attrs["output_dtype"])) if attrs.get("output_dtype") else dtypes.uint8
    if attrs.get("precision"):
        prec = np_dtype(attrs["precision"])
        x, scale = gc.cast(x, prec), gc.cast(scale, prec)
    y = x / gc.cast(_broadcastable(scale, x, axis, block, node), x.dtype)
    if out.name in _INT_RANGES:
        q = gc.cast(gc.round(y), dtypes.int32)
        if zp is not None:
            q = q + gc.cast(_broadcastable(zp, x, axis, block, node), dtypes.int32)
        return gc.cast(_clip(q, *_INT_RANGES[out.name]), out)
    if out.name.startswith("float8"):  # the zero point of a float8 type is zero
        return cast_saturating(y, out, attrs.get("saturate", 1))
    if out.name == "float4_e2m1fn":  # no inf/NaN: the cast itself saturates
        if zp is not None:
            y = y + gc.cast(_broadcastable(zp, x, axis, block, node), y.dtype)
        return gc.cast(y, out)
    raise OnnxImportError(f"QuantizeLinear to {out.name} is not supported; expected one of "
                          f"{sorted(_INT_RANGES) + ['float4_e2m1fn', 'float8_*']}")


@converter("DequantizeLinear")
def _dequantize_linear(ctx, node, ins, attrs):
    x, scale = ins[0], ins[1]
    zp = ins[2] if len(ins) > 2 else None
    axis, block = attrs.get("axis", 1), attrs.get("block_size", 0)
    dx = gc.cast(x, dtypes.float32)
    if zp is not None and x.dtype.is_integer:  # float zero points are zero
        dx = dx - gc.cast(_broadcastable(zp, x, axis, block, node), dtypes.float32)
    y = dx * gc.cast(_broadcastable(scale, x, axis, block, node), dtypes.float32)
    out = np_dtype(attrs["output_dtype"]) if attrs.get("output_dtype") else scale.dtype
    return gc.cast(y, out)


@converter("DynamicQuantizeLinear")
def _dynamic_quantize_linear(ctx, node, ins, attrs):
    x = gc.cast(ins[0], dtypes.float32)
    zero = _scalar(0, dtypes.float32)
    hi, lo = gc.maximum(gc.reduce_max(x), zero), gc.minimum(gc.reduce_min(x), zero)
    scale = gc.where(gc.equal(hi, lo), _scalar(1, dtypes.float32), hi - lo) / _scalar(255, dtypes.float32)
    zp = gc.round(_clip(zero - lo / scale, 0, 255))
    y = _clip(gc.round(x / scale) + zp, 0, 255)
    return [gc.cast(y, dtypes.uint8), gc.cast(scale, ins[0].dtype), gc.cast(zp, dtypes.uint8)]


def _minus_zero_point(x, zp, axis):
    """int32 x - zp; a 1-D zp is per row of A (axis -2) or per column of B (axis -1)."""
    x = gc.cast(x, dtypes.int32)
    if zp is None:
        return x
    zp = gc.cast(zp, dtypes.int32)
    if zp.shape and len(zp.shape) == 1 and zp.shape[0] != 1 and axis == -2:
        zp = gc.reshape(zp, [-1, 1])
    elif zp.shape and len(zp.shape) == 1 and zp.shape[0] == 1:
        zp = gc.reshape(zp, [])
    return x - zp


@converter("MatMulInteger")
def _matmul_integer(ctx, node, ins, attrs):
    a, b = ins[0], ins[1]
    azp = ins[2] if len(ins) > 2 else None
    bzp = ins[3] if len(ins) > 3 else None
    return gc.matmul(_minus_zero_point(a, azp, -2), _minus_zero_point(b, bzp, -1))


@converter("QLinearMatMul")
def _qlinear_matmul(ctx, node, ins, attrs):
    a, a_scale, azp, b, b_scale, bzp, y_scale = ins[:7]
    yzp = ins[7] if len(ins) > 7 else None
    c = gc.matmul(_minus_zero_point(a, azp, -2), _minus_zero_point(b, bzp, -1))
    f32 = [gc.cast(s, dtypes.float32) for s in (a_scale, b_scale, y_scale)]
    d = gc.cast(c, dtypes.float32) * (f32[0] * f32[1] / f32[2])
    out = yzp.dtype if yzp is not None else a.dtype
    if yzp is not None:
        d = d + gc.cast(yzp, dtypes.float32)
    return gc.cast(_clip(gc.round(d), *_INT_RANGES[out.name]), out)


@converter("BitCast")
def _bitcast(ctx, node, ins, attrs):
    x, to = ins[0], dtypes.as_dtype(np_dtype(attrs["to"]))
    if x.dtype.itemsize != to.itemsize:
        raise OnnxImportError(f"BitCast from {x.dtype.name} to {to.name}: the widths differ "
                              f"({x.dtype.itemsize * 8} and {to.itemsize * 8} bits); expected equal widths")
    return gc.bitcast(x, to)
