"""TE lowerings of graphc/ops/shape.py."""
import numpy as np
from tvm import te, tirx, topi

from graphc.ops._base import normalize_axis
from graphc.ops.shape import concat_offset, resolved_slices

from . import lowering


@lowering("reshape", "reshape_like")
def lower_reshape(node, x, *like):
    return topi.reshape(x, tuple(node.outputs[0].shape))


@lowering("transpose")
def lower_transpose(node, x):
    return topi.transpose(x, list(node.attrs["perm"]))


@lowering("identity")
def lower_identity(node, x):
    return topi.identity(x)


@lowering("expand_dims", "squeeze")
def lower_to_output_shape(node, x):
    return topi.reshape(x, tuple(node.outputs[0].shape))


def _slice_source(entries, out_idx):
    """Input indices read by output index `out_idx` of a strided slice."""
    src, k = [], 0
    for e in entries:
        if e[0] == "new":
            k += 1
        elif e[0] == "index":
            src.append(e[1])
        else:
            src.append(e[1] + out_idx[k] * e[2])
            k += 1
    return src


@lowering("strided_slice")
def lower_strided_slice(node, x):
    entries = resolved_slices(node.attrs, tuple(node.inputs[0].shape))
    return te.compute(tuple(node.outputs[0].shape), lambda *i: x(*_slice_source(entries, i)), name="strided_slice")


@lowering("strided_slice_grad")
def lower_strided_slice_grad(node, dy, x):
    shape = tuple(node.inputs[1].shape)
    entries = resolved_slices(node.attrs, shape)

    def value(*i):
        conds, dy_idx, dim = [], [], 0
        for e in entries:
            if e[0] == "new":
                dy_idx.append(0)
                continue
            v = i[dim]
            dim += 1
            if e[0] == "index":
                conds.append(v == e[1])
            else:
                start, step, count = e[1:]
                off = v - start
                j = tirx.truncdiv(off, step)
                conds += [tirx.truncmod(off, step) == 0, j >= 0, j < count]
                dy_idx.append(tirx.max(tirx.min(j, max(count - 1, 0)), 0))  # in bounds even where unused
        zero = tirx.const(0, str(dy.dtype))
        if not conds:
            return dy(*dy_idx)
        return tirx.if_then_else(tirx.all(*conds), dy(*dy_idx), zero)
    return te.compute(shape, value, name="strided_slice_grad")


@lowering("concat")
def lower_concat(node, *xs):
    return topi.concatenate(list(xs), normalize_axis(node.attrs["axis"], len(node.inputs[0].shape)))


@lowering("concat_part")
def lower_concat_part(node, dy, *xs):
    axis, start = concat_offset(node, [tuple(t.shape) for t in node.inputs[1:]])
    return te.compute(tuple(node.outputs[0].shape),
                      lambda *i: dy(*[v + start if d == axis else v for d, v in enumerate(i)]), name="concat_part")


@lowering("split")
def lower_split(node, x):
    axis = normalize_axis(node.attrs["axis"], len(node.inputs[0].shape))
    outs, start = [], 0
    for t in node.outputs:
        outs.append(te.compute(tuple(t.shape), (lambda s: lambda *i: x(*[v + s if d == axis else v
                                                                         for d, v in enumerate(i)]))(start),
                               name="split"))
        start += t.shape[axis]
    return outs


@lowering("gather")
def lower_gather(node, params, indices):
    p_shape = tuple(node.inputs[0].shape)
    axis = normalize_axis(node.attrs["axis"], len(p_shape))
    k = len(node.inputs[1].shape)

    def value(*i):
        j = indices(*i[axis:axis + k])
        j = tirx.max(tirx.min(tirx.Cast("int64", j), p_shape[axis] - 1), 0)  # TF requires in-range indices
        return params(*(list(i[:axis]) + [j] + list(i[axis + k:])))
    return te.compute(tuple(node.outputs[0].shape), value, name="gather")


@lowering("gather_grad")
def lower_gather_grad(node, dy, indices, params):
    p_shape = tuple(node.inputs[2].shape)
    i_shape = tuple(node.inputs[1].shape)
    axis = normalize_axis(node.attrs["axis"], len(p_shape))
    zero = tirx.const(0, str(dy.dtype))
    if not i_shape:
        return te.compute(p_shape, lambda *i: tirx.if_then_else(
            tirx.Cast("int64", indices()) == i[axis], dy(*(list(i[:axis]) + list(i[axis + 1:]))), zero),
            name="gather_grad")
    rs = [te.reduce_axis((0, n), name=f"r{d}") for d, n in enumerate(i_shape)]

    def value(*i):
        hit = tirx.Cast("int64", indices(*rs)) == i[axis]
        src = dy(*(list(i[:axis]) + rs + list(i[axis + 1:])))
        return te.sum(tirx.Select(hit, src, zero), axis=rs)
    return te.compute(p_shape, value, name="gather_grad")


@lowering("one_hot")
def lower_one_hot(node, indices):
    a = node.attrs
    dtype = a["dtype"].name
    rank = len(node.inputs[0].shape)
    axis = rank if a["axis"] == -1 else normalize_axis(a["axis"], rank + 1)
    on, off = tirx.const(a["on_value"], dtype), tirx.const(a["off_value"], dtype)

    def value(*i):
        hot = tirx.Cast("int64", indices(*(i[:axis] + i[axis + 1:]))) == i[axis]
        return tirx.Select(hot, on, off)
    return te.compute(tuple(node.outputs[0].shape), value, name="one_hot")


@lowering("broadcast_to")
def lower_broadcast_to(node, x):
    return topi.broadcast_to(x, tuple(node.outputs[0].shape))


@lowering("tile")
def lower_tile(node, x):
    shape = tuple(node.inputs[0].shape)
    return te.compute(tuple(node.outputs[0].shape),
                      lambda *i: x(*[tirx.floormod(v, d) for v, d in zip(i, shape)]), name="tile")


@lowering("tile_grad")
def lower_tile_grad(node, dy, x):
    shape = tuple(node.inputs[1].shape)
    inter = [v for m, d in zip(node.attrs["multiples"], shape) for v in (m, d)]
    summed_axes = list(range(0, 2 * len(shape), 2))
    if not shape:
        return topi.identity(dy)
    return topi.sum(topi.reshape(dy, inter), axis=summed_axes)


@lowering("shape", "size", "rank")
def lower_shape(node, x):
    dims = [int(d) for d in node.inputs[0].shape]
    dtype = node.attrs["out_type"].name
    if node.op == "size":
        return te.compute((), lambda: tirx.const(int(np.prod(dims)), dtype), name="size")
    if node.op == "rank":
        return te.compute((), lambda: tirx.const(len(dims), dtype), name="rank")

    def value(i):
        v = tirx.const(dims[-1] if dims else 0, dtype)
        for k in range(len(dims) - 2, -1, -1):
            v = tirx.Select(i == k, tirx.const(dims[k], dtype), v)
        return v
    return te.compute((len(dims),), value, name="shape")
