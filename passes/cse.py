"""Common-subexpression elimination: one node for each (op, inputs, attributes)."""
import numpy as np

from .rewrite import is_kept, rebuild

CONSTANT_BYTES_MAX = 4096  # larger constants are rarely duplicated; hashing them costs more


def _attr_key(value):
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_attr_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _attr_key(v)) for k, v in value.items()))
    return (type(value).__name__, str(value))


def cse(graph, fetches):
    """The graph with structurally equal nodes merged into the first of them."""
    seen = {}

    def rule(node, inputs, g):
        if is_kept(node) or node.control_inputs:
            return None
        if node.opdef.constant and node.attrs["value"].nbytes > CONSTANT_BYTES_MAX:
            return None
        key = (node.op, tuple(id(t) for t in inputs), _attr_key(node.attrs))
        if key not in seen:
            seen[key] = g.create_node(node.op, inputs, node.attrs, node.name).outputs
        return seen[key]

    return rebuild(graph, fetches, rule)
