"""Reductions (sum, mean, max, min, prod, argmax, argmin) and their duals for gradients
(unreduce, sum_to, broadcast_like), whose shapes come from another tensor at run time."""
import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import broadcast_shape, convert_to_tensor, make, normalize_axes, normalize_axis, rand


def reduced_axes(node, rank=None):
    """The node's reduction axes, resolved against the input's rank."""
    rank = len(node.inputs[0].shape) if rank is None else rank
    return normalize_axes(node.attrs.get("axes"), rank)


def _reduce_infer(node):
    x = node.inputs[0]
    keep = node.attrs.get("keepdims", False)
    if x.shape is None:
        if node.attrs.get("axes") is None and not keep:
            return TensorType((), x.dtype)
        return TensorType(None, x.dtype)
    axes = reduced_axes(node)
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes)
    if node.op in ("max", "min") and any(x.shape[i] == 0 for i in axes):
        raise ShapeError(f"{node.op} over an empty axis of {x.name} has no value")
    if x.dtype.is_bool:
        raise ShapeError(f"input {x.name} is bool; expected a numeric dtype")
    return TensorType(shape, x.dtype)


def _reduce_examples(positive=False):
    lo, hi = (0.5, 1.5) if positive else (-2, 2)

    def examples(rng):
        return [Example([rand(rng, (3, 4), "float32", lo, hi)], {"axes": None, "keepdims": False}),
                Example([rand(rng, (3, 4, 5), "float32", lo, hi)], {"axes": (1,), "keepdims": False}),
                Example([rand(rng, (3, 4, 5), "float32", lo, hi)], {"axes": (0, 2), "keepdims": True}),
                Example([rand(rng, (6, 7), "float32", lo, hi)], {"axes": (-1,), "keepdims": False}),
                Example([rand(rng, (4, 5), "int32", -3, 3)], {"axes": (0,), "keepdims": False})]
    return examples


def _ref(fn):
    def reference(attrs, x):
        axes = normalize_axes(attrs.get("axes"), x.ndim)
        out = fn(x, axis=axes, keepdims=attrs.get("keepdims", False))
        return np.asarray(out).astype(x.dtype)
    return reference


_REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod}
for _name, _fn in _REDUCE.items():
    register_op(_name, pattern=Pattern.REDUCE, infer=_reduce_infer, reference=_ref(_fn),
                examples=_reduce_examples(positive=_name == "prod"))


def _unreduce_of(node, dy, mean=False):
    return make("unreduce", [dy, node.inputs[0]],
                {"axes": node.attrs.get("axes"), "keepdims": node.attrs.get("keepdims", False), "mean": mean})


def _sum_grad(node, dys):
    return [_unreduce_of(node, dys[0])]


def _mean_grad(node, dys):
    return [_unreduce_of(node, dys[0], mean=True)]


def _extremum_grad(node, dys):
    from .elemwise import cast, equal
    x, y = node.inputs[0], node.outputs[0]
    mask = cast(equal(x, _unreduce_of(node, y)), x.dtype)
    count = _unreduce_of(node, reduce_sum(mask, node.attrs.get("axes"), node.attrs.get("keepdims", False)))
    return [mask * _unreduce_of(node, dys[0]) / count]


def _prod_grad(node, dys):
    return [_unreduce_of(node, dys[0] * node.outputs[0]) / node.inputs[0]]


for _name, _grad in (("sum", _sum_grad), ("mean", _mean_grad), ("max", _extremum_grad),
                     ("min", _extremum_grad), ("prod", _prod_grad)):
    from ..registry import get_op
    get_op(_name).gradient = _grad


def _reduce_api(op):
    def fn(input_tensor, axis=None, keepdims=False, name=None, keep_dims=None, reduction_indices=None):
        x = convert_to_tensor(input_tensor)
        if reduction_indices is not None:
            axis = reduction_indices
        if keep_dims is not None:
            keepdims = keep_dims
        axes = None
        if axis is not None:
            axes = tuple(int(a) for a in np.atleast_1d(axis))
            if x.shape is not None:
                axes = normalize_axes(axes, len(x.shape))
        return make(op, [x], {"axes": axes, "keepdims": bool(keepdims)}, name)
    fn.__name__ = "reduce_" + op
    fn.__doc__ = f"{op} over `axis` (all axes if None)."
    return fn


reduce_sum = _reduce_api("sum")
reduce_mean = _reduce_api("mean")
reduce_max = _reduce_api("max")
reduce_min = _reduce_api("min")
reduce_prod = _reduce_api("prod")


# ---- argmax / argmin --------------------------------------------------------------------------
def _arg_infer(node):
    x = node.inputs[0]
    if x.shape is None:
        return TensorType(None, node.attrs["output_type"])
    axis = normalize_axis(node.attrs["axis"], len(x.shape))
    keep = node.attrs.get("keepdims", False)
    shape = tuple(1 if i == axis else d for i, d in enumerate(x.shape) if keep or i != axis)
    return TensorType(shape, node.attrs["output_type"])


def _arg_examples(rng):
    return [Example([rand(rng, (3, 7))], {"axis": 1, "output_type": dtypes.int64}),
            Example([rand(rng, (4, 5, 6))], {"axis": 0, "output_type": dtypes.int32, "keepdims": True}),
            Example([rand(rng, (9,), "int32", -9, 9)], {"axis": -1, "output_type": dtypes.int64})]


for _name, _fn in (("argmax", np.argmax), ("argmin", np.argmin)):
    register_op(_name, pattern=Pattern.REDUCE, infer=_arg_infer, differentiable=False,
                reference=(lambda f: lambda attrs, x: f(x, axis=normalize_axis(attrs["axis"], x.ndim),
                                                        keepdims=attrs.get("keepdims", False))
                           .astype(attrs["output_type"].np))(_fn),
                examples=_arg_examples)


def argmax(input, axis=None, output_type=dtypes.int64, name=None, dimension=None, keepdims=False):
    """Index of the largest value along `axis` (0 if None, as TF1)."""
    axis = dimension if axis is None else axis
    return make("argmax", [convert_to_tensor(input)],
                {"axis": 0 if axis is None else int(axis), "output_type": dtypes.as_dtype(output_type),
                 "keepdims": keepdims}, name)


def argmin(input, axis=None, output_type=dtypes.int64, name=None, dimension=None, keepdims=False):
    """Index of the smallest value along `axis` (0 if None, as TF1)."""
    axis = dimension if axis is None else axis
    return make("argmin", [convert_to_tensor(input)],
                {"axis": 0 if axis is None else int(axis), "output_type": dtypes.as_dtype(output_type),
                 "keepdims": keepdims}, name)


# ---- gradient helpers whose output shape is another tensor's ---------------------------------
def unreduce_reference(attrs, dy, x):
    """dy (a reduction's result) broadcast back to x's shape; divided by the count for a mean."""
    axes = normalize_axes(attrs.get("axes"), x.ndim)
    if not attrs.get("keepdims"):
        dy = np.expand_dims(dy, axes) if axes else dy
    out = np.broadcast_to(dy, x.shape).astype(dy.dtype)
    if attrs.get("mean"):
        out = (out / max(1, int(np.prod([x.shape[a] for a in axes])))).astype(dy.dtype)
    return np.require(out, requirements="C")


unreduce_op = register_op(
    "unreduce", noop_when_same_type=lambda attrs: not attrs.get("mean"), pattern=Pattern.INJECTIVE, shape_only_inputs=(1,),
    infer=lambda n: TensorType(n.inputs[1].shape, n.inputs[0].dtype),
    reference=unreduce_reference,
    examples=lambda rng: [Example([rand(rng, (3,)), rand(rng, (3, 4))], {"axes": (1,), "keepdims": False, "mean": False}),
                          Example([rand(rng, (1, 4, 1)), rand(rng, (3, 4, 5))], {"axes": (0, 2), "keepdims": True, "mean": True}),
                          Example([rand(rng, ()), rand(rng, (2, 3))], {"axes": None, "keepdims": False, "mean": True})])


@unreduce_op.def_gradient
def _unreduce_grad(node, dys):
    op = reduce_mean if node.attrs.get("mean") else reduce_sum
    # the mean's scale is already in the forward; reduce_mean of dy applies 1/N once more, so use
    # sum then scale: d/d(dy) of mean-unreduce is sum(d)/N, which is exactly reduce_mean.
    return [op(dys[0], node.attrs.get("axes"), node.attrs.get("keepdims", False)), None]


def sum_to_reference(attrs, dy, like):
    """dy summed down to like's shape (the adjoint of numpy broadcasting)."""
    shape = like.shape
    lead = dy.ndim - len(shape)
    out = dy.sum(axis=tuple(range(lead))) if lead > 0 else dy
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and out.shape[i] != 1)
    if axes:
        out = out.sum(axis=axes, keepdims=True)
    return np.require(out.reshape(shape).astype(dy.dtype), requirements="C")


sum_to_op = register_op(
    "sum_to", noop_when_same_type=True, pattern=Pattern.REDUCE, shape_only_inputs=(1,),
    infer=lambda n: TensorType(n.inputs[1].shape, n.inputs[0].dtype),
    reference=sum_to_reference,
    examples=lambda rng: [Example([rand(rng, (3, 4)), rand(rng, (4,))]),
                          Example([rand(rng, (2, 3, 5)), rand(rng, (3, 1))]),
                          Example([rand(rng, (2, 3)), rand(rng, ())]),
                          Example([rand(rng, (2, 3)), rand(rng, (2, 3))])])


@sum_to_op.def_gradient
def _sum_to_grad(node, dys):
    return [broadcast_like(dys[0], node.inputs[0]), None]


def sum_to(dy, x):
    """dy summed down to x's shape; dy itself when the shapes are known to be equal."""
    if dy.shape is not None and x.shape is not None and tuple(dy.shape) == tuple(x.shape) \
            and all(d is not None for d in x.shape):
        return dy
    return make("sum_to", [dy, x])


broadcast_like_op = register_op(
    "broadcast_like", noop_when_same_type=True, pattern=Pattern.BROADCAST, shape_only_inputs=(1,),
    infer=lambda n: TensorType(broadcast_shape(n.inputs[0].shape, n.inputs[1].shape), n.inputs[0].dtype),
    reference=lambda attrs, x, like: np.require(np.broadcast_to(x, np.broadcast_shapes(x.shape, like.shape)), requirements="C"),
    examples=lambda rng: [Example([rand(rng, (4,)), rand(rng, (3, 4))]),
                          Example([rand(rng, (3, 1)), rand(rng, (2, 3, 5))]),
                          Example([rand(rng, ()), rand(rng, (2, 2))])])


@broadcast_like_op.def_gradient
def _broadcast_like_grad(node, dys):
    return [sum_to(dys[0], node.inputs[0]), None]


def broadcast_like(x, like):
    """x broadcast to the broadcast shape of x and `like`."""
    return make("broadcast_like", [x, like])


# ---- cumulative sum / product -------------------------------------------------------------------
def _cumulative_infer(node):
    x = node.inputs[0]
    if x.dtype.is_bool:
        raise ShapeError(f"input {x.name} is bool; expected a numeric dtype")
    if x.shape is not None:
        normalize_axis(node.attrs["axis"], len(x.shape))
    return TensorType(x.shape, x.dtype)


def _cumulative_ref(fn, identity):
    def reference(a, x):
        axis = normalize_axis(a["axis"], x.ndim)
        if a["reverse"]:
            x = np.flip(x, axis)
        y = fn(x, axis=axis).astype(x.dtype)
        if a["exclusive"]:  # shift by one along the axis, the identity first
            pad = np.full_like(np.take(y, [0], axis=axis), identity)
            y = np.concatenate([pad, np.take(y, np.arange(x.shape[axis] - 1), axis=axis)], axis=axis)
        return np.ascontiguousarray(np.flip(y, axis) if a["reverse"] else y)
    return reference


def _cumulative_examples(positive):
    lo, hi = (0.5, 1.5) if positive else (-2, 2)

    def examples(rng):
        return [Example([rand(rng, (5,), "float32", lo, hi)], {"axis": 0, "exclusive": False, "reverse": False}),
                Example([rand(rng, (3, 4), "float32", lo, hi)], {"axis": 1, "exclusive": True, "reverse": False}),
                Example([rand(rng, (3, 4), "float32", lo, hi)], {"axis": -2, "exclusive": False, "reverse": True}),
                Example([rand(rng, (2, 3, 4), "float32", lo, hi)], {"axis": 1, "exclusive": True, "reverse": True}),
                Example([rand(rng, (4, 3), "int32", -3, 3)], {"axis": 0, "exclusive": False, "reverse": False})]
    return examples


def _flipped(node):
    """The attrs of the cumulative op running the other way (its adjoint)."""
    return dict(node.attrs, reverse=not node.attrs["reverse"])


register_op("cumsum", pattern=Pattern.OPAQUE, infer=_cumulative_infer, reference=_cumulative_ref(np.cumsum, 0),
            gradient=lambda n, dys: [make("cumsum", [dys[0]], _flipped(n))],
            examples=_cumulative_examples(False))
# d y_i / d x_k = y_i / x_k for every i whose product holds x_k: the inputs must be nonzero
register_op("cumprod", pattern=Pattern.OPAQUE, infer=_cumulative_infer, reference=_cumulative_ref(np.cumprod, 1),
            gradient=lambda n, dys: [make("cumsum", [dys[0] * n.outputs[0]], _flipped(n)) / n.inputs[0]],
            examples=_cumulative_examples(True))


def _cumulative_api(op):
    def fn(x, axis=0, exclusive=False, reverse=False, name=None):
        return make(op, [convert_to_tensor(x)],
                    {"axis": int(axis), "exclusive": bool(exclusive), "reverse": bool(reverse)}, name)
    fn.__name__ = op
    fn.__doc__ = f"Cumulative {op[3:]} along `axis` (TF's exclusive / reverse flags)."
    return fn


cumsum = _cumulative_api("cumsum")
cumprod = _cumulative_api("cumprod")
