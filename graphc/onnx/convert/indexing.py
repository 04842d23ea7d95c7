"""Indexing by index tensors: GatherElements, Scatter(Elements), GatherND, ScatterND, TopK, ReverseSequence."""
import numpy as np

import graphc as gc
from graphc import dtypes

from . import OnnxImportError, axis_in_range, converter, rank_of


@converter("GatherElements")
def _gather_elements(ctx, node, ins, attrs):
    return gc.gather_elements(ins[0], ins[1], axis=attrs.get("axis", 0))


@converter("ScatterElements", "Scatter")
def _scatter_elements(ctx, node, ins, attrs):
    reduction = attrs.get("reduction", "none")
    return gc.scatter_elements(ins[0], ins[1], ins[2], axis=attrs.get("axis", 0), reduction=reduction)


@converter("GatherND")
def _gather_nd(ctx, node, ins, attrs):
    return gc.gather_nd(ins[0], ins[1], batch_dims=attrs.get("batch_dims", 0))


@converter("ScatterND")
def _scatter_nd(ctx, node, ins, attrs):
    return gc.scatter_nd(ins[0], ins[1], ins[2], reduction=attrs.get("reduction", "none"))


@converter("TopK")
def _top_k_v1(ctx, node, ins, attrs):
    return _top_k(ins[0], attrs["k"], attrs)


@converter("TopK", since=10)
def _top_k_v10(ctx, node, ins, attrs):
    return _top_k(ins[0], int(np.asarray(ctx.static(ins[1], "TopK k")).reshape(-1)[0]), attrs)


def _top_k(x, k, attrs):
    # sorted=0 lets the order be any; graphc always returns it sorted
    return list(gc.top_k(x, k, axis=attrs.get("axis", -1), largest=bool(attrs.get("largest", 1)),
                         index_dtype=dtypes.int64))


@converter("ReverseSequence")
def _reverse_sequence(ctx, node, ins, attrs):
    x, lens = ins
    lens = np.asarray(ctx.static(lens, "ReverseSequence sequence_lens")).astype(np.int64)
    rank = rank_of(x, node)
    if None in x.shape:
        raise OnnxImportError("ReverseSequence needs its input's shape known at import time")
    t_axis, b_axis = attrs.get("time_axis", 0), attrs.get("batch_axis", 1)
    t = np.arange(x.shape[t_axis])[:, None]
    src = np.where(t < lens[None, :], lens[None, :] - 1 - t, t)  # [time, batch]: the first len reversed
    if t_axis > b_axis:
        src = src.T
    shape = [1] * rank
    shape[t_axis], shape[b_axis] = x.shape[t_axis], x.shape[b_axis]
    idx = np.broadcast_to(src.reshape(shape), x.shape)
    return gc.gather_elements(x, gc.constant(np.ascontiguousarray(idx)), axis=t_axis)


@converter("TensorScatter")
def _tensor_scatter(ctx, node, ins, attrs):
    past, update = ins[0], ins[1]
    rank = rank_of(past, node)
    axis = axis_in_range(attrs.get("axis", -2), rank)
    if None in update.shape or past.shape[axis] is None:
        raise OnnxImportError("TensorScatter needs the update's shape and the cache length known at import time")
    if len(ins) > 2 and ins[2] is not None:
        starts = np.asarray(ctx.static(ins[2], "TensorScatter write_indices")).astype(np.int64)
    else:
        starts = np.zeros(update.shape[0], np.int64)
    # the cache position of every update element: its batch's write index plus its place in the sequence
    shape = [1] * rank
    shape[0] = update.shape[0]
    seq_shape = [1] * rank
    seq_shape[axis] = update.shape[axis]
    idx = starts.reshape(shape) + np.arange(update.shape[axis]).reshape(seq_shape)
    if attrs.get("mode", "linear") == "circular":
        idx %= past.shape[axis]
    idx = np.ascontiguousarray(np.broadcast_to(idx, update.shape))
    return gc.scatter_elements(past, gc.constant(idx), update, axis=axis)
