"""range: evenly spaced values (tf.range). Its length comes from `attrs["length"]`, or, when the limit
is a tensor whose value is known only once the graph is specialized (e.g. a fed batch size), from the
value of its `limit` input then, as the shape-dependent decisions of TF1 are."""
import math

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import constant_value, convert_to_tensor, make


def _length(start, limit, delta):
    if delta == 0:
        raise ShapeError("range: delta must not be zero")
    return max(0, int(math.ceil((float(limit) - float(start)) / float(delta))))


def _range_infer(node):
    for t in node.inputs:
        if t.shape not in ((), None) or not (t.dtype.is_integer or t.dtype.is_floating):
            raise ShapeError(f"range takes numeric scalars, got {t.name} of dtype {t.dtype.name} and shape {t.shape}")
    if len({t.dtype for t in node.inputs}) != 1:
        raise ShapeError(f"range: start, delta (and limit) must have one dtype, got "
                         f"{[t.dtype.name for t in node.inputs]}")
    if len(node.inputs) == 2:
        return TensorType((int(node.attrs["length"]),), node.inputs[0].dtype)
    values = [constant_value(t) for t in node.inputs]
    if any(v is None for v in values):
        return TensorType((None,), node.inputs[0].dtype)
    return TensorType((_length(values[0], values[2], values[1]),), node.inputs[0].dtype)


def _range_reference(attrs, start, delta, limit=None):
    n = attrs["length"] if limit is None else _length(start, limit, delta)
    return (start + np.arange(n, dtype=np.float64 if start.dtype.kind == "f" else np.int64) * delta).astype(start.dtype)


range_op = register_op(
    "range", pattern=Pattern.INJECTIVE, differentiable=False, infer=_range_infer, reference=_range_reference,
    examples=lambda rng: [Example([np.array(2, np.int32), np.array(3, np.int32)], {"length": 4}),
                          Example([np.array(1.5, np.float32), np.array(-0.25, np.float32)], {"length": 7}),
                          Example([np.array(0, np.int64), np.array(1, np.int64)], {"length": 0})])


def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001 (TF's name)
    """[start, start + delta, ...) up to limit (exclusive); range(n) counts from 0 to n, as tf.range."""
    from ..graph import Tensor
    from .elemwise import cast
    if limit is None:
        start, limit = 0, start
    args = (start, limit, delta)
    if dtype is None:  # as TF: a float argument makes it float, a tensor lends its dtype, else int32
        kinds = [a.dtype if isinstance(a, Tensor) else dtypes.as_dtype(np.asarray(a).dtype) for a in args]
        floats = [k for k, a in zip(kinds, args) if k.is_floating]
        tensor_floats = [k for k, a in zip(kinds, args) if k.is_floating and isinstance(a, Tensor)]
        ints = [k for k, a in zip(kinds, args) if isinstance(a, Tensor)]
        dtype = (tensor_floats or floats and [dtypes.float32] or ints or [dtypes.int32])[0]
    dtype = dtypes.as_dtype(dtype)
    start, limit, delta = (cast(a, dtype) if isinstance(a, Tensor) and a.dtype != dtype else
                           convert_to_tensor(a, dtype) for a in args)
    values = [constant_value(t) for t in (start, limit, delta)]
    if all(v is not None for v in values):
        return make("range", [start, delta], {"length": _length(*values)}, name)
    return make("range", [start, delta, limit], {"length": None}, name)
