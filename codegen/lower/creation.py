"""TE lowerings of graphc/ops/creation.py (sources have none: they are buffers)."""
from tvm import te, tirx

from . import lowering


def _full(shape, value, dtype):
    return te.compute(tuple(shape), lambda *i: tirx.const(value, dtype), name="fill")


@lowering("fill")
def lower_fill(node):
    return _full(node.outputs[0].shape, node.attrs["value"], node.outputs[0].dtype.name)


@lowering("fill_like")
def lower_fill_like(node, x):
    return _full(node.outputs[0].shape, node.attrs["value"], node.outputs[0].dtype.name)
