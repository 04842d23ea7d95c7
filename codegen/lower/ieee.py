"""NaN-propagating comparisons for lowerings (numpy's and TF's semantics: NaN in, NaN out).

LLVM's float max/min and TVM's reducers drop a NaN operand, so max, min, argmax and pooling reduce an
order-preserving integer key of each float instead: the float's bits with negative values' magnitude
bits flipped (so integer order is float order) and every NaN mapped to the largest (or smallest) key.
Integer max/min reductions keep TVM's registered reducers, so rfactor and vectorization still apply.
"""
import math

import numpy as np
import tvm
from tvm import te, tirx

_KEY_DTYPE = {"float16": "int16", "float32": "int32", "float64": "int64"}


def is_float(dtype):
    """Whether TVM dtype `dtype` is a native float type (the ones that hold NaN here)."""
    return str(dtype) in _KEY_DTYPE


def _magnitude_mask(key_dtype):
    return tirx.const(np.iinfo(key_dtype).max, key_dtype)


_INF_BITS = {"float16": 0x7C00, "float32": 0x7F800000, "float64": 0x7FF0000000000000}


def isnan(v):
    """Whether float expression `v` is NaN, tested on its bits (exponent all ones, mantissa not zero):
    integer ops that TVM vectorizes, where tirx.isnan makes its vectorizer scalarize the whole loop
    (MobileNetV2's ReLU6 epilogues ran 2.5-3.5x slower for it)."""
    v = v.asobject() if hasattr(v, "asobject") else v  # a te TensorSlice (x[i]) as its load expression
    if isinstance(v, tirx.FloatImm):  # decided now: TVM folds no reinterpret, and CUDA's codegen mistypes
        return tirx.const(math.isnan(v.value), "bool")  # a broadcast of one (a half4 from make_ushort4)
    dtype = str(v.ty)
    if dtype not in _KEY_DTYPE:
        return tirx.isnan(v)
    kd = _KEY_DTYPE[dtype]
    return (tirx.reinterpret(kd, v) & _magnitude_mask(kd)) > tirx.const(_INF_BITS[dtype], kd)


def order_key(v, dtype, nan_high=True):
    """The integer key of float expression `v`: ordered as the floats, NaN above (or below) all."""
    kd = _KEY_DTYPE[str(dtype)]
    bits = tirx.reinterpret(kd, v)
    key = tirx.Select(bits < tirx.const(0, kd), bits ^ _magnitude_mask(kd), bits)
    nan_key = tirx.max_value(kd) if nan_high else tirx.min_value(kd)
    return tirx.Select(isnan(v), nan_key, key)


def from_key(key, dtype):
    """The float whose order_key is `key` (the NaN keys give NaN)."""
    kd = _KEY_DTYPE[str(dtype)]
    bits = tirx.Select(key < tirx.const(0, kd), key ^ _magnitude_mask(kd), key)
    return tirx.reinterpret(str(dtype), bits)


def key_tensor(x, nan_high=True):
    """order_key of every element of float tensor `x`."""
    return te.compute(x.shape, lambda *i: order_key(x(*i), x.dtype, nan_high), name="order_key")


def value_tensor(k, dtype):
    """The floats of key tensor `k` (from_key of every element)."""
    return te.compute(k.shape, lambda *i: from_key(k(*i), dtype), name="from_order_key")


def _known_value(v):
    """The float constant expression `v` loads (an immediate, or a read of a tensor computed as one constant,
    such as the splat constants codegen/build.py inlines, through its broadcasts), or None."""
    v = v.asobject() if hasattr(v, "asobject") else v
    for _ in range(4):  # (each step one producer: a broadcast_to of a constant's tensor)
        if isinstance(v, tirx.FloatImm) or not (isinstance(v, tvm.ir.Call) and v.op.name == "te.tensor_load"):
            break
        body = getattr(v.args[0].op, "body", None)  # (te.tensor_load(tensor, *indices))
        v = body[0] if body is not None and len(body) == 1 else None
    return v if isinstance(v, tirx.FloatImm) and not math.isnan(v.value) else None


def _against_constant(a, b, prefer):
    """max (prefer = less) or min (prefer = greater) of a and b where one is a constant that is no NaN: one
    compare and select, which keeps the other operand's NaN (a comparison with NaN is false) and which LLVM
    makes one vmaxps/vminps; None where neither is such a constant. (A ReLU6's clip: the bit tests of the
    general case cost a quarter of MobileNetV2's stem.)"""
    for x, c in ((a, _known_value(b)), (b, _known_value(a))):
        if c is not None:
            return tirx.Select(prefer(x, c), c, x)
    return None


def maximum(a, b):
    """max(a, b) of two expressions of one dtype; NaN if either is NaN (floats)."""
    if not is_float(a.ty):
        return tirx.max(a, b)
    fast = _against_constant(a, b, lambda x, c: x < c)
    if fast is not None:
        return fast
    return tirx.Select(isnan(a), a, tirx.Select(isnan(b), b, tirx.max(a, b)))


def minimum(a, b):
    """min(a, b) of two expressions of one dtype; NaN if either is NaN (floats)."""
    if not is_float(a.ty):
        return tirx.min(a, b)
    fast = _against_constant(a, b, lambda x, c: x > c)
    if fast is not None:
        return fast
    return tirx.Select(isnan(a), a, tirx.Select(isnan(b), b, tirx.min(a, b)))


def not_equal(a, b):
    """a != b, true when either is NaN (IEEE's unordered not-equal, as numpy)."""
    if not is_float(a.ty):
        return a != b
    # (TVM simplifies not(a == b) to an ordered a != b, which is false for NaN)
    return tirx.Or(a != b, tirx.Or(isnan(a), isnan(b)))
