"""TE lowerings of graphc/ops/control.py."""
from tvm import topi

from . import lowering


@lowering("identity", "stop_gradient")
def lower_identity(node, x):
    return topi.identity(x)
