"""TE lowerings of graphc/ops/indexing.py. Scatters are computed from the output's side: each output
element reduces over the updates that land on it, so no kernel writes one element twice."""
import numpy as np
from tvm import te, tirx

from graphc.ops._base import normalize_axis

from . import ieee, lowering
from .reduce import PRODUCT


def _wrap(idx, dim):
    """A possibly negative index as one in [0, dim); one out of [-dim, dim) is clamped into
    it, so no kernel reads out of bounds (the index_check kernel reports it after the run)."""
    idx = tirx.Cast("int64", idx)
    idx = tirx.if_then_else(idx < tirx.const(0, "int64"), idx + tirx.const(dim, "int64"), idx)
    idx = tirx.max(tirx.min(idx, tirx.const(max(dim - 1, 0), "int64")), tirx.const(0, "int64"))
    # as int32, the dtype of TE's loop variables: inlined into an int32 index (concat's) an int64 one
    # fails TVM's type check
    return tirx.Cast("int32", idx) if dim < 2 ** 31 else idx


def _shape(t):
    return tuple(int(d) for d in t.shape)


def _reducer(reduction, dtype):
    """(TE reducer, its identity) combining the updates that land on one element."""
    if reduction == "add":
        return te.sum, tirx.const(0, dtype)
    if reduction == "mul":
        return PRODUCT, tirx.const(1, dtype)
    if reduction == "max":
        return te.max, tirx.min_value(dtype)
    return te.min, tirx.max_value(dtype)


def _combine(reduction, old, acc):
    return {"add": lambda: old + acc, "mul": lambda: old * acc, "max": lambda: tirx.max(old, acc),
            "min": lambda: tirx.min(old, acc)}[reduction]()


def _scatter(name, data, upd, reduction, axes, hit, update_at):
    """data combined with the updates that `hit(j, axes)` says land on output element j.

    `axes` are reduce axes over the updates; `update_at(j, rs)` reads the update at reduce point rs.
    With reduction none the last update in row-major order wins, as a sequential scatter."""
    shape = _shape(data)
    dtype = str(data.dtype)
    if reduction == "none":
        strides = [int(np.prod([int(a.dom.extent) for a in axes[k + 1:]])) for k in range(len(axes))]
        flat = sum((r * s for r, s in zip(axes, strides)), tirx.const(0, "int32"))
        last = te.compute(shape, lambda *j: te.max(tirx.if_then_else(hit(j, axes), flat, -1), axis=axes),
                          name=f"{name}_last")

        def pick(*j):
            at = [tirx.floormod(tirx.floordiv(last(*j), s), int(a.dom.extent)) for s, a in zip(strides, axes)]
            return tirx.if_then_else(last(*j) >= 0, update_at(j, at), data(*j))
        return te.compute(shape, pick, name=name)
    reducer, identity = _reducer(reduction, dtype)
    if reduction in ("max", "min") and ieee.is_float(dtype):  # reduce order keys, so NaN stays (ieee.py)
        high = reduction == "max"
        none = tirx.const(-np.inf if high else np.inf, dtype)  # the key of "no update": the identity
        acc = te.compute(shape, lambda *j: reducer(ieee.order_key(tirx.if_then_else(
            hit(j, axes), update_at(j, axes), none), dtype, high), axis=axes), name=f"{name}_acc")
        pick = ieee.maximum if high else ieee.minimum
        return te.compute(shape, lambda *j: pick(data(*j), ieee.from_key(acc(*j), dtype)), name=name)
    acc = te.compute(shape, lambda *j: reducer(tirx.if_then_else(hit(j, axes), update_at(j, axes), identity),
                                               axis=axes), name=f"{name}_acc")
    return te.compute(shape, lambda *j: _combine(reduction, data(*j), acc(*j)), name=name)


@lowering("gather_elements")
def lower_gather_elements(node, x, idx):
    axis = normalize_axis(node.attrs["axis"], len(x.shape))
    dim = _shape(x)[axis]
    return te.compute(_shape(idx), lambda *i: x(*(i[:axis] + (_wrap(idx(*i), dim),) + i[axis + 1:])),
                      name="gather_elements")


@lowering("scatter_elements")
def lower_scatter_elements(node, data, idx, upd):
    d_shape, i_shape = _shape(data), _shape(idx)
    axis = normalize_axis(node.attrs["axis"], len(d_shape))
    if 0 in i_shape:
        return te.compute(d_shape, lambda *j: data(*j), name="scatter_elements")
    r = te.reduce_axis((0, i_shape[axis]), name="r")

    def at(j, r):  # the update position in j's row along the axis, clamped inside the updates
        return tuple(r if d == axis else tirx.min(v, i_shape[d] - 1) for d, v in enumerate(j))

    def hit(j, axes):
        inside = [j[d] < i_shape[d] for d in range(len(j)) if d != axis]
        same = _wrap(idx(*at(j, axes[0])), d_shape[axis]) == tirx.Cast("int64", j[axis])
        return tirx.all(*inside, same) if inside else same
    return _scatter("scatter_elements", data, upd, node.attrs["reduction"], [r], hit,
                    lambda j, rs: upd(*at(j, rs[0])))


@lowering("gather_nd")
def lower_gather_nd(node, x, idx):
    b = node.attrs.get("batch_dims", 0)
    x_shape, i_shape = _shape(x), _shape(idx)
    n_lead, k = len(i_shape) - 1, i_shape[-1]

    def value(*i):
        lead, rest = i[:n_lead], i[n_lead:]
        tup = tuple(_wrap(idx(*(lead + (m,))), x_shape[b + m]) for m in range(k))
        return x(*(lead[:b] + tup + rest))
    return te.compute(_shape(node.outputs[0]), value, name="gather_nd")


@lowering("scatter_nd")
def lower_scatter_nd(node, data, idx, upd):
    d_shape, i_shape = _shape(data), _shape(idx)
    lead, k = i_shape[:-1], i_shape[-1]
    if 0 in lead:
        return te.compute(d_shape, lambda *j: data(*j), name="scatter_nd")
    rs = [te.reduce_axis((0, n), name=f"u{m}") for m, n in enumerate(lead)]

    def hit(j, axes):
        return tirx.all(*[_wrap(idx(*(tuple(axes) + (m,))), d_shape[m]) == tirx.Cast("int64", j[m])
                          for m in range(k)]) if k else tirx.const(True, "bool")
    return _scatter("scatter_nd", data, upd, node.attrs["reduction"], rs, hit,
                    lambda j, at: upd(*(tuple(at) + tuple(j[k:]))))


@lowering("top_k")
def lower_top_k(node, x):
    a = node.attrs
    shape = _shape(x)
    axis = normalize_axis(a["axis"], len(shape))
    n = shape[axis]
    out_shape = _shape(node.outputs[0])
    if n == 0 or a["k"] == 0:
        idx = te.compute(out_shape, lambda *i: tirx.const(0, a["index_dtype"].name), name="top_k_indices")
        return [te.compute(out_shape, lambda *i: tirx.const(0, str(x.dtype)), name="top_k_values"), idx]

    def along(i, v):
        return i[:axis] + (v,) + i[axis + 1:]
    r = te.reduce_axis((0, n), name="r")

    def rank(*i):  # how many elements come before x[i] in the sorted order (ties: lower index first)
        other, mine = x(*along(i, r)), x(*i)
        before = other > mine if a["largest"] else other < mine
        before = tirx.any(before, tirx.all(other == mine, r < i[axis]))
        return te.sum(tirx.if_then_else(before, 1, 0), axis=r)
    ranks = te.compute(shape, rank, name="top_k_rank")
    s = te.reduce_axis((0, n), name="s")
    dtype = a["index_dtype"].name
    indices = te.compute(out_shape, lambda *j: te.sum(tirx.if_then_else(
        ranks(*along(j, s)) == j[axis], tirx.Cast(dtype, s), tirx.const(0, dtype)), axis=s), name="top_k_indices")
    values = te.compute(out_shape, lambda *j: x(*along(j, indices(*j))), name="top_k_values")
    return [values, indices]


@lowering("index_check")
def lower_index_check(node, idx):
    """The largest index outside [-dim, dim) (dims per last-axis position when several), else INT64_MIN."""
    dims = [int(d) for d in node.attrs["dims"]]
    shape = _shape(idx)
    none = tirx.min_value("int64")

    def bad_or_none(at):
        v = tirx.Cast("int64", idx(*at))
        d = tirx.const(dims[0], "int64")
        for m in range(1, len(dims)):
            d = tirx.Select(at[-1] == m, tirx.const(dims[m], "int64"), d)
        return tirx.Select(tirx.Or(v < -d, v >= d), v, none)
    if not shape:
        return te.compute((), lambda: bad_or_none(()), name="index_check")
    rs = [te.reduce_axis((0, n), name=f"r{k}") for k, n in enumerate(shape)]
    return te.compute((), lambda: te.max(bad_or_none(rs), axis=rs), name="index_check")
