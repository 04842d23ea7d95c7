"""Algebraic simplification on a specialized graph (all shapes known): drop ops that do nothing
(shape ops to the same shape, x*1, x+0, casts to the same type), fold neg(neg x) and
transpose(transpose x), absorb transposes of matmul operands into its flags, and cut a split into a few
parts (attention's q, k, v; an LSTM's gates) into one slice per part (a slice fuses into each part's
consumer; a split is a kernel writing every part)."""
import numpy as np

from graphc.ops import matmul, transpose
from graphc.ops.shape import slice as slice_of, split_sizes, transpose_perm
from graphc.ops._base import normalize_axis

from .rewrite import rebuild

# A split into more parts stays one kernel: it is an unstack feeding an unrolled recurrence, whose steps,
# each fusing a slice at its own offset, would no longer share one compiled kernel (a 28-step LSTM: 27
# more distinct kernels to compile, 45 -> 72)
SLICED_SPLIT_MAX_PARTS = 4

def _same_type(a, b):
    return tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype


def _constant_equal_to(t, value):
    return t.node.opdef.constant and np.all(t.node.attrs["value"] == value)


def _swaps_last_two(perm):
    n = len(perm)
    return n >= 2 and list(perm) == list(range(n - 2)) + [n - 1, n - 2]


def simplify(graph, fetches):
    """The graph with identities and cancelling pairs removed."""
    def rule(node, inputs, g):
        op, out = node.op, node.outputs[0] if node.outputs else None
        if node.opdef.is_noop(node):  # (a shape op to the same shape, ...: OpDef.noop_when_same_type)
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
        if op == "split" and 1 < len(node.outputs) <= SLICED_SPLIT_MAX_PARTS:
            x = inputs[0]
            axis = normalize_axis(node.attrs["axis"], len(x.shape))
            sizes = split_sizes(x.shape[axis], node.attrs)
            starts = np.cumsum([0] + list(sizes[:-1]))
            return [slice_of(x, [int(b) if d == axis else 0 for d in range(len(x.shape))],
                             [size if d == axis else -1 for d in range(len(x.shape))]) for b, size in zip(starts, sizes)]
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
