"""Sources and fills: placeholder, constant, fill, zeros/ones and their *_like forms."""
import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..graph import get_default_graph
from ..registry import Example, Pattern, TensorType, register_op
from ._base import make, rand, static_value


def _no_reference(attrs):
    raise ShapeError("a placeholder has no value of its own; it must be fed")


placeholder_op = register_op(
    "placeholder", moves_bits=True, feed=True, pattern=Pattern.SOURCE, differentiable=False,
    infer=lambda n: TensorType(n.attrs["shape"], n.attrs["dtype"]),  # shape None: any rank
    reference=_no_reference)

constant_op = register_op(
    "constant", moves_bits=True, constant=True, pattern=Pattern.SOURCE, differentiable=False,
    infer=lambda n: TensorType(n.attrs["value"].shape, n.attrs["value"].dtype),
    reference=lambda attrs: attrs["value"])


def placeholder(dtype, shape=None, name=None):
    """A value fed at run time; `shape=None` means any rank, and None dims any size."""
    dtype = dtypes.as_dtype(dtype)
    if shape is not None:
        shape = tuple(None if d is None or int(d) < 0 else int(d) for d in shape)
    g = get_default_graph()
    node = g.create_node("placeholder", (), {"shape": shape, "dtype": dtype}, name or "Placeholder")
    return node.outputs[0]


def constant(value, dtype=None, shape=None, name=None, graph=None):
    """A constant tensor holding `value` (broadcast to `shape` when given)."""
    arr = np.asarray(value)
    if dtype is not None:
        arr = arr.astype(dtypes.as_dtype(dtype).np)
    elif arr.dtype == np.float64 and not isinstance(value, np.ndarray):
        arr = arr.astype(np.float32)
    elif arr.dtype == np.int64 and not isinstance(value, (np.ndarray, np.generic)):
        arr = arr.astype(np.int32)
    if shape is not None:
        arr = np.broadcast_to(arr, tuple(shape))
    arr = np.require(arr, requirements="C")  # ascontiguousarray would make 0-d arrays 1-d
    dtypes.as_dtype(arr.dtype)  # a clear error for unsupported dtypes
    arr.setflags(write=False)
    g = graph or get_default_graph()
    return g.create_node("constant", (), {"value": arr}, name or "Const").outputs[0]


# ---- fill: a tensor of one value, its shape static -----------------------------------------
fill_op = register_op(
    "fill", pattern=Pattern.INJECTIVE, differentiable=False,
    infer=lambda n: TensorType(tuple(n.attrs["shape"]), n.attrs["dtype"]),
    reference=lambda attrs: np.full(attrs["shape"], attrs["value"], dtypes.as_dtype(attrs["dtype"]).np),
    examples=lambda rng: [Example([], {"shape": (3, 4), "value": 1.5, "dtype": dtypes.float32}),
                          Example([], {"shape": (5,), "value": 7, "dtype": dtypes.int32})])


def fill(dims, value, dtype=None, name=None):
    """A tensor of shape `dims` filled with `value`."""
    shape = tuple(static_value(dims, "fill dims")) if np.ndim(dims) else (() if np.size(dims) == 0 else (int(dims),))
    dt = dtypes.as_dtype(dtype if dtype is not None else np.asarray(value).dtype if not isinstance(value, float) else "float32")
    g = get_default_graph()
    return g.create_node("fill", (), {"shape": shape, "value": value, "dtype": dt}, name or "Fill").outputs[0]


def zeros(shape, dtype=dtypes.float32, name=None):
    """A tensor of zeros."""
    return fill(list(shape), 0, dtype, name or "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    """A tensor of ones."""
    return fill(list(shape), 1, dtype, name or "ones")


# ---- fill_like: the shape of another tensor, known at run time ------------------------------
fill_like_op = register_op(
    "fill_like", pattern=Pattern.INJECTIVE, shape_only_inputs=(0,), differentiable=False,
    infer=lambda n: TensorType(n.inputs[0].shape, n.attrs.get("dtype") or n.inputs[0].dtype),
    reference=lambda attrs, x: np.full(x.shape, attrs["value"], x.dtype if attrs.get("dtype") is None else attrs["dtype"].np),
    examples=lambda rng: [Example([rand(rng, (2, 3))], {"value": 0}),
                          Example([rand(rng, (4,), "int32")], {"value": 1})])


def zeros_like(x, dtype=None, name=None):
    """Zeros of x's shape (and dtype unless given)."""
    from ._base import convert_to_tensor
    x = convert_to_tensor(x)
    return make("fill_like", [x], {"value": 0, "dtype": dtypes.as_dtype(dtype) if dtype else None}, name)


def ones_like(x, dtype=None, name=None):
    """Ones of x's shape (and dtype unless given)."""
    from ._base import convert_to_tensor
    x = convert_to_tensor(x)
    return make("fill_like", [x], {"value": 1, "dtype": dtypes.as_dtype(dtype) if dtype else None}, name)
