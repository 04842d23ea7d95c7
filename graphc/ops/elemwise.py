"""Elementwise ops: unary math, binary arithmetic with numpy broadcasting, comparisons, where, cast."""
import math
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import binary_operands, broadcast_shape, convert_to_tensor, make, rand

_SHAPES = [(3, 4), (2, 3, 5), (17,), ()]


def _erf(x):
    return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()


def _float_only(node):
    t = node.inputs[0]
    if not t.dtype.is_floating:
        raise ShapeError(f"input {t.name} has dtype {t.dtype.name}; expected a floating dtype")
    return TensorType(t.shape, t.dtype)


def _numeric(node):
    t = node.inputs[0]
    if t.dtype.is_bool:
        raise ShapeError(f"input {t.name} is bool; expected a numeric dtype")
    return TensorType(t.shape, t.dtype)


# ---- unary ------------------------------------------------------------------------------------
# name: (numpy reference, gradient(x, y, dy), example range, float only)
Unary = namedtuple("Unary", "reference gradient example_range float_only")
_UNARY = {
    "negative": (np.negative, lambda x, y, dy: [-dy], (-2, 2), False),
    "abs": (np.abs, lambda x, y, dy: [dy * sign(x)], (-2, 2), False),
    "exp": (np.exp, lambda x, y, dy: [dy * y], (-2, 2), True),
    "log": (np.log, lambda x, y, dy: [dy / x], (0.5, 3), True),
    "sqrt": (np.sqrt, lambda x, y, dy: [dy / (y * 2.0)], (0.5, 3), True),
    "rsqrt": (lambda x: (1 / np.sqrt(x)).astype(x.dtype), lambda x, y, dy: [dy * y * y * y * -0.5], (0.5, 3), True),
    "tanh": (np.tanh, lambda x, y, dy: [dy * (1.0 - y * y)], (-2, 2), True),
    "sigmoid": (lambda x: (1 / (1 + np.exp(-x))).astype(x.dtype), lambda x, y, dy: [dy * y * (1.0 - y)], (-4, 4), True),
    "relu": (lambda x: np.maximum(x, 0).astype(x.dtype),
             # from the output: relu(x) > 0 exactly where x > 0, and the input then has one reader
             lambda x, y, dy: [where(greater(y, zeros_scalar(y)), dy, zeros_like_(dy))], (-2, 2), False),
    "sin": (np.sin, lambda x, y, dy: [dy * cos(x)], (-3, 3), True),
    "cos": (np.cos, lambda x, y, dy: [-(dy * sin(x))], (-3, 3), True),
    "erf": (_erf, lambda x, y, dy: [dy * exp(-square(x)) * (2.0 / math.sqrt(math.pi))], (-2, 2), True),
    "sign": (np.sign, lambda x, y, dy: [zeros_like_(x)], (-2, 2), False),
    "square": (np.square, lambda x, y, dy: [dy * x * 2.0], (-2, 2), False),
    "reciprocal": (lambda x: (1 / x).astype(x.dtype), lambda x, y, dy: [-(dy * y * y)], (0.5, 3), True),
    "floor": (np.floor, lambda x, y, dy: [zeros_like_(x)], (-3, 3), True),
    "ceil": (np.ceil, lambda x, y, dy: [zeros_like_(x)], (-3, 3), True),
    "round": (np.round, lambda x, y, dy: [zeros_like_(x)], (-3, 3), True),
    "tan": (np.tan, lambda x, y, dy: [dy * (1.0 + y * y)], (-1.2, 1.2), True),
    "asin": (np.arcsin, lambda x, y, dy: [dy * rsqrt(1.0 - x * x)], (-0.9, 0.9), True),
    "acos": (np.arccos, lambda x, y, dy: [-(dy * rsqrt(1.0 - x * x))], (-0.9, 0.9), True),
    "atan": (np.arctan, lambda x, y, dy: [dy / (1.0 + x * x)], (-3, 3), True),
    "sinh": (np.sinh, lambda x, y, dy: [dy * cosh(x)], (-2, 2), True),
    "cosh": (np.cosh, lambda x, y, dy: [dy * sinh(x)], (-2, 2), True),
    "asinh": (np.arcsinh, lambda x, y, dy: [dy * rsqrt(x * x + 1.0)], (-3, 3), True),
    "acosh": (np.arccosh, lambda x, y, dy: [dy * rsqrt(x * x - 1.0)], (1.2, 3), True),
    "atanh": (np.arctanh, lambda x, y, dy: [dy / (1.0 - x * x)], (-0.9, 0.9), True),
}
_KINKED = {"abs", "relu", "sign", "floor", "ceil", "round"}  # keep examples off their kinks


def _unary_examples(name, low, high):
    away = 0.0 if name in ("abs", "relu", "sign") else (0.5 if name in ("floor", "ceil", "round") else None)

    def examples(rng):
        out = [Example([rand(rng, s, "float32", low, high, away)]) for s in _SHAPES]
        if name in ("negative", "abs", "square", "sign", "relu"):
            out.append(Example([rand(rng, (4, 5), "int32", -5, 5)]))
        return out
    return examples


def _unary_gradient(rule):
    def gradient(node, dys):
        return rule(node.inputs[0], node.outputs[0], dys[0])
    return gradient


for _name, _row in _UNARY.items():
    _u = Unary(*_row)
    register_op(_name, pattern=Pattern.ELEMWISE,
                infer=_float_only if _u.float_only else _numeric,
                reference=(lambda f: lambda attrs, x: np.asarray(f(x)).astype(x.dtype))(_u.reference),
                gradient=_unary_gradient(_u.gradient),
                examples=_unary_examples(_name, *_u.example_range))


def _unary_api(op):
    def fn(x, name=None):
        return make(op, [convert_to_tensor(x)], None, name)
    fn.__name__ = op
    fn.__doc__ = f"Elementwise {op}."
    return fn


negative = _unary_api("negative")
abs = _unary_api("abs")  # noqa: A001 (TF's name)
exp = _unary_api("exp")
log = _unary_api("log")
sqrt = _unary_api("sqrt")
rsqrt = _unary_api("rsqrt")
tanh = _unary_api("tanh")
sigmoid = _unary_api("sigmoid")
relu = _unary_api("relu")
sin = _unary_api("sin")
cos = _unary_api("cos")
erf = _unary_api("erf")
sign = _unary_api("sign")
square = _unary_api("square")
reciprocal = _unary_api("reciprocal")
floor = _unary_api("floor")
ceil = _unary_api("ceil")
round = _unary_api("round")  # noqa: A001
tan = _unary_api("tan")
asin = _unary_api("asin")
acos = _unary_api("acos")
atan = _unary_api("atan")
sinh = _unary_api("sinh")
cosh = _unary_api("cosh")
asinh = _unary_api("asinh")
acosh = _unary_api("acosh")
atanh = _unary_api("atanh")


def zeros_scalar(x):
    """A scalar 0 constant of x's dtype, in x's graph."""
    return convert_to_tensor(np.zeros((), x.dtype.np), graph=x.graph)


def zeros_like_(x):
    from .creation import zeros_like
    return zeros_like(x)


# ---- binary -----------------------------------------------------------------------------------
def _broadcast_infer(out_dtype=None, numeric=False):
    def infer(node):
        a, b = node.inputs[0], node.inputs[1]
        if a.dtype != b.dtype:
            raise ShapeError(f"operands {a.name} ({a.dtype.name}) and {b.name} ({b.dtype.name}) differ in dtype")
        if numeric and a.dtype.is_bool:
            raise ShapeError(f"operand {a.name} is bool; expected a numeric dtype")
        return TensorType(broadcast_shape(a.shape, b.shape), out_dtype or a.dtype)
    return infer


def sum_to_input(dy, x):
    """dy summed over the dims broadcasting added to x, so it has x's shape."""
    from .reduce import sum_to
    return sum_to(dy, x)


_BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 5), (3, 1)), ((), (2, 3)), ((4, 1), (1, 6))]


def _binary_examples(low=-2.0, high=2.0, ints=True, low_b=None, high_b=None, away=None):
    def examples(rng):
        out = [Example([rand(rng, sa, "float32", low, high), rand(rng, sb, "float32",
                        low if low_b is None else low_b, high if high_b is None else high_b, away)])
               for sa, sb in _BINARY_SHAPES]
        if ints:
            out.append(Example([rand(rng, (3, 4), "int32", -5, 5), rand(rng, (4,), "int32", 1, 5)]))
        return out
    return examples


def _with_int_powers(examples):
    def more(rng):
        return examples(rng) + [Example([rand(rng, (3, 4), "int32", -5, 5), rand(rng, (4,), "int32", 0, 4)]),
                                Example([rand(rng, (5,), "int64", -9, 9), np.array(3, "int64")])]
    return more


def _quiet(fn, *args):
    """fn(*args) without numpy's warnings for the NaNs of inf or 0 divisors (they are the expected results)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return fn(*args)


def _with_edge_cases(examples):
    """Infinite divisors and negative operands: numpy's mod takes the divisor's sign."""
    def more(rng):
        x = np.array([-3, 3, -1, 1, np.inf, 5.5, -5.5, -7, 7], "float32")
        y = np.array([np.inf, np.inf, -np.inf, -np.inf, 2, -2, 2, -2.5, -2.5], "float32")
        return examples(rng) + [Example([x, y])]
    return more


def _int_div(a, b):
    return np.floor_divide(a, b) if a.dtype.kind in "iu" else np.divide(a, b).astype(a.dtype)


# name: (reference, gradient(x, y, z, dy) -> [dx, dy], examples)
Binary = namedtuple("Binary", "reference gradient examples")
_BINARY = {
    "add": (np.add, lambda x, y, z, d: [d, d], _binary_examples()),
    "subtract": (np.subtract, lambda x, y, z, d: [d, -d], _binary_examples()),
    "multiply": (np.multiply, lambda x, y, z, d: [d * y, d * x], _binary_examples()),
    "divide": (_int_div, lambda x, y, z, d: [d / y, -(d * x) / (y * y)],
               _binary_examples(low_b=0.5, high_b=2.0)),
    "pow": (lambda a, b: np.power(a, b).astype(a.dtype),
            lambda x, y, z, d: [d * y * pow(x, y - 1.0), d * z * log(x)],
            _with_int_powers(_binary_examples(low=0.5, high=2.0, ints=False))),
    "maximum": (np.maximum, lambda x, y, z, d: [where(greater_equal(x, y), d, zeros_like_(d)),
                                                where(less(x, y), d, zeros_like_(d))], _binary_examples(away=0.0)),
    "minimum": (np.minimum, lambda x, y, z, d: [where(less_equal(x, y), d, zeros_like_(d)),
                                                where(greater(x, y), d, zeros_like_(d))], _binary_examples(away=0.0)),
    "floor_mod": (lambda a, b: _quiet(np.mod, a, b).astype(a.dtype), None, _with_edge_cases(
        _binary_examples(low=-4, high=4, low_b=0.5, high_b=2.0))),
}


def _binary_gradient(rule):
    def gradient(node, dys):
        x, y = node.inputs
        gx, gy = rule(x, y, node.outputs[0], dys[0])
        return [sum_to_input(gx, x), sum_to_input(gy, y)]
    return gradient


for _name, _row in _BINARY.items():
    _b = Binary(*_row)
    register_op(_name, pattern=Pattern.BROADCAST, infer=_broadcast_infer(numeric=True),
                reference=(lambda f: lambda attrs, a, b: np.asarray(f(a, b)).astype(a.dtype))(_b.reference),
                gradient=_binary_gradient(_b.gradient) if _b.gradient else None,
                differentiable=_b.gradient is not None, examples=_b.examples)

# comparisons and logic: bool results, no gradient
_COMPARE = {"equal": np.equal, "not_equal": np.not_equal, "less": np.less, "less_equal": np.less_equal,
            "greater": np.greater, "greater_equal": np.greater_equal}
for _name, _ref in _COMPARE.items():
    register_op(_name, pattern=Pattern.BROADCAST, infer=_broadcast_infer(dtypes.bool_), differentiable=False,
                reference=(lambda f: lambda attrs, a, b: f(a, b))(_ref),
                examples=_binary_examples(low=-2, high=2))

_LOGIC = {"logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor}


def _bool_infer(node):
    for t in node.inputs:
        if not t.dtype.is_bool:
            raise ShapeError(f"operand {t.name} has dtype {t.dtype.name}; expected bool")
    return TensorType(broadcast_shape(*[t.shape for t in node.inputs]), dtypes.bool_)


for _name, _ref in _LOGIC.items():
    register_op(_name, pattern=Pattern.BROADCAST, infer=_bool_infer, differentiable=False,
                reference=(lambda f: lambda attrs, a, b: f(a, b))(_ref),
                examples=lambda rng: [Example([rand(rng, (3, 4), "bool"), rand(rng, (4,), "bool")])])
register_op("logical_not", pattern=Pattern.ELEMWISE, infer=_bool_infer, differentiable=False,
            reference=lambda attrs, a: np.logical_not(a),
            examples=lambda rng: [Example([rand(rng, (3, 4), "bool")])])


def _shift(fn):
    """A shift defined for every amount (as ONNX): one outside [0, bits) shifts every bit out."""
    def shift(a, b):
        a, b = np.broadcast_arrays(a, b)
        out = b.astype(np.int64) < 0
        out |= b.astype(np.int64) >= a.dtype.itemsize * 8
        amount = np.where(out, 0, b).astype(a.dtype)
        udt = np.dtype(f"u{a.dtype.itemsize}")  # shift the bits: signed overflow wraps
        shifted = fn(a.view(udt), amount.view(udt)).view(a.dtype) if fn is np.left_shift else fn(a, amount)
        fill = np.where(a < 0, -1, 0).astype(a.dtype) if fn is np.right_shift else np.zeros_like(a)
        return np.where(out, fill, shifted)
    return shift


# bitwise logic and shifts on integers: no gradient
_BITWISE = {"bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor,
            "left_shift": _shift(np.left_shift), "right_shift": _shift(np.right_shift)}


def _integer_infer(node):
    for t in node.inputs:
        if not t.dtype.is_integer:
            raise ShapeError(f"operand {t.name} has dtype {t.dtype.name}; expected an integer dtype")
        if t.dtype != node.inputs[0].dtype:
            raise ShapeError(f"operands {node.inputs[0].name} ({node.inputs[0].dtype.name}) and {t.name} "
                             f"({t.dtype.name}) differ in dtype")
    return TensorType(broadcast_shape(*[t.shape for t in node.inputs]), node.inputs[0].dtype)


def _bitwise_examples(rng):
    return [Example([rand(rng, (3, 4), "int32", -50, 50), rand(rng, (4,), "int32", -3, 40)]),
            Example([rand(rng, (2, 3), "uint8", 0, 255), rand(rng, (2, 3), "uint8", 0, 9)]),
            Example([rand(rng, (4,), "int8", -128, 127), rand(rng, (4,), "int8", -9, 9)]),
            Example([rand(rng, (5,), "int64", 0, 1000), rand(rng, (), "int64", 0, 9)])]


for _name, _ref in _BITWISE.items():
    register_op(_name, pattern=Pattern.BROADCAST, infer=_integer_infer, differentiable=False,
                reference=(lambda f: lambda attrs, a, b: f(a, b).astype(a.dtype))(_ref), examples=_bitwise_examples)
register_op("bitwise_not", pattern=Pattern.ELEMWISE, infer=_integer_infer, differentiable=False,
            reference=lambda attrs, a: np.invert(a),
            examples=lambda rng: [Example([rand(rng, (3, 4), "int32", -50, 50)]),
                                  Example([rand(rng, (6,), "uint8", 0, 255)])])


def _float_to_bool(node):
    return TensorType(_float_only(node).shape, dtypes.bool_)


register_op("is_nan", pattern=Pattern.ELEMWISE, infer=_float_to_bool, differentiable=False,
            reference=lambda attrs, x: np.isnan(x),
            examples=lambda rng: [Example([np.array([1.0, np.nan, np.inf, -np.inf, 0.0], "float32")]),
                                  Example([np.where(rand(rng, (3, 4)) > 1, np.nan, rand(rng, (3, 4)))])])


def _binary_api(op):
    def fn(x, y, name=None):
        x, y = binary_operands(x, y, op)
        return make(op, [x, y], None, name)
    fn.__name__ = op
    fn.__doc__ = f"Elementwise {op} with numpy broadcasting."
    return fn


add = _binary_api("add")
subtract = _binary_api("subtract")
multiply = _binary_api("multiply")
divide = _binary_api("divide")
pow = _binary_api("pow")  # noqa: A001
maximum = _binary_api("maximum")
minimum = _binary_api("minimum")
floor_mod = _binary_api("floor_mod")
equal = _binary_api("equal")
not_equal = _binary_api("not_equal")
less = _binary_api("less")
less_equal = _binary_api("less_equal")
greater = _binary_api("greater")
greater_equal = _binary_api("greater_equal")
logical_and = _binary_api("logical_and")
logical_or = _binary_api("logical_or")
logical_xor = _binary_api("logical_xor")
logical_not = _unary_api("logical_not")
bitwise_and = _binary_api("bitwise_and")
bitwise_or = _binary_api("bitwise_or")
bitwise_xor = _binary_api("bitwise_xor")
left_shift = _binary_api("left_shift")
right_shift = _binary_api("right_shift")
bitwise_not = _unary_api("bitwise_not")
is_nan = _unary_api("is_nan")


def floordiv(x, y, name=None):
    """Floor division (ints) or floor of the quotient (floats)."""
    q = divide(x, y, name)
    return floor(q) if q.dtype.is_floating else q


# ---- where ------------------------------------------------------------------------------------
def _where_infer(node):
    c, a, b = node.inputs
    if not c.dtype.is_bool:
        raise ShapeError(f"condition {c.name} has dtype {c.dtype.name}; expected bool")
    if a.dtype != b.dtype:
        raise ShapeError(f"branches {a.name} ({a.dtype.name}) and {b.name} ({b.dtype.name}) differ in dtype")
    return TensorType(broadcast_shape(c.shape, a.shape, b.shape), a.dtype)


where_op = register_op(
    "where", moves_bits=True, pattern=Pattern.BROADCAST, infer=_where_infer,
    reference=lambda attrs, c, a, b: np.where(c, a, b),
    examples=lambda rng: [Example([rand(rng, (3, 4), "bool"), rand(rng, (3, 4)), rand(rng, (3, 4))]),
                          Example([rand(rng, (3, 1), "bool"), rand(rng, (4,)), rand(rng, (2, 1, 1))]),
                          Example([rand(rng, (5,), "bool"), rand(rng, (5,), "int32"), rand(rng, (), "int32")])])


@where_op.def_gradient
def _where_grad(node, dys):
    c, a, b = node.inputs
    d = dys[0]
    z = zeros_like_(d)
    return [None, sum_to_input(where(c, d, z), a), sum_to_input(where(c, z, d), b)]


def where(condition, x, y, name=None):
    """Elementwise choice: x where condition, else y (numpy broadcasting)."""
    x, y = binary_operands(x, y, "where")
    return make("where", [convert_to_tensor(condition), x, y], None, name)


# ---- cast -------------------------------------------------------------------------------------
cast_op = register_op(
    "cast", moves_bits=True, noop_when_same_type=True, pattern=Pattern.ELEMWISE,
    infer=lambda n: TensorType(n.inputs[0].shape, n.attrs["dtype"]),
    reference=lambda attrs, x: _saturated(x, attrs["dtype"]).astype(attrs["dtype"].np) if attrs.get("saturate")
    else x.astype(attrs["dtype"].np),
    examples=lambda rng: [Example([rand(rng, (3, 4), "float32", -5, 5)], {"dtype": dtypes.int32}),
                          Example([rand(rng, (6,), "int32")], {"dtype": dtypes.float32}),
                          Example([rand(rng, (2, 3))], {"dtype": dtypes.float64}),
                          Example([rand(rng, (2, 3), "bool")], {"dtype": dtypes.float32}),
                          Example([rand(rng, (2, 3))], {"dtype": dtypes.bool_}),
                          # narrow types held as bits: rounding, overflow to NaN/inf, subnormals, wrapping
                          Example([rand(rng, (4, 5), "float32", -500, 500)], {"dtype": dtypes.float8_e4m3fn}),
                          Example([rand(rng, (4, 5), "float32", -0.02, 0.02)], {"dtype": dtypes.float8_e5m2fnuz}),
                          Example([rand(rng, (4, 5), "float32", -1e5, 1e5)], {"dtype": dtypes.bfloat16}),
                          Example([rand(rng, (4, 5), "float32", -8, 8)], {"dtype": dtypes.float4_e2m1fn}),
                          Example([rand(rng, (4, 5), "float8_e4m3fnuz", -8, 8)], {"dtype": dtypes.float32}),
                          Example([rand(rng, (4, 5), "float8_e5m2", -8, 8)], {"dtype": dtypes.bfloat16}),
                          Example([rand(rng, (4, 5), "int32", -20, 20)], {"dtype": dtypes.int4}),
                          Example([rand(rng, (4, 5), "int4", -8, 7)], {"dtype": dtypes.float16}),
                          Example([rand(rng, (4, 5), "float32", -3, 3)], {"dtype": dtypes.uint2}),
                          Example([np.array([np.inf, -np.inf, np.nan, 1e4, -500, 300], np.float32)],
                                  {"dtype": dtypes.float8_e4m3fnuz, "saturate": True}),
                          Example([np.array([np.inf, -np.inf, np.nan, 6e4, -500, 3], np.float16)],
                                  {"dtype": dtypes.float8_e4m3fn, "saturate": True})])


def _saturated(x, dtype):
    import ml_dtypes
    big = ml_dtypes.finfo(dtype.np).max
    return np.clip(x, -big, big)  # inf to the largest finite value, NaN kept


@cast_op.def_gradient
def _cast_grad(node, dys):
    x = node.inputs[0]
    if x.dtype.is_floating and node.outputs[0].dtype.is_floating:
        return [cast(dys[0], x.dtype)]
    return [None]


def cast(x, dtype, name=None, saturate=False):
    """x converted to `dtype` (floats to ints truncate toward zero); `saturate` clips values beyond a
    narrow float type's range (bfloat16, float8, ...), inf included, to its largest finite value."""
    x = convert_to_tensor(x)
    dtype = dtypes.as_dtype(dtype)
    if x.dtype == dtype:
        return x
    if saturate and dtype.is_storage_only and dtype.is_floating:
        return make("cast", [x], {"dtype": dtype, "saturate": True}, name)
    return make("cast", [x], {"dtype": dtype}, name)


# ---- bitcast ----------------------------------------------------------------------------------
def _bitcast_infer(node):
    x, dtype = node.inputs[0], node.attrs["dtype"]
    if x.dtype.itemsize != dtype.itemsize or x.dtype.bits != dtype.bits:
        raise TypeError(f"bitcast of {x.name} from {x.dtype.name} to {dtype.name}: the widths differ "
                        f"({x.dtype.bits} and {dtype.bits} bits); expected types of equal width")
    return TensorType(x.shape, dtype)


register_op(
    "bitcast", moves_bits=True, pattern=Pattern.ELEMWISE, infer=_bitcast_infer, differentiable=False,
    reference=lambda attrs, x: np.ascontiguousarray(x).view(attrs["dtype"].np),
    examples=lambda rng: [Example([rand(rng, (3, 4), "float32")], {"dtype": dtypes.int32}),
                          Example([rand(rng, (5,), "int8", -100, 100)], {"dtype": dtypes.uint8}),
                          Example([rand(rng, (2, 3), "float64")], {"dtype": dtypes.int64}),
                          Example([rand(rng, (2, 3), "uint8", 0, 255)], {"dtype": dtypes.float8_e4m3fn}),
                          Example([rand(rng, (2, 3), "bfloat16")], {"dtype": dtypes.float16}),
                          Example([rand(rng, (2, 3), "bool")], {"dtype": dtypes.uint8})])


def bitcast(x, dtype, name=None):
    """x's bits reinterpreted as `dtype`, a type of the same width."""
    x = convert_to_tensor(x)
    dtype = dtypes.as_dtype(dtype)
    if x.dtype == dtype:
        return x
    return make("bitcast", [x], {"dtype": dtype}, name)
