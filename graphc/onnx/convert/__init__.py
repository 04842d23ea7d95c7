"""ONNX op converters: `CONVERTERS[op_type] = fn(ctx, node, inputs, attrs) -> tensor or list of tensors`.

One module per family of ONNX ops; each registers its converters with `@converter("OpType", ...)`.
`ctx` (importer.Context) gives the opset and the static (constant-folded) value of a tensor;
`inputs` are graphc tensors (None for an omitted optional input), `attrs` the node's attributes.
"""
import importlib

import numpy as np

import graphc as gc

from ..errors import OnnxImportError

BIG = 2 ** 62  # ONNX slice ends use INT64_MAX / INT64_MIN for "to the end"


class _Converters(dict):
    """op type -> converter; registering an op type twice is an error, however it is registered."""

    def __setitem__(self, op, fn):
        if op in self:
            raise ValueError(f"ONNX op {op} has two converters")
        super().__setitem__(op, fn)


CONVERTERS = _Converters()
_FAMILIES = ("math", "tensor", "nn", "reduce", "shape", "control", "rnn", "signal", "text", "quant", "linalg", "indexing", "attention", "loss", "norm", "image", "conv")


def converter(*op_types):
    """Decorator registering `fn` as the converter of each ONNX op type in `op_types`."""
    def deco(fn):
        for op in op_types:
            CONVERTERS[op] = fn
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
