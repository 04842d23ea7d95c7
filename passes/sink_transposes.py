"""Transpose sinking: a layout change moved past the elementwise ops after it, so that it meets the inverse
change and both vanish. TF's NHWC convs arrive as transpose -> NCHW conv -> transpose; with the transposes
sunk through bias adds, activations and their gradients (ReLU's greater/where/fill_like), the activations
stay NCHW from conv to conv, forward and backward, and convert only at the graph's edges (the network's
input, the flatten before a dense layer). Exact: only the order of elements moves.

op(transpose(x, p), ...) becomes transpose(op(x, ...), p) for an op that is elementwise in its
layout (ELEMWISE and BROADCAST ops, fill_like) when every input of the output's rank is a transpose by the
same p, and every other input is a scalar or a lower-rank operand whose broadcast keeps its dims in order
under p (a bias [C] of NHWC becomes [C, 1, 1] of NCHW: a reshape). transpose(transpose(x)) then composes,
to nothing where the two cancel, and a bias gradient, sum_to(transpose(x), bias), sums x in its own
layout. The result is kept only where it transposes fewer elements than before."""
import math

from graphc.ops import reshape, transpose
from graphc.ops.reduce import sum_to
from graphc.ops.shape import transpose_perm
from graphc.registry import Pattern

from .dce import dce
from .rewrite import rebuild

NOT_LAYOUT_FREE = {"broadcast_like", "broadcast_to", "bitcast"}  # elementwise patterns whose shape is an attribute


def layout_free(node):
    """Whether op(transpose(x)) == transpose(op(x)) for this node: elementwise in its layout."""
    if node.op == "fill_like":  # (its one input gives only the shape)
        return True
    return node.opdef.pattern in (Pattern.ELEMWISE, Pattern.BROADCAST) and node.op not in NOT_LAYOUT_FREE \
        and len(node.outputs) == 1


def known_shape(t):
    """Whether every dim of `t` is known."""
    return t.shape is not None and all(v is not None for v in t.shape)


def _untransposed(t, perm, rank):
    """Operand `t` of an op whose rank-`rank` inputs are transposed by `perm`, in the layout before the
    transpose: a transpose's source, a scalar as it is, a lower-rank operand whose non-1 dims keep their
    order under perm reshaped; None where it cannot move without a copy."""
    if t.node.op == "transpose" and len(t.shape) == rank and transpose_perm(t.node) == perm:
        return t.node.inputs[0]
    if len(t.shape) == 0:
        return t
    if len(t.shape) > rank:
        return None
    padded = (1,) * (rank - len(t.shape)) + tuple(int(v) for v in t.shape)
    before = [padded[perm.index(i)] for i in range(rank)]  # dim i of the source is dim perm.index(i) after
    moved = [perm.index(i) for i in range(rank) if before[i] != 1]
    if moved != sorted(moved) or len(t.shape) == rank:  # (a same-rank operand that is no transpose: a copy)
        return None
    return reshape(t, before)


def _sunk(node, inputs):
    """(perm, the node's inputs before their common transpose by perm), or None where it has none."""
    out = node.outputs[0]
    if not known_shape(out) or not all(known_shape(t) for t in inputs):
        return None
    rank = len(out.shape)
    perms = {transpose_perm(t.node) for t in inputs if t.node.op == "transpose" and len(t.shape) == rank}
    if len(perms) != 1:
        return None
    perm = perms.pop()
    moved = [_untransposed(t, perm, rank) for t in inputs]
    if any(t is None for t in moved):
        return None
    return perm, moved


def _sum_to_untransposed(node, inputs):
    """sum_to(transpose(x, p), like) of a lower-rank `like` (a bias gradient) as the sum of x down to like's
    shape in x's layout, reshaped to like's: [C] from NCHW is the sum to [1, C, 1, 1]; else None."""
    x, like = inputs
    if x.node.op != "transpose" or not known_shape(x) or not known_shape(like) or len(like.shape) >= len(x.shape):
        return None
    target = _untransposed(like, transpose_perm(x.node), len(x.shape))
    if target is None or len(target.shape) == 0:
        return None
    summed = sum_to(x.node.inputs[0], target)
    return [reshape(summed, [int(v) for v in like.shape])]


def _transposed_elements(graph):
    return sum(math.prod(int(v) for v in n.outputs[0].shape) for n in graph.nodes
               if n.op == "transpose" and known_shape(n.outputs[0]))


def sink_transposes(graph, fetches):
    """The graph with transposes sunk through layout-free ops and cancelling pairs removed, where that
    transposes fewer elements; returns (graph, fetches)."""
    if not any(n.op == "transpose" for n in graph.nodes):
        return graph, fetches

    def rule(node, inputs, g):
        if node.control_inputs:  # (a replacement would not carry them)
            return None
        if node.op == "transpose" and inputs[0].node.op == "transpose":
            src, inner = inputs[0].node.inputs[0], transpose_perm(inputs[0].node)
            perm = tuple(inner[p] for p in transpose_perm(node))
            return [src] if perm == tuple(range(len(perm))) else [transpose(src, perm)]
        if node.op == "sum_to":
            return _sum_to_untransposed(node, inputs)
        if not layout_free(node) or not any(t.node.op == "transpose" for t in inputs):
            return None
        sunk = _sunk(node, inputs)
        if sunk is None:
            return None
        perm, moved = sunk
        inner = g.create_node(node.op, moved, node.attrs, node.name + "/untransposed")
        return [transpose(inner.outputs[0], perm)]
    new_graph, new_fetches = dce(*rebuild(graph, fetches, rule))
    if _transposed_elements(new_graph) >= _transposed_elements(graph):
        return graph, fetches
    return new_graph, new_fetches
