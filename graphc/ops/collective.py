"""Collective ops (graphc.distributed): host ops that the runtime executes between kernels through MPI
(runtime/collectives.py). Their references make the same MPI calls, so they also hold across ranks.

`allreduce_start`/`allreduce_wait` are made by passes/fuse_allreduce.py from a bucket of allreduces:
start packs the bucket into one flat buffer and starts summing it over the ranks without blocking;
wait, placed just before the first use of a result, waits and unpacks (dividing by size for averages).
"""
import math

import numpy as np

from .. import mpi as dist
from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import convert_to_tensor, make, rand, same_type

OPS = (dist.Average, dist.Sum)


def _size():
    dist.init()
    return dist.size()


def _check_op(attrs):
    if attrs["op"] not in OPS:
        raise ShapeError(f"allreduce op {attrs['op']!r} is not one of {list(OPS)}")


def _allreduce_infer(node):
    _check_op(node.attrs)
    t = node.inputs[0]
    if t.dtype.is_storage_only or node.attrs["op"] == dist.Average and not t.dtype.is_floating:
        raise ShapeError(f"allreduce {node.attrs['op']} of {t.name}: dtype {t.dtype.name} is not supported "
                         "(average needs a float type; bit-pattern types need a cast to float32 first)")
    return same_type(node)


def _float_examples(rng, **attrs):
    return [Example([rand(rng, (3, 4))], dict(attrs)), Example([rand(rng, (5,))], dict(attrs))]


allreduce_op = register_op(
    "allreduce", pattern=Pattern.OPAQUE, host=True, infer=_allreduce_infer,
    reference=lambda attrs, x: dist.allreduce_array(x, attrs["op"]),
    examples=lambda rng: _float_examples(rng, op=dist.Average) + _float_examples(rng, op=dist.Sum),
    gradient=lambda n, dys: [allreduce(dys[0], n.attrs["op"])])


def _allgather_infer(node):
    x = node.inputs[0]
    if x.shape is None or not x.shape:
        raise ShapeError(f"allgather needs a tensor of rank >= 1, got {x.name} of shape {x.shape}")
    first = None if x.shape[0] is None else x.shape[0] * node.attrs["size"]
    return TensorType((first,) + tuple(x.shape[1:]), x.dtype)


def _allgather_gradient(node, dys):
    """Each rank's slice of the summed upstream gradients (every rank's loss reads every slice)."""
    from .shape import slice as slice_
    x = node.inputs[0]
    rows = x.shape[0]
    total = allreduce(dys[0], dist.Sum)
    return [slice_(total, [dist.rank() * rows] + [0] * (len(x.shape) - 1), [rows] + [-1] * (len(x.shape) - 1))]


allgather_op = register_op(
    "allgather", pattern=Pattern.OPAQUE, host=True, infer=_allgather_infer,
    reference=lambda attrs, x: dist.allgather_array(x),
    examples=lambda rng: [Example([rand(rng, (2, 3))], {"size": _size()}),
                          Example([rand(rng, (4,), "int32")], {"size": _size()})],
    gradient=_allgather_gradient)

broadcast_op = register_op(
    "broadcast", pattern=Pattern.OPAQUE, host=True, infer=same_type, differentiable=False,
    reference=lambda attrs, x: dist.broadcast_array(x, attrs["root"]),
    examples=lambda rng: [Example([rand(rng, (3, 4))], {"root": 0}), Example([rand(rng, (), "int32")], {"root": 0})])


def _start_infer(node):
    _check_op(node.attrs)
    dtypes = {t.dtype for t in node.inputs}
    if len(dtypes) != 1 or any(t.shape is None or None in t.shape for t in node.inputs):
        raise ShapeError(f"allreduce_start '{node.name}' takes tensors of one dtype and known shapes")
    return TensorType((sum(math.prod(t.shape) for t in node.inputs),), node.inputs[0].dtype)


def _start_reference(attrs, *xs):
    return dist.allreduce_array(np.concatenate([x.reshape(-1) for x in xs]), dist.Sum)


def _wait_infer(node):
    shapes = [tuple(s) for s in node.attrs["shapes"]]
    flat = node.inputs[0]
    if flat.shape != (sum(math.prod(s) for s in shapes),):
        raise ShapeError(f"allreduce_wait '{node.name}': buffer {flat.name} of shape {flat.shape} does not hold "
                         f"tensors of shapes {shapes}")
    return [TensorType(s, flat.dtype) for s in shapes]


def _wait_reference(attrs, flat):
    shapes = [tuple(s) for s in attrs["shapes"]]
    ends = np.cumsum([math.prod(s) for s in shapes])
    parts = [p.reshape(s) for p, s in zip(np.split(flat, ends[:-1]), shapes)]
    if attrs["op"] == dist.Average:
        parts = [p / np.asarray(dist.size(), p.dtype) for p in parts]
    return [p.copy() for p in parts]


allreduce_start_op = register_op(
    "allreduce_start", pattern=Pattern.OPAQUE, host=True, differentiable=False, infer=_start_infer,
    reference=_start_reference,
    examples=lambda rng: [Example([rand(rng, (3, 4)), rand(rng, (5,))], {"op": dist.Sum, "bucket": 0})])

allreduce_wait_op = register_op(
    "allreduce_wait", pattern=Pattern.OPAQUE, host=True, differentiable=False, infer=_wait_infer,
    reference=_wait_reference,
    examples=lambda rng: [Example([rand(rng, (17,))], {"op": op, "bucket": 0, "shapes": [(3, 4), (5,)]})
                          for op in OPS])


def allreduce(tensor, op=dist.Average, name=None, fusion_bytes=dist.FUSION_BYTES):
    """The sum or mean of `tensor` over all ranks; fused with others into buckets of `fusion_bytes`."""
    return make("allreduce", [convert_to_tensor(tensor)], {"op": op, "fusion_bytes": int(fusion_bytes)},
                name or "allreduce")


def allgather(tensor, name=None):
    """Every rank's `tensor` concatenated along axis 0 in rank order."""
    dist.init()
    return make("allgather", [convert_to_tensor(tensor)], {"size": _size()}, name or "allgather")


def broadcast(tensor, root_rank=0, name=None):
    """Rank `root_rank`'s value of `tensor` on every rank."""
    if not 0 <= int(root_rank) < _size():
        raise ValueError(f"broadcast root rank {root_rank} is not in the job's ranks 0..{_size() - 1}")
    return make("broadcast", [convert_to_tensor(tensor)], {"root": int(root_rank)}, name or "broadcast")
