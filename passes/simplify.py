"""Algebraic simplification and shape-op elimination on a graph whose shapes are all known.

A node is replaced only by a tensor of exactly its shape and dtype, so nothing downstream changes.
exp(log x) is left alone: it is not x for x <= 0.
"""
import numpy as np

from .rewrite import rebuild

_PASS_THROUGH = ("identity", "stop_gradient")
_SAME_SHAPE_NOOPS = ("reshape", "reshape_like", "sum_to", "broadcast_like")


def _const_all(t, value):
    node = t.node
    return node.op == "constant" and node.attrs["value"].size > 0 and bool(np.all(node.attrs["value"] == value))


def _same_type(a, b):
    return tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype


def _simplified(g, node, x):
    """A tensor in `g` equal to node's only output, or None."""
    out = node.outputs[0]
    op = node.op

    def keep(t):
        return [t] if _same_type(t, out) else None
    if op in _PASS_THROUGH:
        return keep(x[0])
    if op in _SAME_SHAPE_NOOPS:
        return keep(x[0])
    if op == "add":
        if _const_all(x[1], 0):
            return keep(x[0])
        if _const_all(x[0], 0):
            return keep(x[1])
    if op == "subtract":
        if _const_all(x[1], 0):
            return keep(x[0])
        if x[0] is x[1] and out.dtype.np.kind in "iu":  # float x - x is nan for inf/nan x
            return [g.create_node("fill", (), {"shape": tuple(out.shape), "value": 0, "dtype": out.dtype},
                                  node.name).outputs[0]]
    if op == "multiply":
        if _const_all(x[1], 1):
            return keep(x[0])
        if _const_all(x[0], 1):
            return keep(x[1])
    if op == "divide" and _const_all(x[1], 1):
        return keep(x[0])
    if op == "negative" and x[0].node.op == "negative":
        return keep(x[0].node.inputs[0])
    if op == "transpose" and x[0].node.op == "transpose":
        inner = x[0].node
        perm = tuple(inner.attrs["perm"][p] for p in node.attrs["perm"])
        if perm == tuple(range(len(perm))):
            return keep(inner.inputs[0])
        return [g.create_node("transpose", inner.inputs, {"perm": perm}, node.name).outputs[0]]
    if op == "reshape" and x[0].node.op == "reshape":
        return [g.create_node("reshape", x[0].node.inputs, {"shape": tuple(out.shape)}, node.name).outputs[0]]
    if op == "matmul":
        return _fold_transposes_into_matmul(g, node, x)
    return None


def _is_last2_swap(t):
    n = t.node
    if n.op != "transpose" or t.ndim is None or t.ndim < 2:
        return False
    rank = t.ndim
    return tuple(n.attrs["perm"]) == tuple(range(rank - 2)) + (rank - 1, rank - 2)


def _fold_transposes_into_matmul(g, node, x):
    """matmul(transpose(a), b) -> matmul(a, b, transpose_a=True) (and likewise for b)."""
    a, b = x
    attrs = dict(node.attrs)
    changed = False
    if _is_last2_swap(a) and a.ndim == 2:
        a, attrs["transpose_a"], changed = a.node.inputs[0], not attrs.get("transpose_a", False), True
    if _is_last2_swap(b) and b.ndim == 2:
        b, attrs["transpose_b"], changed = b.node.inputs[0], not attrs.get("transpose_b", False), True
    if not changed:
        return None
    return [g.create_node("matmul", (a, b), attrs, node.name).outputs[0]]


def simplify(graph, fetches):
    """A graph with algebraic identities and no-op shape ops removed."""
    def replace(g, node, inputs):
        if len(node.outputs) != 1 or node.opdef.stateful:
            return None
        return _simplified(g, node, inputs)
    return rebuild(graph, fetches, replace)
