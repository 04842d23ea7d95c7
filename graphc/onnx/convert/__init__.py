"""ONNX op converters: `CONVERTERS[op_type](ctx, node, inputs, attrs) -> tensor or list of tensors`.

One module per family of ONNX ops; each registers its converters with `@converter("OpType", ..., since=N)`
(the one way to register): an op whose meaning changed in opset N has one converter per version, and
a model of opset M gets the one with the largest N <= M (as TVM's `_impl_vN`).
`ctx` (importer.Context) gives the opset and the static (constant-folded) value of a tensor;
`inputs` are graphc tensors (None for an omitted optional input), `attrs` the node's attributes.
"""
import importlib

import numpy as np

import graphc as gc

from ...registry import Registry
from ..errors import OnnxImportError

BIG = 2 ** 62  # ONNX slice ends use INT64_MAX / INT64_MIN for "to the end"


class Versions:
    """An ONNX op's converters by the opset each starts at; called as a converter, it runs the one for
    the model's opset (the largest start not above it)."""

    def __init__(self, op_type=None):
        self.op_type, self.by_since = op_type, {}  # (op_type None: named when registered)

    @classmethod
    def of(cls, *pairs):
        """Versions from (since, converter) pairs, for `CONVERTERS[op] = ...` (converter factories)."""
        versions = cls()
        for since, fn in pairs:
            versions.add(since, fn)
        return versions

    def add(self, since, fn):
        """Register `fn` as the converter from opset `since` on."""
        if since in self.by_since:
            raise ValueError(f"ONNX op {self.op_type} has two converters from opset {since}")
        self.by_since[since] = fn

    def for_opset(self, opset):
        """The converter for a model of `opset`."""
        usable = [v for v in self.by_since if v <= opset]
        if not usable:
            raise OnnxImportError(f"ONNX op {self.op_type} is supported from opset {min(self.by_since)}; "
                                  f"the model has opset {opset}")
        return self.by_since[max(usable)]

    def __call__(self, ctx, node, ins, attrs):
        return self.for_opset(ctx.opset)(ctx, node, ins, attrs)


class _Converters(Registry):
    """op type -> Versions. `CONVERTERS[op] = fn` registers fn from opset 1, as converter(op) does."""

    def __setitem__(self, op, fn):
        if not isinstance(fn, Versions):
            fn = Versions.of((1, fn))
        fn.op_type = fn.op_type or op
        super().__setitem__(op, fn)


CONVERTERS = _Converters("ONNX op", "converters")
_FAMILIES = ("math", "tensor", "nn", "reduce", "shape", "control", "rnn", "signal", "text", "quant", "linalg", "indexing", "attention", "loss", "norm", "image", "conv")


def converter(*op_types, since=1):
    """Decorator registering `fn` as the converter of each ONNX op type in `op_types` from opset `since`."""
    def deco(fn):
        for op in op_types:
            if op not in CONVERTERS:
                Registry.__setitem__(CONVERTERS, op, Versions(op))
            CONVERTERS[op].add(since, fn)
        return fn
    return deco


def load_all():
    """Import every converter family (registration happens on import)."""
    for family in _FAMILIES:
        importlib.import_module(f"{__name__}.{family}")


def np_dtype(elem_type):
    """The numpy dtype of an ONNX TensorProto element type."""
    import onnx
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))


def ints(v):
    """A static value as a list of Python ints."""
    return [int(x) for x in np.atleast_1d(v)]


def rank_of(x, node):
    """The rank of `x`, or an OnnxImportError naming `node` when it is unknown at import time."""
    if x.shape is None:
        raise OnnxImportError(f"node {node.name!r} ({node.op_type}) needs the rank of its input {x.name}")
    return len(x.shape)


def axis_in_range(axis, rank, what="axis"):
    """`axis` in [0, rank) (negative counts from the end), or an OnnxImportError: onnxruntime refuses
    an out-of-range axis rather than wrapping it."""
    axis = int(axis)
    if not -max(rank, 1) <= axis < max(rank, 1):
        raise OnnxImportError(f"{what}={axis} is out of range for an input of rank {rank} "
                              f"(expected {-max(rank, 1)}..{max(rank, 1) - 1})")
    return axis % max(rank, 1)


def const(value, like=None):
    """A constant of `value`, with the dtype of tensor `like` when given."""
    arr = np.asarray(value, dtype=None if like is None else like.dtype.np)
    return gc.constant(arr)


load_all()
