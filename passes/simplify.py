"""Algebraic simplification on a specialized graph (all shapes known): drop ops that do nothing
(shape ops to the same shape, x*1, x+0, casts to the same type), fold neg(neg x) and
transpose(transpose x), and absorb transposes of matmul operands into its flags."""
import numpy as np

from graphc.ops import matmul, transpose
from graphc.ops.shape import transpose_perm

from .rewrite import rebuild

# ops that only change the shape (or nothing): removable when the shape does not change
SHAPE_ONLY_OPS = {"reshape", "reshape_like", "sum_to", "broadcast_like", "broadcast_to", "expand_dims",
                  "squeeze", "identity", "stop_gradient", "cast", "unreduce"}


def _same_type(a, b):
    return tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype


def _constant_equal_to(t, value):
    return t.node.op == "constant" and np.all(t.node.attrs["value"] == value)


def _swaps_last_two(perm):
    n = len(perm)
    return n >= 2 and list(perm) == list(range(n - 2)) + [n - 1, n - 2]


def simplify(graph, fetches):
    """The graph with identities and cancelling pairs removed."""
    def rule(node, inputs, g):
        op, out = node.op, node.outputs[0] if node.outputs else None
        if op in SHAPE_ONLY_OPS and not (op == "unreduce" and node.attrs.get("mean")) \
                and _same_type(inputs[0], out):
            return [inputs[0]]
        if op in ("multiply", "add", "subtract"):
            unit = 1 if op == "multiply" else 0
            a, b = inputs
            if _constant_equal_to(b, unit) and _same_type(a, out):
                return [a]
            if op != "subtract" and _constant_equal_to(a, unit) and _same_type(b, out):
                return [b]
        if op == "negative" and inputs[0].node.op == "negative":
            return [inputs[0].node.inputs[0]]
        if op == "transpose" and inputs[0].node.op == "transpose":
            inner = inputs[0].node
            inner_perm = transpose_perm(inner)
            perm = tuple(inner_perm[p] for p in transpose_perm(node))
            src = inner.inputs[0]
            return [src] if perm == tuple(range(len(perm))) else [transpose(src, perm)]
        if op == "matmul":
            a, b = inputs
            ta, tb = node.attrs.get("transpose_a", False), node.attrs.get("transpose_b", False)
            changed = False
            if a.node.op == "transpose" and _swaps_last_two(transpose_perm(a.node)):
                a, ta, changed = a.node.inputs[0], not ta, True
            if b.node.op == "transpose" and _swaps_last_two(transpose_perm(b.node)):
                b, tb, changed = b.node.inputs[0], not tb, True
            if changed:
                return [matmul(a, b, transpose_a=ta, transpose_b=tb)]
        return None
    return rebuild(graph, fetches, rule)
