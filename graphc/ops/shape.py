"""Shape and layout ops: reshape, transpose, expand/squeeze, concat/split, strided slices,
gather, one_hot, broadcast_to, tile, shape; with the helper ops their gradients need."""
import builtins

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..graph import Tensor
from ..registry import Example, Pattern, TensorType, register_op
from ._base import broadcast_shape, convert_to_tensor, make, normalize_axis, rand, static_value

_py_slice = builtins.slice  # this module defines tf.slice


def resolve_reshape(in_shape, shape):
    """The target shape with its -1 filled in from `in_shape` (None dims stay unknown)."""
    shape = list(shape)
    if shape.count(-1) > 1:
        raise ShapeError(f"reshape target {shape} has more than one -1")
    if in_shape is None or any(d is None for d in in_shape):
        return tuple(None if d == -1 else d for d in shape)
    total = int(np.prod(in_shape))
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1]))
        if known == 0 or total % known:
            raise ShapeError(f"cannot reshape {list(in_shape)} ({total} elements) to {shape}")
        shape[shape.index(-1)] = total // known
    if int(np.prod(shape)) != total:
        raise ShapeError(f"cannot reshape {list(in_shape)} ({total} elements) to {shape}")
    return tuple(shape)


reshape_op = register_op(
    "reshape", moves_bits=True, noop_when_same_type=True, pattern=Pattern.INJECTIVE,
    infer=lambda n: TensorType(resolve_reshape(n.inputs[0].shape, n.attrs["shape"]), n.inputs[0].dtype),
    reference=lambda attrs, x: x.reshape(resolve_reshape(x.shape, attrs["shape"])),
    examples=lambda rng: [Example([rand(rng, (3, 4))], {"shape": (4, 3)}),
                          Example([rand(rng, (2, 3, 4))], {"shape": (-1, 4)}),
                          Example([rand(rng, (6,), "int32")], {"shape": (2, 1, 3)}),
                          Example([rand(rng, (1,))], {"shape": ()})])


@reshape_op.def_gradient
def _reshape_grad(node, dys):
    return [reshape_like(dys[0], node.inputs[0])]


def reshape(tensor, shape, name=None):
    """tensor with a new shape of the same size; one dim may be -1."""
    return make("reshape", [convert_to_tensor(tensor)], {"shape": tuple(static_value(shape, "reshape shape"))}, name)


reshape_like_op = register_op(
    "reshape_like", moves_bits=True, noop_when_same_type=True, pattern=Pattern.INJECTIVE, shape_only_inputs=(1,),
    infer=lambda n: TensorType(n.inputs[1].shape, n.inputs[0].dtype),
    reference=lambda attrs, x, like: x.reshape(like.shape),
    examples=lambda rng: [Example([rand(rng, (3, 4)), rand(rng, (2, 6))])])


@reshape_like_op.def_gradient
def _reshape_like_grad(node, dys):
    return [reshape_like(dys[0], node.inputs[0]), None]


def reshape_like(x, like):
    """x reshaped to like's shape (known at run time)."""
    if x.shape is not None and like.shape is not None and tuple(x.shape) == tuple(like.shape) \
            and all(d is not None for d in x.shape):
        return x
    return make("reshape_like", [x, like])


def transpose_perm(node, rank=None):
    """A transpose node's permutation: its `perm`, or all dims reversed where perm is None (TF's
    default, kept open until the rank is known)."""
    perm = node.attrs["perm"]
    if perm is not None:
        return tuple(perm)
    return tuple(reversed(range(len(node.inputs[0].shape) if rank is None else rank)))


def _transpose_infer(node):
    x = node.inputs[0]
    if x.shape is None:
        return TensorType(None, x.dtype)
    perm = transpose_perm(node)
    if sorted(perm) != list(range(len(x.shape))):
        raise ShapeError(f"perm {list(perm)} is not a permutation of the {len(x.shape)} dims of {x.name}")
    return TensorType(tuple(x.shape[p] for p in perm), x.dtype)


transpose_op = register_op(
    "transpose", moves_bits=True, pattern=Pattern.INJECTIVE, infer=_transpose_infer,
    reference=lambda attrs, x: np.require(np.transpose(x, attrs["perm"]), requirements="C"),
    examples=lambda rng: [Example([rand(rng, (3, 4))], {"perm": (1, 0)}),
                          Example([rand(rng, (2, 3, 4))], {"perm": None}),
                          Example([rand(rng, (2, 3, 4))], {"perm": (2, 0, 1)}),
                          Example([rand(rng, (2, 3, 4, 5), "int32")], {"perm": (0, 2, 3, 1)})])


@transpose_op.def_gradient
def _transpose_grad(node, dys):
    if node.attrs["perm"] is None:  # reversing is its own inverse, whatever the rank
        return [transpose(dys[0])]
    inverse = tuple(int(i) for i in np.argsort(node.attrs["perm"]))
    return [transpose(dys[0], inverse)]


def transpose(a, perm=None, name=None):
    """a with its dims permuted (reversed when perm is None)."""
    a = convert_to_tensor(a)
    if perm is None and a.shape is not None:
        perm = tuple(reversed(range(len(a.shape))))
    return make("transpose", [a], {"perm": None if perm is None else tuple(static_value(perm, "transpose perm"))},
                name)


# ---- expand_dims / squeeze ------------------------------------------------------------------
def _expand_dims_infer(node):
    x = node.inputs[0]
    if x.shape is None:
        return TensorType(None, x.dtype)
    rank = len(x.shape) + 1
    axis = normalize_axis(node.attrs["axis"], rank)
    shape = list(x.shape)
    shape.insert(axis, 1)
    return TensorType(tuple(shape), x.dtype)


expand_dims_op = register_op(
    "expand_dims", moves_bits=True, noop_when_same_type=True, pattern=Pattern.INJECTIVE, infer=_expand_dims_infer,
    reference=lambda attrs, x: np.expand_dims(x, normalize_axis(attrs["axis"], x.ndim + 1)),
    gradient=lambda n, dys: [reshape_like(dys[0], n.inputs[0])],
    examples=lambda rng: [Example([rand(rng, (3, 4))], {"axis": 0}), Example([rand(rng, (3, 4))], {"axis": -1}),
                          Example([rand(rng, (), "int32")], {"axis": 0})])


def expand_dims(input, axis, name=None):
    """input with a new dim of size 1 at `axis`."""
    return make("expand_dims", [convert_to_tensor(input)], {"axis": int(axis)}, name)


def squeezed_axes(shape, axes):
    """The axes a squeeze removes: the given ones (each must be 1), else every dim of size 1."""
    if axes is None:
        return tuple(i for i, d in enumerate(shape) if d == 1)
    axes = tuple(sorted(normalize_axis(a, len(shape)) for a in axes))
    for a in axes:
        if shape[a] is not None and shape[a] != 1:
            raise ShapeError(f"cannot squeeze dim {a} of size {shape[a]}; it must be 1")
    return axes


def _squeeze_infer(node):
    x = node.inputs[0]
    axes = node.attrs.get("axes")
    if x.shape is None or (axes is None and any(d is None for d in x.shape)):
        return TensorType(None, x.dtype)
    drop = squeezed_axes(x.shape, axes)
    return TensorType(tuple(d for i, d in enumerate(x.shape) if i not in drop), x.dtype)


squeeze_op = register_op(
    "squeeze", moves_bits=True, noop_when_same_type=True, pattern=Pattern.INJECTIVE, infer=_squeeze_infer,
    reference=lambda attrs, x: x.reshape([d for i, d in enumerate(x.shape) if i not in squeezed_axes(x.shape, attrs.get("axes"))]),
    gradient=lambda n, dys: [reshape_like(dys[0], n.inputs[0])],
    examples=lambda rng: [Example([rand(rng, (3, 1, 4, 1))], {"axes": None}),
                          Example([rand(rng, (1, 5))], {"axes": (0,)}),
                          Example([rand(rng, (2, 1), "int32")], {"axes": (-1,)})])


def squeeze(input, axis=None, name=None, squeeze_dims=None):
    """input without the given size-1 dims (all of them when axis is None)."""
    axis = squeeze_dims if axis is None else axis
    axes = None if axis is None else tuple(int(a) for a in np.atleast_1d(axis))
    return make("squeeze", [convert_to_tensor(input)], {"axes": axes}, name)


# ---- concat / split ---------------------------------------------------------------------------
def _concat_infer(node):
    ts = node.inputs
    if any(t.dtype != ts[0].dtype for t in ts):
        raise ShapeError(f"concat inputs differ in dtype: {[t.dtype.name for t in ts]}")
    known = [t.shape for t in ts if t.shape is not None]
    if not known:
        return TensorType(None, ts[0].dtype)
    rank = len(known[0])
    axis = normalize_axis(node.attrs["axis"], rank)
    if any(len(s) != rank for s in known):
        raise ShapeError(f"concat inputs differ in rank: {[list(s) for s in known]}")
    if len(known) < len(ts):
        return TensorType(tuple(None if i == axis else d for i, d in enumerate(known[0])), ts[0].dtype)
    out = []
    for i in range(rank):
        dims = [s[i] for s in known]
        if i == axis:
            out.append(None if None in dims else sum(dims))
        else:
            fixed = {d for d in dims if d is not None}
            if len(fixed) > 1:
                raise ShapeError(f"concat inputs differ in dim {i}: {[list(s) for s in known]}")
            out.append(fixed.pop() if fixed else None)
    return TensorType(tuple(out), ts[0].dtype)


concat_op = register_op(
    "concat", moves_bits=True, pattern=Pattern.INJECTIVE, infer=_concat_infer,
    reference=lambda attrs, *xs: np.concatenate(xs, axis=normalize_axis(attrs["axis"], xs[0].ndim)),
    examples=lambda rng: [Example([rand(rng, (2, 3)), rand(rng, (4, 3))], {"axis": 0}),
                          Example([rand(rng, (2, 3)), rand(rng, (2, 1)), rand(rng, (2, 5))], {"axis": -1}),
                          Example([rand(rng, (3,), "int32"), rand(rng, (2,), "int32")], {"axis": 0})])


@concat_op.def_gradient
def _concat_grad(node, dys):
    return [make("concat_slice", [dys[0]] + list(node.inputs), {"axis": node.attrs["axis"], "index": i})
            for i in range(len(node.inputs))]


def _concat_slice_bounds(node_or_shapes, axis, index):
    shapes = node_or_shapes
    axis = normalize_axis(axis, len(shapes[0]))
    start = sum(s[axis] for s in shapes[:index])
    return axis, start, start + shapes[index][axis]


def _concat_slice_ref(attrs, dy, *xs):
    axis, start, stop = _concat_slice_bounds([x.shape for x in xs], attrs["axis"], attrs["index"])
    return np.require(np.take(dy, np.arange(start, stop), axis=axis), requirements="C")


concat_slice_op = register_op(
    "concat_slice", moves_bits=True, pattern=Pattern.INJECTIVE, shape_only_inputs="rest",
    infer=lambda n: TensorType(n.inputs[1 + n.attrs["index"]].shape, n.inputs[0].dtype),
    reference=_concat_slice_ref,
    examples=lambda rng: [Example([rand(rng, (6, 3)), rand(rng, (2, 3)), rand(rng, (4, 3))], {"axis": 0, "index": 1}),
                          Example([rand(rng, (2, 5)), rand(rng, (2, 1)), rand(rng, (2, 4))], {"axis": 1, "index": 0})])


@concat_slice_op.def_gradient
def _concat_slice_grad(node, dys):
    # the slice's adjoint: dy placed at its offset, zeros for the other pieces
    xs = node.inputs[1:]
    pieces = [dys[0] if i == node.attrs["index"] else _zeros_like(x) for i, x in enumerate(xs)]
    return [concat(pieces, node.attrs["axis"])] + [None] * len(xs)


def _zeros_like(x):
    from .creation import zeros_like
    return zeros_like(x)


def concat(values, axis, name=None):
    """values joined along `axis`."""
    values = [convert_to_tensor(v) for v in values]
    if len(values) == 1:
        return values[0]
    return make("concat", values, {"axis": int(axis)}, name)


def split_sizes(dim, attrs):
    """The sizes of a split of a dim of size `dim`."""
    if attrs.get("sizes") is not None:
        sizes = list(attrs["sizes"])
        if sizes.count(-1) > 1:
            raise ShapeError(f"split sizes {sizes} have more than one -1")
        if dim is None:  # the -1 part is known only when fed
            return [None if s == -1 else s for s in sizes]
        if -1 in sizes:
            sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
            if min(sizes) < 0:
                raise ShapeError(f"split sizes {list(attrs['sizes'])} exceed the dim {dim}")
        if dim is not None and sum(sizes) != dim:
            raise ShapeError(f"split sizes {list(attrs['sizes'])} do not add up to the dim {dim}")
        return sizes
    num = attrs["num"]
    if dim is None:
        return [None] * num
    if dim % num:
        raise ShapeError(f"cannot split a dim of size {dim} into {num} equal parts")
    return [dim // num] * num


def _split_infer(node):
    x = node.inputs[0]
    count = len(node.attrs["sizes"]) if node.attrs.get("sizes") is not None else node.attrs["num"]
    if x.shape is None:
        return [TensorType(None, x.dtype)] * count
    axis = normalize_axis(node.attrs["axis"], len(x.shape))
    sizes = split_sizes(x.shape[axis], node.attrs)
    return [TensorType(tuple(s if i == axis else d for i, d in enumerate(x.shape)), x.dtype) for s in sizes]


def _split_ref(attrs, x):
    axis = normalize_axis(attrs["axis"], x.ndim)
    cuts = np.cumsum(split_sizes(x.shape[axis], attrs))[:-1]
    return [np.require(p, requirements="C") for p in np.split(x, cuts, axis=axis)]


split_op = register_op(
    "split", moves_bits=True, pattern=Pattern.INJECTIVE, infer=_split_infer, reference=_split_ref,
    examples=lambda rng: [Example([rand(rng, (6, 4))], {"axis": 0, "num": 3}),
                          Example([rand(rng, (2, 7))], {"axis": -1, "sizes": (2, 4, 1)}),
                          Example([rand(rng, (4, 2), "int32")], {"axis": 0, "num": 2})])


@split_op.def_gradient
def _split_grad(node, dys):
    pieces = [d if d is not None else _zeros_like(t) for d, t in zip(dys, node.outputs)]
    return [concat(pieces, node.attrs["axis"])]


def split(value, num_or_size_splits, axis=0, num=None, name=None):
    """value cut along `axis` into equal parts (an int) or parts of the given sizes (a list)."""
    value = convert_to_tensor(value)
    if isinstance(num_or_size_splits, (int, np.integer)):
        attrs = {"axis": int(axis), "num": int(num_or_size_splits), "sizes": None}
    else:
        attrs = {"axis": int(axis), "sizes": tuple(static_value(num_or_size_splits, "split sizes"))}
    out = make("split", [value], attrs, name)
    return list(out) if isinstance(out, tuple) else [out]


def stack(values, axis=0, name=None):
    """values (same shape) joined along a new dim at `axis`."""
    values = [convert_to_tensor(v) for v in values]
    rank = values[0].shape
    ax = axis if rank is None or axis >= 0 else axis + len(rank) + 1
    return concat([expand_dims(v, ax) for v in values], ax, name)


def unstack(value, num=None, axis=0, name=None):
    """The slices of value along `axis`, each without that dim."""
    value = convert_to_tensor(value)
    if num is None:
        if value.shape is None or value.shape[axis] is None:
            raise ShapeError(f"unstack of {value.name} needs num= or a known dim {axis}")
        num = value.shape[axis]
    return [squeeze(p, [axis]) for p in split(value, int(num), axis)]


# ---- strided slices ---------------------------------------------------------------------------
def slice_ranges(shape, slices):
    """Per-axis (start, step, count) of `slices` ((start, stop, step) per leading axis) on `shape`."""
    out = []
    for i, d in enumerate(shape):
        if i < len(slices):
            start, stop, step = slices[i]
            if d is None:
                out.append(None)
                continue
            s = _py_slice(start, stop, step).indices(d)
            out.append((s[0], s[2], len(range(*s))))
        else:
            out.append(None if d is None else (0, 1, d))
    return out


def _strided_slice_infer(node):
    x = node.inputs[0]
    if x.shape is None:
        return TensorType(None, x.dtype)
    if len(node.attrs["slices"]) > len(x.shape):
        raise ShapeError(f"{len(node.attrs['slices'])} slices for a tensor of rank {len(x.shape)}")
    return TensorType(tuple(None if r is None else r[2] for r in slice_ranges(x.shape, node.attrs["slices"])),
                      x.dtype)


def _slice_key(slices):
    return tuple(_py_slice(*s) for s in slices)


strided_slice_op = register_op(
    "strided_slice", moves_bits=True, pattern=Pattern.INJECTIVE, infer=_strided_slice_infer,
    reference=lambda attrs, x: np.require(x[_slice_key(attrs["slices"])], requirements="C"),
    examples=lambda rng: [Example([rand(rng, (5, 6))], {"slices": ((1, 4, 1), (None, None, 2))}),
                          Example([rand(rng, (7,))], {"slices": ((None, None, -2),)}),
                          Example([rand(rng, (4, 5, 3))], {"slices": ((-3, None, 1), (4, 0, -1))}),
                          Example([rand(rng, (6, 2), "int32")], {"slices": ((2, 5, 1),)})])


@strided_slice_op.def_gradient
def _strided_slice_grad(node, dys):
    return [make("strided_slice_grad", [dys[0], node.inputs[0]], {"slices": node.attrs["slices"]})]


def _strided_slice_grad_ref(attrs, dy, x):
    out = np.zeros(x.shape, dy.dtype)
    out[_slice_key(attrs["slices"])] = dy
    return out


strided_slice_grad_op = register_op(
    "strided_slice_grad", pattern=Pattern.INJECTIVE, shape_only_inputs=(1,),
    infer=lambda n: TensorType(n.inputs[1].shape, n.inputs[0].dtype),
    reference=_strided_slice_grad_ref,
    gradient=lambda n, dys: [make("strided_slice", [dys[0]], {"slices": n.attrs["slices"]}), None],
    examples=lambda rng: [Example([rand(rng, (3, 3)), rand(rng, (5, 6))], {"slices": ((1, 4, 1), (None, None, 2))}),
                          Example([rand(rng, (4,)), rand(rng, (7,))], {"slices": ((None, None, -2),)})])


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, name=None):
    """TF's strided_slice: python-style slicing given by begin/end/strides and bit masks."""
    begin, end = static_value(begin, "begin"), static_value(end, "end")
    strides = static_value(strides, "strides") if strides is not None else [1] * len(begin)
    key = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if ellipsis_mask & bit:
            key.append(Ellipsis)
        elif new_axis_mask & bit:
            key.append(None)
        elif shrink_axis_mask & bit:
            key.append(b)
        else:
            key.append(_py_slice(None if begin_mask & bit else b, None if end_mask & bit else e, s))
    return getitem(convert_to_tensor(input_), tuple(key), name)


def slice(input_, begin, size, name=None):  # noqa: A001 (TF's name)
    """input_[begin : begin + size] per dim; size -1 means to the end."""
    begin, size = static_value(begin, "begin"), static_value(size, "size")
    key = tuple(_py_slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))
    return getitem(convert_to_tensor(input_), key, name)


def getitem(x, key, name=None):
    """x[key] for ints, slices (any step), Ellipsis and None (a new axis), like numpy."""
    key = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, Tensor) for k in key):
        raise TypeError(f"indexing {x.name} with a tensor: use graphc.gather")
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if Ellipsis in key:
        if x.shape is None:
            raise ShapeError(f"indexing {x.name} with ... needs its rank known")
        i = key.index(Ellipsis)
        key = key[:i] + (_py_slice(None),) * (len(x.shape) - n_real) + key[i + 1:]
    slices, shrink, new_axes, pos = [], [], [], 0
    for k in key:
        if k is None:
            new_axes.append(pos + len(new_axes))
            continue
        if isinstance(k, _py_slice):
            slices.append((k.start, k.stop, k.step if k.step is not None else 1))
        elif isinstance(k, (int, np.integer)):
            k = int(k)
            dim = None if x.shape is None or pos >= len(x.shape) else x.shape[pos]
            if dim is not None and not -dim <= k < dim:
                raise ShapeError(f"index {k} is out of range for dim {pos} of {x.name} (size {dim})")
            slices.append((k, k + 1 if k != -1 else None, 1))
            shrink.append(pos)
        else:
            raise TypeError(f"cannot index {x.name} with {k!r}; expected ints, slices, ... or None")
        pos += 1
    out = x
    if any(s != (None, None, 1) for s in slices):
        out = make("strided_slice", [x], {"slices": tuple(slices)}, name)
    if shrink:
        out = squeeze(out, shrink)
    for axis in new_axes:  # positions among the result's dims, shrunk dims removed
        out = expand_dims(out, axis - sum(1 for s in shrink if s < axis))
    return out


# ---- gather -------------------------------------------------------------------------------------
def _gather_infer(node):
    params, indices = node.inputs
    if not indices.dtype.is_integer:
        raise ShapeError(f"gather indices {indices.name} have dtype {indices.dtype.name}; expected an integer dtype")
    if params.shape is None or indices.shape is None:
        return TensorType(None, params.dtype)
    axis = normalize_axis(node.attrs["axis"], len(params.shape))
    return TensorType(tuple(params.shape[:axis]) + tuple(indices.shape) + tuple(params.shape[axis + 1:]), params.dtype)


def _gather_ref(attrs, params, indices):
    return np.take(params, indices, axis=normalize_axis(attrs["axis"], params.ndim))


gather_op = register_op(
    "gather", moves_bits=True, pattern=Pattern.INJECTIVE, infer=_gather_infer, reference=_gather_ref,
    index_bounds=lambda node: (1, [node.inputs[0].shape[normalize_axis(node.attrs["axis"], len(node.inputs[0].shape))]]),
    examples=lambda rng: [Example([rand(rng, (5, 3)), rng.integers(0, 5, (4,)).astype("int32")], {"axis": 0}),
                          Example([rand(rng, (2, 6, 3)), rng.integers(-6, 6, (2, 2)).astype("int64")], {"axis": 1}),
                          Example([rand(rng, (4,), "int32"), np.array(2, "int32")], {"axis": 0})])


@gather_op.def_gradient
def _gather_grad(node, dys):
    params, indices = node.inputs
    return [make("gather_grad", [dys[0], indices, params], {"axis": node.attrs["axis"]}), None]


def _gather_grad_ref(attrs, dy, indices, params):
    axis = normalize_axis(attrs["axis"], params.ndim)
    out = np.zeros(params.shape, dy.dtype)
    idx = np.where(indices < 0, indices + params.shape[axis], indices).reshape(-1)
    moved = np.moveaxis(out, axis, 0)  # a view: scatter-add along the gathered axis
    dy_rows = np.moveaxis(dy.reshape(dy.shape[:axis] + (-1,) + dy.shape[axis + indices.ndim:]), axis, 0)
    np.add.at(moved, idx, dy_rows)
    return out


gather_grad_op = register_op(
    "gather_grad", pattern=Pattern.REDUCE, shape_only_inputs=(2,),
    infer=lambda n: TensorType(n.inputs[2].shape, n.inputs[0].dtype),
    reference=_gather_grad_ref,
    gradient=lambda n, dys: [gather(dys[0], n.inputs[1], n.attrs["axis"]), None, None],
    examples=lambda rng: [Example([rand(rng, (4, 3)), np.array([0, 2, 2, 4], "int32"), rand(rng, (5, 3))], {"axis": 0}),
                          Example([rand(rng, (2, 2, 2, 3)), rng.integers(-6, 6, (2, 2)).astype("int64"),
                                   rand(rng, (2, 6, 3))], {"axis": 1})])


def gather(params, indices, axis=0, name=None, validate_indices=None, batch_dims=0):
    """Slices of params along `axis` at `indices` (negative indices count from the end)."""
    if batch_dims:
        raise NotImplementedError("gather with batch_dims is not supported")
    return make("gather", [convert_to_tensor(params), convert_to_tensor(indices)],
                {"axis": 0 if axis is None else int(axis)}, name)  # TF1: axis None means 0



def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    """out[s] = sum of data[i] over the i with segment_ids[i] == s, for s < num_segments (TF's op); the
    scatter-add that is gather's adjoint (`gather_grad`), so its gradient is a gather."""
    data, segment_ids = convert_to_tensor(data), convert_to_tensor(segment_ids)
    if data.shape is None or None in tuple(data.shape[1:]) or segment_ids.shape is None or len(segment_ids.shape) != 1:
        raise ShapeError(f"unsorted_segment_sum needs data {data.name} with known dims after the first and 1-D "
                         f"segment_ids {segment_ids.name}; got {data.shape} and {segment_ids.shape}")
    from .creation import zeros
    like = zeros([int(num_segments)] + list(data.shape[1:]), data.dtype)  # read for its shape only
    return make("gather_grad", [data, segment_ids, like], {"axis": 0}, name)

# ---- one_hot ------------------------------------------------------------------------------------
def _one_hot_infer(node):
    idx = node.inputs[0]
    if not idx.dtype.is_integer:
        raise ShapeError(f"one_hot indices {idx.name} have dtype {idx.dtype.name}; expected an integer dtype")
    if idx.shape is None:
        return TensorType(None, node.attrs["dtype"])
    shape = list(idx.shape)
    shape.insert(normalize_axis(node.attrs["axis"], len(shape) + 1), node.attrs["depth"])
    return TensorType(tuple(shape), node.attrs["dtype"])


def _one_hot_ref(a, idx):
    hot = idx[..., None] == np.arange(a["depth"])
    out = np.where(hot, a["on_value"], a["off_value"]).astype(a["dtype"].np)
    return np.require(np.moveaxis(out, -1, normalize_axis(a["axis"], idx.ndim + 1)), requirements="C")


one_hot_op = register_op(
    "one_hot", pattern=Pattern.INJECTIVE, infer=_one_hot_infer, reference=_one_hot_ref, differentiable=False,
    examples=lambda rng: [Example([rng.integers(0, 4, (5,)).astype("int32")],
                                  {"depth": 4, "on_value": 1.0, "off_value": 0.0, "axis": -1, "dtype": dtypes.float32}),
                          Example([rng.integers(-1, 3, (2, 3)).astype("int64")],
                                  {"depth": 3, "on_value": 5, "off_value": -1, "axis": 0, "dtype": dtypes.int32})])


def one_hot(indices, depth, on_value=None, off_value=None, axis=-1, dtype=None, name=None):
    """A new axis of size `depth` holding on_value where the index matches, else off_value."""
    if dtype is None:  # as TF: the type of on_value / off_value when given, else float32
        given = [np.asarray(v) for v in (on_value, off_value) if v is not None]
        dtype = dtypes.int32 if given and all(g.dtype.kind in "iu" for g in given) else dtypes.float32
    dtype = dtypes.as_dtype(dtype)
    attrs = {"depth": int(depth), "on_value": 1 if on_value is None else on_value,
             "off_value": 0 if off_value is None else off_value, "axis": int(axis), "dtype": dtype}
    return make("one_hot", [convert_to_tensor(indices)], attrs, name)


# ---- broadcast_to / tile ----------------------------------------------------------------------
def _broadcast_to_infer(node):
    x, shape = node.inputs[0], tuple(node.attrs["shape"])
    full = broadcast_shape(x.shape, shape)
    if full is not None and len(full) != len(shape) or any(a is not None and a != b for a, b in zip(full or (), shape)):
        raise ShapeError(f"cannot broadcast {x.name} of shape {list(x.shape)} to {list(shape)}")
    return TensorType(shape, x.dtype)


broadcast_to_op = register_op(
    "broadcast_to", moves_bits=True, noop_when_same_type=True, pattern=Pattern.BROADCAST, infer=_broadcast_to_infer,
    reference=lambda attrs, x: np.require(np.broadcast_to(x, attrs["shape"]), requirements="C"),
    gradient=lambda n, dys: [_sum_to(dys[0], n.inputs[0])],
    examples=lambda rng: [Example([rand(rng, (3, 1))], {"shape": (2, 3, 4)}),
                          Example([rand(rng, ())], {"shape": (5,)}),
                          Example([rand(rng, (4,), "int32")], {"shape": (3, 4)})])


def _sum_to(dy, x):
    from .reduce import sum_to
    return sum_to(dy, x)


def broadcast_to(input, shape, name=None):
    """input broadcast (numpy rules) to the static `shape`."""
    return make("broadcast_to", [convert_to_tensor(input)], {"shape": tuple(static_value(shape, "shape"))}, name)


def _tile_infer(node):
    x, reps = node.inputs[0], node.attrs["multiples"]
    if x.shape is None:
        return TensorType(None, x.dtype)
    if len(reps) != len(x.shape):
        raise ShapeError(f"tile multiples {list(reps)} do not match the rank {len(x.shape)} of {x.name}")
    return TensorType(tuple(None if d is None else d * r for d, r in zip(x.shape, reps)), x.dtype)


tile_op = register_op(
    "tile", moves_bits=True, pattern=Pattern.INJECTIVE, infer=_tile_infer,
    reference=lambda attrs, x: np.tile(x, attrs["multiples"]),
    gradient=lambda n, dys: [make("tile_grad", [dys[0], n.inputs[0]], {"multiples": n.attrs["multiples"]})],
    examples=lambda rng: [Example([rand(rng, (2, 3))], {"multiples": (2, 1)}),
                          Example([rand(rng, (3,), "int32")], {"multiples": (3,)}),
                          Example([rand(rng, (1, 2, 2))], {"multiples": (2, 3, 1)})])


def _tile_grad_ref(attrs, dy, x):
    reps = attrs["multiples"]
    split_shape = [v for r, d in zip(reps, x.shape) for v in (r, d)]
    return dy.reshape(split_shape).sum(axis=tuple(range(0, 2 * len(reps), 2))).astype(dy.dtype)


tile_grad_op = register_op(
    "tile_grad", pattern=Pattern.REDUCE, shape_only_inputs=(1,),
    infer=lambda n: TensorType(n.inputs[1].shape, n.inputs[0].dtype),
    reference=_tile_grad_ref,
    gradient=lambda n, dys: [tile(dys[0], n.attrs["multiples"]), None],
    examples=lambda rng: [Example([rand(rng, (4, 3)), rand(rng, (2, 3))], {"multiples": (2, 1)}),
                          Example([rand(rng, (2, 6, 2)), rand(rng, (1, 2, 2))], {"multiples": (2, 3, 1)})])


def tile(input, multiples, name=None):
    """input repeated `multiples[i]` times along each dim i."""
    return make("tile", [convert_to_tensor(input)], {"multiples": tuple(static_value(multiples, "multiples"))}, name)


# ---- shape --------------------------------------------------------------------------------------
shape_op = register_op(
    "shape", moves_bits=True, pattern=Pattern.INJECTIVE, shape_only_inputs=(0,), differentiable=False,
    infer=lambda n: TensorType((None if n.inputs[0].shape is None else len(n.inputs[0].shape),), n.attrs["dtype"]),
    reference=lambda attrs, x: np.array(x.shape, attrs["dtype"].np),
    examples=lambda rng: [Example([rand(rng, (3, 4))], {"dtype": dtypes.int32}),
                          Example([rand(rng, (2, 1, 5), "int32")], {"dtype": dtypes.int64})])


def shape(input, name=None, out_type=dtypes.int32):
    """The shape of `input` as a 1-D integer tensor."""
    return make("shape", [convert_to_tensor(input)], {"dtype": dtypes.as_dtype(out_type)}, name)


def _scalar_int_examples(rng):
    return [Example([rand(rng, (3, 4))], {"dtype": dtypes.int32}),
            Example([rand(rng, (2, 1, 5), "int32")], {"dtype": dtypes.int64})]


register_op("size", moves_bits=True, pattern=Pattern.INJECTIVE, shape_only_inputs=(0,), differentiable=False,
            infer=lambda n: TensorType((), n.attrs["dtype"]),
            reference=lambda attrs, x: np.array(x.size, attrs["dtype"].np), examples=_scalar_int_examples)
register_op("rank", moves_bits=True, pattern=Pattern.INJECTIVE, shape_only_inputs=(0,), differentiable=False,
            infer=lambda n: TensorType((), n.attrs["dtype"]),
            reference=lambda attrs, x: np.array(x.ndim, attrs["dtype"].np), examples=_scalar_int_examples)


def size(input, name=None, out_type=dtypes.int32):
    """The number of elements of `input` as a scalar integer tensor."""
    return make("size", [convert_to_tensor(input)], {"dtype": dtypes.as_dtype(out_type)}, name)


def rank(input, name=None):
    """The number of dims of `input` as a scalar int32 tensor."""
    return make("rank", [convert_to_tensor(input)], {"dtype": dtypes.int32}, name)


# ---- pad ---------------------------------------------------------------------------------------
def _pad_infer(node):
    x, pads = node.inputs[0], node.attrs["paddings"]
    if x.shape is None:
        return TensorType(None, x.dtype)
    if len(pads) != len(x.shape):
        raise ShapeError(f"{len(pads)} (before, after) paddings for {x.name} of rank {len(x.shape)}; expected one per axis")
    return TensorType(tuple(None if d is None else d + b + a for d, (b, a) in zip(x.shape, pads)), x.dtype)


pad_op = register_op(
    "pad", pattern=Pattern.INJECTIVE, infer=_pad_infer,
    reference=lambda attrs, x: np.pad(x, attrs["paddings"], constant_values=attrs["constant_value"]).astype(x.dtype),
    examples=lambda rng: [Example([rand(rng, (3, 4))], {"paddings": ((1, 2), (0, 3)), "constant_value": 0.0}),
                          Example([rand(rng, (2, 3, 2))], {"paddings": ((0, 0), (2, 1), (1, 1)), "constant_value": 1.5}),
                          Example([rand(rng, (5,), "int32")], {"paddings": ((2, 0),), "constant_value": 7})])


@pad_op.def_gradient
def _pad_grad(node, dys):
    # the padding is constant: only the interior reads x
    return [make("strided_slice", [dys[0]], {"slices": tuple((b, -a if a else None, 1) for b, a in node.attrs["paddings"])})]


def _pad_pieces(x, axis, before, after, mode):
    """The slices of x that pad `axis` on each side in `mode` (reflect, symmetric, edge, wrap)."""
    dim = x.shape[axis]

    def take(start, stop, step=1):
        key = [_py_slice(None)] * len(x.shape)
        key[axis] = _py_slice(start, stop, step)
        return getitem(x, tuple(key))
    if mode == "edge":
        reps = lambda n: [1 if i != axis else n for i in range(len(x.shape))]  # noqa: E731
        return (tile(take(0, 1), reps(before)) if before else None,
                tile(take(dim - 1, dim), reps(after)) if after else None)
    limit = {"reflect": dim - 1, "symmetric": dim, "wrap": dim}[mode]
    if max(before, after) > limit:
        raise ShapeError(f"{mode} padding of {max(before, after)} on axis {axis} of {x.name} exceeds the {limit} "
                         f"values that mode can mirror or repeat")
    if mode == "wrap":
        return (take(dim - before, dim) if before else None, take(0, after) if after else None)
    skip = 1 if mode == "reflect" else 0  # reflect leaves out the edge value, symmetric repeats it
    return (take(before - 1 + skip, (skip - 1) if skip - 1 >= 0 else None, -1) if before else None,
            take(dim - 1 - skip, dim - 1 - skip - after if dim - 1 - skip - after >= 0 else None, -1) if after else None)


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """tf.pad: `paddings[i] = (before, after)` values added on axis i; mode CONSTANT, REFLECT, SYMMETRIC,
    EDGE or WRAP (the last two as in ONNX/numpy)."""
    x = convert_to_tensor(tensor)
    pads = tuple((int(b), int(a)) for b, a in np.asarray(static_value(np.asarray(paddings).reshape(-1), "paddings")).reshape(-1, 2))
    if any(v < 0 for p in pads for v in p):
        raise ShapeError(f"paddings {[list(p) for p in pads]} are negative; expected values >= 0 (slice to crop)")
    mode = mode.lower()
    if mode == "constant":
        value = constant_values.item() if isinstance(constant_values, np.ndarray) else constant_values
        return make("pad", [x], {"paddings": pads, "constant_value": value}, name)
    if mode not in ("reflect", "symmetric", "edge", "wrap"):
        raise ValueError(f"pad mode {mode!r}; expected CONSTANT, REFLECT, SYMMETRIC, EDGE or WRAP")
    if x.shape is None or any(x.shape[i] is None for i, p in enumerate(pads) if p != (0, 0)):
        raise ShapeError(f"{mode} padding needs the padded dims of {x.name} known when the graph is built")
    for axis, (b, a) in enumerate(pads):
        if b or a:
            lo, hi = _pad_pieces(x, axis, b, a, mode)
            x = concat([p for p in (lo, x, hi) if p is not None], axis)
    return x if name is None else identity_named(x, name)


def identity_named(x, name):
    """x through an identity node called `name`."""
    from .control import identity
    return identity(x, name=name)
