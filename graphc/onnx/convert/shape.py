"""Shape and indexing ops: Reshape, Flatten, Transpose, (Un)Squeeze, Concat, Split, Slice, Gather, ..."""
import numpy as np

import graphc as gc

from . import BIG, OnnxImportError, axis_in_range, const, converter, ints, rank_of


@converter("Reshape", since=5)  # (before opset 5, below graphc's oldest, the shape was an attribute)
def _reshape(ctx, node, ins, attrs):
    x, shape = ins[0], ints(ctx.static(ins[1], "Reshape shape"))
    if not attrs.get("allowzero", 0):  # 0 copies the input's dim
        shape = [x.shape[i] if d == 0 and x.shape is not None and x.shape[i] is not None else d
                 for i, d in enumerate(shape)]
        if 0 in shape:
            raise OnnxImportError("Reshape shape copies a dim (0) that is unknown at import time")
    return gc.reshape(x, shape)


@converter("Flatten")
def _flatten(ctx, node, ins, attrs):
    x = ins[0]
    rank = rank_of(x, node)
    axis = attrs.get("axis", 1)
    axis = axis + rank if axis < 0 else axis  # -1 flattens all but the last dim
    lead, rest = x.shape[:axis], x.shape[axis:]
    size = lambda dims: int(np.prod(dims)) if None not in dims else -1  # noqa: E731
    if size(lead) == -1 and size(rest) == -1:
        raise OnnxImportError("Flatten needs the dims on one side of its axis known at import time")
    return gc.reshape(x, [size(lead), size(rest)])


@converter("Transpose")
def _transpose(ctx, node, ins, attrs):
    return gc.transpose(ins[0], attrs.get("perm"))


def axes_attr(ctx, node, ins, attrs):
    """An op's axes as an attribute (before the opset that made them an input), None if absent."""
    return attrs.get("axes")


def axes_input(ctx, node, ins, attrs):
    """An op's axes as its (static) input 1, None if omitted."""
    return ints(ctx.static(ins[1], f"{node.op_type} axes")) if len(ins) > 1 and ins[1] is not None else None


@converter("Unsqueeze")
def _unsqueeze_v1(ctx, node, ins, attrs):
    return _unsqueeze(ins[0], axes_attr(ctx, node, ins, attrs), node)


@converter("Unsqueeze", since=13)
def _unsqueeze_v13(ctx, node, ins, attrs):
    return _unsqueeze(ins[0], axes_input(ctx, node, ins, attrs), node)


def _unsqueeze(x, axes, node):
    out_rank = rank_of(x, node) + len(axes)
    for a in sorted(a % out_rank for a in axes):
        x = gc.expand_dims(x, a)
    return x


@converter("Squeeze")
def _squeeze_v1(ctx, node, ins, attrs):
    return gc.squeeze(ins[0], axis=axes_attr(ctx, node, ins, attrs))


@converter("Squeeze", since=13)
def _squeeze_v13(ctx, node, ins, attrs):
    return gc.squeeze(ins[0], axis=axes_input(ctx, node, ins, attrs))


@converter("Concat")
def _concat(ctx, node, ins, attrs):
    return gc.concat(ins, attrs["axis"])


@converter("Split")
def _split_v1(ctx, node, ins, attrs):
    return _split(ins[0], attrs.get("split"), node, attrs)


@converter("Split", since=13)
def _split_v13(ctx, node, ins, attrs):
    sizes = ints(ctx.static(ins[1], "Split split")) if len(ins) > 1 and ins[1] is not None else None
    return _split(ins[0], sizes, node, attrs)


def _split(x, sizes, node, attrs):
    axis = attrs.get("axis", 0)
    n = len(node.output)
    if sizes is None:
        dim = x.shape[axis] if x.shape is not None else None
        if "num_outputs" in attrs and dim is not None and dim % n:
            chunk = -(-dim // n)  # opset 18: the last part is smaller
            sizes = [chunk] * (n - 1) + [dim - chunk * (n - 1)]
        else:
            return gc.split(x, n, axis=axis)
    return gc.split(x, list(sizes), axis=axis)


def slice_static(x, starts, ends, axes, steps):
    rank = len(x.shape)
    begin, end, stride = [0] * rank, [0] * rank, [1] * rank
    begin_mask = end_mask = (1 << rank) - 1
    for s, e, a, st in zip(starts, ends, axes, steps):
        a %= rank
        dim = x.shape[a]
        begin_mask &= ~(1 << a)
        end_mask &= ~(1 << a)
        stride[a] = st
        if dim is not None:
            b, en, _ = slice(s, e, st).indices(dim)
            begin[a] = b
            if en < 0:  # a negative step running past index 0
                end_mask |= 1 << a
            else:
                end[a] = en
        else:
            if abs(s) >= BIG // 2:
                begin_mask |= 1 << a
            else:
                begin[a] = s
            if abs(e) >= BIG // 2:
                end_mask |= 1 << a
            else:
                end[a] = e
    return gc.strided_slice(x, begin, end, stride, begin_mask=begin_mask, end_mask=end_mask)


@converter("Slice")
def _slice_v1(ctx, node, ins, attrs):
    """Slice-1: starts, ends and axes are attributes, steps 1."""
    x = ins[0]
    rank = rank_of(x, node)
    starts, ends = attrs["starts"], attrs["ends"]
    axes, steps = attrs.get("axes", list(range(len(starts)))), [1] * len(starts)
    return slice_static(x, starts, ends, [axis_in_range(a, rank, "Slice axes entry") for a in axes], steps)


@converter("Slice", since=10)
def _slice_v10(ctx, node, ins, attrs):
    """Slice-10+: starts, ends, axes and steps are (static) inputs."""
    x = ins[0]
    rank = rank_of(x, node)
    starts = ints(ctx.static(ins[1], "Slice starts"))
    ends = ints(ctx.static(ins[2], "Slice ends"))
    axes = ints(ctx.static(ins[3], "Slice axes")) if len(ins) > 3 and ins[3] is not None \
        else list(range(len(starts)))
    steps = ints(ctx.static(ins[4], "Slice steps")) if len(ins) > 4 and ins[4] is not None \
        else [1] * len(starts)
    return slice_static(x, starts, ends, [axis_in_range(a, rank, "Slice axes entry") for a in axes], steps)


@converter("Gather")
def _gather(ctx, node, ins, attrs):
    x, idx = ins
    axis = attrs.get("axis", 0)
    rank = rank_of(x, node)
    axis = axis_in_range(axis, rank)
    value = ctx.maybe_static(idx)
    dim = x.shape[axis]
    if value is not None and dim is not None:  # ONNX allows negative indices
        idx = gc.constant(np.where(value < 0, value + dim, value).astype(value.dtype))
    elif dim is not None:
        idx = gc.where(gc.less(idx, const(0, idx)), gc.add(idx, const(dim, idx)), idx)
    return gc.gather(x, idx, axis=axis)


@converter("Expand")
def _expand(ctx, node, ins, attrs):
    x = ins[0]
    shape = ints(ctx.static(ins[1], "Expand shape"))
    rank = max(len(shape), rank_of(x, node))
    shape = [1] * (rank - len(shape)) + shape
    xs = [1] * (rank - len(x.shape)) + list(x.shape)
    if None in xs:
        raise OnnxImportError("Expand needs its input's dims known at import time")
    target = [max(a, b) if 1 in (a, b) else a for a, b in zip(xs, shape)]
    return gc.broadcast_to(x, target)


@converter("Tile")
def _tile(ctx, node, ins, attrs):
    return gc.tile(ins[0], ints(ctx.static(ins[1], "Tile repeats")))


@converter("OneHot")
def _one_hot(ctx, node, ins, attrs):
    idx, depth, values = ins
    d = int(np.asarray(ctx.static(depth, "OneHot depth")).reshape(-1)[0])
    if idx.dtype.is_floating:  # ONNX allows float indices; they are truncated
        idx = gc.cast(idx, np.int64)
    idx = gc.where(gc.less(idx, const(0, idx)), gc.add(idx, const(d, idx)), idx)  # negative: from the end
    hot = gc.one_hot(idx, d, on_value=True, off_value=False, axis=attrs.get("axis", -1), dtype=bool)
    # values ([off, on]) may be a model input: select between its two elements
    off, on = (gc.gather(values, gc.constant(np.int64(i))) for i in (0, 1))
    return gc.where(hot, on, off)
