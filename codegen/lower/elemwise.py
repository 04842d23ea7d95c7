"""TE lowerings of graphc/ops/elemwise.py."""
import tvm
from tvm import te, tirx, topi

from . import ieee, lowering

_UNARY = {
    "negative": topi.negative, "abs": topi.abs, "exp": topi.exp, "log": topi.log, "sqrt": topi.sqrt,
    "rsqrt": topi.rsqrt, "tanh": topi.tanh, "sigmoid": topi.sigmoid,
    "sin": topi.sin, "cos": topi.cos, "floor": topi.floor,
    "ceil": topi.ceil, "round": topi.round, "logical_not": topi.logical_not,
    "bitwise_not": topi.bitwise_not, "is_nan": topi.isnan,
    "tan": topi.tan, "asin": topi.asin, "acos": topi.acos, "atan": topi.atan, "asinh": topi.asinh, "acosh": topi.acosh, "atanh": topi.atanh,
}
_BINARY = {
    "add": topi.add, "multiply": topi.multiply,
    "equal": topi.equal, "less": topi.less, "less_equal": topi.less_equal,
    "greater": topi.greater, "greater_equal": topi.greater_equal,
    "logical_and": topi.logical_and, "logical_or": topi.logical_or, "logical_xor": topi.logical_xor,
    "bitwise_and": topi.bitwise_and, "bitwise_or": topi.bitwise_or, "bitwise_xor": topi.bitwise_xor,
}


def _unary(fn):
    return lambda node, x: fn(x)


def _binary(fn):
    return lambda node, a, b: fn(a, b)


for _name, _fn in _UNARY.items():
    lowering(_name)(_unary(_fn))
for _name, _fn in _BINARY.items():
    lowering(_name)(_binary(_fn))


@lowering("erf")
def lower_erf(node, x):
    """float32 erf as TVM's rational approximation (fast_erf, within 7 float32 ulps): plain arithmetic that
    LLVM vectorizes, where the erf intrinsic becomes a scalar libm call per element (about 25 ns each, most
    of a GELU layer's time). NaN stays NaN. Other dtypes keep the intrinsic."""
    if str(x.dtype) != "float32":
        return topi.erf(x)
    approx = topi.fast_erf(x)
    return te.compute(x.shape, lambda *i: tirx.Select(tirx.isnan(x(*i)), x(*i), approx(*i)), name="erf")


@lowering("maximum", "minimum", "not_equal")
def lower_nan_aware_binary(node, a, b):
    """NaN in either operand gives NaN (maximum/minimum) or true (not_equal), as numpy."""
    return _broadcast_binary(node, a, b, {"maximum": ieee.maximum, "minimum": ieee.minimum,
                                          "not_equal": ieee.not_equal}[node.op])


@lowering("subtract")
def lower_subtract(node, a, b):
    if a is b and ieee.is_float(a.dtype):  # TVM folds x - x to 0; IEEE has NaN for NaN and inf
        nan = tirx.const(float("nan"), str(a.dtype))
        return te.compute(a.shape, lambda *i: tirx.Select(tirx.isfinite(a(*i)), tirx.const(0, a.dtype), nan),
                          name="subtract")
    return topi.subtract(a, b)


@lowering("relu")
def lower_relu(node, x):
    return te.compute(x.shape, lambda *i: ieee.maximum(x(*i), tirx.const(0, x.dtype)), name="relu")


@lowering("sign")
def lower_sign(node, x):
    s = topi.sign(x)
    if not ieee.is_float(x.dtype):
        return s
    return te.compute(x.shape, lambda *i: tirx.Select(tirx.isnan(x(*i)), x(*i), s(*i)), name="sign")


@lowering("square")
def lower_square(node, x):
    return topi.multiply(x, x)


@lowering("reciprocal")
def lower_reciprocal(node, x):
    return te.compute(x.shape, lambda *i: tirx.const(1, x.dtype) / x(*i), name="reciprocal")


@lowering("divide")
def lower_divide(node, a, b):
    if node.outputs[0].dtype.is_integer:
        return _broadcast_binary(node, a, b, lambda x, y: _int_division(x, y, tirx.floordiv))
    return topi.divide(a, b)


def _int_division(x, y, fn):
    """fn(x, y) (floordiv or floormod) with numpy's results where the hardware traps (SIGFPE):
    x // 0 and x % 0 are 0, INT_MIN // -1 wraps to INT_MIN and INT_MIN % -1 is 0. A divisor of -1
    is computed as a negation (TVM's simplifier drops an `x == INT_MIN` test)."""
    dtype = str(x.ty)
    zero, one = tirx.const(0, dtype), tirx.const(1, dtype)
    if not dtype.startswith("int"):
        return tirx.Select(y == zero, zero, fn(x, tirx.Select(y == zero, one, y)))
    minus_one = tirx.const(-1, dtype)
    special = tirx.Or(y == zero, y == minus_one)
    by_minus_one = zero - x if fn is tirx.floordiv else zero  # wraps for INT_MIN, as numpy
    return tirx.Select(y == zero, zero, tirx.Select(y == minus_one, by_minus_one, fn(x, tirx.Select(special, one, y))))


@lowering("where")
def lower_where(node, c, a, b):
    return topi.where(c, a, b)


@lowering("cast")
def lower_cast(node, x):
    src, dst = node.inputs[0].dtype, node.attrs["dtype"]
    if not (src.is_storage_only or dst.is_storage_only):
        return _native_cast(x, dst.name)
    saturate = node.attrs.get("saturate", False)
    return te.compute(x.shape, lambda *i: _cast_value(x(*i), src, dst, saturate), name="cast")


@lowering("bitcast")
def lower_bitcast(node, x):
    src, dst = node.inputs[0].dtype, node.attrs["dtype"]
    if src.is_bool or dst.is_bool:  # TVM's bool is one bit wide; its bytes hold 0 or 1
        return _native_cast(x, dst.storage)
    if src.storage == dst.storage:
        return te.compute(x.shape, lambda *i: x(*i), name="bitcast")
    return te.compute(x.shape, lambda *i: tirx.reinterpret(dst.storage, x(*i)), name="bitcast")


def _native_cast(x, dtype):
    if dtype == "bool":  # nonzero (NaN included) is True, as numpy
        return te.compute(x.shape, lambda *i: ieee.not_equal(x(*i), tirx.const(0, x.dtype)), name="cast")
    return topi.cast(x, dtype)


# ---- casts of narrow types held as bits (graphc/dtypes.py), with ml_dtypes' semantics -------------
# name: (exponent bits, mantissa bits, bias, flavor); flavor says how NaN/inf/overflow are encoded:
# 'ieee' has inf and NaN, 'fn' only NaN (all ones), 'fnuz' only NaN (the negative zero), 'sat' neither.
_FLOATS = {
    "bfloat16": (8, 7, 127, "ieee"), "float8_e4m3fn": (4, 3, 7, "fn"), "float8_e4m3fnuz": (4, 3, 8, "fnuz"),
    "float8_e5m2": (5, 2, 15, "ieee"), "float8_e5m2fnuz": (5, 2, 16, "fnuz"), "float4_e2m1fn": (2, 1, 1, "sat"),
}


def _i64(v):
    return tirx.const(v, "int64")


def _cast_value(v, src, dst, saturate=False):
    """One element `v` (TVM storage of `src`) cast to `dst`'s storage."""
    if src.is_storage_only:  # decode into a wide type that holds every value exactly
        v = _decode_float(v, src.name) if src.is_floating else _decode_int(v, src)
        if not dst.is_storage_only:
            zero = tirx.const(0, "float32" if src.is_floating else "int32")
            return (v != zero) if dst.is_bool else v.astype(dst.name)
    elif dst.is_storage_only and src.is_bool:
        v = v.astype("int32")
    if dst.is_floating:
        return _encode_float(v.astype("float32"), dst.name, saturate).astype(dst.storage)
    # ml_dtypes converts to narrow ints by truncating toward zero and keeping the low bits
    return (v.astype("int64") & _i64((1 << dst.bits) - 1)).astype(dst.storage)


def _decode_int(c, src):
    c = c.astype("int32") & tirx.const((1 << src.bits) - 1, "int32")
    if src.kind == "i":  # sign-extend
        top = tirx.const(1 << (src.bits - 1), "int32")
        c = (c ^ top) - top
    return c


def _decode_float(c, name):
    """float32 value of the bits `c` of a narrow float."""
    E, M, bias, flavor = _FLOATS[name]
    c = c.astype("int64")
    sign = (c >> _i64(E + M)) & _i64(1)
    ef, mf = (c >> _i64(M)) & _i64((1 << E) - 1), c & _i64((1 << M) - 1)
    normal = (sign << _i64(31)) | ((ef + _i64(127 - bias)) << _i64(23)) | (mf << _i64(23 - M))
    as_f32 = tirx.reinterpret("float32", normal.astype("uint32"))
    sub = mf.astype("float32") * tirx.const(2.0 ** (1 - bias - M), "float32")
    sub = tirx.Select(sign == _i64(1), -sub, sub)
    out = tirx.Select(ef == _i64(0), sub, as_f32)
    nan = tirx.reinterpret("float32", ((sign << _i64(31)) | _i64(0x7FC00000)).astype("uint32"))
    if flavor == "fn":
        out = tirx.Select((c & _i64(0x7F)) == _i64(0x7F), nan, out)
    elif flavor == "fnuz":
        out = tirx.Select(c == _i64(0x80), nan, out)
    elif flavor == "ieee" and E < 8:  # bfloat16's inf/NaN already map to float32's
        inf = tirx.reinterpret("float32", ((sign << _i64(31)) | _i64(0x7F800000)).astype("uint32"))
        out = tirx.Select(ef == _i64((1 << E) - 1), tirx.Select(mf == _i64(0), inf, nan), out)
    return out


def _encode_float(v, name, saturate=False):
    """The bits of float32 `v` rounded to nearest-even in a narrow float (int64); with `saturate`,
    magnitudes beyond the largest finite value (inf included) become it."""
    E, M, bias, flavor = _FLOATS[name]
    bits = tirx.reinterpret("uint32", v).astype("int64")
    sign, a = bits >> _i64(31), bits & _i64(0x7FFFFFFF)
    shift, emin = 23 - M, 1 - bias
    # normal: round the float32 mantissa to M bits on the bit pattern, then rebias the exponent
    r = a + _i64((1 << (shift - 1)) - 1) + ((a >> _i64(shift)) & _i64(1))
    code = (r >> _i64(shift)) - _i64((127 - bias) << M)
    if bias != 127:  # below the smallest normal: an integer count of the smallest subnormal, rounded
        e = (a >> _i64(23)) - _i64(127)
        m24 = (a & _i64(0x7FFFFF)) | _i64(0x800000)
        s = tirx.min(_i64(23 + emin - M) - e, _i64(31))
        q, rem = m24 >> s, m24 & ((_i64(1) << s) - _i64(1))
        half = _i64(1) << (s - _i64(1))
        up = tirx.Select(tirx.Or(rem > half, tirx.And(rem == half, (q & _i64(1)) == _i64(1))), _i64(1), _i64(0))
        code = tirx.Select(e < _i64(emin), q + up, code)
    top = E + M  # the sign bit's position
    max_code = {"ieee": ((1 << E) - 2) << M | ((1 << M) - 1), "fn": (1 << top) - 2,
                "fnuz": (1 << top) - 1, "sat": (1 << top) - 1}[flavor]
    signed = lambda m: (sign << _i64(top)) | m  # noqa: E731
    is_nan = a > _i64(0x7F800000)
    if flavor == "ieee":
        over, nan = signed(_i64(max_code + 1)), signed(_i64(((1 << E) - 1) << M | 1 << (M - 1)))
    elif flavor == "fn":
        over = nan = signed(_i64((1 << top) - 1))
    elif flavor == "fnuz":
        over = nan = _i64(1 << top)
    else:  # float4: overflow saturates; NaN comes out as ml_dtypes makes it (a zero of the other sign)
        over, nan = signed(_i64(max_code)), (_i64(1) - sign) << _i64(top)
    if saturate:
        over = signed(_i64(max_code))
    out = tirx.Select(code > _i64(max_code), over, signed(code))
    if flavor == "fnuz":  # no negative zero
        out = tirx.Select(code == _i64(0), _i64(0), out)
    return tirx.Select(is_nan, nan, out)


def _broadcast_binary(node, a, b, fn):
    shape = tuple(node.outputs[0].shape)
    a_b, b_b = topi.broadcast_to(a, shape), topi.broadcast_to(b, shape)
    return te.compute(shape, lambda *i: fn(a_b(*i), b_b(*i)), name=node.op)


@lowering("left_shift", "right_shift")
def lower_shift(node, a, b):
    """Shifts by amounts outside [0, bits) give 0 (or -1 for a negative value shifted right), as ONNX."""
    dtype = str(a.dtype)
    bits = tvm.runtime.DataType(dtype).bits
    zero = tirx.const(0, dtype)

    def shift(x, y):
        out = tirx.any(y < zero, y >= tirx.const(bits, dtype))
        amount = tirx.if_then_else(out, zero, y)
        if node.op == "left_shift":
            return tirx.if_then_else(out, zero, x << amount)
        fill = tirx.if_then_else(x < zero, tirx.const(-1, dtype), zero) if dtype.startswith("int") else zero
        return tirx.if_then_else(out, fill, x >> amount)
    return _broadcast_binary(node, a, b, shift)


def _exp_pair(x, sign):
    """(exp(x) + sign * exp(-x)) / 2: LLVM has no sinh/cosh intrinsic."""
    half = tirx.const(0.5, x.dtype)
    return te.compute(x.shape, lambda *i: (tirx.exp(x(*i)) + sign * tirx.exp(-x(*i))) * half, name="exp_pair")


@lowering("sinh")
def lower_sinh(node, x):
    return _exp_pair(x, -1.0)


@lowering("cosh")
def lower_cosh(node, x):
    return _exp_pair(x, 1.0)


@lowering("floor_mod")
def lower_floor_mod(node, a, b):
    if not str(a.dtype).startswith("float"):
        return _broadcast_binary(node, a, b, lambda x, y: _int_division(x, y, tirx.floormod))

    zero = tirx.const(0, str(a.dtype))

    def mod(x, y):  # numpy's mod; an infinite divisor keeps x when it has y's sign, else gives y
        r = x - tirx.floor(x / y) * y
        keep_x = tirx.any(x == zero, tirx.all(x < zero, y < zero), tirx.all(x > zero, y > zero))
        r = tirx.if_then_else(tirx.all(tirx.isinf(y), tirx.Not(tirx.isinf(x))),
                              tirx.if_then_else(keep_x, x, y), r)
        nan = tirx.const(float("nan"), str(a.dtype))
        # NaN in, NaN out; an infinite dividend has no remainder: NaN
        return tirx.if_then_else(tirx.any(tirx.isinf(x), tirx.isnan(x), tirx.isnan(y)), nan, r)
    return _broadcast_binary(node, a, b, mod)


@lowering("pow")
def lower_pow(node, a, b):
    dtype = str(a.dtype)
    if dtype.startswith("float"):
        return topi.power(a, b)
    # integer powers through float64 (exact up to 2**53), rounded back
    return _broadcast_binary(node, a, b, lambda x, y: tirx.Cast(dtype, tirx.round(tirx.power(
        tirx.Cast("float64", x), tirx.Cast("float64", y)))))
