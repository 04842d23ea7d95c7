"""Indexing by index tensors: gather_elements / scatter_elements (one index per element along an axis),
gather_nd / scatter_nd (index tuples into the leading dims), top_k. Negative indices count from the end."""
import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import convert_to_tensor, make, normalize_axis, rand

REDUCTIONS = ("none", "add", "mul", "max", "min")


def _check_indices(t, op):
    if not t.dtype.is_integer:
        raise ShapeError(f"{op} indices {t.name} have dtype {t.dtype.name}; expected an integer dtype")


def _wrapped(indices, dim):
    return np.where(indices < 0, indices + dim, indices).astype(np.int64)


def _reduction(attrs):
    r = attrs.get("reduction", "none")
    if r not in REDUCTIONS:
        raise ShapeError(f"reduction {r!r} is not one of {list(REDUCTIONS)}")
    return r


def _combine(reduction, old, new):
    return {"none": lambda: new, "add": lambda: old + new, "mul": lambda: old * new,
            "max": lambda: np.maximum(old, new), "min": lambda: np.minimum(old, new)}[reduction]()


# ---- gather_elements / scatter_elements ---------------------------------------------------------
def _gather_elements_infer(node):
    x, idx = node.inputs
    _check_indices(idx, "gather_elements")
    if x.shape is not None and idx.shape is not None:
        if len(x.shape) != len(idx.shape):
            raise ShapeError(f"indices {idx.name} have rank {len(idx.shape)}; expected the rank {len(x.shape)} of {x.name}")
        normalize_axis(node.attrs["axis"], len(x.shape))
    return TensorType(idx.shape, x.dtype)


def _gather_elements_ref(attrs, x, idx):
    axis = normalize_axis(attrs["axis"], x.ndim)
    return np.take_along_axis(x, _wrapped(idx, x.shape[axis]), axis=axis)


def _elements_examples(rng):
    return [Example([rand(rng, (3, 4)), rng.integers(-4, 4, (3, 2)).astype("int64")], {"axis": 1}),
            Example([rand(rng, (4, 3)), rng.integers(0, 4, (2, 3)).astype("int32")], {"axis": 0}),
            Example([rand(rng, (2, 3, 4), "int32"), rng.integers(0, 3, (2, 3, 4)).astype("int64")], {"axis": -2})]


def _along_axis_bounds(node):
    """gather_elements / scatter_elements: input 1 indexes the axis of input 0."""
    shape = node.inputs[0].shape
    return 1, [shape[normalize_axis(node.attrs["axis"], len(shape))]]


def _tuple_bounds(node):
    """gather_nd / scatter_nd: input 1's last axis holds index tuples into input 0's dims after the batch dims."""
    b = node.attrs.get("batch_dims", 0)
    k = node.inputs[1].shape[-1]
    return 1, list(node.inputs[0].shape[b:b + k])


gather_elements_op = register_op(
    "gather_elements", moves_bits=True, pattern=Pattern.INJECTIVE, infer=_gather_elements_infer,
    reference=_gather_elements_ref, examples=_elements_examples, index_bounds=_along_axis_bounds)


@gather_elements_op.def_gradient
def _gather_elements_grad(node, dys):
    from .creation import zeros_like
    x, idx = node.inputs
    return [scatter_elements(zeros_like(x), idx, dys[0], node.attrs["axis"], "add"), None]


def _scatter_elements_infer(node):
    data, idx, upd = node.inputs
    _check_indices(idx, "scatter_elements")
    _reduction(node.attrs)
    if upd.dtype != data.dtype:
        raise ShapeError(f"updates {upd.name} ({upd.dtype.name}) differ in dtype from data {data.name} ({data.dtype.name})")
    if idx.shape is not None and upd.shape is not None and tuple(idx.shape) != tuple(upd.shape):
        raise ShapeError(f"updates {upd.name} {list(upd.shape)} must have the shape of indices {list(idx.shape)}")
    return TensorType(data.shape, data.dtype)


def _scatter_elements_ref(attrs, data, idx, upd):
    axis = normalize_axis(attrs["axis"], data.ndim)
    out = data.copy()
    idx = _wrapped(idx, data.shape[axis])
    for pos in np.ndindex(*idx.shape):  # in order: with reduction none the last write wins
        dst = pos[:axis] + (idx[pos],) + pos[axis + 1:]
        out[dst] = _combine(_reduction(attrs), out[dst], upd[pos])
    return out


def _scatter_elements_examples(reductions, rng):
    out = []
    for r in reductions:
        out.append(Example([rand(rng, (3, 4)), rng.integers(-4, 4, (3, 2)).astype("int64"), rand(rng, (3, 2))],
                           {"axis": 1, "reduction": r}))
        out.append(Example([rand(rng, (4, 2, 3), "int32"), rng.integers(0, 4, (2, 2, 3)).astype("int32"),
                            rand(rng, (2, 2, 3), "int32")], {"axis": 0, "reduction": r}))
    return out


def _distinct_targets(rng):
    """An overwriting scatter whose targets differ, so that no update is lost to another."""
    return Example([rand(rng, (3, 5)), np.array([[4, 0], [1, 2], [3, -1]], "int64"), rand(rng, (3, 2))],
                   {"axis": 1, "reduction": "none"})


scatter_elements_op = register_op(
    "scatter_elements", pattern=Pattern.OPAQUE, infer=_scatter_elements_infer, reference=_scatter_elements_ref,
    index_bounds=_along_axis_bounds,
    examples=lambda rng: _scatter_elements_examples(REDUCTIONS, rng) + [_distinct_targets(rng)],
    # gradients are defined for overwriting and adding scatters
    grad_examples=lambda rng: _scatter_elements_examples(["add"], rng) + [_distinct_targets(rng)])


def _scatter_grad(node, dy, gather, scatter_zeros):
    """Gradients of a scatter (data, indices, updates): updates read dy back through `gather`; data gets dy,
    less the elements an overwriting scatter replaced (`scatter_zeros(dy, zeros)` clears them)."""
    from .creation import zeros_like
    reduction = node.attrs["reduction"]
    if reduction == "add":
        return [dy, None, gather(dy)]
    if reduction == "none":  # overwritten elements of data get no gradient
        return [scatter_zeros(dy, zeros_like(node.inputs[2])), None, gather(dy)]
    raise NotImplementedError(f"{node.op} with reduction {reduction!r} has no gradient")


@scatter_elements_op.def_gradient
def _scatter_elements_grad(node, dys):
    idx, axis = node.inputs[1], node.attrs["axis"]
    return _scatter_grad(node, dys[0], lambda dy: gather_elements(dy, idx, axis),
                         lambda dy, zeros: scatter_elements(dy, idx, zeros, axis, "none"))


def gather_elements(x, indices, axis=0, name=None):
    """out[i] = x[i with its `axis` coordinate replaced by indices[i]] (ONNX GatherElements)."""
    return make("gather_elements", [convert_to_tensor(x), convert_to_tensor(indices)], {"axis": int(axis)}, name)


def scatter_elements(data, indices, updates, axis=0, reduction="none", name=None):
    """data with updates[i] written (or combined by `reduction`) at i with its `axis` coordinate = indices[i]."""
    return make("scatter_elements", [convert_to_tensor(data), convert_to_tensor(indices), convert_to_tensor(updates)],
                {"axis": int(axis), "reduction": reduction}, name)


# ---- gather_nd / scatter_nd ---------------------------------------------------------------------
def _gather_nd_infer(node):
    x, idx = node.inputs
    _check_indices(idx, "gather_nd")
    b = node.attrs.get("batch_dims", 0)
    if x.shape is None or idx.shape is None or idx.shape[-1] is None:
        return TensorType(None, x.dtype)
    k = idx.shape[-1]
    if b + k > len(x.shape):
        raise ShapeError(f"index tuples of length {k} (after {b} batch dims) exceed the rank {len(x.shape)} of {x.name}")
    return TensorType(tuple(idx.shape[:-1]) + tuple(x.shape[b + k:]), x.dtype)


def _gather_nd_ref(attrs, x, idx):
    b = attrs.get("batch_dims", 0)
    k = idx.shape[-1]
    out = np.empty(idx.shape[:-1] + x.shape[b + k:], x.dtype)
    for pos in np.ndindex(*idx.shape[:-1]):
        t = tuple(int(v) + (x.shape[b + j] if v < 0 else 0) for j, v in enumerate(idx[pos]))
        out[pos] = x[pos[:b] + t]
    return out


gather_nd_op = register_op(
    "gather_nd", moves_bits=True, pattern=Pattern.INJECTIVE, infer=_gather_nd_infer, reference=_gather_nd_ref,
    index_bounds=_tuple_bounds,
    examples=lambda rng: [Example([rand(rng, (3, 4)), rng.integers(-3, 3, (5, 2)).astype("int64")], {"batch_dims": 0}),
                          Example([rand(rng, (3, 4, 2)), rng.integers(0, 3, (2, 2, 1)).astype("int32")], {"batch_dims": 0}),
                          Example([rand(rng, (2, 3, 4)), rng.integers(0, 3, (2, 2, 1)).astype("int64")], {"batch_dims": 1})],
    grad_examples=lambda rng: [Example([rand(rng, (3, 4)), rng.integers(-3, 3, (5, 2)).astype("int64")], {"batch_dims": 0}),
                               Example([rand(rng, (3, 4, 2)), rng.integers(0, 3, (2, 2, 1)).astype("int32")], {"batch_dims": 0})])


@gather_nd_op.def_gradient
def _gather_nd_grad(node, dys):
    from .creation import zeros_like
    if node.attrs.get("batch_dims", 0):
        raise NotImplementedError("gather_nd with batch_dims has no gradient")
    x, idx = node.inputs
    return [scatter_nd(zeros_like(x), idx, dys[0], "add"), None]


def _scatter_nd_infer(node):
    data, idx, upd = node.inputs
    _check_indices(idx, "scatter_nd")
    _reduction(node.attrs)
    if upd.dtype != data.dtype:
        raise ShapeError(f"updates {upd.name} ({upd.dtype.name}) differ in dtype from data {data.name} ({data.dtype.name})")
    if None not in (data.shape, idx.shape, upd.shape) and idx.shape[-1] is not None:
        want = tuple(idx.shape[:-1]) + tuple(data.shape[idx.shape[-1]:])
        if tuple(upd.shape) != want:
            raise ShapeError(f"updates {upd.name} {list(upd.shape)} must have shape {list(want)}")
    return TensorType(data.shape, data.dtype)


def _scatter_nd_ref(attrs, data, idx, upd):
    out = data.copy()
    for pos in np.ndindex(*idx.shape[:-1]):
        t = tuple(int(v) + (data.shape[j] if v < 0 else 0) for j, v in enumerate(idx[pos]))
        out[t] = _combine(_reduction(attrs), out[t], upd[pos])
    return out


def _scatter_nd_examples(reductions, rng):
    out = []
    for r in reductions:
        out.append(Example([rand(rng, (4, 3)), np.array([[1], [-1], [1]], "int64"), rand(rng, (3, 3))],
                           {"reduction": r}))
        out.append(Example([rand(rng, (3, 4), "int32"), rng.integers(0, 3, (2, 2, 2)).astype("int32"),
                            rand(rng, (2, 2), "int32")], {"reduction": r}))
    return out


def _distinct_nd(rng):
    return Example([rand(rng, (2, 3, 2)), np.array([[0, 2], [1, 0]], "int64"), rand(rng, (2, 2))],
                   {"reduction": "none"})


scatter_nd_op = register_op(
    "scatter_nd", pattern=Pattern.OPAQUE, infer=_scatter_nd_infer, reference=_scatter_nd_ref, index_bounds=_tuple_bounds,
    examples=lambda rng: _scatter_nd_examples(REDUCTIONS, rng) + [_distinct_nd(rng)],
    grad_examples=lambda rng: _scatter_nd_examples(["add"], rng) + [_distinct_nd(rng)])


@scatter_nd_op.def_gradient
def _scatter_nd_grad(node, dys):
    idx = node.inputs[1]
    return _scatter_grad(node, dys[0], lambda dy: gather_nd(dy, idx),
                         lambda dy, zeros: scatter_nd(dy, idx, zeros, "none"))


def gather_nd(x, indices, batch_dims=0, name=None):
    """Slices of x at the index tuples in the last dim of `indices` (ONNX GatherND / TF gather_nd)."""
    return make("gather_nd", [convert_to_tensor(x), convert_to_tensor(indices)], {"batch_dims": int(batch_dims)}, name)


def scatter_nd(data, indices, updates, reduction="none", name=None):
    """data with the slices at the index tuples of `indices` replaced (or combined by `reduction`) by updates."""
    return make("scatter_nd", [convert_to_tensor(data), convert_to_tensor(indices), convert_to_tensor(updates)],
                {"reduction": reduction}, name)


# ---- top_k ------------------------------------------------------------------------------------------
def _top_k_infer(node):
    x, a = node.inputs[0], node.attrs
    if x.shape is None:
        return [TensorType(None, x.dtype), TensorType(None, a["index_dtype"])]
    axis = normalize_axis(a["axis"], len(x.shape))
    if x.shape[axis] is not None and not 0 <= a["k"] <= x.shape[axis]:
        raise ShapeError(f"k={a['k']} is out of range for dim {axis} of {x.name} (size {x.shape[axis]})")
    shape = tuple(a["k"] if i == axis else d for i, d in enumerate(x.shape))
    return [TensorType(shape, x.dtype), TensorType(shape, a["index_dtype"])]


def _top_k_ref(a, x):
    axis = normalize_axis(a["axis"], x.ndim)
    # stable sort: among equal values the lower index comes first
    key = -x.astype(np.float64) if a["largest"] else x
    order = np.argsort(key, axis=axis, kind="stable")
    idx = np.take(order, np.arange(a["k"]), axis=axis)
    return [np.take_along_axis(x, idx, axis=axis), idx.astype(a["index_dtype"].np)]


top_k_op = register_op(
    "top_k", pattern=Pattern.OPAQUE, infer=_top_k_infer, reference=_top_k_ref,
    examples=lambda rng: [
        Example([rand(rng, (3, 5))], {"k": 2, "axis": -1, "largest": True, "index_dtype": dtypes.int64}),
        Example([rand(rng, (4, 3))], {"k": 3, "axis": 0, "largest": False, "index_dtype": dtypes.int32}),
        Example([rand(rng, (2, 6), "int32", -2, 2)], {"k": 4, "axis": 1, "largest": True, "index_dtype": dtypes.int64})])


@top_k_op.def_gradient
def _top_k_grad(node, dys):
    from .creation import zeros_like
    x = node.inputs[0]
    if dys[0] is None:
        return [None]
    return [scatter_elements(zeros_like(x), node.outputs[1], dys[0], node.attrs["axis"], "add")]


def top_k(input, k=1, sorted=True, axis=-1, largest=True, index_dtype=dtypes.int32, name=None):  # noqa: A002
    """The k largest (or smallest) values along `axis`, sorted, and their indices (ties: lower index first)."""
    attrs = {"k": int(k), "axis": int(axis), "largest": bool(largest), "index_dtype": dtypes.as_dtype(index_dtype)}
    return make("top_k", [convert_to_tensor(input)], attrs, name)


# ---- index_check: run-time bounds of data-dependent indices (passes/index_checks.py) -------------
NO_BAD_INDEX = int(np.iinfo(np.int64).min)  # index_check's value when every index is in range


def largest_bad_index(indices, dims):
    """The largest index in `indices` outside [-dim, dim) (one dim for all, or one per last-axis
    position; see OpDef.index_bounds), or None when all are in range."""
    idx = np.asarray(indices).astype(np.int64)
    d = np.asarray(dims, np.int64) if len(dims) > 1 else np.int64(dims[0])
    bad = (idx < -d) | (idx >= d)
    return int(idx[bad].max()) if bad.any() else None


def index_error(what, bad, dims):
    """The InvalidArgumentError for index `bad` of the op described by `what` (e.g. "gather 'g'")."""
    from ..errors import InvalidArgumentError
    ranges = " / ".join(f"[{-int(d)}, {int(d)})" for d in dims)
    return InvalidArgumentError(f"{what}: index {bad} is out of range; expected indices in {ranges}")


def describe(node):
    """How errors name an indexing node: its op and name."""
    return f"{node.op} '{node.name}'"


def check_indices(node, indices):
    """Raise InvalidArgumentError when `indices` (the value of `node`'s index input) hold one out of range."""
    _, dims = node.opdef.index_bounds(node)
    bad = largest_bad_index(indices, dims)
    if bad is not None:
        raise index_error(describe(node), bad, dims)


def _index_check_infer(node):
    _check_indices(node.inputs[0], "index_check")
    return TensorType((), dtypes.int64)


def _index_check_ref(attrs, indices):
    bad = largest_bad_index(indices, attrs["dims"])
    return np.array(NO_BAD_INDEX if bad is None else bad, np.int64)


index_check_op = register_op(
    "index_check", pattern=Pattern.REDUCE, infer=_index_check_infer, reference=_index_check_ref,
    differentiable=False,
    examples=lambda rng: [Example([rng.integers(-7, 7, (3, 4)).astype("int64")], {"dims": (5,), "op": "gather 'g'"}),
                          Example([rng.integers(-3, 3, (4, 2)).astype("int32")], {"dims": (3, 4), "op": "gather_nd 'g'"}),
                          Example([rng.integers(-2, 6, (6, 2)).astype("int32")], {"dims": (2, 5), "op": "gather_nd 'g'"})])
