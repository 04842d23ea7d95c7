"""Common subexpression elimination: one node per (op, inputs, attrs) for pure ops."""
import numpy as np

from .rewrite import rebuild


def _attr_key(value):
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_attr_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _attr_key(v)) for k, v in value.items()))
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def cse(graph, fetches):
    """A graph where identical pure nodes (same op, inputs and attrs) are computed once."""
    seen = {}

    def replace(g, node, inputs):
        if node.opdef.stateful or node.op == "placeholder" or "var_name" in node.attrs:
            return None
        key = (node.op, tuple(id(t) for t in inputs), _attr_key(node.attrs))
        if key in seen:
            return seen[key]
        new = g.create_node(node.op, inputs, node.attrs, node.name)
        seen[key] = new.outputs
        return new.outputs
    return rebuild(graph, fetches, replace)
