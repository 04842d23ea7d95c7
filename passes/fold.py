"""Constant folding: nodes computed only from constants become constants (via the numpy reference)."""
import numpy as np

from graphc.registry import Pattern

from .rewrite import rebuild

MAX_FOLD_ELEMENTS = 1 << 20  # larger results stay computed at run time: they would bloat the plan


def fold(graph, fetches):
    """A graph where pure nodes whose inputs are all constants are replaced by constants."""
    def replace(g, node, inputs):
        if node.opdef.stateful or node.opdef.pattern == Pattern.SOURCE or not node.inputs:
            return None
        if not all(t.node.op == "constant" for t in inputs):
            return None
        if any(int(np.prod(t.shape)) > MAX_FOLD_ELEMENTS for t in node.outputs):
            return None
        values = node.opdef.reference(node, *[t.node.attrs["value"] for t in inputs])
        values = values if isinstance(values, (list, tuple)) else [values]
        outs = []
        for i, (t, v) in enumerate(zip(node.outputs, values)):
            arr = np.require(np.asarray(v, dtype=t.dtype.np).reshape(tuple(t.shape)), requirements="C")
            arr.setflags(write=False)
            name = node.name if len(node.outputs) == 1 else f"{node.name}_{i}"
            outs.append(g.create_node("constant", (), {"value": arr}, name).outputs[0])
        return outs
    return rebuild(graph, fetches, replace)
