"""TE lowering of graphc/ops/sequence.py (range); the length is the output's specialized shape."""
from tvm import te

from . import lowering


@lowering("range")
def lower_range(node, start, delta, limit=None):
    dtype = node.outputs[0].dtype.name
    return te.compute(tuple(node.outputs[0].shape), lambda i: start[()] + i.astype(dtype) * delta[()], name="range")
