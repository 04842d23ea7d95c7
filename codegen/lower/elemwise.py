"""TE lowerings of graphc/ops/elemwise.py."""
import tvm
from tvm import te, tirx, topi

from . import lowering

_UNARY = {
    "negative": topi.negative, "abs": topi.abs, "exp": topi.exp, "log": topi.log, "sqrt": topi.sqrt,
    "rsqrt": topi.rsqrt, "tanh": topi.tanh, "sigmoid": topi.sigmoid, "relu": topi.nn.relu,
    "sin": topi.sin, "cos": topi.cos, "erf": topi.erf, "sign": topi.sign, "floor": topi.floor,
    "ceil": topi.ceil, "round": topi.round, "logical_not": topi.logical_not,
    "bitwise_not": topi.bitwise_not, "is_nan": topi.isnan,
    "tan": topi.tan, "asin": topi.asin, "acos": topi.acos, "atan": topi.atan, "asinh": topi.asinh, "acosh": topi.acosh, "atanh": topi.atanh,
}
_BINARY = {
    "add": topi.add, "subtract": topi.subtract, "multiply": topi.multiply,
    "maximum": topi.maximum, "minimum": topi.minimum,
    "equal": topi.equal, "not_equal": topi.not_equal, "less": topi.less, "less_equal": topi.less_equal,
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


@lowering("square")
def lower_square(node, x):
    return topi.multiply(x, x)


@lowering("reciprocal")
def lower_reciprocal(node, x):
    return te.compute(x.shape, lambda *i: tirx.const(1, x.dtype) / x(*i), name="reciprocal")


@lowering("divide")
def lower_divide(node, a, b):
    return topi.floor_divide(a, b) if node.outputs[0].dtype.is_integer else topi.divide(a, b)


@lowering("where")
def lower_where(node, c, a, b):
    return topi.where(c, a, b)


@lowering("cast")
def lower_cast(node, x):
    dtype = node.attrs["dtype"].name
    if dtype == "bool":  # nonzero is True, as numpy
        return te.compute(x.shape, lambda *i: x(*i) != tirx.const(0, x.dtype), name="cast")
    return topi.cast(x, dtype)


@lowering("left_shift", "right_shift")
def lower_shift(node, a, b):
    """Shifts by amounts outside [0, bits) give 0 (or -1 for a negative value shifted right), as ONNX."""
    dtype = str(a.dtype)
    bits = tvm.runtime.DataType(dtype).bits
    zero = tirx.const(0, dtype)
    shape = tuple(node.outputs[0].shape)
    a_b, b_b = topi.broadcast_to(a, shape), topi.broadcast_to(b, shape)

    def value(*i):
        x, y = a_b(*i), b_b(*i)
        out = tirx.any(y < zero, y >= tirx.const(bits, dtype))
        amount = tirx.if_then_else(out, zero, y)
        if node.op == "left_shift":
            return tirx.if_then_else(out, zero, x << amount)
        fill = tirx.if_then_else(x < zero, tirx.const(-1, dtype), zero) if dtype.startswith("int") else zero
        return tirx.if_then_else(out, fill, x >> amount)
    return te.compute(shape, value, name=node.op)


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


def _broadcast_binary(node, a, b, fn):
    shape = tuple(node.outputs[0].shape)
    a_b, b_b = topi.broadcast_to(a, shape), topi.broadcast_to(b, shape)
    return te.compute(shape, lambda *i: fn(a_b(*i), b_b(*i)), name=node.op)


@lowering("floor_mod")
def lower_floor_mod(node, a, b):
    if not str(a.dtype).startswith("float"):
        return topi.floor_mod(a, b)

    zero = tirx.const(0, str(a.dtype))

    def mod(x, y):  # numpy's mod; an infinite divisor keeps x when it has y's sign, else gives y
        r = x - tirx.floor(x / y) * y
        keep_x = tirx.any(x == zero, tirx.all(x < zero, y < zero), tirx.all(x > zero, y > zero))
        return tirx.if_then_else(tirx.all(tirx.isinf(y), tirx.Not(tirx.isinf(x))),
                                 tirx.if_then_else(keep_x, x, y), r)
    return _broadcast_binary(node, a, b, mod)


@lowering("pow")
def lower_pow(node, a, b):
    dtype = str(a.dtype)
    if dtype.startswith("float"):
        return topi.power(a, b)
    # integer powers through float64 (exact up to 2**53), rounded back
    return _broadcast_binary(node, a, b, lambda x, y: tirx.Cast(dtype, tirx.round(tirx.power(
        tirx.Cast("float64", x), tirx.Cast("float64", y)))))
