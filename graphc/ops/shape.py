"""Shape and layout ops: reshape, transpose, slicing, concat/split, gather, one_hot, tile, broadcast_to."""
import builtins

import numpy as np

from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import (broadcast_shape, convert_to_tensor, make, normalize_axes, normalize_axis, rand, same_type,
                    static_value)


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
    "reshape", pattern=Pattern.INJECTIVE,
    infer=lambda n: TensorType(resolve_reshape(n.inputs[0].shape, n.attrs["shape"]), n.inputs[0].dtype),
    reference=lambda n, x: x.reshape(resolve_reshape(x.shape, n.attrs["shape"])),
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
    "reshape_like", pattern=Pattern.INJECTIVE,
    infer=lambda n: TensorType(n.inputs[1].shape, n.inputs[0].dtype),
    reference=lambda n, x, like: x.reshape(like.shape),
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


def _transpose_infer(node):
    x = node.inputs[0]
    perm = node.attrs["perm"]
    if x.shape is None:
        return TensorType(None, x.dtype)
    if sorted(perm) != list(range(len(x.shape))):
        raise ShapeError(f"perm {list(perm)} is not a permutation of the {len(x.shape)} dims of {x.name}")
    return TensorType(tuple(x.shape[p] for p in perm), x.dtype)


transpose_op = register_op(
    "transpose", pattern=Pattern.INJECTIVE, infer=_transpose_infer,
    reference=lambda n, x: np.require(np.transpose(x, n.attrs["perm"]), requirements="C"),
    examples=lambda rng: [Example([rand(rng, (3, 4))], {"perm": (1, 0)}),
                          Example([rand(rng, (2, 3, 4))], {"perm": (2, 0, 1)}),
                          Example([rand(rng, (2, 3, 4, 5), "int32")], {"perm": (0, 2, 3, 1)})])


@transpose_op.def_gradient
def _transpose_grad(node, dys):
    inverse = tuple(int(i) for i in np.argsort(node.attrs["perm"]))
    return [transpose(dys[0], inverse)]


def transpose(a, perm=None, name=None):
    """a with its dims permuted (reversed when perm is None)."""
    a = convert_to_tensor(a)
    if perm is None:
        if a.shape is None:
            raise ShapeError(f"transpose of {a.name} without perm needs its rank known")
        perm = tuple(reversed(range(len(a.shape))))
    return make("transpose", [a], {"perm": tuple(static_value(perm, "transpose perm"))}, name)


# ---- identity, expand_dims, squeeze -------------------------------------------------------------
identity_op = register_op(
    "identity", pattern=Pattern.INJECTIVE, infer=same_type,
    reference=lambda n, x: x.copy(),
    examples=lambda rng: [Example([rand(rng, (3, 4))]), Example([rand(rng, (5,), "int32")])])


@identity_op.def_gradient
def _identity_grad(node, dys):
    return [dys[0]]


def identity(input, name=None):
    """A tensor with the value of `input`."""
    return make("identity", [convert_to_tensor(input)], {}, name)


def _reshape_grad_to_input(node, dys):
    return [reshape_like(dys[0], node.inputs[0])]


def _expand_dims_infer(node):
    x = node.inputs[0]
    if x.shape is None:
        return TensorType(None, x.dtype)
    axis = normalize_axis(node.attrs["axis"], len(x.shape) + 1)
    shape = list(x.shape)
    shape.insert(axis, 1)
    return TensorType(tuple(shape), x.dtype)


expand_dims_op = register_op(
    "expand_dims", pattern=Pattern.INJECTIVE, infer=_expand_dims_infer,
    reference=lambda n, x: np.expand_dims(x, normalize_axis(n.attrs["axis"], x.ndim + 1)),
    gradient=_reshape_grad_to_input,
    examples=lambda rng: [Example([rand(rng, (3, 4))], {"axis": 0}),
                          Example([rand(rng, (3, 4))], {"axis": -1}),
                          Example([rand(rng, (2, 3, 4), "int32")], {"axis": 2}),
                          Example([rand(rng, ())], {"axis": 0})])


def expand_dims(input, axis=None, name=None, dim=None):
    """`input` with a new dim of size 1 at `axis`."""
    axis = dim if axis is None else axis
    return make("expand_dims", [convert_to_tensor(input)], {"axis": int(axis)}, name)


def _squeeze_infer(node):
    x = node.inputs[0]
    axes = node.attrs.get("axes")
    if x.shape is None:
        return TensorType(None, x.dtype)
    rank = len(x.shape)
    if axes is None:
        if any(d is None for d in x.shape):
            return TensorType(None, x.dtype)  # which dims are 1 is known only when fed
        return TensorType(tuple(d for d in x.shape if d != 1), x.dtype)
    axes = normalize_axes(axes, rank)
    for a in axes:
        if x.shape[a] is not None and x.shape[a] != 1:
            raise ShapeError(f"cannot squeeze dim {a} of {x.name} (shape {list(x.shape)}): its size is not 1")
    return TensorType(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)


def _squeeze_reference(node, x):
    axes = node.attrs.get("axes")
    return np.squeeze(x, axis=None if axes is None else normalize_axes(axes, x.ndim))


squeeze_op = register_op(
    "squeeze", pattern=Pattern.INJECTIVE, infer=_squeeze_infer, reference=_squeeze_reference,
    gradient=_reshape_grad_to_input,
    examples=lambda rng: [Example([rand(rng, (1, 3, 1, 4))], {"axes": None}),
                          Example([rand(rng, (1, 3, 1, 4))], {"axes": (2,)}),
                          Example([rand(rng, (2, 1), "int32")], {"axes": (-1,)})])


def squeeze(input, axis=None, name=None, squeeze_dims=None):
    """`input` without the dims of size 1 (only those in `axis` when given)."""
    axis = squeeze_dims if axis is None else axis
    axes = None if axis is None else tuple(int(a) for a in np.atleast_1d(axis))
    return make("squeeze", [convert_to_tensor(input)], {"axes": axes}, name)


# ---- strided_slice (TF semantics), slice, getitem -----------------------------------------------
def slice_entries(attrs, rank):
    """The strided_slice attrs as one entry per output-producing item, ellipsis expanded.

    Entries: ("new",) a new axis of size 1; ("index", i) one element of an input dim (dropped);
    ("slice", begin or None, end or None, stride) a Python slice of an input dim.
    """
    begin, end, strides = attrs["begin"], attrs["end"], attrs["strides"]
    bits = {k: attrs.get(k, 0) for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                         "shrink_axis_mask")}
    n = len(begin)

    def has(mask, i):
        return bool(bits[mask] >> i & 1)
    consumed = sum(1 for i in range(n) if not has("new_axis_mask", i) and not has("ellipsis_mask", i))
    if consumed > rank:
        raise ShapeError(f"strided_slice indexes {consumed} dims of a tensor of rank {rank}")
    entries, saw_ellipsis = [], False
    for i in range(n):
        if has("ellipsis_mask", i):
            if saw_ellipsis:
                raise ShapeError("strided_slice has more than one ellipsis")
            saw_ellipsis = True
            entries += [("slice", None, None, 1)] * (rank - consumed)
        elif has("new_axis_mask", i):
            entries.append(("new",))
        elif has("shrink_axis_mask", i):
            entries.append(("index", int(begin[i])))
        else:
            if int(strides[i]) == 0:
                raise ShapeError("strided_slice stride 0 is not allowed")
            entries.append(("slice", None if has("begin_mask", i) else int(begin[i]),
                            None if has("end_mask", i) else int(end[i]), int(strides[i])))
    if not saw_ellipsis:
        entries += [("slice", None, None, 1)] * (rank - consumed)
    return entries


def resolved_slices(attrs, shape):
    """For a concrete shape: entries with each slice resolved to (start, step, count), dims checked."""
    out, dim = [], 0
    for e in slice_entries(attrs, len(shape)):
        if e[0] == "new":
            out.append(e)
            continue
        d = shape[dim]
        dim += 1
        if e[0] == "index":
            if not -d <= e[1] < d:
                raise ShapeError(f"index {e[1]} is out of range for a dim of size {d}")
            out.append(("index", e[1] % d))
        else:
            start, stop, step = builtins.slice(e[1], e[2], e[3]).indices(d)
            out.append(("slice", start, step, len(range(start, stop, step))))
    return out


def _strided_slice_infer(node):
    x = node.inputs[0]
    if x.shape is None:
        return TensorType(None, x.dtype)
    shape, dim = [], 0
    for e in slice_entries(node.attrs, len(x.shape)):
        if e[0] == "new":
            shape.append(1)
            continue
        d = x.shape[dim]
        dim += 1
        if e[0] == "index":
            if d is not None and not -d <= e[1] < d:
                raise ShapeError(f"index {e[1]} is out of range for dim {dim - 1} of {x.name} (size {d})")
        elif d is None:
            shape.append(None)
        else:
            start, stop, step = builtins.slice(e[1], e[2], e[3]).indices(d)
            shape.append(len(range(start, stop, step)))
    return TensorType(tuple(shape), x.dtype)


def numpy_index(attrs, rank):
    """The strided_slice attrs as a numpy index tuple."""
    conv = {"new": lambda e: None, "index": lambda e: e[1], "slice": lambda e: builtins.slice(e[1], e[2], e[3])}
    return tuple(conv[e[0]](e) for e in slice_entries(attrs, rank))


def _slice_attrs(begin, end, strides, **masks):
    attrs = {"begin": tuple(begin), "end": tuple(end), "strides": tuple(strides)}
    for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"):
        attrs[k] = int(masks.get(k, 0))
    return attrs


def _strided_slice_examples(rng):
    return [Example([rand(rng, (5, 6))], _slice_attrs((1, 0), (4, 6), (1, 2))),
            Example([rand(rng, (5, 6))], _slice_attrs((-1, 0), (0, 0), (-1, 1), end_mask=2)),       # x[-1:0:-1, :]
            Example([rand(rng, (4, 5, 6))], _slice_attrs((0, 2), (0, 3), (1, 1), ellipsis_mask=1,
                                                         shrink_axis_mask=2)),                     # x[..., 2]
            Example([rand(rng, (4, 5))], _slice_attrs((1, 0, 0), (2, 0, 0), (1, 1, -2),
                                                      shrink_axis_mask=1, new_axis_mask=2,
                                                      begin_mask=4, end_mask=4)),                  # x[1, None, ::-2]
            Example([rand(rng, (6, 3), "int32")], _slice_attrs((-4,), (-1,), (2,)))]


strided_slice_op = register_op(
    "strided_slice", pattern=Pattern.INJECTIVE, infer=_strided_slice_infer,
    reference=lambda n, x: np.require(x[numpy_index(n.attrs, x.ndim)], requirements="C"),
    examples=_strided_slice_examples)


@strided_slice_op.def_gradient
def _strided_slice_grad(node, dys):
    return [make("strided_slice_grad", [dys[0], node.inputs[0]], node.attrs)]


def _strided_slice_grad_reference(node, dy, x):
    out = np.zeros(x.shape, dy.dtype)
    out[numpy_index(node.attrs, x.ndim)] = dy
    return out


strided_slice_grad_op = register_op(
    "strided_slice_grad", pattern=Pattern.INJECTIVE,
    infer=lambda n: TensorType(n.inputs[1].shape, n.inputs[0].dtype),
    reference=_strided_slice_grad_reference,
    examples=lambda rng: [Example([rand(rng, shape)] + ex.inputs, ex.attrs) for ex, shape in
                          zip(_strided_slice_examples(rng), [(3, 3), (4, 6), (4, 5), (1, 3), (2, 3)])])


@strided_slice_grad_op.def_gradient
def _strided_slice_grad_grad(node, dys):
    return [make("strided_slice", [dys[0]], node.attrs), None]


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, name=None):
    """tf.strided_slice: a strided window of `input_`, with TF's bit masks."""
    begin = static_value(begin, "strided_slice begin")
    end = static_value(end, "strided_slice end")
    strides = [1] * len(begin) if strides is None else static_value(strides, "strided_slice strides")
    if not len(begin) == len(end) == len(strides):
        raise ShapeError(f"strided_slice begin, end and strides differ in length: {begin}, {end}, {strides}")
    attrs = _slice_attrs(begin, end, strides, begin_mask=begin_mask, end_mask=end_mask,
                         ellipsis_mask=ellipsis_mask, new_axis_mask=new_axis_mask,
                         shrink_axis_mask=shrink_axis_mask)
    return make("strided_slice", [convert_to_tensor(input_)], attrs, name)


def slice(input_, begin, size, name=None):  # noqa: A001 (TF's name)
    """tf.slice: `size[i]` elements from `begin[i]` in each dim (-1: to the end)."""
    begin = static_value(begin, "slice begin")
    size = static_value(size, "slice size")
    if len(begin) != len(size):
        raise ShapeError(f"slice begin {begin} and size {size} differ in length")
    if any(b < 0 for b in begin) or any(s < -1 for s in size):
        raise ShapeError(f"slice begin {begin} must be >= 0 and size {size} >= -1")
    end = [b + s if s >= 0 else 0 for b, s in zip(begin, size)]
    end_mask = sum(1 << i for i, s in enumerate(size) if s == -1)
    return strided_slice(input_, begin, end, [1] * len(begin), end_mask=end_mask, name=name)


def getitem(tensor, key):
    """tensor[key] for ints, slices (any step), Ellipsis and None (numpy basic indexing)."""
    key = key if isinstance(key, tuple) else (key,)
    begin, end, strides = [], [], []
    masks = dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0)
    for i, k in enumerate(key):
        bit = 1 << i
        if k is Ellipsis:
            masks["ellipsis_mask"] |= bit
            b, e, s = 0, 0, 1
        elif k is None:
            masks["new_axis_mask"] |= bit
            b, e, s = 0, 0, 1
        elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            masks["shrink_axis_mask"] |= bit
            b, e, s = int(k), int(k) + 1, 1
        elif isinstance(k, builtins.slice):
            s = 1 if k.step is None else int(k.step)
            b, e = (0 if k.start is None else int(k.start)), (0 if k.stop is None else int(k.stop))
            if k.start is None:
                masks["begin_mask"] |= bit
            if k.stop is None:
                masks["end_mask"] |= bit
        else:
            raise TypeError(f"cannot index tensor {tensor.name} with {k!r} (type {type(k).__name__}); "
                            "expected ints, slices, Ellipsis or None (use graphc.gather for tensor indices)")
        begin.append(b)
        end.append(e)
        strides.append(s)
    return make("strided_slice", [tensor], _slice_attrs(begin, end, strides, **masks))


# ---- concat, split, stack, unstack ----------------------------------------------------------------
def _concat_infer(node):
    xs = node.inputs
    if any(x.dtype != xs[0].dtype for x in xs):
        raise ShapeError(f"concat inputs have different dtypes: {[x.dtype.name for x in xs]}")
    known = [x.shape for x in xs if x.shape is not None]
    if not known:
        return TensorType(None, xs[0].dtype)
    rank = len(known[0])
    if any(len(s) != rank for s in known):
        raise ShapeError(f"concat inputs have different ranks: {[list(s) for s in known]}")
    axis = normalize_axis(node.attrs["axis"], rank)
    shape = []
    for i in range(rank):
        dims = [s[i] for s in known]
        if i == axis:
            shape.append(sum(dims) if len(known) == len(xs) and None not in dims else None)
            continue
        fixed = {d for d in dims if d is not None}
        if len(fixed) > 1:
            raise ShapeError(f"concat inputs differ in dim {i}: {[list(s) for s in known]}")
        shape.append(fixed.pop() if fixed else None)
    return TensorType(tuple(shape), xs[0].dtype)


concat_op = register_op(
    "concat", pattern=Pattern.INJECTIVE, infer=_concat_infer,
    reference=lambda n, *xs: np.concatenate(xs, axis=normalize_axis(n.attrs["axis"], xs[0].ndim)),
    examples=lambda rng: [Example([rand(rng, (2, 3)), rand(rng, (4, 3))], {"axis": 0}),
                          Example([rand(rng, (2, 3)), rand(rng, (2, 1)), rand(rng, (2, 5))], {"axis": -1}),
                          Example([rand(rng, (2, 2, 3), "int32"), rand(rng, (2, 1, 3), "int32")], {"axis": 1})])


@concat_op.def_gradient
def _concat_grad(node, dys):
    return [make("concat_part", [dys[0]] + list(node.inputs), {"axis": node.attrs["axis"], "index": i})
            for i in range(len(node.inputs))]


def concat_offset(node, shapes):
    """(axis, start) of input `index` of a concat inside the concat's result."""
    axis = normalize_axis(node.attrs["axis"], len(shapes[0]))
    return axis, int(sum(s[axis] for s in shapes[:node.attrs["index"]]))


def _concat_part_reference(node, dy, *xs):
    axis, start = concat_offset(node, [x.shape for x in xs])
    size = xs[node.attrs["index"]].shape[axis]
    return np.require(np.take(dy, np.arange(start, start + size), axis=axis), requirements="C")


concat_part_op = register_op(
    "concat_part", pattern=Pattern.INJECTIVE, differentiable=False,
    infer=lambda n: TensorType(n.inputs[1 + n.attrs["index"]].shape, n.inputs[0].dtype),
    reference=_concat_part_reference,
    examples=lambda rng: [Example([rand(rng, (6, 3)), rand(rng, (2, 3)), rand(rng, (4, 3))], {"axis": 0, "index": 1}),
                          Example([rand(rng, (2, 9)), rand(rng, (2, 3)), rand(rng, (2, 1)), rand(rng, (2, 5))],
                                  {"axis": -1, "index": 1})])


def concat(values, axis, name=None):
    """tf.concat: `values` joined along `axis`."""
    values = [convert_to_tensor(v) for v in values]
    if len(values) == 1:
        return identity(values[0], name)
    return make("concat", values, {"axis": int(axis)}, name)


def _split_sizes(node, dim):
    """The split sizes for an axis of size `dim` (None entries where dim is unknown)."""
    sizes, num = node.attrs.get("sizes"), node.attrs.get("num")
    if sizes is None:
        if dim is not None and dim % num:
            raise ShapeError(f"cannot split a dim of size {dim} into {num} equal parts")
        return [None if dim is None else dim // num] * num
    sizes = list(sizes)
    if sizes.count(-1) > 1:
        raise ShapeError(f"split sizes {sizes} have more than one -1")
    if dim is None:
        return [None if s == -1 else s for s in sizes]
    rest = dim - sum(s for s in sizes if s != -1)
    if -1 in sizes:
        if rest < 0:
            raise ShapeError(f"split sizes {sizes} exceed the dim's size {dim}")
        sizes[sizes.index(-1)] = rest
    elif rest:
        raise ShapeError(f"split sizes {sizes} do not add up to the dim's size {dim}")
    return sizes


def _split_infer(node):
    x = node.inputs[0]
    count = node.attrs["num"] if node.attrs.get("sizes") is None else len(node.attrs["sizes"])
    if x.shape is None:
        return [TensorType(None, x.dtype)] * count
    axis = normalize_axis(node.attrs["axis"], len(x.shape))
    return [TensorType(tuple(s if i == axis else d for i, d in enumerate(x.shape)), x.dtype)
            for s in _split_sizes(node, x.shape[axis])]


def _split_reference(node, x):
    axis = normalize_axis(node.attrs["axis"], x.ndim)
    points = np.cumsum(_split_sizes(node, x.shape[axis]))[:-1]
    return [np.require(p, requirements="C") for p in np.split(x, points, axis=axis)]


split_op = register_op(
    "split", pattern=Pattern.INJECTIVE, infer=_split_infer, reference=_split_reference,
    examples=lambda rng: [Example([rand(rng, (6, 4))], {"axis": 0, "num": 3, "sizes": None}),
                          Example([rand(rng, (2, 7))], {"axis": -1, "num": None, "sizes": (2, -1, 1)}),
                          Example([rand(rng, (3, 4, 2), "int32")], {"axis": 1, "num": None, "sizes": (1, 3)})])


@split_op.def_gradient
def _split_grad(node, dys):
    from .creation import zeros_like
    parts = [dy if dy is not None else zeros_like(out) for dy, out in zip(dys, node.outputs)]
    return [concat(parts, node.attrs["axis"])]


def split(value, num_or_size_splits, axis=0, num=None, name=None):
    """tf.split: `value` cut along `axis` into equal parts (an int) or parts of the given sizes."""
    value = convert_to_tensor(value)
    if isinstance(num_or_size_splits, (int, np.integer)):
        attrs = {"axis": int(axis), "num": int(num_or_size_splits), "sizes": None}
    else:
        attrs = {"axis": int(axis), "num": None, "sizes": tuple(static_value(num_or_size_splits, "split sizes"))}
    out = make("split", [value], attrs, name)
    return list(out) if isinstance(out, tuple) else [out]


def stack(values, axis=0, name=None):
    """tf.stack: tensors of one shape joined along a new `axis`."""
    values = [convert_to_tensor(v) for v in values]
    rank = next((len(v.shape) for v in values if v.shape is not None), None)
    if rank is None:
        raise ShapeError("stack needs the rank of its inputs when the graph is built")
    axis = normalize_axis(axis, rank + 1)
    return concat([expand_dims(v, axis) for v in values], axis, name)


def unstack(value, num=None, axis=0, name=None):
    """tf.unstack: the slices of `value` along `axis`, as a list of tensors of one rank less."""
    value = convert_to_tensor(value)
    if value.shape is None:
        raise ShapeError(f"unstack needs the rank of {value.name} when the graph is built")
    axis = normalize_axis(axis, len(value.shape))
    num = value.shape[axis] if num is None else num
    if num is None:
        raise ShapeError(f"unstack of {value.name} needs num: dim {axis} is unknown until fed")
    return [squeeze(p, [axis]) for p in split(value, int(num), axis, name=name)]


# ---- gather and its gradient ------------------------------------------------------------------
def _gather_infer(node):
    params, indices = node.inputs
    if not indices.dtype.is_integer:
        raise ShapeError(f"gather indices {indices.name} are {indices.dtype.name}; expected int32 or int64")
    if params.shape is None or indices.shape is None:
        return TensorType(None, params.dtype)
    axis = normalize_axis(node.attrs["axis"], len(params.shape))
    return TensorType(tuple(params.shape[:axis]) + tuple(indices.shape) + tuple(params.shape[axis + 1:]),
                      params.dtype)


def _gather_examples(rng):
    return [Example([rand(rng, (5, 3)), rng.integers(0, 5, (4,)).astype("int32")], {"axis": 0}),
            Example([rand(rng, (2, 6, 3)), rng.integers(0, 6, (2, 2)).astype("int64")], {"axis": 1}),
            Example([rand(rng, (4, 3), "int32"), np.array(2, "int32")], {"axis": -1})]


gather_op = register_op(
    "gather", pattern=Pattern.INJECTIVE, infer=_gather_infer,
    reference=lambda n, p, i: np.require(np.take(p, i, axis=normalize_axis(n.attrs["axis"], p.ndim)), requirements="C"),
    examples=_gather_examples)


@gather_op.def_gradient
def _gather_grad(node, dys):
    return [make("gather_grad", [dys[0], node.inputs[1], node.inputs[0]], node.attrs), None]


def _gather_grad_reference(node, dy, indices, params):
    axis = normalize_axis(node.attrs["axis"], params.ndim)
    out = np.zeros(params.shape, dy.dtype)
    moved = np.moveaxis(out, axis, 0)            # a view: index i of the axis -> moved[i]
    src = np.moveaxis(dy.reshape(params.shape[:axis] + (indices.size,) + params.shape[axis + 1:]), axis, 0)
    np.add.at(moved, indices.reshape(-1), src)
    return out


gather_grad_op = register_op(
    "gather_grad", pattern=Pattern.OPAQUE,
    infer=lambda n: TensorType(n.inputs[2].shape, n.inputs[0].dtype),
    reference=_gather_grad_reference,
    examples=lambda rng: [Example([rand(rng, (6, 3)), np.array([0, 2, 2, 4, 0, 1], "int32"), rand(rng, (5, 3))],
                                  {"axis": 0}),
                          Example([rand(rng, (2, 2, 2, 3)), np.array([[1, 5], [1, 1]], "int64"), rand(rng, (2, 6, 3))],
                                  {"axis": 1})])


@gather_grad_op.def_gradient
def _gather_grad_grad(node, dys):
    return [make("gather", [dys[0], node.inputs[1]], node.attrs), None, None]


def gather(params, indices, validate_indices=None, name=None, axis=None):
    """tf.gather: slices of `params` along `axis` (0 if None) at `indices`, which must be in range."""
    params = convert_to_tensor(params)
    indices = convert_to_tensor(indices, graph=params.graph)
    return make("gather", [params, indices], {"axis": 0 if axis is None else int(axis)}, name)


# ---- one_hot -------------------------------------------------------------------------------------
def _one_hot_infer(node):
    idx = node.inputs[0]
    if not idx.dtype.is_integer:
        raise ShapeError(f"one_hot indices {idx.name} are {idx.dtype.name}; expected an integer dtype")
    if idx.shape is None:
        return TensorType(None, node.attrs["dtype"])
    axis = node.attrs["axis"]
    axis = len(idx.shape) if axis == -1 else normalize_axis(axis, len(idx.shape) + 1)
    shape = list(idx.shape)
    shape.insert(axis, node.attrs["depth"])
    return TensorType(tuple(shape), node.attrs["dtype"])


def _one_hot_reference(node, idx):
    a = node.attrs
    axis = idx.ndim if a["axis"] == -1 else normalize_axis(a["axis"], idx.ndim + 1)
    depth = np.arange(a["depth"]).reshape([-1 if i == axis else 1 for i in range(idx.ndim + 1)])
    hot = np.expand_dims(idx, axis) == depth
    return np.where(hot, a["on_value"], a["off_value"]).astype(a["dtype"].np)


def _one_hot_examples(rng):
    from .. import dtypes
    return [Example([np.array([0, 2, 1, 3], "int32")], {"depth": 4, "on_value": 1.0, "off_value": 0.0, "axis": -1,
                                                          "dtype": dtypes.float32}),
            Example([np.array([[1, 0], [4, 2]], "int64")], {"depth": 3, "on_value": 5, "off_value": -1, "axis": 0,
                                                              "dtype": dtypes.int32})]


register_op("one_hot", pattern=Pattern.INJECTIVE, infer=_one_hot_infer, reference=_one_hot_reference,
            differentiable=False, examples=_one_hot_examples)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """tf.one_hot: `on_value` where the new `axis` equals the index, `off_value` elsewhere."""
    from .. import dtypes
    if dtype is None:  # as TF: the type of on_value / off_value when given, else float32
        given = [np.asarray(v) for v in (on_value, off_value) if v is not None]
        dtype = dtypes.int32 if given and all(g.dtype.kind in "iu" for g in given) else dtypes.float32
    dtype = dtypes.as_dtype(dtype)
    attrs = {"depth": int(depth), "on_value": 1 if on_value is None else on_value,
             "off_value": 0 if off_value is None else off_value, "axis": -1 if axis is None else int(axis),
             "dtype": dtype}
    return make("one_hot", [convert_to_tensor(indices)], attrs, name)


# ---- broadcast_to, tile --------------------------------------------------------------------------
def _broadcast_to_infer(node):
    x, shape = node.inputs[0], tuple(node.attrs["shape"])
    if x.shape is not None:
        got = broadcast_shape(x.shape, shape)
        if any(g is not None and g != s for g, s in zip(got, shape)) or len(got) != len(shape):
            raise ShapeError(f"cannot broadcast {x.name} of shape {list(x.shape)} to {list(shape)}")
    return TensorType(shape, x.dtype)


broadcast_to_op = register_op(
    "broadcast_to", pattern=Pattern.BROADCAST, infer=_broadcast_to_infer,
    reference=lambda n, x: np.require(np.broadcast_to(x, n.attrs["shape"]), requirements="C"),
    examples=lambda rng: [Example([rand(rng, (3, 1))], {"shape": (2, 3, 4)}),
                          Example([rand(rng, ())], {"shape": (2, 2)}),
                          Example([rand(rng, (4,), "int32")], {"shape": (3, 4)})])


@broadcast_to_op.def_gradient
def _broadcast_to_grad(node, dys):
    from .reduce import sum_to
    return [sum_to(dys[0], node.inputs[0])]


def broadcast_to(input, shape, name=None):
    """tf.broadcast_to: `input` broadcast (numpy rules) to the static `shape`."""
    return make("broadcast_to", [convert_to_tensor(input)], {"shape": tuple(static_value(shape, "broadcast_to shape"))},
                name)


def _tile_infer(node):
    x, reps = node.inputs[0], node.attrs["multiples"]
    if x.shape is None:
        return TensorType(None, x.dtype)
    if len(reps) != len(x.shape):
        raise ShapeError(f"tile multiples {list(reps)} must have one entry per dim of {x.name} (rank {len(x.shape)})")
    return TensorType(tuple(None if d is None else d * m for d, m in zip(x.shape, reps)), x.dtype)


tile_op = register_op(
    "tile", pattern=Pattern.INJECTIVE, infer=_tile_infer,
    reference=lambda n, x: np.tile(x, n.attrs["multiples"]),
    examples=lambda rng: [Example([rand(rng, (2, 3))], {"multiples": (2, 3)}),
                          Example([rand(rng, (3,), "int32")], {"multiples": (4,)}),
                          Example([rand(rng, (2, 1, 3))], {"multiples": (1, 4, 1)})])


@tile_op.def_gradient
def _tile_grad(node, dys):
    return [make("tile_grad", [dys[0], node.inputs[0]], node.attrs)]


def _tile_grad_reference(node, dy, x):
    inter = [v for m, d in zip(node.attrs["multiples"], x.shape) for v in (m, d)]
    return dy.reshape(inter).sum(axis=tuple(range(0, 2 * x.ndim, 2))).astype(dy.dtype)


tile_grad_op = register_op(
    "tile_grad", pattern=Pattern.REDUCE,
    infer=lambda n: TensorType(n.inputs[1].shape, n.inputs[0].dtype),
    reference=_tile_grad_reference,
    examples=lambda rng: [Example([rand(rng, (4, 9)), rand(rng, (2, 3))], {"multiples": (2, 3)}),
                          Example([rand(rng, (2, 4, 3)), rand(rng, (2, 1, 3))], {"multiples": (1, 4, 1)})])


@tile_grad_op.def_gradient
def _tile_grad_grad(node, dys):
    return [tile(dys[0], node.attrs["multiples"]), None]


def tile(input, multiples, name=None):
    """tf.tile: `input` repeated `multiples[i]` times along dim i."""
    return make("tile", [convert_to_tensor(input)], {"multiples": tuple(static_value(multiples, "tile multiples"))},
                name)


# ---- shape, size, rank (int32 values the lowering writes from the concrete shape) -----------------
def _shape_infer(node):
    x, what = node.inputs[0], node.op
    dtype = node.attrs["out_type"]
    if what == "shape":
        return TensorType((None if x.shape is None else len(x.shape),), dtype)
    return TensorType((), dtype)


_SHAPE_REF = {"shape": lambda x: np.array(x.shape), "size": lambda x: np.array(x.size),
              "rank": lambda x: np.array(x.ndim)}
for _name, _ref in _SHAPE_REF.items():
    register_op(_name, pattern=Pattern.INJECTIVE, infer=_shape_infer, differentiable=False,
                reference=(lambda f: lambda n, x: f(x).astype(n.attrs["out_type"].np))(_ref),
                examples=lambda rng: [Example([rand(rng, (2, 3, 4))], {"out_type": _int32()}),
                                      Example([rand(rng, (5,), "int32")], {"out_type": _int32()})])


def _int32():
    from .. import dtypes
    return dtypes.int32


def shape(input, name=None, out_type=None):
    """tf.shape: the shape of `input` as a 1-D int32 tensor (values known when it runs)."""
    from .. import dtypes
    return make("shape", [convert_to_tensor(input)], {"out_type": dtypes.as_dtype(out_type or "int32")}, name)


def size(input, name=None, out_type=None):
    """tf.size: the number of elements of `input`."""
    from .. import dtypes
    return make("size", [convert_to_tensor(input)], {"out_type": dtypes.as_dtype(out_type or "int32")}, name)


def rank(input, name=None):
    """tf.rank: the number of dims of `input`."""
    return make("rank", [convert_to_tensor(input)], {"out_type": _int32()}, name)


# ---- gradient-check examples: the float cases of each differentiable op of this family ----------
def _float_data(examples):
    """The examples whose data (input 0) is floating: int data has no gradient to check."""
    return lambda rng: [e for e in examples(rng) if e.inputs[0].dtype.kind == "f"]


for _op in (reshape_op, reshape_like_op, transpose_op, identity_op, expand_dims_op, squeeze_op, strided_slice_op,
            strided_slice_grad_op, concat_op, split_op, gather_op, gather_grad_op, broadcast_to_op, tile_op,
            tile_grad_op):
    _op.grad_examples = _float_data(_op.examples)
