"""TE lowerings of graphc/ops/shape.py."""
from tvm import topi

from . import lowering


@lowering("reshape", "reshape_like")
def lower_reshape(node, x, *like):
    return topi.reshape(x, tuple(node.outputs[0].shape))


@lowering("transpose")
def lower_transpose(node, x):
    return topi.transpose(x, list(node.attrs["perm"]))
