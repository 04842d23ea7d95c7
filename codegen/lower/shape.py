"""TE lowerings of graphc/ops/shape.py."""
import numpy as np
from tvm import te, tirx, topi

from graphc.ops._base import normalize_axis
from graphc.ops.shape import slice_ranges

from . import lowering


@lowering("reshape", "reshape_like")
def lower_reshape(node, x, *like):
    return topi.reshape(x, tuple(node.outputs[0].shape))


@lowering("transpose")
def lower_transpose(node, x):
    from graphc.ops.shape import transpose_perm
    return topi.transpose(x, list(transpose_perm(node)))


def _out_shape(node, i=0):
    return tuple(node.outputs[i].shape)


@lowering("expand_dims", "squeeze")
def lower_expand_squeeze(node, x):
    return topi.reshape(x, _out_shape(node))


@lowering("concat")
def lower_concat(node, *xs):
    axis = normalize_axis(node.attrs["axis"], len(node.outputs[0].shape))
    sizes = [int(x.shape[axis]) for x in xs]
    starts = [sum(sizes[:k]) for k in range(len(sizes) + 1)]

    def pick(i, lo, hi):
        """The element at output index i from inputs lo..hi-1: a binary search over the inputs' starts
        (topi.concatenate tests them one by one, 64 selects per element for an unrolled RNN's stack)."""
        if hi - lo == 1:
            return xs[lo](*[v - starts[lo] if d == axis else v for d, v in enumerate(i)])
        mid = (lo + hi) // 2
        return tirx.if_then_else(i[axis] < starts[mid], pick(i, lo, mid), pick(i, mid, hi))
    return te.compute(_out_shape(node), lambda *i: pick(i, 0, len(xs)), name="concat")


@lowering("concat_slice")
def lower_concat_slice(node, dy, *xs):
    shapes = [tuple(t.shape) for t in node.inputs[1:]]
    axis = normalize_axis(node.attrs["axis"], len(shapes[0]))
    start = sum(s[axis] for s in shapes[:node.attrs["index"]])
    return te.compute(_out_shape(node), lambda *i: dy(*[v + start if d == axis else v for d, v in enumerate(i)]),
                      name="concat_slice")


@lowering("split")
def lower_split(node, x):
    axis = normalize_axis(node.attrs["axis"], len(node.inputs[0].shape))
    def piece(k, start):
        return te.compute(tuple(node.outputs[k].shape),
                          lambda *i: x(*[v + start if d == axis else v for d, v in enumerate(i)]), name=f"split{k}")
    starts = [sum(t.shape[axis] for t in node.outputs[:k]) for k in range(len(node.outputs))]
    return [piece(k, s) for k, s in enumerate(starts)]


@lowering("strided_slice")
def lower_strided_slice(node, x):
    ranges = slice_ranges(tuple(node.inputs[0].shape), node.attrs["slices"])
    return te.compute(_out_shape(node), lambda *i: x(*[start + step * v for v, (start, step, _) in zip(i, ranges)]),
                      name="strided_slice")


@lowering("strided_slice_grad")
def lower_strided_slice_grad(node, dy, x):
    ranges = slice_ranges(tuple(node.inputs[1].shape), node.attrs["slices"])
    zero = tirx.const(0, str(dy.dtype))

    def value(*i):
        inside, src = tirx.const(True, "bool"), []
        for v, (start, step, count) in zip(i, ranges):
            d = (v - start) if step > 0 else (start - v)
            q = tirx.floordiv(d, abs(step))
            inside = tirx.all(inside, d >= 0, tirx.floormod(d, abs(step)) == 0, q < count)
            src.append(tirx.min(tirx.max(q, 0), count - 1))
        return tirx.if_then_else(inside, dy(*src), zero)
    return te.compute(_out_shape(node), value, name="strided_slice_grad")


def _wrap(idx, dim, dtype):
    """A possibly negative index (of integer `dtype`) as one in [0, dim); one out of range is
    clamped into it, so no kernel reads out of bounds (the index_check kernel reports it after the run)."""
    idx = tirx.Cast("int64", idx)
    idx = tirx.if_then_else(idx < tirx.const(0, "int64"), idx + tirx.const(dim, "int64"), idx)
    idx = tirx.max(tirx.min(idx, tirx.const(max(dim - 1, 0), "int64")), tirx.const(0, "int64"))
    # as int32, the dtype of TE's loop variables: inlined into an int32 index (concat's) an int64 one
    # fails TVM's type check
    return tirx.Cast("int32", idx) if dim < 2 ** 31 else idx


@lowering("gather")
def lower_gather(node, params, indices):
    p_shape = tuple(node.inputs[0].shape)
    axis = normalize_axis(node.attrs["axis"], len(p_shape))
    n_idx = len(node.inputs[1].shape)

    def value(*i):
        j = _wrap(indices(*i[axis:axis + n_idx]), p_shape[axis], str(indices.dtype))
        return params(*(i[:axis] + (j,) + i[axis + n_idx:]))
    return te.compute(_out_shape(node), value, name="gather")


@lowering("gather_grad")
def lower_gather_grad(node, dy, indices, params):
    p_shape = tuple(node.inputs[2].shape)
    i_shape = tuple(node.inputs[1].shape)
    axis = normalize_axis(node.attrs["axis"], len(p_shape))
    zero = tirx.const(0, str(dy.dtype))
    if not i_shape:  # a scalar index: one slice receives dy
        return te.compute(p_shape, lambda *i: tirx.if_then_else(
            _wrap(indices(), p_shape[axis], str(indices.dtype)) == i[axis], dy(*(i[:axis] + i[axis + 1:])), zero), name="gather_grad")
    if axis == 0:
        return _scatter_add_rows(dy, indices, p_shape, i_shape)
    rs = [te.reduce_axis((0, d), name=f"r{k}") for k, d in enumerate(i_shape)]

    def value(*i):
        hit = _wrap(indices(*rs), p_shape[axis], str(indices.dtype)) == i[axis]
        return te.sum(tirx.if_then_else(hit, dy(*(i[:axis] + tuple(rs) + i[axis + 1:])), zero), axis=rs)
    return te.compute(p_shape, value, name="gather_grad")


def _scatter_add_rows(dy, indices, p_shape, i_shape):
    """gather_grad along axis 0 as a sequential scatter-add (topi's IR: parallel over the row elements,
    serial over the indices): O(indices x row) work, where the compute form above is O(rows x indices x row)."""
    n_idx, row = int(np.prod(i_shape)), int(np.prod(p_shape[1:]))
    flat_dy = topi.reshape(dy, (n_idx, row))
    flat_idx = te.compute((n_idx, row), lambda e, r: indices(*_unflatten(e, i_shape)), name="scatter_rows_idx")
    zeros = te.compute((p_shape[0], row), lambda *i: tirx.const(0, str(dy.dtype)), name="scatter_rows_zero")
    return topi.reshape(topi.scatter_elements(zeros, flat_idx, flat_dy, 0, "add"), p_shape)


def _unflatten(flat, shape):
    """The multi-index of row-major position `flat` in `shape`."""
    index = []
    for d in reversed(shape):
        index.append(tirx.floormod(flat, d))
        flat = tirx.floordiv(flat, d)
    return index[::-1]


@lowering("one_hot")
def lower_one_hot(node, indices):
    a = node.attrs
    dtype = a["dtype"].name
    axis = normalize_axis(a["axis"], len(node.outputs[0].shape))
    on, off = tirx.const(a["on_value"], dtype), tirx.const(a["off_value"], dtype)

    def value(*i):
        k = i[axis]
        return tirx.if_then_else(tirx.Cast("int64", indices(*(i[:axis] + i[axis + 1:]))) == k, on, off)
    return te.compute(_out_shape(node), value, name="one_hot")


@lowering("broadcast_to")
def lower_broadcast_to(node, x):
    return topi.broadcast_to(x, _out_shape(node))


@lowering("tile")
def lower_tile(node, x):
    in_shape = tuple(node.inputs[0].shape)
    return te.compute(_out_shape(node), lambda *i: x(*[tirx.floormod(v, d) for v, d in zip(i, in_shape)]),
                      name="tile")


@lowering("tile_grad")
def lower_tile_grad(node, dy, x):
    in_shape = tuple(node.inputs[1].shape)
    reps = node.attrs["multiples"]
    rs = [te.reduce_axis((0, r), name=f"t{k}") for k, r in enumerate(reps)]
    return te.compute(in_shape, lambda *i: te.sum(dy(*[r * d + v for r, d, v in zip(rs, in_shape, i)]), axis=rs),
                      name="tile_grad")


@lowering("shape")
def lower_shape(node, x):
    dims = tuple(node.inputs[0].shape)
    dtype = node.attrs["dtype"].name

    def value(i):
        out = tirx.const(0, dtype)
        for k, d in enumerate(dims):
            out = tirx.if_then_else(i == k, tirx.const(d, dtype), out)
        return out
    return te.compute((len(dims),), value, name="shape")


@lowering("size", "rank")
def lower_size_rank(node, x):
    dims = [int(d) for d in node.inputs[0].shape]
    value = len(dims) if node.op == "rank" else int(np.prod(dims))
    return te.compute((), lambda: tirx.const(value, node.attrs["dtype"].name), name=node.op)


@lowering("pad")
def lower_pad(node, x):
    pads = node.attrs["paddings"]
    return topi.nn.pad(x, [b for b, _ in pads], [a for _, a in pads],
                       pad_value=tirx.const(node.attrs["constant_value"], x.dtype), name="pad")
