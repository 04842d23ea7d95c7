"""Normalizations: Layer/RMS/Instance/Group/Lp/MeanVariance, on graphc's layer_norm and reductions."""
import numpy as np

import graphc as gc

from . import OnnxImportError, axis_in_range, const, converter, rank_of


def _stashed(x, attrs):
    """x in the dtype statistics are computed in (stash_type 1: float32), and a cast back to x's dtype."""
    if attrs.get("stash_type", 1) == 1 and x.dtype != gc.float32 and x.dtype.is_floating:
        return gc.cast(x, gc.float32), lambda y: gc.cast(y, x.dtype)
    return x, lambda y: y


def _cast_like(t, x):
    return t if t is None or t.dtype == x.dtype else gc.cast(t, x.dtype)


@converter("LayerNormalization")
def _layer_norm(ctx, node, ins, attrs):
    x, scale = ins[0], ins[1]
    bias = ins[2] if len(ins) > 2 else None
    rank = rank_of(x, node)
    axis = axis_in_range(attrs.get("axis", -1), rank)
    eps = attrs.get("epsilon", 1e-5)
    xs, back = _stashed(x, attrs)
    y = back(gc.layer_norm(xs, _cast_like(scale, xs), _cast_like(bias, xs), axis=axis, epsilon=eps))
    outs = [y]
    if len(node.output) > 1:  # the optional Mean and InvStdDev outputs (keepdims, in the stash type)
        axes = list(range(axis, rank))
        mean = gc.reduce_mean(xs, axes, keepdims=True)
        var = gc.reduce_mean(gc.square(gc.subtract(xs, mean)), axes, keepdims=True)
        outs += [mean, gc.rsqrt(gc.add(var, const(eps, xs)))]
    return outs


@converter("RMSNormalization")
def _rms_norm(ctx, node, ins, attrs):
    x, scale = ins
    rank = rank_of(x, node)
    axes = list(range(axis_in_range(attrs.get("axis", -1), rank), rank))
    xs, back = _stashed(x, attrs)
    ms = gc.reduce_mean(gc.square(xs), axes, keepdims=True)
    y = back(gc.multiply(xs, gc.rsqrt(gc.add(ms, const(attrs.get("epsilon", 1e-5), xs)))))
    return gc.multiply(y, scale)


def _per_channel(t, rank):
    return gc.reshape(t, [-1] + [1] * (rank - 2))


@converter("InstanceNormalization")
def _instance_norm(ctx, node, ins, attrs):
    x, scale, bias = ins
    rank = rank_of(x, node)
    y = gc.layer_norm(x, axis=2, epsilon=attrs.get("epsilon", 1e-5))
    return gc.add(gc.multiply(y, _per_channel(scale, rank)), _per_channel(bias, rank))


@converter("GroupNormalization", since=18)
def _group_norm_v18(ctx, node, ins, attrs):
    """GroupNormalization-18: scale and bias per group, repeated over the group's channels."""
    return _group_norm(node, *ins, attrs, per_group=True)


@converter("GroupNormalization", since=21)
def _group_norm_v21(ctx, node, ins, attrs):
    """GroupNormalization-21: scale and bias per channel."""
    return _group_norm(node, *ins, attrs, per_group=False)


def _group_norm(node, x, scale, bias, attrs, per_group):
    """x normalized over each group of channels (and the spatial dims), then scaled and shifted."""
    rank = rank_of(x, node)
    groups = attrs["num_groups"]
    if None in x.shape[1:]:
        raise OnnxImportError("GroupNormalization needs the channel and spatial dims known at import time")
    c = x.shape[1]
    if c % groups:
        raise OnnxImportError(f"GroupNormalization: {c} channels do not split into {groups} groups")
    xs, back = _stashed(x, attrs)
    grouped = gc.reshape(xs, [-1, groups, (c // groups) * int(np.prod(x.shape[2:], dtype=np.int64))])
    y = back(gc.reshape_like(gc.layer_norm(grouped, axis=2, epsilon=attrs.get("epsilon", 1e-5)), xs))
    if per_group:
        scale, bias = (gc.reshape(gc.tile(gc.reshape(t, [groups, 1]), [1, c // groups]), [c]) for t in (scale, bias))
    return gc.add(gc.multiply(y, _per_channel(scale, rank)), _per_channel(bias, rank))


@converter("LpNormalization")
def _lp_norm(ctx, node, ins, attrs):
    x = ins[0]
    axis, p = attrs.get("axis", -1), attrs.get("p", 2)
    if p == 1:
        norm = gc.reduce_sum(gc.abs(x), axis, keepdims=True)
    elif p == 2:
        norm = gc.sqrt(gc.reduce_sum(gc.square(x), axis, keepdims=True))
    else:
        raise OnnxImportError(f"LpNormalization p={p}; expected 1 or 2")
    zero = const(0, x)
    is_zero = gc.equal(norm, zero)  # a zero vector normalizes to zero rather than NaN
    return gc.where(is_zero, gc.zeros_like(x), gc.divide(x, gc.where(is_zero, const(1, x), norm)))


@converter("MeanVarianceNormalization")
def _mvn(ctx, node, ins, attrs):
    x = ins[0]
    axes = list(attrs.get("axes", [0, 2, 3]))
    centered = gc.subtract(x, gc.reduce_mean(x, axes, keepdims=True))
    std = gc.sqrt(gc.reduce_mean(gc.square(centered), axes, keepdims=True))
    return gc.divide(centered, gc.add(std, const(1e-9, x)))
