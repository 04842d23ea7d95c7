"""Constant folding with the numpy reference interpreter: a node whose inputs are all constants
becomes a constant. Never folds what depends on a feed, a variable or a stateful op."""
import numpy as np

from graphc.registry import Pattern

from .rewrite import rebuild

FOLD_ELEMENTS_MAX = 1 << 20  # bigger results stay kernels: folding would bloat the constants


def fold(graph, fetches):
    """The graph with constant subexpressions replaced by their values."""
    def rule(node, inputs, g):
        if node.opdef.stateful or node.opdef.host or node.opdef.pattern == Pattern.SOURCE or node.control_inputs:
            return None
        data = {id(t) for t in node.opdef.data_inputs(node)}
        if not all(ti.node.opdef.constant for t, ti in zip(node.inputs, inputs) if id(t) in data):
            return None
        if sum(int(np.prod(t.shape)) for t in node.outputs) > FOLD_ELEMENTS_MAX:
            return None
        values = [ti.node.attrs["value"] if ti.node.opdef.constant else np.zeros(t.shape, t.dtype.np)
                  for t, ti in zip(node.inputs, inputs)]  # shape-only inputs: any array of the shape
        if node.opdef.index_bounds is not None:  # a clear error for a constant index out of range
            from graphc.ops.indexing import check_indices
            check_indices(node, values[node.opdef.index_bounds(node)[0]])
        out = node.opdef.reference(node.attrs, *values)
        outs = out if isinstance(out, (list, tuple)) else [out]
        return [g.create_node("constant", (), {"value": _frozen(v, t)}, f"{node.name}/folded").outputs[0]
                for v, t in zip(outs, node.outputs)]
    return rebuild(graph, fetches, rule)


def _frozen(value, tensor):
    arr = np.require(np.asarray(value, tensor.dtype.np).reshape(tuple(tensor.shape)), requirements="C")
    arr.setflags(write=False)
    return arr
