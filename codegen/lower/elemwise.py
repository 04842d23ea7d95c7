"""TE lowerings of graphc/ops/elemwise.py."""
from tvm import te, tirx, topi

from . import lowering

_UNARY = {
    "negative": topi.negative, "abs": topi.abs, "exp": topi.exp, "log": topi.log, "sqrt": topi.sqrt,
    "rsqrt": topi.rsqrt, "tanh": topi.tanh, "sigmoid": topi.sigmoid, "relu": topi.nn.relu,
    "sin": topi.sin, "cos": topi.cos, "erf": topi.erf, "sign": topi.sign, "floor": topi.floor,
    "ceil": topi.ceil, "round": topi.round, "logical_not": topi.logical_not,
}
_BINARY = {
    "add": topi.add, "subtract": topi.subtract, "multiply": topi.multiply, "pow": topi.power,
    "maximum": topi.maximum, "minimum": topi.minimum, "floor_mod": topi.floor_mod,
    "equal": topi.equal, "not_equal": topi.not_equal, "less": topi.less, "less_equal": topi.less_equal,
    "greater": topi.greater, "greater_equal": topi.greater_equal,
    "logical_and": topi.logical_and, "logical_or": topi.logical_or, "logical_xor": topi.logical_xor,
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
